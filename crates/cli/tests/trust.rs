//! Trust boundaries over real HTTP (issue 17, sections 1 and 2): a decision rests only on facts
//! their source may state, and every order, serial, customer, case and refund key named inside a
//! request resolves within what the caller may reach. Each test is an attack that worked before
//! its fix.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests fail on error"
)]

mod support;

use support::{
    Response, Server, TestDb, customer_sign_in, databases, open_case, refs, root, run, sign_in,
    staff,
};

/// A server over the example registry with a mail folder, and its staff.
struct World {
    s: Server,
    mail: std::path::PathBuf,
    _db: TestDb,
}

fn world(db: TestDb, name: &str) -> World {
    world_with(db, name, &[])
}

/// [`world`] with more arguments for `serve` (`--now`).
fn world_with(db: TestDb, name: &str, serve: &[&str]) -> World {
    let mail = std::env::temp_dir().join(format!(
        "aftercare_trust_{name}_{}_{}",
        std::process::id(),
        db.name
    ));
    let _ = std::fs::remove_dir_all(&mail);
    run(
        &db.url,
        &[
            "import",
            root().join("examples/registry.json").to_str().unwrap(),
        ],
    );
    staff(&db.url, "agent@imask.test", "agent", "IMASK");
    staff(&db.url, "manager@imask.test", "manager", "IMASK");
    staff(&db.url, "agent@cryptki.test", "agent", "CryptKi");
    staff(&db.url, "admin@all.test", "admin", "*");
    let mut args = vec!["--mail-dir", mail.to_str().unwrap()];
    args.extend_from_slice(serve);
    let s = Server::start_with(&db.url, &args);
    World { s, mail, _db: db }
}

impl Drop for World {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.mail);
    }
}

fn post(s: &Server, who: &[(String, String)], path: &str, body: &str) -> Response {
    s.send("POST", path, &refs(who), Some(body))
}

fn refused(r: &Response, status: u16, field: &str) {
    assert_eq!(r.status, status, "{}", r.text());
    assert_eq!(r.json()["field"], field, "{}", r.text());
}

