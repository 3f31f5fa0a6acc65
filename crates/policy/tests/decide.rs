//! Semantics of `decide` on a small policy written for the purpose: windows, time zones,
//! unknown facts, deny over allow, law layers prevailing, outputs, deadlines and money.

#![allow(clippy::unwrap_used, reason = "test helpers fail the test on error")]

use aftercare_policy::decide::{Role, Status};
use aftercare_policy::schema::Remedy;
use aftercare_policy::{Facts, PolicySet, SourceFile, decide};
use jiff::Timestamp;

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
law = ["eu"]

[[clause]]
id = "1"
title = "Seven-day return"
text = "Return within 7 days of receipt if unopened."
[[clause]]
id = "2"
title = "Opened goods"
text = "Opened goods cannot be returned."
[[clause]]
id = "3"
title = "Warranty"
text = "One year from delivery."
[[clause]]
id = "4"
title = "Shipping"
text = "Shipping fees are not refunded."
[[clause]]
id = "5"
title = "Photos"
text = "Send a photo of the box."

[warranty]
start = [{ clause = "3", basis = "delivery", from = "order.delivered" }]
[[warranty.component]]
name = "device"
classes = ["main"]
period = "1 year"
clause = "3"

[[rule]]
clause = "1"
allow = ["return"]
when = "within(order.delivered, 7 days)"
[[rule]]
clause = "2"
deny = ["return"]
when = "condition.packaging_opened"
[[rule]]
clause = "3"
allow = ["free_repair"]
when = "warranty.in and 'manufacturing' in diagnosis.causes"
[[rule]]
clause = "4"
set = { "refund.shipping" = "false" }
[[rule]]
clause = "5"
require = "'outer_box' in evidence.photos"
label = "photo of the box"
for = ["free_repair"]
[[rule]]
clause = "1"
deadline = "report_by"
from = "order.delivered"
within = "7 days"
"#;

const LAW: &str = r#"
[policy]
id = "eu"
kind = "law"
title = "EU"
version = "1"
effective_from = 2024-01-01
jurisdiction = "EU"
time_zone = "Europe/Brussels"
applies = "buyer.kind == 'consumer'"
binds = "coalesce(order.channel, 'official') == 'official' and coalesce(buyer.original, true)"

[[clause]]
id = "CRD 9"
title = "Withdrawal"
text = "14 days."
[[clause]]
id = "CRD 13"
title = "Reimbursement"
text = "Including standard delivery."

[[rule]]
clause = "CRD 9"
allow = ["return"]
when = "within(order.delivered, 14 days)"
[[rule]]
clause = "CRD 13"
set = { "refund.shipping" = "true" }
"#;

fn set() -> PolicySet {
    PolicySet::from_sources(&[
        SourceFile {
            name: "shop.toml".into(),
            text: SELLER.into(),
        },
        SourceFile {
            name: "eu.toml".into(),
            text: LAW.into(),
        },
    ])
    .unwrap()
}

fn facts(text: &str) -> Facts {
    Facts::from_toml_str("facts.toml", text).unwrap()
}

fn at(s: &str) -> Timestamp {
    s.parse().unwrap()
}

#[test]
fn a_seven_day_window_ends_at_the_end_of_the_seventh_day_in_the_policy_zone() {
    let set = set();
    let p = set.get("shop").unwrap();
    let f = facts(
        "order.delivered = 2024-03-02\nbuyer.kind = \"professional\"\ncondition.packaging_opened = false\n",
    );
    // 2024-03-09 23:59 in Brussels is 22:59 UTC: still inside.
    let inside = decide(p, &f, at("2024-03-09T22:59:00Z"));
    assert_eq!(
        inside.remedy(Remedy::Return).unwrap().status,
        Status::Allowed
    );
    // One minute after midnight in Brussels it is the 10th: outside.
    let outside = decide(p, &f, at("2024-03-09T23:01:00Z"));
    assert_eq!(
        outside.remedy(Remedy::Return).unwrap().status,
        Status::Denied
    );
    let unmet = &outside.remedy(Remedy::Return).unwrap().citations;
    assert!(unmet.iter().any(|c| c.role == Role::Unmet));
}

