//! Signing in cannot be guessed at, black-box: the real `aftercare serve` on a loopback port,
//! over SQLite and (with `AFTERCARE_TEST_POSTGRES`) PostgreSQL. The server's clock is fixed
//! with `--now`, and moved by starting it again at a later moment over the same database.
//!
//! - wrong passwords are counted (in their own transaction) and each try after the first few
//!   waits a growing delay since the last failure (429 with `Retry-After`), per account and per
//!   address; a day later the right password works again (back-off, not lock-out);
//! - concurrent tries are counted as if sent one after another;
//! - `X-Forwarded-For` is believed only from a configured proxy;
//! - sign-in links are limited per customer, and a new one ends the older unused ones;
//! - forms and API writes a browser sends from another site are refused;
//! - erasing a customer ends their sessions and links.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests fail on error"
)]

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use support::{PASSWORD, Server, customer_sign_in, databases, refs, root, run, sign_in, staff};

/// The moment the servers of these tests start at.
const T0: &str = "2026-03-02T10:00:00Z";

fn count(db: &str, sql: &str) -> i64 {
    let mut store = aftercare_store::Store::connect(db).unwrap();
    store
        .read(|tx| tx.query_one(sql, &[])?.int(0))
        .unwrap_or_else(|e: aftercare_store::StoreError| panic!("{sql}: {e}"))
}

