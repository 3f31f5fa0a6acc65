//! Decision and load benchmarks over the shipped policies and their corpus.
//! Run: `cargo bench -p aftercare-policy --bench decide`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::path::{Path, PathBuf};

use aftercare_policy::corpus::Scenario;
use aftercare_policy::{PolicySet, SourceFile, decide, load};
use criterion::{Criterion, criterion_group, criterion_main};

fn policies() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies")
}

fn sources() -> Vec<SourceFile> {
    let mut out = Vec::new();
    for dir in [policies(), policies().join("law")] {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        paths.sort();
        for p in paths {
            out.push(SourceFile {
                name: p.file_name().unwrap().to_string_lossy().into_owned(),
                text: std::fs::read_to_string(&p).unwrap(),
            });
        }
    }
    out
}

fn scenarios(policy: &str) -> Vec<Scenario> {
    let dir = policies().join("cases").join(policy);
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| {
            Scenario::parse(
                &p.display().to_string(),
                &std::fs::read_to_string(p).unwrap(),
            )
            .unwrap()
        })
        .collect()
}

fn decisions(c: &mut Criterion) {
    let set = PolicySet::from_sources(&sources()).unwrap();
    let mut group = c.benchmark_group("decide");
    for id in ["imkey", "imask", "imiki", "cryptki", "maintenance"] {
        let policy = set.get(id).unwrap();
        let cases: Vec<_> = scenarios(id)
            .into_iter()
            .map(|s| {
                let now = s.now_in(policy).unwrap();
                (s.facts, now)
            })
            .collect();
        // One iteration decides every case of the corpus once; the figure per decision is
        // the time divided by the number of cases (printed below).
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
    for f in sources() {
        group.bench_function(f.name.clone(), |b| {
            b.iter(|| black_box(load::load(&f.name, &f.text).unwrap()))
        });
    }
    let all = sources();
    group.bench_function("all seven files, linked", |b| {
        b.iter(|| black_box(PolicySet::from_sources(&all).unwrap()))
    });
    group.finish();
}

criterion_group!(benches, decisions, loading);
criterion_main!(benches);
