//! The README's "Running cases" walk-through, run as written: the shell block, line by line
//! under `bash -e`, with the built `aftercare` first on the PATH, in a scratch folder that
//! holds the checkout's `examples/` and `policies/`.

#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

mod support;

use std::process::Command;

use support::root;

/// The first ```sh block after `heading`.
fn block_after(readme: &str, heading: &str) -> String {
    let from = readme
        .find(heading)
        .unwrap_or_else(|| panic!("the README has no `{heading}`"));
    let rest = &readme[from..];
    let start = rest.find("```sh\n").unwrap() + "```sh\n".len();
    let len = rest[start..].find("```").unwrap();
    rest[start..start + len].to_string()
}

#[test]
fn the_running_cases_walk_through_works_as_written() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let script = block_after(&readme, "## Running cases");
    let dir = std::env::temp_dir().join(format!("aftercare_readme_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for d in ["examples", "policies"] {
        std::os::unix::fs::symlink(root().join(d), dir.join(d)).unwrap();
    }
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_aftercare"));
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("bash")
        .args(["-e", "-c", &script])
        .current_dir(&dir)
        .env("PATH", path)
        .env_remove("AFTERCARE_DB")
        .env_remove("AFTERCARE_NOW")
        .env_remove("AFTERCARE_POLICIES")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the walk-through stopped:\n{stdout}\n{stderr}"
    );
    // What its comments say happens.
    for said in [
        "authorisation RA-000001, ship by 2024-01-25",
        "2 timer(s) fired",
        "\"state\": \"closed_not_received\"",
        "case 2 is awaiting_payment",
        "case 2 is closed",
        "refund 1 of 100.00 USD on order SO-MX-1 recorded",
        "audit log intact",
        "stateDiagram-v2",
        "customer `cust-us` erased",
    ] {
        assert!(stdout.contains(said), "no `{said}` in:\n{stdout}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_demo_curl_walk_through_works_as_written() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let script = block_after(&readme, "postgres://…` puts the demo on PostgreSQL");
    assert!(script.contains("curl"), "{script}");
    let dir = std::env::temp_dir().join(format!("aftercare_readme_demo_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let db = format!("sqlite://{}/demo.db", dir.display());
    let mail = dir.join("aftercare-mail");
    let s = support::Server::demo(&db, mail.to_str().unwrap());
    // The demo on its test port; every answer must be a success (curl fails on 4xx and 5xx).
    let script = script
        .replace("127.0.0.1:8080", &s.addr)
        .replace("curl -s ", "curl -s --fail-with-body ");
    let out = Command::new("bash")
        .args(["-e", "-o", "pipefail", "-c", &script])
        .current_dir(&dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the curl walk-through stopped:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for said in [
        "\"serial\":\"IMA-DEMO-1\"",
        "\"state\":\"inspecting\"",
        "\"state\":\"repairing\"",
        "\"part\":\"battery\"",
        "IMASK Repair Service Quality Commitment 1",
    ] {
        assert!(stdout.contains(said), "no `{said}` in:\n{stdout}");
    }
    // The sign-in link is in the mail folder.
    let start = std::time::Instant::now();
    loop {
        let links = std::fs::read_dir(&mail)
            .map(|d| {
                d.filter_map(Result::ok)
                    .filter(|e| {
                        std::fs::read_to_string(e.path())
                            .is_ok_and(|t| t.contains("Subject: Your sign-in link"))
                    })
                    .count()
            })
            .unwrap_or(0);
        if links == 1 {
            break;
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(15),
            "no sign-in link in {}",
            mail.display()
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    drop(s);
    let _ = std::fs::remove_dir_all(&dir);
}
