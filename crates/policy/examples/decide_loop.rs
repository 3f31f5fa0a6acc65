//! Decides one seed's corpus `ROUNDS` times: a steady workload for instruction counting, which
//! unlike wall time is repeatable on a shared machine. See README, "Benchmarks".
//!
//! `cargo run --release -p aftercare-policy --example decide_loop -- imask 1000`

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::path::{Path, PathBuf};

use aftercare_policy::corpus::Scenario;
use aftercare_policy::{PolicySet, SourceFile, decide};

fn main() {
    let mut args = std::env::args().skip(1);
    let id = args.next().expect("usage: decide_loop POLICY ROUNDS");
    let rounds: usize = args
        .next()
        .and_then(|n| n.parse().ok())
        .expect("ROUNDS must be a number");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies");
    let mut sources = Vec::new();
    for dir in [root.clone(), root.join("law")] {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        paths.sort();
        for p in paths {
            let text = std::fs::read_to_string(&p).unwrap();
            sources.push(SourceFile {
                name: p.display().to_string(),
                text,
            });
        }
    }
    let set = PolicySet::from_sources(&sources).unwrap();
    let policy = set.get(&id).expect("unknown policy");
    let mut cases = Vec::new();
    for e in std::fs::read_dir(root.join("cases").join(&id))
        .unwrap()
        .filter_map(Result::ok)
    {
        let text = std::fs::read_to_string(e.path()).unwrap();
        let s = Scenario::parse(&e.path().display().to_string(), &text).unwrap();
        let now = s.now_in(policy).unwrap();
        cases.push((s.facts, now));
    }
    for _ in 0..rounds {
        for (facts, now) in &cases {
            black_box(decide(policy, facts, *now));
        }
    }
    println!("{} decisions", rounds * cases.len());
}
