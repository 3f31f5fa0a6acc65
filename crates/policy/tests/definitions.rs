//! Named definitions (`[define]`) and `has_any`: a name stands for its expression wherever it
//! is used, decides exactly as the expression written out would, and is checked like
//! everything else (unknown name, circle, unused definition, bad name: located messages).

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers fail the test on error"
)]

use aftercare_policy::decide::Status;
use aftercare_policy::diag::Severity;
use aftercare_policy::explain::ExplainOptions;
use aftercare_policy::load::load;
use aftercare_policy::schema::Remedy;
use aftercare_policy::{Diagnostic, Facts, decide};
use jiff::Timestamp;

/// A small seller file with `DEFINE` as its `[define]` table and `WHEN` as the condition of
/// its one deny rule.
fn file(define: &str, when: &str) -> String {
    format!(
        r#"
[policy]
id = "shop"
kind = "seller"
title = "Test shop"
seller = "Shop"
version = "1"
effective_from = 2024-01-01
jurisdiction = "BE"
time_zone = "Europe/Brussels"
currency = "EUR"

[define]
{define}

[[clause]]
id = "1"
title = "Repair"
text = "Faults are repaired."
[[clause]]
id = "2"
title = "Damage"
text = "Damage by the customer is not repaired."

[[rule]]
clause = "1"
allow = ["free_repair"]
when = "'manufacturing' in diagnosis.causes"
[[rule]]
clause = "2"
deny = ["free_repair"]
when = "{when}"
"#
    )
}

fn errors(text: &str) -> Vec<Diagnostic> {
    match load("shop.toml", text) {
        Ok((_, _)) => Vec::new(),
        Err(d) => d.0,
    }
}

fn warnings(text: &str) -> Vec<Diagnostic> {
    match load("shop.toml", text) {
        Ok((_, w)) => w
            .into_iter()
            .filter(|d| d.severity == Severity::Warning)
            .collect(),
        Err(d) => panic!("expected the file to load, got:\n{d}"),
    }
}

fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).unwrap() + 1
}

fn at(s: &str) -> Timestamp {
    s.parse().unwrap()
}

#[test]
fn a_definition_decides_exactly_as_its_expression_written_out() {
    let named = file(
        "damaged = \"has_any(diagnosis.causes, ['drop', 'crush'])\"\nby_customer = \"damaged and not 'manufacturing' in diagnosis.causes\"",
        "by_customer",
    );
    let inline = file(
        "",
        "('drop' in diagnosis.causes or 'crush' in diagnosis.causes) and not 'manufacturing' in diagnosis.causes",
    );
    let (named, _) = load("named.toml", &named).unwrap();
    let (inline, _) = load("inline.toml", &inline).unwrap();
    let now = at("2024-05-01T10:00:00Z");
    for causes in [
        "",
        "diagnosis.causes = []",
        "diagnosis.causes = ['drop']",
        "diagnosis.causes = ['crush', 'manufacturing']",
        "diagnosis.causes = ['manufacturing']",
        "diagnosis.causes = ['liquid']",
    ] {
        let facts = Facts::from_toml_str("f.toml", causes).unwrap();
        let a = decide(&named, &facts, now);
        let b = decide(&inline, &facts, now);
        let (ra, rb) = (
            a.remedy(Remedy::FreeRepair).unwrap(),
            b.remedy(Remedy::FreeRepair).unwrap(),
        );
        assert_eq!(ra.status, rb.status, "{causes}");
        assert_eq!(ra.pending_on, rb.pending_on, "{causes}");
    }
    // And it is a real decision: a drop is ruled out, an unknown finding waits.
    let dropped = Facts::from_toml_str("f.toml", "diagnosis.causes = ['drop']").unwrap();
    assert_eq!(
        decide(&named, &dropped, now)
            .remedy(Remedy::FreeRepair)
            .unwrap()
            .status,
        Status::Denied
    );
}

#[test]
fn an_explanation_names_the_definition_and_says_what_it_means_on_request() {
    let text = file(
        "# Damage the customer caused.\ndamaged = \"has_any(diagnosis.causes, ['drop', 'crush'])\"",
        "damaged",
    );
    let (p, _) = load("shop.toml", &text).unwrap();
    let facts = Facts::from_toml_str("f.toml", "diagnosis.causes = ['drop']").unwrap();
    let d = decide(&p, &facts, at("2024-05-01T10:00:00Z"));
    let short = d.explain(&facts, ExplainOptions::default());
    assert!(short.contains("because: damaged"), "{short}");
    assert!(!short.contains("has_any"), "{short}");
    let long = d.explain(
        &facts,
        ExplainOptions {
            meanings: true,
            ..ExplainOptions::default()
        },
    );
    let line = line_of(&text, "damaged = ");
    assert!(
        long.contains(&format!(
            "damaged = has_any(diagnosis.causes, ['drop', 'crush'])  [shop.toml, line {line}]"
        )),
        "{long}"
    );
    let json = d.to_json(&facts);
    assert_eq!(json["definitions"][0]["name"], "damaged");
    assert_eq!(
        json["definitions"][0]["means"],
        "has_any(diagnosis.causes, ['drop', 'crush'])"
    );
}

