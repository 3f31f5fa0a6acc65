//! Every scenario's explanation, as a customer or staff member reads it, kept as a snapshot
//! (insta): a change in any reason, citation or wording of any seed's decisions shows up in
//! review as a diff of `tests/snapshots/`. After a deliberate change, `cargo insta review`
//! (or `INSTA_UPDATE=always cargo test -p aftercare-policy --test explanations`) accepts it.

#![allow(clippy::unwrap_used, reason = "test helpers fail the test on error")]

use std::path::{Path, PathBuf};

use aftercare_policy::corpus::Scenario;
use aftercare_policy::explain::ExplainOptions;
use aftercare_policy::{PolicySet, SourceFile, decide};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies")
}

fn toml_files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    out.sort();
    out
}

#[test]
fn every_scenario_explains_itself_as_it_did_when_last_reviewed() {
    let sources: Vec<SourceFile> = [root(), root().join("law")]
        .iter()
        .flat_map(|d| toml_files(d))
        .map(|p| SourceFile {
            // Relative names, so that snapshots do not depend on where the checkout is.
            name: p.strip_prefix(root()).unwrap().display().to_string(),
            text: std::fs::read_to_string(&p).unwrap(),
        })
        .collect();
    let set = PolicySet::from_sources(&sources).unwrap();
    let mut seen = 0;
    for dir in std::fs::read_dir(root().join("cases")).unwrap() {
        let dir = dir.unwrap().path();
        for file in toml_files(&dir) {
            let text = std::fs::read_to_string(&file).unwrap();
            let s = Scenario::parse(&file.display().to_string(), &text).unwrap();
            let policy = set.get(&s.policy).unwrap();
            let d = decide(policy, &s.facts, s.now_in(policy).unwrap());
            let explained = d.explain(
                &s.facts,
                ExplainOptions {
                    all: false,
                    meanings: true,
                },
            );
            let name = format!(
                "{}__{}",
                dir.file_name().unwrap().to_string_lossy(),
                file.file_stem().unwrap().to_string_lossy()
            );
            insta::with_settings!({ description => s.title.clone(), omit_expression => true }, {
                insta::assert_snapshot!(name, explained);
            });
            seen += 1;
        }
    }
    assert!(seen >= 134, "{seen} scenarios");
}
