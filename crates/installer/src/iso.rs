//! Customising a live ISO without rebuilding it (`ferro installer iso ignition
//! embed|show|remove`, `iso kargs modify|show`), in the layout coreos-installer
//! reads, so either tool customises either ISO:
//!
//! - **Ignition embed area.** The last 24 bytes of the ISO 9660 system area (which
//!   ends at 32 KiB) are a header: the magic `coreiso+`, then the area's offset and
//!   length in the file (little-endian u64 each). The area is a file of the ISO
//!   (`/images/ignition.img`) that the boot loader loads as an extra initramfs. Zeroed,
//!   it carries no config; customised, it holds a compressed newc cpio archive with
//!   one file, `config.ign` (mode 0644), padded with zeros. ferro writes gzip and
//!   reads gzip, xz (what coreos-installer writes) and uncompressed archives.
//! - **Kernel argument areas.** The 72 bytes before that header: the magic
//!   `coreKarg`, the length of every area, the offset of the area with the ISO's
//!   default arguments, then up to six offsets of areas (0 ends the list), each a
//!   stretch of a boot loader config file holding the arguments, a newline and `#`
//!   padding (a comment for GRUB) up to the length. Every area must agree.
//!
//! A change is made in place, or on a copy when an output path is given (written
//! beside it, renamed into place when complete). Nothing is written when the input is
//! refused.

use std::fs::{self, File};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use ferro_sys::{IoError, IoResultExt};
use ferro_sysroot::{KargEdit, Kargs};

/// Where the ISO 9660 system area ends: the headers are its last bytes.
pub const SYSTEM_AREA_END: u64 = 32768;
/// The Ignition header's magic.
pub const IGNITION_MAGIC: &[u8; 8] = b"coreiso+";
/// The Ignition header's size.
pub const IGNITION_HEADER_LEN: u64 = 24;
/// The kernel argument header's magic.
pub const KARGS_MAGIC: &[u8; 8] = b"coreKarg";
/// The kernel argument header's size.
pub const KARGS_HEADER_LEN: u64 = 72;
/// At most this many kernel argument areas.
pub const KARGS_MAX_AREAS: usize = 6;
/// The longest kernel argument area.
pub const KARGS_MAX_LEN: u64 = 2048;
/// The name of the config in the embedded archive.
pub const CONFIG_NAME: &str = "config.ign";

/// Why an ISO could not be read or customised.
#[derive(Debug, thiserror::Error)]
pub enum IsoError {
    /// Reading or writing the file.
    #[error(transparent)]
    Io(#[from] IoError),
    /// No `coreiso+` (or `coreKarg`) header.
    #[error(
        "{path} is not a ferrocore or CoreOS live ISO: no {what} header at the end of its system area"
    )]
    NotLiveIso {
        /// The file.
        path: PathBuf,
        /// Which header is missing.
        what: &'static str,
    },
    /// The header points outside the file or is implausible.
    #[error("{path}: corrupt {what} header: {detail}")]
    BadHeader {
        /// The file.
        path: PathBuf,
        /// Which header.
        what: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// A config is embedded already and `--force` was not given.
    #[error(
        "{0} already has an embedded Ignition config; use --force to replace it (or `iso ignition remove` first)"
    )]
    AlreadyEmbedded(PathBuf),
    /// The config does not fit the area.
    #[error(
        "the compressed config ({size} bytes) does not fit the ISO's embed area ({area} bytes)"
    )]
    TooLarge {
        /// The archive's size.
        size: u64,
        /// The area's size.
        area: u64,
    },
    /// The config is not JSON.
    #[error("the Ignition config is not JSON: {0}")]
    NotJson(String),
    /// The area holds something that is not an archive with a config.
    #[error("{path}: the embed area holds no readable config archive: {detail}")]
    BadArchive {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// The kernel argument areas disagree or the edit does not apply.
    #[error("{0}")]
    Kargs(String),
}

/// Where the Ignition embed area is in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IgnitionArea {
    /// Its offset.
    pub offset: u64,
    /// Its length.
    pub length: u64,
}

