//! Invariants over the shipped policies, and the promise that no input makes the loaders or
//! the parser panic.

#![allow(clippy::unwrap_used, reason = "test helpers fail the test on error")]

use aftercare_policy::corpus::Scenario;
use aftercare_policy::decide::Status;
use aftercare_policy::expr::syntax;
use aftercare_policy::schema::{Output, Remedy};
use aftercare_policy::value::Value;
use aftercare_policy::{Facts, PolicySet, SourceFile, decide, load};
use jiff::civil::Date;
use jiff::{Timestamp, ToSpan};
use proptest::prelude::*;

fn shipped() -> PolicySet {
    let files = [
        ("imkey.toml", include_str!("../../../policies/imkey.toml")),
        ("imask.toml", include_str!("../../../policies/imask.toml")),
        ("imiki.toml", include_str!("../../../policies/imiki.toml")),
        (
            "cryptki.toml",
            include_str!("../../../policies/cryptki.toml"),
        ),
        (
            "maintenance.toml",
            include_str!("../../../policies/maintenance.toml"),
        ),
        (
            "eu-consumer.toml",
            include_str!("../../../policies/law/eu-consumer.toml"),
        ),
        (
            "cn-consumer.toml",
            include_str!("../../../policies/law/cn-consumer.toml"),
        ),
    ];
    let sources: Vec<SourceFile> = files
        .iter()
        .map(|(n, t)| SourceFile {
            name: (*n).into(),
            text: (*t).into(),
        })
        .collect();
    PolicySet::from_sources(&sources).unwrap()
}

fn day(offset: i64) -> Date {
    jiff::civil::date(2024, 1, 1)
        .checked_add(offset.days())
        .unwrap()
}

fn noon(d: Date) -> Timestamp {
    d.at(12, 0, 0, 0)
        .to_zoned(jiff::tz::TimeZone::UTC)
        .unwrap()
        .timestamp()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Once the seven-day return of an intact imKey (or the CryptKi withdrawal) is closed,
    /// it stays closed however much later we ask.
    #[test]
    fn a_closed_window_never_reopens(delivered in 0i64..700, first in 0i64..40, later in 0i64..800) {
        let set = shipped();
        for (policy, remedy, extra) in [
            ("imkey", Remedy::Return, "condition.activated = false\ncondition.complete = true\ncondition.gifts_returned = true\ninvoice.status = \"valid\"\nwarranty_card.present = true\nunit.genuine = true\ndiagnosis.causes = [\"no_fault\"]\nbuyer.kind = \"consumer\"\nbuyer.country = \"CN\"\n"),
            ("cryptki", Remedy::Withdrawal, "buyer.kind = \"consumer\"\nbuyer.country = \"BE\"\ncondition.packaging_opened = false\ncondition.seal_broken = false\ncondition.activated = false\ncondition.complete = true\nproduct.security_sensitive = true\n"),
        ] {
            let p = set.get(policy).unwrap();
            let d = day(delivered);
            let facts = Facts::from_toml_str("f.toml", &format!(
                "order.delivered = {d}\nproduct.class = \"main\"\nproblem.reported = \"change_of_mind\"\n{extra}"
            )).unwrap();
            let t1 = noon(d.checked_add(first.days()).unwrap());
            let t2 = t1.checked_add((later * 24).hours()).unwrap();
            let s1 = decide(p, &facts, t1).remedy(remedy).map(|r| r.status);
            let s2 = decide(p, &facts, t2).remedy(remedy).map(|r| r.status);
            if s1 == Some(Status::Denied) {
                prop_assert_eq!(s2, Some(Status::Denied), "{} {:?} reopened", policy, remedy);
            }
        }
    }

    /// Every warranty that has a start has an end no earlier than it.
    #[test]
    fn warranty_end_is_never_before_its_start(
        delivered in 0i64..900, invoice_gap in -30i64..30, made in 30i64..400, claim in 0i64..900,
        class in prop::sample::select(vec!["main", "accessory", "adapter", "cable", "strap"]),
        invoice in prop::sample::select(vec!["valid", "invalid", "absent"]),
    ) {
        let set = shipped();
        let d = day(delivered + 400);
        let facts = Facts::from_toml_str("f.toml", &format!(
            "order.shipped = {}\norder.delivered = {d}\ninvoice.status = \"{invoice}\"\ninvoice.date = {}\nunit.manufactured = {}\nregistry.warranty_start = {d}\nproduct.class = \"{class}\"\nbuyer.kind = \"consumer\"\nbuyer.country = \"DE\"\n",
            d.checked_sub(2.days()).unwrap(),
            d.checked_add(invoice_gap.days()).unwrap(),
            d.checked_sub(made.days()).unwrap(),
        )).unwrap();
        let now = noon(d.checked_add(claim.days()).unwrap());
        for p in set.sellers() {
            let dec = decide(p, &facts, now);
            for a in &dec.warranty {
                if let (Some(s), Some(e)) = (a.start, a.end) {
                    prop_assert!(e >= s, "{}: end {} before start {}", p.id, e, s);
                }
            }
        }
    }

    /// IMASK: a part fitted under warranty keeps the unit's remaining warranty or 90 days,
    /// whichever is longer.
    #[test]
    fn an_imask_part_gets_the_longer_of_the_remaining_warranty_and_ninety_days(
        delivered in 0i64..400, repaired_after in 0i64..365,
    ) {
        let set = shipped();
        let p = set.get("imask").unwrap();
        let d = day(delivered);
        let r = d.checked_add(repaired_after.days()).unwrap();
        let facts = Facts::from_toml_str("f.toml", &format!(
            "order.delivered = {d}\ninvoice.status = \"valid\"\nproduct.class = \"main\"\nproblem.reported = \"defect\"\ndiagnosis.causes = [\"manufacturing\"]\nrepair.date = {r}\nwarranty_card.present = true\nbuyer.kind = \"consumer\"\nbuyer.country = \"CN\"\n"
        )).unwrap();
        let dec = decide(p, &facts, noon(r));
        let unit_end = dec.warranty.iter().find(|a| a.claimed).and_then(|a| a.end).unwrap();
        let expected = unit_end.max(r.checked_add(90.days()).unwrap());
        let got = dec.output(Output::PartWarrantyEnd).and_then(|o| o.value.clone());
        prop_assert_eq!(got, Some(Value::Date(expected)));
    }

    /// No string makes the expression parser panic.
    #[test]
    fn the_expression_parser_never_panics(s in ".{0,200}") {
        let _ = syntax::parse(&s);
    }

    /// No string makes the policy, facts or scenario loaders panic.
    #[test]
    fn the_loaders_never_panic_on_arbitrary_text(s in ".{0,400}") {
        let _ = load::load("x.toml", &s);
        let _ = Facts::from_toml_str("x.toml", &s);
        let _ = Facts::from_json_str(&s);
        let _ = Scenario::parse("x.toml", &s);
    }

    /// Cutting or corrupting a real policy file gives errors, never a panic.
    #[test]
    fn a_damaged_policy_file_gives_errors_not_panics(cut in 0usize..30_000, at in 0usize..30_000, byte in 0u8..128) {
        let text = include_str!("../../../policies/cryptki.toml");
        let mut bytes = text.as_bytes()[..cut.min(text.len())].to_vec();
        if !bytes.is_empty() {
            let i = at % bytes.len();
            bytes[i] = byte;
        }
        let damaged = String::from_utf8_lossy(&bytes);
        let _ = load::load("cryptki.toml", &damaged);
    }
}
