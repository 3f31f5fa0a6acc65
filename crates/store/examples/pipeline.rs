//! Transactions of four single-row inserts per second, one connection per thread, three ways:
//! the synchronous `postgres` client one statement at a time (how the store worked before),
//! the store with `exec` (waits for each answer) and with `exec_later` (pipelined). Usage:
//! `cargo run --release -p aftercare-store --example pipeline -- postgres://… [THREADS]`.
//! It creates and drops a table `pipeline_bench` in that database.

#![allow(clippy::unwrap_used, reason = "a benchmark: any failure ends it")]
use aftercare_store::{Store, Val};
use std::time::Instant;
fn main() {
    let url = std::env::args().nth(1).unwrap();
    let threads: usize = std::env::args().nth(2).map_or(1, |s| s.parse().unwrap());
    let n = 2000;
    {
        let mut s = Store::connect_unmigrated(&url).unwrap();
        s.tx(|tx| {
            tx.batch(
                "DROP TABLE IF EXISTS pipeline_bench; CREATE TABLE pipeline_bench (id BIGSERIAL PRIMARY KEY, note TEXT)",
            )
        })
        .unwrap();
    }
    for mode in ["old", "exec", "later"] {
        let t = Instant::now();
        let hs: Vec<_> = (0..threads)
            .map(|_| {
                let url = url.clone();
                std::thread::spawn(move || {
                    if mode == "old" {
                        let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
                        let st = c
                            .prepare("INSERT INTO pipeline_bench (note) VALUES ($1)")
                            .unwrap();
                        for _ in 0..n {
                            let mut t = c.transaction().unwrap();
                            for _ in 0..4 {
                                t.execute(&st, &[&"x"]).unwrap();
                            }
                            t.commit().unwrap();
                        }
                    } else {
                        let mut s = Store::connect_unmigrated(&url).unwrap();
                        for _ in 0..n {
                            s.tx(|tx| -> Result<(), aftercare_store::StoreError> {
                                for _ in 0..4 {
                                    if mode == "exec" {
                                        tx.exec(
                                            "INSERT INTO pipeline_bench (note) VALUES (?)",
                                            &[Val::Text("x".into())],
                                        )?;
                                    } else {
                                        tx.exec_later(
                                            "INSERT INTO pipeline_bench (note) VALUES (?)",
                                            &[Val::Text("x".into())],
                                        )?;
                                    }
                                }
                                Ok(())
                            })
                            .unwrap();
                        }
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        let el = t.elapsed().as_secs_f64();
        println!("{mode}: {:.0} tx/s", (n * threads) as f64 / el);
    }
    let mut s = Store::connect_unmigrated(&url).unwrap();
    s.tx(|tx| tx.batch("DROP TABLE pipeline_bench")).unwrap();
}
