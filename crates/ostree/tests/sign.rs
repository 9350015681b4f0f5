//! Ed25519 commit signatures against the real tools.
//!
//! Debian's `ostree` 2022.7 is built without libsodium ("Requested signature type is
//! not implemented"), so `ostree sign -s ed25519` itself can only be exercised where a
//! build has it ([`ostree_sign_ed25519_both_ways`] does, and says when it skips). What
//! is always checked: ferro's signatures are byte-identical to OpenSSL's Ed25519
//! (RFC 8032 signatures are deterministic, so this is the signature libsodium makes),
//! `ostree` reads ferro's detached metadata, and signatures `ostree sign -s dummy`
//! wrote survive ferro adding its own. Skipped when `ostree` or `openssl` is absent.

use std::fs;
use std::path::Path;
use std::process::Command;

use ferro_sys::CommandRunExt;

use ferro_ostree::object::Variant;
use ferro_ostree::prune::{PruneOptions, prune};
use ferro_ostree::pull_local::copy_commit;
use ferro_ostree::sign::{
    ED25519_KEY, PublicKey, SecretKey, SignError, sign_commit, verify_commit,
};
use ferro_ostree::{Checksum, ObjectType, Repo, RepoMode};

fn have(tool: &str, version_arg: &str) -> bool {
    let found = Command::new(tool)
        .arg(version_arg)
        .run_capture()
        .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!("skipping: `{tool}` is not installed");
    }
    found
}

fn run(tool: &str, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    Command::new(tool)
        .args(args)
        .envs(env.iter().copied())
        .run_capture()
        .unwrap_or_else(|e| panic!("run {tool}: {e}"))
}

