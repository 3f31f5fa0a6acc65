//! A case's own path, as a line of steps: sent, approved, shipped, received, inspected, the
//! quote (when there is one), the repair, replacement or refund, shipped back (not after a
//! refund), closed; each reached step with the day it was reached, the next one marked, and
//! the nearest deadline in words. A case that left the path (not approved, refused on
//! arrival, cancelled) ends where it left it. Built from the case's history as
//! `access::customer_view` (and the desk's view) gives it, so the portal and the desk show the
//! same line.

use serde_json::Value as J;

use super::at;
use super::i18n::Lang;

/// One step of the line.
pub(crate) struct Step {
    pub label: String,
    /// The day it was reached, in the page's language.
    pub date: Option<String>,
    /// `done`, `current` (what happens next) or `todo`.
    pub class: &'static str,
}

/// The line, and the next deadline in words.
pub(crate) struct Progress {
    pub steps: Vec<Step>,
    pub next_deadline: Option<String>,
}

/// The steps on the path, each with the history actions that reach it and its words.
const PATH: &[(&str, &[&str], &str, &str)] = &[
    ("sent", &["submit"], "Sent", "已提交"),
    ("approved", &["approve"], "Approved", "已批准"),
    ("shipped", &["device_shipped"], "Item shipped", "已寄出"),
    ("received", &["receive"], "Received", "已收到"),
    ("inspected", &["inspect"], "Inspected", "已检测"),
    ("quote", &["quote", "pay"], "Repair quote", "维修报价"),
    (
        "resolved",
        &["repair", "replace", "refund", "return_unrepaired"],
        "Repair, replacement or refund",
        "维修、换货或退款",
    ),
    (
        "shipped_back",
        &["ship_back"],
        "Shipped back to you",
        "已寄回",
    ),
    ("closed", &["close"], "Closed", "已关闭"),
];

/// Where a case leaves the path, by the action that ends it.
const OFF_PATH: &[(&str, &str, &str)] = &[
    ("reject", "Not approved", "未获批准"),
    ("reject_on_arrival", "Refused on arrival", "到货拒收"),
    ("cancel", "Cancelled", "已取消"),
    (
        "close_not_received",
        "Closed: the item did not arrive",
        "已关闭：未收到商品",
    ),
];

fn words(lang: Lang, en: &str, zh: &str) -> String {
    match lang {
        Lang::En => en.to_string(),
        Lang::ZhCn => zh.to_string(),
    }
}

/// Today in the zone of the policy that made `decision` (UTC if it does not say), for "in 3
/// days".
pub(crate) fn today(decision: &J, now: jiff::Timestamp) -> jiff::civil::Date {
    at(decision, "/policy/time_zone")
        .as_str()
        .and_then(|z| jiff::tz::TimeZone::get(z).ok())
        .map_or_else(
            || now.to_zoned(jiff::tz::TimeZone::UTC).date(),
            |tz| now.to_zoned(tz).date(),
        )
}

/// The case's line. `case` is the case as the customer (or staff) view gives it (`state`,
/// `kind`, `history` with `action` and `at`), `decision` its latest decision (`deadlines`),
/// `today` the policy's today.
pub(crate) fn progress(case: &J, decision: &J, lang: Lang, today: jiff::civil::Date) -> Progress {
    let history: Vec<(&str, Option<jiff::civil::Date>)> = at(case, "/history")
        .as_array()
        .into_iter()
        .flatten()
        .map(|h| {
            let day = at(h, "/at")
                .as_str()
                .and_then(|s| s.parse::<jiff::Timestamp>().ok())
                .map(|t| t.to_zoned(jiff::tz::TimeZone::UTC).date());
            (at(h, "/action").as_str().unwrap_or_default(), day)
        })
        .collect();
    let reached = |actions: &[&str]| {
        history
            .iter()
            .find(|(a, _)| actions.contains(a))
            .map(|(a, day)| (*a, *day))
    };
    let state = at(case, "/state").as_str().unwrap_or_default();
    let quoted = reached(&["quote"]).is_some() || matches!(state, "awaiting_payment" | "paid");
    let resolved_by = reached(&["repair", "replace", "refund", "return_unrepaired"]).map(|r| r.0);
    // A return ends in a refund, with nothing shipped back; other kinds may end either way
    // until the service says which.
    let kind = at(case, "/kind").as_str().unwrap_or_default();
    let refunds = resolved_by == Some("refund")
        || state == "refunding"
        || (resolved_by.is_none() && matches!(kind, "return" | "service_withdrawal"));
    let left = OFF_PATH
        .iter()
        .find_map(|(action, en, zh)| reached(&[action]).map(|(_, day)| (words(lang, en, zh), day)));

    let mut steps = Vec::new();
    let mut current_set = false;
    for (key, actions, en, zh) in PATH {
        let ships = kind != "service_withdrawal";
        let shipping_step = matches!(*key, "shipped" | "received" | "inspected" | "shipped_back");
        if (*key == "quote" && !quoted)
            || (*key == "shipped_back" && refunds)
            || (shipping_step && !ships)
        {
            continue;
        }
        match reached(actions) {
            Some((action, day)) => {
                let label = if *key == "resolved" {
                    match action {
                        "repair" => words(lang, "Repaired", "已维修"),
                        "replace" => words(lang, "Replaced", "已换货"),
                        "refund" => words(lang, "Refunded", "已退款"),
                        _ => words(lang, "Returned without repair", "未维修退回"),
                    }
                } else {
                    words(lang, en, zh)
                };
                steps.push(Step {
                    label,
                    date: day.map(|d| lang.date(d)),
                    class: "done",
                });
            }
            // A case that left the path shows no steps it will not reach.
            None if left.is_some() => break,
            None => {
                let label = match (*key, refunds) {
                    ("resolved", true) => words(lang, "Refund", "退款"),
                    _ => words(lang, en, zh),
                };
                steps.push(Step {
                    label,
                    date: None,
                    class: if current_set { "todo" } else { "current" },
                });
                current_set = true;
            }
        }
    }
    let off_path = left.is_some();
    if let Some((label, day)) = left {
        steps.push(Step {
            label,
            date: day.map(|d| lang.date(d)),
            class: "done",
        });
    }

    // The nearest deadline still ahead, in words.
    let next_deadline = if off_path || reached(&["close"]).is_some() {
        None
    } else {
        at(decision, "/deadlines")
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|d| {
                let day = at(d, "/last_day")
                    .as_str()?
                    .parse::<jiff::civil::Date>()
                    .ok()?;
                (day >= today).then(|| (day, at(d, "/name").as_str().unwrap_or_default()))
            })
            .min_by_key(|(day, _)| *day)
            .map(|(day, name)| {
                let days = today.until(day).map_or(0, |s| s.get_days());
                let when = match (lang, days) {
                    (Lang::En, 0) => "today".to_string(),
                    (Lang::En, 1) => "tomorrow".to_string(),
                    (Lang::En, n) => format!("in {n} days"),
                    (Lang::ZhCn, 0) => "今天".to_string(),
                    (Lang::ZhCn, 1) => "明天".to_string(),
                    (Lang::ZhCn, n) => format!("{n} 天后"),
                };
                match lang {
                    Lang::En => format!("{}: {} ({when})", lang.deadline(name), lang.date(day)),
                    Lang::ZhCn => format!("{}：{}（{when}）", lang.deadline(name), lang.date(day)),
                }
            })
    };
    Progress {
        steps,
        next_deadline,
    }
}
