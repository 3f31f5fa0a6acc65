//! The policy versions a service decides new cases with, kept in the database and shared by
//! every server on it (issue 20). A policies folder seeds them (`aftercare policy import DIR`,
//! and a first start on an empty database); after that, publishing a version is a row, and
//! each server picks it up within a second by polling the publications' generation
//! ([`Live::refresh`]), without a restart.
//!
//! Why polling and not PostgreSQL's LISTEN/NOTIFY: it works the same on SQLite (a CLI command
//! publishing into the file a server reads), it needs no connection held open per server, and
//! its cost is one indexed `MAX` a second. A publication is rare; a second's delay is nothing
//! against a document's effective date.
//!
//! Decisions already recorded keep the exact text that made them (by hash, in
//! `policy_texts`); a version is never taken back, only followed by another.

use std::sync::{Arc, RwLock};

use aftercare_policy::SourceFile;
use aftercare_store::{Store, Tx, Val, Violation};
use jiff::Timestamp;
use serde_json::json;

use crate::audit::{self, Event};
use crate::time::{from_micros, micros};
use crate::{AppError, Policies};

/// One published version.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Version {
    /// Its place among publications (1 is the first).
    pub seq: i64,
    pub policy_id: String,
    pub version: String,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Date))]
    pub effective_from: jiff::civil::Date,
    /// SHA-256 of its text: what decisions it makes record.
    pub hash: String,
    /// Who published it: an account's e-mail, `cli:USER`, or `seed:FOLDER`.
    pub published_by: String,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub published_at: Timestamp,
}

/// The publications' generation: the latest `seq`, 0 before the first. It changes exactly
/// when a version is published.
pub fn generation(tx: &mut dyn Tx) -> Result<i64, AppError> {
    Ok(tx
        .query_one("SELECT COALESCE(MAX(seq), 0) FROM policy_versions", &[])?
        .int(0)?)
}

/// Every published version, in the order published.
pub fn list(tx: &mut dyn Tx) -> Result<Vec<Version>, AppError> {
    tx.query(
        "SELECT seq, policy_id, version, effective_from, hash, published_by, published_at
           FROM policy_versions ORDER BY seq",
        &[],
    )?
    .iter()
    .map(|r| {
        let day = r.text(3)?;
        Ok(Version {
            seq: r.int(0)?,
            policy_id: r.text(1)?,
            version: r.text(2)?,
            effective_from: day
                .parse()
                .map_err(|e| AppError::corrupt("policy versions", format!("`{day}`: {e}")))?,
            hash: r.text(4)?,
            published_by: r.text(5)?,
            published_at: from_micros(r.int(6)?)?,
        })
    })
    .collect()
}

/// The published texts, in the order published.
pub fn sources(tx: &mut dyn Tx) -> Result<Vec<SourceFile>, AppError> {
    sources_except(tx, "")
}

/// The published texts but those of policy `policy_id` (what a draft of it is linked with),
/// in the order published.
pub fn sources_except(tx: &mut dyn Tx, policy_id: &str) -> Result<Vec<SourceFile>, AppError> {
    tx.query(
        "SELECT t.file, t.text FROM policy_versions v JOIN policy_texts t ON t.hash = v.hash
          WHERE v.policy_id <> ? ORDER BY v.seq",
        &[policy_id.into()],
    )?
    .iter()
    .map(|r| {
        Ok(SourceFile {
            name: r.text(0)?,
            text: r.text(1)?,
        })
    })
    .collect()
}

/// A policies folder as `policy export` writes it and `policy import` reads it back: each
/// policy's latest published text (`ID.toml`, law layers in `law/ID.toml`) and the scenarios
/// kept for the studio (`cases/ID/NAME.toml`), as paths relative to the folder with their
/// texts. The latest texts are linked together first, so what is written loads as a folder.
/// A policy id or scenario name that is not a plain file name (letters, digits, `.`, `-`, `_`,
/// not starting with `.`) is refused, named: nothing is written outside the folder.
pub fn export(tx: &mut dyn Tx) -> Result<Vec<(std::path::PathBuf, String)>, AppError> {
    let latest = tx.query(
        "SELECT v.policy_id, t.text FROM policy_versions v JOIN policy_texts t ON t.hash = v.hash
          WHERE v.seq = (SELECT MAX(w.seq) FROM policy_versions w WHERE w.policy_id = v.policy_id)
          ORDER BY v.policy_id",
        &[],
    )?;
    let mut files = Vec::with_capacity(latest.len());
    for r in &latest {
        let id = r.text(0)?;
        plain_name("policy", &id)?;
        files.push(SourceFile {
            name: format!("{id}.toml"),
            text: r.text(1)?,
        });
    }
    let linked = Policies::from_sources(files.clone()).map_err(|e| {
        AppError::invalid(
            "policies",
            format!("the latest published texts do not load together: {e}"),
        )
    })?;
    let laws: std::collections::HashSet<&str> = linked
        .all()
        .filter(|p| p.seller.is_none())
        .map(|p| p.id.as_str())
        .collect();
    let mut out = Vec::new();
    for f in files {
        let law = laws.contains(f.name.trim_end_matches(".toml"));
        let path = if law {
            std::path::Path::new("law").join(&f.name)
        } else {
            std::path::PathBuf::from(&f.name)
        };
        out.push((path, f.text));
    }
    for r in tx.query(
        "SELECT policy_id, name, text FROM policy_scenarios ORDER BY policy_id, name",
        &[],
    )? {
        let (id, name) = (r.text(0)?, r.text(1)?);
        plain_name("policy", &id)?;
        plain_name("scenario", &name)?;
        let path = std::path::Path::new("cases")
            .join(&id)
            .join(format!("{name}.toml"));
        out.push((path, r.text(2)?));
    }
    Ok(out)
}

