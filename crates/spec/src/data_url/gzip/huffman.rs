//! The block writer of Go's `compress/flate`: how it builds Huffman codes, chooses
//! between stored, fixed and dynamic blocks, and lays out the bits.
//!
//! Any valid deflate encoder would do for Ignition; this one exists so the bytes equal
//! Go's. Three of Go's choices decide those bytes and are reproduced here:
//!
//! * code lengths come from a length-limited construction that walks levels of leaf
//!   and pair frequencies (not zlib's tree-then-fix-up), with ties broken by symbol;
//!   symbols of one length get consecutive codes in symbol order;
//! * a block is stored when its raw bytes are still in the window, at most 65,535 long,
//!   and strictly smaller than both Huffman encodings; dynamic wins over fixed only when
//!   strictly smaller; the sizes include the length and distance extra bits;
//! * the code-length sequence runs across the literal/length and distance lengths, with
//!   repeats of a non-zero length sent as the length once and then runs of 3–6, and
//!   zero runs of 11–138 before 3–10.

/// Number of literal/length symbols Go counts (0–285).
pub(super) const LITERAL_COUNT: usize = 286;
/// Number of distance symbols.
pub(super) const OFFSET_COUNT: usize = 30;
const CODEGEN_COUNT: usize = 19;
const END_BLOCK: usize = 256;
const LENGTH_CODES_START: usize = 257;
const MAX_STORED_BLOCK: usize = 65_535;
/// Order in which the code-length code lengths are sent (RFC 1951 §3.2.7).
const CODEGEN_ORDER: [usize; CODEGEN_COUNT] = [
    16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
];
/// Marks the end of the code-length sequence.
const BAD_CODE: u8 = 255;

const LENGTH_EXTRA_BITS: [u8; 29] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];
/// First match length of each length code, minus 3.
const LENGTH_BASE: [u16; 29] = [
    0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 16, 20, 24, 28, 32, 40, 48, 56, 64, 80, 96, 112, 128,
    160, 192, 224, 255,
];
const OFFSET_EXTRA_BITS: [u8; OFFSET_COUNT] = [
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13,
    13,
];
/// First distance of each distance code, minus 1.
const OFFSET_BASE: [u32; OFFSET_COUNT] = [
    0, 1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536,
    2048, 3072, 4096, 6144, 8192, 12288, 16384, 24576,
];

/// A token of the compressor: a literal byte, or a match of `length` (3–258) bytes at
/// `offset` (1–32,768) back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Token(u32);

const MATCH_FLAG: u32 = 1 << 31;

impl Token {
    pub(super) fn literal(byte: u8) -> Self {
        Token(u32::from(byte))
    }

    pub(super) fn matched(length: usize, offset: usize) -> Self {
        debug_assert!((3..=258).contains(&length) && (1..=32_768).contains(&offset));
        Token(MATCH_FLAG | ((length as u32 - 3) << 16) | (offset as u32 - 1))
    }

    fn is_match(self) -> bool {
        self.0 & MATCH_FLAG != 0
    }

    /// Length minus 3.
    fn xlength(self) -> usize {
        ((self.0 >> 16) & 0xff) as usize
    }

    /// Offset minus 1.
    fn xoffset(self) -> u32 {
        self.0 & 0xffff
    }
}

fn length_code(xlength: usize) -> usize {
    usize::from(LENGTH_CODE[xlength & 0xff])
}

fn offset_code(xoffset: u32) -> usize {
    // Distance codes from 16 on start at multiples of 128, so above 255 the code
    // depends on `xoffset >> 7` only (zlib's two-table lookup).
    let xoffset = xoffset as usize;
    if xoffset < 256 {
        usize::from(OFFSET_CODE_LOW[xoffset])
    } else {
        usize::from(OFFSET_CODE_HIGH[(xoffset >> 7) & 0xff])
    }
}

/// The length code of each length minus 3: the last code whose base does not exceed
/// it, and code 28 for 258 alone.
static LENGTH_CODE: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut x = 0;
    while x < 256 {
        let mut code = 0;
        while code + 1 < 28 && LENGTH_BASE[code + 1] as usize <= x {
            code += 1;
        }
        table[x] = if x == 255 { 28 } else { code as u8 };
        x += 1;
    }
    table
};

