//! A seeded, structure-aware generator of Butane configs for differential testing.
//!
//! Every case is a function of `(seed, index)` alone, so a divergence found among
//! thousands of cases is reproduced by regenerating just that index. The generator
//! knows Butane's schema (every variant and version, every field and sugar of the
//! reference), picks valid values most of the time and invalid ones some of the time,
//! lays out a files directory (files, trees with symlinks, FIFOs and unreadable entries)
//! and, for some cases, damages the YAML text itself (tabs, indentation, quotes,
//! duplicate keys, anchors) so the parser's error wording is exercised as well.
//!
//! It has no dependencies so any test crate can include it with `#[path]`.

#![allow(dead_code)]

use std::fmt::Write as _;

/// SplitMix64: tiny, fast and good enough to drive a generator; a fixed algorithm keeps
/// the cases identical across platforms and Rust versions.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64, index: u64) -> Self {
        let mut rng = Rng(seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        rng.next();
        rng
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u32) -> bool {
        self.below(100) < percent as usize
    }

    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    pub fn pick_ref<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// A YAML tree rendered in block style; scalars hold their YAML text already quoted.
#[derive(Clone, Debug)]
pub enum Node {
    Map(Vec<(String, Node)>),
    Seq(Vec<Node>),
    Scalar(String),
    /// A literal block scalar (`|`), rendered on the following lines.
    Block(String),
}

impl Node {
    fn str(text: &str) -> Node {
        Node::Scalar(quote(text))
    }
    fn raw(text: &str) -> Node {
        Node::Scalar(text.to_owned())
    }
    fn is_empty_collection(&self) -> bool {
        matches!(self, Node::Map(m) if m.is_empty()) || matches!(self, Node::Seq(s) if s.is_empty())
    }
}

/// `text` as a YAML scalar that reads back as the same string: plain when that is safe,
/// double-quoted (with escapes) otherwise.
pub fn quote(text: &str) -> String {
    let plain_ok = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-@=+".contains(c))
        && !text.starts_with(['-', '@', '.', '='])
        && !matches!(
            text.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "y" | "n" | "~"
        )
        && text.parse::<f64>().is_err()
        && !text.starts_with(|c: char| c.is_ascii_digit());
    if plain_ok {
        return text.to_owned();
    }
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

pub fn render(node: &Node) -> String {
    let mut out = String::new();
    match node {
        Node::Map(entries) => render_map(entries, 0, &mut out),
        other => {
            render_value(other, 0, &mut out);
        }
    }
    out
}

fn render_map(entries: &[(String, Node)], indent: usize, out: &mut String) {
    for (key, value) in entries {
        out.push_str(&" ".repeat(indent));
        out.push_str(key);
        out.push(':');
        render_after_key(value, indent, out);
    }
}

fn render_after_key(value: &Node, indent: usize, out: &mut String) {
    match value {
        Node::Scalar(s) => {
            out.push(' ');
            out.push_str(s);
            out.push('\n');
        }
        Node::Block(text) => {
            out.push_str(" |\n");
            block_lines(text, indent + 2, out);
        }
        Node::Map(m) if m.is_empty() => out.push_str(" {}\n"),
        Node::Seq(s) if s.is_empty() => out.push_str(" []\n"),
        Node::Map(m) => {
            out.push('\n');
            render_map(m, indent + 2, out);
        }
        Node::Seq(items) => {
            out.push('\n');
            render_seq(items, indent + 2, out);
        }
    }
}

fn block_lines(text: &str, indent: usize, out: &mut String) {
    for line in text.lines() {
        if !line.is_empty() {
            out.push_str(&" ".repeat(indent));
            out.push_str(line);
        }
        out.push('\n');
    }
}

fn render_seq(items: &[Node], indent: usize, out: &mut String) {
    for item in items {
        out.push_str(&" ".repeat(indent));
        out.push('-');
        match item {
            Node::Map(m) if !m.is_empty() => {
                // The first key shares the dash's line.
                let (key, value) = &m[0];
                out.push(' ');
                out.push_str(key);
                out.push(':');
                render_after_key(value, indent + 2, out);
                render_map(&m[1..], indent + 2, out);
            }
            other => render_after_key(other, indent, out),
        }
    }
}

fn render_value(node: &Node, indent: usize, out: &mut String) {
    match node {
        Node::Map(m) => render_map(m, indent, out),
        Node::Seq(s) => render_seq(s, indent, out),
        Node::Scalar(s) => {
            out.push_str(s);
            out.push('\n');
        }
        Node::Block(t) => {
            out.push_str("|\n");
            block_lines(t, indent + 2, out);
        }
    }
}

/// One entry of a case's files directory (paths relative to it).
#[derive(Clone, Debug)]
pub enum Entry {
    File {
        path: String,
        data: Vec<u8>,
        mode: u32,
    },
    Dir {
        path: String,
        mode: u32,
    },
    Symlink {
        path: String,
        target: String,
    },
    Fifo {
        path: String,
    },
}

impl Entry {
    fn file(path: &str, data: &[u8], mode: u32) -> Self {
        Entry::File {
            path: path.into(),
            data: data.to_vec(),
            mode,
        }
    }
    fn dir(path: &str, mode: u32) -> Self {
        Entry::Dir {
            path: path.into(),
            mode,
        }
    }
    fn symlink(path: &str, target: &str) -> Self {
        Entry::Symlink {
            path: path.into(),
            target: target.into(),
        }
    }
}

/// One generated case: the config text, its files directory and the command-line flags.
#[derive(Clone, Debug)]
pub struct Case {
    pub index: u64,
    pub yaml: String,
    pub entries: Vec<Entry>,
    /// Flags other than the input path, e.g. `--strict`, `-d`, `files`.
    pub args: Vec<String>,
    /// Run both tools as an unprivileged user, so unreadable entries are unreadable.
    pub unprivileged: bool,
}

/// The files directory's name inside the case directory.
pub const FILES_DIR: &str = "files";

const VARIANTS: &[(&str, &[&str])] = &[
    (
        "fcos",
        &[
            "1.0.0",
            "1.1.0",
            "1.2.0",
            "1.3.0",
            "1.4.0",
            "1.5.0",
            "1.6.0",
            "1.7.0",
            "1.8.0-experimental",
        ],
    ),
    ("flatcar", &["1.0.0", "1.1.0", "1.2.0-experimental"]),
    (
        "openshift",
        &[
            "4.8.0",
            "4.9.0",
            "4.10.0",
            "4.11.0",
            "4.12.0",
            "4.13.0",
            "4.14.0",
            "4.15.0",
            "4.16.0",
            "4.17.0",
            "4.18.0",
            "4.19.0",
            "4.20.0",
            "4.21.0",
            "4.22.0",
            "4.23.0-experimental",
        ],
    ),
    ("r4e", &["1.0.0", "1.1.0", "1.2.0-experimental"]),
    ("fiot", &["1.0.0", "1.1.0-experimental"]),
];

/// What the chosen variant/version supports, as the fcos version it corresponds to
/// (minor number; 8 = 1.8.0-experimental).
struct Target {
    variant: &'static str,
    level: u32,
}

impl Target {
    fn new(variant: &'static str, version: &str) -> Self {
        let minor: u32 = version
            .split('.')
            .nth(1)
            .and_then(|m| m.parse().ok())
            .unwrap_or(0);
        let level = match variant {
            "fcos" => minor,
            "flatcar" | "r4e" => [4, 5, 8][minor.min(2) as usize],
            "fiot" => [5, 8][minor.min(1) as usize],
            "openshift" => match minor {
                0..=13 => 3,
                14..=18 => 5,
                19..=22 => 6,
                _ => 8,
            },
            _ => 7,
        };
        Target { variant, level }
    }
}

struct Gen<'a> {
    rng: &'a mut Rng,
    target: Target,
    /// Names of entries in the files directory that configs may refer to.
    local_files: Vec<String>,
    local_dirs: Vec<String>,
    uses_local: bool,
    /// Percent chance of an invalid value where one is possible.
    bad: u32,
    /// Percent chance of each optional field.
    density: u32,
}

