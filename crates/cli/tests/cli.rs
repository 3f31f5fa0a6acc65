//! The `aftercare` binary, run as a user would: the shipped corpus, explanations of every
//! corpus case, and located errors for broken files.

#![allow(clippy::unwrap_used, reason = "test helpers fail the test on error")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

use aftercare_cli::files;
use aftercare_policy::corpus;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn policies() -> PathBuf {
    root().join("policies")
}

fn aftercare(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_aftercare"))
        .args(args)
        .arg("--policies")
        .arg(policies())
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A fresh directory for one test's files.
fn scratch() -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "aftercare-cli-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn every_seed_has_at_least_fifteen_scenarios_that_pass_and_cite_every_clause() {
    let set = files::load_set(&policies()).unwrap();
    let scenarios = files::load_scenarios(&policies().join("cases")).unwrap();
    let report = corpus::run_all(&set, &scenarios);
    assert!(
        report.failed.is_empty(),
        "failing scenarios: {:#?}",
        report.failed
    );
    assert!(
        report.uncovered.is_empty(),
        "clauses no scenario cites: {:#?}",
        report.uncovered
    );
    for seller in ["imkey", "imask", "imiki", "cryptki", "maintenance"] {
        let n = scenarios.iter().filter(|s| s.policy == seller).count();
        assert!(n >= 15, "{seller} has only {n} scenarios");
        assert!(set.get(seller).is_some(), "{seller} policy missing");
    }
}

#[test]
fn every_rule_of_every_seed_is_needed_by_some_scenario() {
    let files = files::policy_files(&policies()).unwrap();
    let scenarios = files::load_scenarios(&policies().join("cases")).unwrap();
    let outcome = aftercare_policy::mutate::rule_deletions(&files, &scenarios);
    assert!(
        outcome.deleted + outcome.switched_off.len() >= 198,
        "{} rules deleted",
        outcome.deleted
    );
    let survivors: Vec<String> = outcome
        .survivors
        .iter()
        .map(|s| format!("{}:{}: `{}` (clause {})", s.file, s.line, s.rule, s.clause))
        .collect();
    assert!(
        survivors.is_empty(),
        "deleting these rules changes no scenario's outcome:\n{}",
        survivors.join("\n")
    );
}

#[test]
fn a_rule_no_scenario_needs_is_named_by_policy_test_mutate() {
    // A copy of the shipped policies with one rule more: it repeats another's notice, so
    // deleting it is noticed by nothing.
    let dir = scratch();
    std::fs::create_dir_all(dir.join("law")).unwrap();
    for sub in ["", "law"] {
        for e in std::fs::read_dir(policies().join(sub)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "toml") {
                std::fs::copy(&p, dir.join(sub).join(p.file_name().unwrap())).unwrap();
            }
        }
    }
    let imkey = dir.join("imkey.toml");
    let mut policy = std::fs::read_to_string(&imkey).unwrap();
    policy.push_str("\n[[rule]]\nid = \"spare-notice\"\nclause = \"Closing\"\nnotice = true\nwhen = \"buyer.kind == 'consumer'\"\n");
    std::fs::write(&imkey, policy).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_aftercare"))
        .args(["policy", "test", "--mutate"])
        .arg(policies().join("cases"))
        .arg("--policies")
        .arg(&dir)
        .output()
        .unwrap();
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("deleting rule `spare-notice` (clause Closing) changes no scenario's outcome"),
        "{out}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn policy_test_prints_the_count_and_exits_zero() {
    let o = aftercare(&["policy", "test", policies().join("cases").to_str().unwrap()]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    let last = t.lines().last().unwrap();
    assert!(last.ends_with(" passed, 0 failed"), "{last}");
    assert!(
        t.contains("cryptki: ") && t.contains("17/17 clauses cited"),
        "{t}"
    );
}

