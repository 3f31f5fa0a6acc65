//! Decision and load benchmarks over the shipped policies and their corpus.
//! Run: `cargo bench -p aftercare-policy --bench decide`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/corpus_files.rs"]
mod corpus_files;

use std::hint::black_box;

use aftercare_policy::{Detail, PolicySet, decide, decide_in, load};
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
        // What-if's decision: the outcomes alone, without what explains them.
        group.bench_function(
            format!("{id}, outcomes only ({} cases)", cases.len()),
            |b| {
                b.iter(|| {
                    for (facts, now) in &cases {
                        black_box(decide_in(Detail::Outcomes, policy, facts, *now));
                    }
                })
            },
        );
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

/// Reading facts as the service stores them (JSON text), as what-if does a million times: a
/// JSON tree then facts, against one pass over the text (`Facts::from_json_str`).
fn stored_facts(c: &mut Criterion) {
    let stored = corpus_files::stored_facts();
    let mut group = c.benchmark_group("stored facts");
    group.throughput(criterion::Throughput::Elements(stored.len() as u64));
    group.bench_function(
        format!("JSON tree, then facts ({} cases)", stored.len()),
        |b| {
            b.iter(|| {
                for text in &stored {
                    let v: serde_json::Value = serde_json::from_str(text).unwrap();
                    black_box(aftercare_policy::Facts::from_json(&v).unwrap());
                }
            })
        },
    );
    group.bench_function(format!("one pass ({} cases)", stored.len()), |b| {
        b.iter(|| {
            for text in &stored {
                black_box(aftercare_policy::Facts::from_json_str(text).unwrap());
            }
        })
    });
    // What-if's reading: each into the same value, which keeps its memory.
    group.bench_function(
        format!("one pass, into one value ({} cases)", stored.len()),
        |b| {
            let mut facts = aftercare_policy::Facts::new();
            b.iter(|| {
                for text in &stored {
                    facts.read_json_str(text).unwrap();
                    black_box(&facts);
                }
            })
        },
    );
    group.finish();
}

criterion_group!(benches, decisions, loading, stored_facts);
criterion_main!(benches);