#[test]
fn a_timestamp_fact_counts_from_its_day_in_the_policy_zone() {
    let set = set();
    let p = set.get("shop").unwrap();
    // 23:30 UTC on the 1st is already the 2nd in Brussels.
    let f = facts(
        "order.delivered = 2024-03-01T23:30:00Z\nbuyer.kind = \"professional\"\ncondition.packaging_opened = false\n",
    );
    let d = decide(p, &f, at("2024-03-09T12:00:00Z"));
    assert_eq!(d.remedy(Remedy::Return).unwrap().status, Status::Allowed);
    assert_eq!(
        d.deadlines[0].due.unwrap().last_day.to_string(),
        "2024-03-09"
    );
    assert_eq!(
        d.deadlines[0]
            .due
            .unwrap()
            .until(p.tz())
            .unwrap()
            .to_string(),
        "2024-03-09T23:00:00Z"
    );
}

#[test]
fn deny_beats_allow_within_the_seller_layer() {
    let set = set();
    let p = set.get("shop").unwrap();
    let f = facts(
        "order.delivered = 2024-03-02\ncondition.packaging_opened = true\nbuyer.kind = \"professional\"\n",
    );
    let d = decide(p, &f, at("2024-03-03T12:00:00Z"));
    let r = d.remedy(Remedy::Return).unwrap();
    assert_eq!(r.status, Status::Denied);
    let denying: Vec<_> = r
        .citations
        .iter()
        .filter(|c| c.role == Role::Denies)
        .collect();
    assert_eq!(denying.len(), 1);
    assert_eq!(d.clause_id(denying[0].at), Some("2"));
}

#[test]
fn the_law_prevails_and_both_clauses_are_cited() {
    let set = set();
    let p = set.get("shop").unwrap();
    let f = facts(
        "order.delivered = 2024-03-02\ncondition.packaging_opened = true\nbuyer.kind = \"consumer\"\norder.price = \"100.00 EUR\"\norder.shipping_fee = \"5.00 EUR\"\n",
    );
    let d = decide(p, &f, at("2024-03-12T12:00:00Z"));
    let r = d.remedy(Remedy::Return).unwrap();
    assert_eq!(r.status, Status::Allowed);
    assert!(r.by_law);
    let cited = d.cited_clauses();
    assert!(
        cited.contains(&"2") && cited.contains(&"CRD 9"),
        "{cited:?}"
    );
    // CRD 13 overrides clause 4: the refund includes delivery.
    assert_eq!(d.refund.as_ref().unwrap().amount.to_string(), "105.00 EUR");
    assert!(
        cited.contains(&"4") && cited.contains(&"CRD 13"),
        "{cited:?}"
    );
}

#[test]
fn a_law_that_does_not_apply_changes_nothing() {
    let set = set();
    let p = set.get("shop").unwrap();
    let f = facts(
        "order.delivered = 2024-03-02\nbuyer.kind = \"professional\"\norder.price = \"100.00 EUR\"\norder.shipping_fee = \"5.00 EUR\"\n",
    );
    let d = decide(p, &f, at("2024-03-03T12:00:00Z"));
    assert_eq!(d.refund.as_ref().unwrap().amount.to_string(), "100.00 EUR");
    assert_eq!(d.layers[1].applies, Some(false));
}

#[test]
fn an_unknown_buyer_kind_leaves_the_law_pending() {
    let set = set();
    let p = set.get("shop").unwrap();
    let f = facts("order.delivered = 2024-03-02\ncondition.packaging_opened = true\n");
    let d = decide(p, &f, at("2024-03-12T12:00:00Z"));
    let r = d.remedy(Remedy::Return).unwrap();
    assert_eq!(r.status, Status::Pending);
    let waits: Vec<&str> = r
        .pending_on
        .iter()
        .map(|id| aftercare_policy::schema::fact(*id).path)
        .collect();
    assert!(waits.contains(&"buyer.kind"), "{waits:?}");
}

