//! Deflate for the image data of flat graphics.
//!
//! Filtered, a card is mostly zeros: rows that repeat the one above, and
//! runs between the edges of text and shapes. fdeflate codes those runs
//! well but every other byte with one fixed code; zlib also finds the
//! repeats between glyphs and between rows, but walks every zero to do
//! so. This encoder skips the zeros (runs at distance one, repeated rows
//! whole), looks for matches only where the residues are not zero — the
//! last distance, the row above and a hash chain of bounded depth — and
//! writes blocks with Huffman codes of their own.

use std::cell::RefCell;

/// Deflate's longest and shortest matches, and its window.
const MAX_MATCH: usize = 258;
const MIN_MATCH: usize = 3;
const WINDOW: usize = 32_768;
/// Matches are looked up by their first four bytes.
const SEARCHED: usize = 4;
const HASH_BITS: u32 = 14;
/// Earlier positions tried from the hash chain: the steps of a
/// gradient differ only by what follows them, and eight tries find the
/// one that goes on longest.
const CHAIN_DEPTH: usize = 8;
/// Chain links kept, by position modulo this: a quarter of the window
/// fits the first-level cache and loses a match in two thousand.
const LINKS: usize = 8_192;
/// Tokens per deflate block, each with Huffman codes of its own.
const BLOCK_TOKENS: usize = 16_384;
/// A token is a literal byte, or `MATCH | (length − 3) << 16 | (distance − 1)`.
const MATCH: u32 = 1 << 31;
/// An empty slot of the hash chains.
const NONE: u32 = u32::MAX;
const ADLER_MODULUS: u64 = 65_521;
/// The filter bytes of `Sub` and `Up` rows.
const SUB: u8 = 1;
const UP: u8 = 2;

/// Images of fewer bytes than this are compressed in one piece: two
/// threads would gain less than they cost to start.
const SPLIT_BYTES: usize = 1 << 18;

