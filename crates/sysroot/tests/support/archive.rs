//! A small signed Debian archive for the layering tests: packages built with
//! `dpkg-deb`, indexed by `apt-ftparchive`, signed with a throwaway `gpg` key, served
//! over HTTP on loopback by a thread; and a base tree with a shell and a dpkg database
//! (the host's `dash` and the C library it needs), apt sources naming the archive.
#![allow(dead_code)]

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use ferro_sys::CommandRunExt;

/// Whether the tools the layering tests need are here (and we are root); prints why
/// a test is skipped when not.
pub fn can_layer(test: &str) -> bool {
    use std::os::unix::fs::MetadataExt;
    if fs::metadata("/proc/self").map(|m| m.uid()).unwrap_or(1) != 0 {
        eprintln!("skipping {test}: needs root (dpkg --root, mount namespaces)");
        return false;
    }
    for tool in ["dpkg-deb", "apt-ftparchive", "gpg", "unshare", "dash"] {
        let found = std::env::var_os("PATH")
            .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(tool).is_file()));
        if !found {
            eprintln!("skipping {test}: `{tool}` is not installed (scripts/install-deps.sh)");
            return false;
        }
    }
    true
}

/// One package of the archive.
#[derive(Default, Clone)]
pub struct Pkg {
    pub name: &'static str,
    pub version: &'static str,
    pub depends: &'static str,
    pub conflicts: &'static str,
    /// The `postinst` body (a `#!/bin/sh` script), if any.
    pub postinst: &'static str,
    /// Extra files: (path in the tree, content).
    pub files: Vec<(&'static str, &'static str)>,
}

impl Pkg {
    pub fn new(name: &'static str, version: &'static str) -> Self {
        Pkg {
            name,
            version,
            ..Pkg::default()
        }
    }

    /// Builds the `.deb` into `dir`; returns its path.
    pub fn build(&self, work: &Path, dir: &Path) -> PathBuf {
        let src = work.join(format!("src-{}-{}", self.name, self.version));
        let _ = fs::remove_dir_all(&src);
        let data = src.join(format!("usr/share/{}", self.name));
        fs::create_dir_all(&data).unwrap();
        fs::write(
            data.join("data"),
            format!("{} {}\n", self.name, self.version),
        )
        .unwrap();
        for (path, content) in &self.files {
            let p = src.join(path);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, content).unwrap();
        }
        fs::create_dir_all(src.join("DEBIAN")).unwrap();
        let mut control = format!(
            "Package: {}\nVersion: {}\nArchitecture: all\nMaintainer: Test <t@example.org>\n\
             Description: test package {}\n",
            self.name, self.version, self.name
        );
        if !self.depends.is_empty() {
            control.push_str(&format!("Depends: {}\n", self.depends));
        }
        if !self.conflicts.is_empty() {
            control.push_str(&format!("Conflicts: {}\n", self.conflicts));
        }
        fs::write(src.join("DEBIAN/control"), control).unwrap();
        if !self.postinst.is_empty() {
            let p = src.join("DEBIAN/postinst");
            fs::write(&p, format!("#!/bin/sh\nset -e\n{}\n", self.postinst)).unwrap();
            fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
        }
        fs::create_dir_all(dir).unwrap();
        let deb = dir.join(format!("{}_{}_all.deb", self.name, self.version));
        Command::new("dpkg-deb")
            .args(["-Zgzip", "--root-owner-group", "-b"])
            .arg(&src)
            .arg(&deb)
            .run_get_output()
            .unwrap();
        deb
    }
}

/// A throwaway signing key.
pub struct Key {
    pub home: PathBuf,
    /// The public key, binary (for `trusted.gpg.d/*.gpg`).
    pub public: PathBuf,
}

