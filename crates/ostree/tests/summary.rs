//! `summary -u`: the file is byte-identical to the one `ostree summary -u` writes (apart
//! from the last-modified time), and `ostree` reads it as a remote's summary.
//! Skipped when `ostree` is absent.

use std::fs;
use std::path::Path;

use ferro_ostree::commit::{CommitOptions, commit_dir};
use ferro_ostree::object::Variant;
use ferro_ostree::summary::{raw, summary_bytes, update_summary, view};
use ferro_ostree::{Repo, RepoMode};

#[path = "support/oracle.rs"]
mod oracle;
use oracle::{have_ostree, ostree};

fn setup(path: &Path, src: &Path) -> Repo {
    fs::create_dir_all(src.join("d")).unwrap();
    fs::write(src.join("d/f"), "f\n").unwrap();
    fs::write(src.join("g"), "g\n").unwrap();
    let repo = Repo::init(path, RepoMode::Archive).unwrap();
    for (branch, version) in [("main", Some("1.2")), ("zz/other", None), ("a", None)] {
        let options = CommitOptions {
            branch: Some(branch.into()),
            timestamp: Some(1_600_000_000),
            metadata: version
                .map(|v| vec![("version".to_owned(), Variant::string(v))])
                .unwrap_or_default(),
            ..Default::default()
        };
        commit_dir(&repo, src, &options).unwrap();
    }
    repo
}

#[test]
fn summary_matches_ostree_byte_for_byte() {
    if !have_ostree() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let repo = setup(&tmp.path().join("r"), &tmp.path().join("src"));
    let r = format!("--repo={}", repo.path().display());
    ostree(&["summary", "-u", &r]);
    let theirs = fs::read(repo.path().join("summary")).unwrap();
    let key = b"ostree.summary.last-modified\0";
    let at = theirs
        .windows(key.len())
        .position(|w| w == key)
        .expect("last-modified key")
        + key.len();
    let at = at.next_multiple_of(8);
    let now = u64::from_be_bytes(theirs[at..at + 8].try_into().unwrap());
    assert_eq!(summary_bytes(&repo, now, &Vec::new()).unwrap(), theirs);
}

#[test]
fn ostree_reads_ferro_summary_as_a_remote() {
    if !have_ostree() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let repo = setup(&tmp.path().join("r"), &tmp.path().join("src"));
    fs::write(repo.path().join("summary.sig"), b"stale").unwrap();
    update_summary(&repo).unwrap();
    assert!(!repo.path().join("summary.sig").exists());
    let r = format!("--repo={}", repo.path().display());
    let view = ostree(&["summary", "-v", &r]);
    let main = repo.read_ref("main").unwrap().unwrap().to_hex();
    assert!(view.contains("* main") && view.contains(&main), "{view}");
    assert!(view.contains("ostree.commit.version): 1.2"), "{view}");
    assert!(view.contains("archive-z2"), "{view}");

    let client = tmp.path().join("client");
    let c = format!("--repo={}", client.display());
    ostree(&["init", &c, "--mode=bare-user"]);
    let url = format!("file://{}", repo.path().display());
    ostree(&["remote", "add", &c, "--no-gpg-verify", "origin", &url]);
    let refs = ostree(&["remote", "refs", &c, "origin"]);
    assert_eq!(
        refs.lines().collect::<Vec<_>>(),
        ["origin:a", "origin:main", "origin:zz/other"]
    );
    ostree(&["pull", &c, "origin", "main"]);
    assert_eq!(ostree(&["rev-parse", &c, "origin:main"]).trim(), main);
    ostree(&["fsck", &c]);
}

/// `summary --view` and `--raw` show what `ostree` shows for the same summary file:
/// one written by ferro (with a static delta listed), and one written by `ostree` with
/// a collection id and extra metadata of many GVariant types.
#[test]
fn view_and_raw_match_ostree() {
    if !have_ostree() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let repo = setup(&tmp.path().join("r"), &tmp.path().join("src"));
    let r = format!("--repo={}", repo.path().display());
    ostree(&["static-delta", "generate", &r, "--empty", "--to=main"]);
    let compare = |what: &str| {
        let bytes = fs::read(repo.path().join("summary")).unwrap();
        let ours = view(&bytes).unwrap();
        assert_eq!(ours, ostree(&["summary", "-v", &r]), "--view of {what}");
        assert!(
            ours.contains("Static Deltas (ostree.static-deltas): {'"),
            "{ours}"
        );
        assert_eq!(
            raw(&bytes).unwrap(),
            ostree(&["summary", "--raw", &r]),
            "--raw of {what}"
        );
    };
    update_summary(&repo).unwrap();
    compare("ferro's summary");
    ostree(&[
        "summary",
        "-u",
        &r,
        "-m",
        "ostree.summary.collection-id='org.example.Os'",
        "-m",
        "ostree.summary.expires=uint64 1700000000",
        "-m",
        r#"text="it's a \"quote\"\t""#,
        "-m",
        "numbers=(uint32 5, int16 -2, byte 0x7f, 2.5, int64 -9, uint16 8, handle 3)",
        "-m",
        "bytes=[byte 0x01, 0x00, 0xff]",
        "-m",
        "bytestring=b'abc'",
        "-m",
        "nested=<<['a', 'b']>>",
        "-m",
        "empty=@a{sv} {}",
        "-m",
        "dict={'k': <true>, 'l': <objectpath '/o'>}",
        "-m",
        "maybe=@mi nothing",
    ]);
    compare("ostree's summary with extra metadata");
}
