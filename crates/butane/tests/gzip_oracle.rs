//! ferro's data URLs, gzip bytes included, against those of the reference Butane
//! (`../shared/oracles/butane-v0.29.0`) on a few hundred seeded inputs of every shape the
//! compressor treats differently: text, small and large alphabets, long runs, repeats
//! with mutations, incompressible stretches that become stored blocks, inputs that
//! slide the window many times, and sizes on both sides of the gzip/plain boundary.
//! `FERRO_GZIP_OUT=dir` keeps the inputs and both URLs of every difference there.

use std::path::{Path, PathBuf};
use std::process::Command;

use ferro_spec::data_url;
use ferro_sys::CommandRunExt;
use serde_json::Value;

fn oracle() -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/oracles/butane-v0.29.0");
    path.is_file().then_some(path)
}

/// xorshift64*: a fixed generator so the inputs are the same everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    /// A size spread evenly over orders of magnitude up to `max`.
    fn size(&mut self, max: usize) -> usize {
        let bits = self.below(usize::BITS as usize - max.leading_zeros() as usize) + 1;
        self.below(1 << bits).min(max)
    }
}

fn input(rng: &mut Rng) -> Vec<u8> {
    let n = rng.size(300_000);
    match rng.below(7) {
        0 => {
            let vocabulary: Vec<Vec<u8>> = (0..1 + rng.below(3000))
                .map(|_| {
                    (0..1 + rng.below(9))
                        .map(|_| b'a' + rng.below(26) as u8)
                        .collect()
                })
                .collect();
            let mut out = Vec::with_capacity(n + 10);
            while out.len() < n {
                out.extend_from_slice(&vocabulary[rng.below(vocabulary.len())]);
                out.push(if rng.below(12) == 0 { b'\n' } else { b' ' });
            }
            out.truncate(n);
            out
        }
        1 => {
            let alphabet = 2 + rng.below(15);
            (0..n).map(|_| b'0' + rng.below(alphabet) as u8).collect()
        }
        2 => {
            let block: Vec<u8> = (0..1 + rng.size(5000))
                .map(|_| rng.below(256) as u8)
                .collect();
            let mut out: Vec<u8> = block.iter().copied().cycle().take(n).collect();
            for _ in 0..rng.below(1 + n / 50) {
                let at = rng.below(n.max(1));
                if let Some(b) = out.get_mut(at) {
                    *b = rng.below(256) as u8;
                }
            }
            out
        }
        3 => {
            let mut out = Vec::with_capacity(n);
            while out.len() < n {
                let len = rng.size(40_000);
                match rng.below(3) {
                    0 => out.extend((0..len).map(|_| rng.below(256) as u8)),
                    1 => out.extend(std::iter::repeat_n(rng.below(256) as u8, len)),
                    _ => out.extend(b"the quick brown fox ".iter().cycle().take(len)),
                }
            }
            out.truncate(n);
            out
        }
        4 => (0..n).map(|_| rng.below(256) as u8).collect(),
        5 => {
            let mut out = Vec::with_capacity(n);
            while out.len() < n {
                let byte = b'a' + rng.below(4) as u8;
                out.extend(std::iter::repeat_n(byte, 1 + rng.size(600)));
            }
            out.truncate(n);
            out
        }
        _ => {
            // Near the boundary: short text where gzip saves a few bytes or none.
            let len = 20 + rng.below(200);
            let unit = 1 + rng.below(12);
            (0..len)
                .map(|i| b'a' + ((i % unit) as u8 + rng.below(2) as u8 * rng.below(3) as u8))
                .collect()
        }
    }
}

#[test]
fn gzip_data_urls_are_byte_identical_to_butanes() {
    let Some(oracle) = oracle() else {
        eprintln!("skipped: the reference Butane is absent (../shared/oracles/butane-v0.29.0)");
        return;
    };
    let dir = tempfile::tempdir().expect("temporary directory");
    let files = dir.path().join("files");
    std::fs::create_dir(&files).expect("files directory");
    let mut rng = Rng(0x5eed_0019_b07a_6a1f);
    let inputs: Vec<Vec<u8>> = (0..240).map(|_| input(&mut rng)).collect();
    let mut config = String::from("variant: fcos\nversion: 1.6.0\nstorage:\n  files:\n");
    for (i, data) in inputs.iter().enumerate() {
        std::fs::write(files.join(format!("f{i}")), data).expect("write input");
        config.push_str(&format!(
            "    - path: /f{i}\n      contents:\n        local: f{i}\n"
        ));
    }
    std::fs::write(dir.path().join("config.bu"), config).expect("write config");
    let output = Command::new(&oracle)
        .args(["-d", "files", "config.bu"])
        .current_dir(dir.path())
        .run_get_string()
        .expect("the reference Butane translates the config");
    let ignition: Value = serde_json::from_str(&output).expect("Ignition JSON");
    let mut gzipped = 0;
    let mut differ = Vec::new();
    for (i, data) in inputs.iter().enumerate() {
        let contents = &ignition["storage"]["files"][i]["contents"];
        let ours = data_url::embed(data, true);
        let theirs = (
            contents["source"].as_str().unwrap_or_default(),
            contents["compression"].as_str().unwrap_or_default(),
        );
        if (ours.url.as_str(), if ours.gzipped { "gzip" } else { "" }) != theirs {
            differ.push(describe(i, data, &ours.url, theirs.0));
            if let Some(out) = std::env::var_os("FERRO_GZIP_OUT") {
                let out = PathBuf::from(out);
                let _ = std::fs::write(out.join(format!("in{i}")), data);
                let _ = std::fs::write(out.join(format!("ours{i}")), &ours.url);
                let _ = std::fs::write(out.join(format!("butane{i}")), theirs.0);
            }
        }
        gzipped += usize::from(ours.gzipped);
    }
    assert!(
        differ.is_empty(),
        "{} of {} inputs differ:\n{}",
        differ.len(),
        inputs.len(),
        differ.join("\n")
    );
    // The inputs must exercise the compressor, not only the plain encodings.
    assert!(gzipped > 120, "only {gzipped} inputs were gzipped");
}

/// Where two data URLs of the same input part, compactly: the payload sizes and the
/// first differing byte of the decoded payloads.
fn describe(i: usize, data: &[u8], ours: &str, theirs: &str) -> String {
    let decode = |url: &str| {
        ferro_spec::DataUrl::parse(url)
            .map(|u| u.data().to_vec())
            .unwrap_or_default()
    };
    let (a, b) = (decode(ours), decode(theirs));
    let at = a
        .iter()
        .zip(&b)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()));
    format!(
        "input {i} ({} bytes): ours {} bytes, Butane's {} bytes, first difference at byte {at}",
        data.len(),
        a.len(),
        b.len()
    )
}