fn password_body(email: &str, password: &str) -> String {
    format!(r#"{{"email": "{email}", "password": "{password}"}}"#)
}

fn import(db: &str) {
    run(
        db,
        &[
            "import",
            root().join("examples/registry.json").to_str().unwrap(),
        ],
    );
}

fn mail_dir(name: &str, db: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "aftercare_signin_{name}_{}_{db}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// The tokens of the sign-in links in `mail`, oldest first, once there are `n` of them.
fn link_tokens(mail: &Path, n: usize) -> Vec<String> {
    let start = Instant::now();
    loop {
        let mut files: Vec<PathBuf> = std::fs::read_dir(mail)
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        files.retain(|p| p.extension().is_some_and(|x| x == "eml"));
        files.sort();
        let tokens: Vec<String> = files
            .iter()
            .filter_map(|p| std::fs::read_to_string(p).ok())
            .filter_map(|t| {
                t.split("token=")
                    .nth(1)
                    .and_then(|r| r.split_whitespace().next())
                    .map(str::to_string)
            })
            .collect();
        if tokens.len() >= n {
            return tokens;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{} sign-in e-mails, not {n}",
            tokens.len()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn redeem(s: &Server, token: &str) -> u16 {
    s.post_json(
        "/api/v1/customer/session",
        &format!(r#"{{"token": "{token}"}}"#),
    )
    .status
}

fn retry_after(r: &support::Response) -> u64 {
    r.header("retry-after")
        .unwrap_or_else(|| panic!("no Retry-After: {:?}", r.headers))
        .parse()
        .unwrap()
}

#[test]
fn forty_wrong_passwords_hold_the_right_one_back_and_the_failures_are_kept() {
    for db in databases() {
        staff(&db.url, "ada@imask.test", "agent", "IMASK");
        let right = password_body("ada@imask.test", PASSWORD);
        let wrong = password_body("ada@imask.test", "not the password at all");
        let s = Server::start_with(&db.url, &["--now", T0]);
        let answers: Vec<support::Response> = (0..40)
            .map(|_| s.post_json("/api/v1/session", &wrong))
            .collect();
        let statuses: Vec<u16> = answers.iter().map(|r| r.status).collect();
        // The first five are checked and refused; every later try comes too soon after them.
        assert_eq!(statuses[..5], [401; 5], "{}: {statuses:?}", db.name);
        assert!(
            statuses[5..].iter().all(|s| *s == 429),
            "{}: {statuses:?}",
            db.name
        );
        assert!(answers.iter().all(|r| r.header("set-cookie").is_none()));
        // The right password, right after: not signed in.
        let r = s.post_json("/api/v1/session", &right);
        assert_eq!(r.status, 429, "{}: {}", db.name, r.text());
        assert!(r.header("set-cookie").is_none());
        assert_eq!(retry_after(&r), 1, "{}", db.name);
        // The desk's form the same, in a page.
        let r = support::request(
            &s.addr,
            "POST",
            "/desk/sign-in",
            &[("Content-Type", "application/x-www-form-urlencoded")],
            Some(b"email=ada%40imask.test&password=violet+tram+seventeen"),
        );
        assert_eq!(r.status, 429, "{}: {}", db.name, r.text());
        assert_eq!(retry_after(&r), 1, "{}", db.name);
        assert!(r.text().contains("too many tries"), "{}", r.text());
        assert!(r.header("set-cookie").is_none());
        assert!(
            count(&db.url, "SELECT COUNT(*) FROM sign_in_failures") >= 5,
            "{}: the failures were not kept",
            db.name
        );
        drop(s);

        // A second later one more try is checked, and the next must wait twice as long.
        let s = Server::start_with(&db.url, &["--now", "2026-03-02T10:00:01Z"]);
        assert_eq!(s.post_json("/api/v1/session", &wrong).status, 401);
        let r = s.post_json("/api/v1/session", &right);
        assert_eq!(r.status, 429, "{}: {}", db.name, r.text());
        assert_eq!(retry_after(&r), 2, "{}", db.name);
        drop(s);
        let s = Server::start_with(&db.url, &["--now", "2026-03-02T10:00:03Z"]);
        assert_eq!(s.post_json("/api/v1/session", &wrong).status, 401);
        assert_eq!(
            retry_after(&s.post_json("/api/v1/session", &right)),
            4,
            "{}",
            db.name
        );
        drop(s);

        // Back-off, not lock-out: later on, the right password signs in, and the account's
        // failures are forgiven.
        let s = Server::start_with(&db.url, &["--now", "2026-03-04T10:00:00Z"]);
        let r = s.post_json("/api/v1/session", &right);
        assert_eq!(r.status, 200, "{}: {}", db.name, r.text());
        for _ in 0..5 {
            assert_eq!(s.post_json("/api/v1/session", &wrong).status, 401);
        }
    }
}

#[test]
fn concurrent_wrong_passwords_are_counted_as_if_sent_one_after_another() {
    for db in databases() {
        staff(&db.url, "ada@imask.test", "agent", "IMASK");
        let s = Server::start_with(&db.url, &["--now", T0]);
        let wrong = password_body("ada@imask.test", "not the password at all");
        let statuses: Vec<u16> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..24)
                .map(|_| scope.spawn(|| s.post_json("/api/v1/session", &wrong).status))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let checked = statuses.iter().filter(|s| **s == 401).count();
        assert!(checked <= 5, "{}: {checked} checked: {statuses:?}", db.name);
        assert!(
            statuses.iter().all(|s| [401, 429, 503].contains(s)),
            "{}: {statuses:?}",
            db.name
        );
    }
}

#[test]
fn a_forwarded_address_is_believed_only_from_a_configured_proxy() {
    for db in databases() {
        // Straight from a client: its own `X-Forwarded-For` names a new address each time,
        // and counts for nothing; the twenty-first failure from this peer must wait.
        let s = Server::start_with(&db.url, &["--now", T0]);
        for i in 0..20 {
            let xff = format!("203.0.113.{i}");
            let r = s.send(
                "POST",
                "/api/v1/session",
                &[("X-Forwarded-For", xff.as_str())],
                Some(&password_body(&format!("guess{i}@imask.test"), "a guess")),
            );
            assert_eq!(r.status, 401, "{}: {}", db.name, r.text());
        }
        let r = s.send(
            "POST",
            "/api/v1/session",
            &[("X-Forwarded-For", "198.51.100.200")],
            Some(&password_body("guess-next@imask.test", "a guess")),
        );
        assert_eq!(r.status, 429, "{}: {}", db.name, r.text());
        drop(s);

        // Behind a configured proxy (here in the config file), the address it reports is the
        // client's: each client has its own count, and an address the client adds in front of
        // it is not believed.
        let config = std::env::temp_dir().join(format!(
            "aftercare_signin_proxy_{}_{}.toml",
            std::process::id(),
            db.name
        ));
        std::fs::write(&config, "trusted-proxy = [\"127.0.0.0/8\"]\n").unwrap();
        let s = Server::start_with(
            &db.url,
            &["--now", T0, "--config", config.to_str().unwrap()],
        );
        for i in 0..25 {
            let xff = format!("203.0.113.{i}");
            let r = s.send(
                "POST",
                "/api/v1/session",
                &[("X-Forwarded-For", xff.as_str())],
                Some(&password_body(&format!("more{i}@imask.test"), "a guess")),
            );
            assert_eq!(r.status, 401, "{}: {}", db.name, r.text());
        }
        for i in 0..20 {
            let r = s.send(
                "POST",
                "/api/v1/session",
                &[("X-Forwarded-For", "198.51.100.7")],
                Some(&password_body(&format!("one{i}@imask.test"), "a guess")),
            );
            assert_eq!(r.status, 401, "{}: {}", db.name, r.text());
        }
        let r = s.send(
            "POST",
            "/api/v1/session",
            &[("X-Forwarded-For", "192.0.2.1, 198.51.100.7")],
            Some(&password_body("one-more@imask.test", "a guess")),
        );
        assert_eq!(r.status, 429, "{}: {}", db.name, r.text());
        drop(s);
        let _ = std::fs::remove_file(&config);
    }
    // A range that does not read is refused, naming it.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_aftercare"))
        .args(["serve", "--trusted-proxy", "10.0.0/8"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("`10.0.0/8` is not an address range"), "{err}");
}

#[test]
fn sign_in_links_are_limited_per_customer_and_a_new_one_ends_the_older_ones() {
    for db in databases() {
        import(&db.url);
        let mail = mail_dir("links", db.name);
        let s = Server::start_with(
            &db.url,
            &["--now", T0, "--mail-dir", mail.to_str().unwrap()],
        );
        let ask = |s: &Server| {
            let r = s.post_json(
                "/api/v1/customer/sign-in-links",
                r#"{"order_no": "SO-IMA-1", "email": "li@example.org"}"#,
            );
            assert_eq!(r.status, 202, "{}", r.text());
        };
        for _ in 0..41 {
            ask(&s);
        }
        // Three links in a quarter of an hour; the others are answered alike and send nothing.
        let sent = "SELECT COUNT(*) FROM outbox_emails WHERE to_addr = 'li@example.org'";
        assert_eq!(count(&db.url, sent), 3, "{}", db.name);
        let tokens = link_tokens(&mail, 3);
        // Only the newest works.
        assert_eq!(redeem(&s, &tokens[0]), 401, "{}", db.name);
        assert_eq!(redeem(&s, &tokens[1]), 401, "{}", db.name);
        assert_eq!(redeem(&s, &tokens[2]), 200, "{}", db.name);
        drop(s);
        // A quarter of an hour later, another may be sent.
        let s = Server::start_with(
            &db.url,
            &[
                "--now",
                "2026-03-02T10:15:01Z",
                "--mail-dir",
                mail.to_str().unwrap(),
            ],
        );
        ask(&s);
        assert_eq!(count(&db.url, sent), 4, "{}", db.name);
        let _ = std::fs::remove_dir_all(&mail);
    }
}

#[test]
fn forms_and_writes_a_browser_sends_from_another_site_are_refused() {
    for db in databases() {
        import(&db.url);
        staff(&db.url, "ada@imask.test", "agent", "IMASK");
        let mail = mail_dir("csrf", db.name);
        let s = Server::start_with(&db.url, &["--mail-dir", mail.to_str().unwrap()]);
        let own = format!("http://{}", s.addr);
        let form = |path: &str, body: &str, headers: &[(&str, &str)]| {
            let mut h = vec![("Content-Type", "application/x-www-form-urlencoded")];
            h.extend_from_slice(headers);
            support::request(&s.addr, "POST", path, &h, Some(body.as_bytes()))
        };
        let desk = "email=ada%40imask.test&password=violet+tram+seventeen";
        for forged in [
            vec![("Origin", "https://evil.example")],
            vec![("Origin", "null")],
            vec![("Sec-Fetch-Site", "cross-site")],
            vec![
                ("Origin", "https://evil.example"),
                ("Sec-Fetch-Site", "cross-site"),
            ],
            vec![("Origin", "http://127.0.0.1:1")],
        ] {
            let r = form("/desk/sign-in", desk, &forged);
            assert_eq!(r.status, 403, "{}: {forged:?}: {}", db.name, r.text());
            assert!(r.header("set-cookie").is_none(), "{forged:?}");
        }
        let r = form(
            "/portal/sign-in",
            "order_no=SO-IMA-1&email=li%40example.org",
            &[("Origin", "https://evil.example")],
        );
        assert_eq!(r.status, 403, "{}", r.text());
        assert_eq!(
            count(&db.url, "SELECT COUNT(*) FROM outbox_emails"),
            0,
            "{}: a forged form sent a link",
            db.name
        );
        // The JSON API the same: a browser on another site signs no one in.
        let r = s.send(
            "POST",
            "/api/v1/session",
            &[("Origin", "https://evil.example")],
            Some(&password_body("ada@imask.test", PASSWORD)),
        );
        assert_eq!(r.status, 403, "{}", r.text());

        // The server's own pages post from its origin; other programs send no origin at all.
        for fine in [
            vec![("Origin", own.as_str()), ("Sec-Fetch-Site", "same-origin")],
            vec![("Origin", own.as_str())],
            vec![],
        ] {
            let r = form("/desk/sign-in", desk, &fine);
            assert_eq!(r.status, 303, "{}: {fine:?}: {}", db.name, r.text());
            assert!(r.header("set-cookie").is_some(), "{fine:?}");
        }
        let r = form(
            "/portal/sign-in",
            "order_no=SO-IMA-1&email=li%40example.org",
            &[("Origin", own.as_str()), ("Sec-Fetch-Site", "same-origin")],
        );
        assert_eq!(r.status, 303, "{}", r.text());
        let agent = sign_in(&s, "ada@imask.test");
        let r = s.send(
            "POST",
            "/api/v1/policies/imask/explain",
            &refs(&agent),
            Some(r#"{"facts": {}}"#),
        );
        assert_eq!(r.status, 200, "{}", r.text());
        let _ = std::fs::remove_dir_all(&mail);
    }
}

#[test]
fn erasing_a_customer_ends_their_sessions_and_their_unused_links() {
    for db in databases() {
        import(&db.url);
        staff(&db.url, "admin@all.test", "admin", "*");
        let mail = mail_dir("erase", db.name);
        let s = Server::start_with(&db.url, &["--mail-dir", mail.to_str().unwrap()]);
        let li = customer_sign_in(&s, &mail, "SO-IMA-1", "li@example.org");
        assert_eq!(s.send("GET", "/api/v1/me", &refs(&li), None).status, 200);
        // One more link, not used yet.
        let r = s.post_json(
            "/api/v1/customer/sign-in-links",
            r#"{"order_no": "SO-IMA-1", "email": "li@example.org"}"#,
        );
        assert_eq!(r.status, 202);
        let unused = link_tokens(&mail, 2)[1].clone();

        let admin = sign_in(&s, "admin@all.test");
        let r = s.send(
            "POST",
            "/api/v1/customers/cust-cn/erase",
            &refs(&admin),
            Some("{}"),
        );
        assert_eq!(r.status, 200, "{}: {}", db.name, r.text());
        let me = s.send("GET", "/api/v1/me", &refs(&li), None);
        assert_eq!(me.status, 401, "{}: {}", db.name, me.text());
        assert_eq!(redeem(&s, &unused), 401, "{}", db.name);
        let _ = std::fs::remove_dir_all(&mail);
    }
}

#[test]
fn the_openapi_document_tells_of_back_off_and_a_busy_server() {
    let db = &databases()[0];
    let s = Server::start(&db.url);
    let doc = s.get("/api/openapi.json").json();
    let answers = &doc["paths"]["/api/v1/session"]["post"]["responses"];
    for status in ["429", "503"] {
        assert!(
            answers[status]["headers"]["Retry-After"].is_object(),
            "{status}: {answers}"
        );
    }
}

#[test]
fn sign_ins_beyond_the_password_checks_queue_are_told_to_come_back() {
    let db = &databases()[0];
    let s = Server::start_with(&db.url, &["--now", T0, "--trusted-proxy", "127.0.0.1"]);
    // 200 clients at once, each its own address and account: more than the hashing threads
    // and their queue hold (sixteen per core), so some are refused at once.
    let n = 200;
    let start_line = std::sync::Barrier::new(n);
    let answers: Vec<(u16, Option<String>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..n)
            .map(|i| {
                let (s, start_line) = (&s, &start_line);
                scope.spawn(move || {
                    let xff = format!("10.0.{}.{}", i / 250, i % 250);
                    let body = password_body(&format!("burst{i}@imask.test"), "a guess");
                    start_line.wait();
                    let r = s.send(
                        "POST",
                        "/api/v1/session",
                        &[("X-Forwarded-For", xff.as_str())],
                        Some(&body),
                    );
                    (r.status, r.header("retry-after").map(str::to_string))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let busy: Vec<_> = answers.iter().filter(|(s, _)| *s == 503).collect();
    assert!(!busy.is_empty(), "{answers:?}");
    assert!(
        busy.iter().all(|(_, wait)| wait.as_deref() == Some("1")),
        "{busy:?}"
    );
    assert!(
        answers.iter().all(|(s, _)| [401, 503].contains(s)),
        "{answers:?}"
    );
    // The refused were not counted as failures: only the checked tries left rows (one for the
    // account, one for the address).
    assert_eq!(
        count(
            &db.url,
            "SELECT COUNT(*) FROM sign_in_failures WHERE attempt IS NOT NULL"
        ),
        2 * answers.iter().filter(|(s, _)| *s == 401).count() as i64
    );
}