impl Key {
    pub fn new(dir: &Path) -> Self {
        let home = dir.to_owned();
        fs::create_dir_all(&home).unwrap();
        fs::set_permissions(&home, fs::Permissions::from_mode(0o700)).unwrap();
        Command::new("gpg")
            .env("GNUPGHOME", &home)
            .args(["--batch", "--pinentry-mode", "loopback", "--passphrase", ""])
            .args([
                "--quick-gen-key",
                "ferro test archive <t@example.org>",
                "ed25519",
                "sign",
                "never",
            ])
            .run_get_output()
            .unwrap();
        let public = home.join("public.gpg");
        let out = Command::new("gpg")
            .env("GNUPGHOME", &home)
            .args(["--batch", "--export"])
            .run_get_output()
            .unwrap();
        fs::write(&public, out.stdout).unwrap();
        Key { home, public }
    }
}

/// The archive on disk and the server in front of it.
pub struct Archive {
    pub dir: PathBuf,
    work: PathBuf,
    pub url: String,
    /// While set, connections are closed unanswered: the network is down.
    pub offline: Arc<AtomicBool>,
}

impl Archive {
    /// An empty archive at `dir`, served on a loopback port.
    pub fn new(dir: &Path) -> Self {
        fs::create_dir_all(dir.join("pool")).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let root = dir.to_owned();
        let offline = Arc::new(AtomicBool::new(false));
        let down = offline.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                if down.load(Ordering::SeqCst) {
                    drop(stream);
                    continue;
                }
                let root = root.clone();
                std::thread::spawn(move || serve(&root, stream));
            }
        });
        Archive {
            dir: dir.to_owned(),
            work: dir.with_extension("src"),
            url,
            offline,
        }
    }

    /// Adds packages to the pool.
    pub fn add(&self, pkgs: &[Pkg]) {
        for p in pkgs {
            p.build(&self.work, &self.dir.join("pool"));
        }
    }

    /// Removes a package file from the pool (publish again afterwards).
    pub fn remove(&self, name: &str, version: &str) {
        fs::remove_file(self.dir.join(format!("pool/{name}_{version}_all.deb"))).unwrap();
    }

    /// Writes `Packages`, `Release` and `InRelease` (signed with `key`).
    pub fn publish(&self, key: &Key) {
        let bin = self.dir.join("dists/test/main/binary-amd64");
        fs::create_dir_all(&bin).unwrap();
        let packages = Command::new("apt-ftparchive")
            .arg("packages")
            .arg("pool")
            .current_dir(&self.dir)
            .run_get_output()
            .unwrap()
            .stdout;
        fs::write(bin.join("Packages"), &packages).unwrap();
        let release = Command::new("apt-ftparchive")
            .args([
                "-o",
                "APT::FTPArchive::Release::Suite=test",
                "-o",
                "APT::FTPArchive::Release::Codename=test",
                "-o",
                "APT::FTPArchive::Release::Components=main",
                "-o",
                "APT::FTPArchive::Release::Architectures=amd64 all",
                "release",
                "dists/test",
            ])
            .current_dir(&self.dir)
            .run_get_output()
            .unwrap()
            .stdout;
        let dists = self.dir.join("dists/test");
        fs::write(dists.join("Release"), release).unwrap();
        let _ = fs::remove_file(dists.join("InRelease"));
        Command::new("gpg")
            .env("GNUPGHOME", &key.home)
            .args(["--batch", "--yes", "--clearsign", "-o"])
            .arg(dists.join("InRelease"))
            .arg(dists.join("Release"))
            .run_get_output()
            .unwrap();
    }
}

/// Answers one HTTP request with the file under `root` (or 404), then closes.
fn serve(root: &Path, stream: TcpStream) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut first = String::new();
    if reader.read_line(&mut first).is_err() {
        return;
    }
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) if line == "\r\n" || line == "\n" => break,
            Ok(_) => {}
        }
    }
    let mut words = first.split_whitespace();
    let (method, path) = (words.next().unwrap_or(""), words.next().unwrap_or("/"));
    let rel = path.trim_start_matches('/');
    let file = root.join(rel);
    let mut stream = stream;
    let body = if rel.contains("..") {
        None
    } else {
        fs::read(&file).ok().filter(|_| file.is_file())
    };
    match body {
        Some(body) => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            if method != "HEAD" {
                let _ = stream.write_all(&body);
            }
        }
        None => {
            let _ = stream.write_all(
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
    }
}