/// Buffers kept from card to card: a fresh 4 MB buffer costs more in
/// page faults than compressing it.
#[derive(Default)]
struct Scratch {
    data: Vec<u8>,
    /// The rows of `data` whose residues are all zero, for the band whose
    /// rows are `origin.0` bytes long, filtered, and start at image row
    /// `origin.1`.
    zeroed: Vec<bool>,
    origin: (usize, usize),
    tokens: Vec<u32>,
    head: Vec<u32>,
    chain: Vec<u32>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

impl Scratch {
    /// Ready for a band of `rows` rows, `stride` bytes once filtered,
    /// from image row `first`: the zero rows known kept when the band
    /// is the same as the last one's.
    fn prepare(&mut self, stride: usize, first: usize, rows: usize) {
        if self.origin != (stride, first) {
            self.zeroed.clear();
            self.origin = (stride, first);
        }
        self.data.resize(rows * stride, 0);
        self.zeroed.resize(rows, false);
        self.tokens.clear();
        self.head.clear();
        self.head.resize(1 << HASH_BITS, NONE);
        self.chain.clear();
        self.chain.resize(LINKS, NONE);
    }
}

/// Rows `start..end` of an image, compressed on their own after `warm`
/// rows before them that are filtered and searched again but not
/// written: matches reach back into them as in one pass, since the
/// decoder has them in its window.
struct Band {
    start: usize,
    end: usize,
    warm: usize,
}

/// A band's deflate blocks, byte-aligned (the last band's end the
/// stream), and the Adler-32 sums of its bytes.
struct Compressed {
    deflate: Vec<u8>,
    adler: Adler,
    length: usize,
}

/// The zlib stream of an image's filtered rows (`row_len` bytes each,
/// `samples` bytes a pixel), or `None` when the image is too busy for
/// this encoder — a photograph — and fdeflate does better.
///
/// A large image is cut in two bands at its middle row, compressed on
/// two threads and joined: where the cut falls depends on the image
/// alone, so the bytes do not depend on the threads.
pub(super) fn zlib(pixels: &[u8], row_len: usize, samples: usize) -> Option<Vec<u8>> {
    if row_len < SEARCHED || samples == 0 || samples > row_len || pixels.len() < row_len {
        return None;
    }
    let rows = pixels.len() / row_len;
    let compress = |start, end, warm| {
        let band = Band { start, end, warm };
        SCRATCH.with(|cell| match cell.try_borrow_mut() {
            Ok(mut scratch) => compress(pixels, row_len, samples, &band, &mut scratch),
            Err(_) => compress(pixels, row_len, samples, &band, &mut Scratch::default()),
        })
    };
    let (first, second) = if pixels.len() < SPLIT_BYTES || rows < 2 {
        (compress(0, rows, 0)?, None)
    } else {
        let middle = rows / 2;
        let warm = middle.min(WINDOW.div_ceil(row_len + 1));
        let (first, second) =
            rayon::join(|| compress(0, middle, 0), || compress(middle, rows, warm));
        (first?, Some(second?))
    };
    let mut out = first.deflate;
    let mut adler = first.adler;
    if let Some(second) = second {
        out.extend_from_slice(&second.deflate);
        adler.append(&second.adler, second.length);
    }
    out.extend_from_slice(&adler.value().to_be_bytes());
    Some(out)
}

/// Filters, tokenizes and writes a band's rows in one pass, each row
/// while it is still in cache: a row is tokenized once the next one is
/// filtered, as its matches may run into it, and a block is written
/// whenever enough tokens are waiting.
fn compress(
    pixels: &[u8],
    row_len: usize,
    samples: usize,
    band: &Band,
    scratch: &mut Scratch,
) -> Option<Compressed> {
    let stride = row_len + 1;
    let first = band.start - band.warm;
    let rows = band.end - first;
    scratch.prepare(stride, first, rows);
    let Scratch {
        data,
        zeroed,
        tokens,
        head,
        chain,
        ..
    } = scratch;
    let mut tokenizer = Tokenizer {
        matcher: Matcher { head, chain },
        stride,
        i: 0,
        last: 0,
    };
    let mut bits = Bits::for_band(band, data.len());
    let symbols = Symbols::new();
    // The first band's sums start at one, the others' at zero to be
    // added to those before.
    let mut adler = Adler {
        a: u64::from(band.start == 0),
        b: 0,
    };
    // More than a token for eight bytes is a picture, not flat colour.
    let budget = (rows - band.warm) * stride / 8 + 1024;
    let mut written = 0;
    let mut waiting: Option<bool> = None;
    let mut above = first
        .checked_sub(1)
        .map(|row| &pixels[row * row_len..][..row_len]);
    let band_rows = pixels[first * row_len..band.end * row_len].chunks_exact(row_len);
    for (index, row) in band_rows.enumerate() {
        let filtered = &mut data[index * stride..(index + 1) * stride];
        let repeat = filter(row, above, samples, filtered, &mut zeroed[index]);
        above = Some(row);
        if index >= band.warm {
            adler.row(&data[index * stride..(index + 1) * stride], repeat);
        }
        // The row before is tokenized now: its matches may run into this
        // one, but not from the warm rows into the band's.
        let Some(before) = waiting.replace(repeat) else {
            continue;
        };
        let end = if index == band.warm { index } else { index + 1 };
        tokenizer.row(&data[..end * stride], index - 1, before, tokens);
        if index <= band.warm {
            tokens.clear();
            continue;
        }
        written += write_full(&mut bits, tokens, &symbols);
        if written + tokens.len() > budget {
            return None;
        }
    }
    if let Some(before) = waiting {
        tokenizer.row(data, rows - 1, before, tokens);
    }
    let last = band.end == pixels.len() / row_len;
    write_block(&mut bits, tokens, last, &symbols);
    if !last {
        bits.align();
    }
    Some(Compressed {
        deflate: bits.finish(),
        adler,
        length: (rows - band.warm) * stride,
    })
}

/// Writes the waiting tokens as a block once there are enough of
/// them; how many it wrote.
fn write_full(bits: &mut Bits, tokens: &mut Vec<u32>, symbols: &Symbols) -> usize {
    if tokens.len() < BLOCK_TOKENS {
        return 0;
    }
    write_block(bits, tokens, false, symbols);
    let written = tokens.len();
    tokens.clear();
    written
}

/// Filters a row into `out` (its filter byte, then its residues):
/// `Up` for a row that repeats the one above, all its residues zero
/// (then `true`), else whichever of `Up` and `Sub` leaves fewer
/// residues that are not zero, as zeros are what this encoder codes
/// best. `zeroed` says whether `out` holds zero residues already, as
/// the same row of a card of the same template often does.
fn filter(
    row: &[u8],
    above: Option<&[u8]>,
    samples: usize,
    out: &mut [u8],
    zeroed: &mut bool,
) -> bool {
    let (kind, residues) = out.split_at_mut(1);
    let repeat = above == Some(row);
    kind[0] = match above {
        Some(_) if repeat => {
            if !*zeroed {
                residues.fill(0);
            }
            UP
        }
        Some(above) => {
            up(row, above, residues);
            let ups = differences(residues, None);
            let subs = differences(&row[..samples], None) + differences(&row[samples..], Some(row));
            if subs < ups {
                sub(row, samples, residues);
                SUB
            } else {
                UP
            }
        }
        None => {
            sub(row, samples, residues);
            SUB
        }
    };
    *zeroed = repeat;
    repeat
}

/// Residues of `Up`: each byte less the one above.
fn up(row: &[u8], above: &[u8], out: &mut [u8]) {
    for ((out, byte), above) in out.iter_mut().zip(row).zip(above) {
        *out = byte.wrapping_sub(*above);
    }
}

/// Residues of `Sub`: each byte less the one a pixel before.
fn sub(row: &[u8], samples: usize, out: &mut [u8]) {
    let (first, rest) = out.split_at_mut(samples);
    first.copy_from_slice(&row[..samples]);
    for ((out, byte), left) in rest.iter_mut().zip(&row[samples..]).zip(row) {
        *out = byte.wrapping_sub(*left);
    }
}

/// How many bytes of `a` are not zero, or differ from those of `b`
/// (as long as `a` at least).
fn differences(a: &[u8], b: Option<&[u8]>) -> usize {
    // Counted 64 at a time on a byte, which vectorizes.
    let count =
        |a: &[u8; 64], b: &[u8; 64]| a.iter().zip(b).fold(0u8, |n, (x, y)| n + u8::from(x != y));
    let (chunks, rest) = a.as_chunks::<64>();
    match b {
        Some(b) => {
            let (others, other_rest) = b[..a.len()].as_chunks::<64>();
            let whole: usize = chunks
                .iter()
                .zip(others)
                .map(|(a, b)| usize::from(count(a, b)))
                .sum();
            whole + rest.iter().zip(other_rest).filter(|(x, y)| x != y).count()
        }
        None => {
            let whole: usize = chunks.iter().map(|a| usize::from(count(a, &[0; 64]))).sum();
            whole + rest.iter().filter(|&&x| x != 0).count()
        }
    }
}

/// Adler-32, kept on 64 bits and reduced once per row.
struct Adler {
    a: u64,
    b: u64,
}

impl Adler {
    /// Adds `bytes`: `b` gains `n·a + Σ (n − k)·x_k` and `a` gains
    /// `Σ x_k`, taken eight bytes at a time, and a word of zeros costs
    /// one test.
    fn update(&mut self, bytes: &[u8]) {
        // Bytes 0, 2, 4, 6 and 1, 3, 5, 7 of a word, on 16 bits each.
        const LANES: u64 = 0x00ff_00ff_00ff_00ff;
        let n = bytes.len() as u64;
        let (mut sum, mut weighted) = (0u64, 0u64);
        let (words, rest) = bytes.as_chunks::<8>();
        for (index, word) in words.iter().enumerate() {
            let word = u64::from_le_bytes(*word);
            if word == 0 {
                continue;
            }
            let (even, odd) = (word & LANES, (word >> 8) & LANES);
            // A product's top lane sums the lanes weighted by the
            // multiplier's lanes in reverse; no lane carries.
            let total = (even + odd).wrapping_mul(0x0001_0001_0001_0001) >> 48;
            let offsets = (even.wrapping_mul(0x0000_0002_0004_0006) >> 48)
                + (odd.wrapping_mul(0x0001_0003_0005_0007) >> 48);
            sum += total;
            weighted += (n - 8 * index as u64) * total - offsets;
        }
        for (k, &x) in rest.iter().enumerate() {
            sum += u64::from(x);
            weighted += (rest.len() - k) as u64 * u64::from(x);
        }
        self.b = (self.b + n * self.a + weighted) % ADLER_MODULUS;
        self.a = (self.a + sum) % ADLER_MODULUS;
    }

