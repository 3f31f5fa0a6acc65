//! Reads every scenario's facts, as the service stores them (JSON text), `ROUNDS` times: a
//! steady workload for instruction counting of `Facts::from_json_str`, which what-if calls a
//! million times. See README, "Benchmarks".
//!
//! `cargo run --release -p aftercare-policy --example facts_loop -- 1000`

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../benches/support/corpus_files.rs"]
mod corpus_files;

use std::hint::black_box;

use aftercare_policy::Facts;

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("usage: facts_loop ROUNDS");
    let stored = corpus_files::stored_facts();
    for _ in 0..rounds {
        for text in &stored {
            black_box(Facts::from_json_str(text).unwrap());
        }
    }
    println!("{} facts read", rounds * stored.len());
}
