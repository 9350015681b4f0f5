//! A real compose from the Debian archive: opt-in (`FERRO_COMPOSE_NETWORK=1`), because it
//! downloads about 100 MB, takes minutes, and needs root and debootstrap.

use ferro_compose::manifest::Manifest;
use ferro_compose::tree::compose_tree;
use ferro_ostree::Repo;

#[test]
fn compose_a_bootable_tree_from_debian() {
    if std::env::var_os("FERRO_COMPOSE_NETWORK").is_none_or(|v| v != "1") {
        eprintln!("skipped: set FERRO_COMPOSE_NETWORK=1 to compose from the Debian archive");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let manifest = Manifest::parse(
        "ref: ferro/test\nversion: '1'\npackages: [linux-image-amd64, systemd, systemd-sysv, udev, openssh-server]\n",
    )
    .unwrap();
    let repo = dir.path().join("repo");
    let outcome = compose_tree(&manifest, &repo, &dir.path().join("cache"), &mut |step| {
        eprintln!("step: {step}")
    })
    .unwrap();
    for step in &outcome.steps {
        eprintln!("{}: {:.1} s", step.name, step.elapsed.as_secs_f64());
    }
    eprintln!(
        "kernel {}, tree {} MB",
        outcome.kver,
        outcome.tree_bytes / 1_000_000
    );

    let repo = Repo::open(&repo).unwrap();
    assert_eq!(repo.read_ref("ferro/test").unwrap(), Some(outcome.commit));
    let commit = repo.load_commit(&outcome.commit).unwrap();
    assert_eq!(commit.metadata_string("version").as_deref(), Some("1"));
    assert!(
        dir.path().join("cache/debs").read_dir().unwrap().count() > 50,
        "downloads are cached"
    );
}
