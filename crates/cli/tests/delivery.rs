//! Where the server sends things, set in a config file: e-mail to a real SMTP conversation on
//! loopback, and evidence to an S3-compatible server (moto, which `.ci/run` starts on
//! loopback and names in `AFTERCARE_TEST_S3`).

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::expect_used,
    clippy::indexing_slicing
)]

mod support;

use std::io::{BufRead, BufReader, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::{Server, databases, open_case, refs, root, run, sign_in, staff};

/// Messages a mail server took: (MAIL FROM, RCPT TO, DATA).
type Mailbox = Arc<Mutex<Vec<(String, String, String)>>>;

/// A mail server on loopback that takes every message (no TLS, no authentication), as a
/// relay on a trusted network does; what it got: (MAIL FROM, RCPT TO, DATA).
fn smtp_server() -> (u16, Mailbox) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let got = Arc::new(Mutex::new(Vec::new()));
    let g = got.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut out) = stream else { continue };
            let mut input = BufReader::new(out.try_clone().unwrap());
            let _ = out.write_all(b"220 test ESMTP\r\n");
            let (mut from, mut to) = (String::new(), String::new());
            loop {
                let mut line = String::new();
                if input.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                let upper = line.to_ascii_uppercase();
                let reply: &[u8] = if upper.starts_with("EHLO") {
                    b"250-test\r\n250 8BITMIME\r\n"
                } else if upper.starts_with("MAIL FROM:") {
                    from = line[10..].trim().to_string();
                    b"250 OK\r\n"
                } else if upper.starts_with("RCPT TO:") {
                    to = line[8..].trim().to_string();
                    b"250 OK\r\n"
                } else if upper.starts_with("DATA") {
                    let _ = out.write_all(b"354 go on\r\n");
                    let mut data = String::new();
                    loop {
                        let mut l = String::new();
                        if input.read_line(&mut l).unwrap_or(0) == 0 || l == ".\r\n" {
                            break;
                        }
                        data.push_str(&l);
                    }
                    g.lock().unwrap().push((from.clone(), to.clone(), data));
                    b"250 queued\r\n"
                } else if upper.starts_with("QUIT") {
                    let _ = out.write_all(b"221 bye\r\n");
                    break;
                } else {
                    b"250 OK\r\n"
                };
                let _ = out.write_all(reply);
            }
        }
    });
    (port, got)
}