/// Installed-package stanza of a dpkg `status` file.
pub fn status_stanza(name: &str, version: &str) -> String {
    format!(
        "Package: {name}\nStatus: install ok installed\nPriority: optional\nSection: misc\n\
         Maintainer: Test <t@example.org>\nArchitecture: all\nVersion: {version}\n\
         Description: base package {name}\n"
    )
}

/// Makes `tree` (from `make_tree`) a Debian-like base: a `/bin/sh`, a dpkg database in
/// `/usr/lib/sysimage/dpkg` with `base` packages (name, version) installed, apt
/// sources naming `url` and trusting `key`, `/etc/passwd` and `/etc/group`.
pub fn debianize(tree: &Path, base: &[(&str, &str)], url: &str, key: &Path) {
    for dir in [
        "usr/bin",
        "usr/sbin",
        "usr/lib/x86_64-linux-gnu",
        "usr/lib64",
    ] {
        fs::create_dir_all(tree.join(dir)).unwrap();
    }
    for (link, target) in [
        ("bin", "usr/bin"),
        ("sbin", "usr/sbin"),
        ("lib", "usr/lib"),
        ("lib64", "usr/lib64"),
    ] {
        let _ = symlink(target, tree.join(link));
    }
    let dash = Command::new("sh")
        .args(["-c", "command -v dash"])
        .run_get_string()
        .unwrap();
    fs::copy(dash.trim(), tree.join("usr/bin/sh")).unwrap();
    let ldd = Command::new("ldd")
        .arg(dash.trim())
        .run_get_string()
        .unwrap();
    for lib in ldd.split_whitespace().filter(|w| w.starts_with('/')) {
        let lib = Path::new(lib);
        let canonical = fs::canonicalize(lib).unwrap();
        let rel = lib.strip_prefix("/").unwrap();
        let rel = if rel.starts_with("usr") {
            rel.to_owned()
        } else {
            Path::new("usr").join(rel)
        };
        fs::create_dir_all(tree.join(&rel).parent().unwrap()).unwrap();
        fs::copy(&canonical, tree.join(&rel)).unwrap();
    }
    let db = tree.join("usr/lib/sysimage/dpkg");
    for dir in ["info", "updates", "triggers"] {
        fs::create_dir_all(db.join(dir)).unwrap();
    }
    let status: String = base
        .iter()
        .map(|(n, v)| status_stanza(n, v))
        .collect::<Vec<_>>()
        .join("\n");
    fs::write(db.join("status"), status).unwrap();
    for (name, _) in base {
        fs::write(db.join(format!("info/{name}.list")), "/.\n").unwrap();
    }
    let etc = tree.join("usr/etc");
    fs::create_dir_all(etc.join("apt/trusted.gpg.d")).unwrap();
    fs::create_dir_all(etc.join("apt/preferences.d")).unwrap();
    fs::create_dir_all(etc.join("apt/sources.list.d")).unwrap();
    fs::write(
        etc.join("apt/sources.list"),
        format!("deb {url} test main\n"),
    )
    .unwrap();
    fs::copy(key, etc.join("apt/trusted.gpg.d/test.gpg")).unwrap();
    fs::write(etc.join("passwd"), "root:x:0:0:root:/root:/bin/sh\n").unwrap();
    fs::write(etc.join("group"), "root:x:0:\n").unwrap();
    fs::create_dir_all(tree.join("var")).unwrap();
    // Stand-ins for kmod's depmod and initramfs-tools (the test base has only a
    // shell): each leaves a trace of its arguments where the real one writes.
    for (path, script) in [
        (
            "usr/sbin/depmod",
            "#!/bin/sh\necho \"depmod $*\" > \"/usr/lib/modules/$2/modules.dep\"\n",
        ),
        (
            "usr/sbin/update-initramfs",
            "#!/bin/sh\necho \"initramfs $*\" > \"/boot/initrd.img-$3\"\n",
        ),
    ] {
        fs::write(tree.join(path), script).unwrap();
        fs::set_permissions(tree.join(path), fs::Permissions::from_mode(0o755)).unwrap();
    }
}
