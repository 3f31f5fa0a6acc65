//! The JSON API, black-box: the real `aftercare serve` on a random loopback port over a fresh
//! database (SQLite, and PostgreSQL when `AFTERCARE_TEST_POSTGRES` is set), spoken to over
//! real HTTP.

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "tests fail on error"
)]

mod support;

use std::time::Duration;

use support::{Server, databases, root, run};

/// A server over a database holding `examples/registry.json`.
fn server_with_registry(db: &str) -> Server {
    run(
        db,
        &[
            "import",
            root().join("examples/registry.json").to_str().unwrap(),
        ],
    );
    Server::start(db)
}

fn is_problem(r: &support::Response, status: u16) {
    assert_eq!(r.status, status, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    let j = r.json();
    assert_eq!(j["status"], status);
    assert!(j["type"].as_str().unwrap().starts_with("https://"), "{j}");
    assert!(!j["detail"].as_str().unwrap().is_empty(), "{j}");
}

#[test]
fn health_and_readiness_answer() {
    for db in databases() {
        let s = Server::start(&db.url);
        assert_eq!(s.get("/healthz").json()["status"], "ok", "{}", db.name);
        assert_eq!(s.get("/readyz").json()["status"], "ready", "{}", db.name);
    }
}

#[test]
fn a_warranty_is_looked_up_by_serial_with_no_personal_data() {
    for db in databases() {
        let s = server_with_registry(&db.url);
        let r = s.get("/api/v1/warranty/IMK-0001");
        assert_eq!(r.status, 200, "{}: {}", db.name, r.text());
        let j = r.json();
        assert_eq!(j["serial"], "IMK-0001");
        assert_eq!(j["policy"]["id"], "imkey");
        let own = j["components"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["from"] == "imkey" && c["this_item"] == true)
            .unwrap();
        // Delivered 2024-01-05 (examples/registry.json), one year from confirmed receipt.
        assert_eq!(own["start"], "2024-01-05", "{}", db.name);
        assert_eq!(own["end"], "2025-01-05");
        assert_eq!(own["basis"], "delivery");
        assert_eq!(own["clause"], "1");
        // The buyer in China: the three-guarantees period of the law binds imKey too.
        assert!(
            j["components"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["from"] == "cn-consumer" && c["by_law"] == true),
            "{j}"
        );
        let text = r.text();
        for personal in [
            "Li Wei",
            "li@example.org",
            "SO-IMK-1",
            "cust-cn",
            // The buyer's country as a value (the clause titles' language tag `zh-CN` is not).
            "\"CN\"",
            "599",
        ] {
            assert!(!text.contains(personal), "{personal} in {text}");
        }
    }
}

#[test]
fn an_unknown_or_malformed_serial_is_a_problem_naming_it() {
    for db in databases() {
        let s = server_with_registry(&db.url);
        let r = s.get("/api/v1/warranty/NO-SUCH-1");
        is_problem(&r, 404);
        assert!(r.json()["detail"].as_str().unwrap().contains("NO-SUCH-1"));
        let long = "X".repeat(65);
        for bad in [long.as_str(), "a%20b", "%3Cscript%3E"] {
            let r = s.get(&format!("/api/v1/warranty/{bad}"));
            is_problem(&r, 422);
            assert_eq!(r.json()["field"], "serial", "{bad}");
        }
    }
}

#[test]
fn policies_are_listed_read_with_their_clauses_and_decide_given_facts() {
    for db in databases() {
        let s = Server::start(&db.url);
        let list = s.get("/api/v1/policies").json();
        let ids: Vec<&str> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_str().unwrap())
            .collect();
        for id in [
            "imkey",
            "imask",
            "imiki",
            "cryptki",
            "maintenance",
            "eu-consumer",
            "cn-consumer",
        ] {
            assert!(ids.contains(&id), "{id} missing from {ids:?}");
        }
        let imask = s.get("/api/v1/policies/imask").json();
        assert!(
            imask["clauses"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["id"] == "Warranty, replacement restrictions 2"
                    && c["text"].as_str().unwrap().contains("falling")),
            "{imask}"
        );
        assert!(
            imask["definitions"]
                .as_array()
                .unwrap()
                .iter()
                .any(|d| d["name"] == "human_damage"),
            "{imask}"
        );
        is_problem(&s.get("/api/v1/policies/nope"), 404);

        // imKey 2(2): an activated device cannot be returned for a change of mind.
        let r = s.post_json(
            "/api/v1/policies/imkey/explain",
            r#"{"facts": {"order.delivered": "2024-03-01", "product.class": "main",
                "condition.activated": true, "problem.reported": "change_of_mind",
                "diagnosis.causes": ["no_fault"]}, "now": "2024-03-05"}"#,
        );
        assert_eq!(r.status, 200, "{}", r.text());
        let j = r.json();
        let ret = j["decision"]["remedies"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["remedy"] == "return")
            .unwrap();
        assert_eq!(ret["status"], "denied", "{j}");
        assert!(j["explanation"].as_str().unwrap().contains("[imKey 2(2)]"));

        // Bad facts name the fact.
        let r = s.post_json(
            "/api/v1/policies/imkey/explain",
            r#"{"facts": {"order.delivered": "last tuesday"}}"#,
        );
        is_problem(&r, 422);
        assert_eq!(r.json()["field"], "facts.order.delivered");
        let r = s.post_json(
            "/api/v1/policies/imkey/explain",
            r#"{"facts": {"order.deliverd": "2024-03-01"}}"#,
        );
        is_problem(&r, 422);
        assert!(
            r.json()["field"].as_str().unwrap().starts_with("facts"),
            "{}",
            r.text()
        );
        let r = s.post_json(
            "/api/v1/policies/imkey/explain",
            r#"{"facts": {}, "now": "soon"}"#,
        );
        is_problem(&r, 422);
        assert_eq!(r.json()["field"], "now");
        is_problem(
            &s.post_json("/api/v1/policies/imkey/explain", "{not json"),
            400,
        );
        is_problem(
            &s.post_json("/api/v1/policies/nope/explain", r#"{"facts": {}}"#),
            404,
        );
    }
}

