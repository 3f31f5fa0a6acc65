//! The engine has two evaluators of a condition: the expression walk (three-valued, over the
//! tree as written) and the compiled form decisions use (bit masks over a layer's shared
//! leaves, each leaf evaluated once). For random facts, every rule condition and requirement of
//! every shipped policy and law layer must come out the same both ways.
//!
//! Likewise, a decision of outcomes only (what-if's) must give every remedy, refund and
//! deadline the full decision gives.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers fail the test on error"
)]

use aftercare_policy::schema::{EnumKind, FACTS, Type};
use aftercare_policy::{Decision, Detail, Facts, PolicySet, decide, decide_in};
use jiff::Timestamp;
use proptest::prelude::*;
use serde_json::{Map, Value as J};

/// Loaded once for all cases.
static SHIPPED: std::sync::LazyLock<PolicySet> = std::sync::LazyLock::new(shipped);

fn shipped() -> PolicySet {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies");
    let mut sources = Vec::new();
    for sub in ["", "law"] {
        for e in std::fs::read_dir(dir.join(sub)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "toml") {
                sources.push(aftercare_policy::SourceFile {
                    name: p.display().to_string(),
                    text: std::fs::read_to_string(&p).unwrap(),
                });
            }
        }
    }
    PolicySet::from_sources(&sources).unwrap()
}

/// A value of type `ty` picked by `seed`, in JSON as a facts file writes it; the dates fall
/// in 2023-2025 so that windows, warranties and deadlines are both open and closed.
fn value(ty: Type, seed: u64) -> Option<J> {
    let pick = |n: u64| seed % n.max(1);
    let day = || {
        let d = jiff::civil::date(2023, 1, 1)
            .checked_add(jiff::Span::new().days(i64::try_from(pick(1100)).unwrap_or(0)))
            .unwrap();
        d.to_string()
    };
    Some(match ty {
        Type::Bool => J::Bool(seed % 2 == 0),
        Type::Int => J::from(pick(4)),
        Type::Fraction => J::from(pick(11) as f64 / 10.0),
        // Half of the dates as instants, to exercise hour arithmetic and zones.
        Type::Date if seed % 4 == 0 => J::String(format!("{}T{:02}:30:00Z", day(), pick(24))),
        Type::Date => J::String(day()),
        Type::Money => J::String(format!("{}.00 EUR", pick(500))),
        Type::Text => J::String(format!("T-{}", pick(5))),
        Type::Country => {
            let codes = ["CN", "DE", "FR", "US", "BE", "HK"];
            J::String((*codes.get(usize::try_from(pick(6)).ok()?)?).into())
        }
        Type::Enum(kind) => J::String(variant(kind, pick(kind.variants().len() as u64))?),
        Type::Set(kind) => {
            let n = kind.variants().len() as u64;
            // Mostly one or two names, sometimes none.
            let names: Vec<J> = [seed % (n + 1), (seed / 7) % (n + 3)]
                .into_iter()
                .filter(|i| *i < n)
                .filter_map(|i| variant(kind, i).map(J::String))
                .collect();
            J::Array(names)
        }
        _ => return None,
    })
}

fn variant(kind: EnumKind, i: u64) -> Option<String> {
    kind.variants()
        .get(usize::try_from(i).ok()?)
        .map(|s| (*s).to_string())
}

fn facts(choices: &[(bool, u64)]) -> Facts {
    let mut map = Map::new();
    for (f, (given, seed)) in FACTS.iter().zip(choices) {
        if *given && let Some(v) = value(f.ty, *seed) {
            map.insert(f.path.to_string(), v);
        }
    }
    // Facts with dates out of order are refused: drop the later date of each such pair.
    for (_, later) in aftercare_policy::schema::DATE_ORDER.iter().cycle().take(12) {
        match Facts::from_json(&J::Object(map.clone())) {
            Ok(f) => return f,
            Err(e) if e.message.contains("out of order") => {
                if e.message.starts_with(&format!("`{later}`")) {
                    map.remove(*later);
                }
            }
            Err(e) => panic!("{e:?}"),
        }
    }
    Facts::from_json(&J::Object(map)).unwrap()
}

