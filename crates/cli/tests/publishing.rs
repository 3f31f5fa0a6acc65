//! Policy versions kept in the database (issue 20, part 1): a database starts with the
//! policies folder it is first given; `aftercare policy import` publishes a new version; two
//! running servers decide new cases with it within seconds, without a restart, while a case
//! decided before keeps the version that decided it. A version that clashes with one
//! published is refused whole, naming the file and line. SQLite (two processes on one file)
//! and PostgreSQL.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::expect_used,
    clippy::indexing_slicing
)]

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use aftercare_cli::files;

use support::{Server, databases, open_case, refs, root, run, sign_in, staff};

fn aftercare(db: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_aftercare"))
        .args(["--db", db, "--policies"])
        .arg(root().join("policies"))
        .args(args)
        .env_remove("AFTERCARE_NOW")
        .output()
        .unwrap()
}

/// A folder removed when dropped.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new(what: &str) -> TempDir {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "aftercare_publishing_{what}_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// IMASK's shipped file as version 1.1.0, in force from `from`.
fn imask_1_1(from: &str) -> String {
    std::fs::read_to_string(root().join("policies/imask.toml"))
        .unwrap()
        .replacen("version = \"1.0.0\"", "version = \"1.1.0\"", 1)
        .replacen(
            "effective_from = 2024-01-01",
            &format!("effective_from = {from}"),
            1,
        )
}

/// The version of `id` a server lists, newest.
fn versions(s: &Server, id: &str) -> Vec<String> {
    let r = s.get("/api/v1/policies");
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["id"] == id)
        .map(|p| p["version"].as_str().unwrap().to_string())
        .collect()
}

/// Has server `s` decide `case` now, and the policy version its decision on record was made
/// with.
fn decide_now(s: &Server, h: &[(String, String)], case: i64) -> String {
    support::decide(s, h, case);
    decided_by(s, h, case)
}

/// The policy version the case's latest decision on record was made with.
fn decided_by(s: &Server, h: &[(String, String)], case: i64) -> String {
    let r = s.send("GET", &format!("/api/v1/cases/{case}"), &refs(h), None);
    assert_eq!(r.status, 200, "{}", r.text());
    let j = r.json();
    j["latest_decision"]["version"]
        .as_str()
        .unwrap_or_else(|| panic!("no decision version: {j}"))
        .to_string()
}

#[test]
fn a_published_version_decides_new_cases_on_every_server_without_a_restart() {
    for db in databases() {
        let name = db.name;
        run(
            &db.url,
            &[
                "import",
                root().join("examples/registry.json").to_str().unwrap(),
            ],
        );
        staff(&db.url, "manager@imask.test", "manager", "IMASK");
        let a = Server::start(&db.url);
        let b = Server::start(&db.url);
        let h = sign_in(&a, "manager@imask.test");

        // Seeded from the folder: one version of each file, published by `seed:…`.
        let listed = run(&db.url, &["policy", "versions"]);
        assert_eq!(listed.lines().count(), 7, "{name}: {listed}");
        assert!(listed.contains("seed:"), "{name}: {listed}");
        assert_eq!(versions(&b, "imask"), ["1.0.0"], "{name}");
        let before = open_case(&b, &h, "IMA-0001", "SO-IMA-1");
        assert_eq!(decide_now(&b, &h, before), "1.0.0", "{name}");

        // A new version, in force from the order's date: the servers take it up unasked.
        let dir = TempDir::new("v");
        let text = imask_1_1("2024-01-02");
        assert!(text.contains("version = \"1.1.0\""));
        std::fs::write(dir.0.as_path().join("imask.toml"), &text).unwrap();
        let out = run(
            &db.url,
            &["policy", "import", dir.0.as_path().to_str().unwrap()],
        );
        assert!(out.contains("published imask 1.1.0"), "{name}: {out}");
        let start = Instant::now();
        while versions(&a, "imask") != ["1.0.0", "1.1.0"] || versions(&b, "imask").len() != 2 {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "{name}: the servers did not take up the new version: {:?} {:?}",
                versions(&a, "imask"),
                versions(&b, "imask")
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        for s in [&a, &b] {
            let new = open_case(s, &h, "IMA-0001", "SO-IMA-1");
            assert_eq!(decide_now(s, &h, new), "1.1.0", "{name}");
        }
        // The case decided before keeps the text that decided it.
        assert_eq!(decided_by(&a, &h, before), "1.0.0", "{name}");

        // Publishing the same folder again publishes nothing.
        let again = run(
            &db.url,
            &["policy", "import", dir.0.as_path().to_str().unwrap()],
        );
        assert!(again.contains("nothing to publish"), "{name}: {again}");

        // A version with a number taken is refused whole, with the file and line, and
        // nothing of its folder is published (the law layer beside it neither).
        let clash = TempDir::new("clash");
        std::fs::write(
            clash.0.as_path().join("imask.toml"),
            text.replacen(
                "effective_from = 2024-01-02",
                "effective_from = 2025-01-01",
                1,
            ),
        )
        .unwrap();
        std::fs::create_dir(clash.0.as_path().join("law")).unwrap();
        let law = std::fs::read_to_string(root().join("policies/law/eu-consumer.toml")).unwrap();
        std::fs::write(
            clash.0.as_path().join("law/eu-consumer.toml"),
            format!("{law}\n# a later copy\n").replacen(
                "version = \"1.0.0\"",
                "version = \"1.0.1\"",
                1,
            ),
        )
        .unwrap();
        let o = aftercare(
            &db.url,
            &["policy", "import", clash.0.as_path().to_str().unwrap()],
        );
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            !o.status.success(),
            "{name}: a clashing version was published"
        );
        assert!(
            err.contains("imask.toml:") && err.contains("clashes with version 1.1.0"),
            "{name}: {err}"
        );
        let listed = run(&db.url, &["policy", "versions"]);
        assert_eq!(listed.lines().count(), 8, "{name}: {listed}");

        // The log verifies with the publications in it (service.rs counts the seed's seven).
        let verified = run(&db.url, &["audit", "verify"]);
        assert!(
            verified.starts_with("audit log intact"),
            "{name}: {verified}"
        );
        drop((a, b));
    }
}