/// The distance code of `xoffset` for `xoffset` < 256 …
static OFFSET_CODE_LOW: [u8; 256] = offset_codes(0);
/// … and of `xoffset >> 7` above.
static OFFSET_CODE_HIGH: [u8; 256] = offset_codes(7);

const fn offset_codes(shift: u32) -> [u8; 256] {
    let mut table = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let xoffset = (i as u32) << shift;
        let mut code = 0;
        while code + 1 < OFFSET_COUNT && OFFSET_BASE[code + 1] <= xoffset {
            code += 1;
        }
        table[i] = code as u8;
        i += 1;
    }
    table
}

/// A code: `code` holds its `len` bits already reversed, ready to be sent LSB first.
#[derive(Debug, Clone, Copy, Default)]
struct Code {
    code: u16,
    len: u16,
}

fn reverse_bits(code: u16, len: u16) -> u16 {
    (code << (16 - len)).reverse_bits()
}

#[derive(Debug, Clone, Copy)]
struct Leaf {
    symbol: u16,
    freq: i32,
}

/// Go's deepest code: the encoders never ask for more than 15 bits.
const MAX_BITS_LIMIT: usize = 16;

#[derive(Debug, Clone, Copy, Default)]
struct Level {
    last_freq: i32,
    next_char_freq: i32,
    next_pair_freq: i32,
    needed: i32,
}

/// A Huffman code for one alphabet, rebuilt for every block.
#[derive(Debug)]
struct Encoder {
    codes: Vec<Code>,
    leaves: Vec<Leaf>,
}

impl Encoder {
    fn new(size: usize) -> Self {
        Encoder {
            codes: vec![Code::default(); size],
            leaves: Vec::with_capacity(size + 1),
        }
    }

    /// The fixed literal/length code of RFC 1951 §3.2.6, over Go's 286 symbols.
    fn fixed_literals() -> Self {
        let mut encoder = Encoder::new(LITERAL_COUNT);
        for (symbol, code) in encoder.codes.iter_mut().enumerate() {
            let symbol = symbol as u16;
            let (bits, len) = match symbol {
                0..=143 => (symbol + 48, 8),
                144..=255 => (symbol + 400 - 144, 9),
                256..=279 => (symbol - 256, 7),
                _ => (symbol + 192 - 280, 8),
            };
            *code = Code {
                code: reverse_bits(bits, len),
                len,
            };
        }
        encoder
    }

    /// The fixed distance code: five bits each.
    fn fixed_offsets() -> Self {
        let mut encoder = Encoder::new(OFFSET_COUNT);
        for (symbol, code) in encoder.codes.iter_mut().enumerate() {
            *code = Code {
                code: reverse_bits(symbol as u16, 5),
                len: 5,
            };
        }
        encoder
    }

    /// Bits needed to send symbols with these frequencies.
    fn bit_length(&self, freq: &[i32]) -> usize {
        freq.iter()
            .zip(&self.codes)
            .filter(|(f, _)| **f != 0)
            .map(|(f, c)| *f as usize * usize::from(c.len))
            .sum()
    }

    /// Builds the code for `freq`, no code longer than `max_bits`.
    fn generate(&mut self, freq: &[i32], max_bits: usize) {
        self.leaves.clear();
        for (symbol, &f) in freq.iter().enumerate() {
            if f != 0 {
                self.leaves.push(Leaf {
                    symbol: symbol as u16,
                    freq: f,
                });
            } else {
                self.codes[symbol].len = 0;
            }
        }
        if self.leaves.len() <= 2 {
            // One or two symbols: one bit each, codes in symbol order.
            for (i, leaf) in self.leaves.iter().enumerate() {
                self.codes[usize::from(leaf.symbol)] = Code {
                    code: i as u16,
                    len: 1,
                };
            }
            return;
        }
        self.leaves
            .sort_unstable_by(|a, b| a.freq.cmp(&b.freq).then(a.symbol.cmp(&b.symbol)));
        let (bit_count, max_bits) = bit_counts(&mut self.leaves, max_bits);
        self.assign(&bit_count[..=max_bits]);
    }