/// Where the kernel argument areas are in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KargAreas {
    /// The length of each area.
    pub length: u64,
    /// The area holding the ISO's default arguments (kept unchanged).
    pub default_offset: u64,
    /// The areas the boot loaders read.
    pub offsets: Vec<u64>,
}

fn read_at(file: &mut File, path: &Path, offset: u64, len: usize) -> Result<Vec<u8>, IsoError> {
    let mut buf = vec![0; len];
    file.seek(SeekFrom::Start(offset))
        .and_then(|_| file.read_exact(&mut buf))
        .at("read", path)?;
    Ok(buf)
}

fn write_at(file: &mut File, path: &Path, offset: u64, bytes: &[u8]) -> Result<(), IsoError> {
    file.seek(SeekFrom::Start(offset))
        .and_then(|_| file.write_all(bytes))
        .at("write", path)?;
    Ok(())
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(word)
}

fn file_len(file: &File, path: &Path) -> Result<u64, IsoError> {
    Ok(file.metadata().at("stat", path)?.len())
}

/// Reads the Ignition header of the ISO open as `file`.
pub fn ignition_area(file: &mut File, path: &Path) -> Result<IgnitionArea, IsoError> {
    let len = file_len(file, path)?;
    if len < SYSTEM_AREA_END {
        return Err(IsoError::NotLiveIso {
            path: path.to_owned(),
            what: "coreiso+",
        });
    }
    let header = read_at(
        file,
        path,
        SYSTEM_AREA_END - IGNITION_HEADER_LEN,
        IGNITION_HEADER_LEN as usize,
    )?;
    if &header[..8] != IGNITION_MAGIC {
        return Err(IsoError::NotLiveIso {
            path: path.to_owned(),
            what: "coreiso+",
        });
    }
    let area = IgnitionArea {
        offset: u64_at(&header, 8),
        length: u64_at(&header, 16),
    };
    if area.offset < SYSTEM_AREA_END || area.offset.saturating_add(area.length) > len {
        return Err(IsoError::BadHeader {
            path: path.to_owned(),
            what: "coreiso+",
            detail: format!(
                "area {}+{} outside the file's {len} bytes",
                area.offset, area.length
            ),
        });
    }
    Ok(area)
}

/// Reads the kernel argument header of the ISO open as `file`.
pub fn karg_areas(file: &mut File, path: &Path) -> Result<KargAreas, IsoError> {
    let len = file_len(file, path)?;
    let start = SYSTEM_AREA_END - IGNITION_HEADER_LEN - KARGS_HEADER_LEN;
    if len < SYSTEM_AREA_END {
        return Err(IsoError::NotLiveIso {
            path: path.to_owned(),
            what: "coreKarg",
        });
    }
    let header = read_at(file, path, start, KARGS_HEADER_LEN as usize)?;
    if &header[..8] != KARGS_MAGIC {
        return Err(IsoError::NotLiveIso {
            path: path.to_owned(),
            what: "coreKarg",
        });
    }
    let bad = |detail: String| IsoError::BadHeader {
        path: path.to_owned(),
        what: "coreKarg",
        detail,
    };
    let length = u64_at(&header, 8);
    if length == 0 || length > KARGS_MAX_LEN {
        return Err(bad(format!("area length {length}")));
    }
    let default_offset = u64_at(&header, 16);
    let offsets: Vec<u64> = (0..KARGS_MAX_AREAS)
        .map(|i| u64_at(&header, 24 + 8 * i))
        .take_while(|&o| o != 0)
        .collect();
    if offsets.is_empty() {
        return Err(bad("no areas".into()));
    }
    for &offset in offsets.iter().chain([&default_offset]) {
        if offset.saturating_add(length) > len {
            return Err(bad(format!("area {offset}+{length} outside the file")));
        }
    }
    Ok(KargAreas {
        length,
        default_offset,
        offsets,
    })
}

