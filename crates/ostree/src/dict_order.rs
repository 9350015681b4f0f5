//! The order in which GLib's `GHashTable` of string keys iterates, which is the order
//! `GVariantDict` writes an `a{sv}` in. `ostree commit --bootable` passes the commit
//! metadata through a `GVariantDict`, so its keys (and therefore the commit id) come
//! out in this order rather than in the order they were given.
//!
//! The table is GLib 2.74's: `g_str_hash` (djb2), index `(hash * 11) % prime`, quadratic
//! probing, growth to `nodes * 1.333` rounded to a power of two when more than 15/16 of
//! the slots are used, and the in-place relocation that growth does.

/// `g_hash_table`'s prime modulus for each table size `1 << shift`.
const PRIME_MOD: [u32; 32] = [
    1, 2, 3, 7, 13, 31, 61, 127, 251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521, 131071,
    262139, 524287, 1048573, 2097143, 4194301, 8388593, 16777213, 33554393, 67108859, 134217689,
    268435399, 536870909, 1073741789, 2147483647,
];

/// `g_str_hash`, clamped as the table stores it (0 and 1 mark free and deleted slots).
fn str_hash(key: &str) -> u32 {
    let hash = key.bytes().fold(5381u32, |h, b| {
        // GLib hashes `signed char`s.
        h.wrapping_mul(33).wrapping_add(i32::from(b as i8) as u32)
    });
    hash.max(2)
}

/// A table slot: the stored hash and the index of the entry in the caller's list.
type Slot = Option<(u32, usize)>;

struct Table {
    shift: usize,
    slots: Vec<Slot>,
    nodes: usize,
}

impl Table {
    fn index(&self, hash: u32) -> usize {
        (hash.wrapping_mul(11) % PRIME_MOD[self.shift]) as usize
    }

    fn mask(&self) -> usize {
        self.slots.len() - 1
    }

    /// Grows the table and relocates every entry in place, as `g_hash_table_resize`.
    fn grow(&mut self) {
        let old = self.slots.len();
        let target = self.nodes * 1333 / 1000;
        self.shift = (usize::BITS - target.leading_zeros()).max(3) as usize;
        self.slots.resize(1 << self.shift, None);
        let mut placed = vec![false; self.slots.len()];
        for i in 0..old {
            if placed[i] {
                continue;
            }
            let Some(mut moving) = self.slots[i].take() else {
                continue;
            };
            loop {
                let (mut at, mut step) = (self.index(moving.0), 0);
                while placed[at] {
                    step += 1;
                    at = (at + step) & self.mask();
                }
                placed[at] = true;
                match self.slots[at].replace(moving) {
                    Some(evicted) => moving = evicted,
                    None => break,
                }
            }
        }
    }
}

/// `entries` in the order a `GVariantDict` built by inserting them one by one would
/// write them. A key given again keeps its first place and takes the last value.
pub(crate) fn glib_dict_order<T>(entries: Vec<(String, T)>) -> Vec<(String, T)> {
    let mut table = Table {
        shift: 3,
        slots: vec![None; 8],
        nodes: 0,
    };
    let mut values: Vec<Option<(String, T)>> = Vec::with_capacity(entries.len());
    for (key, value) in entries {
        let hash = str_hash(&key);
        let (mut at, mut step) = (table.index(hash), 0);
        let mut existing = None;
        while let Some((stored, entry)) = table.slots[at] {
            if stored == hash && values[entry].as_ref().is_some_and(|(k, _)| *k == key) {
                existing = Some(entry);
                break;
            }
            step += 1;
            at = (at + step) & table.mask();
        }
        match existing {
            Some(entry) => values[entry] = Some((key, value)),
            None => {
                table.slots[at] = Some((hash, values.len()));
                values.push(Some((key, value)));
                table.nodes += 1;
                if table.slots.len() <= table.nodes + table.nodes / 16 {
                    table.grow();
                }
            }
        }
    }
    table
        .slots
        .iter()
        .flatten()
        .filter_map(|&(_, entry)| values[entry].take())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(keys: &[&str]) -> Vec<String> {
        let entries = keys.iter().map(|k| (k.to_string(), ())).collect();
        glib_dict_order(entries)
            .into_iter()
            .map(|(k, ())| k)
            .collect()
    }

    /// Orders GLib 2.74 (Debian 12) iterates these tables in, read from a program
    /// linked against it: a small table, and ones that grew once and twice.
    #[test]
    fn iterates_as_glib() {
        assert_eq!(
            order(&["version", "ostree.bootable", "ostree.linux"]),
            ["ostree.linux", "version", "ostree.bootable"]
        );
        assert_eq!(
            order(&[
                "version",
                "zeta",
                "alpha",
                "mm",
                "ostree.ref-binding",
                "ostree.bootable",
                "ostree.linux"
            ]),
            [
                "ostree.linux",
                "version",
                "alpha",
                "ostree.bootable",
                "zeta",
                "ostree.ref-binding",
                "mm"
            ]
        );
    }

    #[test]
    fn grows_as_glib() {
        let keys: Vec<String> = (0..21).map(|i| format!("k{i}")).collect();
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        let glib = "k7 k11 k14 k2 k17 k5 k8 k12 k0 k15 k3 k18 k6 k20 k9 k10 k13 k1 k16 k4 k19";
        assert_eq!(order(&keys).join(" "), glib);
    }

    #[test]
    fn a_repeated_key_keeps_its_place_and_takes_the_last_value() {
        let entries = vec![
            ("a".to_owned(), 1),
            ("b".to_owned(), 2),
            ("a".to_owned(), 3),
        ];
        let out = glib_dict_order(entries);
        assert_eq!(out.len(), 2);
        assert!(out.contains(&("a".to_owned(), 3)));
    }
}
