//! Raw DEFLATE compression for archive `.filez` objects.
//!
//! Objects up to [`WHOLE_MAX`] bytes are compressed in one call by libdeflate; larger
//! ones stream through zlib-rs, because libdeflate needs the whole input at once and
//! memory must stay bounded. Both run one level below the repository's zlib level
//! (`[archive] zlib-level`, OSTree's default 6), because at that level each compresses
//! about as small as zlib at the full one, and faster. Measured on one core at the
//! default: over the files of `/usr/share` under 1 MiB, zlib level 6 (zlib-rs) ran at
//! 44 MB/s to 0.478 of the size and libdeflate level 5 at 78 MB/s to 0.473; over 80
//! files of `/usr/lib` above 1 MiB (878 MB), zlib-rs level 6 ran at 43 MB/s to 0.422
//! and level 5 at 54 MB/s to 0.423, while Debian's zlib at level 6 compresses such
//! files to within 1% of zlib-rs. Over all of `/usr/lib` this stores 1,503 MB where
//! `ostree` stores 1,485 MB (+1.2%), in a fifth of its time. Level 1 stays at 1.
//!
//! Each thread keeps its compressors and buffers and reuses them between objects:
//! allocating fresh state for every object (≈380 KiB for zlib alone) fragmented the glibc
//! heap — committing `/usr/share` into an archive repository peaked at 861 MB RSS with a
//! 0.7 MB live heap.

use std::cell::RefCell;
use std::io::{self, Write};

use flate2::{Compress, Compression, FlushCompress, Status};
use libdeflater::CompressionLvl;

/// The zlib level OSTree uses by default for archive repositories.
pub(crate) const DEFAULT_LEVEL: u32 = 6;
/// The largest object compressed whole; also the most input a thread buffers, so with
/// the output buffer about 2 MiB per thread: at 2 MiB, an archive commit of /usr/lib
/// peaked at 38 MB RSS against `ostree`'s 35 MB.
const WHOLE_MAX: usize = 1 << 20;
/// The output buffer of one streaming step.
const CHUNK: usize = 64 << 10;

/// One thread's compressors and buffers.
struct State {
    /// The repository zlib level the compressors were made for.
    level: u32,
    whole: libdeflater::Compressor,
    stream: Compress,
    /// The object's bytes so far, while it may still be compressed whole.
    input: Vec<u8>,
    output: Vec<u8>,
}

impl State {
    /// Compressors for repository zlib `level` (1–9), each one level lower, see the
    /// module documentation.
    fn new(level: u32) -> Self {
        let own = level.clamp(2, 9) - 1;
        let whole =
            CompressionLvl::new(own as i32).expect("levels 1-8 are within libdeflate's range");
        Self {
            level,
            whole: libdeflater::Compressor::new(whole),
            stream: Compress::new(Compression::new(own), false),
            input: Vec::new(),
            output: Vec::new(),
        }
    }
}

thread_local! {
    static STATE: RefCell<Option<State>> = const { RefCell::new(None) };
}

/// Runs `body` with a writer that deflates into `out`, then finishes the stream.
pub(crate) fn with_deflater<W: Write, T>(
    level: u32,
    out: W,
    body: impl FnOnce(&mut dyn Write) -> Result<T, crate::error::Error>,
    on_io: impl FnOnce(io::Error) -> crate::error::Error,
) -> Result<T, crate::error::Error> {
    let state = STATE
        .with(|cell| cell.borrow_mut().take())
        .filter(|state| state.level == level)
        .unwrap_or_else(|| State::new(level));
    let mut writer = Deflater {
        state,
        out,
        streaming: false,
    };
    let result = body(&mut writer);
    let finished = match result {
        Ok(value) => writer.finish().map(|()| value).map_err(on_io),
        Err(e) => Err(e),
    };
    let mut state = writer.state;
    state.input.clear();
    STATE.with(|cell| *cell.borrow_mut() = Some(state));
    finished
}