/// Writes the headers a live ISO is customised through (what `ferro compose image
/// --format iso` does once the ISO is made).
pub fn write_headers(
    file: &mut File,
    path: &Path,
    ignition: IgnitionArea,
    kargs: &KargAreas,
) -> Result<(), IsoError> {
    if kargs.offsets.is_empty() || kargs.offsets.len() > KARGS_MAX_AREAS {
        return Err(IsoError::Kargs(format!(
            "{} kernel argument areas (1 to {KARGS_MAX_AREAS})",
            kargs.offsets.len()
        )));
    }
    let mut header = Vec::with_capacity((KARGS_HEADER_LEN + IGNITION_HEADER_LEN) as usize);
    header.extend_from_slice(KARGS_MAGIC);
    header.extend_from_slice(&kargs.length.to_le_bytes());
    header.extend_from_slice(&kargs.default_offset.to_le_bytes());
    for i in 0..KARGS_MAX_AREAS {
        let offset = kargs.offsets.get(i).copied().unwrap_or(0);
        header.extend_from_slice(&offset.to_le_bytes());
    }
    header.extend_from_slice(IGNITION_MAGIC);
    header.extend_from_slice(&ignition.offset.to_le_bytes());
    header.extend_from_slice(&ignition.length.to_le_bytes());
    write_at(
        file,
        path,
        SYSTEM_AREA_END - KARGS_HEADER_LEN - IGNITION_HEADER_LEN,
        &header,
    )
}

/// The ISO to change: `iso` itself, or a copy being made at `output`.
struct Target {
    file: File,
    path: PathBuf,
    copy: Option<(tempfile::NamedTempFile, PathBuf)>,
}

impl Target {
    fn open(iso: &Path, output: Option<&Path>) -> Result<Self, IsoError> {
        match output {
            None => {
                let file = File::options()
                    .read(true)
                    .write(true)
                    .open(iso)
                    .at("open", iso)?;
                Ok(Target {
                    file,
                    path: iso.to_owned(),
                    copy: None,
                })
            }
            Some(output) => {
                let dir = match output.parent() {
                    Some(p) if !p.as_os_str().is_empty() => p,
                    _ => Path::new("."),
                };
                let temp = tempfile::Builder::new()
                    .prefix(".ferro-iso-")
                    .tempfile_in(dir)
                    .at("create a temporary file in", dir)?;
                fs::copy(iso, temp.path()).at("copy", iso)?;
                let file = File::options()
                    .read(true)
                    .write(true)
                    .open(temp.path())
                    .at("open", temp.path())?;
                Ok(Target {
                    file,
                    path: iso.to_owned(),
                    copy: Some((temp, output.to_owned())),
                })
            }
        }
    }

    fn finish(self) -> Result<(), IsoError> {
        self.file.sync_all().at("sync", &self.path)?;
        if let Some((temp, output)) = self.copy {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(temp.path(), fs::Permissions::from_mode(0o644))
                .at("set mode of", temp.path())?;
            temp.persist(&output)
                .map_err(|e| e.error)
                .at("rename into", &output)?;
        }
        Ok(())
    }
}

/// The embedded config of `iso`, if any.
pub fn show_ignition(iso: &Path) -> Result<Option<Vec<u8>>, IsoError> {
    let mut file = File::open(iso).at("open", iso)?;
    let area = ignition_area(&mut file, iso)?;
    let bytes = read_at(&mut file, iso, area.offset, area.length as usize)?;
    if bytes.iter().all(|&b| b == 0) {
        return Ok(None);
    }
    cpio::extract(&bytes)
        .map(Some)
        .map_err(|detail| IsoError::BadArchive {
            path: iso.to_owned(),
            detail,
        })
}

/// Embeds `config` in `iso` (or in a copy at `output`); refuses an ISO that has one
/// unless `force`.
pub fn embed_ignition(
    iso: &Path,
    config: &[u8],
    force: bool,
    output: Option<&Path>,
) -> Result<(), IsoError> {
    serde_json::from_slice::<serde_json::Value>(config)
        .map_err(|e| IsoError::NotJson(e.to_string()))?;
    let mut probe = File::open(iso).at("open", iso)?;
    let area = ignition_area(&mut probe, iso)?;
    if !force && show_ignition(iso)?.is_some() {
        return Err(IsoError::AlreadyEmbedded(iso.to_owned()));
    }
    let archive = cpio::gzip_archive(CONFIG_NAME, config).at("compress", iso)?;
    if archive.len() as u64 > area.length {
        return Err(IsoError::TooLarge {
            size: archive.len() as u64,
            area: area.length,
        });
    }
    let mut contents = archive;
    contents.resize(area.length as usize, 0);
    let mut target = Target::open(iso, output)?;
    write_at(&mut target.file, iso, area.offset, &contents)?;
    target.finish()
}

