//! Black-box helpers: the real `aftercare serve` on a random loopback port over a fresh
//! database (a SQLite file always, a PostgreSQL database when `AFTERCARE_TEST_POSTGRES` names
//! a server), and a small HTTP/1.1 client over a plain TCP stream.

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::panic,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

pub mod webdriver;

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

static NEXT: AtomicUsize = AtomicUsize::new(0);

fn unique(prefix: &str) -> String {
    format!(
        "{prefix}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    )
}

/// A database for one test, dropped at the end.
pub struct TestDb {
    pub name: &'static str,
    pub url: String,
    admin: Option<(String, String)>,
    file: Option<PathBuf>,
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(p) = &self.file {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", p.display()));
            }
        }
        if let Some((admin, name)) = &self.admin
            && let Ok(mut c) = postgres::Client::connect(admin, postgres::NoTls)
        {
            let _ = c.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
    }
}

/// SQLite always; PostgreSQL when `AFTERCARE_TEST_POSTGRES` is set.
pub fn databases() -> Vec<TestDb> {
    let path = std::env::temp_dir().join(format!("{}.db", unique("aftercare_api")));
    let mut out = vec![TestDb {
        name: "sqlite",
        url: format!("sqlite://{}", path.display()),
        admin: None,
        file: Some(path),
    }];
    if let Ok(admin) = std::env::var("AFTERCARE_TEST_POSTGRES")
        && !admin.is_empty()
    {
        let name = unique("aftercare_api");
        let mut c = postgres::Client::connect(&admin, postgres::NoTls).unwrap();
        c.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
        let (server, _) = admin.rsplit_once('/').unwrap();
        out.push(TestDb {
            name: "postgres",
            url: format!("{server}/{name}"),
            admin: Some((admin.clone(), name)),
            file: None,
        });
    }
    out
}

/// Runs the binary to completion (set-up commands such as `import`).
pub fn run(db: &str, args: &[&str]) -> String {
    run_env(db, &[], args)
}

/// [`run`] with environment variables.
pub fn run_env(db: &str, env: &[(&str, &str)], args: &[&str]) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_aftercare"))
        .args(["--db", db, "--policies"])
        .arg(root().join("policies"))
        .args(args)
        .env_remove("AFTERCARE_NOW")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "aftercare {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// `aftercare serve` on a random loopback port; killed when dropped.
pub struct Server {
    child: Child,
    pub addr: String,
    /// What it printed before saying where it serves.
    pub preamble: Vec<String>,
}

impl Server {
    pub fn start(db: &str) -> Server {
        Self::start_with(db, &[])
    }

    pub fn start_with(db: &str, extra: &[&str]) -> Server {
        let mut args = vec!["serve", "--bind", "127.0.0.1:0", "--sweep-every", "0"];
        args.extend_from_slice(extra);
        Self::spawn(db, &args)
    }

    /// `aftercare demo` on a random loopback port.
    pub fn demo(db: &str, mail: &str) -> Server {
        Self::spawn(db, &["demo", "--bind", "127.0.0.1:0", "--mail-dir", mail])
    }

    pub fn spawn(db: &str, args: &[&str]) -> Server {
        Self::spawn_env(db, args, &[])
    }

    /// `aftercare ARGS` with these environment variables, until it says it is serving.
    pub fn spawn_env(db: &str, args: &[&str], env: &[(&str, &str)]) -> Server {
        Self::spawn_logging(db, args, env, Stdio::inherit())
    }

