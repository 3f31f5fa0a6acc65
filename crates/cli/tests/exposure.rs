//! What the server shows to whoever asks, black-box over real HTTP on loopback: its metrics
//! only to a metrics token or on their own address, no response a cache may keep unless it
//! is public by design, and only request ids of a safe form in answers and logs.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests fail on error"
)]

mod support;

use support::{Server, customer_sign_in, databases, open_case, refs, root, run, sign_in, staff};

/// A request id the server may echo: letters, digits and `-`, at most 64.
fn sane_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

#[test]
fn a_request_id_is_echoed_and_logged_only_in_a_safe_form() {
    let db = &databases()[0];
    let log = std::env::temp_dir().join(format!("aftercare_ids_{}.log", std::process::id()));
    let s = Server::spawn_logging(
        &db.url,
        &["serve", "--bind", "127.0.0.1:0", "--sweep-every", "0"],
        &[("AFTERCARE_LOG", "info")],
        std::fs::File::create(&log).unwrap(),
    );
    // A sane id of the caller's is kept.
    let r = s.send("GET", "/healthz", &[("X-Request-Id", "trace-42")], None);
    assert_eq!(r.header("x-request-id"), Some("trace-42"));
    let long = "a".repeat(65);
    let hostile = [
        "\"><script>alert(1)</script>",
        "abc\"def",
        "trace 42",
        "id;drop",
        long.as_str(),
    ];
    for bad in hostile {
        for path in ["/healthz", "/api/v1/nothing-here", "/api/v1/me"] {
            let r = s.send("GET", path, &[("X-Request-Id", bad)], None);
            let id = r
                .header("x-request-id")
                .unwrap_or_else(|| panic!("{path}: no id"));
            assert!(sane_id(id), "{bad:?} → {path}: echoed {id:?}");
            assert_ne!(id, bad, "{path}");
        }
    }
    // Two ids, one of them hostile: neither is trusted.
    let r = s.send(
        "GET",
        "/healthz",
        &[("X-Request-Id", "ok-1"), ("X-Request-Id", "<script>")],
        None,
    );
    let id = r.header("x-request-id").unwrap();
    assert!(sane_id(id) && id != "ok-1", "{id:?}");
    let r = s.send(
        "GET",
        "/healthz",
        &[("X-Request-Id", "<script>"), ("X-Request-Id", "ok-1")],
        None,
    );
    let id = r.header("x-request-id").unwrap();
    assert!(sane_id(id) && id != "ok-1", "{id:?}");
    // The log names requests by their ids: never a hostile one.
    drop(s);
    let text = std::fs::read_to_string(&log).unwrap();
    let _ = std::fs::remove_file(&log);
    assert!(
        text.contains("trace-42"),
        "the log names requests by id: {text}"
    );
    for bad in hostile {
        assert!(!text.contains(bad), "the log carries {bad:?}: {text}");
    }
    assert!(!text.contains("<script>"), "{text}");
}

/// What a response may carry as `Cache-Control`: public and cacheable only for the vendored
/// assets and the public warranty look-up (no personal data in either); `no-store` for
/// everything else, errors included.
fn check_cache(method: &str, route: &str, path: &str, r: &support::Response) {
    let cc = r.header("cache-control").unwrap_or_else(|| {
        panic!(
            "{method} {path}: {} without Cache-Control: {:?}",
            r.status, r.headers
        )
    });
    let public = r.status == 200 && matches!(route, "/assets/{file}" | "/api/v1/warranty/{serial}");
    if public {
        assert!(cc.starts_with("public, max-age="), "{method} {path}: {cc}");
    } else {
        assert!(
            cc.split(',').any(|d| d.trim() == "no-store"),
            "{method} {path}: {} with Cache-Control: {cc}",
            r.status
        );
    }
}

