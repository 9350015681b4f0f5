//! The measurement behind the embedded store's engine: redb against SQLite, doing what a
//! FleetLock change does — read a group's record, rewrite it, append an audit record, and
//! commit durably before answering — one transaction after another from one writer, as
//! the server serialises them. Prints each engine's transactions per second, p50 and p99,
//! the file size, and the ratios. Run by `scripts/bench-fleet-store.sh`.
//!
//! SQLite runs in WAL mode with `synchronous=FULL` (a commit survives power loss, as redb's
//! immediate durability does) and with `synchronous=NORMAL` (durable against a process
//! crash only) for reference.

use std::path::Path;
use std::time::{Duration, Instant};

use redb::{Database, ReadableTable, TableDefinition};

const GROUPS: TableDefinition<&str, &[u8]> = TableDefinition::new("groups");
const AUDIT: TableDefinition<u64, &[u8]> = TableDefinition::new("audit");

/// A group record and an audit record of about the sizes the server writes.
fn group_record(i: u64) -> Vec<u8> {
    format!(
        r#"{{"slots":3,"holders":[{{"id":"{i:032x}","at":{i}}},{{"id":"{:032x}","at":1}}]}}"#,
        i + 1
    )
    .into_bytes()
}

fn audit_record(i: u64) -> Vec<u8> {
    format!(
        r#"{{"seq":{i},"at":{i},"action":"lock","group":"default","id":"{i:032x}","actor":"node","holders":2,"slots":3}}"#
    )
    .into_bytes()
}

struct Figures {
    name: &'static str,
    latencies: Vec<Duration>,
    total: Duration,
    bytes: u64,
}

impl Figures {
    fn per_second(&self) -> f64 {
        self.latencies.len() as f64 / self.total.as_secs_f64()
    }
    fn percentile(&self, p: f64) -> Duration {
        let mut sorted = self.latencies.clone();
        sorted.sort();
        sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
    }
}

fn timed(name: &'static str, n: u64, file: &Path, mut step: impl FnMut(u64)) -> Figures {
    let mut latencies = Vec::with_capacity(n as usize);
    let start = Instant::now();
    for i in 0..n {
        let t = Instant::now();
        step(i);
        latencies.push(t.elapsed());
    }
    let total = start.elapsed();
    let bytes = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0)
        + std::fs::metadata(file.with_extension("db-wal"))
            .map(|m| m.len())
            .unwrap_or(0);
    Figures {
        name,
        latencies,
        total,
        bytes,
    }
}

fn redb_run(dir: &Path, n: u64) -> Figures {
    let file = dir.join("fleet.redb");
    let db = Database::create(&file).expect("create redb");
    timed("redb", n, &file, |i| {
        let txn = db.begin_write().unwrap();
        {
            let mut groups = txn.open_table(GROUPS).unwrap();
            let old = groups.get("default").unwrap().map(|v| v.value().len());
            std::hint::black_box(old);
            groups
                .insert("default", group_record(i).as_slice())
                .unwrap();
            let mut audit = txn.open_table(AUDIT).unwrap();
            audit.insert(i, audit_record(i).as_slice()).unwrap();
        }
        txn.commit().unwrap();
    })
}

fn sqlite_run(dir: &Path, n: u64, synchronous: &str, name: &'static str) -> Figures {
    let file = dir.join(format!("fleet-{synchronous}.db"));
    let mut db = rusqlite::Connection::open(&file).expect("open sqlite");
    db.execute_batch(&format!(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous={synchronous};
         CREATE TABLE groups (name TEXT PRIMARY KEY, value BLOB NOT NULL);
         CREATE TABLE audit (seq INTEGER PRIMARY KEY, value BLOB NOT NULL);"
    ))
    .unwrap();
    timed(name, n, &file, |i| {
        let txn = db.transaction().unwrap();
        let old: Option<Vec<u8>> = txn
            .query_row("SELECT value FROM groups WHERE name = 'default'", [], |r| {
                r.get(0)
            })
            .ok();
        std::hint::black_box(old);
        txn.execute(
            "INSERT OR REPLACE INTO groups (name, value) VALUES ('default', ?1)",
            [group_record(i)],
        )
        .unwrap();
        txn.execute(
            "INSERT INTO audit (seq, value) VALUES (?1, ?2)",
            rusqlite::params![i as i64, audit_record(i)],
        )
        .unwrap();
        txn.commit().unwrap();
    })
}

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2000);
    let dir = tempfile::tempdir_in(std::env::var_os("BENCH_DIR").unwrap_or(".".into()))
        .expect("scratch directory");
    let runs = [
        redb_run(dir.path(), n),
        sqlite_run(dir.path(), n, "FULL", "sqlite-wal-full"),
        sqlite_run(dir.path(), n, "NORMAL", "sqlite-wal-normal"),
    ];
    println!("{n} lock changes, each one durable transaction");
    println!(
        "{:<20} {:>10} {:>10} {:>10} {:>12}",
        "engine", "txn/s", "p50 ms", "p99 ms", "file KiB"
    );
    for f in &runs {
        println!(
            "{:<20} {:>10.0} {:>10.2} {:>10.2} {:>12}",
            f.name,
            f.per_second(),
            f.percentile(0.5).as_secs_f64() * 1e3,
            f.percentile(0.99).as_secs_f64() * 1e3,
            f.bytes / 1024
        );
    }
    let redb = &runs[0];
    for other in &runs[1..] {
        println!(
            "redb/{} throughput ratio: {:.2}",
            other.name,
            redb.per_second() / other.per_second()
        );
    }
}