    /// Adds `count` zeros.
    fn zeros(&mut self, count: usize) {
        self.b = (self.b + count as u64 % ADLER_MODULUS * self.a) % ADLER_MODULUS;
    }

    /// Adds a filtered row, all zeros after its filter byte when it
    /// repeats the one above.
    fn row(&mut self, filtered: &[u8], repeat: bool) {
        if repeat {
            self.update(&[UP]);
            self.zeros(filtered.len() - 1);
        } else {
            self.update(filtered);
        }
    }

    /// Adds the `length` bytes whose sums, started from zero, are
    /// `other`'s.
    fn append(&mut self, other: &Adler, length: usize) {
        self.b = (self.b + length as u64 % ADLER_MODULUS * self.a + other.b) % ADLER_MODULUS;
        self.a = (self.a + other.a) % ADLER_MODULUS;
    }

    fn value(&self) -> u32 {
        ((self.b << 16) | self.a) as u32
    }
}

/// Hash chains over the positions searched.
struct Matcher<'a> {
    /// The latest position by hash.
    head: &'a mut [u32],
    /// The position before with the same hash, by position modulo
    /// [`LINKS`]: a link overwritten leads elsewhere, and every
    /// candidate's bytes are checked.
    chain: &'a mut [u32],
}

impl Matcher<'_> {
    /// The longest match for `data[i..]` as (length, distance): at
    /// distance `last`, at `stride` (the row above), or along the chain
    /// of earlier positions that start with the same four bytes, which
    /// `i` then joins. A length under four is no match.
    #[inline]
    fn search(&mut self, data: &[u8], i: usize, last: usize, stride: usize) -> (usize, usize) {
        let (head, chain) = (&mut *self.head, &mut *self.chain);
        let max = MAX_MATCH.min(data.len() - i);
        let here = word32(data, i);
        let mut best = (0, 0);
        for distance in [last, stride] {
            if distance != 0 && distance <= i.min(WINDOW) && word32(data, i - distance) == here {
                let length = SEARCHED + common_prefix(data, i - distance, i, max);
                if length > best.0 {
                    best = (length, distance);
                }
            }
        }
        let hash = (here.wrapping_mul(0x9E37_79B1) >> (32 - HASH_BITS)) as usize;
        let mut candidate = head[hash];
        chain[i % LINKS] = candidate;
        head[hash] = i as u32;
        let mut depth = CHAIN_DEPTH;
        while candidate != NONE && depth > 0 && best.0 < max {
            let earlier = candidate as usize;
            if i - earlier > WINDOW {
                break;
            }
            if word32(data, earlier) == here
                && (best.0 < SEARCHED || data[earlier + best.0] == data[i + best.0])
            {
                let length = SEARCHED + common_prefix(data, earlier, i, max);
                if length > best.0 {
                    best = (length, i - earlier);
                }
            }
            let next = chain[earlier % LINKS];
            if next >= candidate {
                break;
            }
            candidate = next;
            depth -= 1;
        }
        best
    }
}

