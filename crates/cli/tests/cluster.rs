//! Two `aftercare serve` instances on one PostgreSQL database, as a seller runs them behind a
//! load balancer: a session made on one works on the other, each due timer fires once, and
//! each webhook event is delivered once, although both instances sweep and dispatch at once.
//! Runs when `AFTERCARE_TEST_POSTGRES` names a server.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::expect_used,
    clippy::indexing_slicing
)]

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use support::{Receiver, Server, databases, refs, root, run, run_env, sign_in, staff};

const CASES: usize = 12;

#[test]
fn two_servers_on_one_database_share_sessions_and_fire_and_deliver_each_thing_once() {
    let Some(db) = databases().into_iter().find(|d| d.name == "postgres") else {
        eprintln!("AFTERCARE_TEST_POSTGRES is not set: two servers on PostgreSQL not tested");
        return;
    };
    run(
        &db.url,
        &[
            "import",
            root().join("examples/registry.json").to_str().unwrap(),
        ],
    );
    staff(&db.url, "manager@mx.test", "manager", "Unnamed brand");
    let hook = Receiver::start();
    let a = Server::start_with(&db.url, &["--webhooks-to-private"]);
    let manager = sign_in(&a, "manager@mx.test");
    let r = a.send(
        "POST",
        "/api/v1/webhooks",
        &refs(&manager),
        Some(&format!(
            r#"{{"seller": "Unnamed brand", "url": "{}", "events": ["*"]}}"#,
            hook.url
        )),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let webhook = r.json()["id"].as_i64().unwrap();

    // Cases approved in January 2024 whose devices never came: their reminders and
    // not-received deadlines are long due.
    let mut ids = Vec::new();
    for _ in 0..CASES {
        let id = run_env(
            &db.url,
            &[("AFTERCARE_NOW", "2024-01-22T08:00:00Z")],
            &[
                "case",
                "open",
                "--kind",
                "warranty_service",
                "--order",
                "SO-MX-1",
                "--serial",
                "MX1-0001",
                "--fact",
                "problem.reported=defect",
            ],
        );
        let id = id.trim().to_string();
        for action in ["submit", "approve"] {
            run_env(
                &db.url,
                &[("AFTERCARE_NOW", "2024-01-22T09:00:00Z")],
                &["case", "transition", &id, action],
            );
        }
        ids.push(id);
    }

    // The session made on A works on B.
    let sweeping = [
        "serve",
        "--bind",
        "127.0.0.1:0",
        "--webhooks-to-private",
        "--sweep-every",
        "0.2",
    ];
    let b = Server::spawn(&db.url, &sweeping);
    drop(a);
    let a = Server::spawn(&db.url, &sweeping);
    let r = b.send("GET", "/api/v1/me", &refs(&manager), None);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["email"], "manager@mx.test", "{}", r.text());

    // Both sweep: every case closes, each timer fired once.
    let start = std::time::Instant::now();
    loop {
        let r = b.send("GET", "/api/v1/cases?limit=100", &refs(&manager), None);
        let items = r.json()["items"].as_array().unwrap().clone();
        if items.iter().all(|c| c["state"] == "closed_not_received") && items.len() == CASES {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "{items:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
    for id in &ids {
        let r = a.send("GET", &format!("/api/v1/cases/{id}"), &refs(&manager), None);
        let timers = r.json()["timers"].as_array().unwrap().clone();
        let fired = timers.iter().filter(|t| t["fired_at"].is_string()).count();
        assert_eq!(fired, 2, "case {id}: {timers:?}");
        let history = r.json()["history"].as_array().unwrap().clone();
        for event in ["ship_by_reminder", "not_received"] {
            let n = history.iter().filter(|h| h["action"] == event).count();
            assert_eq!(n, 1, "case {id}: {event} recorded {n} times: {history:?}");
        }
    }

    // Every event was queued once per subscription and reached the receiver once:
    // open, submit, approve, the reminder and not-received for each case.
    let want = CASES * 5;
    hook.wait_for(want, Duration::from_secs(30));
    std::thread::sleep(Duration::from_millis(1500));
    let got = hook.got.lock().unwrap().clone();
    let mut per_event: BTreeMap<String, usize> = BTreeMap::new();
    for g in &got {
        *per_event
            .entry(g.header("aftercare-event-id").unwrap().to_string())
            .or_default() += 1;
    }
    let twice: Vec<_> = per_event.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "delivered more than once: {twice:?}");
    assert_eq!(got.len(), want, "{per_event:?}");
    let r = b.send(
        "GET",
        &format!("/api/v1/webhooks/{webhook}/deliveries?limit=500"),
        &refs(&manager),
        None,
    );
    let log = r.json();
    let log = log.as_array().unwrap();
    assert_eq!(log.len(), want);
    assert!(
        log.iter()
            .all(|d| d["status"] == "delivered" && d["attempts"] == 1),
        "{log:?}"
    );
}