const PATHS: &[&str] = &[
    "/etc/hostname",
    "/etc/motd",
    "/var/lib/app/config.toml",
    "/etc/ssh/sshd_config.d/20-x.conf",
    "/usr/local/bin/tool",
    "/etc/a b",
    "/etc/ünicode",
    "/home/core/.bashrc",
    "/etc/containers/systemd/x.container",
    "/boot/grub2/user.cfg",
    "/",
    "/etc",
];
const BAD_PATHS: &[&str] = &["relative/path", "", "/etc/../etc/x", "etc", "/etc/x/"];
const DEVICES: &[&str] = &[
    "/dev/vda",
    "/dev/sda",
    "/dev/disk/by-id/virtio-x",
    "/dev/disk/by-partlabel/var",
    "/dev/mapper/root",
    "/dev/mapper/data",
    "/dev/md/md-data",
    "/dev/disk/by-label/boot",
    "/dev/disk/by-id/dm-name-data",
];
const URLS: &[&str] = &[
    "https://example.com/file",
    "http://example.com/x.ign",
    "s3://bucket/key",
    "gs://bucket/obj",
    "tftp://10.0.0.1/x",
    "arn:aws:s3:::bucket/key",
    "data:,hello",
    "data:;base64,aGVsbG8=",
    "ftp://example.com/x",
    "not a url",
    "https://exa mple.com/",
];
const TEXTS: &[&str] = &[
    "",
    "hello",
    "Hello, world!",
    "line one\nline two\n",
    "<html>&amp;</html>",
    "tab\there",
    "ünïcödé ✓",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "\u{2028}sep",
    "%20 already escaped",
    "~!*'()_-.",
];