fn word32(data: &[u8], i: usize) -> u32 {
    let mut word = [0; 4];
    word.copy_from_slice(&data[i..i + 4]);
    u32::from_le_bytes(word)
}

/// How many bytes past their first four the runs of `data` at
/// `earlier` and at `i` share, for a match of at most `max`.
fn common_prefix(data: &[u8], earlier: usize, i: usize, max: usize) -> usize {
    let (a, b) = (&data[earlier + SEARCHED..], &data[i + SEARCHED..i + max]);
    let (words, rest) = b.as_chunks::<8>();
    for (index, word) in words.iter().enumerate() {
        let mut other = [0; 8];
        other.copy_from_slice(&a[index * 8..index * 8 + 8]);
        let diff = u64::from_le_bytes(*word) ^ u64::from_le_bytes(other);
        if diff != 0 {
            return index * 8 + (diff.trailing_zeros() / 8) as usize;
        }
    }
    let done = words.len() * 8;
    done + rest
        .iter()
        .zip(&a[done..])
        .take_while(|(x, y)| x == y)
        .count()
}

/// How many zeros start `data`.
fn zero_run(data: &[u8]) -> usize {
    let (chunks, _) = data.as_chunks::<32>();
    let mut n = 0;
    for chunk in chunks {
        let (words, _) = chunk.as_chunks::<8>();
        if words
            .iter()
            .fold(0, |acc, word| acc | u64::from_le_bytes(*word))
            != 0
        {
            break;
        }
        n += 32;
    }
    let (words, rest) = data[n..].as_chunks::<8>();
    for word in words {
        let word = u64::from_le_bytes(*word);
        if word != 0 {
            return n + (word.trailing_zeros() / 8) as usize;
        }
        n += 8;
    }
    n + rest.iter().take_while(|&&x| x == 0).count()
}

/// Tokens from filtered rows, row by row.
struct Tokenizer<'a> {
    matcher: Matcher<'a>,
    stride: usize,
    /// The next position to tokenize: a match may have taken it past
    /// the start of a row.
    i: usize,
    /// The distance of the last match, zero runs apart.
    last: usize,
}

