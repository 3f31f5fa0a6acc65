//! Webhooks over real HTTP: a receiver on loopback gets case events signed with the
//! subscription's secret, a failed delivery is retried with the same event id, the delivery
//! log shows every attempt, a delivery can be sent again, and a server that is not told
//! otherwise refuses to post to a private address. SQLite and PostgreSQL.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::expect_used,
    clippy::indexing_slicing
)]

mod support;

use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use support::{Receiver, Server, databases, open_case, refs, root, run, sign_in, staff};

/// Checks `Aftercare-Signature: t=…,v1=…` against the secret, the way a receiver would.
fn verify(secret: &str, header: &str, body: &str) -> bool {
    let Some((t, v1)) = header
        .strip_prefix("t=")
        .and_then(|rest| rest.split_once(",v1="))
    else {
        return false;
    };
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{body}").as_bytes());
    let want: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    want == v1
}

#[test]
fn case_events_reach_a_subscribed_url_signed_retried_and_logged() {
    for db in databases() {
        run(
            &db.url,
            &[
                "import",
                root().join("examples/registry.json").to_str().unwrap(),
            ],
        );
        staff(&db.url, "manager@imask.test", "manager", "IMASK");
        staff(&db.url, "agent@imask.test", "agent", "IMASK");
        staff(&db.url, "manager@cryptki.test", "manager", "CryptKi");
        let hook = Receiver::start();
        // The first post fails: the receiver is down for a moment.
        hook.script.lock().unwrap().push_back(503);
        let s = Server::start_with(&db.url, &["--webhooks-to-private"]);
        let manager = sign_in(&s, "manager@imask.test");
        let agent = sign_in(&s, "agent@imask.test");
        let other = sign_in(&s, "manager@cryptki.test");

        let body = format!(
            r#"{{"seller": "IMASK", "url": "{}", "events": ["case.open", "case.submit"]}}"#,
            hook.url
        );
        // An agent does not manage webhooks; another seller's manager cannot subscribe to
        // IMASK's cases.
        let r = s.send("POST", "/api/v1/webhooks", &refs(&agent), Some(&body));
        assert_eq!(r.status, 403, "{}: {}", db.name, r.text());
        let r = s.send("POST", "/api/v1/webhooks", &refs(&other), Some(&body));
        assert_eq!(r.status, 422, "{}: {}", db.name, r.text());
        assert_eq!(r.json()["field"], "seller", "{}", r.text());
        for (bad, field) in [
            (
                r#"{"seller": "IMASK", "url": "ftp://x.example/", "events": ["*"]}"#,
                "url",
            ),
            (
                r#"{"seller": "IMASK", "url": "http://x.example/", "events": ["case.explode"]}"#,
                "events",
            ),
            (
                r#"{"seller": "IMASK", "url": "http://x.example/", "events": []}"#,
                "events",
            ),
        ] {
            let r = s.send("POST", "/api/v1/webhooks", &refs(&manager), Some(bad));
            assert_eq!(r.status, 422, "{bad}: {}", r.text());
            assert_eq!(r.json()["field"], field, "{bad}: {}", r.text());
        }

        let r = s.send("POST", "/api/v1/webhooks", &refs(&manager), Some(&body));
        assert_eq!(r.status, 201, "{}: {}", db.name, r.text());
        let created = r.json();
        let id = created["id"].as_i64().unwrap();
        let secret = created["secret"].as_str().unwrap().to_string();
        assert!(
            secret.starts_with("whsec_") && secret.len() > 40,
            "{secret}"
        );
        // The secret is shown once: never in the list.
        let r = s.send("GET", "/api/v1/webhooks", &refs(&manager), None);
        assert_eq!(r.status, 200);
        assert!(!r.text().contains(&secret), "{}", r.text());
        assert_eq!(r.json().as_array().unwrap().len(), 1);
        // Another seller's manager sees none of it.
        let r = s.send("GET", "/api/v1/webhooks", &refs(&other), None);
        assert_eq!(r.json().as_array().unwrap().len(), 0, "{}", r.text());
        let r = s.send(
            "GET",
            &format!("/api/v1/webhooks/{id}/deliveries"),
            &refs(&other),
            None,
        );
        assert_eq!(r.status, 404, "{}", r.text());

        // A case opened and submitted: two events.
        let case = open_case(&s, &agent, "IMA-0001", "SO-IMA-1");
        let r = s.send(
            "POST",
            &format!("/api/v1/cases/{case}/transitions"),
            &refs(&agent),
            Some(r#"{"action": "submit"}"#),
        );
        assert_eq!(r.status, 200, "{}", r.text());
        // An event the webhook does not name (`case.approve`) is not delivered: the delivery
        // log below holds the two it names.
        let r = s.send(
            "POST",
            &format!("/api/v1/cases/{case}/transitions"),
            &refs(&agent),
            Some(r#"{"action": "approve"}"#),
        );
        assert_eq!(r.status, 200, "{}", r.text());
        // Two events, one of them posted twice (503, then 200 after its back-off).
        let got = hook.wait_for(3, Duration::from_secs(30));
        assert_eq!(got.len(), 3, "{}: {got:?}", db.name);
        for g in &got {
            assert_eq!(g.path, "/hook");
            assert!(
                verify(&secret, g.header("aftercare-signature").unwrap(), &g.body),
                "{}: bad signature on {g:?}",
                db.name
            );
            assert!(!verify(
                "whsec_wrong",
                g.header("aftercare-signature").unwrap(),
                &g.body
            ));
            let j: serde_json::Value = serde_json::from_str(&g.body).unwrap();
            assert_eq!(j["data"]["case"]["id"], case);
            assert_eq!(j["data"]["case"]["seller"], "IMASK");
            assert_eq!(j["id"].as_str(), g.header("aftercare-event-id"));
            assert_eq!(j["type"].as_str(), g.header("aftercare-event"));
        }
        // Both events arrived; whichever met the 503 came again with the same event id.
        let ids: Vec<&str> = got
            .iter()
            .map(|g| g.header("aftercare-event-id").unwrap())
            .collect();
        let retried = *ids
            .iter()
            .find(|id| ids.iter().filter(|x| x == id).count() == 2)
            .unwrap_or_else(|| panic!("no event came twice: {ids:?}"));
        let mut events: Vec<&str> = got
            .iter()
            .map(|g| g.header("aftercare-event").unwrap())
            .collect();
        events.sort_unstable();
        events.dedup();
        assert_eq!(events, vec!["case.open", "case.submit"]);
        let submit = got
            .iter()
            .find(|g| g.header("aftercare-event") == Some("case.submit"))
            .unwrap();
        let j: serde_json::Value = serde_json::from_str(&submit.body).unwrap();
        assert_eq!(j["data"]["case"]["state"], "submitted");

        // The delivery log: both delivered, the retried one after two attempts.
        let r = s.send(
            "GET",
            &format!("/api/v1/webhooks/{id}/deliveries"),
            &refs(&manager),
            None,
        );
        assert_eq!(r.status, 200, "{}", r.text());
        let log = r.json();
        let log = log.as_array().unwrap();
        assert_eq!(log.len(), 2, "{log:?}");
        assert!(log.iter().all(|d| d["status"] == "delivered"), "{log:?}");
        let open = log.iter().find(|d| d["event_id"] == retried).unwrap();
        assert_eq!(open["attempts"], 2, "{open}");
        let statuses: Vec<i64> = open["log"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["status"].as_i64().unwrap())
            .collect();
        assert_eq!(statuses, vec![503, 200]);
        assert!(open["log"][0]["error"].as_str().unwrap().contains("503"));

        // Sent again on request, with the same event id.
        let delivery = open["id"].as_i64().unwrap();
        let r = s.send(
            "POST",
            &format!("/api/v1/webhook-deliveries/{delivery}/redeliver"),
            &refs(&other),
            Some("{}"),
        );
        assert_eq!(r.status, 404, "another seller's delivery: {}", r.text());
        let r = s.send(
            "POST",
            &format!("/api/v1/webhook-deliveries/{delivery}/redeliver"),
            &refs(&manager),
            Some("{}"),
        );
        assert_eq!(r.status, 202, "{}", r.text());
        let got = hook.wait_for(4, Duration::from_secs(10));
        assert_eq!(got.len(), 4, "{got:?}");
        assert_eq!(got[3].header("aftercare-event-id"), Some(retried));

        // Disabled: no more deliveries are queued.
        let r = s.send(
            "DELETE",
            &format!("/api/v1/webhooks/{id}"),
            &refs(&manager),
            None,
        );
        assert_eq!(r.status, 204, "{}", r.text());
        open_case(&s, &agent, "IMA-0001", "SO-IMA-1");
        std::thread::sleep(Duration::from_millis(1500));
        assert_eq!(hook.got.lock().unwrap().len(), 4);
        drop(s);

        // A server not told otherwise posts to public addresses only.
        let s = Server::start(&db.url);
        let manager = sign_in(&s, "manager@imask.test");
        let agent = sign_in(&s, "agent@imask.test");
        let r = s.send("POST", "/api/v1/webhooks", &refs(&manager), Some(&body));
        assert_eq!(r.status, 201, "{}", r.text());
        let id = r.json()["id"].as_i64().unwrap();
        open_case(&s, &agent, "IMA-0001", "SO-IMA-1");
        let start = std::time::Instant::now();
        let refused = loop {
            let r = s.send(
                "GET",
                &format!("/api/v1/webhooks/{id}/deliveries"),
                &refs(&manager),
                None,
            );
            let d = r.json()[0].clone();
            if d["attempts"].as_i64().unwrap_or(0) > 0 {
                break d;
            }
            assert!(start.elapsed() < Duration::from_secs(10), "{d}");
            std::thread::sleep(Duration::from_millis(100));
        };
        assert_eq!(refused["status"], "pending", "{refused}");
        assert!(
            refused["last_error"].as_str().unwrap().starts_with(PRIVATE),
            "{refused}"
        );
        assert_eq!(
            hook.got.lock().unwrap().len(),
            4,
            "nothing reached the private address"
        );
    }
}

/// What the delivery log says of a target on a private network: never the address.
const PRIVATE: &str = "the target resolves to a private address";

#[test]
fn a_target_that_is_or_embeds_a_private_address_is_refused_and_the_log_names_no_address() {
    for db in databases() {
        run(
            &db.url,
            &[
                "import",
                root().join("examples/registry.json").to_str().unwrap(),
            ],
        );
        staff(&db.url, "manager@imask.test", "manager", "IMASK");
        staff(&db.url, "agent@imask.test", "agent", "IMASK");
        let hook = Receiver::start();
        let port = hook
            .url
            .split(':')
            .nth(2)
            .unwrap()
            .split('/')
            .next()
            .unwrap();
        // Loopback, written in the forms an IPv6 stack or a resolver takes it in, and a
        // site-local address.
        let hosts = [
            "[::127.0.0.1]",
            "[::ffff:127.0.0.1]",
            "[64:ff9b::7f00:1]",
            "[2002:7f00:1::]",
            "[fec0::1]",
            "2130706433",
            "localhost",
        ];
        let s = Server::start(&db.url);
        let manager = sign_in(&s, "manager@imask.test");
        let agent = sign_in(&s, "agent@imask.test");
        let mut ids = Vec::new();
        for host in hosts {
            let r = s.send(
                "POST",
                "/api/v1/webhooks",
                &refs(&manager),
                Some(&format!(
                    r#"{{"seller": "IMASK", "url": "http://{host}:{port}/hook", "events": ["case.open"]}}"#
                )),
            );
            assert_eq!(r.status, 201, "{host}: {}", r.text());
            ids.push((host, r.json()["id"].as_i64().unwrap()));
        }
        open_case(&s, &agent, "IMA-0001", "SO-IMA-1");
        for (host, id) in ids {
            let start = std::time::Instant::now();
            let d = loop {
                let r = s.send(
                    "GET",
                    &format!("/api/v1/webhooks/{id}/deliveries"),
                    &refs(&manager),
                    None,
                );
                let d = r.json()[0].clone();
                if d["attempts"].as_i64().unwrap_or(0) > 0 {
                    break d;
                }
                assert!(start.elapsed() < Duration::from_secs(15), "{host}: {d}");
                std::thread::sleep(Duration::from_millis(100));
            };
            assert_eq!(d["status"], "pending", "{host}: {d}");
            let error = d["last_error"].as_str().unwrap();
            assert!(error.starts_with(PRIVATE), "{}: {host}: {d}", db.name);
            // The log shows the reason, never where the name led.
            let text = d.to_string();
            for shown in ["127.0.0.1", "::1", "7f00", "localhost"] {
                assert!(!text.contains(shown), "{host}: shows {shown}: {text}");
            }
        }
        assert!(
            hook.got.lock().unwrap().is_empty(),
            "nothing reached the private address"
        );
    }
}