impl Gen<'_> {
    fn c(&mut self, percent: u32) -> bool {
        self.rng.chance(percent)
    }
    /// With `percent` chance, the field `key` made by `make` (drawn after the chance).
    fn field(
        &mut self,
        m: &mut Vec<(String, Node)>,
        percent: u32,
        key: &str,
        make: impl FnOnce(&mut Self) -> Node,
    ) {
        if self.c(percent) {
            let value = make(self);
            m.push((key.into(), value));
        }
    }
    /// With `percent` chance, the list field `key` of 1 to `most` items made by `item`.
    fn list_field(
        &mut self,
        m: &mut Vec<(String, Node)>,
        percent: u32,
        key: &str,
        most: usize,
        item: impl Fn(&mut Self) -> Node,
    ) {
        self.field(m, percent, key, |g| {
            let count = 1 + g.rng.below(most);
            Node::Seq((0..count).map(|_| item(g)).collect())
        });
    }
    /// With `percent` chance, the field `key` set to one of `choices`.
    fn pick_field(
        &mut self,
        m: &mut Vec<(String, Node)>,
        percent: u32,
        key: &str,
        choices: &[&str],
    ) {
        self.field(m, percent, key, |g| Node::str(g.rng.pick(choices)));
    }
    fn opt(&mut self) -> bool {
        let d = self.density;
        self.c(d)
    }
    fn bad(&mut self) -> bool {
        let b = self.bad;
        self.c(b)
    }

    fn path(&mut self) -> Node {
        if self.bad() {
            Node::str(self.rng.pick(BAD_PATHS))
        } else if self.c(30) {
            let n = self.rng.below(40);
            Node::str(&format!("/etc/gen/f{n}"))
        } else {
            Node::str(self.rng.pick(PATHS))
        }
    }

    fn text(&mut self) -> String {
        if self.c(10) {
            // Long and compressible, or long and random-ish: both sides of the gzip rule.
            let n = 50 + self.rng.below(400);
            if self.c(50) {
                "abc ".repeat(n)
            } else {
                (0..n)
                    .map(|_| (b'!' + self.rng.below(90) as u8) as char)
                    .collect()
            }
        } else {
            self.rng.pick(TEXTS).to_owned()
        }
    }

    fn text_node(&mut self) -> Node {
        let t = self.text();
        if t.contains('\n') && !t.starts_with([' ', '\n']) && self.c(60) {
            Node::Block(t)
        } else {
            Node::str(&t)
        }
    }

    fn bool(&mut self) -> Node {
        if self.bad() {
            Node::raw(self.rng.pick(&["maybe", "2", "\"true\"", "[]"]))
        } else {
            Node::raw(
                self.rng
                    .pick(&["true", "false", "yes", "no", "on", "off", "True"]),
            )
        }
    }

    fn int(&mut self, values: &[i64]) -> Node {
        if self.bad() {
            Node::raw(
                self.rng
                    .pick(&["abc", "1.5", "-1", "99999999999999999999", "{}"]),
            )
        } else {
            Node::raw(&self.rng.pick(values).to_string())
        }
    }

    fn mode(&mut self) -> Node {
        let modes: &[u32] = &[
            0o644, 0o755, 0o600, 0o400, 0o700, 0o777, 0o4755, 0o2755, 0o1777, 0o640, 0o000, 0o111,
            0o7777, 0o10000,
        ];
        let m = self.rng.pick(modes);
        let text = match self.rng.below(5) {
            0 => format!("0{m:o}"),
            1 => format!("0o{m:o}"),
            2 => m.to_string(),
            // The decimal typo: octal digits written without the leading zero.
            3 => format!("{m:o}"),
            _ => format!("0{m:o}"),
        };
        if self.bad() && self.c(30) {
            return Node::raw(self.rng.pick(&["rw-r--r--", "-1", "0999", "\"0644\""]));
        }
        Node::raw(&text)
    }

    fn local_name(&mut self) -> String {
        if self.bad() || self.local_files.is_empty() {
            (self.rng.pick(&[
                "missing.txt",
                "../outside",
                "/abs.txt",
                "sub/../a.txt",
                "tree",
                "",
                "unreadable.txt",
                "fifo",
            ]))
            .to_owned()
        } else {
            self.rng.pick_ref(&self.local_files).clone()
        }
    }

    /// A resource: `source`, `inline` or `local`, sometimes several (an error).
    fn resource(&mut self, allow_sugar: bool) -> Node {
        let mut m = Vec::new();
        let which = self.rng.below(10);
        let many = self.c(self.bad / 2);
        if which < 3 || many {
            m.push(("source".into(), self.url_node()));
        }
        if allow_sugar && ((3..7).contains(&which) || many) {
            let t = self.text_node();
            m.push(("inline".into(), t));
        }
        if allow_sugar && (which >= 7 || (many && self.c(50))) {
            self.uses_local = true;
            let l = self.local_name();
            m.push(("local".into(), Node::str(&l)));
        }
        if self.c(20) {
            let c = self
                .rng
                .pick(&["gzip", "", "null", "xz", "\"\""])
                .to_string();
            m.push((
                "compression".into(),
                Node::raw(if c.is_empty() { "\"\"" } else { &c }),
            ));
        }
        if self.c(10) {
            let mut h = Vec::new();
            for _ in 0..1 + self.rng.below(2) {
                let name = self
                    .rng
                    .pick(&["Authorization", "X-A", "", "Bad Name"])
                    .to_string();
                let mut e = vec![("name".into(), Node::str(&name))];
                self.field(&mut e, 80, "value", |g| {
                    Node::str(g.rng.pick(&["v", "", "Bearer x"]))
                });
                h.push(Node::Map(e));
            }
            m.push(("http_headers".into(), Node::Seq(h)));
        }
        if self.c(10) {
            let hash = self
                .rng
                .pick(&[
                    "sha512-cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e",
                    "sha256-e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                    "sha256-abc",
                    "md5-x",
                ])
                .to_string();
            m.push((
                "verification".into(),
                Node::Map(vec![("hash".into(), Node::str(&hash))]),
            ));
        }
        Node::Map(m)
    }

    fn url_node(&mut self) -> Node {
        Node::str(self.rng.pick(URLS))
    }

    fn owner(&mut self) -> Node {
        let mut m = Vec::new();
        self.field(&mut m, 60, "name", |g| {
            Node::str(g.rng.pick(&["core", "root", "app"]))
        });
        if self.c(40) || m.is_empty() {
            m.push(("id".into(), self.int(&[0, 1000, 65534])));
        }
        Node::Map(m)
    }

    fn node_common(&mut self, m: &mut Vec<(String, Node)>) {
        let p = self.path();
        m.push(("path".into(), p));
        if self.opt() {
            let b = self.bool();
            m.push(("overwrite".into(), b));
        }
        self.field(m, 15, "user", |g| g.owner());
        self.field(m, 15, "group", |g| g.owner());
    }

    fn file(&mut self) -> Node {
        let mut m = Vec::new();
        self.node_common(&mut m);
        self.field(&mut m, 70, "contents", |g| g.resource(g.target.level >= 1));
        if self.c(10) {
            let mut a = Vec::new();
            for _ in 0..1 + self.rng.below(2) {
                a.push(self.resource(self.target.level >= 1));
            }
            m.push(("append".into(), Node::Seq(a)));
        }
        self.field(&mut m, 60, "mode", |g| g.mode());
        Node::Map(m)
    }

    fn directory(&mut self) -> Node {
        let mut m = Vec::new();
        self.node_common(&mut m);
        self.field(&mut m, 60, "mode", |g| g.mode());
        Node::Map(m)
    }

    fn link(&mut self) -> Node {
        let mut m = Vec::new();
        self.node_common(&mut m);
        self.pick_field(
            &mut m,
            85,
            "target",
            &["/usr/bin/true", "../x", "/etc/motd", "", "target"],
        );
        self.field(&mut m, 25, "hard", |g| g.bool());
        Node::Map(m)
    }

    fn tree(&mut self) -> Node {
        let mut m = Vec::new();
        self.uses_local = true;
        if self.c(92) {
            let l = if self.bad() || self.local_dirs.is_empty() {
                self.rng
                    .pick(&["a.txt", "missing", "../", ".", "/"])
                    .to_string()
            } else {
                self.rng.pick_ref(&self.local_dirs).clone()
            };
            m.push(("local".into(), Node::str(&l)));
        }
        self.pick_field(&mut m, 60, "path", &["/etc/tree", "/", "/var/x", "rel"]);
        self.field(&mut m, 25, "file_mode", |g| g.mode());
        self.field(&mut m, 25, "dir_mode", |g| g.mode());
        self.field(&mut m, 15, "user", |g| g.owner());
        self.field(&mut m, 15, "group", |g| g.owner());
        Node::Map(m)
    }

    fn partition(&mut self) -> Node {
        let mut m = Vec::new();
        self.pick_field(
            &mut m,
            70,
            "label",
            &[
                "root",
                "var",
                "boot",
                "BIOS-BOOT",
                "EFI-SYSTEM",
                "data",
                "root-1",
            ],
        );
        self.field(&mut m, 50, "number", |g| g.int(&[0, 1, 4, 5, 130]));
        self.field(&mut m, 50, "size_mib", |g| {
            g.int(&[0, 100, 4096, 8192, 10240])
        });
        self.field(&mut m, 30, "start_mib", |g| g.int(&[0, 1, 2048]));
        self.pick_field(
            &mut m,
            15,
            "type_guid",
            &[
                "0FC63DAF-8483-4772-8E79-3D69D8477DE4",
                "not-a-guid",
                "linux",
            ],
        );
        self.field(&mut m, 10, "guid", |_| {
            Node::str("12345678-1234-1234-1234-123456789abc")
        });
        self.field(&mut m, 15, "wipe_partition_entry", |g| g.bool());
        self.field(&mut m, 15, "should_exist", |g| g.bool());
        if self.target.level >= 2 {
            self.field(&mut m, 15, "resize", |g| g.bool());
        }
        Node::Map(m)
    }

    fn filesystem(&mut self) -> Node {
        let mut m = Vec::new();
        self.pick_field(&mut m, 90, "device", DEVICES);
        self.pick_field(
            &mut m,
            80,
            "format",
            &["xfs", "ext4", "vfat", "swap", "btrfs", "none", "zfs", ""],
        );
        self.pick_field(
            &mut m,
            60,
            "path",
            &["/var", "/var/lib/containers", "/srv", "/etc/x", "rel", "/"],
        );
        self.field(&mut m, 30, "wipe_filesystem", |g| g.bool());
        self.pick_field(
            &mut m,
            30,
            "label",
            &["var", "a-very-long-label-indeed", "boot", ""],
        );
        self.field(&mut m, 10, "uuid", |_| {
            Node::str("2c7ed13d-7bd5-4c53-b5d8-9e2c4ee2f8f7")
        });
        self.field(&mut m, 15, "options", |_| {
            Node::Seq(vec![Node::str("-m"), Node::str("0")])
        });
        if self.target.level >= 1 && self.c(20) {
            m.push((
                "mount_options".into(),
                Node::Seq(vec![Node::str(self.rng.pick(&["noatime", "ro", "x-y=z"]))]),
            ));
        }
        if self.target.level >= 1 {
            self.field(&mut m, 45, "with_mount_unit", |g| g.bool());
        }
        Node::Map(m)
    }

    fn tang(&mut self) -> Node {
        let mut m = vec![(
            "url".into(),
            Node::str(
                self.rng
                    .pick(&["http://tang.example.com", "tang.example.com", ""]),
            ),
        )];
        self.field(&mut m, 70, "thumbprint", |_| {
            Node::str("REPLACE-THIS-WITH-YOUR-TANG-THUMBPRINT")
        });
        if self.target.level >= 5 && self.c(20) {
            m.push((
                "advertisement".into(),
                Node::str(self.rng.pick(&["{\"payload\": \"x\"}", "not json"])),
            ));
        }
        Node::Map(m)
    }

    fn luks(&mut self) -> Node {
        let mut m = Vec::new();
        self.field(&mut m, 90, "name", |g| {
            Node::str(g.rng.pick(&["data", "root", "x"]))
        });
        self.pick_field(&mut m, 85, "device", DEVICES);
        self.field(&mut m, 25, "key_file", |g| g.resource(g.target.level >= 1));
        self.field(&mut m, 20, "label", |_| Node::str("luks-data"));
        self.field(&mut m, 15, "options", |g| {
            Node::Seq(vec![Node::str(g.rng.pick(&["--cipher", "-c", "--type"]))])
        });
        self.field(&mut m, 20, "wipe_volume", |g| g.bool());
        if self.c(45) {
            let mut cl = Vec::new();
            self.field(&mut cl, 50, "tpm2", |g| g.bool());
            self.field(&mut cl, 50, "tang", |g| Node::Seq(vec![g.tang()]));
            self.field(&mut cl, 20, "threshold", |g| g.int(&[1, 2, 3]));
            self.field(&mut cl, 10, "custom", |g| {
                Node::Map(vec![
                    (
                        "pin".into(),
                        Node::str(g.rng.pick(&["tpm2", "tang", "sss", "x"])),
                    ),
                    ("config".into(), Node::str("{}")),
                ])
            });
            m.push(("clevis".into(), Node::Map(cl)));
        }
        if self.target.level >= 5 {
            self.field(&mut m, 15, "discard", |g| g.bool());
        }
        if self.target.level >= 5 && self.c(10) {
            m.push((
                "open_options".into(),
                Node::Seq(vec![Node::str("--perf-no_read_workqueue")]),
            ));
        }
        if self.target.level >= 6 && self.c(15) {
            let b = self.bool();
            m.push(("cex".into(), Node::Map(vec![("enabled".into(), b)])));
        }
        Node::Map(m)
    }

    fn storage(&mut self) -> Node {
        let mut m = Vec::new();
        let lvl = self.target.level;
        if self.c(15) {
            let mut disks = Vec::new();
            for _ in 0..1 + self.rng.below(2) {
                let mut d = vec![("device".into(), Node::str(self.rng.pick(DEVICES)))];
                self.field(&mut d, 50, "wipe_table", |g| g.bool());
                self.list_field(&mut d, 80, "partitions", 3, Self::partition);
                disks.push(Node::Map(d));
            }
            m.push(("disks".into(), Node::Seq(disks)));
        }
        if self.c(8) {
            let mut r = vec![
                ("name".into(), Node::str("md-data")),
                (
                    "level".into(),
                    Node::str(self.rng.pick(&["raid1", "raid0", "bogus", ""])),
                ),
            ];
            r.push((
                "devices".into(),
                Node::Seq(vec![Node::str("/dev/sdb"), Node::str("/dev/sdc")]),
            ));
            self.field(&mut r, 30, "spares", |g| g.int(&[0, 1, 2]));
            m.push(("raid".into(), Node::Seq(vec![Node::Map(r)])));
        }
        self.list_field(&mut m, 30, "filesystems", 2, Self::filesystem);
        self.list_field(&mut m, 65, "files", 3, Self::file);
        self.list_field(&mut m, 20, "directories", 2, Self::directory);
        self.list_field(&mut m, 20, "links", 2, Self::link);
        if lvl >= 2 && self.c(12) {
            let l = (0..1 + self.rng.below(2)).map(|_| self.luks()).collect();
            m.push(("luks".into(), Node::Seq(l)));
        }
        if (lvl >= 1 || self.bad()) && self.c(25) {
            let t = (0..1 + self.rng.below(2)).map(|_| self.tree()).collect();
            m.push(("trees".into(), Node::Seq(t)));
        }
        Node::Map(m)
    }

    fn unit_contents(&mut self, m: &mut Vec<(String, Node)>, local_ok: bool) {
        if self.c(60) {
            let t = if self.c(70) {
                "[Unit]\nDescription=Example\n\n[Service]\nExecStart=/usr/bin/true\n\n[Install]\nWantedBy=multi-user.target\n".to_owned()
            } else {
                self.text()
            };
            m.push(("contents".into(), Node::Block(t)));
        }
        if local_ok && self.c(25) {
            self.uses_local = true;
            let l = self.local_name();
            m.push(("contents_local".into(), Node::str(&l)));
        }
    }

    fn systemd(&mut self) -> Node {
        let mut m = Vec::new();
        let lvl = self.target.level;
        if self.c(85) {
            let mut units = Vec::new();
            for _ in 0..1 + self.rng.below(2) {
                let name = if self.bad() {
                    self.rng
                        .pick(&["noext", "", "a.container", "x.mount"])
                        .to_string()
                } else {
                    self.rng
                        .pick(&[
                            "app.service",
                            "var.mount",
                            "x.timer",
                            "getty@tty1.service",
                            "t.socket",
                        ])
                        .to_string()
                };
                let mut u = vec![("name".into(), Node::str(&name))];
                self.field(&mut u, 40, "enabled", |g| g.bool());
                self.field(&mut u, 15, "mask", |g| g.bool());
                self.unit_contents(&mut u, lvl >= 5);
                if self.c(25) {
                    let mut d = vec![(
                        "name".into(),
                        Node::str(self.rng.pick(&["10-x.conf", "bad", ""])),
                    )];
                    self.unit_contents(&mut d, lvl >= 5);
                    u.push(("dropins".into(), Node::Seq(vec![Node::Map(d)])));
                }
                units.push(Node::Map(u));
            }
            m.push(("units".into(), Node::Seq(units)));
        }
        if lvl >= 8 && self.c(40) || self.c(3) {
            let name = self
                .rng
                .pick(&[
                    "app.container",
                    "v.volume",
                    "n.network",
                    "k.kube",
                    "t@.container",
                    "t@i.container",
                    "bad.txt",
                ])
                .to_string();
            let mut q = vec![("name".into(), Node::str(&name))];
            self.unit_contents(&mut q, true);
            self.field(&mut q, 30, "rootful", |g| g.bool());
            if self.c(20) {
                let mut d = vec![("name".into(), Node::str("10-d.conf"))];
                self.unit_contents(&mut d, true);
                q.push(("dropins".into(), Node::Seq(vec![Node::Map(d)])));
            }
            m.push(("quadlets".into(), Node::Seq(vec![Node::Map(q)])));
        }
        Node::Map(m)
    }

    fn passwd(&mut self) -> Node {
        let mut m = Vec::new();
        let lvl = self.target.level;
        let mut users = Vec::new();
        for _ in 0..1 + self.rng.below(2) {
            let name = self.rng.pick(&["core", "core", "admin", ""]).to_string();
            let mut u = vec![("name".into(), Node::str(&name))];
            if self.c(50) {
                let keys = (0..1 + self.rng.below(2))
                    .map(|_| {
                        Node::str(self.rng.pick(&[
                            "ssh-ed25519 AAAAC3Nza key1",
                            "ssh-rsa AAAAB3Nz key2",
                            "",
                        ]))
                    })
                    .collect();
                u.push(("ssh_authorized_keys".into(), Node::Seq(keys)));
            }
            if lvl >= 5 && self.c(20) {
                self.uses_local = true;
                let l = self.local_name();
                u.push((
                    "ssh_authorized_keys_local".into(),
                    Node::Seq(vec![Node::str(&l)]),
                ));
            }
            self.field(&mut u, 25, "password_hash", |_| Node::str("$y$j9T$abc"));
            for (key, percent) in [
                ("uid", 10),
                ("gecos", 10),
                ("home_dir", 10),
                ("no_create_home", 8),
                ("primary_group", 8),
                ("groups", 15),
                ("shell", 8),
                ("system", 8),
                ("should_exist", 8),
            ] {
                if self.c(percent) {
                    let v = match key {
                        "uid" => self.int(&[0, 1000, 4294967295]),
                        "groups" => {
                            Node::Seq(vec![Node::str(self.rng.pick(&["wheel", "sudo", "docker"]))])
                        }
                        "no_create_home" | "system" | "should_exist" => self.bool(),
                        "home_dir" => Node::str(self.rng.pick(&["/home/x", "rel"])),
                        _ => Node::str(self.rng.pick(&["x", "/bin/bash", "Some One"])),
                    };
                    u.push((key.into(), v));
                }
            }
            users.push(Node::Map(u));
        }
        m.push(("users".into(), Node::Seq(users)));
        if self.c(25) {
            let mut g = vec![(
                "name".into(),
                Node::str(self.rng.pick(&["app", "docker", ""])),
            )];
            self.field(&mut g, 40, "gid", |g| g.int(&[0, 1001]));
            self.field(&mut g, 20, "system", |g| g.bool());
            m.push(("groups".into(), Node::Seq(vec![Node::Map(g)])));
        }
        Node::Map(m)
    }

    fn ignition(&mut self) -> Node {
        let mut m = Vec::new();
        if self.c(50) {
            let mut cfg = Vec::new();
            self.list_field(&mut cfg, 60, "merge", 2, Self::config_resource);
            self.field(&mut cfg, 40, "replace", |g| g.config_resource());
            m.push(("config".into(), Node::Map(cfg)));
        }
        if self.c(20) {
            let mut t = Vec::new();
            self.field(&mut t, 60, "http_response_headers", |g| g.int(&[0, 10, 30]));
            self.field(&mut t, 60, "http_total", |g| g.int(&[0, 60]));
            m.push(("timeouts".into(), Node::Map(t)));
        }
        if self.c(15) {
            let r = self.resource(self.target.level >= 1);
            m.push((
                "security".into(),
                Node::Map(vec![(
                    "tls".into(),
                    Node::Map(vec![("certificate_authorities".into(), Node::Seq(vec![r]))]),
                )]),
            ));
        }
        if self.target.level >= 1 && self.c(15) {
            let mut p = Vec::new();
            self.field(&mut p, 60, "http_proxy", |g| {
                Node::str(g.rng.pick(&["http://proxy:3128", "bad url"]))
            });
            self.field(&mut p, 60, "https_proxy", |g| {
                Node::str(g.rng.pick(&["https://proxy:3128", "http://p"]))
            });
            self.field(&mut p, 30, "no_proxy", |_| {
                Node::Seq(vec![Node::str("example.com")])
            });
            m.push(("proxy".into(), Node::Map(p)));
        }
        Node::Map(m)
    }

    /// A merge/replace resource, often an inline Ignition config (valid or broken JSON).
    fn config_resource(&mut self) -> Node {
        if self.target.level >= 1 && self.c(60) {
            let json = self
                .rng
                .pick(&[
                    r#"{"ignition":{"version":"3.0.0"}}"#,
                    r#"{"ignition":{"version":"3.4.0"},"storage":{"files":[{"path":"/etc/x"}]}}"#,
                    r#"{"ignition":{"version":"3.4.0"},"storage":{"files":[{"path":"rel"}]}}"#,
                    r#"{"ignition":{"version":"9.9.9"}}"#,
                    r#"{"ignition":{"version":"3.2.0"}"#,
                    r#"{"ignition":{"version":"3.2.0"},}"#,
                    r#"{"ignition":{"version":3}}"#,
                    "",
                    "{}",
                    "[1, 2]",
                    "{\n  \"ignition\": {\n    \"version\": \"3.3.0\"\n  },\n  \"bogus\": 1\n}\n",
                    "{\"ignition\":{\"version\":\"3.1.0\"},\"passwd\":{\"users\":[{\"name\":\"x\",\"name\":\"y\"}]}}",
                    "not json at all",
                ])
                .to_string();
            Node::Map(vec![("inline".into(), Node::str(&json))])
        } else {
            self.resource(self.target.level >= 1)
        }
    }

    fn boot_device(&mut self) -> Node {
        let mut m = Vec::new();
        if self.c(60) {
            let layouts: &[&str] = &[
                "x86_64",
                "aarch64",
                "ppc64le",
                "s390x-eckd",
                "s390x-zfcp",
                "s390x-virt",
                "mips",
            ];
            m.push(("layout".into(), Node::str(self.rng.pick(layouts))));
        }
        if self.c(60) {
            let mut l = Vec::new();
            self.field(&mut l, 50, "tpm2", |g| g.bool());
            self.field(&mut l, 40, "tang", |g| Node::Seq(vec![g.tang()]));
            self.field(&mut l, 20, "threshold", |g| g.int(&[1, 2]));
            if self.target.level >= 5 {
                self.field(&mut l, 15, "discard", |g| g.bool());
            }
            if self.target.level >= 6 && self.c(20) {
                l.push(("device".into(), Node::str("/dev/dasda")));
            }
            if self.target.level >= 6 && self.c(20) {
                let b = self.bool();
                l.push(("cex".into(), Node::Map(vec![("enabled".into(), b)])));
            }
            m.push(("luks".into(), Node::Map(l)));
        }
        if self.c(45) {
            let n = self.rng.below(3);
            let devs = (0..n)
                .map(|i| Node::str(["/dev/vda", "/dev/vdb", "/dev/vda"][i]))
                .collect();
            m.push((
                "mirror".into(),
                Node::Map(vec![("devices".into(), Node::Seq(devs))]),
            ));
        }
        Node::Map(m)
    }

    fn config(&mut self, variant: &str, version: &str) -> Node {
        let mut top: Vec<(String, Node)> = Vec::new();
        let lvl = self.target.level;
        if variant == "openshift" && self.c(85) {
            let mut md = Vec::new();
            self.field(&mut md, 90, "name", |_| Node::str("99-worker-custom"));
            self.field(&mut md, 90, "labels", |_| {
                Node::Map(vec![(
                    "machineconfiguration.openshift.io/role".into(),
                    Node::str("worker"),
                )])
            });
            top.push(("metadata".into(), Node::Map(md)));
        }
        let _ = version;
        self.field(&mut top, 30, "ignition", |g| g.ignition());
        if (lvl >= 4 || self.bad()) && self.c(15) {
            let mut k = Vec::new();
            self.field(&mut k, 70, "should_exist", |g| {
                Node::Seq(vec![Node::str(g.rng.pick(&[
                    "quiet",
                    "console=ttyS0 foo",
                    "mitigations=auto",
                ]))])
            });
            self.field(&mut k, 50, "should_not_exist", |g| {
                Node::Seq(vec![Node::str(g.rng.pick(&["quiet", "rhgb"]))])
            });
            top.push(("kernel_arguments".into(), Node::Map(k)));
        }
        self.field(&mut top, 35, "passwd", |g| g.passwd());
        self.field(&mut top, 70, "storage", |g| g.storage());
        self.field(&mut top, 40, "systemd", |g| g.systemd());
        if (lvl >= 3 || self.bad()) && self.c(20) {
            let b = self.boot_device();
            top.push(("boot_device".into(), b));
        }
        if (lvl >= 5 || self.bad()) && self.c(12) {
            let mut users = Vec::new();
            let mut u = Vec::new();
            self.field(&mut u, 85, "name", |_| Node::str("root"));
            self.field(&mut u, 85, "password_hash", |_| {
                Node::str("grub.pbkdf2.sha512.10000.AAA")
            });
            users.push(Node::Map(u));
            top.push((
                "grub".into(),
                Node::Map(vec![("users".into(), Node::Seq(users))]),
            ));
        }
        if variant == "openshift" && self.c(40) {
            let mut o = Vec::new();
            self.field(&mut o, 40, "kernel_arguments", |_| {
                Node::Seq(vec![Node::str("loglevel=7")])
            });
            self.field(&mut o, 30, "extensions", |_| {
                Node::Seq(vec![Node::str("usbguard")])
            });
            self.field(&mut o, 30, "fips", |g| g.bool());
            self.field(&mut o, 30, "kernel_type", |g| {
                Node::str(
                    g.rng
                        .pick(&["", "default", "realtime", "64k-pages", "bogus"]),
                )
            });
            top.push(("openshift".into(), Node::Map(o)));
        }
        if self.c(8) {
            // An unknown key somewhere near the top.
            top.push(("bogus_key".into(), Node::raw("1")));
        }
        // Shuffle the order of sections sometimes: the output order must not depend on it.
        if self.c(20) && top.len() > 1 {
            let i = self.rng.below(top.len());
            let j = self.rng.below(top.len());
            top.swap(i, j);
        }
        if self.c(5) && !top.is_empty() {
            // Drop a random section into emptiness.
            let i = self.rng.below(top.len());
            top[i].1 = if self.c(50) {
                Node::raw("null")
            } else {
                Node::Map(vec![])
            };
        }
        Node::Map(top)
    }

    /// A files directory with the usual suspects; names are remembered for `local`.
    fn files_dir(&mut self, entries: &mut Vec<Entry>, unprivileged: bool) {
        let small = self.text().into_bytes();
        entries.push(Entry::File {
            path: "a.txt".into(),
            data: small,
            mode: 0o644,
        });
        let n = 100 + self.rng.below(3000);
        let compressible: Vec<u8> = (0..n).map(|i| b"ferrocore "[i % 10]).collect();
        entries.push(Entry::File {
            path: "big.txt".into(),
            data: compressible,
            mode: 0o644,
        });
        let bin: Vec<u8> = (0..64 + self.rng.below(200))
            .map(|_| self.rng.next() as u8)
            .collect();
        entries.push(Entry::File {
            path: "bin.dat".into(),
            data: bin,
            mode: 0o600,
        });
        entries.push(Entry::file("run.sh", b"#!/bin/sh\necho hi\n", 0o755));
        entries.push(Entry::file(
            "keys",
            b"ssh-ed25519 AAAA one\r\n\nssh-rsa BBBB two # c\n",
            0o644,
        ));
        entries.push(Entry::file(
            "unit.service",
            b"[Service]\nExecStart=/bin/true\n",
            0o644,
        ));
        entries.push(Entry::file(
            "config.ign",
            br#"{"ignition":{"version":"3.3.0"}}"#,
            0o644,
        ));
        entries.push(Entry::File {
            path: "empty".into(),
            data: Vec::new(),
            mode: 0o644,
        });
        self.local_files = [
            "a.txt",
            "big.txt",
            "bin.dat",
            "run.sh",
            "keys",
            "unit.service",
            "config.ign",
            "empty",
            "sub/nested.txt",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        entries.push(Entry::dir("sub", 0o755));
        entries.push(Entry::file("sub/nested.txt", b"nested\n", 0o640));
        // Trees: a plain one, one with a symlink, one with a FIFO, one with an
        // unreadable file or directory.
        entries.push(Entry::dir("tree", 0o755));
        entries.push(Entry::file("tree/file", b"in tree\n", 0o644));
        entries.push(Entry::file("tree/exec", b"#!/bin/sh\n", 0o750));
        entries.push(Entry::dir("tree/dir", 0o755));
        entries.push(Entry::file("tree/dir/deep", b"deep", 0o644));
        self.local_dirs = vec!["tree".into(), "sub".into(), ".".into()];
        if self.c(50) {
            entries.push(Entry::dir("ltree", 0o755));
            entries.push(Entry::file("ltree/f", b"x", 0o644));
            entries.push(Entry::symlink("ltree/link", "f"));
            entries.push(Entry::symlink("ltree/abs", "/etc/motd"));
            entries.push(Entry::symlink("lnk.txt", "a.txt"));
            self.local_dirs.push("ltree".into());
            self.local_files.push("lnk.txt".into());
        }
        if self.c(25) {
            entries.push(Entry::dir("ftree", 0o755));
            entries.push(Entry::Fifo {
                path: "ftree/pipe".into(),
            });
            entries.push(Entry::Fifo {
                path: "fifo".into(),
            });
            self.local_dirs.push("ftree".into());
        }
        if unprivileged {
            entries.push(Entry::file("unreadable.txt", b"secret", 0o000));
            entries.push(Entry::dir("utree", 0o755));
            entries.push(Entry::file("utree/ok", b"ok", 0o644));
            entries.push(Entry::file("utree/secret", b"s", 0o000));
            entries.push(Entry::dir("utree/closed", 0o000));
            entries.push(Entry::dir("xtree", 0o000));
            self.local_files.push("unreadable.txt".into());
            self.local_dirs.push("utree".into());
            self.local_dirs.push("xtree".into());
        }
    }
}