impl Tokenizer<'_> {
    /// The tokens of row `row` of `data`, which ends with the row after
    /// it when there is one, for matches to run into.
    fn row(&mut self, data: &[u8], row: usize, repeat: bool, tokens: &mut Vec<u32>) {
        let stride = self.stride;
        let end = (row + 1) * stride;
        let mut i = self.i;
        if repeat && i == end - stride {
            tokens.push(u32::from(UP));
            push_zeros(tokens, false, stride - 1);
            self.i = end;
            return;
        }
        // Four bytes to look up at every position searched.
        let searchable = end.min(data.len() + 1 - SEARCHED);
        let mut last = self.last;
        let matcher = &mut self.matcher;
        while i < searchable {
            if data[i] == 0 {
                let zeros = zero_run(&data[i..end]);
                push_zeros(tokens, i > 0 && data[i - 1] == 0, zeros);
                i += zeros;
                continue;
            }
            let (length, distance) = matcher.search(data, i, last, stride);
            if length >= SEARCHED {
                tokens.push(MATCH | (((length - MIN_MATCH) as u32) << 16) | (distance - 1) as u32);
                if distance > 1 {
                    last = distance;
                }
                i += length;
            } else {
                tokens.push(u32::from(data[i]));
                i += 1;
            }
        }
        self.last = last;
        while i < end {
            tokens.push(u32::from(data[i]));
            i += 1;
        }
        self.i = i;
    }
}

/// A run of `count` zeros: copies of the byte before, after a zero
/// literal when that byte is not a zero.
fn push_zeros(tokens: &mut Vec<u32>, after_zero: bool, mut count: usize) {
    if !after_zero {
        tokens.push(0);
        count -= 1;
    }
    while count >= MIN_MATCH {
        // No piece leaves fewer than MIN_MATCH zeros behind.
        let length = if count > MAX_MATCH && count - MAX_MATCH < MIN_MATCH {
            count - MIN_MATCH
        } else {
            count.min(MAX_MATCH)
        };
        tokens.push(MATCH | (((length - MIN_MATCH) as u32) << 16));
        count -= length;
    }
    tokens.extend(std::iter::repeat_n(0, count));
}

const LENGTH_BASE: [u16; 29] = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131,
    163, 195, 227, 258,
];
const LENGTH_EXTRA: [u8; 29] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];
const DISTANCE_BASE: [u16; 30] = [
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
    2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
];
const DISTANCE_EXTRA: [u8; 30] = [
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13,
    13,
];
/// The order a block's header gives the code lengths' code lengths in.
const CODE_LENGTH_ORDER: [usize; 19] = [
    16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
];

/// Deflate's length and distance symbols, by table.
struct Symbols {
    /// By length − 3.
    length: [u8; 256],
    /// A token's first symbol by [`first`]: the literal, or 257 and
    /// its length's symbol.
    first: [u16; 512],
    /// By distance − 1, under 256.
    near: [u8; 256],
    /// By (distance − 1) / 128, from 256 on.
    far: [u8; 256],
}

impl Symbols {
    fn new() -> Symbols {
        let symbol = |bases: &[u16], value: usize| {
            (bases.partition_point(|&base| usize::from(base) <= value) - 1) as u8
        };
        let mut symbols = Symbols {
            length: [0; 256],
            first: [0; 512],
            near: [0; 256],
            far: [0; 256],
        };
        for k in 0..256 {
            symbols.length[k] = symbol(&LENGTH_BASE, k + 3);
            symbols.near[k] = symbol(&DISTANCE_BASE, k + 1);
            symbols.far[k] = symbol(&DISTANCE_BASE, (k << 7) + 1);
            symbols.first[k] = k as u16;
            symbols.first[256 + k] = 257 + u16::from(symbols.length[k]);
        }
        symbols
    }

    /// The symbol of a distance less one.
    fn distance(&self, distance: usize) -> usize {
        usize::from(if distance < 256 {
            self.near[distance]
        } else {
            self.far[(distance >> 7) & 0xff]
        })
    }
}

/// Bits, least significant first, into bytes.
struct Bits {
    out: Vec<u8>,
    buffer: u64,
    count: u32,
}

impl Bits {
    /// The bits of a band of `filtered` bytes: the first band opens
    /// with the zlib header.
    fn for_band(band: &Band, filtered: usize) -> Bits {
        let mut bits = Bits {
            out: Vec::with_capacity(filtered / 32 + 1024),
            buffer: 0,
            count: 0,
        };
        if band.start == 0 {
            // CMF: deflate with a 32 KB window; FLG: fast compression,
            // and the check bits that make the pair a multiple of 31.
            bits.put(0x5e78, 16);
        }
        bits
    }