#[test]
fn before_inspection_a_repair_is_pending_on_the_diagnosis_and_the_photo() {
    let set = set();
    let p = set.get("shop").unwrap();
    let f = facts(
        "order.delivered = 2024-03-02\nproduct.class = \"main\"\nbuyer.kind = \"professional\"\n",
    );
    let d = decide(p, &f, at("2024-06-01T12:00:00Z"));
    let r = d.remedy(Remedy::FreeRepair).unwrap();
    assert_eq!(r.status, Status::Pending);
    let waits: Vec<&str> = r
        .pending_on
        .iter()
        .map(|id| aftercare_policy::schema::fact(*id).path)
        .collect();
    assert_eq!(waits, vec!["diagnosis.causes"]);
    // With the diagnosis but no photo it still waits, now for the photo.
    let f = facts(
        "order.delivered = 2024-03-02\nproduct.class = \"main\"\nbuyer.kind = \"professional\"\ndiagnosis.causes = [\"manufacturing\"]\n",
    );
    let d = decide(p, &f, at("2024-06-01T12:00:00Z"));
    let r = d.remedy(Remedy::FreeRepair).unwrap();
    assert_eq!(r.status, Status::Pending);
    assert_eq!(r.missing.len(), 1);
    let f = facts(
        "order.delivered = 2024-03-02\nproduct.class = \"main\"\nbuyer.kind = \"professional\"\ndiagnosis.causes = [\"manufacturing\"]\nevidence.photos = [\"outer_box\"]\n",
    );
    let d = decide(p, &f, at("2024-06-01T12:00:00Z"));
    assert_eq!(
        d.remedy(Remedy::FreeRepair).unwrap().status,
        Status::Allowed
    );
}

#[test]
fn a_one_year_warranty_from_a_leap_day_ends_on_the_last_of_february() {
    let set = set();
    let p = set.get("shop").unwrap();
    let f = facts(
        "order.delivered = 2024-02-29\nproduct.class = \"main\"\ndiagnosis.causes = [\"manufacturing\"]\nevidence.photos = [\"outer_box\"]\nbuyer.kind = \"professional\"\n",
    );
    let last = decide(p, &f, at("2025-02-28T12:00:00Z"));
    assert_eq!(last.warranty[0].end.unwrap().to_string(), "2025-02-28");
    assert_eq!(
        last.remedy(Remedy::FreeRepair).unwrap().status,
        Status::Allowed
    );
    let after = decide(p, &f, at("2025-03-01T12:00:00Z"));
    assert_eq!(
        after.remedy(Remedy::FreeRepair).unwrap().status,
        Status::Denied
    );
}

#[test]
fn decide_is_deterministic() {
    let set = set();
    let p = set.get("shop").unwrap();
    let f = facts(
        "order.delivered = 2024-03-02\nbuyer.kind = \"consumer\"\norder.price = \"100.00 EUR\"\n",
    );
    let now = at("2024-03-05T12:00:00Z");
    let a = decide(p, &f, now).to_json(&f);
    let b = decide(p, &f, now).to_json(&f);
    assert_eq!(a, b);
}

#[test]
fn a_law_that_binds_another_trader_is_cited_as_such_and_grants_nothing() {
    let set = set();
    let p = set.get("shop").unwrap();
    for who in ["order.channel = \"other\"", "buyer.original = false"] {
        let f = facts(&format!(
            "order.delivered = 2024-03-02\ncondition.packaging_opened = true\nbuyer.kind = \"consumer\"\norder.price = \"100.00 EUR\"\norder.shipping_fee = \"5.00 EUR\"\n{who}\n"
        ));
        let d = decide(p, &f, at("2024-03-12T12:00:00Z"));
        assert_eq!(
            (d.layers[1].applies, d.layers[1].binds),
            (Some(true), Some(false))
        );
        let r = d.remedy(Remedy::Return).unwrap();
        // The seller's own deny stands; the law's right is owed by the trader who sold it.
        assert_eq!(r.status, Status::Denied, "{who}");
        assert!(!r.by_law);
        let roles: Vec<(Option<&str>, Role)> = r
            .citations
            .iter()
            .map(|c| (d.clause_id(c.at), c.role))
            .collect();
        assert!(roles.contains(&(Some("2"), Role::Denies)), "{roles:?}");
        assert!(
            roles.contains(&(Some("CRD 9"), Role::NotBinding)),
            "{roles:?}"
        );
        // Nor does the law's output bind the seller: its own clause 4 decides the refund.
        assert_eq!(d.refund, None);
        let shipping = d
            .output(aftercare_policy::schema::Output::RefundShipping)
            .unwrap();
        assert_eq!(shipping.overridden, None);
        assert_eq!(d.clause_id(shipping.by.unwrap()), Some("4"));
        let text = d.explain(&f, Default::default());
        assert!(
            text.contains("applies to this buyer but does not bind Shop"),
            "{text}"
        );
        assert!(text.contains("~ [CRD 9] Withdrawal — a statutory right against the trader who sold the goods; it does not bind Shop"), "{text}");
    }
}

