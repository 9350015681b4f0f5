//! Raw DEFLATE compression for archive `.filez` objects, with one compressor per thread
//! that is reset between objects.
//!
//! Allocating a fresh compressor for every object (≈380 KiB of aligned state) fragments
//! the glibc heap: committing `/usr/share` into an archive repository peaked at 861 MB
//! RSS with a 0.7 MB live heap. Reusing the state keeps RSS flat and saves the setup.

use std::cell::RefCell;
use std::io::{self, Write};

use flate2::{Compress, Compression, FlushCompress, Status};

/// The zlib level OSTree uses by default for archive repositories.
const LEVEL: u32 = 6;
const CHUNK: usize = 64 << 10;

thread_local! {
    static COMPRESSOR: RefCell<Option<Compress>> = const { RefCell::new(None) };
}

/// Runs `body` with a writer that deflates into `out`, then finishes the stream.
pub(crate) fn with_deflater<W: Write, T>(
    out: W,
    body: impl FnOnce(&mut dyn Write) -> Result<T, crate::repo::Error>,
    on_io: impl FnOnce(io::Error) -> crate::repo::Error,
) -> Result<T, crate::repo::Error> {
    let mut compress = COMPRESSOR
        .with(|cell| cell.borrow_mut().take())
        .unwrap_or_else(|| Compress::new(Compression::new(LEVEL), false));
    compress.reset();
    let mut writer = Deflater {
        compress,
        out,
        buf: vec![0; CHUNK],
    };
    let result = body(&mut writer);
    let finished = match result {
        Ok(value) => writer.finish().map(|()| value).map_err(on_io),
        Err(e) => Err(e),
    };
    COMPRESSOR.with(|cell| *cell.borrow_mut() = Some(writer.compress));
    finished
}

struct Deflater<W> {
    compress: Compress,
    out: W,
    buf: Vec<u8>,
}

impl<W: Write> Deflater<W> {
    /// One compression step; returns (input consumed, stream ended).
    fn step(&mut self, input: &[u8], flush: FlushCompress) -> io::Result<(usize, bool)> {
        let (in0, out0) = (self.compress.total_in(), self.compress.total_out());
        let status = self
            .compress
            .compress(input, &mut self.buf, flush)
            .map_err(io::Error::other)?;
        let consumed = (self.compress.total_in() - in0) as usize;
        let produced = (self.compress.total_out() - out0) as usize;
        self.out.write_all(&self.buf[..produced])?;
        if consumed == 0 && produced == 0 && status != Status::StreamEnd {
            return Err(io::Error::other("deflate made no progress"));
        }
        Ok((consumed, status == Status::StreamEnd))
    }

    fn finish(&mut self) -> io::Result<()> {
        while !self.step(&[], FlushCompress::Finish)?.1 {}
        self.out.flush()
    }
}

impl<W: Write> Write for Deflater<W> {
    fn write(&mut self, input: &[u8]) -> io::Result<usize> {
        let mut done = 0;
        while done < input.len() {
            done += self.step(&input[done..], FlushCompress::None)?.0;
        }
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

    #[test]
    fn round_trips_and_reuses_state() {
        for data in [&b""[..], b"hello\n", &vec![7u8; 300_000]] {
            let mut out = Vec::new();
            with_deflater(
                &mut out,
                |w| {
                    w.write_all(data).unwrap();
                    Ok(())
                },
                |_| unreachable!(),
            )
            .unwrap();
            let mut back = Vec::new();
            flate2::read::DeflateDecoder::new(&out[..])
                .read_to_end(&mut back)
                .unwrap();
            assert_eq!(back, data);
        }
    }
}