    /// [`Server::spawn_env`] with its log (standard error) going to `log`; `AFTERCARE_LOG`
    /// is `warn` unless `env` sets it.
    pub fn spawn_logging(
        db: &str,
        args: &[&str],
        env: &[(&str, &str)],
        log: impl Into<Stdio>,
    ) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_aftercare"))
            .args(["--db", db, "--policies"])
            .arg(root().join("policies"))
            .args(args)
            .env("AFTERCARE_LOG", "warn")
            .envs(env.iter().copied())
            .env_remove("AFTERCARE_NOW")
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap();
        // The line that says where it serves (the demo prints its accounts first).
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        let mut preamble = Vec::new();
        while !line.contains("is serving") {
            if !line.is_empty() {
                preamble.push(line.trim_end().to_string());
            }
            line.clear();
            if out.read_line(&mut line).unwrap() == 0 {
                panic!("the server ended before serving");
            }
        }
        // Keep reading its output, so that it never blocks on a full pipe.
        std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
        // "Aftercare is serving http://127.0.0.1:PORT/ (database …)"
        let addr = line
            .split("http://")
            .nth(1)
            .and_then(|r| r.split('/').next())
            .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
            .to_string();
        Server {
            child,
            addr,
            preamble,
        }
    }

    /// A request with extra headers.
    pub fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> Response {
        let mut h: Vec<(&str, &str)> = headers.to_vec();
        if body.is_some() {
            h.push(("Content-Type", "application/json"));
        }
        request(&self.addr, method, path, &h, body.map(str::as_bytes))
    }

    pub fn get(&self, path: &str) -> Response {
        request(&self.addr, "GET", path, &[], None)
    }

    pub fn post_json(&self, path: &str, body: &str) -> Response {
        request(
            &self.addr,
            "POST",
            path,
            &[("Content-Type", "application/json")],
            Some(body.as_bytes()),
        )
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the process to end by itself; its exit code.
    pub fn wait(mut self, limit: Duration) -> Option<i32> {
        let start = std::time::Instant::now();
        while start.elapsed() < limit {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP response.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
}

/// Sends one request on a new connection (`Connection: close`) and reads the whole answer.
pub fn request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Response {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(b) = body {
        head.push_str(&format!("Content-Length: {}\r\n", b.len()));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).unwrap();
    if let Some(b) = body {
        s.write_all(b).unwrap();
    }
    // Read to the end of the body: by Content-Length when the peer keeps the connection
    // open (chromedriver does), else to the end of the stream.
    let mut raw = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        let n = s.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&buf[..n]);
        if let Some(split) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok());
            if length.is_some_and(|len| raw.len() >= split + 4 + len) {
                break;
            }
        }
    }
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end: {}", String::from_utf8_lossy(&raw)));
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    if chunked {
        body = dechunk(&body);
    }
    Response {
        status,
        headers,
        body,
    }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = b.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&b[..eol]).trim(), 16).unwrap_or(0);
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + size]);
        b = &b[eol + 2 + size + 2..];
    }
}

// Accounts and cases, as the tests make them.

pub const PASSWORD: &str = "violet tram seventeen";

