//! The pages in a real browser (headless Chromium through chromedriver) against the demo on
//! a loopback port: the landing page, the warranty check in English and Simplified Chinese,
//! keyboard use, and axe-core finding no serious accessibility problem. Screenshots of each
//! page go to `target/screenshots/` (the README shows copies from `docs/screenshots/`).

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::expect_used,
    clippy::indexing_slicing
)]

mod support;

use support::webdriver::Browser;
use support::{Server, root};

fn shot(b: &Browser, name: &str) {
    b.screenshot(
        &root()
            .join("target/screenshots")
            .join(format!("{name}.png")),
    );
}

fn accessible(b: &Browser, page: &str) {
    if let Some(problems) = b.accessibility_problems() {
        assert!(problems.is_empty(), "{page}: {problems:#?}");
    }
}

#[test]
fn a_visitor_checks_a_warranty_in_english_and_chinese() {
    let Some(b) = Browser::start() else { return };
    let dir = std::env::temp_dir().join(format!("aftercare_browser_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let db = format!("sqlite://{}/demo.db", dir.display());
    let s = Server::demo(&db, dir.join("mail").to_str().unwrap());
    let base = format!("http://{}", s.addr);

    // The landing page: what it is, the ways in, the demo's accounts.
    b.goto(&format!("{base}/?lang=en"));
    assert!(
        b.text("h1").contains("After-sales service"),
        "{}",
        b.text("h1")
    );
    assert!(b.text(".demo").contains("tech.imask@demo.test"));
    assert!(b.text(".demo").contains("demo-aftercare-2026"));
    accessible(&b, "landing");
    shot(&b, "landing");

    // Keyboard: the first Tab reaches the skip link, and focus is visible.
    b.keys("\u{E004}");
    let focused = b.script("return document.activeElement.textContent.trim()");
    assert_eq!(focused, "Skip to content");
    let outline = b.script("return getComputedStyle(document.activeElement).outlineStyle");
    assert_ne!(outline, "none", "focus is visible");

    // A serial typed on the landing page: the warranty in words, with its clauses.
    b.type_into("#serial", "IMA-DEMO-1");
    b.keys("\u{E007}");
    let start = std::time::Instant::now();
    while !b.url().contains("/warranty?serial=IMA-DEMO-1") {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(5),
            "{}",
            b.url()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let table = b.text("table.coverage");
    assert!(table.contains("Covered until"), "{table}");
    assert!(b.text(".result h2").contains("IMA-DEMO-1"));
    accessible(&b, "warranty");
    shot(&b, "warranty");

    // The same page in Simplified Chinese, by the switch; the choice is kept.
    b.click("a.lang");
    let table = b.text("table.coverage");
    assert!(table.contains("保修至"), "{table}");
    assert_eq!(b.script("return document.documentElement.lang"), "zh-CN");
    assert!(b.text("h1").contains("查询保修"));
    accessible(&b, "warranty (zh-CN)");
    shot(&b, "warranty-zh");
    b.goto(&format!("{base}/"));
    assert!(
        b.text("h1").contains("售后"),
        "the language is kept: {}",
        b.text("h1")
    );

    // An unknown serial and a malformed one: told, in the page's language, next to the form.
    b.goto(&format!("{base}/warranty?serial=NOPE-1&lang=en"));
    assert!(
        b.text("[role=alert]")
            .contains("No product has this serial")
    );
    b.goto(&format!("{base}/warranty?serial=%3Cscript%3E"));
    assert!(b.text("[role=alert]").contains("1 to 64 letters"));
    assert_eq!(
        b.script("return document.querySelectorAll('script:not([src])').length"),
        0,
        "nothing the visitor typed became a script"
    );
    drop(s);
    let _ = std::fs::remove_dir_all(&dir);
}
