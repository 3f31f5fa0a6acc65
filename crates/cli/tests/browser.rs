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

use support::Server;
use support::webdriver::Browser;

/// Every clause title the three Chinese sellers' policies translate: (the document's, Chinese).
fn chinese_titles() -> Vec<(String, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies");
    let mut out = Vec::new();
    for name in ["imkey", "imask", "imiki"] {
        let file = format!("{name}.toml");
        let text = std::fs::read_to_string(dir.join(&file)).unwrap();
        let (policy, _) = aftercare_policy::load::load(&file, &text).unwrap();
        for c in &policy.clauses {
            if let Some(zh) = c.title_in("zh-CN") {
                out.push((c.title.clone(), zh.to_string()));
            }
        }
    }
    out
}

fn shot(b: &Browser, name: &str) {
    b.shot(name);
}

fn accessible(b: &Browser, page: &str) {
    b.assert_accessible(page);
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
    assert!(
        table.contains("Product: 12 months"),
        "IMASK's own title: {table}"
    );
    assert!(b.text(".result h2").contains("IMA-DEMO-1"));
    accessible(&b, "warranty");
    shot(&b, "warranty");

    // The same page in Simplified Chinese, by the switch; the choice is kept.
    b.click_and_wait("a.lang");
    let table = b.text("table.coverage");
    assert!(table.contains("保修至"), "{table}");
    // IMASK's clause titles in Chinese, as the policy gives them, and the Chinese law
    // layer's as well.
    assert!(
        table.contains("产品：12 个月") && !table.contains("Product: 12 months"),
        "{table}"
    );
    assert!(
        table.contains("三包有效期") && !table.contains("（原文）"),
        "{table}"
    );
    assert_eq!(b.script("return document.documentElement.lang"), "zh-CN");
    assert!(b.text("h1").contains("查询保修"));
    accessible(&b, "warranty (zh-CN)");
    shot(&b, "warranty-zh");
    // CryptKi's policy has no Chinese titles: its own, marked as the original.
    b.goto(&format!("{base}/warranty?serial=CRK-DEMO-1"));
    let table = b.text("table.coverage");
    assert!(table.contains("（原文）"), "{table}");
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

#[test]
fn a_customer_signs_in_with_a_link_and_sees_only_their_own_cases() {
    let Some(b) = Browser::start() else { return };
    let dir = std::env::temp_dir().join(format!("aftercare_browser_portal_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let db = format!("sqlite://{}/demo.db", dir.display());
    let mail = dir.join("mail");
    let s = Server::demo(&db, mail.to_str().unwrap());
    let base = format!("http://{}", s.addr);

    // Not signed in: the portal asks for order number and e-mail.
    b.goto(&format!("{base}/portal?lang=en"));
    assert!(b.url().ends_with("/portal/sign-in"), "{}", b.url());
    accessible(&b, "portal sign-in");
    b.type_into("#order_no", "WEB-1001");
    b.type_into("#email", "li.wei@example.org");
    b.click_and_wait("form.stacked button");
    assert!(
        b.text("[role=status]")
            .contains("sign-in link is on its way")
    );

    // The link arrives by e-mail; opening it shows a button (a mail scanner opening the link
    // does not use it up), which signs in.
    let link = support::mailed_sign_in_link(&mail);
    assert!(
        link.starts_with(&base),
        "the link names the server's address: {link}"
    );
    b.goto(&link);
    b.click_and_wait("form button");
    assert!(b.url().ends_with("/portal"), "{}", b.url());
    let mine: Vec<i64> = b
        .script(
            "return [...document.querySelectorAll('a[href^=\"/portal/cases/\"]')]
               .map(a => Number(a.getAttribute('href').split('/').pop()))",
        )
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    assert!(!mine.is_empty(), "Li Wei has cases in the demo");
    accessible(&b, "portal cases");
    shot(&b, "portal-cases");

    // A case in words: its state, its own path with the next step marked, what can be got by
    // which clause, the history.
    b.click_and_wait("a[href^=\"/portal/cases/\"]");
    assert!(b.text(".state").len() > 3);
    let steps = b.text("ol.progress");
    assert!(
        steps.contains("Sent") && steps.contains("Closed"),
        "{steps}"
    );
    assert_eq!(
        b.script("return document.querySelectorAll('ol.progress li[aria-current=step]').length"),
        1,
        "one next step: {steps}"
    );
    // Li Wei's approved IMASK case has remedies that are not possible: folded, not open
    // (a page without the fold fails too).
    let folded = b.script(
        "const d = document.querySelector('details.other-options'); return d ? d.open : null",
    );
    assert_eq!(
        folded,
        serde_json::json!(false),
        "other options start folded"
    );
    let remedies = b.text("table.coverage");
    assert!(
        remedies.contains("what inspection found"),
        "facts in words: {remedies}"
    );
    assert!(!remedies.contains("diagnosis.causes"), "{remedies}");
    let history = b.text("ol.timeline");
    assert!(history.contains("Request opened"), "{history}");
    assert!(
        !history.contains("decide"),
        "a re-decision is not an event to the customer"
    );
    accessible(&b, "portal case");
    shot(&b, "portal-case");

    // The same case in Chinese: every clause title the policies translate is shown in
    // Chinese, none in English.
    let case_url = b.url();
    b.goto(&format!("{case_url}?lang=zh-CN"));
    // Every remedy, the folded "other options" included.
    let remedies = b
        .script(
            "return [...document.querySelectorAll('table.offers')].map(t => t.textContent).join(' ')",
        )
        .as_str()
        .unwrap()
        .to_string();
    let titles = chinese_titles();
    assert!(
        titles.iter().any(|(_, zh)| remedies.contains(zh.as_str())),
        "a Chinese title: {remedies}"
    );
    for (en, _) in &titles {
        assert!(
            !remedies.contains(&format!(" {en}")),
            "`{en}` in English: {remedies}"
        );
    }
    // The path and the fold in Chinese too: one next step, the other options folded.
    let zh_steps = b.text("ol.progress");
    assert!(
        !zh_steps.contains("Sent") && !zh_steps.contains("Closed") && !zh_steps.is_ascii(),
        "the path in Chinese: {zh_steps}"
    );
    assert_eq!(
        b.script("return document.querySelectorAll('ol.progress li[aria-current=step]').length"),
        1,
        "one next step: {zh_steps}"
    );
    assert_eq!(
        b.script(
            "const d = document.querySelector('details.other-options'); return d ? d.open : null"
        ),
        serde_json::json!(false),
        "other options start folded (zh-CN)"
    );
    accessible(&b, "portal case (zh-CN)");
    b.goto(&format!("{case_url}?lang=en"));
    b.goto(&case_url);

    // The approved case waits for the item: the customer says it is shipped, once. The same
    // form sent again (a second click, an old tab) changes nothing and says so.
    let case_url = b.url();
    let stale_form = b.script(
        "const f = document.querySelector('form[action$=\"/move\"] input[value=device_shipped]');
         return f ? f.form.outerHTML : null",
    );
    assert!(stale_form.is_string(), "no shipping button on {case_url}");
    b.click_and_wait("form[action$='/move'] input[value=device_shipped] ~ button");
    let body = b.script("return document.body.innerText");
    assert!(!b.url().ends_with("/move"), "{body}");
    assert!(
        b.text(".state").contains("On its way"),
        "{}",
        b.text(".state")
    );
    assert!(b.text("ol.timeline").contains("Item shipped"));
    b.script(&format!(
        "document.body.insertAdjacentHTML('beforeend', {stale_form}); \
         document.body.lastElementChild.id = 'again'; return true;"
    ));
    b.click_and_wait("#again button");
    assert!(b.url().contains("notice=stale"), "{}", b.url());
    assert!(
        b.text("[role=status]")
            .contains("changed while you were looking")
    );
    assert_eq!(
        b.text("ol.timeline").matches("Item shipped").count(),
        1,
        "shipped once"
    );

    // Someone else's case, by changing the URL: not found, and nothing of it shown.
    let other = (1..=13).find(|id| !mine.contains(id)).unwrap();
    b.goto(&format!("{base}/portal/cases/{other}"));
    let body = b.text("body");
    assert!(
        body.contains("no case") || body.contains("not found") || body.contains("Not Found"),
        "{body}"
    );
    assert!(!body.contains("RA-"), "{body}");

    // The link worked once.
    b.goto(&link);
    b.click_and_wait("form button");
    assert!(b.text("[role=alert]").contains("unknown, used or expired"));
    drop(s);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_technician_signs_in_and_works_the_queue_nearest_deadline_first() {
    let Some(b) = Browser::start() else { return };
    let dir = std::env::temp_dir().join(format!("aftercare_browser_desk_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let db = format!("sqlite://{}/demo.db", dir.display());
    let s = Server::demo(&db, dir.join("mail").to_str().unwrap());
    let base = format!("http://{}", s.addr);

    b.goto(&format!("{base}/desk?lang=en"));
    assert!(b.url().ends_with("/desk/sign-in"), "{}", b.url());
    accessible(&b, "desk sign-in");
    // A wrong password: the same words as an unknown account.
    b.type_into("#email", "tech.imask@demo.test");
    b.type_into("#password", "not the password");
    b.click_and_wait("form.stacked button");
    assert!(b.text("[role=alert]").contains("not right"));
    b.type_into("#password", "demo-aftercare-2026");
    b.click_and_wait("form.stacked button");
    assert!(b.url().ends_with("/desk"), "{}", b.url());

    // IMASK's open cases only, nearest deadline first; the one received 20 hours ago is
    // marked at risk of its 24-hour inspection target.
    let policies: Vec<String> = b
        .script("return [...document.querySelectorAll('table.queue tbody td:first-child small')].map(e => e.textContent)")
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert!(!policies.is_empty());
    assert!(policies.iter().all(|p| p == "imask"), "{policies:?}");
    assert!(
        b.text("table.queue").contains("due within 24 hours"),
        "{}",
        b.text("table.queue")
    );
    // The one received 30 hours ago missed it.
    assert!(
        b.text("table.queue").contains("service target missed"),
        "{}",
        b.text("table.queue")
    );
    let dues: Vec<String> = b
        .script(
            "return [...document.querySelectorAll('table.queue tbody tr')].map(r => r.className)",
        )
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_ne!(
        dues.first().map(String::as_str),
        Some(""),
        "the nearest deadline comes first: {dues:?}"
    );
    accessible(&b, "desk queue");
    shot(&b, "desk-queue");

    // Filtered by state, without JavaScript: a GET form.
    b.script("document.querySelector('#state').value = 'awaiting_payment'; return true;");
    b.click_and_wait("form.filters button");
    assert!(b.url().contains("state=awaiting_payment"), "{}", b.url());
    let states = b.text("table.queue tbody");
    assert!(states.contains("Quote sent"), "{states}");
    assert!(!states.contains("Received, waiting"), "{states}");

    // Found by the order number typed in the queue's search box; from the case, the unit's
    // history and the customer's other cases are a click away. Another seller's order finds
    // nothing. The same in Chinese.
    b.goto(&format!("{base}/desk?lang=en"));
    b.type_into("#q", "WEB-1001");
    b.click_and_wait("form.search button");
    assert!(b.url().contains("/desk/search?q=WEB-1001"), "{}", b.url());
    let found = b.text("table.found");
    assert!(
        found.contains("WEB-1001") && found.contains("order number"),
        "{found}"
    );
    accessible(&b, "desk search");
    shot(&b, "desk-search");
    b.click_and_wait("table.found a");
    // The desk's case page leads with the same path as the portal's: one next step, in
    // English and in Chinese.
    let desk_case = b.url();
    for (lang, english) in [("en", true), ("zh-CN", false)] {
        b.goto(&format!("{desk_case}?lang={lang}"));
        let steps = b.text("ol.progress");
        assert_eq!(steps.contains("Sent"), english, "{lang}: {steps}");
        assert_eq!(
            b.script(
                "return document.querySelectorAll('ol.progress li[aria-current=step]').length"
            ),
            1,
            "{lang}: one next step: {steps}"
        );
    }
    b.goto(&format!("{desk_case}?lang=en"));
    b.click_and_wait("a[href^='/desk/search?customer=']");
    assert!(
        b.text("table.found").contains("customer"),
        "{}",
        b.text("main")
    );
    b.goto(&format!("{base}/desk/search?q=DEMO-IMK-3"));
    assert!(b.text("[role=status]").contains("No case of your sellers"));
    b.goto(&format!("{base}/desk/search?q=WEB-1001&lang=zh-CN"));
    assert!(
        b.text("table.found").contains("订单号"),
        "{}",
        b.text("main")
    );
    accessible(&b, "desk search (zh-CN)");
    b.goto(&format!("{base}/desk?lang=en"));
    drop(s);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A manager's reports: cases opened per week by kind, drawn as SVG on the server, with the
/// numbers under it and as CSV; in English and Chinese; a technician is refused.
#[test]
fn a_manager_reads_every_report_as_a_chart_table_and_csv() {
    let Some(b) = Browser::start() else { return };
    let dir =
        std::env::temp_dir().join(format!("aftercare_browser_reports_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let db = format!("sqlite://{}/demo.db", dir.display());
    let s = Server::demo(&db, dir.join("mail").to_str().unwrap());
    let base = format!("http://{}", s.addr);
    b.goto(&format!("{base}/desk?lang=en"));
    b.type_into("#email", "manager@demo.test");
    b.type_into("#password", "demo-aftercare-2026");
    b.click_and_wait("form.stacked button");
    b.click_and_wait("a[href='/desk/reports']");
    assert!(b.text("h1").contains("Reports"));
    let bars = b.script("return document.querySelectorAll('figure.chart svg rect').length");
    assert!(bars.as_i64().unwrap() > 0, "bars: {bars}");
    // Each report: the numbers its table adds up to are the total it states, and its CSV,
    // as the link fetches it (the session's cookie goes with it), counts what it says.
    let sections = b.script(
        "return [...document.querySelectorAll('section.report')].map(s => [s.id, Number(s.dataset.total), Number(s.dataset.all), [...s.querySelectorAll('td.sum')].reduce((a, td) => a + Number(td.textContent), 0), s.querySelector('a.csv').href])",
    );
    let sections = sections.as_array().unwrap();
    let ids: Vec<&str> = sections.iter().map(|s| s[0].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        [
            "opened",
            "decided",
            "targets",
            "causes",
            "return-rate",
            "refunds"
        ]
    );
    for s in sections {
        let (id, total, all, summed) = (
            s[0].as_str().unwrap(),
            s[1].as_i64().unwrap(),
            s[2].as_i64().unwrap(),
            s[3].as_i64().unwrap(),
        );
        assert_eq!(summed, total, "{id}: the table adds up to the total");
        let csv = b.script_async(&format!(
            "const done = arguments[arguments.length - 1];
             fetch({}).then(r => r.text().then(t => done([r.headers.get('content-type'), t])))",
            s[4]
        ));
        assert_eq!(csv[0], "text/csv; charset=utf-8", "{id}");
        let text = csv[1].as_str().unwrap();
        let mut lines = text.lines();
        let head: Vec<&str> = lines.next().unwrap().split(',').collect();
        // The columns that count (several add up: in favour and against, met and missed).
        let counted: &[&str] = match id {
            "opened" => &["opened"],
            "decided" => &["in_favour", "against"],
            "targets" => &["met", "missed"],
            "causes" | "return-rate" => &["cases"],
            _ => &["refunds"],
        };
        let at: Vec<usize> = counted
            .iter()
            .map(|c| {
                head.iter()
                    .position(|h| h == c)
                    .unwrap_or_else(|| panic!("{id}: {c} in {head:?}"))
            })
            .collect();
        let in_csv: i64 = lines
            .map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                at.iter()
                    .map(|i| f[*i].parse::<i64>().unwrap())
                    .sum::<i64>()
            })
            .sum();
        assert_eq!(
            in_csv, all,
            "{id}: the CSV counts what the page says\n{text}"
        );
    }
    let opened = &sections[0];
    assert!(opened[1].as_i64().unwrap() > 0, "the demo opened cases");
    // The demo decides, inspects and refunds: those reports have something to show.
    for (i, what) in [
        (1, "decided"),
        (3, "causes"),
        (4, "return-rate"),
        (5, "refunds"),
    ] {
        assert!(sections[i][2].as_i64().unwrap() > 0, "the demo has {what}");
    }
    accessible(&b, "reports");
    shot(&b, "desk-reports");
    // The last reports, for the README (the first ones hidden: a capture starts at the top).
    b.script(
        "document.querySelectorAll('section.report').forEach((s, i) => s.hidden = i < 4); return null",
    );
    shot(&b, "desk-reports-more");
    b.goto(&format!("{base}/desk/reports?lang=zh-CN"));
    assert!(b.text("h1").contains("报表"));
    // The same six reports in Chinese, each adding up to the same totals.
    let zh = b.script(
        "return [...document.querySelectorAll('section.report')].map(s => [s.id, Number(s.dataset.total), [...s.querySelectorAll('td.sum')].reduce((a, td) => a + Number(td.textContent), 0), s.querySelector('h2').textContent])",
    );
    let zh = zh.as_array().unwrap();
    assert_eq!(zh.len(), sections.len());
    for (z, e) in zh.iter().zip(sections) {
        assert_eq!(z[0], e[0]);
        assert_eq!(z[1], e[1], "{}: the same total in Chinese", z[0]);
        assert_eq!(z[1], z[2], "{}: the table adds up in Chinese", z[0]);
        let title = z[3].as_str().unwrap();
        assert!(
            !title.is_ascii(),
            "{}: the title is not in Chinese: {title}",
            z[0]
        );
    }
    accessible(&b, "reports (zh-CN)");
    shot(&b, "desk-reports-zh");
    b.goto(&format!("{base}/desk/reports?lang=en"));
    drop(s);
    let _ = std::fs::remove_dir_all(&dir);
}