    /// Gives the `bit_count[n]` most frequent remaining leaves `n`-bit codes, shortest
    /// codes first, consecutive codes in symbol order within one length.
    fn assign(&mut self, bit_count: &[i32]) {
        let mut code: u16 = 0;
        let mut end = self.leaves.len();
        for (len, &count) in bit_count.iter().enumerate() {
            code <<= 1;
            if len == 0 || count == 0 {
                continue;
            }
            let chunk = &mut self.leaves[end - count as usize..end];
            chunk.sort_unstable_by_key(|leaf| leaf.symbol);
            for leaf in chunk.iter() {
                self.codes[usize::from(leaf.symbol)] = Code {
                    code: reverse_bits(code, len as u16),
                    len: len as u16,
                };
                code += 1;
            }
            end -= count as usize;
        }
    }
}

/// How many leaves get each code length (index = length), for leaves sorted by
/// frequency; also the effective maximum length. Go's level walk: each level keeps the
/// last item taken and the next leaf and the next pair (sum of two items of the level
/// below) on offer, takes the cheaper (a leaf on a tie of a pair… only when strictly
/// cheaper), and counts for each level how many leaves lie left of the rightmost chain.
fn bit_counts(leaves: &mut Vec<Leaf>, max_bits: usize) -> ([i32; MAX_BITS_LIMIT + 1], usize) {
    let n = leaves.len() as i32;
    leaves.push(Leaf {
        symbol: u16::MAX,
        freq: i32::MAX,
    });
    let max_bits = max_bits.min(n as usize - 1);
    let mut levels = [Level::default(); MAX_BITS_LIMIT + 1];
    let mut leaf_counts = [[0i32; MAX_BITS_LIMIT + 1]; MAX_BITS_LIMIT + 1];
    for level in 1..=max_bits {
        levels[level] = Level {
            last_freq: leaves[1].freq,
            next_char_freq: leaves[2].freq,
            next_pair_freq: if level == 1 {
                i32::MAX
            } else {
                leaves[0].freq.wrapping_add(leaves[1].freq)
            },
            needed: 0,
        };
        leaf_counts[level][level] = 2;
    }
    levels[max_bits].needed = 2 * n - 4;
    let mut level = max_bits;
    loop {
        let l = &mut levels[level];
        if l.next_pair_freq == i32::MAX && l.next_char_freq == i32::MAX {
            // Out of leaves and pairs: this level is done, and nothing below may feed
            // the level above any more.
            l.needed = 0;
            levels[level + 1].next_pair_freq = i32::MAX;
            level += 1;
            continue;
        }
        let prev_freq = l.last_freq;
        if l.next_char_freq < l.next_pair_freq {
            let taken = leaf_counts[level][level] + 1;
            l.last_freq = l.next_char_freq;
            leaf_counts[level][level] = taken;
            l.next_char_freq = leaves[taken as usize].freq;
        } else {
            l.last_freq = l.next_pair_freq;
            let (below, this) = leaf_counts.split_at_mut(level);
            this[0][..level].copy_from_slice(&below[level - 1][..level]);
            levels[level - 1].needed = 2;
        }
        levels[level].needed -= 1;
        if levels[level].needed == 0 {
            if level == max_bits {
                break;
            }
            levels[level + 1].next_pair_freq = prev_freq.wrapping_add(levels[level].last_freq);
            level += 1;
        } else {
            while levels[level - 1].needed > 0 {
                level -= 1;
            }
        }
    }
    debug_assert_eq!(leaf_counts[max_bits][max_bits], n);
    leaves.pop();
    let mut bit_count = [0i32; MAX_BITS_LIMIT + 1];
    let counts = &leaf_counts[max_bits];
    for (bits, level) in (1..=max_bits).rev().enumerate() {
        bit_count[bits + 1] = counts[level] - counts[level - 1];
    }
    (bit_count, max_bits)
}

/// Writes deflate blocks the way Go's `huffmanBitWriter` does.
#[derive(Debug)]
pub(super) struct BlockWriter {
    out: Vec<u8>,
    bits: u64,
    nbits: u32,
    literal_freq: [i32; LITERAL_COUNT],
    offset_freq: [i32; OFFSET_COUNT],
    codegen_freq: [i32; CODEGEN_COUNT],
    /// The code-length sequence of the current dynamic header, ended by [`BAD_CODE`].
    codegen: Vec<u8>,
    literals: Encoder,
    offsets: Encoder,
    codegen_encoder: Encoder,
    fixed_literals: Encoder,
    fixed_offsets: Encoder,
}