#[test]
fn no_answer_may_be_kept_by_a_cache_unless_it_is_public_by_design() {
    let db = &databases()[0];
    let mail = std::env::temp_dir().join(format!("aftercare_cache_mail_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&mail);
    run(
        &db.url,
        &[
            "import",
            root().join("examples/registry.json").to_str().unwrap(),
        ],
    );
    staff(&db.url, "admin@all.test", "admin", "*");
    let s = Server::start_with(&db.url, &["--mail-dir", mail.to_str().unwrap()]);
    // Signing in answers with the session's secrets.
    let r = s.post_json(
        "/api/v1/session",
        &format!(
            r#"{{"email": "admin@all.test", "password": "{}"}}"#,
            support::PASSWORD
        ),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    check_cache("POST", "/api/v1/session", "/api/v1/session", &r);
    let admin = sign_in(&s, "admin@all.test");
    let case = open_case(&s, &admin, "IMA-0001", "SO-IMA-1");
    let li = customer_sign_in(&s, &mail, "SO-IMA-1", "li@example.org");
    // A new case's answer carries the customer's data.
    let r = s.send(
        "POST",
        "/api/v1/cases",
        &refs(&admin),
        Some(r#"{"kind": "warranty_service", "serial": "IMA-0001", "order_no": "SO-IMA-1", "facts": {}}"#),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    check_cache("POST", "/api/v1/cases", "/api/v1/cases", &r);
    // Every GET of the server, to each kind of caller, answered or refused.
    let (mut seen, mut answered) = (0, 0);
    for route in aftercare_web::routes() {
        if !route.methods.contains(&"GET") {
            continue;
        }
        let path = route
            .path
            .replace("{id}", &case.to_string())
            .replace("{serial}", "IMA-0001")
            .replace("{ref}", "cust-cn")
            .replace("{file}", "app.css");
        for who in [&vec![], &admin, &li] {
            let r = s.send("GET", &path, &refs(who), None);
            check_cache("GET", route.path, &path, &r);
            seen += 1;
            answered += usize::from((200..300).contains(&r.status));
        }
    }
    // Not only refusals: the pages and documents themselves.
    assert!(seen > 60 && answered > 25, "{answered} of {seen}");
    // Pages, documents and refusals the routes do not list.
    for (method, path) in [
        ("GET", "/no-such-page"),
        ("POST", "/api/v1/policies"),
        ("GET", "/assets/nothing.css"),
        ("GET", "/api/v1/warranty/NO-SUCH-SERIAL"),
    ] {
        let r = s.send(method, path, &[], None);
        assert!(r.status >= 400, "{method} {path}: {}", r.status);
        check_cache(method, path, path, &r);
    }
    let _ = std::fs::remove_dir_all(&mail);
}

/// A token's secret, as `aftercare token create` prints it (on its second line).
fn token(db: &str, email: &str, scopes: &[&str]) -> String {
    let mut args = vec!["token", "create", "--email", email, "--name", "t"];
    for s in scopes {
        args.extend(["--scope", s]);
    }
    run(db, &args).lines().nth(1).unwrap().to_string()
}

#[test]
fn metrics_are_read_with_a_metrics_token_or_on_their_own_address() {
    for db in databases() {
        run(
            &db.url,
            &[
                "import",
                root().join("examples/registry.json").to_str().unwrap(),
            ],
        );
        staff(&db.url, "admin@all.test", "admin", "*");
        staff(&db.url, "manager@imask.test", "manager", "IMASK");
        let metrics = token(&db.url, "admin@all.test", &["metrics:read"]);
        let cases = token(&db.url, "admin@all.test", &["cases:read", "audit:read"]);
        let one_seller = token(&db.url, "manager@imask.test", &["metrics:read"]);
        let s = Server::start(&db.url);
        let admin = sign_in(&s, "admin@all.test");
        let bearer = |t: &str| vec![("Authorization".to_string(), format!("Bearer {t}"))];

        // Nobody outside: the e-mail counter would tell whether an order and an address
        // match (asking for a sign-in link queues an e-mail only when they do).
        let r = s.get("/metrics");
        assert_eq!(r.status, 401, "{}: {}", db.name, r.text());
        assert!(!r.text().contains("aftercare_"), "{}", r.text());
        // Nor a person's session, a token without the scope, or one of a single seller
        // (the figures are every seller's).
        for (who, h) in [
            ("a signed-in admin", admin.clone()),
            ("a token without metrics:read", bearer(&cases)),
            ("a one-seller token", bearer(&one_seller)),
        ] {
            let r = s.send("GET", "/metrics", &refs(&h), None);
            assert_eq!(r.status, 403, "{}: {who}: {}", db.name, r.text());
            assert!(r.text().contains("metrics:read"), "{who}: {}", r.text());
            assert!(!r.text().contains("aftercare_"), "{who}: {}", r.text());
        }
        let r = s.send("GET", "/metrics", &refs(&bearer(&metrics)), None);
        assert_eq!(r.status, 200, "{}: {}", db.name, r.text());
        assert!(r.header("content-type").unwrap().starts_with("text/plain"));
        assert!(r.text().contains("aftercare_emails_unsent"), "{}", r.text());
        drop(s);

        // On an address of their own (an internal interface a scraper reaches), for
        // anyone who reaches it; the public address still asks for the token.
        let s = Server::start_with(&db.url, &["--metrics-bind", "127.0.0.1:0"]);
        let at = s
            .preamble
            .iter()
            .find_map(|l| l.split("http://").nth(1)?.strip_suffix("/metrics"))
            .unwrap_or_else(|| panic!("no metrics address in {:?}", s.preamble))
            .to_string();
        assert_ne!(at, s.addr);
        assert_eq!(s.get("/api/v1/policies/imask").status, 200);
        let r = support::request(&at, "GET", "/metrics", &[], None);
        assert_eq!(r.status, 200, "{}: {}", db.name, r.text());
        assert!(
            r.text()
                .contains(r#"route="/api/v1/policies/{id}",status="200"} 1"#),
            "{}",
            r.text()
        );
        assert_eq!(r.header("cache-control"), Some("no-store"));
        // Only the metrics there: not the API, not the pages.
        for path in ["/api/v1/policies", "/", "/healthz", "/portal"] {
            let r = support::request(&at, "GET", path, &[], None);
            assert_eq!(r.status, 404, "{path}: {}", r.text());
        }
        assert_eq!(s.get("/metrics").status, 401);
        drop(s);

        // The same from a config file.
        let config = std::env::temp_dir().join(format!(
            "aftercare_metrics_{}_{}.toml",
            std::process::id(),
            db.name
        ));
        std::fs::write(&config, "metrics-bind = \"127.0.0.1:0\"\n").unwrap();
        let s = Server::start_with(&db.url, &["--config", config.to_str().unwrap()]);
        let at = s
            .preamble
            .iter()
            .find_map(|l| l.split("http://").nth(1)?.strip_suffix("/metrics"))
            .unwrap_or_else(|| panic!("no metrics address in {:?}", s.preamble))
            .to_string();
        assert_eq!(
            support::request(&at, "GET", "/metrics", &[], None).status,
            200
        );
        assert_eq!(s.get("/metrics").status, 401);
        let _ = std::fs::remove_file(&config);
    }
}
