//! The policy studio in a real browser (headless Chromium) on the demo: a manager signs in,
//! opens IMASK's policy as its document, edits a draft (an error shown at its line and column,
//! then fixed), runs what-if against the demo's recorded decisions, and publishes the draft
//! from a date; in English and Simplified Chinese, each page checked by axe-core.
//! Screenshots go to `target/screenshots/`.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::expect_used,
    clippy::indexing_slicing
)]

mod support;

use support::Server;
use support::webdriver::Browser;

/// Signs in at the desk as the demo's `email`.
fn sign_in(b: &Browser, base: &str, email: &str) {
    b.goto(&format!("{base}/desk/sign-in?lang=en"));
    b.type_into("#email", email);
    b.type_into("#password", "demo-aftercare-2026");
    b.click_and_wait("form.stacked button");
}

#[test]
fn a_manager_edits_tries_and_publishes_a_policy_in_the_studio() {
    let Some(b) = Browser::start() else { return };
    let dir = std::env::temp_dir().join(format!("aftercare_studio_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let db = format!("sqlite://{}/demo.db", dir.display());
    let s = Server::demo(&db, dir.join("mail").to_str().unwrap());
    let base = format!("http://{}", s.addr);

    sign_in(&b, &base, "manager@demo.test");
    b.click_and_wait("a[href='/desk/policies']");
    assert!(b.text("h1").contains("Policy studio"));
    assert!(
        b.text("table.queue")
            .contains("IMASK Sales and Refund Terms")
    );
    b.assert_accessible("studio list");
    b.shot("studio-list");

    // The policy as its document: each clause's text with the rules that cite it.
    b.click_and_wait("a[href='/desk/policies/imask']");
    let first = b.text("article.policy-clause");
    assert!(first.contains("IMASK assures you"), "{first}");
    assert!(first.contains("allows Paid repair with a quote"), "{first}");
    b.assert_accessible("studio policy");
    b.shot("studio-policy");

    // A draft with a typo: the checker's message at its line and column.
    b.click_and_wait("a[href='/desk/policies/imask/draft']");
    b.script(
        "const t = document.querySelector('#source'); \
         t.value = t.value.replace('version = \"1.0.0\"', 'version = \"1.1.0\"') \
           .replace('allow = [\"paid_repair\"]', 'allow = [\"paid_repairz\"]');",
    );
    b.click_and_wait("form button[type=submit]");
    let alert = b.text(".error[role=alert]");
    assert!(alert.contains("imask.toml:"), "{alert}");
    assert!(alert.contains("`paid_repairz` is not a remedy"), "{alert}");
    assert!(alert.contains("did you mean"), "{alert}");
    b.assert_accessible("studio draft with an error");
    b.shot("studio-draft-error");

    // Fixed as the what-if benchmark's draft: paid repair denied where it was allowed.
    b.script(
        "const t = document.querySelector('#source'); \
         t.value = t.value.replace('allow = [\"paid_repairz\"]', 'deny = [\"paid_repair\"]');",
    );
    b.click_and_wait("form button[type=submit]");
    assert!(b.text("[role=status]").contains("The draft loads."));

    // What-if: progress, then the decisions that would change, with clauses and cases.
    b.click_and_wait("form[action='/desk/policies/imask/what-if'] button");
    b.wait_for(
        "the what-if's result",
        "return document.querySelector('.summary') !== null",
    );
    let summary = b.text(".summary");
    assert!(summary.contains("would change"), "{summary}");
    let table = b.text("table.whatif-remedies");
    assert!(table.contains("Paid repair with a quote"), "{table}");
    assert!(table.contains("Manufacturer guarantee"), "{table}");
    b.assert_accessible("studio what-if");
    b.shot("studio-what-if");

    // Published from a date: the list shows the new version.
    b.goto(&format!("{base}/desk/policies/imask/draft"));
    b.script("document.querySelector('#effective_from').value = '2024-01-02';");
    b.click_and_wait("form.publish button[type=submit]");
    assert!(
        b.text("[role=status]").contains("Published"),
        "{}",
        b.text("main")
    );
    b.goto(&format!("{base}/desk/policies/imask"));
    assert!(b.text("main").contains("1.1.0, From 2024-01-02"));

    // In Simplified Chinese.
    b.goto(&format!("{base}/desk/policies/imask?lang=zh-CN"));
    assert!(
        b.text("main").contains("已发布的版本"),
        "{}",
        b.text("main")
    );
    b.assert_accessible("studio policy (zh-CN)");
    b.shot("studio-policy-zh");
    drop(s);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The Done-when of the studio: on the demo, an admin makes a sixth seller's policy from a
/// pasted document, writes two rules, tries it on the demo's IMASK history, publishes it, and
/// a second server on the same database decides a new case by it without a restart.
#[test]
fn an_admin_makes_a_sixth_sellers_policy_from_a_document_and_a_second_server_decides_by_it() {
    let Some(b) = Browser::start() else { return };
    let dir = std::env::temp_dir().join(format!("aftercare_studio_new_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let db = format!("sqlite://{}/demo.db", dir.display());
    let s = Server::demo(&db, dir.join("mail").to_str().unwrap());
    let base = format!("http://{}", s.addr);
    let document = std::fs::read_to_string(
        support::root().join("crates/policy/tests/fixtures/split/nordlicht-returns.md"),
    )
    .unwrap();

    sign_in(&b, &base, "admin@demo.test");
    b.goto(&format!("{base}/desk/policies"));
    b.click_and_wait("a[href='/desk/policies/new']");
    b.assert_accessible("new policy");
    b.type_into("#new-id", "nordlicht");
    b.type_into("#new-seller", "Nordlicht");
    b.script(&format!(
        "document.querySelector('#new-document').value = {};",
        serde_json::Value::from(document)
    ));
    b.click_and_wait("form.stacked button");
    assert!(
        b.url().ends_with("/desk/policies/nordlicht/draft"),
        "{}",
        b.url()
    );
    // Every clause of the document, beside the draft, none cited yet.
    let rendered = b.text(".rendered");
    assert!(
        rendered.contains("No rule cites this clause."),
        "{rendered}"
    );
    b.assert_accessible("a new policy's draft");
    b.shot("studio-new-draft");

    // Two rules under the document's returns clauses.
    let text = b.script("return document.querySelector('#source').value");
    let text = text.as_str().unwrap();
    let ids: Vec<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("id = \"").and_then(|r| r.strip_suffix('"')))
        .map(str::to_string)
        .collect();
    assert!(ids.len() > 3, "{ids:?}");
    let returns = ids.iter().find(|i| i.starts_with('2')).unwrap().clone();
    let rules = format!(
        "\n[[rule]]\nid = \"return-30-days\"\nclause = \"{returns}\"\nallow = [\"return\"]\nwhen = \"within(order.delivered, 30 days)\"\n\n[[rule]]\nid = \"no-return-activated\"\nclause = \"{returns}\"\ndeny = [\"return\"]\nwhen = \"condition.activated\"\n"
    );
    b.script(&format!(
        "document.querySelector('#source').value += {};",
        serde_json::Value::from(rules)
    ));
    b.click_and_wait("form.draft-form button[type=submit]");
    assert!(
        b.text("[role=status]").contains("The draft loads."),
        "{}",
        b.text("main")
    );
    assert!(b.text(".rendered").contains("allows Return with refund"));

    // What-if on the demo's IMASK decisions.
    b.script("document.querySelector('#history').value = 'imask';");
    b.click_and_wait("form[action='/desk/policies/nordlicht/what-if'] button");
    b.wait_for(
        "the what-if's result",
        "return document.querySelector('.summary') !== null",
    );
    assert!(
        b.text(".summary").contains("would change"),
        "{}",
        b.text(".summary")
    );
    assert!(b.text("table.whatif-remedies").contains("Free repair"));
    // Refunds granted, in yuan as the page writes money (not minor units).
    let money = b.text("table.whatif-money");
    assert!(money.contains("CNY") && money.contains('¥'), "{money}");
    b.assert_accessible("a new policy's what-if");
    b.shot("studio-new-what-if");

    // Published; a second server on the same database takes it up by itself.
    b.goto(&format!("{base}/desk/policies/nordlicht/draft"));
    b.script("document.querySelector('#effective_from').value = '2024-01-01';");
    b.click_and_wait("form.publish button[type=submit]");
    assert!(
        b.text("[role=status]").contains("Published"),
        "{}",
        b.text("main")
    );
    let second = Server::start(&db);
    let r = second.post_json(
        "/api/v1/session",
        r#"{"email": "admin@demo.test", "password": "demo-aftercare-2026"}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let h = vec![
        ("Cookie".to_string(), support::cookie_of(&r)),
        (
            "X-CSRF-Token".to_string(),
            r.json()["csrf"].as_str().unwrap().to_string(),
        ),
    ];
    let registry = r#"{
        "skus": [{"code": "NL-HP1", "name": "Nordlicht HP1", "class": "main", "seller": "Nordlicht", "policy": "nordlicht"}],
        "customers": [{"ref": "cust-nl", "kind": "consumer", "name": "Nora Licht", "email": "nora@example.org", "country": "DE"}],
        "units": [{"serial": "NL-0001", "sku": "NL-HP1", "manufactured_on": "2024-02-01"}],
        "orders": [{"order_no": "SO-NL-1", "customer": "cust-nl", "channel": "official", "distance": true,
                    "ordered_on": "2024-03-01", "shipped_on": "2024-03-02", "delivered_on": "2024-03-04",
                    "currency": "EUR", "shipping_fee_minor": 0, "paid_minor": 19900,
                    "lines": [{"sku": "NL-HP1", "serial": "NL-0001", "price_minor": 19900}]}]
    }"#;
    let r = second.send(
        "POST",
        "/api/v1/registry",
        &support::refs(&h),
        Some(registry),
    );
    assert!(r.status < 300, "{}", r.text());
    let id = support::open_case(&second, &h, "NL-0001", "SO-NL-1");
    let d = support::decide(&second, &h, id);
    assert_eq!(d["decision"]["policy"]["id"], "nordlicht", "{d}");
    drop(second);
    drop(s);
    let _ = std::fs::remove_dir_all(&dir);
}