/// Refuses a name that is not a plain file name (see [`export`]).
fn plain_name(what: &str, name: &str) -> Result<(), AppError> {
    let plain = !name.is_empty()
        && name.len() <= 200
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
    if plain {
        Ok(())
    } else {
        Err(AppError::invalid(
            what,
            format!(
                "{what} `{}` is not a plain file name: it cannot be exported",
                name.escape_debug()
            ),
        ))
    }
}

/// The published policies, linked, and the generation they are as of (read in the same
/// transaction, so the two agree). `None` when nothing is published yet.
pub fn load(tx: &mut dyn Tx) -> Result<Option<(i64, Policies)>, AppError> {
    let generation = generation(tx)?;
    if generation == 0 {
        return Ok(None);
    }
    let policies = Policies::from_sources(sources(tx)?)
        .map_err(|e| AppError::corrupt("published policies", e.to_string()))?;
    Ok(Some((generation, policies)))
}

/// The published policies with `files` beside them, linked: what the service would decide
/// with were they published, or the checker's errors, located in the files. A file whose text
/// is published already counts once. Nothing is written.
pub fn with(tx: &mut dyn Tx, files: Vec<SourceFile>) -> Result<(Policies, Vec<String>), AppError> {
    let mut all = sources(tx)?;
    let mut known: std::collections::HashSet<String> = all
        .iter()
        .map(|f| aftercare_policy::load::text_hash(&f.text))
        .collect();
    let mut new = Vec::new();
    for f in files {
        let hash = aftercare_policy::load::text_hash(&f.text);
        if known.insert(hash.clone()) {
            new.push(hash);
            all.push(f);
        }
    }
    let policies = Policies::from_sources(all).map_err(|e| match e {
        AppError::Config(m) => AppError::invalid("policy", m),
        e => e,
    })?;
    Ok((policies, new))
}

/// Publishes `files` (policy and law-layer texts) as `by` at `now`: each text not published
/// yet becomes a version, checked first with everything published (one number and one start
/// date per version of a policy; law layers named by a seller must be published or among the
/// files). All or none: on an error nothing is published. Each publication is an audit event
/// of its policy (`policy:ID`, `published`). Returns the versions published, none when every
/// text was published already.
pub fn publish(
    tx: &mut dyn Tx,
    files: Vec<SourceFile>,
    by: &str,
    now: Timestamp,
) -> Result<Vec<Version>, AppError> {
    let (policies, new) = with(tx, files)?;
    let mut out = Vec::with_capacity(new.len());
    for hash in new {
        let Some(p) = policies.all().find(|p| p.hash == hash) else {
            continue;
        };
        policies.record(tx, p, now)?;
        let inserted = tx.query_one(
            "INSERT INTO policy_versions (hash, policy_id, version, effective_from, published_by, published_at)
             VALUES (?, ?, ?, ?, ?, ?) RETURNING seq",
            &[
                (&p.hash).into(),
                (&p.id).into(),
                (&p.version).into(),
                p.effective_from.to_string().into(),
                by.into(),
                Val::Int(micros(now)),
            ],
        );
        // A version published beside this one since it was checked (another publisher).
        let seq = match inserted {
            Ok(row) => row.int(0)?,
            Err(e) if e.violation().is_some_and(|(v, _)| v == Violation::Unique) => {
                return Err(AppError::invalid(
                    "policy",
                    format!(
                        "policy `{}` version {} (from {}) clashes with a version published meanwhile: versions need their own number and start date",
                        p.id, p.version, p.effective_from
                    ),
                ));
            }
            Err(e) => return Err(e.into()),
        };
        audit::append(
            tx,
            now,
            &Event::new(
                by,
                "policy",
                &p.id,
                "published",
                json!({
                    "version": p.version,
                    "effective_from": p.effective_from.to_string(),
                    "hash": p.hash,
                    "seq": seq,
                }),
            ),
        )?;
        out.push(Version {
            seq,
            policy_id: p.id.clone(),
            version: p.version.clone(),
            effective_from: p.effective_from,
            hash: p.hash.clone(),
            published_by: by.to_string(),
            published_at: now,
        });
    }
    Ok(out)
}

