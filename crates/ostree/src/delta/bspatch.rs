//! `bspatch` for the patches OSTree embeds in delta parts: Colin Percival's bsdiff
//! algorithm in the stream layout of its "ENDSLEY/BSDIFF43" variant, without the
//! header and without compression (the part is compressed as a whole).
//!
//! The patch is a sequence of entries: three 8-byte sign-magnitude little-endian
//! integers (bytes to add, bytes to insert, old-position seek), then the add bytes
//! (summed bytewise with the old file), then the inserted bytes.

use super::DeltaError;

fn bad(detail: &str) -> DeltaError {
    DeltaError::BadOperation(format!("bspatch: {detail}"))
}

/// Reads one sign-magnitude integer.
fn offtin(bytes: &[u8]) -> i64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(bytes);
    let negative = word[7] & 0x80 != 0;
    word[7] &= 0x7f;
    let magnitude = i64::from_le_bytes(word);
    if negative { -magnitude } else { magnitude }
}

/// Rebuilds a file of `new_size` bytes from `old` and `patch`.
pub fn bspatch(old: &[u8], patch: &[u8], new_size: u64) -> Result<Vec<u8>, DeltaError> {
    let new_size = usize::try_from(new_size).map_err(|_| bad("new size too large"))?;
    let mut new = Vec::with_capacity(new_size.min(patch.len().saturating_mul(64)));
    let mut pos = 0usize;
    let mut old_pos: i64 = 0;
    let mut take = |n: usize| -> Result<&[u8], DeltaError> {
        let chunk = patch
            .get(pos..pos.checked_add(n).ok_or_else(|| bad("length overflow"))?)
            .ok_or_else(|| bad("patch is truncated"))?;
        pos += n;
        Ok(chunk)
    };
    while new.len() < new_size {
        let ctrl = take(24)?;
        let (add, insert, seek) = (
            offtin(&ctrl[..8]),
            offtin(&ctrl[8..16]),
            offtin(&ctrl[16..]),
        );
        let room = (new_size - new.len()) as u64;
        let (Ok(add), Ok(insert)) = (u64::try_from(add), u64::try_from(insert)) else {
            return Err(bad("negative length"));
        };
        if add > room || insert > room - add {
            return Err(bad("entry writes past the new size"));
        }
        let diff = take(add as usize)?;
        for (i, &d) in diff.iter().enumerate() {
            let from = old_pos
                .checked_add(i as i64)
                .and_then(|p| usize::try_from(p).ok())
                .and_then(|p| old.get(p))
                .copied()
                .unwrap_or(0);
            new.push(d.wrapping_add(from));
        }
        new.extend_from_slice(take(insert as usize)?);
        old_pos = old_pos
            .checked_add(add as i64)
            .and_then(|p| p.checked_add(seek))
            .ok_or_else(|| bad("seek overflow"))?;
    }
    Ok(new)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(v: i64) -> [u8; 8] {
        let mut w = v.unsigned_abs().to_le_bytes();
        if v < 0 {
            w[7] |= 0x80;
        }
        w
    }

    #[test]
    fn applies_add_insert_and_seek() {
        let old = b"hello world";
        let mut patch = Vec::new();
        // Copy "hello" unchanged, insert "!", skip " world" back to "world".
        patch.extend(word(5));
        patch.extend(word(1));
        patch.extend(word(1));
        patch.extend([0; 5]);
        patch.push(b'!');
        patch.extend(word(5));
        patch.extend(word(0));
        patch.extend(word(0));
        patch.extend([0, 0, 0, 0, 1]);
        assert_eq!(bspatch(old, &patch, 11).unwrap(), b"hello!worle");
    }

    #[test]
    fn hostile_patches_are_errors() {
        assert!(bspatch(b"x", &[], 1).is_err());
        let mut patch = Vec::new();
        patch.extend(word(-1));
        patch.extend(word(0));
        patch.extend(word(0));
        assert!(bspatch(b"x", &patch, 1).is_err());
        let mut patch = Vec::new();
        patch.extend(word(i64::MAX));
        patch.extend(word(0));
        patch.extend(word(0));
        assert!(bspatch(b"x", &patch, 1).is_err());
        assert!(bspatch(b"x", &[0; 24], 1).is_err());
    }
}
