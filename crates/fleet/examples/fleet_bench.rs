//! Load generator for `scripts/bench-fleet.sh`: CLIENTS threads, each with its own id,
//! do ROUNDS lock+unlock round trips against a running `ferro fleet serve`, each
//! request on a new connection as Zincati's ticks are; prints round trips per second
//! and request latency percentiles.
//!
//! Usage: `fleet_bench ADDR[,ADDR…] GROUP CLIENTS ROUNDS` — clients are spread over
//! the servers. The group needs CLIENTS slots, so that the figures measure the server
//! and its store; any answer but 200 (a conflict refused in Airlock-like mode) is
//! counted as a refusal and the request sent again.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

fn request(addr: SocketAddr, path: &str, id: &str, group: &str) -> u16 {
    let body = format!(r#"{{"client_params":{{"id":"{id}","group":"{group}"}}}}"#);
    let mut stream = TcpStream::connect(addr).expect("connect");
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nhost: {addr}\r\nfleet-lock-protocol: true\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .expect("send");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read");
    answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status")
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [addrs, group, clients, rounds] = args.as_slice() else {
        eprintln!("usage: fleet_bench ADDR[,ADDR…] GROUP CLIENTS ROUNDS");
        std::process::exit(2);
    };
    let addrs: Vec<SocketAddr> = addrs.split(',').map(|a| a.parse().expect("ADDR")).collect();
    let clients: usize = clients.parse().expect("CLIENTS");
    let rounds: usize = rounds.parse().expect("ROUNDS");
    let start = Instant::now();
    let threads: Vec<_> = (0..clients)
        .map(|c| {
            let group = group.clone();
            let addr = addrs[c % addrs.len()];
            std::thread::spawn(move || {
                let id = format!("{:032x}", c as u128 * 0x9e37_79b9_7f4a_7c15 + 1);
                let mut latencies = Vec::with_capacity(rounds * 2);
                let mut refused = 0u64;
                for _ in 0..rounds {
                    for path in ["/v1/pre-reboot", "/v1/steady-state"] {
                        let t = Instant::now();
                        while request(addr, path, &id, &group) != 200 {
                            refused += 1;
                        }
                        latencies.push(t.elapsed());
                    }
                }
                (latencies, refused)
            })
        })
        .collect();
    let mut latencies: Vec<Duration> = Vec::new();
    let mut refused = 0;
    for thread in threads {
        let (l, r) = thread.join().expect("a client thread");
        latencies.extend(l);
        refused += r;
    }
    let elapsed = start.elapsed();
    latencies.sort();
    let pct = |p: f64| {
        let i = ((latencies.len() as f64 * p).ceil() as usize).clamp(1, latencies.len()) - 1;
        latencies[i].as_secs_f64() * 1000.0
    };
    let pairs = clients * rounds;
    println!(
        "clients={clients} servers={} round_trips={pairs} seconds={:.2} round_trips_per_s={:.0} request_p50_ms={:.2} request_p99_ms={:.2} request_max_ms={:.2} refused_and_resent={refused}",
        addrs.len(),
        elapsed.as_secs_f64(),
        pairs as f64 / elapsed.as_secs_f64(),
        pct(0.50),
        pct(0.99),
        pct(1.0),
    );
}