struct Deflater<W> {
    state: State,
    out: W,
    /// Whether the object outgrew [`WHOLE_MAX`] and goes through zlib-rs.
    streaming: bool,
}

impl<W: Write> Deflater<W> {
    /// Switches to streaming, feeding zlib-rs what was buffered so far.
    fn start_streaming(&mut self) -> io::Result<()> {
        self.streaming = true;
        self.state.stream.reset();
        self.state.output.resize(CHUNK, 0);
        let buffered = std::mem::take(&mut self.state.input);
        let fed = self.feed(&buffered);
        self.state.input = buffered;
        self.state.input.clear();
        fed
    }

    fn feed(&mut self, mut input: &[u8]) -> io::Result<()> {
        while !input.is_empty() {
            let consumed = self.step(input, FlushCompress::None)?.0;
            input = &input[consumed..];
        }
        Ok(())
    }

    /// One streaming step; returns (input consumed, stream ended).
    fn step(&mut self, input: &[u8], flush: FlushCompress) -> io::Result<(usize, bool)> {
        let stream = &mut self.state.stream;
        let (in0, out0) = (stream.total_in(), stream.total_out());
        let status = stream
            .compress(input, &mut self.state.output, flush)
            .map_err(io::Error::other)?;
        let consumed = (stream.total_in() - in0) as usize;
        let produced = (stream.total_out() - out0) as usize;
        self.out.write_all(&self.state.output[..produced])?;
        if consumed == 0 && produced == 0 && status != Status::StreamEnd {
            return Err(io::Error::other("deflate made no progress"));
        }
        Ok((consumed, status == Status::StreamEnd))
    }

    fn finish(&mut self) -> io::Result<()> {
        if self.streaming {
            while !self.step(&[], FlushCompress::Finish)?.1 {}
        } else {
            let state = &mut self.state;
            let bound = state.whole.deflate_compress_bound(state.input.len());
            state.output.resize(bound, 0);
            let produced = state
                .whole
                .deflate_compress(&state.input, &mut state.output)
                .map_err(|e| io::Error::other(format!("deflate: {e:?}")))?;
            self.out.write_all(&state.output[..produced])?;
        }
        self.out.flush()
    }
}

impl<W: Write> Write for Deflater<W> {
    fn write(&mut self, input: &[u8]) -> io::Result<usize> {
        if !self.streaming {
            if self.state.input.len() + input.len() <= WHOLE_MAX {
                self.state.input.extend_from_slice(input);
                return Ok(input.len());
            }
            self.start_streaming()?;
        }
        self.feed(input)?;
        Ok(input.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    /// Pseudo-random bytes that compress a little, so a wrong stream shows up.
    fn noise(len: usize) -> Vec<u8> {
        let mut x = 0x9e37_79b9_u32;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                b'a' + (x % 16) as u8
            })
            .collect()
    }

    #[test]
    fn round_trips_whole_and_streamed_objects_and_reuses_state() {
        let big = noise(WHOLE_MAX + 300_000);
        let cases: [&[u8]; 5] = [b"", b"hello\n", &[7u8; 300_000], &big, &big[..WHOLE_MAX]];
        for data in cases {
            let mut out = Vec::new();
            with_deflater(
                DEFAULT_LEVEL,
                &mut out,
                |w| {
                    // Odd-sized writes, as a reader hands them over.
                    for piece in data.chunks(100_003) {
                        w.write_all(piece).unwrap();
                    }
                    Ok(())
                },
                |_| unreachable!(),
            )
            .unwrap();
            let mut back = Vec::new();
            flate2::read::DeflateDecoder::new(&out[..])
                .read_to_end(&mut back)
                .unwrap();
            assert_eq!(back, data, "{} bytes", data.len());
            assert!(data.len() < 1000 || out.len() < data.len());
        }
    }
}
