//! The portal and the desk doing whole jobs in a real browser (headless Chromium through
//! chromedriver) against the demo server on a loopback port, on SQLite and, when
//! `AFTERCARE_TEST_POSTGRES` names a server, on PostgreSQL:
//!
//! - a customer files an IMASK fault with a photo, an agent approves, a technician inspects
//!   (the decision re-decided live from the findings) and quotes, the customer accepts and
//!   pays, the case is repaired, shipped back and closed;
//! - a CryptKi delivery-damage request cannot be sent until the inner box's photo is there;
//! - an imKey cannot be recorded as shipped until the data-wipe acknowledgment is ticked;
//! - a customer cannot open another customer's case (or its slip) by changing the URL;
//! - the guided start and the case page in Simplified Chinese.
//!
//! Screenshots of the pages go to `target/screenshots/`.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::expect_used,
    clippy::indexing_slicing
)]

mod support;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use support::webdriver::Browser;
use support::{Server, TestDb};

const PASSWORD: &str = "demo-aftercare-2026";

fn shot(b: &Browser, db: &TestDb, name: &str) {
    // One set of pictures (SQLite's); the PostgreSQL run shows the same pages.
    if db.name == "sqlite" {
        b.shot(name);
    }
}

fn accessible(b: &Browser, page: &str) {
    b.assert_accessible(page);
}

/// The demo on a database of its own, and where its e-mails go.
struct Demo {
    /// Kept for its life: the server stops when the demo is dropped.
    _server: Server,
    base: String,
    mail: PathBuf,
    dir: PathBuf,
}