impl BlockWriter {
    pub(super) fn new() -> Self {
        BlockWriter {
            out: Vec::new(),
            bits: 0,
            nbits: 0,
            literal_freq: [0; LITERAL_COUNT],
            offset_freq: [0; OFFSET_COUNT],
            codegen_freq: [0; CODEGEN_COUNT],
            codegen: Vec::with_capacity(LITERAL_COUNT + OFFSET_COUNT + 1),
            literals: Encoder::new(LITERAL_COUNT),
            offsets: Encoder::new(OFFSET_COUNT),
            codegen_encoder: Encoder::new(CODEGEN_COUNT),
            fixed_literals: Encoder::fixed_literals(),
            fixed_offsets: Encoder::fixed_offsets(),
        }
    }

    /// Starts a new stream appended to `out`.
    pub(super) fn start(&mut self, out: Vec<u8>) {
        self.out = out;
        self.bits = 0;
        self.nbits = 0;
    }

    /// Ends the stream with Go's closing empty stored block and returns the bytes.
    pub(super) fn finish(&mut self) -> Vec<u8> {
        self.write_stored_header(0, true);
        self.flush();
        std::mem::take(&mut self.out)
    }

    fn write_bits(&mut self, value: u32, n: u32) {
        self.bits |= u64::from(value) << self.nbits;
        self.nbits += n;
        if self.nbits >= 48 {
            self.out.extend_from_slice(&self.bits.to_le_bytes()[..6]);
            self.bits >>= 48;
            self.nbits -= 48;
        }
    }

    fn write_code(&mut self, code: Code) {
        self.write_bits(u32::from(code.code), u32::from(code.len));
    }

    /// Pads to a byte boundary.
    fn flush(&mut self) {
        while self.nbits > 0 {
            self.out.push(self.bits as u8);
            self.bits >>= 8;
            self.nbits = self.nbits.saturating_sub(8);
        }
        self.bits = 0;
    }

    fn write_stored_header(&mut self, length: usize, last: bool) {
        self.write_bits(u32::from(last), 3);
        self.flush();
        self.write_bits(length as u32, 16);
        self.write_bits(u32::from(!(length as u16)), 16);
    }

    /// Writes one non-final block of `tokens`; `input` is the block's raw bytes when
    /// they are still in the window (a stored block is possible only then).
    pub(super) fn write_block(&mut self, tokens: &[Token], input: Option<&[u8]>) {
        let (num_literals, num_offsets) = self.index_tokens(tokens);
        let stored_size = input
            .filter(|input| input.len() <= MAX_STORED_BLOCK)
            .map(|input| (input.len() + 5) * 8);
        let mut extra_bits = 0;
        if stored_size.is_some() {
            // Extra bits cost the same in both Huffman encodings, so Go counts them only
            // when the stored block competes.
            for code in LENGTH_CODES_START + 8..num_literals {
                extra_bits += self.literal_freq[code] as usize
                    * usize::from(LENGTH_EXTRA_BITS[code - LENGTH_CODES_START]);
            }
            extra_bits += self.offset_freq[4..num_offsets.max(4)]
                .iter()
                .zip(&OFFSET_EXTRA_BITS[4..])
                .map(|(&f, &bits)| f as usize * usize::from(bits))
                .sum::<usize>();
        }
        let fixed_size = 3
            + self.fixed_literals.bit_length(&self.literal_freq)
            + self.fixed_offsets.bit_length(&self.offset_freq)
            + extra_bits;
        self.generate_codegen(num_literals, num_offsets);
        self.codegen_encoder.generate(&self.codegen_freq, 7);
        let (dynamic_size, num_codegens) = self.dynamic_size(extra_bits);
        let dynamic = dynamic_size < fixed_size;
        let size = fixed_size.min(dynamic_size);
        if let Some(input) = input.filter(|_| stored_size.is_some_and(|stored| stored < size)) {
            self.write_stored_header(input.len(), false);
            // The header ends on a byte boundary: out with its bytes, then the data.
            self.flush();
            self.out.extend_from_slice(input);
            return;
        }
        if dynamic {
            self.write_dynamic_header(num_literals, num_offsets, num_codegens);
            self.write_tokens(tokens, false);
        } else {
            self.write_bits(2, 3);
            self.write_tokens(tokens, true);
        }
    }

