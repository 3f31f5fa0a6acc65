use super::skeleton::*;
use super::*;

fn ids(doc: &str) -> Vec<String> {
    split(doc).into_iter().map(|c| c.id).collect()
}

#[test]
fn odd_input_gives_clauses_without_panicking() {
    let long = "x".repeat(200_000);
    let numbered_long = format!("1. {long}\n2. {long}");
    let inputs = [
        "",
        " ",
        "\n\n\n",
        "\r\n\r\n",
        "\t \u{3000}\u{feff}",
        "\r",
        "1.",
        "(",
        "(1",
        "1)",
        "§",
        "Article",
        "Article IX",
        "#",
        "######## x",
        "---\n---",
        "=\n===",
        "1.1.1.1.1.1.1.1.1 deep",
        "99999999999999999999. big",
        "4294967295. max\n4294967296. over",
        "9999. a\n10000. b",
        "999999. a\n1000000. b",
        "x\u{0}y\u{7f}z",
        "第一条 保修期为一年。\n第二条 退货。",
        "ÄÖÜ\n\n1. Ünïcödé ✓\n  (a) 😀 item\n",
        long.as_str(),
        numbered_long.as_str(),
        "\"\"\"\n1. \"\"\"quoted\"\"\"\n2. back\\slash\\",
    ];
    for doc in inputs {
        let clauses = split(doc);
        let normal = doc.replace("\r\n", "\n");
        let mut seen = HashSet::new();
        for c in &clauses {
            assert!(!c.id.trim().is_empty(), "{doc:?}");
            assert!(seen.insert(c.id.clone()), "{doc:?}: {} twice", c.id);
            assert!(normal.contains(&c.text), "{doc:?}: {:?}", c.text);
        }
        let toml = skeleton(doc, "odd", "Odd");
        let (policy, _) = crate::load::load("odd.toml", &toml)
            .unwrap_or_else(|e| panic!("{doc:?}:\n{toml}\n{e:?}"));
        assert_eq!(policy.clauses.len(), clauses.len());
    }
}

#[test]
fn crlf_gives_the_same_clauses_as_lf() {
    let doc = "Title Policy\n\nIntro text.\n\n1. First item,\nwrapped.\n\n2. Second:\n  (1) sub one;\n  (2) sub two.\n\nClosing words.\n";
    assert_eq!(split(doc), split(&doc.replace('\n', "\r\n")));
    assert_eq!(ids(doc), ["Preamble", "1", "2", "2(1)", "2(2)", "Closing"]);
}

#[test]
fn a_long_document_splits_in_linear_time() {
    let mut doc = String::new();
    for n in 1..=20_000 {
        doc.push_str(&format!(
            "{n}. Item number {n} of the list;\n  (a) first;\n  (b) second.\n\n"
        ));
    }
    // And one without numbers that repeats one heading, so every id needs a suffix.
    let repeats = "Notes\n\nSome text.\n\n".repeat(20_000);
    let t = std::time::Instant::now();
    let clauses = split(&doc);
    assert_eq!(clauses.len(), 60_000);
    assert_eq!(clauses.last().map(|c| c.id.as_str()), Some("20000(b)"));
    let clauses = split(&repeats);
    assert_eq!(clauses.len(), 20_000);
    assert_eq!(clauses.last().map(|c| c.id.as_str()), Some("Notes (20000)"));
    assert!(t.elapsed().as_secs() < 10, "{:?}", t.elapsed());
}

#[test]
fn numbers_are_read_in_sequence_only() {
    // "2 years" is not clause 2; "3.5 mm" is not clause 3.5.
    let doc = "1 Scope\n\nThe warranty lasts\n2 years from delivery.\n3.5 mm jacks excluded.\n\n2 Claims\n\nWrite to us.";
    assert_eq!(ids(doc), ["1", "2"]);
}

#[test]
fn roman_and_letters_are_told_apart_by_sequence() {
    // A list does not start at (h): that is text of clause 1.
    assert_eq!(ids("1. Items:\n(h) eighth\n"), ["1"]);
    let doc = "1. Items:\n(a) a\n(b) b\n(c) c\n(d) d\n(e) e\n(f) f\n(g) g\n(h) h\n(i) i\n(j) j\n";
    assert_eq!(ids(doc).last().map(String::as_str), Some("1(j)"));
    let doc = "1. Items:\n(i) one\n(ii) two\n(iii) three\n";
    assert_eq!(ids(doc), ["1", "1(i)", "1(ii)", "1(iii)"]);
}

#[test]
fn toml_strings_round_trip() {
    for s in [
        "",
        "a\"b",
        "\"",
        "\"\"\"",
        "a\n\"",
        "x\\\ny",
        "tab\there\nand\r\nthe end\"",
        "\u{1}\u{7f}",
    ] {
        let doc = format!("a = {}\nb = {}\n", basic(s), multiline(s));
        let t: toml::Table = toml::from_str(&doc).unwrap_or_else(|e| panic!("{s:?}: {e}\n{doc}"));
        assert_eq!(t.get("a").and_then(|v| v.as_str()), Some(s));
        assert_eq!(t.get("b").and_then(|v| v.as_str()), Some(s));
    }
}

#[test]
fn guesses_follow_the_words_of_the_document() {
    let g = guess("Prices in RMB for users in mainland China.");
    assert_eq!(
        (g.currency, g.time_zone, g.jurisdiction),
        ("CNY", "Asia/Shanghai", "CN")
    );
    let g = guess("A 2-year legal warranty in the EU, under Belgian law.");
    assert_eq!(
        (g.currency, g.time_zone, g.jurisdiction),
        ("EUR", "Europe/Brussels", "BE")
    );
    let g = guess("Refunds of $20 or more.");
    assert_eq!((g.currency, g.time_zone), ("USD", "America/New_York"));
    let g = guess("Refunds of €20 or more.");
    assert_eq!(
        (g.currency, g.time_zone, g.jurisdiction),
        ("EUR", "Europe/Brussels", "EU")
    );
    let g = guess("Shipped from Germany; prices in $.");
    assert_eq!((g.currency, g.time_zone), ("USD", "Europe/Berlin"));
    let g = guess("Nothing here about money, Europe-wide, euROPE.");
    assert_eq!((g.currency, g.time_zone), ("EUR", "UTC"));
}

#[test]
fn a_date_the_document_gives_is_read() {
    let date = |s: &str| stated_date(s).map(|(d, _)| d.to_string());
    assert_eq!(
        date("Last updated: 1 March 2024."),
        Some("2024-03-01".into())
    );
    assert_eq!(
        date("Effective from March 3rd, 2025"),
        Some("2025-03-03".into())
    );
    assert_eq!(
        date("In force as of 2023-07-15."),
        Some("2023-07-15".into())
    );
    assert_eq!(date("Updated 31 February 2024"), None);
    assert_eq!(date("We ship on 1 March 2024."), None);
    assert_eq!(date("Updated 2024-13-01 and 99999-01-01"), None);
}

#[test]
fn policy_ids_are_made_valid() {
    assert_eq!(policy_id("My Shop 2"), "my-shop-2");
    assert_eq!(policy_id("  --  "), "seller");
    assert_eq!(policy_id("Ünï_cøde"), "n-c-de");
}