/// Text-level damage that makes the YAML itself wrong (or merely unusual).
fn damage(rng: &mut Rng, yaml: &str) -> String {
    let mut lines: Vec<String> = yaml.lines().map(str::to_owned).collect();
    if lines.len() < 2 {
        return yaml.to_owned();
    }
    let i = 1 + rng.below(lines.len() - 1);
    match rng.below(14) {
        // A tab in the indentation.
        0 => {
            let trimmed = lines[i].trim_start().to_owned();
            let depth = lines[i].len() - trimmed.len();
            lines[i] = format!("{}\t{trimmed}", " ".repeat(depth.saturating_sub(2)));
        }
        // A tab after a value.
        1 => lines[i].push_str("\t# tab"),
        // One space more or less of indentation.
        2 => lines[i].insert(0, ' '),
        3 => {
            if lines[i].starts_with(' ') {
                lines[i].remove(0);
            }
        }
        // An unclosed quote.
        4 => {
            if let Some(p) = lines[i].find(": ") {
                lines[i].insert(p + 2, '"');
            } else {
                lines[i].push_str(" \"open");
            }
        }
        5 => {
            if let Some(p) = lines[i].find(": ") {
                lines[i].insert(p + 2, '\'');
            } else {
                lines[i].push('\'');
            }
        }
        // A duplicate key: repeat a line holding a key and a scalar.
        6 => {
            if let Some(j) = (0..lines.len())
                .map(|k| (k + i) % lines.len())
                .find(|&k| lines[k].contains(": ") && !lines[k].trim_start().starts_with('-'))
            {
                let l = lines[j].clone();
                lines.insert(j + 1, l);
            }
        }
        // A duplicate top-level key.
        7 => lines.push("variant: fcos".into()),
        // An anchor and an alias, an undefined alias, and a merge key.
        8 => {
            lines.push("x-anchor: &anc".into());
            lines.push("  path: /etc/anchored".into());
            lines.push("storage:".into());
            lines.push("  files:".into());
            lines.push("    - *anc".into());
        }
        9 => lines[i] = format!("{}: *nowhere", lines[i].split(':').next().unwrap_or("k")),
        10 => {
            lines.insert(1, "base: &b {overwrite: true}".into());
            lines.push("merged:".into());
            lines.push("  <<: *b".into());
        }
        // A second document, an unclosed flow collection, a stray colon.
        11 => lines.push("---\nvariant: fcos\nversion: 1.0.0".into()),
        12 => lines[i].push_str(" {"),
        _ => lines[i].push_str(": x"),
    }
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

/// The case `index` of the run seeded `seed`.
pub fn generate(seed: u64, index: u64) -> Case {
    let mut rng = Rng::new(seed, index);
    let (variant, versions) = VARIANTS[rng.below(VARIANTS.len())];
    let mut version = versions[rng.below(versions.len())].to_owned();
    let unprivileged = rng.chance(8);
    let mut g = Gen {
        rng: &mut rng,
        target: Target::new(variant, &version),
        local_files: Vec::new(),
        local_dirs: Vec::new(),
        uses_local: false,
        bad: 0,
        density: 30,
    };
    g.bad = g.rng.pick(&[0, 0, 3, 10, 25]);
    g.density = g.rng.pick(&[20, 35, 50]);
    let mut entries = Vec::new();
    g.files_dir(&mut entries, unprivileged);

    let mut header = vec![
        ("variant".to_owned(), Node::str(variant)),
        ("version".to_owned(), Node::str(&version)),
    ];
    match g.rng.below(60) {
        0 => header[0].1 = Node::str("rhcos"),
        1 => header[0].1 = Node::str("bogus"),
        2 => {
            version = "1.9.0".into();
            header[1].1 = Node::str(&version);
        }
        3 => header[1].1 = Node::raw("1.5"),
        4 => {
            header.remove(0);
        }
        5 => {
            header.remove(1);
        }
        6 => header[1].1 = Node::str("v1.4.0"),
        _ => {}
    }
    let body = g.config(variant, &version);
    let mut top = header;
    if let Node::Map(b) = body {
        // Empty sections stay: `storage: {}` is worth testing too.
        top.extend(b);
    }
    let uses_local = g.uses_local;
    let mut yaml = render(&Node::Map(top));
    if rng.chance(12) {
        yaml = damage(&mut rng, &yaml);
    }
    if rng.chance(2) {
        yaml = String::new();
    }

    let mut args = Vec::new();
    if rng.chance(30) {
        args.push("--strict".to_owned());
    }
    if rng.chance(30) {
        args.push("--pretty".to_owned());
    }
    if rng.chance(if variant == "openshift" { 40 } else { 8 }) {
        args.push("--raw".to_owned());
    }
    if rng.chance(7) {
        args.push("--check".to_owned());
    }
    if (uses_local && rng.chance(88)) || rng.chance(10) {
        args.push("-d".to_owned());
        args.push(FILES_DIR.to_owned());
    }
    if rng.chance(85) {
        args.push("--raw-errors".to_owned());
    }
    Case {
        index,
        yaml,
        entries,
        args,
        unprivileged,
    }
}