    /// Counts symbol frequencies (with the end-of-block symbol) and builds the dynamic
    /// codes; returns how many literal/length and distance symbols the header lists.
    fn index_tokens(&mut self, tokens: &[Token]) -> (usize, usize) {
        self.literal_freq = [0; LITERAL_COUNT];
        self.offset_freq = [0; OFFSET_COUNT];
        for &t in tokens {
            if t.is_match() {
                self.literal_freq[LENGTH_CODES_START + length_code(t.xlength())] += 1;
                self.offset_freq[offset_code(t.xoffset())] += 1;
            } else {
                self.literal_freq[t.0 as usize] += 1;
            }
        }
        self.literal_freq[END_BLOCK] += 1;
        let num_literals = LITERAL_COUNT
            - self
                .literal_freq
                .iter()
                .rev()
                .take_while(|&&f| f == 0)
                .count();
        let mut num_offsets = OFFSET_COUNT
            - self
                .offset_freq
                .iter()
                .rev()
                .take_while(|&&f| f == 0)
                .count();
        if num_offsets == 0 {
            // A distance code must exist for the header to be encodable.
            self.offset_freq[0] = 1;
            num_offsets = 1;
        }
        self.literals.generate(&self.literal_freq, 15);
        self.offsets.generate(&self.offset_freq, 15);
        (num_literals, num_offsets)
    }

    /// The run-length coded code lengths of the dynamic header, and their frequencies.
    fn generate_codegen(&mut self, num_literals: usize, num_offsets: usize) {
        self.codegen_freq = [0; CODEGEN_COUNT];
        let lengths: Vec<u8> = self.literals.codes[..num_literals]
            .iter()
            .chain(&self.offsets.codes[..num_offsets])
            .map(|c| c.len as u8)
            .collect();
        let codegen = &mut self.codegen;
        let freq = &mut self.codegen_freq;
        codegen.clear();
        let mut i = 0;
        while i < lengths.len() {
            let size = lengths[i];
            let run = lengths[i..].iter().take_while(|&&l| l == size).count();
            i += run;
            let mut count = run as i32;
            if size != 0 {
                codegen.push(size);
                freq[usize::from(size)] += 1;
                count -= 1;
                while count >= 3 {
                    let n = count.min(6);
                    codegen.extend_from_slice(&[16, (n - 3) as u8]);
                    freq[16] += 1;
                    count -= n;
                }
            } else {
                while count >= 11 {
                    let n = count.min(138);
                    codegen.extend_from_slice(&[18, (n - 11) as u8]);
                    freq[18] += 1;
                    count -= n;
                }
                if count >= 3 {
                    codegen.extend_from_slice(&[17, (count - 3) as u8]);
                    freq[17] += 1;
                    count = 0;
                }
            }
            for _ in 0..count {
                codegen.push(size);
                freq[usize::from(size)] += 1;
            }
        }
        codegen.push(BAD_CODE);
    }

    fn dynamic_size(&self, extra_bits: usize) -> (usize, usize) {
        let mut num_codegens = CODEGEN_COUNT;
        while num_codegens > 4 && self.codegen_freq[CODEGEN_ORDER[num_codegens - 1]] == 0 {
            num_codegens -= 1;
        }
        let header = 3
            + 5
            + 5
            + 4
            + 3 * num_codegens
            + self.codegen_encoder.bit_length(&self.codegen_freq)
            + self.codegen_freq[16] as usize * 2
            + self.codegen_freq[17] as usize * 3
            + self.codegen_freq[18] as usize * 7;
        let size = header
            + self.literals.bit_length(&self.literal_freq)
            + self.offsets.bit_length(&self.offset_freq)
            + extra_bits;
        (size, num_codegens)
    }

    fn write_dynamic_header(
        &mut self,
        num_literals: usize,
        num_offsets: usize,
        num_codegens: usize,
    ) {
        self.write_bits(4, 3);
        self.write_bits((num_literals - 257) as u32, 5);
        self.write_bits((num_offsets - 1) as u32, 5);
        self.write_bits((num_codegens - 4) as u32, 4);
        for &symbol in &CODEGEN_ORDER[..num_codegens] {
            let len = self.codegen_encoder.codes[symbol].len;
            self.write_bits(u32::from(len), 3);
        }
        let mut i = 0;
        loop {
            let word = self.codegen[i];
            i += 1;
            if word == BAD_CODE {
                break;
            }
            self.write_code(self.codegen_encoder.codes[usize::from(word)]);
            let extra = match word {
                16 => 2,
                17 => 3,
                18 => 7,
                _ => continue,
            };
            self.write_bits(u32::from(self.codegen[i]), extra);
            i += 1;
        }
    }

