//! A set of policies loaded together, with each seller linked to its law layers. A policy id
//! may have several versions (files with the same id and different `effective_from`); a case
//! is decided by the version in force on the date its policy names (`version_by`).

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::diag::{Diagnostic, Diagnostics, Source, WithHint};
use crate::load::load;
use crate::model::{Kind, Policy};

/// One policy file's name and text.
#[derive(Clone, Debug)]
pub struct SourceFile {
    pub name: String,
    pub text: String,
}

/// Policies by id (each id's versions oldest first), sellers linked to their law layers.
#[derive(Debug, Default)]
pub struct PolicySet {
    policies: BTreeMap<String, Vec<Arc<Policy>>>,
    /// Warnings from every file, in file order.
    pub warnings: Vec<Diagnostic>,
}

impl PolicySet {
    /// Loads, checks and links a set of files. Every file is checked; all errors come back.
    pub fn from_sources(files: &[SourceFile]) -> Result<Self, Diagnostics> {
        let mut errors = Vec::new();
        let mut warnings = Vec::new();
        let mut loaded: Vec<(Policy, &SourceFile)> = Vec::new();
        for f in files {
            match load(&f.name, &f.text) {
                Ok((p, w)) => {
                    warnings.extend(w);
                    // Another version of a policy is welcome; the same version, or two versions
                    // starting the same day, is a mistake.
                    if let Some((other, of)) = loaded.iter().find(|(o, _)| {
                        o.id == p.id
                            && (o.version == p.version || o.effective_from == p.effective_from)
                    }) {
                        let src = Source::new(&f.name, &f.text);
                        errors.push(src.at_line(
                            crate::diag::Severity::Error,
                            find(&f.text, "id"),
                            format!(
                                "policy `{}` version {} (from {}) clashes with version {} (from {}) in {}: versions need their own number and start date",
                                p.id, p.version, p.effective_from, other.version, other.effective_from, of.name
                            ),
                        ));
                        continue;
                    }
                    loaded.push((p, f));
                }
                Err(d) => errors.extend(d.0),
            }
        }
        loaded.sort_by(|(a, _), (b, _)| (&a.id, a.effective_from).cmp(&(&b.id, b.effective_from)));
        let mut policies: BTreeMap<String, Vec<Arc<Policy>>> = BTreeMap::new();
        // Sellers link to the latest version of each law layer.
        let mut laws: BTreeMap<String, Arc<Policy>> = BTreeMap::new();
        let mut sellers = Vec::new();
        for (p, f) in loaded {
            match p.kind {
                Kind::Law => {
                    let p = Arc::new(p);
                    laws.insert(p.id.clone(), Arc::clone(&p));
                    policies.entry(p.id.clone()).or_default().push(p);
                }
                Kind::Seller => sellers.push((p, f)),
            }
        }
        for (mut p, f) in sellers {
            let src = Source::new(&f.name, &f.text);
            let line = find(&f.text, "law");
            for id in &p.law_ids {
                match laws.get(id) {
                    Some(law) => {
                        for c in &p.clauses {
                            if law.clause_index(&c.id).is_some() {
                                errors.push(src.at_line(crate::diag::Severity::Error, find(&f.text, &format!("\"{}\"", c.id)), format!(
                                    "clause id `{}` is also a clause of law layer `{id}`: a citation would be ambiguous", c.id
                                )));
                            }
                        }
                        p.laws.push(Arc::clone(law));
                    }
                    None => {
                        let hint = crate::schema::suggest(id, laws.keys().map(String::as_str))
                            .map(|s| format!("did you mean `{s}`?"))
                            .unwrap_or_else(|| {
                                "law layers are files with kind = \"law\" (policies/law/)"
                                    .to_string()
                            });
                        errors.push(
                            src.at_line(
                                crate::diag::Severity::Error,
                                line,
                                format!("unknown law layer `{id}`"),
                            )
                            .hint(hint),
                        );
                    }
                }
            }
            policies.entry(p.id.clone()).or_default().push(Arc::new(p));
        }
        if errors.is_empty() {
            Ok(Self { policies, warnings })
        } else {
            Err(Diagnostics(errors))
        }
    }

    /// The latest version of a policy.
    pub fn get(&self, id: &str) -> Option<&Arc<Policy>> {
        self.policies.get(id).and_then(|v| v.last())
    }

    /// Every version of a policy, oldest first.
    pub fn versions(&self, id: &str) -> &[Arc<Policy>] {
        self.policies.get(id).map_or(&[], Vec::as_slice)
    }

    /// The version of a policy in force on `day`: the latest that started by then and has
    /// not ended.
    pub fn in_force(&self, id: &str, day: jiff::civil::Date) -> Option<&Arc<Policy>> {
        self.versions(id).iter().rev().find(|p| p.in_force(day))
    }

    /// Every policy, sellers and laws, every version, by id.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Policy>> {
        self.policies.values().flatten()
    }

    /// The latest version of each seller policy.
    pub fn sellers(&self) -> impl Iterator<Item = &Arc<Policy>> {
        self.policies
            .values()
            .filter_map(|v| v.last())
            .filter(|p| p.kind == Kind::Seller)
    }
}

/// The line of `key = ...`, else the first line mentioning `key`.
fn find(text: &str, key: &str) -> usize {
    let assigns = |l: &str| {
        l.trim_start()
            .strip_prefix(key)
            .is_some_and(|rest| rest.trim_start().starts_with('='))
    };
    text.lines()
        .position(assigns)
        .or_else(|| {
            text.lines()
                .position(|l| !l.trim_start().starts_with('#') && l.contains(key))
        })
        .map_or(1, |i| i + 1)
}
