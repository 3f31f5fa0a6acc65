//! A burst of failed sign-ins against a running server, for `scripts/signin-memory.sh`: N
//! connections opened at once and released together, each posting a wrong password for an
//! account of its own from a forwarded address of its own (start the server with
//! `--trusted-proxy 127.0.0.1`, so that each looks like another client and the throttle lets
//! every try through to its password check). With `retry`, a request answered 503 (the
//! password checks' queue is full) is sent again after its `Retry-After`, so that all N are
//! checked in the end. Loopback only, and bounded: N requests, each sent at most 100 times and
//! read at most 120 s. Prints the final answers by status and the time the burst took.
//!
//! `cargo run --release -p aftercare-cli --example signin_flood -- 127.0.0.1:PORT [N] [retry]`

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

fn main() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let addr: SocketAddr = args
        .next()
        .ok_or("usage: signin_flood 127.0.0.1:PORT [N]")?
        .parse()
        .map_err(|e| format!("the server's address: {e}"))?;
    if !addr.ip().is_loopback() {
        return Err(format!(
            "{addr} is not a loopback address: this only floods this machine"
        ));
    }
    let n: usize = match args.next() {
        Some(n) => n.parse().map_err(|e| format!("N: {e}"))?,
        None => 1000,
    };
    if !(1..=5000).contains(&n) {
        return Err(format!("N = {n}: give 1 to 5000"));
    }
    let retry = args.next().is_some_and(|a| a == "retry");
    let start_line = Arc::new(Barrier::new(n + 1));
    let threads: Vec<_> = (0..n)
        .map(|i| {
            let start_line = Arc::clone(&start_line);
            std::thread::Builder::new()
                .stack_size(128 * 1024)
                .spawn(move || one(addr, i, &start_line, retry))
                .map_err(|e| format!("thread {i}: {e}"))
        })
        .collect::<Result<_, _>>()?;
    start_line.wait();
    let began = Instant::now();
    let mut answers: BTreeMap<String, usize> = BTreeMap::new();
    for t in threads {
        let answer = t.join().unwrap_or_else(|_| "a thread panicked".into());
        *answers.entry(answer).or_default() += 1;
    }
    let took = began.elapsed();
    let summary: Vec<String> = answers.iter().map(|(k, v)| format!("{v} × {k}")).collect();
    println!(
        "{n} failed sign-ins at once in {:.1} s: {}",
        took.as_secs_f64(),
        summary.join(", ")
    );
    Ok(())
}

/// One sign-in with a wrong password: connects, waits for the others, sends; its final status.
fn one(addr: SocketAddr, i: usize, start_line: &Barrier, retry: bool) -> String {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(30));
    start_line.wait();
    for _ in 0..100 {
        let (status, wait) = send(stream, addr, i);
        match wait {
            Some(secs) if retry && status == "503" => {
                std::thread::sleep(Duration::from_secs(secs));
                stream = TcpStream::connect_timeout(&addr, Duration::from_secs(30));
            }
            _ => return status,
        }
    }
    "still busy after 100 tries".into()
}

/// Sends the sign-in on `stream`; the answer's status and `Retry-After`.
fn send(stream: std::io::Result<TcpStream>, addr: SocketAddr, i: usize) -> (String, Option<u64>) {
    let mut s = match stream {
        Ok(s) => s,
        Err(e) => return (format!("no connection ({})", e.kind()), None),
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(120)));
    let body =
        format!(r#"{{"email": "flood{i}@example.test", "password": "not the password {i}"}}"#);
    let request = format!(
        "POST /api/v1/session HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         X-Forwarded-For: 10.{}.{}.{}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        (i >> 16) & 255,
        (i >> 8) & 255,
        i & 255,
        body.len()
    );
    if let Err(e) = s.write_all(request.as_bytes()) {
        return (format!("not sent ({})", e.kind()), None);
    }
    let mut answer = Vec::new();
    if let Err(e) = s.read_to_end(&mut answer) {
        return (format!("no answer ({})", e.kind()), None);
    }
    let answer = String::from_utf8_lossy(&answer);
    let status = answer
        .split(' ')
        .nth(1)
        .map_or_else(|| "no status".into(), str::to_string);
    let wait = answer.lines().take_while(|l| !l.is_empty()).find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case("retry-after")
            .then(|| v.trim().parse().ok())
            .flatten()
    });
    (status, wait)
}