/// Every file under `dir`, by its path below it, with its text.
fn tree(dir: &std::path::Path) -> std::collections::BTreeMap<String, String> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().display().to_string();
                out.insert(rel, std::fs::read_to_string(&p).unwrap());
            }
        }
    }
    out
}

/// `policy export` writes what the database holds as a folder `policy import` reads: each
/// policy's latest text and the scenarios kept, the ones saved since the seed among them. A
/// new database seeded from it exports the same folder again. A scenario whose name is not a
/// plain file name is refused, named, and nothing is written.
#[test]
fn what_is_exported_is_imported_back_as_it_was() {
    for db in databases() {
        let name = db.name;
        run(&db.url, &["policy", "versions"]);
        // A later IMASK and a scenario kept for it, published after the seed.
        let dir = TempDir::new("later");
        let text = imask_1_1("2024-06-01");
        std::fs::write(dir.0.join("imask.toml"), &text).unwrap();
        std::fs::create_dir_all(dir.0.join("cases/imask")).unwrap();
        let scenario = std::fs::read_to_string(
            root().join("policies/cases/imask/001-change-of-mind-full-refund.toml"),
        )
        .unwrap()
        .replacen("title = \"", "title = \"Kept since: ", 1);
        std::fs::write(dir.0.join("cases/imask/kept-since.toml"), &scenario).unwrap();
        let out = run(&db.url, &["policy", "import", dir.0.to_str().unwrap()]);
        assert!(out.contains("published imask 1.1.0"), "{name}: {out}");

        let exported = TempDir::new("exported");
        let out = run(&db.url, &["policy", "export", exported.0.to_str().unwrap()]);
        let files = tree(&exported.0);
        let seeds = files::policy_files(&root().join("policies")).unwrap().len();
        let cases = files::scenario_paths(&root().join("policies/cases"))
            .unwrap()
            .len();
        assert!(
            out.contains(&format!(
                "wrote {seeds} policies and {} scenarios",
                cases + 1
            )),
            "{name}: {out}"
        );
        assert_eq!(files.len(), seeds + cases + 1, "{name}: {:?}", files.keys());
        // The latest text of each policy, law layers in law/, and what was kept since.
        assert_eq!(files.get("imask.toml"), Some(&text), "{name}");
        let law = std::fs::read_to_string(root().join("policies/law/cn-consumer.toml")).unwrap();
        assert_eq!(files.get("law/cn-consumer.toml"), Some(&law), "{name}");
        assert_eq!(
            files.get("cases/imask/kept-since.toml"),
            Some(&scenario),
            "{name}"
        );

        // Imported into a new database, it is what this one holds.
        let again = TempDir::new("again");
        let url = format!("sqlite://{}", again.0.join("again.db").display());
        let out = run(&url, &["policy", "import", exported.0.to_str().unwrap()]);
        assert!(out.contains("published imask 1.1.0"), "{name}: {out}");
        let round = TempDir::new("round");
        run(&url, &["policy", "export", round.0.to_str().unwrap()]);
        assert_eq!(tree(&round.0), files, "{name}");

        // A scenario named as no file should be: refused, named, nothing written.
        let odd = TempDir::new("odd");
        std::fs::create_dir_all(odd.0.join("cases/imask")).unwrap();
        std::fs::write(odd.0.join("cases/imask/..hidden.toml"), &scenario).unwrap();
        run(&db.url, &["policy", "import", odd.0.to_str().unwrap()]);
        let refused = TempDir::new("refused");
        let o = aftercare(&db.url, &["policy", "export", refused.0.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{name}: exported");
        assert!(
            err.contains("scenario `..hidden` is not a plain file name"),
            "{name}: {err}"
        );
        assert!(tree(&refused.0).is_empty(), "{name}");
    }
}