impl Demo {
    fn start(db: &TestDb, name: &str) -> Demo {
        let dir = std::env::temp_dir().join(format!(
            "aftercare_flows_{name}_{}_{}",
            db.name,
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mail = dir.join("mail");
        let server = Server::demo(&db.url, mail.to_str().unwrap());
        let base = format!("http://{}", server.addr);
        Demo {
            _server: server,
            base,
            mail,
            dir,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A photo to upload: a small PNG written once.
    fn photo(&self) -> PathBuf {
        let path = self.dir.join("photo.png");
        if !path.exists() {
            let img = image::RgbImage::from_fn(96, 64, |x, y| {
                image::Rgb([(x * 2) as u8, (y * 3) as u8, 120])
            });
            img.save(&path).unwrap();
        }
        path
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The customer asks for a link with an order number and e-mail, and signs in with it.
fn customer_signs_in(b: &Browser, d: &Demo, order: &str, email: &str) {
    let before = std::fs::read_dir(&d.mail).map_or(0, Iterator::count);
    b.goto(&d.url("/portal/sign-in"));
    b.type_into("#order_no", order);
    b.type_into("#email", email);
    b.click_and_wait("form.stacked button");
    let start = Instant::now();
    let link = loop {
        let found = std::fs::read_dir(&d.mail).ok().and_then(|entries| {
            let mut files: Vec<PathBuf> = entries.filter_map(|e| Some(e.ok()?.path())).collect();
            files.sort();
            files
                .iter()
                .skip(before)
                .filter_map(|p| std::fs::read_to_string(p).ok())
                .find(|t| t.contains("/portal/sign-in?token="))
        });
        if let Some(text) = found {
            break text
                .split_whitespace()
                .find(|w| w.contains("/portal/sign-in?token="))
                .unwrap()
                .to_string();
        }
        assert!(start.elapsed() < Duration::from_secs(15), "no sign-in link");
        std::thread::sleep(Duration::from_millis(100));
    };
    b.goto(&link);
    b.click_and_wait("form button");
    assert!(b.url().ends_with("/portal"), "{}", b.url());
}

/// A staff member signs in at the desk (whoever was signed in before is signed out).
fn staff_signs_in(b: &Browser, d: &Demo, email: &str) {
    b.goto(&d.url("/desk/sign-in"));
    b.type_into("#email", email);
    b.type_into("#password", PASSWORD);
    b.click_and_wait("form.stacked button");
    assert!(b.url().ends_with("/desk"), "{}", b.url());
    assert!(b.text("h1").contains("Queue"), "{}", b.text("body"));
}

/// Starts a request from the guided start: the item and what happened, the answers to the
/// questions the policy asks (set at once, then "check again"; an answer to a question not
/// asked is left), the description; opens the case.
/// Returns the case page's URL.
fn start_request(
    b: &Browser,
    d: &Demo,
    item: &str,
    kind: &str,
    answers: &[(&str, &str)],
    description: &str,
) -> String {
    b.goto(&d.url("/portal/start"));
    b.script(&format!(
        "document.querySelector('input[name=item][value=\"{item}\"]').checked = true;
         document.querySelector('input[name=kind][value=\"{kind}\"]').checked = true; return true;"
    ));
    b.click_and_wait("button[name=intent][value=check]");
    for (fact, answer) in answers {
        b.script(&format!(
            "const e = document.querySelector('input[name=\"a.{fact}\"][value=\"{answer}\"]');
             if (e) {{ e.checked = true; }} return true;"
        ));
    }
    b.type_into("#description", description);
    b.click_and_wait("button[name=intent][value=check]");
    b.click_and_wait("button[name=intent][value=open]");
    let url = b.url();
    assert!(url.contains("/portal/cases/"), "{url}");
    url
}

/// The case id in a case page's URL.
fn case_id(url: &str) -> i64 {
    url.rsplit('/')
        .next()
        .and_then(|s| s.split('?').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no case id in {url}"))
}

/// Takes a portal move by its button.
fn portal_move(b: &Browser, action: &str) {
    b.click_and_wait(&format!("form.move-{action} button"));
}

/// Takes a desk move whose button carries `action`.
fn desk_move(b: &Browser, action: &str) {
    b.click_and_wait(&format!("button[name=action][value={action}]"));
    assert!(
        !b.script("return !!document.querySelector('[role=alert]')")
            .as_bool()
            .unwrap(),
        "{action}: {}",
        b.text("[role=alert]")
    );
}

fn state_text(b: &Browser) -> String {
    b.text(".state")
}

fn upload_photo(b: &Browser, d: &Demo, kind: &str) {
    b.script(&format!(
        "document.querySelector('#photo-kind').value = '{kind}'; return true;"
    ));
    b.upload("#photo-file", &d.photo());
    b.click_and_wait("form.upload button");
    assert!(
        b.text("[role=status]").contains("Photo received")
            || b.text("[role=status]").contains("照片已收到"),
        "{}",
        b.text("main")
    );
}

#[test]
fn an_imask_fault_goes_from_the_portal_through_the_desk_to_closed() {
    let Some(customer) = Browser::start() else {
        return;
    };
    let staff = Browser::start().unwrap();
    for db in support::databases() {
        let d = Demo::start(&db, "imask");
        customer_signs_in(&customer, &d, "WEB-1001", "li.wei@example.org");

        // The guided start, with htmx: choosing the item and what happened brings the
        // policy's questions in place.
        customer.goto(&d.url("/portal/start?lang=en"));
        accessible(&customer, "portal start");
        customer.click("input[name=item][value='s:IMA-DEMO-1']");
        customer.click("input[name=kind][value=warranty_service]");
        customer.wait_for(
            "the policy's questions",
            "return document.body.innerText.includes('A few questions')",
        );
        let page = customer.text("#start");
        assert!(page.contains("Do you have the warranty card?"), "{page}");
        assert!(
            !page.contains("seal or tamper"),
            "IMASK's policy never asks about a seal: {page}"
        );
        assert!(
            page.contains("Three Guarantees Rights"),
            "clauses cited: {page}"
        );
        accessible(&customer, "portal start, questions");
        shot(&customer, &db, "portal-start");
        let case_url = start_request(
            &customer,
            &d,
            "s:IMA-DEMO-1",
            "warranty_service",
            &[
                ("warranty_card.present", "yes"),
                ("condition.complete", "yes"),
                ("invoice.status", "yes"),
            ],
            "The strap clip broke and the display flickers.",
        );
        let id = case_id(&case_url);
        assert!(state_text(&customer).contains("Draft"));
        assert!(customer.text("main").contains("The strap clip broke"));
        upload_photo(&customer, &d, "product_damage");
        assert!(
            customer
                .text("ul.gallery")
                .contains("The damage to the product")
        );
        portal_move(&customer, "submit");
        assert!(
            state_text(&customer).contains("Sent"),
            "{}",
            state_text(&customer)
        );

        // The agent approves it at the desk.
        staff_signs_in(&staff, &d, "agent.imask@demo.test");
        staff.goto(&d.url(&format!("/desk/cases/{id}")));
        accessible(&staff, "desk case");
        assert!(staff.text(".gallery").contains("The damage to the product"));
        desk_move(&staff, "approve");
        assert!(staff.text(".state").contains("Approved"));

        // The customer prints the slip and ships the item.
        customer.goto(&case_url);
        assert!(
            customer.text("main").contains("RA-"),
            "{}",
            customer.text("main")
        );
        customer.click_and_wait("a[href$='/slip']");
        let slip = customer.text("article.slip");
        assert!(slip.contains(&format!("RA-{id:06}")), "{slip}");
        assert!(slip.contains("IMASK After-sales Service Centre"), "{slip}");
        // Who pays the freight each way, and the policy's own instructions (IMASK sets no
        // ship-by date: none is printed).
        assert!(slip.contains("Sending it to the service centre"), "{slip}");
        assert!(
            slip.contains("Mail the product to the after-sales service center"),
            "{slip}"
        );
        assert!(
            customer
                .script("return !!document.querySelector('figure.qr svg')")
                .as_bool()
                .unwrap(),
            "a QR code"
        );
        accessible(&customer, "return slip");
        shot(&customer, &db, "portal-slip");
        customer.goto(&case_url);
        portal_move(&customer, "device_shipped");
        assert!(state_text(&customer).contains("On its way"));

        // The technician receives and inspects it: a drop, which the preview shows
        // re-decided before anything is saved, then quotes a paid repair.
        staff_signs_in(&staff, &d, "tech.imask@demo.test");
        staff.goto(&d.url(&format!("/desk/cases/{id}")));
        desk_move(&staff, "receive");
        assert!(staff.text(".state").contains("Received"));
        // The technician photographs the item as it arrived.
        staff.upload("#photo-file", &d.photo());
        staff.click_and_wait("form.upload button");
        assert!(staff.text("[role=status]").contains("Photo received"));
        assert!(staff.text(".gallery").contains("The item you received"));
        staff.click("input[name='f.diagnosis.causes'][value=drop]");
        staff.wait_for(
            "the live re-decision",
            "return !!document.querySelector('#whatif table')",
        );
        let preview = staff.text("#whatif");
        assert!(preview.contains("Paid repair"), "{preview}");
        let free_repair_row = staff
            .script(
                "const r = [...document.querySelectorAll('#whatif tr')].find(r => r.textContent.includes('Free repair'));
                 return r ? r.className : null",
            );
        assert_eq!(
            free_repair_row, "no",
            "a drop is outside the free repair: {preview}"
        );
        assert!(
            !staff.text("ol, table.timeline").contains("inspect"),
            "the preview saved nothing"
        );
        accessible(&staff, "desk inspection preview");
        shot(&staff, &db, "desk-case");
        desk_move(&staff, "inspect");
        assert!(
            staff.text(".state").contains("inspected"),
            "{}",
            staff.text(".state")
        );
        assert!(
            staff.text("ul.changes").contains("Free repair"),
            "what changed: {}",
            staff.text("main")
        );
        staff.script(
            "const d = document.querySelectorAll('input[name=line_description]');
             const a = document.querySelectorAll('input[name=line_amount]');
             const k = document.querySelectorAll('select[name=line_kind]');
             k[0].value = 'part'; d[0].value = 'Display module'; a[0].value = '180.00';
             k[1].value = 'labour'; d[1].value = 'Bench time'; a[1].value = '60.00';
             return true;",
        );
        desk_move(&staff, "quote");
        assert!(staff.text(".state").contains("Quote sent"));

        // The customer sees the quote, accepts and pays it.
        customer.goto(&case_url);
        let quote = customer.text("table.quote");
        assert!(quote.contains("Display module"), "{quote}");
        assert!(quote.contains("¥240.00"), "{quote}");
        // IMASK sets no time to pay: no pay-by date is invented.
        assert!(!customer.text("main").contains("Pay by"));
        shot(&customer, &db, "portal-case");
        accessible(&customer, "portal case with a quote");
        portal_move(&customer, "pay");
        assert!(state_text(&customer).contains("Quote paid"));

        // Repaired: the technician reports the LED panel replaced, and the desk shows its
        // warranty and the clause that sets it (Repair Service Quality Commitment 3: 90 days for a paid repair's
        // parts); shipped back, closed.
        staff.goto(&d.url(&format!("/desk/cases/{id}")));
        desk_move(&staff, "repair");
        staff.click("form.repair-report input[name=part][value='LED panel']");
        staff.click_and_wait("form.repair-report button[type=submit]");
        let repairs = staff.text("section.repairs");
        assert!(
            repairs.contains("LED panel")
                && repairs.contains("Repair Service Quality Commitment 3"),
            "{repairs}"
        );
        shot(&staff, &db, "desk-repair");
        accessible(&staff, "desk repair report");
        customer.goto(&case_url);
        let mine = customer.text("ul.repairs");
        assert!(mine.contains("LED panel"), "{mine}");
        staff.goto(&d.url(&format!("/desk/cases/{id}")));
        desk_move(&staff, "ship_back");
        staff_signs_in(&staff, &d, "agent.imask@demo.test");
        staff.goto(&d.url(&format!("/desk/cases/{id}")));
        desk_move(&staff, "close");
        assert!(staff.text(".state").contains("Closed"));
        let timeline = staff.text("table.timeline");
        for step in [
            "submit",
            "approve",
            "device shipped",
            "receive",
            "inspect",
            "quote",
            "pay",
            "repair",
            "ship back",
            "close",
        ] {
            assert!(timeline.contains(step), "{step} in {timeline}");
        }
        customer.goto(&case_url);
        assert!(state_text(&customer).contains("Closed"));

        // Another customer's case, by changing the URL: not found, page and slip alike.
        let foreign = (1..=13).find(|other| *other != id && *other != 13).unwrap();
        for path in [
            format!("/portal/cases/{foreign}"),
            format!("/portal/cases/{foreign}/slip"),
        ] {
            customer.goto(&d.url(&path));
            let body = customer.text("body");
            assert!(
                body.contains("no case") || body.contains("not found"),
                "{path}: {body}"
            );
            assert!(!body.contains("DEMO-"), "{path}: {body}");
        }
    }
}

#[test]
fn a_cryptki_delivery_damage_request_waits_for_the_inner_box_photo() {
    let Some(b) = Browser::start() else { return };
    for db in support::databases() {
        let d = Demo::start(&db, "cryptki");
        customer_signs_in(&b, &d, "WEB-1002", "li.wei@example.org");
        let case_url = start_request(
            &b,
            &d,
            "s:CRK-DEMO-1",
            "delivery_damage",
            &[
                ("condition.packaging_opened", "no"),
                ("condition.seal_broken", "no"),
                ("condition.activated", "no"),
                ("condition.complete", "yes"),
            ],
            "The outer box arrived crushed on one corner.",
        );
        // The policy asks for four kinds of photo; without them the request cannot be sent.
        let checklist = b.text("ul.checklist");
        for kind in [
            "outer shipping box",
            "inner product box",
            "labels",
            "damage to the packaging",
        ] {
            assert!(checklist.contains(kind), "{kind}: {checklist}");
        }
        assert!(b.text("main").contains("do not open") || b.text("main").contains("must not open"));
        for kind in ["outer_box", "labels", "packaging_damage"] {
            upload_photo(&b, &d, kind);
        }
        let need: Vec<String> = b
            .script("return [...document.querySelectorAll('ul.checklist li.need')].map(l => l.dataset.kind)")
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        assert_eq!(need, ["inner_box"]);
        assert!(b.text("p.held").contains("cannot be sent yet"));
        assert!(
            !b.script("return !!document.querySelector('form.move-submit')")
                .as_bool()
                .unwrap(),
            "no send button while a photo is missing"
        );
        accessible(&b, "portal case, photos missing");
        shot(&b, &db, "portal-photos");
        // Sending anyway (a form from an old tab): the server holds it back.
        let version =
            b.script("return document.querySelector('form.move-cancel input[name=version]').value");
        let csrf =
            b.script("return document.querySelector('form.move-cancel input[name=csrf]').value");
        b.script(&format!(
            "document.body.insertAdjacentHTML('beforeend',
               '<form id=forced method=post action=\"{}/move\"><input name=action value=submit>\
                <input name=version value=\"{}\"><input name=csrf value=\"{}\"><button>go</button></form>');
             return true;",
            d.url(&format!("/portal/cases/{}", case_id(&case_url))),
            version.as_str().unwrap(),
            csrf.as_str().unwrap()
        ));
        b.click_and_wait("#forced button");
        assert!(
            b.text("[role=alert]").contains("cannot be sent yet"),
            "{}",
            b.text("main")
        );
        assert!(state_text(&b).contains("Draft"));

        // The inner box's photo: the checklist is complete, the request goes.
        upload_photo(&b, &d, "inner_box");
        assert_eq!(
            b.script("return document.querySelectorAll('ul.checklist li.need').length"),
            0
        );
        portal_move(&b, "submit");
        assert!(state_text(&b).contains("Sent"), "{}", state_text(&b));
    }
}

#[test]
fn an_imkey_cannot_be_shipped_before_the_data_wipe_acknowledgment() {
    let Some(customer) = Browser::start() else {
        return;
    };
    let staff = Browser::start().unwrap();
    for db in support::databases() {
        let d = Demo::start(&db, "imkey");
        customer_signs_in(&customer, &d, "WEB-1003", "li.wei@example.org");
        let case_url = start_request(
            &customer,
            &d,
            "s:IMK-DEMO-1",
            "warranty_service",
            &[("warranty_card.present", "yes")],
            "It no longer connects over USB.",
        );
        let id = case_id(&case_url);
        portal_move(&customer, "submit");
        staff_signs_in(&staff, &d, "agent.imkey@demo.test");
        staff.goto(&d.url(&format!("/desk/cases/{id}")));
        // The agent asks for something first; the customer reads the message on their page
        // and answers.
        staff.click("details.move-request_info summary");
        staff.type_into(
            "#note-request_info",
            "Please tell us which wallet app you use.",
        );
        desk_move(&staff, "request_info");
        customer.goto(&case_url);
        let history = customer.text("ol.timeline");
        assert!(
            history.contains("Please tell us which wallet app you use."),
            "{history}"
        );
        portal_move(&customer, "provide_info");
        staff.goto(&d.url(&format!("/desk/cases/{id}")));
        desk_move(&staff, "approve");

        customer.goto(&case_url);
        let form = customer.text("form.move-device_shipped");
        assert!(
            form.contains("Mnemonic") || form.contains("recovery phrase"),
            "{form}"
        );
        // Unticked, the browser does not send the form.
        customer.click("form.move-device_shipped button");
        std::thread::sleep(Duration::from_millis(300));
        assert!(
            state_text(&customer).contains("Approved"),
            "{}",
            state_text(&customer)
        );
        // Sent anyway (the box's `required` removed): the server holds it back.
        customer.script("document.querySelector('#ack').required = false; return true;");
        customer.click_and_wait("form.move-device_shipped button");
        assert!(
            customer
                .text("[role=alert]")
                .contains("Tick the confirmation first"),
            "{}",
            customer.text("main")
        );
        assert!(state_text(&customer).contains("Approved"));
        accessible(&customer, "portal case, acknowledgment");
        // Ticked: shipped.
        customer.click("#ack");
        customer.click_and_wait("form.move-device_shipped button");
        assert!(
            state_text(&customer).contains("On its way"),
            "{}",
            state_text(&customer)
        );
        staff.goto(&d.url(&format!("/desk/cases/{id}")));
        assert!(
            staff
                .text("table.facts-table")
                .contains("customer.data_acknowledged")
        );
    }
}

#[test]
fn the_portal_in_simplified_chinese() {
    let Some(b) = Browser::start() else { return };
    for db in support::databases() {
        let d = Demo::start(&db, "zh");
        // Asked for from the portal in Chinese, the link comes in Chinese (and so do the
        // customer's later e-mails).
        b.goto(&d.url("/portal/sign-in?lang=zh-CN"));
        customer_signs_in(&b, &d, "WEB-1001", "li.wei@example.org");
        let link_mail = std::fs::read_dir(&d.mail)
            .unwrap()
            .filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
            .find(|t| t.contains("/portal/sign-in?token="))
            .unwrap();
        assert!(link_mail.contains("请在"), "{link_mail}");
        assert!(link_mail.contains("Subject: =?utf-8?B?"), "{link_mail}");
        b.goto(&d.url("/portal/start?lang=zh-CN"));
        assert_eq!(b.script("return document.documentElement.lang"), "zh-CN");
        assert!(b.text("h1").contains("发起售后申请"));
        let case_url = start_request(
            &b,
            &d,
            "s:IMA-DEMO-1",
            "warranty_service",
            &[
                ("warranty_card.present", "yes"),
                ("condition.complete", "yes"),
            ],
            "屏幕闪烁",
        );
        let main = b.text("main");
        assert!(main.contains("草稿，尚未提交"), "{main}");
        assert!(main.contains("您可以获得"), "{main}");
        assert!(main.contains("运费由谁承担"), "{main}");
        assert!(main.contains("屏幕闪烁"), "{main}");
        assert!(main.contains("年"), "dates as Chinese writes them: {main}");
        accessible(&b, "portal case (zh-CN)");
        shot(&b, &db, "portal-case-zh");
        upload_photo(&b, &d, "product");
        portal_move(&b, "submit");
        assert!(state_text(&b).contains("已提交"), "{}", state_text(&b));
        b.goto(&d.url("/portal"));
        assert!(b.text("main").contains("您的售后单"));
        assert!(b.text("main").contains(&format!("#{}", case_id(&case_url))));
    }
}

#[test]
fn a_refund_from_the_desk_is_made_once_however_often_its_button_is_pressed() {
    let Some(b) = Browser::start() else { return };
    for db in support::databases() {
        let d = Demo::start(&db, "refund");
        // The demo's unopened CryptKi wallet, received back: the manager inspects it and
        // refunds it.
        staff_signs_in(&b, &d, "manager@demo.test");
        b.goto(&d.url("/desk?seller=CryptKi&state=received"));
        b.click_and_wait("table.queue tbody a");
        let case_url = b.url();
        for (fact, answer) in [
            ("condition.complete", "yes"),
            ("condition.activated", "no"),
            ("condition.seal_broken", "no"),
        ] {
            b.script(&format!(
                "document.querySelector('input[name=\"f.{fact}\"][value=\"{answer}\"]').checked = true; return true;"
            ));
        }
        b.script("document.querySelector('input[name=\"f.diagnosis.causes\"][value=no_fault]').checked = true; return true;");
        desk_move(&b, "inspect");
        let refund_button = b.text("form.move-refund button");
        assert!(
            refund_button.contains('€'),
            "the amount on the button: {refund_button}\n{}",
            b.text("main")
        );
        // The refund form as it is now, kept to be sent a second time (a double click, an
        // old tab).
        let again = b.script("return document.querySelector('form.move-refund').outerHTML");
        desk_move(&b, "refund");
        assert!(
            b.text(".state").contains("Refund under way"),
            "{}",
            b.text(".state")
        );
        b.script(&format!(
            "document.body.insertAdjacentHTML('beforeend', {again}); \
             document.body.lastElementChild.id = 'again'; return true;"
        ));
        b.click_and_wait("#again button");
        assert!(
            b.text("[role=status]")
                .contains("changed while you were looking")
        );
        let timeline = b.text("table.timeline");
        assert_eq!(
            timeline
                .lines()
                .filter(|l| l.trim_end().ends_with("refund"))
                .count(),
            1,
            "one refund: {timeline}"
        );
        accessible(&b, "desk case, refunding");
        desk_move(&b, "refund_paid");
        assert!(b.text(".state").contains("Closed"));
        assert_eq!(b.url().split('?').next(), case_url.split('?').next());
    }
}