    /// Appends the `count` low bits of `value`, 32 at most.
    fn put(&mut self, value: u64, count: u32) {
        self.buffer |= value << self.count;
        self.count += count;
        if self.count >= 32 {
            self.out
                .extend_from_slice(&(self.buffer as u32).to_le_bytes());
            self.buffer >>= 32;
            self.count -= 32;
        }
    }

    /// Ends the bytes here, as zlib's sync flush does: an empty stored
    /// block, whose length comes on a byte boundary.
    fn align(&mut self) {
        self.put(0, 3);
        self.put(0, (8 - self.count % 8) % 8);
        self.put(0xffff_0000, 32);
    }

    fn finish(mut self) -> Vec<u8> {
        while self.count > 0 {
            self.out.push(self.buffer as u8);
            self.buffer >>= 8;
            self.count = self.count.saturating_sub(8);
        }
        self.out
    }
}

/// One block: its header, its tokens, its end.
fn write_block(bits: &mut Bits, tokens: &[u32], last: bool, symbols: &Symbols) {
    let mut literals = [0u32; 286];
    // No branch on the token's kind: a literal counts for no distance.
    let mut distances = [0u32; 30];
    for &token in tokens {
        literals[usize::from(symbols.first[first(token)])] += 1;
        distances[symbols.distance((token & 0xffff) as usize)] += token >> 31;
    }
    literals[256] = 1;
    let literal_lengths = code_lengths(&literals, 15);
    let distance_lengths = code_lengths(&distances, 15);
    let literal_codes = codes(&literal_lengths);
    let distance_codes = codes(&distance_lengths);
    bits.put(u64::from(last), 1);
    // Dynamic Huffman codes.
    bits.put(2, 2);
    write_code_lengths(bits, &literal_lengths, &distance_lengths);
    // Each literal's code, each length's code and extra bits, each
    // distance symbol's code, as (bits, count).
    let mut codes = Codes {
        first: [(0, 0); 512],
        distance: [(0, 0); 30],
    };
    for k in 0..256 {
        codes.first[k] = (u64::from(literal_codes[k]), u32::from(literal_lengths[k]));
        let symbol = usize::from(symbols.length[k]);
        let count = u32::from(literal_lengths[257 + symbol]);
        let extra = (k + MIN_MATCH - usize::from(LENGTH_BASE[symbol])) as u64;
        codes.first[256 + k] = (
            u64::from(literal_codes[257 + symbol]) | extra << count,
            count + u32::from(LENGTH_EXTRA[symbol]),
        );
    }
    for symbol in 0..30 {
        codes.distance[symbol] = (
            u64::from(distance_codes[symbol]),
            u32::from(distance_lengths[symbol]),
        );
    }
    write_tokens(bits, tokens, &codes, symbols);
    bits.put(
        u64::from(literal_codes[256]),
        u32::from(literal_lengths[256]),
    );
}

/// A block's codes, ready to write: (bits, count).
struct Codes {
    /// By [`first`]: literals, then lengths with their extra bits.
    first: [(u64, u32); 512],
    distance: [(u64, u32); 30],
}

/// Where a token's first code is: its byte for a literal, 256 and its
/// length less three for a match.
fn first(token: u32) -> usize {
    (((token >> 23) & 0x100) | ((token >> (16 * (token >> 31))) & 0xff)) as usize
}

/// The tokens' codes, the bit buffer held in locals (registers) for
/// the whole loop, and written out eight bytes at a time whatever it
/// holds, then moved on by its whole bytes: no branch to mispredict.
fn write_tokens(bits: &mut Bits, tokens: &[u32], codes: &Codes, symbols: &Symbols) {
    let (mut buffer, mut count) = (bits.buffer, bits.count);
    let out = &mut bits.out;
    let mut end = out.len();
    // At most 48 bits a token, and 8 bytes of room for the last write.
    out.resize(end + tokens.len() * 6 + 16, 0);
    for &token in tokens {
        let (code, bits) = codes.first[first(token)];
        // A literal's distance part is written with no bits.
        let matched = u64::from(token >> 31);
        let distance = (token & 0xffff) as usize;
        let symbol = symbols.distance(distance);
        let (far, far_code_bits) = codes.distance[symbol];
        let extra = (distance + 1 - usize::from(DISTANCE_BASE[symbol])) as u64;
        let far_bits = (far_code_bits + u32::from(DISTANCE_EXTRA[symbol])) * matched as u32;
        // The whole token at once: 20 bits for its first code and
        // extra bits, 28 for its distance, on fewer than 8 waiting.
        let value = code | ((far | extra << far_code_bits) * matched) << bits;
        buffer |= value << count;
        count += bits + far_bits;
        out[end..end + 8].copy_from_slice(&buffer.to_le_bytes());
        let bytes = count / 8;
        end += bytes as usize;
        buffer = buffer.checked_shr(bytes * 8).unwrap_or(0);
        count -= bytes * 8;
    }
    out.truncate(end);
    (bits.buffer, bits.count) = (buffer, count);
}