#[test]
fn a_customer_cannot_state_what_the_records_or_the_service_know() {
    for db in databases() {
        let w = world(db, "forged");
        let li = customer_sign_in(&w.s, &w.mail, "SO-IMA-1", "li@example.org");
        // The attack of the issue: a late return made timely, dearer and European.
        for (fact, value) in [
            ("order.delivered", r#""2026-12-01""#),
            ("order.price", r#""9999.00 CNY""#),
            ("buyer.country", r#""DE""#),
            ("evidence.photos", r#"["outer_box", "inner_box", "labels"]"#),
            ("evidence.description", "true"),
            ("return.received", r#""2026-12-01T00:00:00Z""#),
            ("diagnosis.causes", r#"["manufacturing"]"#),
            ("history.failed_repairs", "2"),
        ] {
            let r = post(
                &w.s,
                &li,
                "/api/v1/cases",
                &format!(
                    r#"{{"kind": "return", "order_no": "SO-IMA-1", "serial": "IMA-0001",
                         "facts": {{"problem.reported": "change_of_mind", "{fact}": {value}}}}}"#
                ),
            );
            refused(&r, 422, &format!("facts.{fact}"));
        }
        // What the customer knows is theirs to say.
        let r = post(
            &w.s,
            &li,
            "/api/v1/cases",
            r#"{"kind": "return", "order_no": "SO-IMA-1", "serial": "IMA-0001",
                "facts": {"problem.reported": "change_of_mind", "condition.activated": false}}"#,
        );
        assert_eq!(r.status, 201, "{}", r.text());
        let case = r.json()["id"].as_i64().unwrap();
        // Nor in a move.
        let r = post(
            &w.s,
            &li,
            &format!("/api/v1/cases/{case}/transitions"),
            r#"{"action": "submit", "facts": {"order.delivered": "2026-12-01"}}"#,
        );
        refused(&r, 422, "facts.order.delivered");
        let r = post(
            &w.s,
            &li,
            &format!("/api/v1/cases/{case}/transitions"),
            r#"{"action": "submit"}"#,
        );
        assert_eq!(r.status, 200, "{}", r.text());
        // An agent records what the customer said otherwise; the customer cannot undo it.
        let agent = sign_in(&w.s, "agent@imask.test");
        let r = post(
            &w.s,
            &agent,
            &format!("/api/v1/cases/{case}/transitions"),
            r#"{"action": "request_info", "facts": {"condition.activated": true}, "note": "It was set up."}"#,
        );
        assert_eq!(r.status, 200, "{}", r.text());
        let r = post(
            &w.s,
            &li,
            &format!("/api/v1/cases/{case}/transitions"),
            r#"{"action": "provide_info", "facts": {"condition.activated": false}}"#,
        );
        refused(&r, 422, "facts.condition.activated");
        // An agent may not state what inspection finds; nobody states the service's facts.
        let r = post(
            &w.s,
            &agent,
            &format!("/api/v1/cases/{case}/transitions"),
            r#"{"action": "provide_info", "facts": {"diagnosis.causes": ["manufacturing"]}}"#,
        );
        refused(&r, 422, "facts.diagnosis.causes");
        let admin = sign_in(&w.s, "admin@all.test");
        let r = post(
            &w.s,
            &admin,
            &format!("/api/v1/cases/{case}/transitions"),
            r#"{"action": "provide_info", "facts": {"claim.date": "2024-01-06"}}"#,
        );
        refused(&r, 422, "facts.claim.date");
    }
}

#[test]
fn a_delivery_damage_claim_without_its_photos_is_held_at_submit_and_approve() {
    for db in databases() {
        // Three days after SO-CRK-1's delivery: the claim is in time, so it can still be had and
        // the photos it waits for are asked for.
        let w = world_with(db, "photos", &["--now", "2024-01-08T10:00:00Z"]);
        let erika = customer_sign_in(&w.s, &w.mail, "SO-CRK-1", "erika@example.org");
        // Before: leaving `evidence.photos` out made CryptKi 5.1's hold unknown, and the claim
        // went through with no photo at all.
        let r = post(
            &w.s,
            &erika,
            "/api/v1/cases",
            r#"{"kind": "delivery_damage", "order_no": "SO-CRK-1", "serial": "CRK-0001",
                "facts": {"problem.reported": "delivery_damage"}}"#,
        );
        assert_eq!(r.status, 201, "{}", r.text());
        let case = r.json()["id"].as_i64().unwrap();
        let missing = |who: &[(String, String)]| {
            w.s.send("GET", &format!("/api/v1/cases/{case}"), &refs(who), None)
                .json()["latest_decision"]["decision"]["missing"]
                .to_string()
        };

        let submit = post(
            &w.s,
            &erika,
            &format!("/api/v1/cases/{case}/transitions"),
            r#"{"action": "submit"}"#,
        );
        assert_eq!(submit.status, 409, "{}", submit.text());
        assert!(
            submit.json()["detail"].as_str().unwrap().contains("5.1"),
            "{}",
            submit.text()
        );
        // Staff cannot approve it either (a draft moves to submitted first: an admin
        // submits for the customer and is held the same way).
        let admin = sign_in(&w.s, "admin@all.test");
        for action in ["submit", "approve"] {
            let r = post(
                &w.s,
                &admin,
                &format!("/api/v1/cases/{case}/transitions"),
                &format!(r#"{{"action": "{action}"}}"#),
            );
            assert!(r.status == 409, "{action}: {}", r.text());
        }
        // The four photos, uploaded: the hold lifts.
        let png = {
            let img =
                image::RgbImage::from_fn(16, 16, |x, y| image::Rgb([x as u8 * 9, y as u8 * 9, 40]));
            let mut c = std::io::Cursor::new(Vec::new());
            img.write_to(&mut c, image::ImageFormat::Png).unwrap();
            c.into_inner()
        };
        let mut still_missing = String::new();
        for kind in ["outer_box", "inner_box", "labels", "packaging_damage"] {
            let r = support::request(
                &w.s.addr,
                "POST",
                &format!("/api/v1/cases/{case}/evidence?kind={kind}"),
                &refs(&erika),
                Some(&png),
            );
            assert_eq!(r.status, 201, "{kind}: {}", r.text());
            still_missing = r.json()["still_missing"].to_string();
        }
        assert!(
            still_missing.contains("description of the issue"),
            "{still_missing}"
        );
        // Sent with the customer's own words: the description the policy asks for is given.
        let submit = post(
            &w.s,
            &erika,
            &format!("/api/v1/cases/{case}/transitions"),
            r#"{"action": "submit", "description": "The box arrived crushed at one corner."}"#,
        );
        assert_eq!(submit.status, 200, "{}", submit.text());
        assert!(
            !missing(&erika).contains("description of the issue"),
            "{}",
            missing(&erika)
        );
    }
}

#[test]
fn staff_correct_the_records_for_a_case_as_an_act_of_its_own() {
    for db in databases() {
        let w = world(db, "correct");
        let agent = sign_in(&w.s, "agent@imask.test");
        let manager = sign_in(&w.s, "manager@imask.test");
        let case = open_case(&w.s, &agent, "IMA-0001", "SO-IMA-1");
        let path = format!("/api/v1/cases/{case}/corrections");
        let body = r#"{"facts": {"order.delivered": "2024-01-09"}, "reason": "The carrier scanned it four days late."}"#;
        // Agents do not correct the records; a correction names only facts of the records.
        let r = post(&w.s, &agent, &path, body);
        assert_eq!(r.status, 403, "{}", r.text());
        refused(
            &post(
                &w.s,
                &manager,
                &path,
                r#"{"facts": {"diagnosis.causes": ["drop"]}, "reason": "no"}"#,
            ),
            422,
            "facts.diagnosis.causes",
        );
        refused(
            &post(
                &w.s,
                &manager,
                &path,
                r#"{"facts": {"order.delivered": "2024-01-09"}, "reason": " "}"#,
            ),
            422,
            "reason",
        );
        let r = post(&w.s, &manager, &path, body);
        assert_eq!(r.status, 200, "{}", r.text());
        let shown =
            w.s.send(
                "GET",
                &format!("/api/v1/cases/{case}"),
                &refs(&manager),
                None,
            )
            .json();
        let correction = shown["history"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["action"] == "correct")
            .unwrap_or_else(|| panic!("no correction in the history: {shown}"));
        let text = correction.to_string();
        assert!(
            text.contains("2024-01-05") && text.contains("2024-01-09"),
            "{text}"
        );
        assert!(text.contains("four days late"), "{text}");
        assert_eq!(shown["facts"]["order.delivered"], "2024-01-09");
    }
}

#[test]
fn references_inside_a_request_resolve_within_the_callers_sellers() {
    for db in databases() {
        let w = world(db, "refs");
        let manager = sign_in(&w.s, "manager@imask.test");
        // An IMASK manager names IMASK's policy over CryptKi's order, unit and customer: each
        // answers as an unknown one does.
        let attempt = |order: &str, serial: &str, customer: &str| {
            post(
                &w.s,
                &manager,
                "/api/v1/cases",
                &format!(
                    r#"{{"kind": "return", "policy": "imask", "order_no": "{order}", "serial": "{serial}",
                         "customer": "{customer}", "facts": {{"problem.reported": "defect"}}}}"#
                ),
            )
        };
        let foreign_order = attempt("SO-CRK-1", "IMA-0001", "cust-cn");
        let unknown_order = attempt("SO-NONE", "IMA-0001", "cust-cn");
        refused(&foreign_order, 422, "order");
        assert_eq!(
            foreign_order.json()["detail"]
                .as_str()
                .unwrap()
                .replace("SO-CRK-1", "?"),
            unknown_order.json()["detail"]
                .as_str()
                .unwrap()
                .replace("SO-NONE", "?")
        );
        refused(&attempt("SO-IMA-1", "CRK-0001", "cust-cn"), 422, "serial");
        refused(&attempt("SO-IMA-1", "IMA-0001", "cust-de"), 422, "customer");
        // An admin of every seller cannot decide CryptKi's sale by IMASK's rules.
        let admin = sign_in(&w.s, "admin@all.test");
        let r = post(
            &w.s,
            &admin,
            "/api/v1/cases",
            r#"{"kind": "return", "policy": "imask", "order_no": "SO-CRK-1", "serial": "CRK-0001",
                "facts": {"problem.reported": "defect"}}"#,
        );
        refused(&r, 422, "policy");
        // A customer names a unit of another order (their own other order's, here).
        let li = customer_sign_in(&w.s, &w.mail, "SO-IMA-1", "li@example.org");
        let r = post(
            &w.s,
            &li,
            "/api/v1/cases",
            r#"{"kind": "warranty_service", "order_no": "SO-IMA-1", "serial": "IMK-0001",
                "facts": {"problem.reported": "defect"}}"#,
        );
        refused(&r, 422, "serial");

        // The customer export shows a one-seller manager that seller's records only: Li Wei
        // bought from imKey and IMASK.
        let export =
            w.s.send("GET", "/api/v1/customers/cust-cn", &refs(&manager), None);
        assert_eq!(export.status, 200, "{}", export.text());
        let orders: Vec<String> = export.json()["orders"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["order_no"].as_str().unwrap().to_string())
            .collect();
        let text = export.text();
        assert!(text.contains("SO-IMA-1"), "{text}");
        assert!(
            !text.contains("SO-IMK-1") && !text.contains("IMK-0001"),
            "{orders:?}"
        );

        // Refund keys: one a CryptKi refund took is free on an IMASK order, and says nothing
        // of the other; a case's own key cannot be taken from it.
        let imask_case = open_case(&w.s, &manager, "IMA-0001", "SO-IMA-1");
        let cryptki_agent = sign_in(&w.s, "agent@cryptki.test");
        let cryptki_case = open_case(&w.s, &cryptki_agent, "CRK-0001", "SO-CRK-1");
        let r = post(
            &w.s,
            &admin,
            "/api/v1/refunds",
            r#"{"order_no": "SO-CRK-1", "amount": "149.00 EUR", "key": "shared-key"}"#,
        );
        assert_eq!(r.status, 201, "{}", r.text());
        let r = post(
            &w.s,
            &manager,
            "/api/v1/refunds",
            r#"{"order_no": "SO-IMA-1", "amount": "1.00 CNY", "key": "shared-key"}"#,
        );
        assert_eq!(r.status, 201, "{}", r.text());
        assert!(
            !r.text().contains("SO-CRK-1") && !r.text().contains("149"),
            "{}",
            r.text()
        );
        let r = post(
            &w.s,
            &manager,
            "/api/v1/refunds",
            &format!(
                r#"{{"order_no": "SO-IMA-1", "amount": "1.00 CNY", "key": "case-{imask_case}-refund"}}"#
            ),
        );
        assert_eq!(r.status, 201, "{}", r.text());
        // A refund linked to another seller's case, or to no case at all, is refused (not a
        // 500, and not a payment marked on CryptKi's case).
        for (case, why) in [(cryptki_case, "foreign"), (999_999, "unknown")] {
            let r = post(
                &w.s,
                &manager,
                "/api/v1/refunds",
                &format!(
                    r#"{{"order_no": "SO-IMA-1", "amount": "1.00 CNY", "key": "k-{why}", "case_id": {case}}}"#
                ),
            );
            refused(&r, 422, "case_id");
        }
    }
}

