//! Reads the shipped policies and a seed's corpus from disk, for the benchmark and the
//! instruction-count example (the engine itself reads no files).

use std::path::{Path, PathBuf};

use aftercare_policy::corpus::Scenario;
use aftercare_policy::{Facts, Policy, PolicySet, SourceFile};
use jiff::Timestamp;

pub fn policies_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies")
}

fn toml_files(dir: &Path) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("policies directory")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    paths
}

/// Every policy file, the law layers included.
pub fn sources() -> Vec<SourceFile> {
    let root = policies_dir();
    [root.clone(), root.join("law")]
        .iter()
        .flat_map(|d| toml_files(d))
        .map(|p| SourceFile {
            name: p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            text: std::fs::read_to_string(&p).expect("policy file"),
        })
        .collect()
}

pub fn policy_set() -> PolicySet {
    PolicySet::from_sources(&sources()).expect("shipped policies load")
}

/// The facts and moment of every scenario of one seed.
pub fn cases(policy: &Policy) -> Vec<(Facts, Timestamp)> {
    toml_files(&policies_dir().join("cases").join(&policy.id))
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p).expect("scenario file");
            let s = Scenario::parse(&p.display().to_string(), &text).expect("scenario parses");
            let now = s.now_in(policy).expect("scenario moment");
            (s.facts, now)
        })
        .collect()
}

/// Every seed's corpus facts as the service stores them (JSON text), as what-if reads them.
#[allow(
    dead_code,
    reason = "the bench and facts_loop read them; decide_loop does not"
)]
pub fn stored_facts() -> Vec<String> {
    let set = policy_set();
    ["imkey", "imask", "imiki", "cryptki", "maintenance"]
        .iter()
        .flat_map(|id| cases(set.get(id).expect("a seed policy")))
        .map(|(facts, _)| facts.to_json().to_string())
        .collect()
}