#[test]
fn policy_test_fails_and_names_the_scenario_when_an_expectation_is_wrong() {
    let dir = scratch();
    let good = std::fs::read_to_string(
        policies()
            .join("cases/cryptki/001-unopened-wallet-withdrawal-refunds-standard-delivery.toml"),
    )
    .unwrap();
    let bad = good.replacen("withdrawal = \"allowed\"", "withdrawal = \"denied\"", 1);
    assert_ne!(
        good, bad,
        "the scenario no longer says withdrawal = \"allowed\""
    );
    std::fs::write(dir.join("wrong.toml"), bad).unwrap();
    let o = aftercare(&["policy", "test", dir.to_str().unwrap()]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(
        t.contains("wrong.toml") && t.contains("withdrawal: expected denied, got allowed"),
        "{t}"
    );
    assert!(t.contains("UNCOVERED cryptki"), "{t}");
    assert!(t.trim_end().ends_with("0 passed, 1 failed"), "{t}");
}

#[test]
fn explain_answers_every_corpus_case_in_words_and_in_json() {
    let scenarios = files::load_scenarios(&policies().join("cases")).unwrap();
    for s in &scenarios {
        let o = aftercare(&["policy", "explain", "--facts", &s.file]);
        let t = text(&o);
        assert!(o.status.success(), "{}: {t}", s.file);
        for c in &s.expect.cites {
            let shown = [format!("[{c}"), format!(" {c}]"), format!(" {c},")]
                .iter()
                .any(|p| t.contains(p.as_str()));
            assert!(shown, "{}: clause {c} not in explanation:\n{t}", s.file);
        }
        let o = aftercare(&["policy", "explain", "--json", "--facts", &s.file]);
        assert!(o.status.success(), "{}", s.file);
        let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        for (remedy, status) in &s.expect.remedies {
            let got = j["remedies"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["remedy"] == remedy.as_str())
                .map_or("not_offered", |r| r["status"].as_str().unwrap());
            assert_eq!(got, status, "{}: {remedy}", s.file);
        }
    }
}

#[test]
fn policy_list_shows_every_policy() {
    let o = aftercare(&["policy", "list"]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    for id in [
        "imkey",
        "imask",
        "imiki",
        "cryptki",
        "maintenance",
        "eu-consumer",
        "cn-consumer",
    ] {
        assert!(t.contains(id), "{id} missing from:\n{t}");
    }
}

const MINIMAL: &str = r#"[policy]
id = "tiny"
kind = "seller"
title = "Tiny"
seller = "Tiny"
version = "1"
effective_from = 2024-01-01
jurisdiction = "BE"
time_zone = "Europe/Brussels"
currency = "EUR"

[[clause]]
id = "1"
title = "Return"
text = "Return within 14 days."

[[rule]]
clause = "1"
allow = ["return"]
when = "within(order.delivered, 14 days)"
"#;

fn check_file(body: &str) -> (i32, String) {
    let dir = scratch();
    let f = dir.join("p.toml");
    std::fs::write(&f, body).unwrap();
    let o = aftercare(&["policy", "check", f.to_str().unwrap()]);
    (o.status.code().unwrap_or(-1), text(&o))
}

#[test]
fn a_valid_policy_checks_clean() {
    let (code, t) = check_file(MINIMAL);
    assert_eq!(code, 0, "{t}");
    assert!(t.contains("ok: 1 file checked"), "{t}");
}

#[test]
fn malformed_policies_get_errors_located_at_line_and_column() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "within(order.delivered, 14 days)",
            "within(order.delivred, 14 days)",
            "p.toml:20:16: error: unknown fact `order.delivred`",
        ),
        (
            "within(order.delivered, 14 days)",
            "order.delivered == 'main'",
            "p.toml:20:9: error: cannot compare date with text",
        ),
        (
            "within(order.delivered, 14 days)",
            "within(order.delivered, 14 days) and",
            "p.toml:20:45: error: the expression ends too early",
        ),
        (
            "clause = \"1\"\nallow",
            "clause = \"9\"\nallow",
            "p.toml:18:10: error: unknown clause `9`",
        ),
        (
            "allow = [\"return\"]",
            "allow = [\"retrun\"]",
            "did you mean 'return'?",
        ),
        (
            "time_zone = \"Europe/Brussels\"",
            "time_zone = \"Europe/Bruxelles\"",
            "p.toml:9:13: error: `Europe/Bruxelles` is not a known time zone",
        ),
        ("[[rule]]", "[[rule]]\nfoo = 1", "unknown field `foo`"),
        (
            "text = \"Return within 14 days.\"",
            "text = \"Return within 14 days.",
            "p.toml:15:",
        ),
        (
            "within(order.delivered, 14 days)",
            "product.class == 'main' and product.class == 'strap'",
            "can never apply: it asks contradictory things of `product.class`",
        ),
    ];
    for (from, to, want) in cases {
        let body = MINIMAL.replacen(from, to, 1);
        assert_ne!(body, MINIMAL, "{from}");
        let (code, t) = check_file(&body);
        assert_eq!(code, 1, "{to}: {t}");
        assert!(t.contains(want), "{to}: expected `{want}` in:\n{t}");
        assert!(!t.contains("panicked"), "{t}");
    }
}

