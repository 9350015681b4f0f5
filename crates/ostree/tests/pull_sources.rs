//! Where a pull reads from and what it sends, against real HTTP servers on loopback:
//! `metalink=` and `mirrorlist=` remotes, `contenturl`, `--url`, extra headers, the
//! `User-Agent`, cookie jars, bodies cut short and resumed with `Range`, `--subpath`
//! and `--localcache-repo`. The server is a small one of this file, so that a test can
//! require headers, drop objects from one mirror, or cut bodies, as OSTree's own
//! `ostree-trivial-httpd` does in its tests.

use std::collections::HashMap;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ferro_ostree::commit::{CommitOptions, commit_dir};
use ferro_ostree::cookies::{add_cookie, delete_cookie, list_cookies};
use ferro_ostree::fetch::RequestOptions;
use ferro_ostree::fsck::fsck;
use ferro_ostree::pull::{PullError, PullOptions, PullReport, pull};
use ferro_ostree::{Checksum, ObjectType, Repo, RepoMode};
use sha2::{Digest, Sha256};

/// What a [`Server`] demands and how it misbehaves.
#[derive(Default, Clone)]
struct Rules {
    /// Headers (lower-case name, value) without which every request gets 403.
    required: Vec<(String, String)>,
    /// Send only the first half of every `/objects/` body asked for without a `Range`
    /// (announcing the whole length), then close: a transfer cut short.
    cut_objects: bool,
}

/// Each request's path and headers (names lower-cased).
type Log = Vec<(String, HashMap<String, String>)>;

/// A static file server for `root` with [`Rules`], logging each request's path and
/// headers.
struct Server {
    url: String,
    log: Arc<Mutex<Log>>,
}

impl Server {
    fn start(root: &Path, rules: Rules) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let log = Arc::new(Mutex::new(Vec::new()));
        let (root, shared) = (root.to_owned(), Arc::clone(&log));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let (root, rules, log) = (root.clone(), rules.clone(), Arc::clone(&shared));
                std::thread::spawn(move || serve(stream, &root, &rules, &log));
            }
        });
        Server { url, log }
    }

    fn requests(&self) -> Log {
        self.log.lock().unwrap().clone()
    }
}

fn serve(stream: TcpStream, root: &Path, rules: &Rules, log: &Mutex<Log>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut stream = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let path = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
        let mut headers = HashMap::new();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                break;
            }
            if let Some((k, v)) = h.trim_end().split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
            }
        }
        log.lock().unwrap().push((path.clone(), headers.clone()));
        let allowed = rules
            .required
            .iter()
            .all(|(k, v)| headers.get(k).is_some_and(|have| have == v));
        let file = root.join(path.trim_start_matches('/'));
        let (status, body) = match (allowed, fs::read(&file)) {
            (false, _) => ("403 Forbidden", Vec::new()),
            (true, Ok(body)) if file.is_file() => ("200 OK", body),
            _ => ("404 Not Found", Vec::new()),
        };
        let range = headers
            .get("range")
            .and_then(|r| r.strip_prefix("bytes="))
            .and_then(|r| r.trim_end_matches('-').parse::<usize>().ok());
        if let (Some(start), "200 OK") = (range, status) {
            let rest = &body[start.min(body.len())..];
            let head = format!(
                "HTTP/1.1 206 Partial Content\r\nContent-Length: {}\r\nContent-Range: bytes {start}-{}/{}\r\n\r\n",
                rest.len(),
                body.len().saturating_sub(1),
                body.len()
            );
            if stream.write_all(head.as_bytes()).is_err() || stream.write_all(rest).is_err() {
                return;
            }
            continue;
        }
        let head = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\n", body.len());
        if rules.cut_objects && status == "200 OK" && path.contains("/objects/") && body.len() > 1 {
            let _ = stream.write_all(format!("{head}Connection: close\r\n\r\n").as_bytes());
            let _ = stream.write_all(&body[..body.len() / 2]);
            return;
        }
        if stream.write_all(format!("{head}\r\n").as_bytes()).is_err()
            || stream.write_all(&body).is_err()
        {
            return;
        }
    }
}