/// `day` days after 2023-01-01, at `hour` UTC: the dates of [`facts`] fall around it.
fn moment(day: i64, hour: i8) -> Timestamp {
    jiff::civil::date(2023, 1, 1)
        .checked_add(jiff::Span::new().days(day))
        .unwrap()
        .at(hour, 0, 0, 0)
        .to_zoned(jiff::tz::TimeZone::UTC)
        .unwrap()
        .timestamp()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn compiled_conditions_agree_with_the_expression_walk(
        choices in prop::collection::vec((any::<bool>(), any::<u64>()), FACTS.len()),
        now_day in 0i64..1200,
    ) {
        let set = &*SHIPPED;
        let facts = facts(&choices);
        let now = moment(now_day, 12);
        let mut compared = 0;
        for p in set.sellers() {
            let d = decide(p, &facts, now);
            for (layer, rule, compiled, walked) in d.walked_verdicts(&facts) {
                let policy = d.layer_policy(layer).unwrap();
                prop_assert_eq!(
                    compiled,
                    walked,
                    "{} rule {} ({}) with facts {:?}",
                    policy.id,
                    rule,
                    policy.rules.get(usize::from(rule)).map_or("?", |r| r.id.as_str()),
                    facts
                );
                compared += 1;
            }
        }
        // Every seller rule's condition and requirement at least (law layers that do not
        // apply are not evaluated).
        let seller_conditions: usize = set
            .sellers()
            .flat_map(|p| &p.rules)
            .map(|r| {
                usize::from(r.when.is_some())
                    + usize::from(matches!(r.action, aftercare_policy::model::Action::Require { .. }))
            })
            .sum();
        prop_assert!(compared >= seller_conditions, "{compared} < {seller_conditions}");
    }
}

/// What a decision of [`Detail::Outcomes`] keeps, to compare.
#[allow(clippy::type_complexity, reason = "a test's view of a decision")]
fn outcomes(
    d: &Decision<'_>,
) -> (
    Vec<(String, String, bool, String)>,
    String,
    Vec<aftercare_policy::decide::DeadlineResult>,
) {
    let remedies = d
        .remedies
        .iter()
        .map(|r| {
            (
                r.remedy.name().to_string(),
                r.status.name().to_string(),
                r.by_law,
                format!("{:?}", r.citations),
            )
        })
        .collect();
    (remedies, format!("{:?}", d.refund), d.deadlines.clone())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn a_decision_of_outcomes_only_gives_the_full_decisions_outcomes(
        choices in prop::collection::vec((any::<bool>(), any::<u64>()), FACTS.len()),
        now_day in 0i64..1200,
    ) {
        let set = &*SHIPPED;
        let facts = facts(&choices);
        let now = moment(now_day, 9);
        for p in set.sellers() {
            let full = decide(p, &facts, now);
            let lean = decide_in(Detail::Outcomes, p, &facts, now);
            prop_assert_eq!(lean.detail, Detail::Outcomes);
            prop_assert_eq!(outcomes(&lean), outcomes(&full), "{} with facts {:?}", p.id, facts);
        }
    }
}

/// Every scenario of the corpus, decided for outcomes only, gives the full decision's.
#[test]
fn every_scenario_decided_for_outcomes_only_gives_the_full_outcomes() {
    let set = &*SHIPPED;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies/cases");
    let mut compared = 0;
    for seller in std::fs::read_dir(&dir).unwrap() {
        for e in std::fs::read_dir(seller.unwrap().path()).unwrap() {
            let path = e.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            let sc = aftercare_policy::corpus::Scenario::parse(&path.display().to_string(), &text)
                .unwrap();
            let p = set.get(&sc.policy).unwrap();
            let now = sc.now_in(p).unwrap();
            let full = decide(p, &sc.facts, now);
            let lean = decide_in(Detail::Outcomes, p, &sc.facts, now);
            assert_eq!(outcomes(&lean), outcomes(&full), "{}", path.display());
            compared += 1;
        }
    }
    assert!(compared > 100, "only {compared} scenarios compared");
}
