//! A tiny HTTP-serving container image, written as an OCI image archive.
//!
//! The test VMs reach no registry, so the image travels as a file: a tar of an OCI
//! image layout (`oci-layout`, `index.json`, `blobs/sha256/…`), which
//! `podman load -i FILE` (format `oci-archive`) and `skopeo` read directly. Its one
//! layer is a static busybox (Debian's `busybox-static`), applet symlinks, a page in
//! `/www`, minimal `/etc/passwd` and `/etc/group`, and `/tmp`; it runs
//! `busybox httpd` in the foreground on port 80.
//!
//! The output is reproducible: fixed timestamps, owner 0:0, entries in sorted order
//! and JSON with a fixed key order, so the same busybox always gives the same digests
//! and tests (or caches) can compare archives byte for byte. The layer is stored
//! uncompressed (`application/vnd.oci.image.layer.v1.tar`): it is a few MiB, loaded
//! from a local file, and its digest is then also its `diff_id`.

use std::fmt;
use std::fs;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use ferro_sys::atomic::{WriteOptions, write_file_with};
use ferro_sys::{IoError, IoResultExt};

use serde_json::json;

/// The name the image is given when the caller has no better one. `localhost/` keeps
/// podman from treating it as a Docker Hub image.
pub const DEFAULT_NAME: &str = "localhost/ferrocore/httpd:latest";

/// The busybox applets linked in `/bin`: the server, a shell and what tests use to
/// look around inside the container.
pub const APPLETS: [&str; 7] = ["cat", "echo", "httpd", "id", "ls", "sh", "sleep"];

/// The command the image runs: busybox httpd in the foreground (`-f`), logging
/// requests (`-v`), serving `/www` on port 80, under a shell that exits on SIGTERM.
/// The shell is there because the container's PID 1 gets only the signals it handles:
/// httpd handles none, so `podman stop` and the shutdown of the user's session would
/// each wait their whole timeout (90 s at a reboot) before killing it.
pub const CMD: [&str; 3] = [
    "/bin/sh",
    "-c",
    "trap 'exit 0' TERM INT; httpd -f -v -p 80 -h /www & wait",
];

/// The image's creation time, fixed so that the archive is reproducible.
pub const CREATED: &str = "2024-01-01T00:00:00Z";

/// [`CREATED`] in seconds since the epoch: the mtime of every tar entry.
const MTIME: u64 = 1_704_067_200;

/// The page served at `/`.
pub const INDEX_HTML: &str = "<!DOCTYPE html>\n<html><head><title>ferrocore</title></head>\n\
<body><h1>Hello from ferrocore</h1></body></html>\n";

const PASSWD: &str = "root:x:0:0:root:/:/bin/sh\n\
www-data:x:33:33:www-data:/www:/usr/sbin/nologin\n\
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n";

const GROUP: &str = "root:x:0:\nwww-data:x:33:\nnogroup:x:65534:\n";

const MEDIA_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const MEDIA_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const MEDIA_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
const MEDIA_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";

/// The OCI annotation holding the reference name; per the spec it is the tag alone.
const ANNOTATION_REF_NAME: &str = "org.opencontainers.image.ref.name";
/// containerd's annotation holding the full image name. Podman's `load` names the
/// image from it when present (and from the ref name otherwise, which would turn the
/// bare tag `latest` into the image `localhost/latest:latest`).
const ANNOTATION_IMAGE_NAME: &str = "io.containerd.image.name";

/// A content digest: the SHA-256 of a blob, displayed as OCI writes it
/// (`sha256:<64 hex digits>`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Digest(String);

impl Digest {
    /// The digest of `bytes` (the same SHA-256 the object store names objects by).
    pub fn of(bytes: &[u8]) -> Self {
        Digest(ferro_ostree::Checksum::of(bytes).to_hex())
    }

    /// The hex digits alone: the blob's file name under `blobs/sha256/`.
    pub fn hex(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.0)
    }
}

/// What was written, for reporting and for finding the image after loading it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpdImage {
    /// The full image name with its tag, as podman will list it.
    pub name: String,
    /// The manifest's digest (the image's digest).
    pub manifest: Digest,
    /// The config's digest; podman's image ID is its hex digits.
    pub config: Digest,
    /// The layer's digest, which is also its `diff_id` (it is not compressed).
    pub layer: Digest,
}