/// Removes the embedded config of `iso` (or of a copy at `output`): the area is zeroed.
pub fn remove_ignition(iso: &Path, output: Option<&Path>) -> Result<(), IsoError> {
    let mut probe = File::open(iso).at("open", iso)?;
    let area = ignition_area(&mut probe, iso)?;
    let mut target = Target::open(iso, output)?;
    write_at(
        &mut target.file,
        iso,
        area.offset,
        &vec![0; area.length as usize],
    )?;
    target.finish()
}

/// The arguments in the area at `offset`: the text before its `#` padding.
fn kargs_at(file: &mut File, path: &Path, offset: u64, length: u64) -> Result<String, IsoError> {
    let bytes = read_at(file, path, offset, length as usize)?;
    let text = String::from_utf8(bytes).map_err(|_| IsoError::BadHeader {
        path: path.to_owned(),
        what: "coreKarg",
        detail: format!("the area at {offset} is not text"),
    })?;
    Ok(text.trim_end_matches('#').trim().to_owned())
}

/// The kernel arguments of `iso` (its defaults with `default`).
pub fn show_kargs(iso: &Path, default: bool) -> Result<String, IsoError> {
    let mut file = File::open(iso).at("open", iso)?;
    let areas = karg_areas(&mut file, iso)?;
    if default {
        return kargs_at(&mut file, iso, areas.default_offset, areas.length);
    }
    let mut first: Option<String> = None;
    for &offset in &areas.offsets {
        let kargs = kargs_at(&mut file, iso, offset, areas.length)?;
        match &first {
            Some(first) if *first != kargs => {
                return Err(IsoError::Kargs(format!(
                    "{}: the kernel argument areas disagree ('{first}' and '{kargs}' at {offset})",
                    iso.display()
                )));
            }
            Some(_) => {}
            None => first = Some(kargs),
        }
    }
    Ok(first.unwrap_or_default())
}

/// Applies `edits` to the kernel arguments of `iso` (or of a copy at `output`);
/// returns the new arguments. Nothing is written when an edit does not apply or the
/// result does not fit.
pub fn modify_kargs(
    iso: &Path,
    edits: &[KargEdit],
    output: Option<&Path>,
) -> Result<String, IsoError> {
    let mut kargs = Kargs::parse(&show_kargs(iso, false)?);
    for edit in edits {
        kargs
            .apply(edit)
            .map_err(|e| IsoError::Kargs(e.to_string()))?;
    }
    let text = kargs.to_string();
    let mut probe = File::open(iso).at("open", iso)?;
    let areas = karg_areas(&mut probe, iso)?;
    let area = karg_area_bytes(&text, areas.length)?;
    let mut target = Target::open(iso, output)?;
    for &offset in &areas.offsets {
        write_at(&mut target.file, iso, offset, &area)?;
    }
    target.finish()?;
    Ok(text)
}

/// A kernel argument area of `length` bytes holding `kargs`: the arguments, a
/// newline, `#` to the end.
pub fn karg_area_bytes(kargs: &str, length: u64) -> Result<Vec<u8>, IsoError> {
    let text = format!("{}\n", kargs.trim());
    if text.len() as u64 > length {
        return Err(IsoError::Kargs(format!(
            "the kernel arguments ({} bytes) do not fit the ISO's {length}-byte area",
            text.len()
        )));
    }
    let mut area = vec![b'#'; length as usize];
    area[..text.len()].copy_from_slice(text.as_bytes());
    Ok(area)
}

/// The newc cpio archives the embed area holds.
pub mod cpio {
    use std::io::{Read, Write};

    const MAGIC: &[u8] = b"070701";
    const TRAILER: &str = "TRAILER!!!";

    fn header(out: &mut Vec<u8>, name: &str, mode: u32, size: usize, ino: u32) {
        out.extend_from_slice(MAGIC);
        let fields = [
            ino,
            mode,
            0,
            0,
            1,
            0,
            size as u32,
            0,
            0,
            0,
            0,
            name.len() as u32 + 1,
            0,
        ];
        for field in fields {
            out.extend_from_slice(format!("{field:08x}").as_bytes());
        }
        out.extend_from_slice(name.as_bytes());
        out.push(0);
        pad(out);
    }

