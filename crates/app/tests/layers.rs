//! The service's modules call down, never up (docs/architecture.md draws the layers): no
//! module of `crates/app/src` reaches, through the modules it names, back to itself. Read from
//! the source: every `crate::name` outside comments and test modules is an edge.

#![allow(clippy::unwrap_used, clippy::panic, reason = "tests fail on error")]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Module → the modules of the crate it names.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    let mut dirs = vec![src.clone()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                files.push(p);
            }
        }
    }
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in files {
        let rel = f.strip_prefix(&src).unwrap();
        // `cases/open.rs` belongs to `cases`.
        let first = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        let module = first.trim_end_matches(".rs").to_string();
        if module == "lib" {
            continue;
        }
        let text = std::fs::read_to_string(&f).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap_or("");
        let names = g.entry(module.clone()).or_default();
        for line in code.lines().filter(|l| !l.trim_start().starts_with("//")) {
            let mut rest = line;
            while let Some(i) = rest.find("crate::") {
                rest = &rest[i + "crate::".len()..];
                if let Some(group) = rest.strip_prefix('{') {
                    // `use crate::{a, b::c, Thing}`: the lower-case heads are modules.
                    let inner = group.split('}').next().unwrap_or("");
                    for part in inner.split(',') {
                        let head = part.trim().split("::").next().unwrap_or("");
                        if head.starts_with(|c: char| c.is_ascii_lowercase()) {
                            names.insert(head.to_string());
                        }
                    }
                } else {
                    let head: String = rest
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    if head.starts_with(|c: char| c.is_ascii_lowercase()) {
                        names.insert(head);
                    }
                }
            }
        }
        names.remove(&module);
    }
    let modules: BTreeSet<String> = g.keys().cloned().collect();
    for names in g.values_mut() {
        names.retain(|n| modules.contains(n));
    }
    g
}

/// A path from `from` back to itself, if there is one.
fn cycle_through(g: &BTreeMap<String, BTreeSet<String>>, from: &str) -> Option<Vec<String>> {
    let mut stack = vec![(from.to_string(), vec![from.to_string()])];
    let mut seen = BTreeSet::new();
    while let Some((at, path)) = stack.pop() {
        for next in g.get(&at).into_iter().flatten() {
            if next == from {
                let mut cycle = path.clone();
                cycle.push(from.to_string());
                return Some(cycle);
            }
            if seen.insert(next.clone()) {
                let mut p = path.clone();
                p.push(next.clone());
                stack.push((next.clone(), p));
            }
        }
    }
    None
}

#[test]
fn no_module_of_the_service_calls_back_into_one_that_calls_it() {
    let g = graph();
    // The reading itself: the layers the drawing shows are there.
    assert!(g["cases"].contains("effects"), "{:?}", g["cases"]);
    assert!(g["sweep"].contains("cases"), "{:?}", g["sweep"]);
    assert!(g["decision"].contains("facts"), "{:?}", g["decision"]);
    let cycles: Vec<String> = g
        .keys()
        .filter_map(|m| cycle_through(&g, m))
        .map(|c| c.join(" -> "))
        .collect();
    assert!(cycles.is_empty(), "import cycles: {cycles:#?}");
}

#[test]
fn the_reading_finds_a_cycle_where_there_is_one() {
    let mut g = graph();
    // `case` (the row) calling up into `cases` (the use cases) would close a loop.
    g.get_mut("case").unwrap().insert("cases".into());
    let c = cycle_through(&g, "case").unwrap();
    assert_eq!(c.first().map(String::as_str), Some("case"));
    assert_eq!(c.last().map(String::as_str), Some("case"));
}