#[test]
fn a_law_whose_binding_is_not_known_yet_leaves_its_rights_pending_on_it() {
    let law = LAW.replace(
        "binds = \"coalesce(order.channel, 'official') == 'official' and coalesce(buyer.original, true)\"",
        "binds = \"order.channel == 'official'\"",
    );
    let set = PolicySet::from_sources(&[
        SourceFile {
            name: "shop.toml".into(),
            text: SELLER.into(),
        },
        SourceFile {
            name: "eu.toml".into(),
            text: law,
        },
    ])
    .unwrap();
    let p = set.get("shop").unwrap();
    let f = facts(
        "order.delivered = 2024-03-02\ncondition.packaging_opened = true\nbuyer.kind = \"consumer\"\n",
    );
    let d = decide(p, &f, at("2024-03-12T12:00:00Z"));
    assert_eq!(d.layers[1].binds, None);
    let r = d.remedy(Remedy::Return).unwrap();
    assert_eq!(r.status, Status::Pending);
    let waits: Vec<&str> = r
        .pending_on
        .iter()
        .map(|id| aftercare_policy::schema::fact(*id).path)
        .collect();
    assert_eq!(waits, ["order.channel"]);
}

#[test]
fn a_document_is_missing_only_for_the_remedies_that_still_wait_for_it() {
    let seller = SELLER.replace(
        "for = [\"free_repair\"]",
        "for = [\"free_repair\", \"return\"]",
    );
    let set = PolicySet::from_sources(&[
        SourceFile {
            name: "shop.toml".into(),
            text: seller,
        },
        SourceFile {
            name: "eu.toml".into(),
            text: LAW.into(),
        },
    ])
    .unwrap();
    let p = set.get("shop").unwrap();
    let now = at("2024-03-05T12:00:00Z");
    let waiting = |d: &aftercare_policy::Decision<'_>| -> Vec<(String, Vec<&'static str>)> {
        d.missing
            .iter()
            .map(|m| {
                let names = Remedy::ALL
                    .iter()
                    .filter(|r| m.remedies & r.bit() != 0)
                    .map(|r| r.name())
                    .collect();
                (d.clause_id(m.at).unwrap_or("").to_string(), names)
            })
            .collect()
    };
    let base = "order.delivered = 2024-03-02\nproduct.class = \"main\"\ncondition.packaging_opened = false\n";
    // Without the law, the return waits for the photo, and so does the repair before inspection.
    let d = decide(
        p,
        &facts(&format!("{base}buyer.kind = \"professional\"\n")),
        now,
    );
    assert_eq!(d.remedy(Remedy::Return).unwrap().status, Status::Pending);
    assert_eq!(
        waiting(&d),
        [("5".to_string(), vec!["return", "free_repair"])]
    );
    // The law grants the return without it: the photo is still needed for the repair only.
    let d = decide(
        p,
        &facts(&format!("{base}buyer.kind = \"consumer\"\n")),
        now,
    );
    let r = d.remedy(Remedy::Return).unwrap();
    assert_eq!((r.status, r.by_law), (Status::Allowed, true));
    assert!(r.missing.is_empty());
    assert_eq!(waiting(&d), [("5".to_string(), vec!["free_repair"])]);
    let repair = d.remedy(Remedy::FreeRepair).unwrap();
    assert_eq!(repair.missing.len(), 1);
    assert_eq!(
        repair
            .missing
            .first()
            .and_then(|i| d.missing.get(*i))
            .map(|m| m.at),
        d.missing.first().map(|m| m.at)
    );
    // Once inspection finds no fault, no remedy waits for it and nothing is missing.
    let inspected = facts(&format!(
        "{base}buyer.kind = \"consumer\"\ndiagnosis.causes = [\"no_fault\"]\n"
    ));
    let d = decide(p, &inspected, now);
    assert_eq!(d.remedy(Remedy::FreeRepair).unwrap().status, Status::Denied);
    assert!(d.missing.is_empty(), "{:?}", waiting(&d));
    assert!(
        !d.explain(&inspected, Default::default())
            .contains("Missing documents")
    );
}
