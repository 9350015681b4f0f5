//! gzip byte for byte as Go's `compress/gzip` writes it at `BestCompression`, which is
//! what Butane embeds.
//!
//! Butane picks gzip only when it is at least five bytes shorter than the plain data URL,
//! so a compressor that is merely as good as Go's changes the encoding of files near that
//! boundary, and with it the JSON. No Rust crate produces Go's deflate stream (zlib and
//! miniz search and split blocks differently), so this is a hand-written implementation
//! of the algorithm of Go's level-9 compressor, from its observable behaviour and the
//! published description of the algorithm (no Go code was copied):
//!
//! * a 32 KiB window inside a 64 KiB buffer that slides by 32 KiB when fewer than
//!   262 bytes are left to look at, hash chains over 4-byte prefixes (17-bit
//!   multiplicative hash), at most 4,096 candidates per position, a match of 4 bytes
//!   accepted only within 4,096 bytes, and a search stopped at a 258-byte match;
//! * lazy matching: a match is emitted only when the next position offers no longer one,
//!   and the positions it covers are then all hashed;
//! * a block every 16,384 tokens and one at the end, each the smallest of stored, fixed
//!   and dynamic Huffman ([`huffman`]), and an empty final stored block;
//! * the gzip header with no name and no time, `XFL` 2 (best compression) and OS 255.
//!
//! Its tests compare with the reference Butane on many inputs
//! (`crates/butane/tests/gzip_oracle.rs`).

mod huffman;

use std::cell::RefCell;

use huffman::{BlockWriter, Token};

const WINDOW_SIZE: usize = 1 << 15;
const WINDOW_MASK: usize = WINDOW_SIZE - 1;
const MIN_MATCH: usize = 4;
const MAX_MATCH: usize = 258;
/// Bytes of look-ahead below which the compressor waits for more input.
const LOOKAHEAD: usize = MIN_MATCH + MAX_MATCH;
const HASH_BITS: u32 = 17;
const HASH_SIZE: usize = 1 << HASH_BITS;
const HASH_MUL: u32 = 0x1e35_a7bd;
const MAX_BLOCK_TOKENS: usize = 1 << 14;
/// Level 9: stop searching at a match this long, never defer a match this long, and
/// follow at most this many chain links. (Go's "good match" rule, which quarters the
/// chain, never fires at this level: the search always starts from a 3-byte length.)
const NICE: usize = 258;
const LAZY: usize = 258;
const CHAIN: usize = 4096;
/// Go's sentinel for "the block's start left the window".
const BLOCK_START_GONE: isize = i32::MAX as isize;
/// Hash positions are stored as `index + hash_offset` in `u32`; past this the tables are
/// rebased (invisible in the output: positions that fall below zero were already
/// outside the window).
const REBASE_ABOVE: usize = 1 << 30;