/// A dynamic block's header: how many codes of each kind, then their
/// lengths, run-length coded with a Huffman code of their own.
fn write_code_lengths(bits: &mut Bits, literal_lengths: &[u8], distance_lengths: &[u8]) {
    let used = |lengths: &[u8], least: usize| {
        lengths
            .iter()
            .rposition(|&l| l > 0)
            .map_or(least, |p| (p + 1).max(least))
    };
    let literal_count = used(literal_lengths, 257);
    let distance_count = used(distance_lengths, 1);
    let lengths: Vec<u8> = literal_lengths[..literal_count]
        .iter()
        .chain(&distance_lengths[..distance_count])
        .copied()
        .collect();
    let runs = length_runs(&lengths);
    let mut frequencies = [0u32; 19];
    for &(symbol, _) in &runs {
        frequencies[usize::from(symbol)] += 1;
    }
    let run_lengths = code_lengths(&frequencies, 7);
    let run_codes = codes(&run_lengths);
    let written = CODE_LENGTH_ORDER
        .iter()
        .rposition(|&s| run_lengths[s] > 0)
        .map_or(4, |p| (p + 1).max(4));
    bits.put((literal_count - 257) as u64, 5);
    bits.put((distance_count - 1) as u64, 5);
    bits.put((written - 4) as u64, 4);
    for &symbol in &CODE_LENGTH_ORDER[..written] {
        bits.put(u64::from(run_lengths[symbol]), 3);
    }
    for (symbol, extra) in runs {
        let symbol = usize::from(symbol);
        bits.put(u64::from(run_codes[symbol]), u32::from(run_lengths[symbol]));
        let extra_bits = match symbol {
            16 => 2,
            17 => 3,
            18 => 7,
            _ => 0,
        };
        bits.put(u64::from(extra), extra_bits);
    }
}

/// Code lengths as deflate's (symbol, extra bits): a length as itself,
/// 16 for 3 to 6 more of the length before, 17 and 18 for 3 to 10 and
/// 11 to 138 zeros.
fn length_runs(lengths: &[u8]) -> Vec<(u8, u8)> {
    let mut runs = Vec::with_capacity(lengths.len());
    let mut i = 0;
    while i < lengths.len() {
        let length = lengths[i];
        let run = lengths[i..].iter().take_while(|&&l| l == length).count();
        if length == 0 && run >= 11 {
            let run = run.min(138);
            runs.push((18, (run - 11) as u8));
            i += run;
        } else if length == 0 && run >= 3 {
            runs.push((17, (run - 3) as u8));
            i += run;
        } else if run >= 4 {
            let repeat = (run - 1).min(6);
            runs.extend([(length, 0), (16, (repeat - 3) as u8)]);
            i += 1 + repeat;
        } else {
            runs.push((length, 0));
            i += 1;
        }
    }
    runs
}

/// Huffman code lengths for `frequencies`, none over `limit`: two
/// symbols at least get a code, which every decoder takes as complete,
/// and the frequencies are halved until the longest code fits.
fn code_lengths(frequencies: &[u32], limit: u8) -> Vec<u8> {
    let mut frequencies = frequencies.to_vec();
    for _ in frequencies.iter().filter(|&&f| f > 0).count()..2 {
        if let Some(unused) = frequencies.iter_mut().find(|f| **f == 0) {
            *unused = 1;
        }
    }
    loop {
        let lengths = huffman(&frequencies);
        if lengths.iter().all(|&l| l <= limit) {
            return lengths;
        }
        for f in frequencies.iter_mut().filter(|f| **f > 0) {
            *f = (*f / 2).max(1);
        }
    }
}

