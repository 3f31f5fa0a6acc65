//! Decides one seed's corpus `ROUNDS` times: a steady workload for instruction counting, which
//! unlike wall time is repeatable on a shared machine. See README, "Benchmarks".
//!
//! `cargo run --release -p aftercare-policy --example decide_loop -- imask 1000`

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../benches/support/corpus_files.rs"]
mod corpus_files;

use std::hint::black_box;

use aftercare_policy::decide;

fn main() {
    let mut args = std::env::args().skip(1);
    let id = args.next().expect("usage: decide_loop POLICY ROUNDS");
    let rounds: usize = args
        .next()
        .and_then(|n| n.parse().ok())
        .expect("ROUNDS must be a number");
    let set = corpus_files::policy_set();
    let policy = set.get(&id).expect("unknown policy");
    let cases = corpus_files::cases(policy);
    for _ in 0..rounds {
        for (facts, now) in &cases {
            black_box(decide(policy, facts, *now));
        }
    }
    println!("{} decisions", rounds * cases.len());
}
