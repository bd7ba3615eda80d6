//! Deflate for the image data of flat graphics.
//!
//! Filtered, a card is mostly zeros: rows that repeat the one above, and
//! runs between the edges of text and shapes. fdeflate codes those runs
//! well but every other byte with one fixed code; zlib also finds the
//! repeats between glyphs and between rows, but walks every zero to do
//! so. This encoder skips the zeros (runs at distance one, repeated rows
//! whole), looks for matches only where the residues are not zero — the
//! last distance, the row above and a hash chain of bounded depth — and
//! within a run of literals only a pixel apart, and writes blocks with
//! Huffman codes of their own. A large image is cut in strips of rows,
//! compressed on every core; a batch of cards keeps the strips it has
//! compressed ([`Strips`]), and a strip whose rows come again — the
//! background, the logo and the footer of a template — is copied, not
//! compressed again.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rayon::prelude::*;

/// Deflate's longest and shortest matches, and its window.
const MAX_MATCH: usize = 258;
const MIN_MATCH: usize = 3;
const WINDOW: usize = 32_768;
/// Matches are looked up by their first four bytes.
const SEARCHED: usize = 4;
/// Hash slots, as a power of two.
const HASH_BITS: u32 = 12;
/// The bits of a head slot that tag the hash of the word last seen
/// there, above the 20 bits of its position.
const TAG: u32 = 0xfff0_0000;
/// Earlier positions tried from the hash chain: the steps of a
/// gradient differ only by what follows them, and sixteen tries find
/// the one that goes on longest. The chain is walked only when the
/// latest position under the hash starts with the same bytes.
const CHAIN_DEPTH: usize = 16;
/// Chain links kept, by position modulo this: a quarter of the window
/// fits the first-level cache and loses a match in two thousand.
const LINKS: usize = 8_192;
/// Tokens per deflate block, each with Huffman codes of its own: fewer
/// fit the codes closer to the text at hand, more cost fewer headers.
const BLOCK_TOKENS: usize = 16_384;
/// A token holds, from its low bits, the index of its first code (9
/// bits: a literal byte, or 256 and its length less three), its
/// distance's symbol (5 bits, [`NO_DISTANCE`] for a literal) and that
/// distance's extra bits.
const DISTANCE_SHIFT: u32 = 9;
const EXTRA_SHIFT: u32 = 14;
/// The distance symbol of a literal, written with no bits.
const NO_DISTANCE: u32 = 31;
const ADLER_MODULUS: u64 = 65_521;
/// The filter bytes of `Sub` and `Up` rows.
const SUB: u8 = 1;
const UP: u8 = 2;

/// The rows of a strip, about this many bytes: a card is cut in seven
/// to nine, enough for two threads to share and for the rows a template
/// repeats to fill whole strips, few enough that the blocks and flushes
/// they add cost less than their codes fitted to fewer rows save.
const STRIP_BYTES: usize = 1 << 19;
/// The compressed bytes [`Strips`] keeps before making room: the strips
/// of a few hundred cards.
const KEPT_BYTES: usize = 32 << 20;

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
    tokens: Tokens,
    /// By hash, the latest position, modulo 2²⁰, under a tag of its
    /// word's hash.
    head: Vec<u32>,
    /// By position modulo [`LINKS`], how far back the position before
    /// with the same hash is.
    chain: Vec<u16>,
}

thread_local! {
    /// A thread's buffers, for the last two strips it was given.
    static SCRATCH: RefCell<Vec<Scratch>> = const { RefCell::new(Vec::new()) };
}

/// Buffers kept by a thread.
const KEPT: usize = 2;

/// Runs `f` with this thread's buffers last used for the band whose
/// rows are `stride` bytes once filtered and start at image row
/// `first`, whose zero rows may still hold, or else its least recently
/// used ones.
fn with_scratch<T>(stride: usize, first: usize, f: impl FnOnce(&mut Scratch) -> T) -> T {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut kept) => {
            let index = kept.iter().position(|s| s.origin == (stride, first));
            let mut scratch = match index {
                Some(index) => kept.remove(index),
                None if kept.len() < KEPT => Scratch::default(),
                None => kept.remove(0),
            };
            let result = f(&mut scratch);
            kept.push(scratch);
            result
        }
        Err(_) => f(&mut Scratch::default()),
    })
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
        self.head.resize(1 << HASH_BITS, 0);
        self.chain.clear();
        self.chain.resize(LINKS, 0);
    }
}

/// Rows `start..end` of an image, compressed on their own after `warm`
/// rows before them that are filtered and searched again but not
/// written: matches reach back into them as in one pass, since the
/// decoder has them in its window.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct Band {
    start: usize,
    end: usize,
    warm: usize,
}

impl Band {
    /// The image rows its bytes depend on: the warm rows, and the row
    /// above them that the first is filtered against.
    fn source(&self) -> std::ops::Range<usize> {
        (self.start - self.warm).saturating_sub(1)..self.end
    }
}

/// A band's deflate blocks, byte-aligned (the last band's end the
/// stream), and the Adler-32 sums of its bytes.
struct Compressed {
    deflate: Vec<u8>,
    adler: Adler,
    length: usize,
}