fn ok(tool: &str, args: &[&str], env: &[(&str, &str)]) -> String {
    let out = run(tool, args, env);
    assert!(
        out.status.success(),
        "{tool} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// An archive repository with one commit made by `ostree`.
fn ostree_repo(tmp: &Path) -> (Repo, Checksum, String) {
    let (repo, src) = (tmp.join("repo"), tmp.join("src"));
    fs::create_dir_all(src.join("sub")).unwrap();
    fs::write(src.join("hello"), b"hello\n").unwrap();
    fs::write(src.join("sub/x"), b"x").unwrap();
    let arg = format!("--repo={}", repo.display());
    ok("ostree", &["init", &arg, "--mode=archive"], &[]);
    let tree = format!("--tree=dir={}", src.display());
    let out = ok("ostree", &["commit", &arg, "-b", "main", &tree], &[]);
    let id = out.trim().parse().unwrap();
    (Repo::open(&repo).unwrap(), id, arg)
}

/// An `aay` as `ostree show --print-detached-metadata-key` prints it: `[[byte 0x49, …]]`,
/// or `[b'…']` for a signature that happens to end in its only NUL byte (GLib shows
/// such arrays as byte strings), read by the GVariant text parser.
fn parse_aay(text: &str) -> Vec<Vec<u8>> {
    use ferro_ostree::gvariant::parse::parse;
    use ferro_ostree::gvariant::typed::{Type, Value};
    let aay = Type::parse("aay").unwrap();
    let Value::Array(_, signatures) = parse(text.trim(), Some(&aay)).unwrap() else {
        panic!("not an array: {text}")
    };
    signatures
        .into_iter()
        .map(|signature| match signature {
            Value::Array(_, bytes) => bytes
                .into_iter()
                .map(|b| match b {
                    Value::Byte(b) => b,
                    other => panic!("not a byte: {other:?}"),
                })
                .collect(),
            other => panic!("not a byte array: {other:?}"),
        })
        .collect()
}

#[test]
fn parse_aay_reads_both_forms_glib_prints() {
    assert_eq!(parse_aay("[[byte 0x01, 0xff]]\n"), [vec![1, 0xff]]);
    assert_eq!(parse_aay("[b'a\\377']\n"), [vec![b'a', 0xff, 0]]);
}

const SEED: [u8; 32] = [
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25,
    26, 27, 28, 29, 30, 31,
];

/// Ed25519 over `data` by OpenSSL, from a PKCS#8 DER key wrapping `seed`.
fn openssl_sign(tmp: &Path, seed: &[u8; 32], data: &Path) -> Vec<u8> {
    let key = tmp.join("key.der");
    let mut der = vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    der.extend_from_slice(seed);
    fs::write(&key, der).unwrap();
    let sig = tmp.join("sig");
    let (key, sig_s, data) = (
        key.to_str().unwrap(),
        sig.to_str().unwrap(),
        data.to_str().unwrap(),
    );
    ok(
        "openssl",
        &[
            "pkeyutl", "-sign", "-inkey", key, "-keyform", "DER", "-rawin", "-in", data, "-out",
            sig_s,
        ],
        &[],
    );
    fs::read(sig).unwrap()
}

/// ferro signs an `ostree` commit: the signature equals OpenSSL's, `ostree` reads it
/// back from the detached metadata, the repository still passes `ostree fsck`, and a
/// signature OpenSSL made verifies with ferro.
#[test]
fn signatures_match_openssl_and_ostree_reads_them() {
    if !have("ostree", "--version") || !have("openssl", "version") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (repo, id, arg) = ostree_repo(tmp.path());
    let key = SecretKey::from_seed(&SEED);
    let ours = sign_commit(&repo, &id, &key).unwrap();
    let commit_file = repo.object_path(ObjectType::Commit, &id);
    let theirs = openssl_sign(tmp.path(), &SEED, &commit_file);
    assert_eq!(ours, theirs, "ferro and OpenSSL Ed25519 signatures differ");
    let shown = ok(
        "ostree",
        &[
            "show",
            &arg,
            &format!("--print-detached-metadata-key={ED25519_KEY}"),
            &id.to_hex(),
        ],
        &[],
    );
    assert_eq!(parse_aay(&shown), vec![ours]);
    ok("ostree", &["fsck", &arg], &[]);

    // A signature made elsewhere verifies; the public key from base64 round-trips.
    repo.write_commitmeta(
        &id,
        &vec![(
            ED25519_KEY.to_owned(),
            Variant::byte_strings([theirs.as_slice()]),
        )],
    )
    .unwrap();
    let public = PublicKey::from_base64(&key.public_key().to_base64()).unwrap();
    assert_eq!(verify_commit(&repo, &id, &[public]).unwrap().key, public);
}

/// A commit `ostree sign -s dummy` signed keeps that signature when ferro adds an
/// Ed25519 one, and `ostree sign --verify -s dummy` still accepts ferro's rewrite.
#[test]
fn ostree_dummy_signatures_survive_ferro_signing() {
    if !have("ostree", "--version") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (repo, id, arg) = ostree_repo(tmp.path());
    let dummy = [("OSTREE_DUMMY_SIGN_ENABLED", "1")];
    let hex = id.to_hex();
    ok(
        "ostree",
        &["sign", &arg, "-s", "dummy", &hex, "abcd"],
        &dummy,
    );
    let key = SecretKey::from_seed(&SEED);
    sign_commit(&repo, &id, &key).unwrap();
    let meta = repo.read_commitmeta(&id).unwrap().unwrap();
    let dummy_sigs = meta.iter().find(|(k, _)| k == "ostree.sign.dummy").unwrap();
    assert_eq!(
        dummy_sigs.1.as_byte_strings().unwrap(),
        vec![b"abcd".to_vec()]
    );
    let verify = ["sign", &arg, "-s", "dummy", "--verify", &hex, "abcd"];
    ok("ostree", &verify, &dummy);
    assert!(verify_commit(&repo, &id, &[key.public_key()]).is_ok());
}

/// Where `ostree` has Ed25519: a commit it signed verifies with ferro and a commit
/// ferro signed verifies with `ostree sign --verify`.
#[test]
fn ostree_sign_ed25519_both_ways() {
    if !have("ostree", "--version") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (repo, id, arg) = ostree_repo(tmp.path());
    let key = SecretKey::from_seed(&SEED);
    let (secret, public) = (key.to_base64(), key.public_key().to_base64());
    let hex = id.to_hex();
    let out = run("ostree", &["sign", &arg, &hex, &secret], &[]);
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("not implemented"), "{stderr}");
        eprintln!(
            "skipping: this `ostree` is built without ed25519 ({})",
            stderr.trim()
        );
        return;
    }
    verify_commit(&repo, &id, &[key.public_key()]).unwrap();
    fs::remove_file(repo.commitmeta_path(&id)).unwrap();
    sign_commit(&repo, &id, &key).unwrap();
    ok("ostree", &["sign", &arg, "--verify", &hex, &public], &[]);
}