/// The sign-in link of the first "Your sign-in link" e-mail written to `mail` (the server's
/// `--mail-dir`), waiting up to 15 seconds for it.
pub fn mailed_sign_in_link(mail: &std::path::Path) -> String {
    let start = std::time::Instant::now();
    loop {
        let found = std::fs::read_dir(mail).ok().and_then(|d| {
            d.filter_map(Result::ok)
                .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                .find(|t| t.contains("Subject: Your sign-in link"))
        });
        if let Some(text) = found {
            return text
                .split_whitespace()
                .find(|w| w.contains("/portal/sign-in?token="))
                .unwrap_or_else(|| panic!("no link in the e-mail: {text}"))
                .to_string();
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "no sign-in link mailed"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub fn staff(db: &str, email: &str, role: &str, sellers: &str) {
    run_env(
        db,
        &[("AFTERCARE_PASSWORD", PASSWORD)],
        &[
            "user",
            "add",
            "--email",
            email,
            "--name",
            email,
            "--role",
            role,
            "--sellers",
            sellers,
        ],
    );
}

pub fn cookie_of(r: &Response) -> String {
    let set = r
        .header("set-cookie")
        .unwrap_or_else(|| panic!("no cookie: {}", r.text()));
    set.split(';').next().unwrap().to_string()
}

pub fn sign_in(s: &Server, email: &str) -> Vec<(String, String)> {
    let r = s.post_json(
        "/api/v1/session",
        &format!(r#"{{"email": "{email}", "password": "{PASSWORD}"}}"#),
    );
    assert_eq!(r.status, 200, "{email}: {}", r.text());
    vec![
        ("Cookie".into(), cookie_of(&r)),
        (
            "X-CSRF-Token".into(),
            r.json()["csrf"].as_str().unwrap().to_string(),
        ),
    ]
}

/// A customer signs in the way a person does: asks for a link, reads it in the e-mail.
pub fn customer_sign_in(
    s: &Server,
    mail: &PathBuf,
    order: &str,
    email: &str,
) -> Vec<(String, String)> {
    let before = std::fs::read_dir(mail).map(|d| d.count()).unwrap_or(0);
    let r = s.post_json(
        "/api/v1/customer/sign-in-links",
        &format!(r#"{{"order_no": "{order}", "email": "{email}"}}"#),
    );
    assert_eq!(r.status, 202, "{}", r.text());
    let start = std::time::Instant::now();
    let text = loop {
        let mut files: Vec<PathBuf> = std::fs::read_dir(mail)
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        files.retain(|p| p.extension().is_some_and(|x| x == "eml"));
        files.sort();
        if files.len() > before {
            break std::fs::read_to_string(files.last().unwrap()).unwrap();
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "no e-mail arrived"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(text.contains(&format!("To: {email}")), "{text}");
    let token = text
        .split("token=")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap();
    let r = s.post_json(
        "/api/v1/customer/session",
        &format!(r#"{{"token": "{token}"}}"#),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    // The link works once.
    let again = s.post_json(
        "/api/v1/customer/session",
        &format!(r#"{{"token": "{token}"}}"#),
    );
    assert_eq!(again.status, 401, "{}", again.text());
    vec![
        ("Cookie".into(), cookie_of(&r)),
        (
            "X-CSRF-Token".into(),
            r.json()["csrf"].as_str().unwrap().to_string(),
        ),
    ]
}

pub fn open_case(s: &Server, headers: &[(String, String)], serial: &str, order: &str) -> i64 {
    let h: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let r = s.send(
        "POST",
        "/api/v1/cases",
        &h,
        Some(&format!(
            r#"{{"kind": "warranty_service", "serial": "{serial}", "order_no": "{order}", "facts": {{"problem.reported": "defect"}}}}"#
        )),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()["id"].as_i64().unwrap()
}

/// Has server `s` decide case `id` now (`POST /api/v1/cases/{id}/decide`): the decision on
/// record, as JSON.
pub fn decide(s: &Server, headers: &[(String, String)], id: i64) -> serde_json::Value {
    let r = s.send(
        "POST",
        &format!("/api/v1/cases/{id}/decide"),
        &refs(headers),
        Some("{}"),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

/// A request a [`Receiver`] got.
#[derive(Clone, Debug)]
pub struct Received {
    pub path: String,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A webhook receiver on a loopback port: records every request and answers each with the
/// next status of its script (200 once the script is used up).
pub struct Receiver {
    pub url: String,
    pub got: std::sync::Arc<std::sync::Mutex<Vec<Received>>>,
    pub script: std::sync::Arc<std::sync::Mutex<std::collections::VecDeque<u16>>>,
}

impl Receiver {
    pub fn start() -> Receiver {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let script = std::sync::Arc::new(std::sync::Mutex::new(std::collections::VecDeque::new()));
        let (g, sc) = (got.clone(), script.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let mut reader = BufReader::new(stream);
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    continue;
                }
                let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
                let mut headers = Vec::new();
                let mut length = 0usize;
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
                        break;
                    }
                    if let Some((k, v)) = h.trim_end().split_once(':') {
                        let k = k.trim().to_ascii_lowercase();
                        let v = v.trim().to_string();
                        if k == "content-length" {
                            length = v.parse().unwrap_or(0);
                        }
                        headers.push((k, v));
                    }
                }
                let mut body = vec![0u8; length];
                if reader.read_exact(&mut body).is_err() {
                    continue;
                }
                let status = sc.lock().unwrap().pop_front().unwrap_or(200);
                g.lock().unwrap().push(Received {
                    path,
                    headers,
                    body: String::from_utf8_lossy(&body).into_owned(),
                });
                let mut stream = reader.into_inner();
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
            }
        });
        Receiver { url, got, script }
    }

    /// Waits until it has got `n` requests (at most `limit`); what it got.
    pub fn wait_for(&self, n: usize, limit: Duration) -> Vec<Received> {
        let start = std::time::Instant::now();
        loop {
            let got = self.got.lock().unwrap().clone();
            if got.len() >= n || start.elapsed() > limit {
                return got;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Headers as `send` takes them.
pub fn refs(h: &[(String, String)]) -> Vec<(&str, &str)> {
    h.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}