/// An archive repository at `dir/srv/repo` with `main` (a small tree) and a summary;
/// the server's root is `dir/srv`.
fn archive(dir: &Path) -> (PathBuf, Checksum) {
    let srv = dir.join("srv/repo");
    let repo = Repo::init(&srv, RepoMode::Archive).unwrap();
    let tree = dir.join("tree");
    fs::create_dir_all(tree.join("baz/deeper")).unwrap();
    fs::create_dir_all(tree.join("baz/another")).unwrap();
    fs::write(tree.join("firstfile"), "first\n").unwrap();
    fs::write(tree.join("baz/cow"), "moo\n").unwrap();
    fs::write(tree.join("baz/deeper/ohyeah"), "hello, world!\n").unwrap();
    fs::write(tree.join("baz/another/y"), "x\n").unwrap();
    let options = CommitOptions {
        branch: Some("main".into()),
        subject: "test".into(),
        timestamp: Some(1_700_000_000),
        ..Default::default()
    };
    let id = commit_dir(&repo, &tree, &options).unwrap().commit;
    ferro_ostree::summary::update_summary(&repo).unwrap();
    (dir.join("srv"), id)
}

/// A bare-user repository at `path` with remote `origin` at `url` (`options` added).
fn local(path: &Path, url: &str, options: &[(&str, &str)]) -> Repo {
    let repo = Repo::init(path, RepoMode::BareUser).unwrap();
    let options: Vec<_> = options
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    repo.remote_add("origin", url, &[], &options, true).unwrap();
    repo
}

fn pull_main(repo: &Repo, options: &PullOptions) -> Result<PullReport, PullError> {
    pull(repo, "origin", &["main".to_owned()], options, &())
}

fn assert_complete(repo: &Repo, id: &Checksum) {
    assert_eq!(repo.read_ref("origin:main").unwrap(), Some(*id));
    let report = fsck(repo).unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert_eq!(report.partial, 0);
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn metalink(size: usize, sha256: &str, urls: &[String]) -> String {
    let urls: String = urls
        .iter()
        .map(|u| format!("<url protocol=\"http\">{u}</url>\n"))
        .collect();
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n\
         <metalink version=\"3.0\" xmlns=\"http://www.metalinker.org/\"><files>\n\
         <file name=\"summary\"><size>{size}</size>\n\
         <verification><hash type=\"sha256\">{sha256}</hash></verification>\n\
         <resources>{urls}</resources></file></files></metalink>\n"
    )
}

#[test]
fn metalink_remote_takes_the_first_summary_that_verifies() {
    let tmp = tempfile::tempdir().unwrap();
    let (srv, id) = archive(tmp.path());
    let summary = fs::read(srv.join("repo/summary")).unwrap();
    fs::write(srv.join("repo/summary.bad"), b"broken").unwrap();
    let server = Server::start(&srv, Rules::default());
    let urls = [
        format!("{}/repo/summary.bad", server.url),
        format!("{}/repo/nosuchfile", server.url),
        format!("{}/repo/summary", server.url),
    ];
    fs::write(
        srv.join("metalink.xml"),
        metalink(summary.len(), &sha256_hex(&summary), &urls),
    )
    .unwrap();
    let remote = format!("metalink={}/metalink.xml", server.url);
    let repo = local(&tmp.path().join("local"), &remote, &[]);
    pull_main(&repo, &PullOptions::default()).unwrap();
    assert_complete(&repo, &id);
    assert_eq!(
        ferro_ostree::pull::remote_summary(&repo, "origin").unwrap(),
        Some(summary.clone())
    );

    // A hash no listed URL matches: every target is tried, the last failure named.
    fs::write(
        srv.join("metalink.xml"),
        metalink(summary.len(), &sha256_hex(b"other"), &urls),
    )
    .unwrap();
    let repo = local(&tmp.path().join("local2"), &remote, &[]);
    let error = pull_main(&repo, &PullOptions::default()).unwrap_err();
    let message = error.to_string();
    assert!(
        message.starts_with("Exhausted 3 metalink targets, last error: Expected checksum is"),
        "{message}"
    );
    assert_eq!(repo.read_ref("origin:main").unwrap(), None);
    fs::write(srv.join("metalink.xml"), "bacon").unwrap();
    let error = pull_main(&repo, &PullOptions::default()).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("Document must begin with an element"),
        "{error}"
    );
}

