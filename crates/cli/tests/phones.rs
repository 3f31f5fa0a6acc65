//! Every page a customer meets, on a phone (issue 21): headless Chromium laid out 390 CSS
//! pixels wide (device emulation: a mobile viewport, touch), in English and in Chinese. No
//! page scrolls sideways, every control is at least 44 × 44 pixels to tap, axe-core finds no
//! serious problem, and the return slip prints from the phone with what the carrier needs.
//! Screenshots go to `target/screenshots/phone-*.png` (the README shows copies).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code fails the test on error"
)]

mod support;

use support::Server;
use support::webdriver::Browser;

fn fits(b: &Browser, page: &str) {
    let problems = b.phone_problems();
    assert!(problems.is_empty(), "{page} on a phone: {problems:#?}");
    b.assert_accessible(page);
}

/// Signs Li Wei in through the link the portal mails (as the customer would, on the phone).
fn sign_in(b: &Browser, base: &str, mail: &std::path::Path) {
    b.goto(&format!("{base}/portal/sign-in?lang=en"));
    fits(b, "portal sign-in");
    b.shot("phone-sign-in");
    b.type_into("#order_no", "WEB-1001");
    b.type_into("#email", "li.wei@example.org");
    b.click_and_wait("form.stacked button");
    let link = support::mailed_sign_in_link(mail);
    b.goto(&link);
    fits(b, "sign-in link");
    b.click_and_wait("form button");
    assert!(b.url().ends_with("/portal"), "{}", b.url());
}

#[test]
fn every_customer_page_fits_a_phone_in_english_and_chinese() {
    let Some(b) = Browser::start() else { return };
    let dir = std::env::temp_dir().join(format!("aftercare_phones_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let db = format!("sqlite://{}/demo.db", dir.display());
    let mail = dir.join("mail");
    let s = Server::demo(&db, mail.to_str().unwrap());
    let base = format!("http://{}", s.addr);
    b.phone();

    // Before signing in: the landing page and the warranty check.
    for (lang, suffix) in [("en", ""), ("zh-CN", "-zh")] {
        b.goto(&format!("{base}/?lang={lang}"));
        assert_eq!(b.script("return screen.width"), 390);
        fits(&b, &format!("landing ({lang})"));
        b.shot(&format!("phone-landing{suffix}"));
        b.goto(&format!("{base}/warranty?serial=IMA-DEMO-1&lang={lang}"));
        fits(&b, &format!("warranty ({lang})"));
        b.shot(&format!("phone-warranty{suffix}"));
    }

    sign_in(&b, &base, &mail);
    let case = b
        .script("return document.querySelector('a[href^=\"/portal/cases/\"]').getAttribute('href')")
        .as_str()
        .unwrap()
        .to_string();
    for (lang, suffix) in [("en", ""), ("zh-CN", "-zh")] {
        b.goto(&format!("{base}/portal?lang={lang}"));
        fits(&b, &format!("my cases ({lang})"));
        b.shot(&format!("phone-cases{suffix}"));
        b.goto(&format!("{base}{case}?lang={lang}"));
        fits(&b, &format!("a case ({lang})"));
        b.shot(&format!("phone-case{suffix}"));
        b.goto(&format!("{base}/portal/start?lang={lang}"));
        fits(&b, &format!("start a request ({lang})"));
        b.shot(&format!("phone-start{suffix}"));
    }

    // The return slip: on the screen, and printed from the phone (the page's print styles:
    // no header, no buttons), still one column wide with the authorisation number and the
    // address on it.
    b.goto(&format!("{base}{case}?lang=en"));
    let slip = b.script(
        "const a = document.querySelector('a[href$=\"/slip\"]'); return a ? a.getAttribute('href') : null",
    );
    let slip = slip
        .as_str()
        .expect("the demo customer's first case has a return slip");
    b.goto(&format!("{base}{slip}"));
    fits(&b, "return slip");
    b.shot("phone-slip");
    b.media("print");
    let problems = b.phone_problems();
    assert!(problems.is_empty(), "the slip printed: {problems:#?}");
    let printed = b.text("main");
    assert!(printed.contains("RA-"), "{printed}");
    assert_eq!(
        b.script("return getComputedStyle(document.querySelector('header.top')).display"),
        "none",
        "the site's header is not printed"
    );
    b.media("screen");

    b.desktop();
    drop(s);
    let _ = std::fs::remove_dir_all(&dir);
}
