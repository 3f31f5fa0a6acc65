//! A set of policies loaded together, with each seller linked to its law layers.

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

/// Policies by id, sellers linked to their law layers.
#[derive(Debug, Default)]
pub struct PolicySet {
    policies: BTreeMap<String, Arc<Policy>>,
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
                    if let Some((other, of)) = loaded.iter().find(|(o, _)| o.id == p.id) {
                        let src = Source::new(&f.name, &f.text);
                        errors.push(src.at_line(
                            crate::diag::Severity::Error,
                            find(&f.text, "id"),
                            format!("policy id `{}` is already used by {}", other.id, of.name),
                        ));
                        continue;
                    }
                    loaded.push((p, f));
                }
                Err(d) => errors.extend(d.0),
            }
        }
        let mut laws: BTreeMap<String, Arc<Policy>> = BTreeMap::new();
        let mut sellers = Vec::new();
        for (p, f) in loaded {
            match p.kind {
                Kind::Law => {
                    laws.insert(p.id.clone(), Arc::new(p));
                }
                Kind::Seller => sellers.push((p, f)),
            }
        }
        let mut policies: BTreeMap<String, Arc<Policy>> = laws.clone();
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
            policies.insert(p.id.clone(), Arc::new(p));
        }
        if errors.is_empty() {
            Ok(Self { policies, warnings })
        } else {
            Err(Diagnostics(errors))
        }
    }

    pub fn get(&self, id: &str) -> Option<&Arc<Policy>> {
        self.policies.get(id)
    }

    /// Every policy, sellers and laws, by id.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Policy>> {
        self.policies.values()
    }

    pub fn sellers(&self) -> impl Iterator<Item = &Arc<Policy>> {
        self.policies.values().filter(|p| p.kind == Kind::Seller)
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