/// Huffman code lengths, unbounded: the leaves sorted by frequency and
/// the inner nodes, made in order of weight, merged as two queues.
fn huffman(frequencies: &[u32]) -> Vec<u8> {
    let mut leaves: Vec<(u32, usize)> = frequencies
        .iter()
        .enumerate()
        .filter(|(_, f)| **f > 0)
        .map(|(symbol, f)| (*f, symbol))
        .collect();
    leaves.sort_unstable();
    let n = leaves.len();
    let mut weights: Vec<u64> = leaves.iter().map(|&(f, _)| u64::from(f)).collect();
    let mut parents = vec![0; 2 * n];
    let (mut leaf, mut inner) = (0, n);
    for _ in 1..n {
        let mut pair = [0; 2];
        for slot in &mut pair {
            let take_leaf = leaf < n && (inner >= weights.len() || weights[leaf] <= weights[inner]);
            if take_leaf {
                *slot = leaf;
                leaf += 1;
            } else {
                *slot = inner;
                inner += 1;
            }
        }
        parents[pair[0]] = weights.len();
        parents[pair[1]] = weights.len();
        weights.push(weights[pair[0]] + weights[pair[1]]);
    }
    let mut depths = vec![0u8; weights.len()];
    for node in (0..weights.len().saturating_sub(1)).rev() {
        depths[node] = depths[parents[node]] + 1;
    }
    let mut lengths = vec![0; frequencies.len()];
    for (index, &(_, symbol)) in leaves.iter().enumerate() {
        lengths[symbol] = depths[index];
    }
    lengths
}

/// The canonical codes of `lengths`, bit-reversed as deflate writes
/// them.
fn codes(lengths: &[u8]) -> Vec<u32> {
    let mut counts = [0u32; 16];
    for &length in lengths {
        counts[usize::from(length)] += 1;
    }
    counts[0] = 0;
    let mut next = [0u32; 16];
    for bits in 1..16 {
        next[bits] = (next[bits - 1] + counts[bits - 1]) << 1;
    }
    lengths
        .iter()
        .map(|&length| {
            if length == 0 {
                return 0;
            }
            let code = next[usize::from(length)];
            next[usize::from(length)] += 1;
            code.reverse_bits() >> (32 - u32::from(length))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Adler-32 as RFC 1950 gives it.
    fn plain_adler(bytes: &[u8]) -> u32 {
        let (mut a, mut b) = (1u32, 0u32);
        for &x in bytes {
            a = (a + u32::from(x)) % 65_521;
            b = (b + a) % 65_521;
        }
        (b << 16) | a
    }

    #[test]
    fn the_checksum_is_adler_32() {
        let mut state = 7u32;
        let mut bytes: Vec<u8> = (0..70_001)
            .map(|k| {
                state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                if k % 50 < 30 { 0 } else { (state >> 16) as u8 }
            })
            .collect();
        bytes[69_990..].fill(255);
        let mut adler = Adler { a: 1, b: 0 };
        for row in bytes.chunks(3_241) {
            adler.update(row);
        }
        adler.zeros(100_000);
        adler.update(&[9, 0, 255]);
        let mut all = bytes.clone();
        all.extend(std::iter::repeat_n(0, 100_000));
        all.extend([9, 0, 255]);
        assert_eq!(adler.value(), plain_adler(&all));
    }

    #[test]
    fn the_sums_of_two_parts_add_up_to_the_whole_checksum() {
        let bytes: Vec<u8> = (0..100_000u32).map(|k| (k * 7_919 % 251) as u8).collect();
        let (left, right) = bytes.split_at(37_777);
        let mut first = Adler { a: 1, b: 0 };
        first.update(left);
        let mut second = Adler { a: 0, b: 0 };
        second.row(&right[..30_001], false);
        second.update(&right[30_001..]);
        first.append(&second, right.len());
        assert_eq!(first.value(), plain_adler(&bytes));
    }

    #[test]
    fn codes_fit_their_limit_and_are_complete() {
        // Fibonacci frequencies make the deepest unbounded codes.
        let mut frequencies = vec![0u32; 30];
        let (mut a, mut b) = (1u32, 1u32);
        for f in frequencies.iter_mut().skip(3) {
            *f = a;
            (a, b) = (b, a + b);
        }
        for limit in [7, 15] {
            let lengths = code_lengths(&frequencies, limit);
            assert!(lengths.iter().all(|&l| l <= limit));
            let kraft: f64 = lengths
                .iter()
                .filter(|&&l| l > 0)
                .map(|&l| 0.5f64.powi(l.into()))
                .sum();
            assert!((kraft - 1.0).abs() < 1e-9, "{lengths:?}");
        }
        assert_eq!(code_lengths(&[0, 0, 5], 15), vec![1, 0, 1]);
    }
}
