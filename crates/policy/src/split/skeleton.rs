//! A policy skeleton from the clauses: the seller, guessed currency, zone and law, no rules.

use super::*;

/// What the document's words suggest about where the seller trades, and why.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Guess {
    pub(super) currency: &'static str,
    pub(super) time_zone: &'static str,
    pub(super) jurisdiction: &'static str,
    pub(super) law: Option<&'static str>,
    /// What the document says that gave the currency, and the place.
    pub(super) currency_why: String,
    pub(super) place_why: String,
}

/// Currencies and the words that name them.
pub(super) const CURRENCIES: [(&str, &[&str]); 5] = [
    ("CNY", &["RMB", "CNY", "yuan", "人民币", "元"]),
    ("EUR", &["€", "EUR", "euro", "euros"]),
    ("USD", &["$", "USD", "US dollar", "US dollars"]),
    ("GBP", &["£", "GBP", "pound sterling", "pounds sterling"]),
    ("JPY", &["JPY", "yen"]),
];

/// A place a document may name: its words, time zone, jurisdiction, currency and law layer.
pub(super) struct Place {
    pub(super) words: &'static [&'static str],
    pub(super) zone: &'static str,
    pub(super) jurisdiction: &'static str,
    pub(super) currency: &'static str,
    pub(super) law: Option<&'static str>,
}

pub(super) const fn place(
    words: &'static [&'static str],
    zone: &'static str,
    jurisdiction: &'static str,
    currency: &'static str,
    law: Option<&'static str>,
) -> Place {
    Place {
        words,
        zone,
        jurisdiction,
        currency,
        law,
    }
}

pub(super) const CHINA: &[&str] = &[
    "mainland China",
    "People's Republic of China",
    "People’s Republic of China",
    "PRC",
    "China",
    "中国",
];
pub(super) const EU_LAW: Option<&str> = Some("eu-consumer");

/// Earlier places win ties: Belgium (the EU's seat) before the EU.
pub(super) const PLACES: [Place; 8] = [
    place(CHINA, "Asia/Shanghai", "CN", "CNY", Some("cn-consumer")),
    place(
        &["Belgium", "Belgian", "Belgique", "België"],
        "Europe/Brussels",
        "BE",
        "EUR",
        EU_LAW,
    ),
    place(
        &["Germany", "German", "Deutschland"],
        "Europe/Berlin",
        "DE",
        "EUR",
        EU_LAW,
    ),
    place(&["France", "French"], "Europe/Paris", "FR", "EUR", EU_LAW),
    place(
        &["EU", "European Union", "European"],
        "Europe/Brussels",
        "EU",
        "EUR",
        EU_LAW,
    ),
    place(
        &["United Kingdom", "UK", "England", "Great Britain"],
        "Europe/London",
        "GB",
        "GBP",
        None,
    ),
    place(
        &["United States", "USA", "U.S."],
        "America/New_York",
        "US",
        "USD",
        None,
    ),
    place(&["Japan"], "Asia/Tokyo", "JP", "JPY", None),
];

/// Occurrences of `word`: whole words if it is one, case-sensitive unless written in lowercase.
pub(super) fn count(doc: &str, lower: &str, word: &str) -> usize {
    let hay = if word.chars().any(char::is_uppercase) {
        doc
    } else {
        lower
    };
    let wordy = word.starts_with(|c: char| c.is_ascii_alphabetic());
    hay.match_indices(word)
        .filter(|(k, _)| {
            let before = hay.get(..*k).and_then(|b| b.chars().next_back());
            let after = hay.get(k + word.len()..).and_then(|a| a.chars().next());
            !wordy
                || !(before.is_some_and(char::is_alphanumeric)
                    || after.is_some_and(char::is_alphanumeric))
        })
        .count()
}