    /// Writes `tokens` and the end-of-block symbol with the fixed or the block's codes.
    /// The bit buffer lives in locals here (the hot loop of the writer), not in `self`.
    fn write_tokens(&mut self, tokens: &[Token], fixed: bool) {
        let (literals, offsets) = if fixed {
            (&self.fixed_literals.codes, &self.fixed_offsets.codes)
        } else {
            (&self.literals.codes, &self.offsets.codes)
        };
        let literals: &[Code; LITERAL_COUNT] = literals[..]
            .try_into()
            .expect("one code per literal/length symbol");
        let offsets: &[Code; OFFSET_COUNT] = offsets[..]
            .try_into()
            .expect("one code per distance symbol");
        let out = &mut self.out;
        let mut bits = self.bits;
        let mut nbits = self.nbits;
        // A write here is up to 28 bits (a 15-bit code and 13 extra bits), so fewer
        // than 32 bits may wait in the buffer between writes.
        let mut put = |value: u32, n: u32| {
            bits |= u64::from(value) << nbits;
            nbits += n;
            if nbits >= 32 {
                out.extend_from_slice(&bits.to_le_bytes()[..4]);
                bits >>= 32;
                nbits -= 32;
            }
        };
        put(0, 0);
        for &t in tokens {
            if !t.is_match() {
                let code = literals[(t.0 & 0xff) as usize];
                put(u32::from(code.code), u32::from(code.len));
                continue;
            }
            let xlength = t.xlength();
            let lcode = length_code(xlength);
            let code = literals[LENGTH_CODES_START + lcode];
            let extra = u32::from(LENGTH_EXTRA_BITS[lcode]);
            // A code and its extra bits fit one write (at most 15 + 5 bits).
            put(
                u32::from(code.code)
                    | ((xlength - usize::from(LENGTH_BASE[lcode])) as u32) << code.len,
                u32::from(code.len) + extra,
            );
            let xoffset = t.xoffset();
            let ocode = offset_code(xoffset);
            let code = offsets[ocode];
            let extra = u32::from(OFFSET_EXTRA_BITS[ocode]);
            put(
                u32::from(code.code) | (xoffset - OFFSET_BASE[ocode]) << code.len,
                u32::from(code.len) + extra,
            );
        }
        let end = literals[END_BLOCK];
        put(u32::from(end.code), u32::from(end.len));
        self.bits = bits;
        self.nbits = nbits;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_and_offset_codes_follow_rfc_1951() {
        assert_eq!(length_code(0), 0); // length 3
        assert_eq!(length_code(8), 8); // length 11
        assert_eq!(length_code(9), 8); // length 12
        assert_eq!(length_code(254), 27); // length 257
        assert_eq!(length_code(255), 28); // length 258
        assert_eq!(offset_code(0), 0);
        assert_eq!(offset_code(4), 4);
        assert_eq!(offset_code(5), 4);
        assert_eq!(offset_code(32_767), 29);
        // The tables agree with a search of the bases everywhere.
        for xlength in 0..255 {
            let searched =
                LENGTH_BASE[..28].partition_point(|&base| usize::from(base) <= xlength) - 1;
            assert_eq!(length_code(xlength), searched, "length {}", xlength + 3);
        }
        for xoffset in 0..32_768 {
            let searched = OFFSET_BASE.partition_point(|&base| base <= xoffset) - 1;
            assert_eq!(offset_code(xoffset), searched, "offset {}", xoffset + 1);
        }
    }

    #[test]
    fn codes_are_complete_and_no_longer_than_asked() {
        let mut freq = [0i32; LITERAL_COUNT];
        // Fibonacci frequencies force the deepest tree; the limit must cut it.
        let (mut a, mut b) = (1i32, 1i32);
        for f in freq.iter_mut().take(30) {
            *f = a;
            (a, b) = (b, a.saturating_add(b).min(1 << 20));
        }
        let mut encoder = Encoder::new(LITERAL_COUNT);
        encoder.generate(&freq, 15);
        let lens: Vec<u16> = encoder.codes[..30].iter().map(|c| c.len).collect();
        assert!(lens.iter().all(|&l| (1..=15).contains(&l)));
        let kraft: f64 = lens.iter().map(|&l| 0.5f64.powi(i32::from(l))).sum();
        assert!((kraft - 1.0).abs() < 1e-12, "Kraft sum {kraft}");
    }
}