#[test]
fn a_config_file_sends_mail_over_smtp_and_flags_win_over_it() {
    let (port, got) = smtp_server();
    let dir = std::env::temp_dir().join(format!("aftercare_delivery_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // An unknown setting is refused, naming it.
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "smtp = \"smtp://127.0.0.1:1\"\nsmpt_port = 25\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_aftercare"))
        .args(["--config", bad.to_str().unwrap(), "serve"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("`smpt_port` is not a setting"), "{err}");

    for db in databases() {
        run(
            &db.url,
            &[
                "import",
                root().join("examples/registry.json").to_str().unwrap(),
            ],
        );
        let config = dir.join(format!("{}.toml", db.name));
        // The file says port 9 for the server; the test's --bind 127.0.0.1:0 wins.
        std::fs::write(
            &config,
            format!(
                "bind = \"127.0.0.1:9\"\nsmtp = \"smtp://127.0.0.1:{port}\"\nmail-from = \"Service desk <desk@example.test>\"\n"
            ),
        )
        .unwrap();
        let s = Server::start_with(&db.url, &["--config", config.to_str().unwrap()]);
        assert!(!s.addr.ends_with(":9"), "{}", s.addr);
        let before = got.lock().unwrap().len();
        let r = s.post_json(
            "/api/v1/customer/sign-in-links",
            r#"{"order_no": "SO-IMA-1", "email": "li@example.org", "lang": "en"}"#,
        );
        assert_eq!(r.status, 202, "{}", r.text());
        let start = std::time::Instant::now();
        let (from, to, data) = loop {
            if let Some(m) = got.lock().unwrap().get(before) {
                break m.clone();
            }
            assert!(
                start.elapsed() < Duration::from_secs(15),
                "no e-mail over SMTP"
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        assert_eq!(from, "<desk@example.test>");
        assert_eq!(to, "<li@example.org>");
        assert!(data.contains("Subject: Your sign-in link"), "{data}");
        // The link in the message signs the customer in (the body is quoted-printable, as a
        // mail program reads it: soft line breaks and `=3D` for `=`).
        let data = data.replace("=\r\n", "").replace("=3D", "=");
        let token = data
            .split("token=")
            .nth(1)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .to_string();
        let r = s.post_json(
            "/api/v1/customer/session",
            &format!(r#"{{"token": "{token}"}}"#),
        );
        assert_eq!(r.status, 200, "{}: {}", db.name, r.text());
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A plain HTTP request to the S3 server (moto takes unsigned requests).
fn s3(endpoint: &str, method: &str, path: &str) -> (u16, String) {
    let addr = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let r = support::request(addr, method, path, &[], None);
    (r.status, r.text())
}

#[test]
fn evidence_goes_to_an_s3_compatible_bucket() {
    let Ok(endpoint) = std::env::var("AFTERCARE_TEST_S3") else {
        eprintln!("AFTERCARE_TEST_S3 is not set: the S3 evidence store is not tested");
        return;
    };
    for db in databases() {
        let bucket = format!("evidence-{}-{}", std::process::id(), db.name);
        let (status, text) = s3(&endpoint, "PUT", &format!("/{bucket}"));
        assert!(status < 300, "creating the bucket: {status} {text}");
        run(
            &db.url,
            &[
                "import",
                root().join("examples/registry.json").to_str().unwrap(),
            ],
        );
        staff(&db.url, "agent@imask.test", "agent", "IMASK");
        let store = format!("s3://{bucket}/photos");
        let s = Server::spawn_env(
            &db.url,
            &[
                "serve",
                "--bind",
                "127.0.0.1:0",
                "--sweep-every",
                "0",
                "--evidence-s3",
                &store,
            ],
            &[
                ("AWS_ENDPOINT", endpoint.as_str()),
                ("AWS_ALLOW_HTTP", "true"),
                ("AWS_REGION", "us-east-1"),
                ("AWS_ACCESS_KEY_ID", "test"),
                ("AWS_SECRET_ACCESS_KEY", "test"),
            ],
        );
        let agent = sign_in(&s, "agent@imask.test");
        let case = open_case(&s, &agent, "IMA-0001", "SO-IMA-1");
        let jpeg = {
            let img =
                image::RgbImage::from_fn(16, 16, |x, y| image::Rgb([x as u8 * 9, y as u8 * 9, 90]));
            let mut c = std::io::Cursor::new(Vec::new());
            img.write_to(&mut c, image::ImageFormat::Jpeg).unwrap();
            c.into_inner()
        };
        let r = support::request(
            &s.addr,
            "POST",
            &format!("/api/v1/cases/{case}/evidence?kind=product"),
            &refs(&agent),
            Some(&jpeg),
        );
        assert_eq!(r.status, 201, "{}: {}", db.name, r.text());
        let photo = r.json()["photo"]["id"].as_i64().unwrap();
        // In the bucket, under the prefix, and nowhere on the local disk.
        let (status, listing) = s3(
            &endpoint,
            "GET",
            &format!("/{bucket}?list-type=2&prefix=photos/"),
        );
        assert_eq!(status, 200, "{listing}");
        assert_eq!(listing.matches("<Key>photos/").count(), 1, "{listing}");
        // Served back from the bucket.
        let r = support::request(
            &s.addr,
            "GET",
            &format!("/api/v1/evidence/{photo}"),
            &refs(&agent),
            None,
        );
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(&r.body[..3], &[0xFF, 0xD8, 0xFF], "a JPEG");
    }
}
