//! The policies a running service decides with, and the exact texts behind every decision on
//! record: a decision stores the hashes of its policy file and law layers, and those texts
//! are kept in the database, so a past decision is re-made from what decided it even after
//! the files on disk change.

use std::collections::HashMap;
use std::sync::Arc;

use aftercare_policy::model::Kind;
use aftercare_policy::{Policy, PolicySet, SourceFile};
use aftercare_store::{Tx, Val};
use jiff::Timestamp;

use crate::AppError;
use crate::time::micros;

/// The policy files of a policies directory: its own `*.toml` and those of `law/`, each
/// sorted by name. Errors name the path.
pub fn read_dir(dir: &std::path::Path) -> Result<Vec<SourceFile>, String> {
    fn toml_files(dir: &std::path::Path) -> Result<Vec<std::path::PathBuf>, String> {
        let entries =
            std::fs::read_dir(dir).map_err(|e| format!("cannot read `{}`: {e}", dir.display()))?;
        let mut out: Vec<_> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "toml"))
            .collect();
        out.sort();
        Ok(out)
    }
    let mut paths = toml_files(dir)?;
    let law = dir.join("law");
    if law.is_dir() {
        paths.extend(toml_files(&law)?);
    }
    paths
        .iter()
        .map(|p| {
            Ok(SourceFile {
                name: p.display().to_string(),
                text: std::fs::read_to_string(p)
                    .map_err(|e| format!("cannot read `{}`: {e}", p.display()))?,
            })
        })
        .collect()
}

/// A linked set of policy files, with their texts by hash.
#[derive(Debug)]
pub struct Policies {
    set: PolicySet,
    texts: HashMap<String, SourceFile>,
}

impl Policies {
    /// Loads and links the files; errors are the checker's, located.
    pub fn from_sources(files: Vec<SourceFile>) -> Result<Policies, AppError> {
        let set = PolicySet::from_sources(&files)
            .map_err(|d| AppError::Config(format!("the policies do not load:\n{d}")))?;
        Ok(Policies::from_linked(set, files))
    }

    /// A set already linked from `files` (the same files), without linking them again.
    pub fn from_linked(set: PolicySet, files: Vec<SourceFile>) -> Policies {
        // By the text's hash, not its name: texts published from different places may share
        // a name.
        let texts = files
            .into_iter()
            .map(|f| (aftercare_policy::load::text_hash(&f.text), f))
            .collect();
        Policies { set, texts }
    }

    /// The linked set (to run scenarios on).
    pub fn set(&self) -> &PolicySet {
        &self.set
    }

    /// Every policy and law layer loaded, every version.
    pub fn all(&self) -> impl Iterator<Item = &Arc<Policy>> {
        self.set.iter()
    }

    /// The seller policies, every version.
    pub fn sellers(&self) -> impl Iterator<Item = &Arc<Policy>> {
        self.set.iter().filter(|p| p.kind == Kind::Seller)
    }

    /// The seller policy `id`.
    pub fn get(&self, id: &str) -> Result<&Arc<Policy>, AppError> {
        self.set
            .get(id)
            .filter(|p| p.kind == Kind::Seller)
            .ok_or_else(|| {
                let known: Vec<&str> = self.set.sellers().map(|p| p.id.as_str()).collect();
                AppError::Config(format!(
                    "no seller policy `{id}` is loaded; known: {}",
                    known.join(", ")
                ))
            })
    }

    /// The version of seller policy `id` that decides a case with these facts: the one in
    /// force on the date its `version_by` fact gives (by default the order date: the version in
    /// force at purchase), else on today's date. A date before the first version is decided by
    /// the first version: the earliest terms on file are the nearest to what the buyer was
    /// given (the shipped files' start dates are ours where a document is undated).
    pub fn select(
        &self,
        id: &str,
        facts: &serde_json::Map<String, serde_json::Value>,
        now: Timestamp,
    ) -> Result<&Arc<Policy>, AppError> {
        let latest = self.get(id)?;
        let by = latest
            .version_by
            .map(|f| aftercare_policy::schema::fact(f).path);
        let day = by
            .and_then(|path| facts.get(path))
            .and_then(serde_json::Value::as_str)
            .and_then(|s| {
                s.parse::<jiff::civil::Date>()
                    .ok()
                    .or_else(|| s.parse::<Timestamp>().ok().map(|t| latest.day_of(t)))
            })
            .unwrap_or_else(|| latest.day_of(now));
        let first = self
            .set
            .versions(id)
            .first()
            .filter(|p| day < p.effective_from);
        self.set.in_force(id, day).or(first).ok_or_else(|| {
            let versions: Vec<String> = self
                .set
                .versions(id)
                .iter()
                .map(|p| match p.effective_to {
                    Some(to) => format!("{} from {} to {to}", p.version, p.effective_from),
                    None => format!("{} from {}", p.version, p.effective_from),
                })
                .collect();
            AppError::Config(format!(
                "no version of policy `{id}` was in force on {day} ({}: {})",
                by.unwrap_or("today"),
                versions.join("; ")
            ))
        })
    }