/// The whole gzip member of `data`, as Go writes it at `BestCompression`.
pub(crate) fn gzip(data: &[u8]) -> Vec<u8> {
    thread_local! {
        // The hash table is 512 KiB; clearing it for every small file would cost more
        // than compressing the file, so each thread keeps one compressor.
        static COMPRESSOR: RefCell<Option<Box<Compressor>>> = const { RefCell::new(None) };
    }
    let mut out = Vec::with_capacity(data.len() / 2 + 64);
    out.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 0xff]);
    let mut out = COMPRESSOR.with_borrow_mut(|slot| {
        let compressor = slot.get_or_insert_with(|| Box::new(Compressor::new()));
        compressor.compress(data, out)
    });
    let mut crc = flate2::Crc::new();
    crc.update(data);
    out.extend_from_slice(&crc.sum().to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

/// A zeroed table on the heap (`Box::new([0; N])` would build it on the stack first).
fn zeroed<T: Copy + Default, const N: usize>() -> Box<[T; N]> {
    vec![T::default(); N]
        .into_boxed_slice()
        .try_into()
        .unwrap_or_else(|_| unreachable!("the vector has N elements"))
}

fn hash4(b: &[u8]) -> usize {
    let word = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    (word.wrapping_mul(HASH_MUL) >> (32 - HASH_BITS)) as usize
}

/// Length of the common prefix of `a` and `b` (as long as `a` at most).
fn match_len(a: &[u8], b: &[u8]) -> usize {
    let b = &b[..a.len()];
    let mut n = 0;
    for (x, y) in a.chunks_exact(8).zip(b.chunks_exact(8)) {
        let diff = u64::from_le_bytes(x.try_into().unwrap_or_default())
            ^ u64::from_le_bytes(y.try_into().unwrap_or_default());
        if diff != 0 {
            return n + (diff.trailing_zeros() / 8) as usize;
        }
        n += 8;
    }
    n + a[n..]
        .iter()
        .zip(&b[n..])
        .take_while(|(x, y)| x == y)
        .count()
}

/// Go's level-9 deflate state; positions are indices into `window`.
struct Compressor {
    window: Box<[u8; 2 * WINDOW_SIZE]>,
    window_end: usize,
    block_start: isize,
    /// A literal at `index - 1` is pending (lazy matching).
    byte_available: bool,
    tokens: Vec<Token>,
    length: usize,
    offset: usize,
    max_insert_index: isize,
    /// Fixed-size tables: their indices are masked or shifted into range, so the hot
    /// loop needs no bounds checks on them.
    hash_head: Box<[u32; HASH_SIZE]>,
    hash_prev: Box<[u32; WINDOW_SIZE]>,
    hash_offset: usize,
    index: usize,
    chain_head: isize,
    sync: bool,
    writer: BlockWriter,
}

impl Compressor {
    fn new() -> Self {
        Compressor {
            window: zeroed(),
            window_end: 0,
            block_start: 0,
            byte_available: false,
            tokens: Vec::with_capacity(MAX_BLOCK_TOKENS + 1),
            length: MIN_MATCH - 1,
            offset: 0,
            max_insert_index: 0,
            hash_head: zeroed(),
            hash_prev: zeroed(),
            hash_offset: 1,
            index: 0,
            chain_head: -1,
            sync: false,
            writer: BlockWriter::new(),
        }
    }

    /// Back to the state of a new compressor. The hash tables are not cleared: moving
    /// `hash_offset` past every stored position makes them all read as "before the
    /// start", which is what zeroes mean to a fresh one (the chain links are always
    /// written before they are followed).
    fn reset(&mut self) {
        let next_offset = self.hash_offset + self.window_end + 1;
        if next_offset > REBASE_ABOVE {
            self.hash_head.fill(0);
            self.hash_offset = 1;
        } else {
            self.hash_offset = next_offset;
        }
        self.window_end = 0;
        self.block_start = 0;
        self.byte_available = false;
        self.tokens.clear();
        self.length = MIN_MATCH - 1;
        self.offset = 0;
        self.max_insert_index = 0;
        self.index = 0;
        self.chain_head = -1;
        self.sync = false;
    }

    /// Deflates `data` as one `Write` and a `Close` of Go's writer, appending to `out`.
    fn compress(&mut self, mut data: &[u8], out: Vec<u8>) -> Vec<u8> {
        self.reset();
        self.writer.start(out);
        while !data.is_empty() {
            self.step();
            let n = self.fill(data);
            data = &data[n..];
        }
        self.sync = true;
        self.step();
        self.writer.finish()
    }

    /// Copies as much of `b` as fits, sliding the window first when the search has
    /// come within [`LOOKAHEAD`] bytes of its end.
    fn fill(&mut self, b: &[u8]) -> usize {
        if self.index >= 2 * WINDOW_SIZE - LOOKAHEAD {
            self.window.copy_within(WINDOW_SIZE.., 0);
            self.index -= WINDOW_SIZE;
            self.window_end -= WINDOW_SIZE;
            if self.block_start >= WINDOW_SIZE as isize {
                self.block_start -= WINDOW_SIZE as isize;
            } else {
                self.block_start = BLOCK_START_GONE;
            }
            self.hash_offset += WINDOW_SIZE;
            if self.hash_offset > REBASE_ABOVE {
                self.rebase();
            }
        }
        let n = b.len().min(2 * WINDOW_SIZE - self.window_end);
        self.window[self.window_end..self.window_end + n].copy_from_slice(&b[..n]);
        self.window_end += n;
        n
    }

    fn rebase(&mut self) {
        let delta = self.hash_offset - 1;
        self.hash_offset -= delta;
        self.chain_head -= delta as isize;
        for v in self.hash_prev.iter_mut().chain(self.hash_head.iter_mut()) {
            *v = if *v as usize > delta {
                (*v as usize - delta) as u32
            } else {
                0
            };
        }
    }

    fn insert_hash(&mut self, index: usize) -> u32 {
        let head = &mut self.hash_head[hash4(&self.window[index..index + MIN_MATCH])];
        let previous = *head;
        self.hash_prev[index & WINDOW_MASK] = previous;
        *head = (index + self.hash_offset) as u32;
        previous
    }

    fn write_block(&mut self, index: usize) {
        if index == 0 {
            return;
        }
        let input = (self.block_start <= index as isize)
            .then(|| &self.window[self.block_start as usize..index]);
        self.writer.write_block(&self.tokens, input);
        self.block_start = index as isize;
        self.tokens.clear();
    }

    /// Go's `deflate` step: consumes the window while enough look-ahead is left (or to
    /// the end once `sync` is set), emitting tokens and blocks.
    fn step(&mut self) {
        if self.window_end - self.index < LOOKAHEAD && !self.sync {
            return;
        }
        self.max_insert_index = self.window_end as isize - (MIN_MATCH as isize - 1);
        loop {
            let lookahead = self.window_end - self.index;
            if lookahead < LOOKAHEAD {
                if !self.sync {
                    break;
                }
                if lookahead == 0 {
                    if self.byte_available {
                        self.tokens
                            .push(Token::literal(self.window[self.index - 1]));
                        self.byte_available = false;
                    }
                    if !self.tokens.is_empty() {
                        self.write_block(self.index);
                    }
                    break;
                }
            }
            if (self.index as isize) < self.max_insert_index {
                self.chain_head = self.insert_hash(self.index) as isize;
            }
            let prev_length = self.length;
            let prev_offset = self.offset;
            self.length = MIN_MATCH - 1;
            self.offset = 0;
            let min_index = self.index.saturating_sub(WINDOW_SIZE) as isize;
            let head = self.chain_head - self.hash_offset as isize;
            let found = (head >= min_index && lookahead > prev_length && prev_length < LAZY)
                .then(|| self.find_match(self.index, head, lookahead))
                .flatten();
            if let Some((length, offset)) = found {
                self.length = length;
                self.offset = offset;
            }
            if prev_length >= MIN_MATCH && self.length <= prev_length {
                // The match found at the previous position is at least as good: emit it
                // and hash every position it covers.
                self.tokens.push(Token::matched(prev_length, prev_offset));
                let end = self.index + prev_length - 1;
                for index in self.index + 1..end {
                    if (index as isize) < self.max_insert_index {
                        self.insert_hash(index);
                    }
                }
                self.index = end;
                self.byte_available = false;
                self.length = MIN_MATCH - 1;
                if self.tokens.len() == MAX_BLOCK_TOKENS {
                    self.write_block(self.index);
                }
            } else {
                if self.byte_available {
                    let i = self.index - 1;
                    self.tokens.push(Token::literal(self.window[i]));
                    if self.tokens.len() == MAX_BLOCK_TOKENS {
                        self.write_block(i + 1);
                    }
                }
                self.index += 1;
                self.byte_available = true;
            }
        }
    }

    /// The longest match for `pos` along the hash chain from `head`, if longer than 3
    /// bytes: the first one found of each length wins, a 4-byte match counts only within
    /// 4,096 bytes, and a match reaching the look-ahead's end (or 258) ends the search.
    fn find_match(&self, pos: usize, head: isize, lookahead: usize) -> Option<(usize, usize)> {
        let look = MAX_MATCH.min(lookahead);
        let win = &self.window[..pos + look];
        let nice = NICE.min(look);
        let mut length = MIN_MATCH - 1;
        let mut w_end = win[pos + length];
        let w_pos = &win[pos..];
        let min_index = pos as isize - WINDOW_SIZE as isize;
        let mut found = None;
        let mut i = head;
        for _ in 0..CHAIN {
            let at = i as usize;
            if w_end == win[at + length] {
                let n = match_len(&win[at..at + look], w_pos);
                if n > length && (n > MIN_MATCH || pos - at <= 4096) {
                    length = n;
                    found = Some((n, pos - at));
                    if n >= nice {
                        break;
                    }
                    w_end = win[pos + n];
                }
            }
            if i == min_index {
                // The link of this position was overwritten by `pos` itself.
                break;
            }
            i = self.hash_prev[at & WINDOW_MASK] as isize - self.hash_offset as isize;
            if i < min_index || i < 0 {
                break;
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    fn gunzip(data: &[u8]) -> Vec<u8> {
        let mut plain = Vec::new();
        flate2::read::GzDecoder::new(data)
            .read_to_end(&mut plain)
            .expect("valid gzip");
        plain
    }

    fn samples() -> Vec<Vec<u8>> {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut random = |n: usize, alphabet: u8| -> Vec<u8> {
            (0..n)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    ((state % u64::from(alphabet)) as u8).wrapping_add(b' ')
                })
                .collect()
        };
        vec![
            Vec::new(),
            b"a".to_vec(),
            b"Hello, world!".to_vec(),
            b"abc ".repeat(5000),
            random(100_000, 4),
            random(70_000, 90),
            random(300_000, 20),
            vec![0; 1 << 20],
            // Incompressible stretches between compressible ones: stored blocks.
            [random(40_000, 255), vec![7; 40_000], random(70_000, 255)].concat(),
        ]
    }

    #[test]
    fn output_decompresses_to_the_input() {
        for data in samples() {
            let gz = gzip(&data);
            assert_eq!(&gz[..10], &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 0xff]);
            assert_eq!(gunzip(&gz), data);
        }
    }

    #[test]
    fn a_reused_compressor_writes_what_a_new_one_writes() {
        let inputs = samples();
        let reused: Vec<Vec<u8>> = inputs.iter().map(|d| gzip(d)).collect();
        for (data, expected) in inputs.iter().zip(reused) {
            let fresh = Compressor::new().compress(data, Vec::new());
            assert_eq!(&expected[10..expected.len() - 8], fresh.as_slice());
        }
    }

    #[test]
    fn known_go_outputs() {
        // Go's writer ends every stream with an empty final stored block, so empty
        // input is that block between the header and a zero CRC and length.
        assert_eq!(
            gzip(b""),
            [
                0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 0xff, 1, 0, 0, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0
            ]
        );
    }
}