#[test]
fn mirrorlists_fall_back_per_file_and_contenturl_serves_the_objects() {
    let tmp = tempfile::tempdir().unwrap();
    let (srv, id) = archive(tmp.path());
    // Mirror 1 lacks one content object, which mirror 2 has.
    let copy = |name: &str| {
        let dir = tmp.path().join(name);
        copy_dir(&srv.join("repo"), &dir.join("repo"));
        dir
    };
    let mirror1 = copy("mirror1");
    let mirror2 = copy("mirror2");
    let filez = walk(&mirror1.join("repo/objects"))
        .into_iter()
        .find(|p| p.extension().is_some_and(|e| e == "filez"))
        .unwrap();
    fs::remove_file(&filez).unwrap();
    let (m1, m2) = (
        Server::start(&mirror1, Rules::default()),
        Server::start(&mirror2, Rules::default()),
    );
    let lists = Server::start(&srv, Rules::default());
    fs::write(
        srv.join("mirrorlist"),
        format!(
            "\n# comment\n\n{}/no-such-repo\n{}/repo\n{}/repo\n",
            m1.url, m1.url, m2.url
        ),
    )
    .unwrap();
    let list = format!("mirrorlist={}/mirrorlist", lists.url);
    let repo = local(&tmp.path().join("a"), &list, &[]);
    pull_main(&repo, &PullOptions::default()).unwrap();
    assert_complete(&repo, &id);
    let asked =
        |server: &Server, what: &str| server.requests().iter().filter(|(p, _)| *p == what).count();
    let rel = filez.strip_prefix(&mirror1).unwrap().to_str().unwrap();
    let path = format!("/{rel}");
    assert_eq!(asked(&m1, &path), 1, "mirror 1 was asked first");
    assert_eq!(asked(&m2, &path), 1, "mirror 2 served what mirror 1 lacks");
    assert_eq!(
        asked(&m1, "/no-such-repo/config"),
        1,
        "tried before mirror 1"
    );

    // Metadata from `url`, objects (commits included) from `contenturl` only.
    let meta_only = tmp.path().join("meta");
    fs::create_dir_all(meta_only.join("repo/objects")).unwrap();
    for file in ["config", "summary"] {
        fs::copy(
            srv.join("repo").join(file),
            meta_only.join("repo").join(file),
        )
        .unwrap();
    }
    let meta = Server::start(&meta_only, Rules::default());
    let content = format!("{}/repo", m2.url);
    let repo = local(
        &tmp.path().join("b"),
        &format!("{}/repo", meta.url),
        &[("contenturl", &content)],
    );
    pull_main(&repo, &PullOptions::default()).unwrap();
    assert_complete(&repo, &id);
    assert!(
        meta.requests()
            .iter()
            .all(|(p, _)| !p.contains("/objects/") || p.ends_with(".commitmeta")),
        "{:?}",
        meta.requests()
    );

    // `--url` replaces the remote's URL for one pull.
    let repo = local(&tmp.path().join("c"), "http://127.0.0.1:9/gone", &[]);
    let options = PullOptions {
        url: Some(format!("{}/repo", m2.url)),
        ..PullOptions::default()
    };
    pull_main(&repo, &options).unwrap();
    assert_complete(&repo, &id);
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let dest = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &dest);
        } else {
            fs::copy(&path, &dest).unwrap();
        }
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out.sort();
    out
}

