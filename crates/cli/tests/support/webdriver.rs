//! A small W3C WebDriver client over the tests' own HTTP client: Debian's `chromedriver`
//! driving headless `chromium`, on loopback. Enough for the pages' end-to-end tests: go to a
//! page, find, click, type, read, run a script, take a screenshot.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The key W3C WebDriver names an element by.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

pub struct Browser {
    driver: Child,
    addr: String,
    session: String,
    profile: std::path::PathBuf,
}

/// Whether the browser tests must run (CI sets it): then a missing driver is a failure.
pub fn required() -> bool {
    std::env::var_os("AFTERCARE_REQUIRE_BROWSER").is_some()
}

impl Browser {
    /// Headless Chromium through chromedriver; `None` when they are not installed (and not
    /// required).
    pub fn start() -> Option<Browser> {
        let driver_bin = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists());
        let Some(driver_bin) = driver_bin else {
            assert!(!required(), "chromedriver is not installed");
            eprintln!("chromedriver is not installed: browser tests skipped");
            return None;
        };
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let driver = Command::new(driver_bin)
            .args([format!("--port={port}"), "--allowed-ips=127.0.0.1".into()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let addr = format!("127.0.0.1:{port}");
        let start = Instant::now();
        loop {
            let up = driver_ready(&addr);
            if up {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "chromedriver did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let profile =
            std::env::temp_dir().join(format!("aftercare_chromium_{}_{port}", std::process::id()));
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--window-size=1100,900",
                    format!("--user-data-dir={}", profile.display()),
                ]
            }
        }}});
        let r = super::request(
            &addr,
            "POST",
            "/session",
            &[("Content-Type", "application/json")],
            Some(caps.to_string().as_bytes()),
        );
        let v = r.json();
        let session = v["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no browser session: {v}"))
            .to_string();
        Some(Browser {
            driver,
            addr,
            session,
            profile,
        })
    }

    fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let body = body.map(|b| b.to_string());
        let r = super::request(
            &self.addr,
            method,
            &format!("/session/{}{path}", self.session),
            &[("Content-Type", "application/json")],
            body.as_deref().map(str::as_bytes),
        );
        let v = r.json();
        assert!(
            r.status < 300,
            "WebDriver {method} {path}: {} {}",
            r.status,
            v["value"]
        );
        v["value"].clone()
    }

    pub fn goto(&self, url: &str) {
        self.cmd("POST", "/url", Some(json!({ "url": url })));
    }

    pub fn url(&self) -> String {
        self.cmd("GET", "/url", None).as_str().unwrap().to_string()
    }

    /// The first element matching a CSS selector, waiting up to five seconds for it.
    pub fn find(&self, css: &str) -> String {
        let start = Instant::now();
        loop {
            let r = super::request(
                &self.addr,
                "POST",
                &format!("/session/{}/element", self.session),
                &[("Content-Type", "application/json")],
                Some(
                    json!({"using": "css selector", "value": css})
                        .to_string()
                        .as_bytes(),
                ),
            );
            if r.status < 300 {
                return r.json()["value"][ELEMENT].as_str().unwrap().to_string();
            }
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "no `{css}` on {}",
                self.url()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn click(&self, css: &str) {
        let e = self.find(css);
        self.cmd("POST", &format!("/element/{e}/click"), Some(json!({})));
    }

    /// Clicks something that loads a new page (a form's button, a link) and waits, up to five
    /// seconds, until the new page has loaded: the old document is marked and must be gone.
    pub fn click_and_wait(&self, css: &str) {
        self.script("window.__aftercare_old_page = true;");
        self.click(css);
        let start = Instant::now();
        loop {
            let done = self.script(
                "return !window.__aftercare_old_page && document.readyState === 'complete';",
            );
            if done == Value::Bool(true) {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "clicking `{css}` loaded no new page (still {})",
                self.url()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn type_into(&self, css: &str, text: &str) {
        let e = self.find(css);
        self.cmd("POST", &format!("/element/{e}/clear"), Some(json!({})));
        self.cmd(
            "POST",
            &format!("/element/{e}/value"),
            Some(json!({ "text": text })),
        );
    }

    /// Chooses a file in a file input, as a person picking it would.
    pub fn upload(&self, css: &str, file: &std::path::Path) {
        let e = self.find(css);
        self.cmd(
            "POST",
            &format!("/element/{e}/value"),
            Some(json!({ "text": file.display().to_string() })),
        );
    }

    /// Waits, up to five seconds, until a script returns true.
    pub fn wait_for(&self, what: &str, script: &str) {
        let start = Instant::now();
        while self.script(script) != Value::Bool(true) {
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "waited in vain for {what} on {}",
                self.url()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn text(&self, css: &str) -> String {
        let e = self.find(css);
        self.cmd("GET", &format!("/element/{e}/text"), None)
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Presses keys on the focused element (`\u{E004}` is Tab, `\u{E007}` Enter).
    pub fn keys(&self, keys: &str) {
        let actions: Vec<Value> = keys
            .chars()
            .flat_map(|c| {
                [
                    json!({"type": "keyDown", "value": c.to_string()}),
                    json!({"type": "keyUp", "value": c.to_string()}),
                ]
            })
            .collect();
        self.cmd(
            "POST",
            "/actions",
            Some(json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]})),
        );
    }

    pub fn script(&self, script: &str) -> Value {
        self.cmd(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
    }

    /// Runs an asynchronous script; it calls `arguments[arguments.length - 1]` with its result.
    pub fn script_async(&self, script: &str) -> Value {
        self.cmd("POST", "/timeouts", Some(json!({"script": 30_000})));
        self.cmd(
            "POST",
            "/execute/async",
            Some(json!({"script": script, "args": []})),
        )
    }

    /// A PNG of the whole page (up to 2,400 pixels tall), written to `path`.
    pub fn screenshot(&self, path: &std::path::Path) {
        use base64::Engine;
        let height = self
            .script("return document.documentElement.scrollHeight")
            .as_i64()
            .unwrap_or(900)
            .clamp(900, 2400);
        let width = self
            .script("return document.documentElement.clientWidth")
            .as_i64()
            .unwrap_or(1100);
        // Chromium's own capture beyond the viewport (through chromedriver's CDP bridge): the
        // window is never resized.
        let shot = self.cmd(
            "POST",
            "/goog/cdp/execute",
            Some(json!({"cmd": "Page.captureScreenshot", "params": {
                "format": "png", "captureBeyondViewport": true,
                "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}
            }})),
        );
        let b64 = shot["data"].clone();
        let png = base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().unwrap())
            .unwrap();
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::fs::write(path, png).unwrap();
    }

    /// Lays pages out as a phone 390 CSS pixels wide (Chromium's device emulation: a mobile
    /// viewport, touch), until [`Browser::desktop`].
    pub fn phone(&self) {
        self.cmd(
            "POST",
            "/goog/cdp/execute",
            Some(
                json!({"cmd": "Emulation.setDeviceMetricsOverride", "params": {
                    "width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": true
                }}),
            ),
        );
        self.cmd(
            "POST",
            "/goog/cdp/execute",
            Some(json!({"cmd": "Emulation.setTouchEmulationEnabled", "params": {"enabled": true}})),
        );
    }

    /// Back to the desktop window.
    pub fn desktop(&self) {
        self.cmd(
            "POST",
            "/goog/cdp/execute",
            Some(json!({"cmd": "Emulation.clearDeviceMetricsOverride", "params": {}})),
        );
    }

    /// Renders pages for `print` (or back to `screen`).
    pub fn media(&self, media: &str) {
        self.cmd(
            "POST",
            "/goog/cdp/execute",
            Some(json!({"cmd": "Emulation.setEmulatedMedia", "params": {"media": media}})),
        );
    }

    /// What on the page does not fit a phone: a page wider than the screen (with the elements
    /// that stick out), and controls smaller than 44 × 44 CSS pixels to tap (a checkbox or
    /// radio counts with its label; links inside running text are exempt, as WCAG's target
    /// size allows).
    pub fn phone_problems(&self) -> Vec<String> {
        let v = self.script(
            r#"const out = [];
            // A mobile viewport widens to fit what overflows it: the screen is the measure.
            const w = Math.min(document.documentElement.clientWidth, screen.width);
            if (document.documentElement.scrollWidth > w) {
              out.push('the page is ' + document.documentElement.scrollWidth + ' px wide on a ' + w + ' px screen');
              for (const e of document.querySelectorAll('body *')) {
                const r = e.getBoundingClientRect();
                if (r.right > w + 1 && r.width > 0) out.push('sticks out: <' + e.tagName.toLowerCase() + ' class="' + e.className + '"> to ' + Math.round(r.right) + ' px');
                if (out.length > 12) break;
              }
            }
            const visible = e => e.offsetParent !== null || e.tagName === 'SUMMARY';
            const label = e => (e.id && document.querySelector('label[for="' + e.id + '"]')) || e.closest('label');
            for (const e of document.querySelectorAll('button, input:not([type=hidden]), select, textarea, summary, header a, nav a, a.button-link, .actions a')) {
              if (!visible(e)) continue;
              let r = e.getBoundingClientRect();
              if (e.type === 'checkbox' || e.type === 'radio') {
                const l = label(e);
                if (l) { const lr = l.getBoundingClientRect(); r = {height: Math.max(r.height, lr.height), width: r.width + lr.width}; }
              }
              if (r.height < 44 || r.width < 44) {
                const name = (e.innerText || e.value || e.name || e.id || '').trim().slice(0, 30);
                out.push('small target: <' + e.tagName.toLowerCase() + '> "' + name + '" ' + Math.round(r.width) + ' × ' + Math.round(r.height));
              }
            }
            return out;"#,
        );
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A screenshot of the page as `target/screenshots/NAME.png` (the README shows copies).
    pub fn shot(&self, name: &str) {
        self.screenshot(
            &super::root()
                .join("target/screenshots")
                .join(format!("{name}.png")),
        );
    }

    /// Fails when axe-core finds a serious or critical problem on the page.
    pub fn assert_accessible(&self, page: &str) {
        if let Some(problems) = self.accessibility_problems() {
            assert!(problems.is_empty(), "{page}: {problems:#?}");
        }
    }

    /// axe-core's serious and critical findings on the page (`AFTERCARE_AXE` names
    /// `axe.min.js`; `.ci/run` fetches it); `None` when axe-core is not at hand.
    pub fn accessibility_problems(&self) -> Option<Vec<String>> {
        let path = std::env::var("AFTERCARE_AXE").ok();
        let Some(path) = path else {
            assert!(!required(), "AFTERCARE_AXE does not name axe.min.js");
            return None;
        };
        let axe = std::fs::read_to_string(path).unwrap();
        self.script(&format!("{axe}\n;return true;"));
        let found = self.script_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, {resultTypes: ['violations']}).then(r => done(
               r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
                 .map(v => v.id + ': ' + v.help + ' (' + v.nodes.map(n => n.target.join(' ')).join(', ') + ')')
             ));",
        );
        Some(
            found
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_string())
                .collect(),
        )
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = super::request(
            &self.addr,
            "DELETE",
            &format!("/session/{}", self.session),
            &[],
            None,
        );
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// Whether chromedriver at `addr` answers `/status` with ready: a connection refused or reset
/// while it starts (it may accept before it serves) is "not yet", not a failure. It keeps the
/// connection open after answering, so the answer is read until its body parses.
fn driver_ready(addr: &str) -> bool {
    use std::io::{Read, Write};
    let ask = || -> std::io::Result<Option<Value>> {
        let mut s = std::net::TcpStream::connect(addr)?;
        s.set_read_timeout(Some(Duration::from_secs(5)))?;
        s.write_all(
            format!("GET /status HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
        )?;
        let mut raw = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = s.read(&mut buf)?;
            if n == 0 {
                return Ok(None);
            }
            raw.extend_from_slice(&buf[..n]);
            let body = raw.windows(4).position(|w| w == b"\r\n\r\n");
            if let Some(v) = body.and_then(|at| serde_json::from_slice(&raw[at + 4..]).ok()) {
                return Ok(Some(v));
            }
        }
    };
    ask()
        .ok()
        .flatten()
        .is_some_and(|v: Value| v["value"]["ready"] == true)
}