/// A policies folder as read: its policy files and its scenarios (`cases/`).
#[derive(Debug, Default)]
pub struct Folder {
    /// Where it was read from, for messages and `seed:FOLDER`.
    pub from: String,
    pub policies: Vec<SourceFile>,
    pub scenarios: Vec<SourceFile>,
}

/// Keeps scenarios for the studio to run (by their policy and file stem; a scenario of the
/// same name is replaced). Each must parse; the first that does not refuses them all, named.
pub fn save_scenarios(
    tx: &mut dyn Tx,
    files: &[SourceFile],
    by: &str,
    now: Timestamp,
) -> Result<usize, AppError> {
    for f in files {
        let s = aftercare_policy::corpus::Scenario::parse(&f.name, &f.text)
            .map_err(|d| AppError::invalid("scenario", d.to_string()))?;
        let name = std::path::Path::new(&f.name)
            .file_stem()
            .map_or_else(|| f.name.clone(), |s| s.to_string_lossy().into_owned());
        tx.exec(
            "INSERT INTO policy_scenarios (policy_id, name, text, saved_by, saved_at)
             VALUES (?, ?, ?, ?, ?)
             ON CONFLICT (policy_id, name) DO UPDATE SET text = excluded.text,
               saved_by = excluded.saved_by, saved_at = excluded.saved_at",
            &[
                (&s.policy).into(),
                name.into(),
                (&f.text).into(),
                by.into(),
                Val::Int(micros(now)),
            ],
        )?;
    }
    Ok(files.len())
}

/// The published policies; on a database where nothing is published yet, the folder `seed`
/// reads is published first (as `seed:FOLDER`, with its scenarios), so that a new database
/// starts with the folder it was given.
pub fn load_or_seed(
    store: &mut Store,
    seed: impl FnOnce() -> Result<Folder, String>,
    now: Timestamp,
) -> Result<(i64, Policies), AppError> {
    if let Some(loaded) = store.read(|tx| load(tx))? {
        return Ok(loaded);
    }
    let from = seed_if_empty(store, seed, now)?;
    store.read(|tx| load(tx))?.ok_or_else(|| {
        AppError::Config(format!(
            "the policies folder `{}` holds no policy",
            from.unwrap_or_default()
        ))
    })
}

/// Publishes the folder `seed` reads (as `seed:FOLDER`, with its scenarios) on a database
/// where nothing is published yet, reading and linking nothing otherwise. Returns the folder
/// it seeded from, if it did.
pub fn seed_if_empty(
    store: &mut Store,
    seed: impl FnOnce() -> Result<Folder, String>,
    now: Timestamp,
) -> Result<Option<String>, AppError> {
    if store.read(|tx| generation(tx))? != 0 {
        return Ok(None);
    }
    let folder = seed().map_err(AppError::Config)?;
    let from = folder.from.clone();
    store.tx(|tx| {
        // Another process may have seeded it meanwhile.
        if generation(tx)? == 0 {
            let by = format!("seed:{from}");
            publish(tx, folder.policies, &by, now)?;
            save_scenarios(tx, &folder.scenarios, &by, now)?;
        }
        Ok::<_, AppError>(())
    })?;
    Ok(Some(from))
}

/// The policies a server decides with now, replaced as new versions are published. Readers
/// take a handle ([`Live::get`]) and keep it for what they are doing, so a request is decided
/// by one set from start to end.
#[derive(Debug)]
pub struct Live {
    current: RwLock<(i64, Arc<Policies>)>,
}

impl Live {
    pub fn new(generation: i64, policies: Policies) -> Live {
        Live {
            current: RwLock::new((generation, Arc::new(policies))),
        }
    }

    /// The policies in force on this server now.
    pub fn get(&self) -> Arc<Policies> {
        Arc::clone(&self.current.read().unwrap_or_else(|p| p.into_inner()).1)
    }

    /// The generation this server decides with.
    pub fn generation(&self) -> i64 {
        self.current.read().unwrap_or_else(|p| p.into_inner()).0
    }

    /// Loads the published policies when their generation has moved: the new generation, or
    /// `None` when nothing changed. A set that no longer links (which publishing prevents)
    /// is an error, and the server keeps deciding with what it had.
    pub fn refresh(&self, store: &mut Store) -> Result<Option<i64>, AppError> {
        let known = self.generation();
        if store.read(|tx| generation(tx))? == known {
            return Ok(None);
        }
        let Some((generation, policies)) = store.read(|tx| load(tx))? else {
            return Ok(None);
        };
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = (generation, Arc::new(policies));
        Ok(Some(generation))
    }
}