#[test]
fn headers_user_agent_and_cookies_are_sent() {
    let tmp = tempfile::tempdir().unwrap();
    let (srv, id) = archive(tmp.path());
    let version = ferro_ostree::OSTREE_COMPAT_VERSION;
    let rules = Rules {
        required: vec![
            ("foo".into(), "bar".into()),
            (
                "user-agent".into(),
                format!("libostree/{version} dodo/2.15"),
            ),
            ("cookie".into(), "a=b; c=d".into()),
        ],
        ..Rules::default()
    };
    let server = Server::start(&srv, rules);
    let repo = local(&tmp.path().join("l"), &format!("{}/repo", server.url), &[]);
    let options = PullOptions {
        request: RequestOptions {
            headers: vec![("foo".into(), "bar".into())],
            append_user_agent: Some("dodo/2.15".into()),
            cookies: Vec::new(),
        },
        ..PullOptions::default()
    };
    let refused = pull_main(&repo, &options).unwrap_err();
    assert!(refused.to_string().contains("HTTP 403"), "{refused}");
    add_cookie(&repo, "origin", ("127.0.0.1", "/"), "a", "b").unwrap();
    add_cookie(&repo, "origin", ("127.0.0.1", "/"), "c", "d").unwrap();
    add_cookie(&repo, "origin", ("example.com", "/"), "e", "f").unwrap();
    let jar = fs::read_to_string(tmp.path().join("l/origin.cookies.txt")).unwrap();
    assert!(jar.contains("127.0.0.1\tFALSE\t/\tFALSE\t"), "{jar}");
    assert_eq!(list_cookies(&repo, "origin").unwrap().len(), 3);
    pull_main(&repo, &options).unwrap();
    assert_complete(&repo, &id);

    // One cookie less: refused again; deleting it twice is an error.
    delete_cookie(&repo, "origin", ("127.0.0.1", "/"), "c").unwrap();
    assert!(delete_cookie(&repo, "origin", ("127.0.0.1", "/"), "c").is_err());
    repo.set_ref("origin:main", None).unwrap();
    assert!(pull_main(&repo, &options).is_err());
    assert!(add_cookie(&repo, "nosuchremote", ("h", "/"), "a", "b").is_err());
}

#[test]
fn bodies_cut_short_are_resumed_with_range_requests() {
    let tmp = tempfile::tempdir().unwrap();
    let (srv, id) = archive(tmp.path());
    let rules = Rules {
        cut_objects: true,
        ..Rules::default()
    };
    let server = Server::start(&srv, rules);
    let repo = local(&tmp.path().join("l"), &format!("{}/repo", server.url), &[]);
    pull_main(&repo, &PullOptions::default()).unwrap();
    assert_complete(&repo, &id);
    let ranged = server
        .requests()
        .iter()
        .filter(|(_, h)| h.contains_key("range"))
        .count();
    let objects = walk(&srv.join("repo/objects")).len();
    assert!(
        ranged >= objects,
        "{ranged} range requests for {objects} objects"
    );
}

#[test]
fn subpaths_make_partial_commits_and_localcache_spares_fetches() {
    let tmp = tempfile::tempdir().unwrap();
    let (srv, id) = archive(tmp.path());
    let server = Server::start(&srv, Rules::default());
    let url = format!("{}/repo", server.url);
    let repo = local(&tmp.path().join("l"), &url, &[]);
    let options = PullOptions {
        subpaths: vec!["/baz/deeper".into()],
        ..PullOptions::default()
    };
    pull_main(&repo, &options).unwrap();
    let partial = tmp.path().join(format!("l/state/{id}.commitpartial"));
    assert!(partial.exists());
    let entries = ferro_ostree::browse::ls(&repo, &id, "/baz/deeper", true).unwrap();
    assert_eq!(entries.len(), 2, "the directory and its file");
    assert!(ferro_ostree::browse::ls(&repo, &id, "/firstfile", false).is_err());
    let report = fsck(&repo).unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert_eq!(report.partial, 1, "a partial commit is not walked");
    pull_main(&repo, &PullOptions::default()).unwrap();
    assert!(!partial.exists());
    assert_complete(&repo, &id);

    // Everything is in `l` now: a pull into `m` that may take from it fetches only
    // the commit.
    let other = local(&tmp.path().join("m"), &url, &[]);
    let options = PullOptions {
        localcache: vec![tmp.path().join("l")],
        ..PullOptions::default()
    };
    let report = pull_main(&other, &options).unwrap();
    assert_eq!(report.status.content_fetched, 0);
    assert!(report.status.content_local >= 4, "{:?}", report.status);
    assert!(report.status.metadata_local >= 4, "{:?}", report.status);
    assert_complete(&other, &id);
    assert!(other.has_object(ObjectType::File, &{
        let tree = other.load_commit(&id).unwrap().root_tree;
        other.load_dirtree(&tree).unwrap().files[0].1
    }));
    let mut body = String::new();
    ferro_ostree::browse::cat(&other, &id, "/baz/cow")
        .unwrap()
        .reader
        .read_to_string(&mut body)
        .unwrap();
    assert_eq!(body, "moo\n");
}