    fn pad(out: &mut Vec<u8>) {
        while !out.len().is_multiple_of(4) {
            out.push(0);
        }
    }

    /// The header of one newc entry with a `size`-byte file (padded to 4 bytes);
    /// fails for files newc cannot describe (4 GiB or more).
    pub fn header_bytes(name: &str, mode: u32, size: u64, ino: u32) -> Result<Vec<u8>, String> {
        let size = usize::try_from(size)
            .ok()
            .filter(|&s| s <= u32::MAX as usize)
            .ok_or("too large for a newc cpio archive (4 GiB or more)")?;
        let mut out = Vec::new();
        header(&mut out, name, mode, size, ino);
        Ok(out)
    }

    /// The archive's trailer entry.
    pub fn trailer() -> Vec<u8> {
        let mut out = Vec::new();
        header(&mut out, TRAILER, 0, 0, 0);
        out
    }

    /// An uncompressed newc archive holding `name` (a regular file, mode 0644).
    pub fn archive(name: &str, contents: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        header(&mut out, name, 0o100_644, contents.len(), 1);
        out.extend_from_slice(contents);
        pad(&mut out);
        header(&mut out, TRAILER, 0, 0, 0);
        out
    }

    /// [`archive`], gzip-compressed (the kernel unpacks it as an initramfs).
    pub fn gzip_archive(name: &str, contents: &[u8]) -> std::io::Result<Vec<u8>> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(&archive(name, contents))?;
        encoder.finish()
    }

    /// The contents of [`super::CONFIG_NAME`] in `area` (an archive, gzip- or
    /// xz-compressed or not, followed by zero padding).
    pub fn extract(area: &[u8]) -> Result<Vec<u8>, String> {
        // One compressed stream, then zeros the decoders never reach.
        let mut raw = Vec::new();
        if area.starts_with(&[0x1f, 0x8b]) {
            flate2::read::GzDecoder::new(area)
                .read_to_end(&mut raw)
                .map_err(|e| format!("gzip: {e}"))?;
        } else if area.starts_with(b"\xfd7zXZ\x00") {
            let mut decoder = xz2::read::XzDecoder::new_multi_decoder(area);
            decoder
                .read_to_end(&mut raw)
                .map_err(|e| format!("xz: {e}"))?;
        } else {
            raw = area.to_vec();
        }
        find(&raw, super::CONFIG_NAME)
    }

    fn hex(bytes: &[u8], field: usize) -> Result<usize, String> {
        let at = MAGIC.len() + field * 8;
        let text = bytes
            .get(at..at + 8)
            .and_then(|b| std::str::from_utf8(b).ok())
            .ok_or("truncated header")?;
        usize::from_str_radix(text, 16).map_err(|_| format!("bad header field '{text}'"))
    }

    fn align(n: usize) -> usize {
        n.div_ceil(4) * 4
    }

    /// The contents of the file `name` in the uncompressed archive `raw`.
    pub fn find(raw: &[u8], name: &str) -> Result<Vec<u8>, String> {
        let mut at = 0;
        loop {
            // Archives may be separated by zero padding.
            while raw.get(at) == Some(&0) {
                at += 1;
            }
            let entry = raw.get(at..).ok_or("truncated archive")?;
            if !entry.starts_with(MAGIC) {
                return Err("not a newc cpio archive".into());
            }
            let size = hex(entry, 6)?;
            let name_len = hex(entry, 11)?;
            let header_len = MAGIC.len() + 13 * 8;
            let this = entry
                .get(header_len..header_len + name_len.saturating_sub(1))
                .ok_or("truncated name")?;
            let data_start = align(header_len + name_len);
            let data = entry
                .get(data_start..data_start + size)
                .ok_or("truncated file")?;
            if this == name.as_bytes() {
                return Ok(data.to_vec());
            }
            if this == TRAILER.as_bytes() {
                at += align(data_start + size);
                if raw[at.min(raw.len())..].iter().all(|&b| b == 0) {
                    return Err(format!("no {name} in the archive"));
                }
                continue;
            }
            at += align(data_start + size);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake live ISO: 64 KiB with an embed area of 4 KiB at 40 KiB, a kernel
    /// argument area of 64 bytes at 36 KiB (default copy at 37 KiB) and another at
    /// 38 KiB, as a boot loader config would hold it.
    fn fake_iso(dir: &Path) -> PathBuf {
        let path = dir.join("live.iso");
        let mut file = File::create(&path).unwrap();
        file.set_len(64 << 10).unwrap();
        let kargs = karg_area_bytes("ferro.live=1 quiet", 64).unwrap();
        for offset in [36 << 10, 37 << 10, 38 << 10] {
            write_at(&mut file, &path, offset, &kargs).unwrap();
        }
        let areas = KargAreas {
            length: 64,
            default_offset: 37 << 10,
            offsets: vec![36 << 10, 38 << 10],
        };
        let ignition = IgnitionArea {
            offset: 40 << 10,
            length: 4 << 10,
        };
        write_headers(&mut file, &path, ignition, &areas).unwrap();
        path
    }

    const CONFIG: &[u8] = br#"{"ignition":{"version":"3.4.0"}}"#;

    #[test]
    fn ignition_embed_show_remove_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let iso = fake_iso(dir.path());
        let pristine = fs::read(&iso).unwrap();
        assert_eq!(show_ignition(&iso).unwrap(), None);

        embed_ignition(&iso, CONFIG, false, None).unwrap();
        assert_eq!(show_ignition(&iso).unwrap().as_deref(), Some(CONFIG));
        let embedded = fs::read(&iso).unwrap();
        assert_eq!(embedded.len(), pristine.len());
        let area = 40 << 10..44 << 10;
        assert_eq!(
            embedded[..area.start],
            pristine[..area.start],
            "only the area changes"
        );
        assert_eq!(embedded[area.end..], pristine[area.end..]);
        assert_eq!(&embedded[area.start..area.start + 2], &[0x1f, 0x8b], "gzip");

        remove_ignition(&iso, None).unwrap();
        assert_eq!(show_ignition(&iso).unwrap(), None);
        assert_eq!(fs::read(&iso).unwrap(), pristine);
    }

    #[test]
    fn an_embedded_config_is_kept_unless_forced() {
        let dir = tempfile::tempdir().unwrap();
        let iso = fake_iso(dir.path());
        embed_ignition(&iso, CONFIG, false, None).unwrap();
        let before = fs::read(&iso).unwrap();
        let other = br#"{"ignition":{"version":"3.3.0"}}"#;
        let err = embed_ignition(&iso, other, false, None).unwrap_err();
        assert!(matches!(err, IsoError::AlreadyEmbedded(_)), "{err}");
        assert!(err.to_string().contains("--force"), "{err}");
        assert_eq!(fs::read(&iso).unwrap(), before, "nothing written");
        embed_ignition(&iso, other, true, None).unwrap();
        assert_eq!(show_ignition(&iso).unwrap().as_deref(), Some(&other[..]));
    }

    #[test]
    fn output_copies_leave_the_input_alone() {
        let dir = tempfile::tempdir().unwrap();
        let iso = fake_iso(dir.path());
        let pristine = fs::read(&iso).unwrap();
        let out = dir.path().join("custom.iso");
        embed_ignition(&iso, CONFIG, false, Some(&out)).unwrap();
        assert_eq!(fs::read(&iso).unwrap(), pristine);
        assert_eq!(show_ignition(&out).unwrap().as_deref(), Some(CONFIG));
        let out2 = dir.path().join("kargs.iso");
        modify_kargs(&out, &[KargEdit::Append("x=1".into())], Some(&out2)).unwrap();
        assert_eq!(show_kargs(&out, false).unwrap(), "ferro.live=1 quiet");
        assert_eq!(show_kargs(&out2, false).unwrap(), "ferro.live=1 quiet x=1");
        assert_eq!(show_ignition(&out2).unwrap().as_deref(), Some(CONFIG));
    }

    #[test]
    fn bad_inputs_are_refused_and_nothing_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let iso = fake_iso(dir.path());
        let pristine = fs::read(&iso).unwrap();
        let err = embed_ignition(&iso, b"{not json", false, None).unwrap_err();
        assert!(matches!(err, IsoError::NotJson(_)), "{err}");
        let huge: Vec<u8> = (0..20_000u32)
            .flat_map(|i| format!("{i:08x}").into_bytes())
            .collect();
        let big = format!(
            r#"{{"ignition":{{"version":"3.4.0"}},"x":"{}"}}"#,
            String::from_utf8(huge).unwrap()
        );
        let err = embed_ignition(&iso, big.as_bytes(), false, None).unwrap_err();
        assert!(matches!(err, IsoError::TooLarge { .. }), "{err}");
        let err = modify_kargs(&iso, &[KargEdit::Append("y".repeat(80))], None).unwrap_err();
        assert!(err.to_string().contains("do not fit"), "{err}");
        let err = modify_kargs(&iso, &[KargEdit::Delete("absent".into())], None).unwrap_err();
        assert!(err.to_string().contains("not present"), "{err}");
        assert_eq!(fs::read(&iso).unwrap(), pristine);

        let plain = dir.path().join("plain.iso");
        fs::write(&plain, vec![0u8; 40_000]).unwrap();
        let err = show_ignition(&plain).unwrap_err();
        assert!(matches!(err, IsoError::NotLiveIso { .. }), "{err}");
        let err = embed_ignition(&plain, CONFIG, false, None).unwrap_err();
        assert!(matches!(err, IsoError::NotLiveIso { .. }), "{err}");
        assert!(show_kargs(&plain, false).is_err());
        let short = dir.path().join("short.iso");
        fs::write(&short, b"tiny").unwrap();
        assert!(matches!(
            show_ignition(&short).unwrap_err(),
            IsoError::NotLiveIso { .. }
        ));
    }

    #[test]
    fn kargs_modify_show_round_trip_keeps_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let iso = fake_iso(dir.path());
        let new = modify_kargs(
            &iso,
            &[
                KargEdit::Append("coreos.inst.install_dev=/dev/vda".into()),
                KargEdit::Delete("quiet".into()),
                KargEdit::Replace("ferro.live=1=2".into()),
            ],
            None,
        )
        .unwrap();
        assert_eq!(new, "ferro.live=2 coreos.inst.install_dev=/dev/vda");
        assert_eq!(show_kargs(&iso, false).unwrap(), new);
        assert_eq!(show_kargs(&iso, true).unwrap(), "ferro.live=1 quiet");
        let bytes = fs::read(&iso).unwrap();
        let area = &bytes[38 << 10..(38 << 10) + 64];
        assert!(area.starts_with(format!("{new}\n#").as_bytes()));
        assert!(area.ends_with(b"##"));
    }

    #[test]
    fn areas_that_disagree_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let iso = fake_iso(dir.path());
        let mut file = File::options().write(true).open(&iso).unwrap();
        write_at(
            &mut file,
            &iso,
            38 << 10,
            &karg_area_bytes("other", 64).unwrap(),
        )
        .unwrap();
        let err = show_kargs(&iso, false).unwrap_err();
        assert!(err.to_string().contains("disagree"), "{err}");
    }

    #[test]
    fn archives_in_every_compression_are_read() {
        let archive = cpio::archive(CONFIG_NAME, CONFIG);
        let mut area = archive.clone();
        area.resize(4096, 0);
        assert_eq!(cpio::extract(&area).unwrap(), CONFIG);
        let mut xz = Vec::new();
        xz2::read::XzEncoder::new(&archive[..], 6)
            .read_to_end(&mut xz)
            .unwrap();
        xz.resize(4096, 0);
        assert_eq!(cpio::extract(&xz).unwrap(), CONFIG);
        // Another file before the config, as a hand-made archive may have.
        let mut two = cpio::archive("etc/other", b"x");
        two.extend(cpio::archive(CONFIG_NAME, CONFIG));
        assert_eq!(cpio::find(&two, CONFIG_NAME).unwrap(), CONFIG);
        assert!(cpio::find(&cpio::archive("x", b"y"), CONFIG_NAME).is_err());
        assert!(cpio::extract(b"garbage").is_err());
    }
}
