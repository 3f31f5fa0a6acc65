//! Decision and load benchmarks over the shipped policies and their corpus.
//! Run: `cargo bench -p aftercare-policy --bench decide`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/corpus_files.rs"]
mod corpus_files;

use std::hint::black_box;

use aftercare_policy::{PolicySet, decide, load};
use criterion::{Criterion, criterion_group, criterion_main};

fn decisions(c: &mut Criterion) {
    let set = corpus_files::policy_set();
    let mut group = c.benchmark_group("decide");
    for id in ["imkey", "imask", "imiki", "cryptki", "maintenance"] {
        let policy = set.get(id).unwrap();
        let cases = corpus_files::cases(policy);
        // One iteration decides every case of the corpus once; the figure per decision is
        // the time divided by the number of cases in the name.
        group.throughput(criterion::Throughput::Elements(cases.len() as u64));
        group.bench_function(format!("{id} ({} cases)", cases.len()), |b| {
            b.iter(|| {
                for (facts, now) in &cases {
                    black_box(decide(policy, facts, *now));
                }
            })
        });
    }
    group.finish();
}

fn loading(c: &mut Criterion) {
    let mut group = c.benchmark_group("load+check");
    let all = corpus_files::sources();
    for f in &all {
        group.bench_function(f.name.clone(), |b| {
            b.iter(|| black_box(load::load(&f.name, &f.text).unwrap()))
        });
    }
    group.bench_function("all seven files, linked", |b| {
        b.iter(|| black_box(PolicySet::from_sources(&all).unwrap()))
    });
    group.finish();
}

criterion_group!(benches, decisions, loading);
criterion_main!(benches);
