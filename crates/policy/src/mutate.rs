//! Rule deletion: does the corpus need every rule? Each rule of each seller policy is deleted
//! in turn (its `[[rule]]` table cut from the file's text, the files loaded and linked again)
//! and the policy's scenarios are run against the result. A deletion that no scenario notices
//! "survives": the rule is either untested or redundant, and one of the two must change.

use crate::corpus::Scenario;
use crate::expr::Expr;
use crate::model::Kind;
use crate::set::{PolicySet, SourceFile};
use crate::value::Value;

/// A rule whose deletion no scenario noticed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Survivor {
    pub policy: String,
    pub file: String,
    pub rule: String,
    pub clause: String,
    /// 1-based line of its `[[rule]]` header.
    pub line: usize,
}

/// How many rules were deleted, and which deletions survived.
#[derive(Debug, Default)]
pub struct Outcome {
    pub deleted: usize,
    pub survivors: Vec<Survivor>,
    /// Rules switched off by the file's own parameters (`when = "not params.x"` with `x`
    /// true): no decision can need them until a seller sets the parameter the other way, so
    /// they are listed, not deleted.
    pub switched_off: Vec<Survivor>,
}

/// Deletes each rule of each seller policy that has scenarios, one at a time, and runs that
/// policy's scenarios against the rest. `files` are the policy files as loaded (their set must
/// load); a deletion that makes the files fail to load counts as noticed.
pub fn rule_deletions(files: &[SourceFile], scenarios: &[Scenario]) -> Outcome {
    let mut out = Outcome::default();
    let Ok(set) = PolicySet::from_sources(files) else {
        return out;
    };
    for (fi, f) in files.iter().enumerate() {
        let Some(policy) = set
            .iter()
            .find(|p| p.file == f.name && p.kind == Kind::Seller)
        else {
            continue;
        };
        let own: Vec<&Scenario> = scenarios.iter().filter(|s| s.policy == policy.id).collect();
        if own.is_empty() {
            continue;
        }
        let blocks = rule_blocks(&f.text);
        // The loader keeps every rule in file order, so the n-th block is the n-th rule.
        for (block, rule) in blocks.iter().zip(&policy.rules) {
            let survivor = || Survivor {
                policy: policy.id.clone(),
                file: f.name.clone(),
                rule: rule.id.clone(),
                clause: policy
                    .clause(rule.clause)
                    .map_or_else(String::new, |c| c.id.clone()),
                line: line_of(&f.text, block.start),
            };
            if rule
                .when
                .as_ref()
                .is_some_and(|c| c.expr == Expr::Const(Value::Bool(false)))
            {
                out.switched_off.push(survivor());
                continue;
            }
            out.deleted += 1;
            let mut text = String::with_capacity(f.text.len());
            text.push_str(f.text.get(..block.start).unwrap_or(""));
            text.push_str(f.text.get(block.end..).unwrap_or(""));
            let mut mutant: Vec<SourceFile> = files.to_vec();
            if let Some(m) = mutant.get_mut(fi) {
                m.text = text;
            }
            let Ok(mset) = PolicySet::from_sources(&mutant) else {
                continue;
            };
            if own.iter().all(|s| s.run(&mset).is_empty()) {
                out.survivors.push(survivor());
            }
        }
    }
    out
}

/// The byte ranges of the file's `[[rule]]` tables: from the header to the next table header.
fn rule_blocks(text: &str) -> Vec<std::ops::Range<usize>> {
    let mut starts: Vec<(usize, bool)> = Vec::new();
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        let t = line.trim_start();
        if t.starts_with('[') {
            starts.push((at, t.trim_end().starts_with("[[rule]]")));
        }
        at += line.len();
    }
    starts
        .iter()
        .enumerate()
        .filter(|(_, (_, is_rule))| *is_rule)
        .map(|(i, (start, _))| {
            let end = starts.get(i + 1).map_or(text.len(), |(s, _)| *s);
            *start..end
        })
        .collect()
}

fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset).map_or(0, |t| t.matches('\n').count()) + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_blocks_run_from_their_header_to_the_next_table() {
        let text = "[policy]\nid = 'x'\n\n[[rule]]\nclause = '1'\n# a comment\n\n[[clause]]\nid = '1'\n[[rule]]\nclause = '2'\n";
        let blocks = rule_blocks(text);
        assert_eq!(blocks.len(), 2);
        assert_eq!(
            text.get(blocks[0].clone()),
            Some("[[rule]]\nclause = '1'\n# a comment\n\n")
        );
        assert_eq!(
            text.get(blocks[1].clone()),
            Some("[[rule]]\nclause = '2'\n")
        );
        assert_eq!(line_of(text, blocks[1].start), 10);
    }
}