#[test]
fn a_rule_shadowed_by_an_earlier_one_is_reported() {
    let body = format!(
        "{MINIMAL}\n[[rule]]\nclause = \"1\"\nset = {{ \"refund.shipping\" = \"false\" }}\n\n[[rule]]\nclause = \"1\"\nset = {{ \"refund.shipping\" = \"true\" }}\nwhen = \"buyer.kind == 'consumer'\"\n"
    );
    let (code, t) = check_file(&body);
    assert_eq!(code, 1, "{t}");
    assert!(t.contains("can never decide `refund.shipping`"), "{t}");
}

#[test]
fn bad_facts_are_refused_with_the_field_named() {
    let dir = scratch();
    let cases: &[(&str, &str)] = &[
        (
            "order.delivered = 2024-03-01\ncondition.activatd = true\n",
            "facts.toml:2:11: error: unknown fact `condition.activatd`",
        ),
        (
            "order.shipped = 2024-03-05\norder.delivered = 2024-03-01\n",
            "`order.delivered` (2024-03-01) is before `order.shipped` (2024-03-05)",
        ),
        ("order.price = \"12.345 EUR\"\n", "at most 2 decimals"),
        (
            "order.delivered = 2030-01-01\n",
            "is after the time of deciding",
        ),
    ];
    for (facts, want) in cases {
        let f = dir.join("facts.toml");
        std::fs::write(&f, facts).unwrap();
        let o = aftercare(&[
            "policy",
            "explain",
            "--policy",
            "imkey",
            "--now",
            "2026-01-01",
            "--facts",
            f.to_str().unwrap(),
        ]);
        let t = text(&o);
        assert_eq!(o.status.code(), Some(1), "{t}");
        assert!(t.contains(want), "expected `{want}` in:\n{t}");
    }
    let f = dir.join("facts.json");
    std::fs::write(&f, r#"{"order": {"delivered": "yesterday"}}"#).unwrap();
    let o = aftercare(&[
        "policy",
        "explain",
        "--policy",
        "imkey",
        "--facts",
        f.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("fact `order.delivered`"), "{}", text(&o));
}

#[test]
fn the_shipped_policies_check_without_a_single_warning() {
    let mut args = vec!["policy".to_string(), "check".to_string()];
    for dir in [policies(), policies().join("law")] {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "toml") {
                args.push(p.display().to_string());
            }
        }
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = aftercare(&args);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert_eq!(t.trim(), "ok: 7 files checked", "{t}");
}

#[test]
fn the_same_facts_in_toml_and_json_give_the_same_decision() {
    let scenarios = files::load_scenarios(&policies().join("cases")).unwrap();
    let dir = scratch();
    for s in scenarios.iter().step_by(7) {
        let json = dir.join("facts.json");
        std::fs::write(&json, s.facts.to_json().to_string()).unwrap();
        let now = match s.now {
            aftercare_policy::facts::When::Instant(t) => t.to_string(),
            aftercare_policy::facts::When::Day(d) => d.to_string(),
        };
        let from_scenario = aftercare(&["policy", "explain", "--json", "--facts", &s.file]);
        let from_json = aftercare(&[
            "policy",
            "explain",
            "--json",
            "--policy",
            &s.policy,
            "--now",
            &now,
            "--facts",
            json.to_str().unwrap(),
        ]);
        assert!(
            from_json.status.success(),
            "{}: {}",
            s.file,
            text(&from_json)
        );
        assert_eq!(
            String::from_utf8_lossy(&from_scenario.stdout),
            String::from_utf8_lossy(&from_json.stdout),
            "{}",
            s.file
        );
    }
}

#[test]
fn now_may_be_a_date_meaning_the_start_of_that_day_in_the_policy_zone() {
    let dir = scratch();
    let f = dir.join("facts.toml");
    std::fs::write(&f, "order.delivered = 2024-03-02\n").unwrap();
    let o = aftercare(&[
        "policy",
        "explain",
        "--json",
        "--policy",
        "imkey",
        "--now",
        "2024-03-09",
        "--facts",
        f.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    // Midnight in Shanghai is 16:00 UTC the day before.
    assert_eq!(j["now"], "2024-03-08T16:00:00Z");
    assert_eq!(j["today"], "2024-03-09");
    let o = aftercare(&[
        "policy",
        "explain",
        "--policy",
        "imkey",
        "--now",
        "next week",
        "--facts",
        f.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains("--now: `next week` is neither a timestamp"),
        "{}",
        text(&o)
    );
}