#[test]
fn an_authorisation_number_names_one_case() {
    for db in databases() {
        let w = world(db, "ra");
        let agent = sign_in(&w.s, "agent@imask.test");
        let first = open_case(&w.s, &agent, "IMA-0001", "SO-IMA-1");
        let second = open_case(&w.s, &agent, "IMA-0001", "SO-IMA-1");
        let approve = |case: i64, ra: &str| {
            let r = post(
                &w.s,
                &agent,
                &format!("/api/v1/cases/{case}/transitions"),
                r#"{"action": "submit"}"#,
            );
            assert_eq!(r.status, 200, "{}", r.text());
            post(
                &w.s,
                &agent,
                &format!("/api/v1/cases/{case}/transitions"),
                &format!(r#"{{"action": "approve", "authorisation": "{ra}"}}"#),
            )
        };
        let r = approve(first, "RA-2024-17");
        assert_eq!(r.status, 200, "{}", r.text());
        refused(&approve(second, "RA-2024-17"), 422, "authorisation");
        refused(
            &post(
                &w.s,
                &agent,
                &format!("/api/v1/cases/{second}/transitions"),
                r#"{"action": "approve", "authorisation": "<b>RA</b>"}"#,
            ),
            422,
            "authorisation",
        );
    }
}

fn png(w: u32, h: u32) -> Vec<u8> {
    let img = image::GrayImage::from_pixel(w, h, image::Luma([0]));
    let mut c = std::io::Cursor::new(Vec::new());
    img.write_to(&mut c, image::ImageFormat::Png).unwrap();
    c.into_inner()
}

#[test]
fn uploads_cannot_make_the_server_decode_without_end() {
    let db = databases().into_iter().next().unwrap();
    let w = world(db, "uploads");
    let agent = sign_in(&w.s, "agent@imask.test");
    let case = open_case(&w.s, &agent, "IMA-0001", "SO-IMA-1");
    let upload = |bytes: &[u8]| {
        support::request(
            &w.s.addr,
            "POST",
            &format!("/api/v1/cases/{case}/evidence?kind=product"),
            &refs(&agent),
            Some(bytes),
        )
    };
    // 6000×6000 pixels of nothing in a couple of hundred kilobytes: refused from its header.
    let bomb = png(6000, 6000);
    assert!(bomb.len() < 250_000, "{}", bomb.len());
    let r = upload(&bomb);
    refused(&r, 422, "file");
    assert!(
        r.json()["detail"]
            .as_str()
            .unwrap()
            .contains("too many pixels"),
        "{}",
        r.text()
    );
    // A case takes a bounded number of photos.
    let small = png(40, 30);
    for i in 0..40 {
        let r = upload(&small);
        assert_eq!(r.status, 201, "photo {i}: {}", r.text());
    }
    let r = upload(&small);
    refused(&r, 422, "file");
    assert!(
        r.json()["detail"].as_str().unwrap().contains("40 photos"),
        "{}",
        r.text()
    );
}

#[test]
fn an_idempotency_key_is_kept_for_a_signed_in_caller_and_a_whole_request() {
    let db = databases().into_iter().next().unwrap();
    let w = world(db, "idem");
    // An anonymous request with a key is not kept: the same again is answered afresh.
    let ask = || {
        w.s.send(
            "POST",
            "/api/v1/customer/sign-in-links",
            &[("Idempotency-Key", "anon-1")],
            Some(r#"{"order_no": "SO-IMA-1", "email": "nobody@example.org"}"#),
        )
    };
    assert_eq!(ask().status, 202);
    let again = ask();
    assert_eq!(again.status, 202, "{}", again.text());
    assert_eq!(again.header("idempotent-replayed"), None);
    // The query is part of the request: the same key with another `kind` is another request.
    let agent = sign_in(&w.s, "agent@imask.test");
    let case = open_case(&w.s, &agent, "IMA-0001", "SO-IMA-1");
    let mut h = refs(&agent);
    h.push(("Idempotency-Key", "photo-1"));
    let photo = png(40, 30);
    let send = |kind: &str| {
        support::request(
            &w.s.addr,
            "POST",
            &format!("/api/v1/cases/{case}/evidence?kind={kind}"),
            &h,
            Some(&photo),
        )
    };
    let first = send("product");
    assert_eq!(first.status, 201, "{}", first.text());
    assert_eq!(send("product").header("idempotent-replayed"), Some("true"));
    let other = send("labels");
    refused(&other, 422, "Idempotency-Key");
}

#[test]
fn a_customer_reads_their_case_over_the_api_as_the_portal_shows_it() {
    for db in databases() {
        let w = world(db, "view");
        let li = customer_sign_in(&w.s, &w.mail, "SO-IMA-1", "li@example.org");
        let r = post(
            &w.s,
            &li,
            "/api/v1/cases",
            r#"{"kind": "warranty_service", "order_no": "SO-IMA-1", "serial": "IMA-0001",
                "facts": {"problem.reported": "defect"}}"#,
        );
        assert_eq!(r.status, 201, "{}", r.text());
        let case = r.json()["id"].as_i64().unwrap();
        post(
            &w.s,
            &li,
            &format!("/api/v1/cases/{case}/transitions"),
            r#"{"action": "submit"}"#,
        );
        let agent = sign_in(&w.s, "agent@imask.test");
        let moves = format!("/api/v1/cases/{case}/transitions");
        let r = post(
            &w.s,
            &agent,
            &moves,
            r#"{"action": "request_info", "note": "Please send a photo of the serial label."}"#,
        );
        assert_eq!(r.status, 200, "{}", r.text());
        let r = post(
            &w.s,
            &li,
            &moves,
            r#"{"action": "provide_info", "facts": {"problem.discovered": "2024-01-06"}}"#,
        );
        assert_eq!(r.status, 200, "{}", r.text());
        let r = post(
            &w.s,
            &agent,
            &moves,
            r#"{"action": "approve", "note": "INTERNAL: customer rang twice, be careful", "facts": {"abuse.return_pattern": true}}"#,
        );
        assert_eq!(r.status, 200, "{}", r.text());
        let seen =
            w.s.send("GET", &format!("/api/v1/cases/{case}"), &refs(&li), None);
        assert_eq!(seen.status, 200, "{}", seen.text());
        let text = seen.text();
        for hidden in [
            "agent@imask.test",
            "INTERNAL",
            "abuse.return_pattern",
            "\"actor\"",
            "\"before\"",
            "\"timers\"",
            "\"decide\"",
        ] {
            assert!(!text.contains(hidden), "{hidden} in {text}");
        }
        let j = seen.json();
        let asked = j["history"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["action"] == "request_info")
            .unwrap_or_else(|| panic!("{j}"));
        assert_eq!(asked["message"], "Please send a photo of the serial label.");
        // Staff see all of it.
        let staff_view =
            w.s.send("GET", &format!("/api/v1/cases/{case}"), &refs(&agent), None)
                .text();
        assert!(staff_view.contains("INTERNAL") && staff_view.contains("agent@imask.test"));
    }
}