/// A wrong key, a tampered commit and a tampered signature are all rejected.
#[test]
fn wrong_key_and_tampering_are_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = Repo::init(&tmp.path().join("repo"), RepoMode::BareUser).unwrap();
    let src = tmp.path().join("src");
    fs::create_dir(&src).unwrap();
    fs::write(src.join("f"), b"data").unwrap();
    let options = ferro_ostree::commit::CommitOptions {
        branch: Some("main".into()),
        timestamp: Some(0),
        ..Default::default()
    };
    let id = ferro_ostree::commit::commit_dir(&repo, &src, &options)
        .unwrap()
        .commit;
    let key = SecretKey::from_seed(&SEED);
    sign_commit(&repo, &id, &key).unwrap();
    let wrong = SecretKey::from_seed(&[9; 32]).public_key();
    assert!(matches!(
        verify_commit(&repo, &id, &[wrong]),
        Err(SignError::NotVerified { .. })
    ));

    let mut meta = repo.read_commitmeta(&id).unwrap().unwrap();
    let mut sig = meta[0].1.as_byte_strings().unwrap().remove(0);
    sig[10] ^= 1;
    meta[0].1 = Variant::byte_strings([sig.as_slice()]);
    let original = repo.read_commitmeta(&id).unwrap().unwrap();
    repo.write_commitmeta(&id, &meta).unwrap();
    assert!(matches!(
        verify_commit(&repo, &id, &[key.public_key()]),
        Err(SignError::NotVerified { .. })
    ));
    repo.write_commitmeta(&id, &original).unwrap();

    let path = repo.object_path(ObjectType::Commit, &id);
    let mut bytes = fs::read(&path).unwrap();
    bytes[0] ^= 1;
    fs::write(&path, bytes).unwrap();
    assert!(matches!(
        verify_commit(&repo, &id, &[key.public_key()]),
        Err(SignError::CorruptCommit { .. })
    ));
}

/// Detached metadata travels with its commit: pull-local copies it (so the copy
/// verifies), prune keeps it with a kept commit and deletes it with a deleted one.
#[test]
fn pull_local_copies_and_prune_keeps_commitmeta() {
    let tmp = tempfile::tempdir().unwrap();
    let src_repo = Repo::init(&tmp.path().join("a"), RepoMode::Archive).unwrap();
    let src = tmp.path().join("src");
    fs::create_dir(&src).unwrap();
    let mut ids = Vec::new();
    for (i, branch) in ["keep", "drop"].iter().enumerate() {
        fs::write(src.join("f"), format!("{i}")).unwrap();
        let options = ferro_ostree::commit::CommitOptions {
            branch: Some((*branch).into()),
            timestamp: Some(0),
            ..Default::default()
        };
        let id = ferro_ostree::commit::commit_dir(&src_repo, &src, &options)
            .unwrap()
            .commit;
        sign_commit(&src_repo, &id, &SecretKey::from_seed(&SEED)).unwrap();
        ids.push(id);
    }
    let dest = Repo::init(&tmp.path().join("b"), RepoMode::BareUser).unwrap();
    copy_commit(&src_repo, &dest, &ids[0], None).unwrap();
    let public = SecretKey::from_seed(&SEED).public_key();
    verify_commit(&dest, &ids[0], &[public]).unwrap();

    src_repo.set_ref("drop", None).unwrap();
    let options = PruneOptions {
        refs_only: true,
        ..Default::default()
    };
    prune(&src_repo, &options).unwrap();
    assert!(src_repo.commitmeta_path(&ids[0]).exists());
    assert!(!src_repo.commitmeta_path(&ids[1]).exists());
    verify_commit(&src_repo, &ids[0], &[public]).unwrap();
}
