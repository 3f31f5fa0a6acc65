//! The shipped policy files read like their documents: every rule's `when` is short enough
//! to read beside its clause, and a list of causes is written once per file (in a named
//! definition), not copied into each rule that needs it.

#![allow(clippy::unwrap_used, reason = "test helpers fail the test on error")]

use std::path::{Path, PathBuf};

use aftercare_policy::expr::syntax::{self, Ast, Node};

/// Longest `when` a shipped policy may have.
const MAX_WHEN: usize = 200;

fn policy_files() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies");
    let mut out = Vec::new();
    for dir in [root.clone(), root.join("law")] {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "toml") {
                out.push(p);
            }
        }
    }
    out.sort();
    assert!(out.len() >= 7, "{out:?}");
    out
}

/// Every expression string of a file, with where it is: definitions, `applies`, `binds`,
/// rules' `when`, `require` and `set` values, warranty start `when`s.
fn expressions(doc: &toml::Table) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let text = |v: &toml::Value| v.as_str().map(str::to_string);
    if let Some(defs) = doc.get("define").and_then(toml::Value::as_table) {
        for (k, v) in defs {
            out.extend(text(v).map(|t| (format!("define.{k}"), t)));
        }
    }
    if let Some(meta) = doc.get("policy").and_then(toml::Value::as_table) {
        for key in ["applies", "binds"] {
            out.extend(meta.get(key).and_then(text).map(|t| (key.to_string(), t)));
        }
    }
    for (i, r) in doc
        .get("rule")
        .and_then(toml::Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let id = r.get("id").and_then(toml::Value::as_str).unwrap_or("?");
        for key in ["when", "require"] {
            out.extend(
                r.get(key)
                    .and_then(text)
                    .map(|t| (format!("rule {} ({id}).{key}", i + 1), t)),
            );
        }
    }
    out
}

/// The lists of two or more causes an expression writes out: `has_any(diagnosis.causes,
/// [...])`, or an `or` of `'x' in diagnosis.causes` tests.
fn cause_lists(n: &Node, out: &mut Vec<Vec<String>>) {
    let is_causes = |n: &Node| matches!(&n.ast, Ast::Path(p) if p == "diagnosis.causes");
    match &n.ast {
        Ast::Call(f, args) if f == "has_any" => {
            if let [set, list] = args.as_slice()
                && is_causes(set)
                && let Ast::List(items) = &list.ast
            {
                let mut names: Vec<String> = items
                    .iter()
                    .filter_map(|i| match &i.ast {
                        Ast::Str(s) => Some(s.clone()),
                        _ => None,
                    })
                    .collect();
                names.sort();
                if names.len() >= 2 {
                    out.push(names);
                }
            }
        }
        Ast::Or(items) => {
            let mut names: Vec<String> = items
                .iter()
                .filter_map(|i| match &i.ast {
                    Ast::In {
                        negated: false,
                        item,
                        within,
                    } if is_causes(within) => match &item.ast {
                        Ast::Str(s) => Some(s.clone()),
                        _ => None,
                    },
                    _ => None,
                })
                .collect();
            names.sort();
            if names.len() >= 2 {
                out.push(names);
            }
            items.iter().for_each(|i| cause_lists(i, out));
        }
        Ast::And(items) | Ast::List(items) | Ast::Call(_, items) => {
            items.iter().for_each(|i| cause_lists(i, out));
        }
        Ast::Not(inner) => cause_lists(inner, out),
        Ast::Cmp(_, a, b) | Ast::Add(a, b) | Ast::Sub(a, b) => {
            cause_lists(a, out);
            cause_lists(b, out);
        }
        _ => {}
    }
}

#[test]
fn no_rule_condition_is_longer_than_two_hundred_characters() {
    let mut long = Vec::new();
    for f in policy_files() {
        let doc: toml::Table = toml::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
        for (at, text) in expressions(&doc) {
            if at.ends_with(".when") && text.chars().count() > MAX_WHEN {
                long.push(format!(
                    "{}: {at} is {} characters",
                    f.display(),
                    text.chars().count()
                ));
            }
        }
    }
    assert!(long.is_empty(), "{}", long.join("\n"));
}

#[test]
fn no_list_of_causes_is_written_twice_in_a_file() {
    let mut twice = Vec::new();
    for f in policy_files() {
        let doc: toml::Table = toml::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
        let mut seen: Vec<(Vec<String>, String)> = Vec::new();
        for (at, text) in expressions(&doc) {
            let node = syntax::parse(&text).unwrap();
            let mut lists = Vec::new();
            cause_lists(&node, &mut lists);
            for list in lists {
                // The same list, or two lists sharing two or more causes, is a copy.
                for (other, where_) in &seen {
                    let shared = list.iter().filter(|c| other.contains(c)).count();
                    if shared >= 2 {
                        twice.push(format!(
                            "{}: {at} and {where_} both list {:?}",
                            f.display(),
                            list.iter()
                                .filter(|c| other.contains(c))
                                .collect::<Vec<_>>()
                        ));
                    }
                }
                seen.push((list, at.clone()));
            }
        }
    }
    assert!(twice.is_empty(), "{}", twice.join("\n"));
}