#[test]
fn an_unknown_name_is_an_error_at_its_place_with_a_suggestion() {
    let text = file(
        "damaged = \"has_any(diagnosis.causes, ['drop'])\"",
        "damagd",
    );
    let errs = errors(&text);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(errs[0].message, "unknown name `damagd`");
    assert_eq!(errs[0].line, line_of(&text, "when = \"damagd\""));
    assert_eq!(errs[0].hint.as_deref(), Some("did you mean `damaged`?"));
}

#[test]
fn a_definition_that_names_itself_through_others_is_an_error_naming_the_circle() {
    let text = file(
        "a = \"b and known(order.date)\"\nb = \"c\"\nc = \"a or known(order.price)\"",
        "a",
    );
    let errs = errors(&text);
    let circle = errs
        .iter()
        .find(|d| d.message.contains("names itself"))
        .unwrap_or_else(|| panic!("{errs:?}"));
    assert!(
        circle.message.contains("a → b → c → a"),
        "{}",
        circle.message
    );
    assert_eq!(circle.line, line_of(&text, "a = \"b"));
    // The rule that uses `a` is told why it cannot, rather than "unknown fact".
    assert!(
        errs.iter()
            .any(|d| d.message == "definition `a` cannot be used: it has an error of its own"),
        "{errs:?}"
    );
}

#[test]
fn an_unused_definition_is_a_warning_at_its_line() {
    let text = file(
        "damaged = \"has_any(diagnosis.causes, ['drop'])\"\nspare = \"known(order.date)\"",
        "damaged",
    );
    let w = warnings(&text);
    assert_eq!(w.len(), 1, "{w:?}");
    assert_eq!(w[0].message, "definition `spare` is never used");
    assert_eq!(w[0].line, line_of(&text, "spare = "));
}

#[test]
fn a_definition_used_only_by_an_unused_one_is_unused_too() {
    let text = file(
        "damaged = \"has_any(diagnosis.causes, ['drop'])\"\ninner = \"known(order.date)\"\nouter = \"inner\"",
        "damaged",
    );
    let mut names: Vec<String> = warnings(&text).into_iter().map(|d| d.message).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "definition `inner` is never used",
            "definition `outer` is never used"
        ]
    );
}

#[test]
fn a_definition_cannot_take_the_name_of_a_keyword_a_derived_value_or_a_function() {
    for (name, why) in [
        ("today", "it is a derived value"),
        ("not", "it is a keyword"),
        ("within", "it is a function"),
        ("Damaged", "not a plain lowercase word"),
    ] {
        let text = file(
            &format!("{name} = \"known(order.date)\""),
            "known(order.date)",
        );
        let errs = errors(&text);
        assert!(
            errs.iter().any(|d| d.message
                == format!("`{name}` cannot be a definition's name: {why}")
                && d.line == line_of(&text, &format!("{name} = "))),
            "{name}: {errs:?}"
        );
    }
}

#[test]
fn a_type_error_inside_a_definition_is_reported_inside_it() {
    let text = file("late = \"order.date + 3\"", "late");
    let errs = errors(&text);
    let line = line_of(&text, "late = ");
    assert!(errs.iter().any(|d| d.line == line), "{errs:?}");
}

#[test]
fn has_any_takes_a_set_and_a_list_of_its_names() {
    let wrong_name = file("", "has_any(diagnosis.causes, ['dropp'])");
    let errs = errors(&wrong_name);
    assert!(
        errs.iter().any(|d| d.message == "`dropp` is not a cause"
            && d.hint.as_deref() == Some("did you mean 'drop'?")),
        "{errs:?}"
    );
    let not_a_set = file("", "has_any(order.channel, ['other'])");
    let errs = errors(&not_a_set);
    assert!(
        errs.iter().any(|d| d.message.contains("takes a set")),
        "{errs:?}"
    );
}

#[test]
fn a_law_layer_must_say_whom_it_binds_and_a_seller_must_not() {
    let seller = file("", "known(order.date)").replace(
        "currency = \"EUR\"",
        "currency = \"EUR\"\nbinds = \"order.channel == 'official'\"",
    );
    assert!(
        errors(&seller)
            .iter()
            .any(|d| d.message == "`binds` is only for law layers"),
    );
    let law = file("", "known(order.date)")
        .replace("kind = \"seller\"", "kind = \"law\"")
        .replace("seller = \"Shop\"\n", "")
        .replace(
            "currency = \"EUR\"",
            "currency = \"EUR\"\napplies = \"buyer.kind == 'consumer'\"",
        );
    assert!(
        errors(&law)
            .iter()
            .any(|d| d.message.starts_with("a law layer needs `binds")),
        "{:?}",
        errors(&law)
    );
}
