//! What the server shows to whoever asks, black-box over real HTTP on loopback: only request
//! ids of a safe form in answers and logs.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests fail on error"
)]

mod support;

use support::{Server, databases};

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