#[test]
fn unknown_routes_and_methods_are_problems_too() {
    let db = &databases()[0];
    let s = Server::start(&db.url);
    is_problem(&s.get("/api/v1/nothing-here"), 404);
    is_problem(&s.post_json("/api/v1/policies", "{}"), 405);
}

#[test]
fn the_openapi_document_describes_every_route() {
    let db = &databases()[0];
    let s = Server::start(&db.url);
    let doc = s.get("/api/openapi.json").json();
    assert_eq!(doc["openapi"], "3.1.0");
    for path in [
        "/healthz",
        "/readyz",
        "/api/v1/warranty/{serial}",
        "/api/v1/policies",
        "/api/v1/policies/{id}",
        "/api/v1/policies/{id}/explain",
        "/metrics",
        "/api/v1/cases",
        "/api/v1/refunds",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} not in the document");
    }
}

#[test]
fn sigterm_stops_the_server_cleanly() {
    let db = &databases()[0];
    let s = Server::start(&db.url);
    assert_eq!(s.get("/healthz").status, 200);
    let status = std::process::Command::new("kill")
        .args(["-TERM", &s.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(s.wait(Duration::from_secs(30)), Some(0));
}

#[test]
fn the_demo_loads_once_and_serves_cases_in_every_state_to_its_accounts() {
    for db in databases() {
        let mail = std::env::temp_dir().join(format!(
            "aftercare_demo_mail_{}_{}",
            std::process::id(),
            db.name
        ));
        let first = Server::demo(&db.url, mail.to_str().unwrap());
        let r = first.post_json(
            "/api/v1/session",
            r#"{"email": "admin@demo.test", "password": "demo-aftercare-2026"}"#,
        );
        assert_eq!(r.status, 200, "{}: {}", db.name, r.text());
        let cookie = r
            .header("set-cookie")
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_string();
        let list = |s: &Server| {
            s.send(
                "GET",
                "/api/v1/cases?limit=200",
                &[("Cookie", cookie.as_str())],
                None,
            )
            .json()
        };
        let cases = list(&first);
        let states: Vec<&str> = cases["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["state"].as_str().unwrap())
            .collect();
        assert_eq!(states.len(), 14, "{}: {states:?}", db.name);
        for s in [
            "draft",
            "submitted",
            "approved",
            "received",
            "awaiting_payment",
            "closed",
        ] {
            assert!(
                states.contains(&s),
                "{}: no {s} case in {states:?}",
                db.name
            );
        }
        // Every seller's staff see their seller's cases (a SKU's seller is its policy's).
        for email in [
            "agent.imask@demo.test",
            "agent.cryptki@demo.test",
            "agent.imkey@demo.test",
            "agent.imiki@demo.test",
            "tech.repair@demo.test",
        ] {
            let r = first.post_json(
                "/api/v1/session",
                &format!(r#"{{"email": "{email}", "password": "demo-aftercare-2026"}}"#),
            );
            assert_eq!(r.status, 200, "{email}: {}", r.text());
            let c = r
                .header("set-cookie")
                .unwrap()
                .split(';')
                .next()
                .unwrap()
                .to_string();
            let seen = first.send(
                "GET",
                "/api/v1/cases?limit=200",
                &[("Cookie", c.as_str())],
                None,
            );
            let n = seen.json()["items"].as_array().unwrap().len();
            assert!(n > 0, "{}: {email} sees no case", db.name);
        }
        // The public look-up of the walk-through's unit.
        assert_eq!(first.get("/api/v1/warranty/IMA-DEMO-1").status, 200);
        drop(first);
        // Run again: the same database is served as it was, nothing loaded twice.
        let second = Server::demo(&db.url, mail.to_str().unwrap());
        let again = list(&second);
        assert_eq!(again["items"].as_array().unwrap().len(), 14, "{}", db.name);
        let _ = std::fs::remove_dir_all(&mail);
    }
}

#[test]
fn a_post_with_an_idempotency_key_is_done_once_and_replayed() {
    for db in databases() {
        run(
            &db.url,
            &[
                "import",
                root().join("examples/registry.json").to_str().unwrap(),
            ],
        );
        support::run_env(
            &db.url,
            &[("AFTERCARE_PASSWORD", "violet tram seventeen")],
            &[
                "user",
                "add",
                "--email",
                "a@imask.test",
                "--name",
                "A",
                "--role",
                "agent",
                "--sellers",
                "IMASK",
            ],
        );
        let out = run(
            &db.url,
            &[
                "token",
                "create",
                "--email",
                "a@imask.test",
                "--name",
                "it",
                "--scope",
                "cases:write",
                "--scope",
                "cases:read",
            ],
        );
        let token = format!("Bearer {}", out.lines().nth(1).unwrap());
        let s = Server::start(&db.url);
        let open = |key: &str, serial: &str| {
            s.send(
                "POST",
                "/api/v1/cases",
                &[("Authorization", token.as_str()), ("Idempotency-Key", key)],
                Some(&format!(r#"{{"kind": "warranty_service", "serial": "{serial}", "order_no": "SO-IMA-1"}}"#)),
            )
        };
        let first = open("k-1", "IMA-0001");
        assert_eq!(first.status, 201, "{}: {}", db.name, first.text());
        let again = open("k-1", "IMA-0001");
        assert_eq!(again.status, 201, "{}", again.text());
        assert_eq!(again.json()["id"], first.json()["id"], "{}", db.name);
        assert_eq!(again.header("idempotent-replayed"), Some("true"));
        assert_eq!(again.header("location"), first.header("location"));
        // One case, not two.
        let list = s
            .send(
                "GET",
                "/api/v1/cases",
                &[("Authorization", token.as_str())],
                None,
            )
            .json();
        assert_eq!(
            list["items"].as_array().unwrap().len(),
            1,
            "{}: {list}",
            db.name
        );
        // The same key for another request is refused, naming the header.
        let other = open("k-1", "IMA-0002");
        assert_eq!(other.status, 422, "{}", other.text());
        assert_eq!(other.json()["field"], "Idempotency-Key");
        // A new key is a new request.
        assert_eq!(open("k-2", "IMA-0001").status, 201);
        // The key is the caller's own: another caller's key of the same name is theirs.
        let bad = s.send(
            "POST",
            "/api/v1/cases",
            &[("Idempotency-Key", "")],
            Some("{}"),
        );
        assert_eq!(bad.status, 422, "{}", bad.text());
    }
}

#[test]
fn metrics_count_requests_by_route_and_every_answer_has_a_request_id() {
    let db = &databases()[0];
    // Metrics are read with a token of their own scope (an admin's of every seller).
    support::staff(&db.url, "ops@all.test", "admin", "*");
    let out = run(
        &db.url,
        &[
            "token",
            "create",
            "--email",
            "ops@all.test",
            "--name",
            "prometheus",
            "--scope",
            "metrics:read",
        ],
    );
    let token = format!("Bearer {}", out.lines().nth(1).unwrap());
    let s = Server::start(&db.url);
    for _ in 0..3 {
        let r = s.get("/api/v1/policies/imask");
        assert!(
            r.header("x-request-id").is_some_and(|v| !v.is_empty()),
            "{:?}",
            r.headers
        );
    }
    // A caller's own request id is kept.
    let r = s.send("GET", "/healthz", &[("X-Request-Id", "trace-42")], None);
    assert_eq!(r.header("x-request-id"), Some("trace-42"));
    let m = s.send("GET", "/metrics", &[("Authorization", &token)], None);
    assert_eq!(m.status, 200, "{}", m.text());
    assert!(m.header("content-type").unwrap().starts_with("text/plain"));
    let text = m.text();
    assert!(
        text.contains(r#"aftercare_http_requests_total{method="GET",route="/api/v1/policies/{id}",status="200"} 3"#),
        "{text}"
    );
    assert!(text.contains("aftercare_timers_pending 0"), "{text}");
    // Route patterns only: never a value from a path.
    assert!(!text.contains("imask"), "{text}");
}