/// Strips compressed for earlier images, to be copied into later ones
/// whose rows are the same: what a batch of cards of the same templates
/// shares. A strip's bytes depend on its rows alone, so an image comes
/// out the same whether its strips are compressed or copied.
#[derive(Default)]
pub struct Strips {
    kept: Mutex<Kept>,
}

#[derive(Default)]
struct Kept {
    /// Each strip, and whether it was copied since the last sweep.
    strips: HashMap<Place, (Arc<Compressed>, bool)>,
    bytes: usize,
    /// How many strips were copied rather than compressed.
    copied: usize,
}

impl Kept {
    /// Makes room: the strips copied since the last sweep stay (a
    /// template's own), up to half the room, and the others go.
    fn sweep(&mut self) {
        let mut bytes = 0;
        self.strips.retain(|_, (strip, copied)| {
            let stays = std::mem::take(copied) && bytes + strip.deflate.len() <= KEPT_BYTES / 2;
            if stays {
                bytes += strip.deflate.len();
            }
            stays
        });
        self.bytes = bytes;
    }
}

/// Where a strip was met: its image's shape (row length, samples,
/// rows), its band, and the XXH3-128 hash of the rows it is compressed
/// from.
pub(super) type Place = ((usize, usize, usize), Band, u128);

/// An earlier image of the same size: where its strips were kept, in
/// order, and the rows where the image at hand differs from it. A strip
/// whose rows all lie elsewhere is found at the earlier one's place,
/// without reading its rows to hash them.
pub(super) struct Earlier<'a> {
    pub places: &'a [Place],
    pub differing: &'a [std::ops::Range<usize>],
}

impl Strips {
    /// Where `band` of `pixels` is kept.
    fn place(pixels: &[u8], shape: (usize, usize, usize), band: Band) -> Place {
        let source = band.source();
        Strips::place_of(
            &pixels[source.start * shape.0..source.end * shape.0],
            shape,
            band,
        )
    }

    /// Where `band` is kept, `rows` being its source rows.
    fn place_of(rows: &[u8], shape: (usize, usize, usize), band: Band) -> Place {
        (shape, band, twox_hash::XxHash3_128::oneshot(rows))
    }

    /// The strip compressed at `place`, if any.
    fn find(&self, place: &Place) -> Option<Arc<Compressed>> {
        let mut kept = self.kept.lock().ok()?;
        let (found, copied) = kept.strips.get_mut(place)?;
        *copied = true;
        let found = found.clone();
        kept.copied += 1;
        Some(found)
    }

    /// How many strips were copied from earlier images.
    pub fn copied(&self) -> usize {
        self.kept.lock().map_or(0, |kept| kept.copied)
    }

    /// Keeps `compressed` at `place` for the images to come.
    fn keep(&self, place: Place, mut compressed: Compressed) -> Arc<Compressed> {
        compressed.deflate.shrink_to_fit();
        let compressed = Arc::new(compressed);
        if let Ok(mut kept) = self.kept.lock() {
            let size = compressed.deflate.len();
            if kept.bytes + size > KEPT_BYTES {
                kept.sweep();
            }
            kept.bytes += size;
            kept.strips.insert(place, (compressed.clone(), false));
        }
        compressed
    }
}

/// The zlib stream of an image's filtered rows (`row_len` bytes each,
/// `samples` bytes a pixel), or `None` when the image is too busy for
/// this encoder — a photograph — and fdeflate does better.
///
/// The image is cut in strips of about [`STRIP_BYTES`], compressed on
/// every core and joined: where the cuts fall depends on the image's
/// size alone, so the bytes depend neither on the threads nor on the
/// strips `kept` from earlier images.
pub(super) fn zlib(
    pixels: &[u8],
    row_len: usize,
    samples: usize,
    kept: Option<&Strips>,
) -> Option<Vec<u8>> {
    if row_len < SEARCHED || samples == 0 || samples > row_len || pixels.len() < row_len {
        return None;
    }
    let rows = pixels.len() / row_len;
    let shape = (row_len, samples, rows);
    let height = (STRIP_BYTES / row_len).max(1);
    let strip = |start: usize| -> Option<Arc<Compressed>> {
        let end = (start + height).min(rows);
        let warm = start.min(WINDOW.div_ceil(row_len + 1));
        let band = Band { start, end, warm };
        let compress = || {
            with_scratch(row_len + 1, start - warm, |scratch| {
                let whole = Rows {
                    pixels,
                    offset: 0,
                    total: rows,
                };
                compress(whole, row_len, samples, &band, scratch)
            })
        };
        let Some(kept) = kept else {
            return compress().map(Arc::new);
        };
        let place = Strips::place(pixels, shape, band);
        match kept.find(&place) {
            Some(found) => Some(found),
            None => Some(kept.keep(place, compress()?)),
        }
    };
    let starts: Vec<usize> = (0..rows).step_by(height).collect();
    let strips: Vec<Arc<Compressed>> = if starts.len() == 1 {
        vec![strip(0)?]
    } else {
        starts.into_par_iter().map(strip).collect::<Option<_>>()?
    };
    Some(joined(&strips))
}

