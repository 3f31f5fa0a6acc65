//! Reading policy and scenario files from disk.

use std::path::{Path, PathBuf};

use aftercare_policy::corpus::Scenario;
use aftercare_policy::{PolicySet, SourceFile};

/// The policies directory: `--policies`, else `$AFTERCARE_POLICIES`, else `./policies`.
pub fn policies_dir(flag: Option<&Path>) -> PathBuf {
    if let Some(p) = flag {
        return p.to_path_buf();
    }
    std::env::var_os("AFTERCARE_POLICIES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("policies"))
}

pub fn read(path: &Path) -> Result<SourceFile, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
    Ok(SourceFile {
        name: path.display().to_string(),
        text,
    })
}

/// The policy files of a policies directory: its own `*.toml` and those of `law/`.
pub fn policy_files(dir: &Path) -> Result<Vec<SourceFile>, String> {
    aftercare_app::policies::read_dir(dir)
}

/// A policies folder for the database: its policy files and the scenarios of its `cases/`
/// (none when it has no `cases/`).
pub fn folder(dir: &Path) -> Result<aftercare_app::published::Folder, String> {
    let cases = dir.join("cases");
    let scenarios = if cases.is_dir() {
        scenario_paths(&cases)?
            .iter()
            .map(|p| {
                Ok(SourceFile {
                    name: p.display().to_string(),
                    text: std::fs::read_to_string(p)
                        .map_err(|e| format!("cannot read `{}`: {e}", p.display()))?,
                })
            })
            .collect::<Result<Vec<_>, String>>()?
    } else {
        Vec::new()
    };
    Ok(aftercare_app::published::Folder {
        from: dir.display().to_string(),
        policies: policy_files(dir)?,
        scenarios,
    })
}

/// Loads and links every policy in a directory; errors are rendered, located.
pub fn load_set(dir: &Path) -> Result<PolicySet, String> {
    let files = policy_files(dir)?;
    PolicySet::from_sources(&files).map_err(|d| d.to_string())
}

/// Every scenario file under `dir`, recursively, sorted by path.
pub fn scenario_paths(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries =
            std::fs::read_dir(&d).map_err(|e| format!("cannot read `{}`: {e}", d.display()))?;
        for e in entries.filter_map(Result::ok) {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "toml") {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Parses every scenario under `dir`; a file that does not parse is an error naming it.
pub fn load_scenarios(dir: &Path) -> Result<Vec<Scenario>, String> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for p in scenario_paths(dir)? {
        let f = read(&p)?;
        match Scenario::parse(&f.name, &f.text) {
            Ok(s) => out.push(s),
            Err(d) => errors.push(d.to_string()),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors.join("\n"))
    }
}
