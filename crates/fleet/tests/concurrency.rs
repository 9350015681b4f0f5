//! 200 clients with distinct ids race for a group of 3 slots. The invariant is checked
//! from the store's audit log, not from the answers: replaying every committed change
//! in order, the group never has more than 3 holders, and every client took and gave
//! back its slot exactly once. See: issue 16.

mod common;

use std::collections::BTreeSet;
use std::sync::{Arc, Barrier};
use std::time::Duration;

use common::{ADMIN_TOKEN, TestServer, config, lock, node_id, unlock};
use ferro_fleet::api::AuditAction;
use ferro_fleet::client::AdminClient;

const CLIENTS: u64 = 200;
const SLOTS: u32 = 3;

#[test]
fn two_hundred_clients_race_for_three_slots() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(config(&dir.path().join("data"), 1, &[("workers", SLOTS)]));
    let addr = server.addr;
    let start = Arc::new(Barrier::new(CLIENTS as usize));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|n| {
            let start = Arc::clone(&start);
            std::thread::spawn(move || {
                let id = node_id(n);
                start.wait();
                let mut refused = 0u32;
                loop {
                    let answer = lock(addr, &id, "workers");
                    match answer.status {
                        200 => break,
                        423 => {
                            assert_eq!(answer.kind(), "failed_lock_semaphore_full");
                            refused += 1;
                            // Pacing only, as Zincati retries on its next tick: the
                            // outcome does not depend on it.
                            std::thread::sleep(Duration::from_millis(
                                2 + u64::from(refused.min(20)),
                            ));
                        }
                        other => panic!("{id}: unexpected {other}: {answer:?}"),
                    }
                }
                // A holder asks again (Zincati's next tick) before rebooting.
                assert_eq!(lock(addr, &id, "workers").status, 200);
                assert_eq!(unlock(addr, &id, "workers").status, 200);
                refused
            })
        })
        .collect();
    let refusals: u32 = clients.into_iter().map(|c| c.join().unwrap()).sum();
    assert!(refusals > 0, "the clients did contend");

    let admin = AdminClient::new(&server.url(), ADMIN_TOKEN).unwrap();
    let mut records = Vec::new();
    loop {
        let after = records
            .last()
            .map_or(0, |r: &ferro_fleet::api::AuditRecord| r.seq);
        let page = admin.audit(after).unwrap().records;
        if page.is_empty() {
            break;
        }
        records.extend(page);
    }
    let mut holders = BTreeSet::new();
    let mut locked = BTreeSet::new();
    let mut unlocked = BTreeSet::new();
    let mut most = 0;
    for (i, record) in records.iter().enumerate() {
        assert_eq!(record.seq, i as u64 + 1, "the log has no gaps");
        if record.group != "workers" {
            continue;
        }
        match record.action {
            AuditAction::Lock => {
                assert!(
                    holders.insert(record.id.clone()),
                    "{} locked twice",
                    record.id
                );
                assert!(locked.insert(record.id.clone()));
            }
            AuditAction::Unlock => {
                assert!(holders.remove(&record.id), "{} unlocked unheld", record.id);
                assert!(unlocked.insert(record.id.clone()));
            }
            AuditAction::Slots => assert_eq!(record.slots, SLOTS),
            AuditAction::Release | AuditAction::Expire => panic!("nothing else freed a slot"),
        }
        assert_eq!(record.holders as usize, holders.len(), "record {record:?}");
        assert!(
            holders.len() <= SLOTS as usize,
            "more than {SLOTS} holders at {record:?}"
        );
        most = most.max(holders.len());
    }
    assert_eq!(
        most, SLOTS as usize,
        "the slots were all used at some point"
    );
    assert!(holders.is_empty());
    assert_eq!(locked.len() as u64, CLIENTS);
    assert_eq!(unlocked, locked);
    let locks = admin.locks().unwrap();
    assert!(locks.groups.iter().all(|g| g.holders.is_empty()));
}