/// The candidate whose words occur most (the first on a tie), and its most frequent word.
pub(super) fn most<'w>(
    doc: &str,
    lower: &str,
    candidates: impl Iterator<Item = &'w [&'static str]>,
) -> Option<(usize, &'static str)> {
    let mut best: Option<(usize, usize, &'static str)> = None;
    for (k, words) in candidates.enumerate() {
        let counts: Vec<(usize, &'static str)> =
            words.iter().map(|w| (count(doc, lower, w), *w)).collect();
        let total: usize = counts.iter().map(|c| c.0).sum();
        let top = counts.iter().max_by_key(|c| c.0).map_or("", |c| c.1);
        if total > 0 && best.is_none_or(|b| total > b.1) {
            best = Some((k, total, top));
        }
    }
    best.map(|(k, _, w)| (k, w))
}

pub(super) fn guess(doc: &str) -> Guess {
    let lower = doc.to_lowercase();
    let currency = most(doc, &lower, CURRENCIES.iter().map(|c| c.1))
        .and_then(|(k, w)| CURRENCIES.get(k).map(|c| (c.0, w)));
    // A currency without a place gives the place it is most used in.
    let place = most(doc, &lower, PLACES.iter().map(|p| p.words))
        .and_then(|(k, w)| PLACES.get(k).map(|p| (p, w)))
        .or_else(|| {
            let (code, w) = currency?;
            PLACES
                .iter()
                .find(|p| p.currency == code && (code != "EUR" || p.jurisdiction == "EU"))
                .map(|p| (p, w))
        });
    match place {
        Some((p, pw)) => {
            // A place without a currency gives its own.
            let (code, cw) = currency.unwrap_or((p.currency, pw));
            Guess {
                currency: code,
                time_zone: p.zone,
                jurisdiction: p.jurisdiction,
                law: p.law,
                currency_why: format!("it mentions \"{cw}\""),
                place_why: format!("it mentions \"{pw}\""),
            }
        }
        None => Guess {
            currency: "EUR",
            time_zone: "UTC",
            jurisdiction: "unspecified",
            law: None,
            currency_why: "it names no currency or place: a default".to_string(),
            place_why: "it names no place: a default".to_string(),
        },
    }
}

/// A date the document gives for itself ("Last updated: 1 March 2024", "effective 2024-03-01"),
/// and how it writes it.
pub(super) fn stated_date(doc: &str) -> Option<(jiff::civil::Date, String)> {
    const SAYS: [&str; 6] = [
        "effective",
        "updated",
        "valid from",
        "as of",
        "in force",
        "dated",
    ];
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let month = |w: &str| -> Option<i8> {
        let w = w.to_lowercase();
        let m = MONTHS
            .iter()
            .position(|m| w.starts_with(m) && w.len() <= 9 && w.chars().all(char::is_alphabetic))?;
        i8::try_from(m + 1).ok()
    };
    let number = |w: &str| -> Option<i16> {
        w.trim_end_matches(|c: char| c.is_ascii_alphabetic())
            .parse()
            .ok()
    };
    let date = |y: i16, m: i16, d: i16| {
        jiff::civil::Date::new(y, i8::try_from(m).ok()?, i8::try_from(d).ok()?).ok()
    };
    for line in doc.lines().filter(|l| l.len() < 2_000) {
        let lower = line.to_lowercase();
        if !SAYS.iter().any(|s| lower.contains(s)) {
            continue;
        }
        let words: Vec<&str> = line
            .split(|c: char| c.is_whitespace() || c == ',')
            .map(|w| w.trim_matches(|c: char| matches!(c, '.' | ':' | ';' | '(' | ')')))
            .filter(|w| !w.is_empty())
            .collect();
        for (k, w) in words.iter().enumerate() {
            let iso: Vec<Option<i16>> = w.split('-').map(|p| p.parse().ok()).collect();
            if let [Some(y), Some(m), Some(d)] = iso.as_slice()
                && w.len() == 10
                && let Some(day) = date(*y, *m, *d)
            {
                return Some((day, (*w).to_string()));
            }
            let (Some(a), Some(b), Some(c)) = (words.get(k), words.get(k + 1), words.get(k + 2))
            else {
                continue;
            };
            // 1 March 2024, or March 1 2024.
            let day_month = match (number(a), month(b), month(a), number(b)) {
                (Some(d), Some(m), _, _) | (_, _, Some(m), Some(d)) => Some((d, i16::from(m))),
                _ => None,
            };
            if let Some((d, m)) = day_month
                && let Some(y) = number(c).filter(|y| *y > 1900)
                && let Some(day) = date(y, m, d)
            {
                return Some((day, format!("{a} {b} {c}")));
            }
        }
    }
    None
}

/// A policy file for `document`: `[policy]` with `id` (made lowercase letters, digits and '-'),
/// `seller`, a title from the document's first lines, the date the document gives for itself
/// (else 2024-01-01, a placeholder said to be one), and currency, time zone and jurisdiction
/// guessed from its words (each guess marked "# guessed from the document: confirm");
/// then every clause of [`split`], and no rules. The checker (`load::load`) accepts it, with a
/// warning for each clause no rule uses yet.
pub fn skeleton(document: &str, id: &str, seller: &str) -> String {
    let parsed = parse(document);
    let g = guess(document);
    let title = parsed
        .title
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| format!("{} after-sales policy", collapse(seller)));
    let seller = if seller.trim().is_empty() {
        "seller"
    } else {
        seller.trim()
    };
    let mut out = String::new();
    let mut line = |s: &str| {
        out.push_str(s);
        out.push('\n');
    };
    line(&format!(
        "# Policy skeleton for {}, split from the seller's document by its own numbering.",
        collapse(seller).replace(['\n', '\r'], " ")
    ));
    line(
        "# Every clause is here with its text exactly as written; there are no rules yet. Write the",
    );
    line("# rules each clause states, and confirm the guessed values below.");
    line("");
    line("[policy]");
    line(&format!("id = {}", basic(&policy_id(id))));
    line("kind = \"seller\"");
    line(&format!("title = {}", basic(&title)));
    line(&format!("seller = {}", basic(seller)));
    line("version = \"1.0.0\"");
    match stated_date(document) {
        Some((date, says)) => line(&format!(
            "effective_from = {date} # guessed from the document: confirm (it says \"{says}\")"
        )),
        None => {
            line(
                "# The document gives no date: a placeholder; set the day this text applies from.",
            );
            line("effective_from = 2024-01-01");
        }
    }
    let note = |why: &str| format!("# guessed from the document: confirm ({why})");
    line(&format!(
        "jurisdiction = \"{}\" {}",
        g.jurisdiction,
        note(&g.place_why)
    ));
    line(&format!(
        "time_zone = \"{}\" {}",
        g.time_zone,
        note(&g.place_why)
    ));
    line(&format!(
        "currency = \"{}\" {}",
        g.currency,
        note(&g.currency_why)
    ));
    if let Some(law) = g.law {
        line(&format!(
            "# law = [\"{law}\"] # guessed from the document: confirm the mandatory law layers that apply"
        ));
    }
    for c in &parsed.clauses {
        line("");
        line("[[clause]]");
        line(&format!("id = {}", basic(&c.id)));
        line(&format!("title = {}", basic(&c.title)));
        line(&format!("text = {}", multiline(&c.text)));
    }
    out
}

/// `id` as a policy id: lowercase ASCII letters, digits and single dashes.
pub(super) fn policy_id(id: &str) -> String {
    let mut out = String::new();
    for c in id.trim().chars().flat_map(char::to_lowercase) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let out = out.trim_matches('-');
    if out.is_empty() {
        "seller".to_string()
    } else {
        out.to_string()
    }
}

/// A TOML basic string: `"..."` with quotes, backslashes and control characters escaped.
pub(super) fn basic(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A TOML string for a clause's text: multi-line (`"""` then a line break, which TOML drops)
/// when it has line breaks, escaping backslashes, control characters other than line feed and
/// tab, and any quote that would make three in a row or touch the closing delimiter.
pub(super) fn multiline(s: &str) -> String {
    if !s.contains('\n') {
        return basic(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    out.push_str("\"\"\"\n");
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if chars.peek().is_none_or(|&n| n == '"') => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' | '\t' => out.push(c),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push_str("\"\"\"");
    out
}