    /// Decides facts given by a caller (no case, nothing stored): what policy `id` would
    /// decide at `now`, as JSON and in words. The version in force is chosen as for a case.
    pub fn explain(
        &self,
        id: &str,
        facts: &serde_json::Map<String, serde_json::Value>,
        now: Timestamp,
    ) -> Result<Explained, AppError> {
        let policy = self.get(id).map_err(|e| match e {
            AppError::Config(m) => AppError::not_found("policy", format!("{id} ({m})")),
            e => e,
        })?;
        let policy = self.select(&policy.id, facts, now)?;
        let parsed = aftercare_policy::Facts::from_json(&serde_json::Value::Object(facts.clone()))
            .map_err(|e| AppError::invalid(format!("facts.{}", e.path), e.message))?;
        parsed
            .check_not_after(now)
            .map_err(|m| AppError::invalid("facts", m))?;
        let d = aftercare_policy::decide(policy, &parsed, now);
        Ok(Explained {
            decision: d.to_json(&parsed),
            explanation: d.explain(
                &parsed,
                aftercare_policy::explain::ExplainOptions::default(),
            ),
        })
    }

    /// Keeps the texts of `policy` and its law layers in the database (once per hash).
    pub fn record(&self, tx: &mut dyn Tx, policy: &Policy, now: Timestamp) -> Result<(), AppError> {
        // Asked first, all layers in one statement, so that a decision sends a text only the
        // first time; and asked once per connection (the texts are never taken out).
        let layers: Vec<&Policy> = policy.layers().collect();
        let seen = |p: &Policy| format!("policy_text:{}", p.hash);
        if layers.iter().all(|p| tx.seen().contains(&seen(p))) {
            return Ok(());
        }
        let marks = vec!["?"; layers.len()].join(", ");
        let hashes: Vec<Val> = layers.iter().map(|p| (&p.hash).into()).collect();
        let stored: Vec<String> = tx
            .query(
                &format!("SELECT hash FROM policy_texts WHERE hash IN ({marks})"),
                &hashes,
            )?
            .iter()
            .map(|r| r.text(0))
            .collect::<Result<_, _>>()?;
        for p in layers {
            if stored.contains(&p.hash) {
                tx.seen().insert(seen(p));
                continue;
            }
            let Some(src) = self.texts.get(&p.hash) else {
                return Err(AppError::Config(format!(
                    "the text of policy `{}` ({}) is not loaded",
                    p.id, p.hash
                )));
            };
            tx.exec(
                "INSERT INTO policy_texts (hash, policy_id, version, kind, effective_from, effective_to, file, text, stored_at)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (hash) DO NOTHING",
                &[
                    (&p.hash).into(),
                    (&p.id).into(),
                    (&p.version).into(),
                    match p.kind {
                        Kind::Seller => "seller",
                        Kind::Law => "law",
                    }
                    .into(),
                    p.effective_from.to_string().into(),
                    p.effective_to.map(|d| d.to_string()).into(),
                    (&src.name).into(),
                    (&src.text).into(),
                    Val::Int(micros(now)),
                ],
            )?;
        }
        Ok(())
    }

    /// The policies as they were: a set made of the stored texts with these hashes.
    pub fn from_record(tx: &mut dyn Tx, hashes: &[String]) -> Result<Policies, AppError> {
        let mut files = Vec::with_capacity(hashes.len());
        for h in hashes {
            let row = tx
                .query_opt(
                    "SELECT file, text FROM policy_texts WHERE hash = ?",
                    &[h.into()],
                )?
                .ok_or_else(|| {
                    AppError::corrupt("policy texts", format!("no text with hash `{h}`"))
                })?;
            files.push(SourceFile {
                name: row.text(0)?,
                text: row.text(1)?,
            });
        }
        Policies::from_sources(files)
    }
}

/// A decision of facts given by a caller.
#[derive(Clone, Debug, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Explained {
    /// The decision: every remedy with its status and the clauses that decided it, the
    /// warranty of each component, outputs, deadlines, money (see `policy explain --json`).
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub decision: serde_json::Value,
    /// The same in words.
    pub explanation: String,
}