/// Why the image could not be written.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The image name is not a valid `[registry/]repository[:tag]` reference.
    #[error("invalid image name '{name}': {reason}")]
    Name {
        /// The name given.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Reading busybox or writing the archive.
    #[error(transparent)]
    Io(#[from] IoError),
}

/// Writes an OCI image archive to `output` (replacing it atomically through
/// `ferro_sys::atomic`: the archive is named only when complete and synced)
/// holding an image named `name` (e.g. [`DEFAULT_NAME`]; without a tag, `:latest` is
/// added) that serves a static page with the static busybox binary at `busybox`.
pub fn write_httpd_image(busybox: &Path, name: &str, output: &Path) -> Result<HttpdImage, Error> {
    let (name, tag) = parse_name(name)?;
    let busybox = fs::read(busybox).at("read the busybox binary", busybox)?;
    let blobs = Blobs::new(&busybox, &name, &tag).at("build the image for", output)?;

    write_file_with(output, WriteOptions::replace(0o644), |file| {
        blobs.write_archive(BufWriter::new(file))
    })?;
    Ok(HttpdImage {
        name,
        manifest: blobs.manifest.0,
        config: blobs.config.0,
        layer: blobs.layer.0,
    })
}

/// Splits `name` into the full name (with `:latest` added if it has no tag) and the
/// tag, checking it against the reference grammar podman accepts: lowercase path
/// components (an optional registry host first, which may carry a port) and a tag
/// of at most 128 word characters, dots and dashes. Digest references are refused:
/// an archive cannot choose its own digest.
fn parse_name(name: &str) -> Result<(String, String), Error> {
    let bad = |reason| Error::Name {
        name: name.to_owned(),
        reason,
    };
    if name.contains('@') {
        return Err(bad("a digest reference cannot name an image being written"));
    }
    let slash = name.rfind('/');
    let (repo, tag) = match name.rfind(':') {
        Some(colon) if slash.is_none_or(|slash| colon > slash) => {
            (&name[..colon], &name[colon + 1..])
        }
        _ => (name, "latest"),
    };
    if repo.is_empty() {
        return Err(bad("the repository is empty"));
    }
    let components: Vec<&str> = repo.split('/').collect();
    for (i, component) in components.iter().enumerate() {
        let is_host = i == 0
            && components.len() > 1
            && (component.contains(['.', ':']) || *component == "localhost");
        let allowed = |c: char| {
            c.is_ascii_digit()
                || c.is_ascii_lowercase()
                || matches!(c, '.' | '_' | '-')
                || (is_host && (c == ':' || c.is_ascii_uppercase()))
        };
        if component.is_empty() {
            return Err(bad("a path component is empty"));
        }
        if !component.chars().all(allowed) {
            return Err(bad(
                "repository path components take lowercase letters, digits, '.', '_' and '-'",
            ));
        }
        if !component.starts_with(|c: char| c.is_ascii_alphanumeric())
            || !component.ends_with(|c: char| c.is_ascii_alphanumeric())
        {
            return Err(bad("path components start and end with a letter or digit"));
        }
    }
    let tag_ok = !tag.is_empty()
        && tag.len() <= 128
        && !tag.starts_with(['.', '-'])
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if !tag_ok {
        return Err(bad(
            "the tag has 1 to 128 letters, digits, '_', '.' or '-' and starts with neither '.' nor '-'",
        ));
    }
    Ok((format!("{repo}:{tag}"), tag.to_owned()))
}

/// The image's blobs and its `index.json`, in memory (the layer is the size of
/// busybox, a few MiB).
struct Blobs {
    layer: (Digest, Vec<u8>),
    config: (Digest, Vec<u8>),
    manifest: (Digest, Vec<u8>),
    index: Vec<u8>,
}

impl Blobs {
    fn new(busybox: &[u8], name: &str, tag: &str) -> io::Result<Self> {
        let layer = layer_tar(busybox)?;
        let layer = (Digest::of(&layer), layer);
        let config = json_blob(&json!({
            "created": CREATED,
            "architecture": "amd64",
            "os": "linux",
            "config": {
                "Env": ["PATH=/bin"],
                "Cmd": CMD,
                "ExposedPorts": { "80/tcp": {} },
            },
            "rootfs": {
                "type": "layers",
                "diff_ids": [layer.0.to_string()],
            },
            "history": [{
                "created": CREATED,
                "created_by": "ferrocore: busybox httpd serving /www",
            }],
        }));
        let manifest = json_blob(&json!({
            "schemaVersion": 2,
            "mediaType": MEDIA_MANIFEST,
            "config": descriptor(MEDIA_CONFIG, &config),
            "layers": [descriptor(MEDIA_LAYER, &layer)],
        }));
        let mut entry = descriptor(MEDIA_MANIFEST, &manifest);
        entry["platform"] = json!({ "architecture": "amd64", "os": "linux" });
        entry["annotations"] = json!({
            ANNOTATION_IMAGE_NAME: name,
            ANNOTATION_REF_NAME: tag,
        });
        let index = json_blob(&json!({
            "schemaVersion": 2,
            "mediaType": MEDIA_INDEX,
            "manifests": [entry],
        }))
        .1;
        Ok(Blobs {
            layer,
            config,
            manifest,
            index,
        })
    }

    /// Writes the image layout as a tar to `out`, entries in sorted order.
    fn write_archive<W: Write>(&self, out: W) -> io::Result<()> {
        let blobs = [&self.layer, &self.config, &self.manifest];
        let paths: Vec<String> = blobs
            .iter()
            .map(|(digest, _)| format!("blobs/sha256/{}", digest.hex()))
            .collect();
        let mut entries = vec![
            Entry::dir("blobs/", 0o755),
            Entry::dir("blobs/sha256/", 0o755),
            Entry::file("index.json", 0o644, &self.index),
            Entry::file("oci-layout", 0o644, br#"{"imageLayoutVersion":"1.0.0"}"#),
        ];
        for (path, (_, bytes)) in paths.iter().zip(blobs) {
            entries.push(Entry::file(path, 0o644, bytes));
        }
        let mut out = write_tar(out, entries)?;
        out.flush()
    }
}

/// The descriptor of a blob: its media type, digest and size.
fn descriptor(media_type: &str, (digest, bytes): &(Digest, Vec<u8>)) -> serde_json::Value {
    json!({
        "mediaType": media_type,
        "digest": digest.to_string(),
        "size": bytes.len(),
    })
}

fn json_blob(value: &serde_json::Value) -> (Digest, Vec<u8>) {
    let bytes = value.to_string().into_bytes();
    (Digest::of(&bytes), bytes)
}

/// The image's one layer: an uncompressed tar of the root filesystem.
fn layer_tar(busybox: &[u8]) -> io::Result<Vec<u8>> {
    let links: Vec<String> = APPLETS.iter().map(|a| format!("bin/{a}")).collect();
    let mut entries = vec![
        Entry::dir("bin/", 0o755),
        Entry::file("bin/busybox", 0o755, busybox),
        Entry::dir("etc/", 0o755),
        Entry::file("etc/group", 0o644, GROUP.as_bytes()),
        Entry::file("etc/passwd", 0o644, PASSWD.as_bytes()),
        Entry::dir("tmp/", 0o1777),
        Entry::dir("www/", 0o755),
        Entry::file("www/index.html", 0o644, INDEX_HTML.as_bytes()),
    ];
    entries.extend(links.iter().map(|link| Entry {
        path: link,
        mode: 0o777,
        kind: Kind::Symlink("busybox"),
    }));
    write_tar(Vec::new(), entries)
}

struct Entry<'a> {
    path: &'a str,
    mode: u32,
    kind: Kind<'a>,
}

enum Kind<'a> {
    Dir,
    File(&'a [u8]),
    Symlink(&'a str),
}

impl<'a> Entry<'a> {
    fn dir(path: &'a str, mode: u32) -> Self {
        Entry {
            path,
            mode,
            kind: Kind::Dir,
        }
    }

    fn file(path: &'a str, mode: u32, data: &'a [u8]) -> Self {
        Entry {
            path,
            mode,
            kind: Kind::File(data),
        }
    }
}

/// Writes `entries` sorted by path as a ustar archive owned by 0:0 with mtime
/// [`MTIME`], and returns the writer.
fn write_tar<W: Write>(out: W, mut entries: Vec<Entry<'_>>) -> io::Result<W> {
    entries.sort_by(|a, b| a.path.cmp(b.path));
    let mut tar = tar::Builder::new(out);
    for entry in &entries {
        let mut header = tar::Header::new_ustar();
        header.set_mode(entry.mode);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(MTIME);
        match entry.kind {
            Kind::Dir => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_size(0);
                tar.append_data(&mut header, entry.path, io::empty())?;
            }
            Kind::File(data) => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_size(data.len() as u64);
                tar.append_data(&mut header, entry.path, data)?;
            }
            Kind::Symlink(target) => {
                header.set_entry_type(tar::EntryType::Symlink);
                header.set_size(0);
                tar.append_link(&mut header, entry.path, target)?;
            }
        }
    }
    tar.into_inner()
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use std::collections::BTreeMap;
    use std::io::Read;

    const FAKE_BUSYBOX: &[u8] = b"\x7fELF not really busybox\n";

    /// One tar entry read back: its header fields and contents.
    #[derive(Debug)]
    struct Member {
        kind: tar::EntryType,
        mode: u32,
        uid: u64,
        gid: u64,
        mtime: u64,
        link: Option<String>,
        data: Vec<u8>,
    }

    /// The entries of a tar, in archive order.
    fn read_tar(bytes: &[u8]) -> Vec<(String, Member)> {
        let mut archive = tar::Archive::new(bytes);
        let mut out = Vec::new();
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let path = String::from_utf8(entry.path_bytes().into_owned()).unwrap();
            let header = entry.header();
            let mut read = Member {
                kind: header.entry_type(),
                mode: header.mode().unwrap(),
                uid: header.uid().unwrap(),
                gid: header.gid().unwrap(),
                mtime: header.mtime().unwrap(),
                link: entry
                    .link_name()
                    .unwrap()
                    .map(|l| l.to_str().unwrap().to_owned()),
                data: Vec::new(),
            };
            entry.read_to_end(&mut read.data).unwrap();
            out.push((path, read));
        }
        out
    }

    fn build(dir: &Path, file: &str, busybox: &[u8], name: &str) -> (HttpdImage, Vec<u8>) {
        let bb = dir.join("busybox");
        fs::write(&bb, busybox).unwrap();
        let output = dir.join(file);
        let image = write_httpd_image(&bb, name, &output).unwrap();
        (image, fs::read(&output).unwrap())
    }

    fn sha256_hex(bytes: &[u8]) -> String {
        Digest::of(bytes).hex().to_owned()
    }

    fn parse(bytes: &[u8]) -> serde_json::Value {
        serde_json::from_slice(bytes).unwrap()
    }

    /// Follows a descriptor to its blob, checking digest and size.
    fn follow<'a>(
        files: &'a BTreeMap<String, Member>,
        descriptor: &serde_json::Value,
        media_type: &str,
    ) -> &'a [u8] {
        assert_eq!(descriptor["mediaType"], media_type);
        let digest = descriptor["digest"].as_str().unwrap();
        let hex = digest.strip_prefix("sha256:").unwrap();
        let blob = &files[&format!("blobs/sha256/{hex}")].data;
        assert_eq!(descriptor["size"].as_u64().unwrap(), blob.len() as u64);
        assert_eq!(sha256_hex(blob), hex);
        blob
    }

    #[test]
    fn archive_is_a_consistent_oci_layout() {
        let dir = tempfile::tempdir().unwrap();
        let (image, archive) = build(dir.path(), "httpd.tar", FAKE_BUSYBOX, DEFAULT_NAME);
        let entries = read_tar(&archive);
        let paths: Vec<&str> = entries.iter().map(|(p, _)| p.as_str()).collect();
        let mut sorted = paths.clone();
        sorted.sort();
        assert_eq!(paths, sorted, "entries are in sorted order");
        let files: BTreeMap<String, Member> = entries.into_iter().collect();

        // Exactly the layout's files and three blobs, each named by its digest.
        let blobs: Vec<&String> = files
            .keys()
            .filter(|p| p.starts_with("blobs/sha256/") && p.len() > 13)
            .collect();
        assert_eq!(blobs.len(), 3);
        for path in &blobs {
            let hex = path.strip_prefix("blobs/sha256/").unwrap();
            assert_eq!(sha256_hex(&files[*path].data), hex, "{path}");
        }
        assert_eq!(files.len(), 3 + 4);
        assert_eq!(files["blobs/"].kind, tar::EntryType::Directory);
        assert_eq!(files["blobs/sha256/"].kind, tar::EntryType::Directory);
        for entry in files.values() {
            assert_eq!((entry.uid, entry.gid, entry.mtime), (0, 0, MTIME));
        }

        assert_eq!(
            parse(&files["oci-layout"].data),
            json!({ "imageLayoutVersion": "1.0.0" })
        );

        // index.json → manifest.
        let index = parse(&files["index.json"].data);
        assert_eq!(index["schemaVersion"], 2);
        let manifests = index["manifests"].as_array().unwrap();
        assert_eq!(manifests.len(), 1);
        let annotations = &manifests[0]["annotations"];
        assert_eq!(annotations[ANNOTATION_REF_NAME], "latest");
        assert_eq!(annotations[ANNOTATION_IMAGE_NAME], DEFAULT_NAME);
        assert_eq!(manifests[0]["digest"], image.manifest.to_string());
        let manifest = parse(follow(&files, &manifests[0], MEDIA_MANIFEST));

        // manifest → config and layer.
        assert_eq!(manifest["schemaVersion"], 2);
        assert_eq!(manifest["config"]["digest"], image.config.to_string());
        let config = parse(follow(&files, &manifest["config"], MEDIA_CONFIG));
        let layers = manifest["layers"].as_array().unwrap();
        assert_eq!(layers.len(), 1);
        assert_eq!(layers[0]["digest"], image.layer.to_string());
        let layer = follow(&files, &layers[0], MEDIA_LAYER);

        // The config describes the layer and the server.
        assert_eq!(config["architecture"], "amd64");
        assert_eq!(config["os"], "linux");
        assert_eq!(config["created"], CREATED);
        assert_eq!(
            config["rootfs"],
            json!({ "type": "layers", "diff_ids": [format!("sha256:{}", sha256_hex(layer))] })
        );
        assert_eq!(
            config["config"]["Cmd"],
            json!([
                "/bin/sh",
                "-c",
                "trap 'exit 0' TERM INT; httpd -f -v -p 80 -h /www & wait"
            ])
        );
        assert_eq!(config["config"]["ExposedPorts"], json!({ "80/tcp": {} }));
        assert_eq!(image.name, DEFAULT_NAME);
    }

    #[test]
    fn layer_holds_busybox_links_page_and_accounts() {
        let layer = layer_tar(FAKE_BUSYBOX).unwrap();
        let entries = read_tar(&layer);
        let paths: Vec<&str> = entries.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            paths,
            [
                "bin/",
                "bin/busybox",
                "bin/cat",
                "bin/echo",
                "bin/httpd",
                "bin/id",
                "bin/ls",
                "bin/sh",
                "bin/sleep",
                "etc/",
                "etc/group",
                "etc/passwd",
                "tmp/",
                "www/",
                "www/index.html",
            ]
        );
        let files: BTreeMap<String, Member> = entries.into_iter().collect();
        for (path, entry) in &files {
            assert_eq!((entry.uid, entry.gid, entry.mtime), (0, 0, MTIME), "{path}");
        }
        let is = |path: &str, kind: tar::EntryType, mode: u32| {
            let entry = &files[path];
            assert_eq!((entry.kind, entry.mode), (kind, mode), "{path}");
        };
        use tar::EntryType::{Directory, Regular, Symlink};
        is("bin/", Directory, 0o755);
        is("bin/busybox", Regular, 0o755);
        is("etc/", Directory, 0o755);
        is("etc/passwd", Regular, 0o644);
        is("etc/group", Regular, 0o644);
        is("tmp/", Directory, 0o1777);
        is("www/", Directory, 0o755);
        is("www/index.html", Regular, 0o644);
        for applet in APPLETS {
            let path = format!("bin/{applet}");
            is(&path, Symlink, 0o777);
            assert_eq!(files[&path].link.as_deref(), Some("busybox"));
        }
        assert_eq!(files["bin/busybox"].data, FAKE_BUSYBOX);
        let page = String::from_utf8(files["www/index.html"].data.clone()).unwrap();
        assert!(page.contains("<h1>Hello from ferrocore</h1>"));
        let passwd = String::from_utf8(files["etc/passwd"].data.clone()).unwrap();
        assert_eq!(passwd.lines().next(), Some("root:x:0:0:root:/:/bin/sh"));
        assert!(passwd.lines().any(|l| l.starts_with("www-data:x:33:33:")));
        assert!(passwd.lines().any(|l| l.starts_with("nobody:x:65534:")));
        let group = String::from_utf8(files["etc/group"].data.clone()).unwrap();
        assert!(group.lines().any(|l| l == "www-data:x:33:"));
    }

    #[test]
    fn builds_are_byte_identical() {
        let dir = tempfile::tempdir().unwrap();
        let (first, a) = build(dir.path(), "a.tar", FAKE_BUSYBOX, DEFAULT_NAME);
        let (second, b) = build(dir.path(), "b.tar", FAKE_BUSYBOX, DEFAULT_NAME);
        assert_eq!(first, second);
        assert!(a == b, "two builds differ");
        // A different busybox is a different image.
        let (third, _) = build(dir.path(), "c.tar", b"another busybox", DEFAULT_NAME);
        assert_ne!(third.layer, first.layer);
        assert_ne!(third.manifest, first.manifest);
    }

    #[test]
    fn output_is_replaced_atomically_and_readable() {
        let dir = tempfile::tempdir().unwrap();
        let output = dir.path().join("httpd.tar");
        fs::write(&output, "old").unwrap();
        build(dir.path(), "httpd.tar", FAKE_BUSYBOX, DEFAULT_NAME);
        assert_ne!(fs::read(&output).unwrap(), b"old");
        let mode = fs::metadata(&output).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o644);
        let mut names: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["busybox", "httpd.tar"], "no temporary file is left");
    }

    #[test]
    fn missing_busybox_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let output = dir.path().join("httpd.tar");
        let err = write_httpd_image(&dir.path().join("nope"), DEFAULT_NAME, &output).unwrap_err();
        assert!(matches!(err, Error::Io(_)), "{err}");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn names_get_a_tag_and_bad_names_are_refused() {
        let ok = |name: &str, full: &str, tag: &str| {
            assert_eq!(
                parse_name(name).unwrap(),
                (full.to_owned(), tag.to_owned()),
                "{name}"
            );
        };
        ok(DEFAULT_NAME, DEFAULT_NAME, "latest");
        ok("localhost/ferrocore/httpd", DEFAULT_NAME, "latest");
        ok("localhost:5000/web:v1.2", "localhost:5000/web:v1.2", "v1.2");
        ok("httpd:test_1", "httpd:test_1", "test_1");
        for bad in [
            "",
            ":latest",
            "web:",
            "Web:latest",
            "a//b",
            "a/-b",
            "web:-x",
            "web@sha256:0000",
            "web:has space",
        ] {
            assert!(
                matches!(parse_name(bad), Err(Error::Name { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn the_tag_annotation_follows_the_name() {
        let dir = tempfile::tempdir().unwrap();
        let (image, archive) = build(dir.path(), "t.tar", FAKE_BUSYBOX, "localhost/web:v2");
        assert_eq!(image.name, "localhost/web:v2");
        let files: BTreeMap<String, Member> = read_tar(&archive).into_iter().collect();
        let index = parse(&files["index.json"].data);
        let annotations = &index["manifests"][0]["annotations"];
        assert_eq!(annotations[ANNOTATION_REF_NAME], "v2");
        assert_eq!(annotations[ANNOTATION_IMAGE_NAME], "localhost/web:v2");
    }
}
