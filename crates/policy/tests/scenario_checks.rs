//! What a scenario can assert is absent: nothing missing (`missing = []`), a flag not raised
//! (`not_flags`), an output not decided (`"none"`); and a clause renamed is still found by the
//! ids it had before (`formerly`), which no other clause may take; a clause's title and text in
//! other languages are kept by language tag and given with its citations.

#![allow(clippy::unwrap_used, reason = "test helpers fail the test on error")]

use aftercare_policy::corpus::Scenario;
use aftercare_policy::{PolicySet, SourceFile};

const SELLER: &str = r#"
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

[[clause]]
id = "1"
title = "Return"
titles = { zh-CN = "退货" }
text = "Return within 7 days of receipt, with a photo of the box, at your cost."
[[clause]]
id = "2"
formerly = ["Data"]
title = "Data"
text = "Erase the device before sending it."

[[rule]]
clause = "1"
allow = ["return"]
when = "within(order.delivered, 7 days)"
[[rule]]
clause = "1"
require = "'outer_box' in evidence.photos"
label = "photo of the box"
for = ["return"]
[[rule]]
clause = "1"
set = { "freight.to_seller" = "'customer'" }
[[rule]]
clause = "2"
flag = "hold_shipping"
when = "not known(return.shipped)"
"#;

fn failures(facts: &str, expect: &str) -> Vec<String> {
    let set = PolicySet::from_sources(&[SourceFile {
        name: "shop.toml".into(),
        text: SELLER.into(),
    }])
    .unwrap();
    let text = format!(
        "title = \"t\"\npolicy = \"shop\"\nnow = 2024-03-05\n[facts]\n{facts}\n[expect]\n{expect}\n"
    );
    Scenario::parse("t.toml", &text).unwrap().run(&set)
}

#[test]
fn an_empty_missing_list_asserts_that_nothing_is_missing() {
    let fails = failures("order.delivered = 2024-03-02", "missing = []");
    assert_eq!(fails.len(), 1, "{fails:?}");
    assert!(fails[0].contains("photo of the box"), "{fails:?}");
    let with_photo = "order.delivered = 2024-03-02\nevidence.photos = [\"outer_box\"]";
    assert!(failures(with_photo, "missing = []").is_empty());
}

#[test]
fn a_flag_named_in_not_flags_must_not_be_raised() {
    let fails = failures(
        "order.delivered = 2024-03-02",
        "not_flags = [\"hold_shipping\"]",
    );
    assert_eq!(fails.len(), 1, "{fails:?}");
    assert!(fails[0].contains("hold_shipping [2]"), "{fails:?}");
    let shipped = "order.delivered = 2024-03-02\nreturn.shipped = 2024-03-04";
    assert!(failures(shipped, "not_flags = [\"hold_shipping [2]\"]").is_empty());
}

#[test]
fn none_asserts_that_an_output_is_not_decided() {
    let facts = "order.delivered = 2024-03-02";
    let fails = failures(facts, "[expect.freight]\nto_seller = \"none\"");
    assert_eq!(
        fails,
        vec!["freight.to_seller: expected nothing, got customer"]
    );
    assert!(failures(facts, "[expect.freight]\nto_customer = \"none\"").is_empty());
    assert!(failures(facts, "[expect.outputs]\n\"refund.shipping\" = \"none\"").is_empty());
}

#[test]
fn a_scenario_names_a_renamed_clause_by_its_former_id() {
    let facts = "order.delivered = 2024-03-02";
    assert!(failures(facts, "cites = [\"Data\"]").is_empty());
    assert!(failures(facts, "flags = [\"hold_shipping [Data]\"]").is_empty());
    let shipped = "order.delivered = 2024-03-02\nreturn.shipped = 2024-03-04";
    let fails = failures(shipped, "cites = [\"Data\"]");
    assert_eq!(fails.len(), 1, "{fails:?}");
    assert!(fails[0].contains("`Data`"), "{fails:?}");
    assert!(failures(shipped, "not_cites = [\"Data\"]").is_empty());
    // An id that is neither current nor former is not found by accident.
    assert_eq!(failures(facts, "cites = [\"data\"]").len(), 1);
}

fn load_errors(text: &str) -> Vec<String> {
    match PolicySet::from_sources(&[SourceFile {
        name: "shop.toml".into(),
        text: text.into(),
    }]) {
        Ok(_) => Vec::new(),
        Err(e) => vec![e.to_string()],
    }
}

#[test]
fn a_former_id_names_one_clause_only_and_rules_cite_the_current_one() {
    assert!(load_errors(SELLER).is_empty());
    let taken = SELLER.replace("formerly = [\"Data\"]", "formerly = [\"1\"]");
    let errors = load_errors(&taken);
    assert!(
        errors
            .iter()
            .any(|e| e.contains("`1` is the id of clause `1`")),
        "{errors:?}"
    );
    let twice = SELLER.replace(
        "id = \"1\"\ntitle",
        "id = \"1\"\nformerly = [\"Data\"]\ntitle",
    );
    let errors = load_errors(&twice);
    assert!(
        errors
            .iter()
            .any(|e| e.contains("`Data` is already a former id of clause `1`")),
        "{errors:?}"
    );
    let stale = SELLER.replace("clause = \"2\"", "clause = \"Data\"");
    let errors = load_errors(&stale);
    assert!(
        errors
            .iter()
            .any(|e| e.contains("unknown clause `Data`") && e.contains("`Data` is now `2`")),
        "{errors:?}"
    );
}

#[test]
fn a_clause_carries_its_title_in_other_languages_to_its_citations() {
    let set = PolicySet::from_sources(&[SourceFile {
        name: "shop.toml".into(),
        text: SELLER.into(),
    }])
    .unwrap();
    let policy = set.get("shop").unwrap();
    let clause = policy.clauses.iter().find(|c| c.id == "1").unwrap();
    assert_eq!(clause.title_in("zh-CN"), Some("退货"));
    assert_eq!(clause.title_in("de"), None);
    let facts =
        aftercare_policy::Facts::from_toml_str("f.toml", "order.delivered = 2024-03-02").unwrap();
    let d = aftercare_policy::decide(policy, &facts, "2024-03-05T10:00:00Z".parse().unwrap());
    let json = d.to_json(&facts).to_string();
    assert!(json.contains(r#""titles":{"zh-CN":"退货"}"#), "{json}");
    // Clause 2 has none: nothing is made up for it.
    assert_eq!(
        json.matches(r#""titles""#).count(),
        json.matches("退货").count()
    );

    let bad_tag = SELLER.replace("zh-CN = ", "chinese = ");
    let errors = load_errors(&bad_tag);
    assert!(
        errors
            .iter()
            .any(|e| e.contains("titles: `chinese` is not a language tag")),
        "{errors:?}"
    );
    let empty = SELLER.replace("\"退货\"", "\" \"");
    let errors = load_errors(&empty);
    assert!(
        errors.iter().any(|e| e.contains("titles.zh-CN is empty")),
        "{errors:?}"
    );
}