/// The zlib stream of strips compressed in order.
fn joined(strips: &[Arc<Compressed>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(strips.iter().map(|s| s.deflate.len()).sum::<usize>() + 4);
    let mut adler = Adler { a: 1, b: 0 };
    for strip in strips {
        out.extend_from_slice(&strip.deflate);
        adler.append(&strip.adler, strip.length);
    }
    out.extend_from_slice(&adler.value().to_be_bytes());
    out
}

/// Rows of an image: `pixels` holds its rows from row `offset` on, of
/// `total` in all.
#[derive(Clone, Copy)]
struct Rows<'a> {
    pixels: &'a [u8],
    offset: usize,
    total: usize,
}

thread_local! {
    /// The rows of the strip a thread draws, reused from strip to strip:
    /// a strip fits the core's cache, where a whole card does not.
    static DRAWN: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// [`zlib`] for an image drawn a strip at a time: `draw(rows,
/// bytes)` writes the image's rows `rows` into `bytes`. A strip that
/// `earlier` shares is found at its place and not drawn at all; the
/// others are drawn, then compressed or found, while their rows are in
/// cache. The bytes are those of the whole image compressed at once.
pub(super) fn zlib_drawn(
    (row_len, samples, rows): (usize, usize, usize),
    kept: &Strips,
    earlier: Option<Earlier<'_>>,
    draw: &dyn Fn(std::ops::Range<usize>, &mut [u8]),
) -> Option<(Vec<u8>, Vec<Place>)> {
    if row_len < SEARCHED || samples == 0 || samples > row_len || rows == 0 {
        return None;
    }
    let shape = (row_len, samples, rows);
    let height = (STRIP_BYTES / row_len).max(1);
    let strip = |index: usize, start: usize| -> Option<(Place, Arc<Compressed>)> {
        let end = (start + height).min(rows);
        let warm = start.min(WINDOW.div_ceil(row_len + 1));
        let band = Band { start, end, warm };
        let source = band.source();
        let shared = earlier.as_ref().and_then(|earlier| {
            let place = earlier.places.get(index)?;
            let apart = earlier
                .differing
                .iter()
                .all(|rows| rows.end <= source.start || rows.start >= source.end);
            (apart && place.0 == shape && place.1 == band).then_some(*place)
        });
        if let Some(found) = shared.and_then(|place| Some((place, kept.find(&place)?))) {
            return Some(found);
        }
        let mut fresh = Vec::new();
        DRAWN.with(|cell| {
            let mut kept_rows = cell.try_borrow_mut();
            let bytes = match kept_rows.as_deref_mut() {
                Ok(bytes) => bytes,
                Err(_) => &mut fresh,
            };
            // `draw` writes every byte: no need to clear them first.
            bytes.resize(source.len() * row_len, 0);
            draw(source.clone(), bytes);
            let place = Strips::place_of(bytes, shape, band);
            if let Some(found) = kept.find(&place) {
                return Some((place, found));
            }
            let drawn = Rows {
                pixels: bytes,
                offset: source.start,
                total: rows,
            };
            let compressed = with_scratch(row_len + 1, start - warm, |scratch| {
                compress(drawn, row_len, samples, &band, scratch)
            })?;
            Some((place, kept.keep(place, compressed)))
        })
    };
    let (places, strips): (Vec<Place>, Vec<Arc<Compressed>>) = (0..rows)
        .step_by(height)
        .enumerate()
        .map(|(index, start)| strip(index, start))
        .collect::<Option<Vec<_>>>()?
        .into_iter()
        .unzip();
    Some((joined(&strips), places))
}

/// Filters, tokenizes and writes a band's rows in one pass, each row
/// while it is still in cache: a row is tokenized once the next one is
/// filtered, as its matches may run into it, and a block is written
/// whenever enough tokens are waiting.
fn compress(
    rows_of: Rows<'_>,
    row_len: usize,
    samples: usize,
    band: &Band,
    scratch: &mut Scratch,
) -> Option<Compressed> {
    let Rows {
        pixels,
        offset,
        total,
    } = rows_of;
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
    let symbols = Symbols::new();
    let mut tokenizer = Tokenizer {
        matcher: Matcher { head, chain },
        symbols: &symbols,
        stride,
        samples,
        i: 0,
        last: 0,
    };
    let mut bits = Bits::for_band(band, data.len());
    // Every band's sums start at zero, to be added to those before.
    let mut adler = Adler { a: 0, b: 0 };
    // More than a token for eight bytes is a picture, not flat colour.
    let budget = (rows - band.warm) * stride / 8 + 1024;
    let mut written = 0;
    let mut waiting: Option<bool> = None;
    let mut above = first
        .checked_sub(1)
        .map(|row| &pixels[(row - offset) * row_len..][..row_len]);
    let band_rows =
        pixels[(first - offset) * row_len..(band.end - offset) * row_len].chunks_exact(row_len);
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
    let last = band.end == total;
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
fn write_full(bits: &mut Bits, tokens: &mut Tokens, symbols: &Symbols) -> usize {
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
            let (ups, subs) = up_counting(row, above, samples, residues);
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

/// Writes the residues of `Up` (each byte less the one above) and
/// counts those that are not zero, and alongside those of `Sub` (each
/// byte less the one a pixel before): one pass over the row.
fn up_counting(row: &[u8], above: &[u8], samples: usize, out: &mut [u8]) -> (usize, usize) {
    let (mut ups, mut subs) = (0, 0);
    // The first pixel's `Sub` residues are its bytes.
    for ((out, &byte), &above) in out[..samples].iter_mut().zip(row).zip(above) {
        *out = byte.wrapping_sub(above);
        ups += usize::from(*out != 0);
        subs += usize::from(byte != 0);
    }
    let (out, row, left, above) = (
        &mut out[samples..],
        &row[samples..],
        &row[..row.len() - samples],
        &above[samples..row.len()],
    );
    // 64 bytes at a time, counted on a byte, which vectorizes.
    let (out_chunks, out_rest) = out.as_chunks_mut::<64>();
    let (row_chunks, row_rest) = row.as_chunks::<64>();
    let (left_chunks, left_rest) = left.as_chunks::<64>();
    let (above_chunks, above_rest) = above.as_chunks::<64>();
    let chunks = out_chunks
        .iter_mut()
        .zip(row_chunks)
        .zip(left_chunks)
        .zip(above_chunks);
    for (((out, row), left), above) in chunks {
        let (mut up, mut sub) = (0u8, 0u8);
        for k in 0..64 {
            out[k] = row[k].wrapping_sub(above[k]);
            up += u8::from(out[k] != 0);
            sub += u8::from(row[k] != left[k]);
        }
        ups += usize::from(up);
        subs += usize::from(sub);
    }
    let rest = out_rest
        .iter_mut()
        .zip(row_rest)
        .zip(left_rest)
        .zip(above_rest);
    for (((out, &byte), &left), &above) in rest {
        *out = byte.wrapping_sub(above);
        ups += usize::from(*out != 0);
        subs += usize::from(byte != left);
    }
    (ups, subs)
}

/// Residues of `Sub`: each byte less the one a pixel before.
fn sub(row: &[u8], samples: usize, out: &mut [u8]) {
    let (first, rest) = out.split_at_mut(samples);
    first.copy_from_slice(&row[..samples]);
    for ((out, byte), left) in rest.iter_mut().zip(&row[samples..]).zip(row) {
        *out = byte.wrapping_sub(*left);
    }
}

/// The sum of a word's eight bytes, and the sum of each times its
/// index, computed on 16-bit lanes.
fn word_sums(word: u64) -> (u64, u64) {
    // Bytes 0, 2, 4, 6 and 1, 3, 5, 7 of a word, on 16 bits each.
    const LANES: u64 = 0x00ff_00ff_00ff_00ff;
    let (even, odd) = (word & LANES, (word >> 8) & LANES);
    // A product's top lane sums the lanes weighted by the multiplier's
    // lanes in reverse; no lane carries.
    let total = (even + odd).wrapping_mul(0x0001_0001_0001_0001) >> 48;
    let offsets = (even.wrapping_mul(0x0000_0002_0004_0006) >> 48)
        + (odd.wrapping_mul(0x0001_0003_0005_0007) >> 48);
    (total, offsets)
}

/// Adler-32, kept on 64 bits and reduced once per row.
struct Adler {
    a: u64,
    b: u64,
}

impl Adler {
    /// Adds `bytes`: `b` gains `n·a + Σ (n − k)·x_k` and `a` gains
    /// `Σ x_k`, taken eight bytes at a time, and 32 bytes of zeros
    /// cost one test.
    fn update(&mut self, bytes: &[u8]) {
        let n = bytes.len() as u64;
        let (mut sum, mut weighted) = (0u64, 0u64);
        let (chunks, rest) = bytes.as_chunks::<32>();
        for (index, chunk) in chunks.iter().enumerate() {
            let (words, _) = chunk.as_chunks::<8>();
            let words: [u64; 4] = std::array::from_fn(|k| u64::from_le_bytes(words[k]));
            if words.iter().fold(0, |any, word| any | word) == 0 {
                continue;
            }
            for (k, &word) in words.iter().enumerate() {
                let (total, offsets) = word_sums(word);
                sum += total;
                weighted += (n - 32 * index as u64 - 8 * k as u64) * total - offsets;
            }
        }
        let done = bytes.len() - rest.len();
        for (k, &x) in rest.iter().enumerate() {
            sum += u64::from(x);
            weighted += (n - (done + k) as u64) * u64::from(x);
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

/// Hash chains over the positions searched, small enough for the
/// first-level cache: a slot holds the latest position modulo 2²⁰ and a
/// tag of its word's hash, which turns most searches away with no
/// chain to walk; a link holds how far back the position before with
/// the same hash is, on 16 bits. A link overwritten or a slot left from
/// long before leads to some other earlier position, and every
/// candidate's bytes are checked.
struct Matcher<'a> {
    head: &'a mut [u32],
    chain: &'a mut [u16],
}

impl Matcher<'_> {
    /// The longest match for `data[i..]`, which starts with the four
    /// bytes `here`, as (length, distance): `best` (a length under four
    /// is no match) or one along the chain of earlier positions that
    /// start with the same bytes, which `i` then joins; of `max` bytes
    /// at most.
    #[inline]
    fn search(
        &mut self,
        data: &[u8],
        i: usize,
        here: u32,
        max: usize,
        mut best: (usize, usize),
    ) -> (usize, usize) {
        let hash = u64::from(here).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let slot = (hash >> (64 - HASH_BITS)) as usize;
        let tag = (hash >> (32 - HASH_BITS)) as u32 & TAG;
        let latest = self.head[slot];
        self.head[slot] = tag | (i as u32 & !TAG);
        let mut distance = (i as u32).wrapping_sub(latest) as usize & !TAG as usize;
        // Only steps within the window are kept.
        self.chain[i % LINKS] = if distance <= WINDOW {
            distance as u16
        } else {
            0
        };
        // Another word last seen under this hash: almost always no match.
        if latest & TAG != tag {
            return best;
        }
        let reach = i.min(WINDOW);
        let mut depth = CHAIN_DEPTH;
        while distance != 0 && distance <= reach && depth > 0 && best.0 < max {
            let earlier = i - distance;
            if word32(data, earlier) == here
                && (best.0 < SEARCHED || data[earlier + best.0] == data[i + best.0])
            {
                let length = SEARCHED + common_prefix(data, earlier, i, max);
                if length > best.0 {
                    best = (length, distance);
                }
            }
            let step = usize::from(self.chain[earlier % LINKS]);
            if step == 0 {
                break;
            }
            distance += step;
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
    // Most runs end within eight bytes.
    if let Some(word) = data.first_chunk::<8>() {
        let word = u64::from_le_bytes(*word);
        if word != 0 {
            return (word.trailing_zeros() / 8) as usize;
        }
    }
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
    symbols: &'a Symbols,
    stride: usize,
    /// Bytes a pixel.
    samples: usize,
    /// The next position to tokenize: a match may have taken it past
    /// the start of a row.
    i: usize,
    /// The distance of the last match, zero runs apart.
    last: usize,
}

impl Tokenizer<'_> {
    /// The tokens of row `row` of `data`, which ends with the row after
    /// it when there is one, for matches to run into.
    fn row(&mut self, data: &[u8], row: usize, repeat: bool, tokens: &mut Tokens) {
        let stride = self.stride;
        let end = (row + 1) * stride;
        let mut i = self.i;
        if repeat && i == end - stride {
            tokens.literal(UP);
            tokens.zeros(false, stride - 1);
            self.i = end;
            return;
        }
        // Four bytes to look up at every position searched.
        let searchable = end.min(data.len() + 1 - SEARCHED);
        let mut last = self.last;
        // The row above, when the window reaches it.
        let above = if stride <= WINDOW { stride } else { 0 };
        while i < searchable {
            let here = word32(data, i);
            if here & 0xff == 0 {
                let zeros = zero_run(&data[i..end]);
                tokens.zeros(i > 0 && data[i - 1] == 0, zeros);
                i += zeros;
                continue;
            }
            let max = MAX_MATCH.min(data.len() - i);
            let mut best = (0, 0);
            if last != 0 && last <= i && word32(data, i - last) == here {
                best = (SEARCHED + common_prefix(data, i - last, i, max), last);
            }
            if above != 0 && above != last && above <= i && word32(data, i - above) == here {
                let length = SEARCHED + common_prefix(data, i - above, i, max);
                if length > best.0 {
                    best = (length, above);
                }
            }
            let (length, distance) = self.matcher.search(data, i, here, max, best);
            if length >= SEARCHED {
                tokens.copy(length, distance, self.symbols);
                if distance > 1 {
                    last = distance;
                }
                i += length;
            } else {
                // Within a run of literals, matches are looked for a
                // pixel apart: the residues of the edges of shapes and
                // glyphs repeat whole pixels, and the positions between
                // only crowd the hash chains.
                let next = (i + self.samples).min(searchable);
                tokens.literal(data[i]);
                i += 1;
                while i < next && data[i] != 0 {
                    tokens.literal(data[i]);
                    i += 1;
                }
            }
        }
        self.last = last;
        while i < end {
            tokens.literal(data[i]);
            i += 1;
        }
        self.i = i;
    }
}

/// The tokens waiting to be written as a block, with the counts of
/// their symbols.
struct Tokens {
    list: Vec<u32>,
    /// By a token's first code: literals, then lengths less three.
    first: [u32; 512],
    /// By distance symbol, in as many slots as a token's five bits
    /// reach.
    distance: [u32; 32],
}

impl Default for Tokens {
    fn default() -> Tokens {
        Tokens {
            list: Vec::new(),
            first: [0; 512],
            distance: [0; 32],
        }
    }
}

impl Tokens {
    /// How many tokens wait.
    fn len(&self) -> usize {
        self.list.len()
    }

    /// No token waiting, no symbol counted.
    fn clear(&mut self) {
        self.list.clear();
        self.first = [0; 512];
        self.distance = [0; 32];
    }

    /// A literal byte.
    #[inline]
    fn literal(&mut self, byte: u8) {
        self.list
            .push(u32::from(byte) | NO_DISTANCE << DISTANCE_SHIFT);
        self.first[usize::from(byte)] += 1;
    }

    /// A match of `length` bytes at `distance`.
    #[inline]
    fn copy(&mut self, length: usize, distance: usize, symbols: &Symbols) {
        let symbol = symbols.distance(distance - 1);
        let extra = distance - usize::from(DISTANCE_BASE[symbol]);
        let first = 256 + length - MIN_MATCH;
        self.list
            .push((first | symbol << DISTANCE_SHIFT | extra << EXTRA_SHIFT) as u32);
        self.first[first] += 1;
        self.distance[symbol] += 1;
    }

    /// A run of `count` zeros: copies of the byte before, after a zero
    /// literal when that byte is not a zero.
    #[inline]
    fn zeros(&mut self, after_zero: bool, mut count: usize) {
        if !after_zero {
            self.literal(0);
            count -= 1;
        }
        if (MIN_MATCH..=MAX_MATCH).contains(&count) {
            self.zero_copy(count);
        } else {
            self.long_zeros(count);
        }
    }

    /// A copy of `length` zeros, at distance one: symbol zero, no
    /// extra bits.
    #[inline]
    fn zero_copy(&mut self, length: usize) {
        self.list.push((256 + length - MIN_MATCH) as u32);
        self.first[256 + length - MIN_MATCH] += 1;
        self.distance[0] += 1;
    }

    /// A run of zeros too short or too long for one copy.
    fn long_zeros(&mut self, mut count: usize) {
        // Whole copies of the longest length first, counted at once,
        // as long as at least MIN_MATCH zeros remain after them.
        if count >= MAX_MATCH + MIN_MATCH {
            let whole = (count - MIN_MATCH) / MAX_MATCH;
            let token = 256 + MAX_MATCH - MIN_MATCH;
            self.list.extend(std::iter::repeat_n(token as u32, whole));
            self.first[token] += whole as u32;
            self.distance[0] += whole as u32;
            count -= whole * MAX_MATCH;
        }
        while count >= MIN_MATCH {
            // No piece leaves fewer than MIN_MATCH zeros behind.
            let length = if count > MAX_MATCH && count - MAX_MATCH < MIN_MATCH {
                count - MIN_MATCH
            } else {
                count.min(MAX_MATCH)
            };
            self.zero_copy(length);
            count -= length;
        }
        for _ in 0..count {
            self.literal(0);
        }
    }
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
            near: [0; 256],
            far: [0; 256],
        };
        for k in 0..256 {
            symbols.length[k] = symbol(&LENGTH_BASE, k + 3);
            symbols.near[k] = symbol(&DISTANCE_BASE, k + 1);
            symbols.far[k] = symbol(&DISTANCE_BASE, (k << 7) + 1);
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
    /// The bytes written, `end` of them, and zeros after for the
    /// writes of eight bytes at a time.
    out: Vec<u8>,
    end: usize,
    buffer: u64,
    count: u32,
}

impl Bits {
    /// The bits of a band of `filtered` bytes: the first band opens
    /// with the zlib header.
    fn for_band(band: &Band, filtered: usize) -> Bits {
        let mut bits = Bits {
            out: vec![0; filtered / 32 + 1024],
            end: 0,
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

    /// Room for `bytes` more bytes and a write of eight.
    fn room(&mut self, bytes: usize) {
        let needed = self.end + bytes + 8;
        if self.out.len() < needed {
            self.out.resize(needed.max(2 * self.out.len()), 0);
        }
    }

    /// Writes the buffer's eight bytes, and moves on by its whole ones.
    #[inline]
    fn flush(&mut self) {
        self.out[self.end..self.end + 8].copy_from_slice(&self.buffer.to_le_bytes());
        let bytes = self.count / 8;
        self.end += bytes as usize;
        // Never a shift by 64: fewer than 64 bits are ever waiting.
        self.buffer >>= bytes * 8;
        self.count -= bytes * 8;
    }

    /// Appends the `count` low bits of `value`, 32 at most.
    fn put(&mut self, value: u64, count: u32) {
        self.room(8);
        self.buffer |= value << self.count;
        self.count += count;
        self.flush();
    }

    /// Ends the bytes here, as zlib's sync flush does: an empty stored
    /// block, whose length comes on a byte boundary.
    fn align(&mut self) {
        self.put(0, 3);
        self.put(0, (8 - self.count % 8) % 8);
        self.put(0xffff_0000, 32);
    }

    /// The bytes, the last bits padded to a whole byte.
    fn finish(mut self) -> Vec<u8> {
        self.put(0, (8 - self.count % 8) % 8);
        self.out.truncate(self.end);
        self.out
    }
}

/// One block: its header, its tokens, its end.
fn write_block(bits: &mut Bits, tokens: &Tokens, last: bool, symbols: &Symbols) {
    let mut literals = [0u32; 286];
    literals[..256].copy_from_slice(&tokens.first[..256]);
    for (k, &count) in tokens.first[256..].iter().enumerate() {
        literals[257 + usize::from(symbols.length[k])] += count;
    }
    literals[256] = 1;
    let literal_lengths = code_lengths(&literals, 15);
    let distance_lengths = code_lengths(&tokens.distance[..30], 15);
    let literal_codes = codes(&literal_lengths);
    let distance_codes = codes(&distance_lengths);
    bits.put(u64::from(last), 1);
    // Dynamic Huffman codes.
    bits.put(2, 2);
    write_code_lengths(bits, &literal_lengths, &distance_lengths);
    let mut codes = Codes {
        first: [0; 512],
        distance: [0; 32],
    };
    for k in 0..256 {
        codes.first[k] = literal_codes[k] | u32::from(literal_lengths[k]) << 24;
        let symbol = usize::from(symbols.length[k]);
        let count = u32::from(literal_lengths[257 + symbol]);
        let extra = (k + MIN_MATCH - usize::from(LENGTH_BASE[symbol])) as u32;
        codes.first[256 + k] = (literal_codes[257 + symbol] | extra << count)
            | (count + u32::from(LENGTH_EXTRA[symbol])) << 24;
    }
    for symbol in 0..30 {
        let count = u32::from(distance_lengths[symbol]);
        codes.distance[symbol] = distance_codes[symbol]
            | count << 16
            | (count + u32::from(DISTANCE_EXTRA[symbol])) << 24;
    }
    write_tokens(bits, &tokens.list, &codes);
    bits.put(
        u64::from(literal_codes[256]),
        u32::from(literal_lengths[256]),
    );
}

/// A block's codes, ready to write.
struct Codes {
    /// By a token's first code: the code's bits (a length's extra bits
    /// after them), and from bit 24 how many.
    first: [u32; 512],
    /// By distance symbol: the code's bits, from bit 16 how many, from
    /// bit 24 how many with the extra bits; none for a literal's slot.
    distance: [u32; 32],
}

/// The tokens' codes, the bit buffer held in locals (registers) for
/// the whole loop, and written out eight bytes at a time whatever it
/// holds, then moved on by its whole bytes: no branch to mispredict.
fn write_tokens(bits: &mut Bits, tokens: &[u32], codes: &Codes) {
    // At most 48 bits a token.
    bits.room(tokens.len() * 6);
    let (mut buffer, mut count, mut end) = (bits.buffer, bits.count, bits.end);
    let out = &mut bits.out;
    for &token in tokens {
        let first = codes.first[(token & 0x1ff) as usize];
        let far = codes.distance[((token >> DISTANCE_SHIFT) & 31) as usize];
        let extra = u64::from(token >> EXTRA_SHIFT);
        // The whole token at once: 20 bits for its first code and
        // extra bits, 28 for its distance, on fewer than 8 waiting.
        let distance = u64::from(far & 0xffff) | extra << ((far >> 16) & 0xff);
        let value = u64::from(first & 0xff_ffff) | distance << (first >> 24);
        buffer |= value << count;
        count += (first >> 24) + (far >> 24);
        out[end..end + 8].copy_from_slice(&buffer.to_le_bytes());
        let bytes = count / 8;
        end += bytes as usize;
        buffer >>= bytes * 8;
        count -= bytes * 8;
    }
    (bits.buffer, bits.count, bits.end) = (buffer, count, end);
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

/// Huffman code lengths, unbounded, by Moffat and Katajainen's
/// in-place method: the leaves sorted by frequency, then one array
/// holds in turn the weights of the inner nodes, their parents, their
/// depths and the leaves' depths.
fn huffman(frequencies: &[u32]) -> Vec<u8> {
    let leaves = sorted_leaves(frequencies);
    let n = leaves.len();
    let mut lengths = vec![0; frequencies.len()];
    if n < 2 {
        for &(_, symbol) in &leaves {
            lengths[usize::from(symbol)] = 1;
        }
        return lengths;
    }
    let mut a: Vec<u32> = leaves.iter().map(|&(f, _)| f).collect();
    // The inner nodes: weights, then each one's parent.
    a[0] += a[1];
    let (mut root, mut leaf) = (0, 2);
    for next in 1..n - 1 {
        for pair in 0..2 {
            let take_root = leaf >= n || ((pair == 0 || root < next) && a[root] < a[leaf]);
            let weight = if take_root {
                let weight = a[root];
                a[root] = next as u32;
                root += 1;
                weight
            } else {
                leaf += 1;
                a[leaf - 1]
            };
            a[next] = if pair == 0 { weight } else { a[next] + weight };
        }
    }
    // The inner nodes' depths, from the root down.
    a[n - 2] = 0;
    for next in (0..n.saturating_sub(2)).rev() {
        a[next] = a[a[next] as usize] + 1;
    }
    // The leaves' depths: as many leaves at each depth as the inner
    // nodes there leave room for.
    let (mut available, mut used, mut depth) = (1usize, 0usize, 0u32);
    let (mut root, mut next) = (n as isize - 2, n as isize - 1);
    while available > 0 {
        while root >= 0 && a[root as usize] == depth {
            used += 1;
            root -= 1;
        }
        while available > used {
            a[next as usize] = depth;
            next -= 1;
            available -= 1;
        }
        available = 2 * used;
        depth += 1;
        used = 0;
    }
    for (index, &(_, symbol)) in leaves.iter().enumerate() {
        lengths[usize::from(symbol)] = a[index] as u8;
    }
    lengths
}

/// The symbols used, as (frequency, symbol), by frequency and then by
/// symbol: sorted by radix on the frequencies' low byte, and on the
/// next one when some frequency needs it, or by comparison when some
/// frequency is wider still.
fn sorted_leaves(frequencies: &[u32]) -> Vec<(u32, u16)> {
    let mut leaves: Vec<(u32, u16)> = Vec::with_capacity(frequencies.len());
    let mut widest = 0;
    for (symbol, &f) in frequencies.iter().enumerate() {
        if f > 0 {
            leaves.push((f, symbol as u16));
            widest |= f;
        }
    }
    if widest > 0xffff {
        leaves.sort_unstable();
        return leaves;
    }
    let mut other = vec![(0, 0); leaves.len()];
    let passes = if widest > 0xff { 2 } else { 1 };
    for shift in [0, 8].into_iter().take(passes) {
        let mut starts = [0u16; 256];
        for &(f, _) in &leaves {
            starts[((f >> shift) & 0xff) as usize] += 1;
        }
        let mut start = 0;
        for bucket in &mut starts {
            (*bucket, start) = (start, start + *bucket);
        }
        for &leaf in &leaves {
            let bucket = &mut starts[((leaf.0 >> shift) & 0xff) as usize];
            other[usize::from(*bucket)] = leaf;
            *bucket += 1;
        }
        std::mem::swap(&mut leaves, &mut other);
    }
    leaves
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
    fn making_room_keeps_the_strips_copied_since_the_last_time() {
        let strip = |bytes: usize| {
            Arc::new(Compressed {
                deflate: vec![0; bytes],
                adler: Adler { a: 0, b: 0 },
                length: 0,
            })
        };
        let place = |start: usize| {
            let band = Band {
                start,
                end: start + 1,
                warm: 0,
            };
            ((1, 1, 10), band, start as u128)
        };
        let mut kept = Kept::default();
        for start in 0..4 {
            kept.strips
                .insert(place(start), (strip(1_000), start % 2 == 1));
        }
        kept.bytes = 4_000;
        kept.sweep();
        let mut left: Vec<usize> = kept.strips.keys().map(|(_, band, _)| band.start).collect();
        left.sort_unstable();
        assert_eq!(left, [1, 3]);
        assert_eq!(kept.bytes, 2_000);
        // Copied no more since: they go at the next sweep.
        kept.sweep();
        assert!(kept.strips.is_empty());
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

    /// The golden cards, and what Pillow's default encoding of the same
    /// pixels weighs: new goldens bring new sizes (CONTRIBUTING.md says
    /// how to read them).
    const GOLDEN: [(&[u8], usize); 9] = [
        (
            include_bytes!("../../../../tests/golden/chiffre.carre.png"),
            95_748,
        ),
        (
            include_bytes!("../../../../tests/golden/chiffre.paysage.png"),
            81_661,
        ),
        (
            include_bytes!("../../../../tests/golden/chiffre.portrait.png"),
            108_568,
        ),
        (
            include_bytes!("../../../../tests/golden/evenement.carre.png"),
            117_490,
        ),
        (
            include_bytes!("../../../../tests/golden/evenement.paysage.png"),
            101_886,
        ),
        (
            include_bytes!("../../../../tests/golden/evenement.portrait.png"),
            124_883,
        ),
        (
            include_bytes!("../../../../tests/golden/outil.carre.png"),
            121_602,
        ),
        (
            include_bytes!("../../../../tests/golden/outil.paysage.png"),
            104_596,
        ),
        (
            include_bytes!("../../../../tests/golden/outil.portrait.png"),
            140_148,
        ),
    ];

    #[test]
    fn every_golden_card_keeps_its_pixels_in_less_than_pillows_png() {
        for (index, (golden, pillow)) in GOLDEN.into_iter().enumerate() {
            let image = image::load_from_memory(golden).expect("a golden image");
            let image = image.into_rgb8();
            let (width, height) = image.dimensions();
            let pixels = image.into_raw();
            let zlib = zlib(&pixels, width as usize * 3, 3, None).expect("a flat card");
            let png = super::super::write_png(width, height, png::ColorType::Rgb, &zlib);
            let png = png.expect("a PNG");
            assert!(
                png.len() < pillow,
                "golden {index}: {} bytes, Pillow {pillow}",
                png.len()
            );
            let decoded = image::load_from_memory(&png).expect("a valid PNG");
            assert!(decoded.into_rgb8().into_raw() == pixels, "golden {index}");
        }
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
