//! What-if: every decision recorded under a policy, made again with a draft of it, on the
//! facts and at the moment it was made, and what would change: remedies (allowed → denied…)
//! with the clauses responsible and example cases, refunds granted or withdrawn per currency,
//! and deadlines that move. Payment fraud tools do this before a rule is changed (the past
//! payments it would have matched); here it is done before a policy is published.
//!
//! The decisions are read in ranges of ids, in read transactions, by a few threads at once, so
//! memory stays bounded whatever the history. The "before" side is decided again from the stored texts the
//! decision was made with (by hash, as [`crate::decision::reexplain`] does), not read from its
//! stored summary: both sides come from the same engine, so a change is the draft's.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};

use aftercare_policy::decision::Status;
use aftercare_policy::model::Policy;
use aftercare_policy::schema::{DeadlineName, Remedy};
use aftercare_policy::{Decision, Detail};
use aftercare_store::{Store, Val};
use jiff::Timestamp;
use serde::Serialize;

use crate::time::{from_micros, micros};
use crate::{AppError, Policies, decision};

/// How many example cases a group keeps.
const EXAMPLES: usize = 5;

/// What a draft would have changed.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Simulation {
    pub policy: String,
    /// The draft's version, as its file says.
    pub draft_version: String,
    /// Decisions made again.
    pub decisions: u64,
    /// Decisions whose remedies, refund or deadlines differ.
    pub changed: u64,
    /// Whether the run was stopped before its end (by the progress callback).
    pub cancelled: bool,
    /// By remedy and change (`repair`, `allowed`, `denied`).
    pub remedies: Vec<RemedyChange>,
    /// Per currency.
    pub money: Vec<MoneyChange>,
    /// Per deadline.
    pub deadlines: Vec<DeadlineChange>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct RemedyChange {
    pub remedy: String,
    pub from: String,
    pub to: String,
    pub decisions: u64,
    /// The clauses the draft cites for its new answer.
    pub clauses: BTreeSet<String>,
    /// The clauses the recorded policy cited, for decisions where the draft cites none (a
    /// remedy it no longer speaks of, or a new policy tried on another's history).
    pub recorded_clauses: BTreeSet<String>,
    /// Some of the cases, by id.
    pub cases: BTreeSet<i64>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct MoneyChange {
    pub currency: String,
    /// Decisions that would refund more (or refund where they did not), and by how much in
    /// all, in minor units.
    pub granted: u64,
    pub granted_minor: i64,
    /// Decisions that would refund less (or nothing), and by how much in all.
    pub withdrawn: u64,
    pub withdrawn_minor: i64,
    pub cases: BTreeSet<i64>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct DeadlineChange {
    pub deadline: String,
    /// Decisions where the last day moves later, earlier, appears or goes.
    pub later: u64,
    pub earlier: u64,
    pub set: u64,
    pub removed: u64,
    /// The smallest and largest move, in days (negative: earlier).
    pub min_days: i64,
    pub max_days: i64,
    pub cases: BTreeSet<i64>,
}

impl RemedyChange {
    fn new(remedy: &str, from: &str, to: &str) -> Self {
        RemedyChange {
            remedy: remedy.to_string(),
            from: from.to_string(),
            to: to.to_string(),
            ..RemedyChange::default()
        }
    }
}

impl MoneyChange {
    fn new(currency: &str) -> Self {
        MoneyChange {
            currency: currency.to_string(),
            ..MoneyChange::default()
        }
    }
}

impl DeadlineChange {
    /// No move yet: the smallest and largest move start past each other.
    fn new(deadline: &str) -> Self {
        DeadlineChange {
            deadline: deadline.to_string(),
            min_days: i64::MAX,
            max_days: i64::MIN,
            ..DeadlineChange::default()
        }
    }
}

/// Which recorded decisions to make again.
#[derive(Clone, Debug, Default)]
pub struct Scope {
    /// Only decisions made at or after this moment.
    pub since: Option<Timestamp>,
    /// The decisions recorded under this policy instead of the draft's own (a new policy
    /// tried on the history of the one it would take over).
    pub history: Option<String>,
    /// How many decision ids a worker claims at a time (default [`SPAN`]); tests use small
    /// ranges to cross their edges.
    pub span: Option<i64>,
}

/// Makes every decision recorded under `draft_id` again with `draft` (a set holding the draft
/// in place of that policy, and the law layers it names), on one thread per core (at most
/// [`WORKERS`]), each with a connection of its own that claims ranges of decision ids in turn.
/// `progress(read, of)` is called on the caller's thread about ten times a second, with how
/// much of the range of decision ids has been read (a share: other policies' decisions are in
/// the range too); returning `false` stops the run (the result says so).
pub fn simulate(
    store: &mut Store,
    draft: &Policies,
    draft_id: &str,
    scope: &Scope,
    progress: &mut dyn FnMut(u64, u64) -> bool,
) -> Result<Simulation, AppError> {
    let policy = draft.get(draft_id)?;
    if policy.seller.is_none() {
        return Err(AppError::invalid(
            "policy",
            format!("`{draft_id}` is a law layer: decisions are recorded under seller policies"),
        ));
    }
    let since = scope.since.map_or(i64::MIN, micros);
    let history = scope.history.as_deref().unwrap_or(draft_id);
    // The ids to read, from the ends of the key: counting the policy's decisions first would
    // read them all once more (a third of a second at a million, on one core). Progress is the
    // share of this range read.
    let (first, last) = store.read(|tx| -> Result<_, AppError> {
        let r = tx.query_one(
            "SELECT COALESCE(MIN(id), 0), COALESCE(MAX(id), -1) FROM decisions",
            &[],
        )?;
        Ok((r.int(0)?, r.int(1)?))
    })?;
    let total = u64::try_from(last.saturating_sub(first).saturating_add(1)).unwrap_or(0);
    let job = Job {
        policy,
        history,
        since,
        span: scope.span.unwrap_or(SPAN).max(1),
        last,
        next: AtomicI64::new(first),
        done: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        ended: AtomicUsize::new(0),
    };
    let workers = std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .clamp(1, WORKERS);
    // The caller's connection is the first worker's; the others open their own (none for an
    // in-memory database: the caller's works alone).
    let mut stores = Vec::with_capacity(workers - 1);
    for _ in 1..workers {
        match store.another() {
            Some(s) => stores.push(s?),
            None => break,
        }
    }
    let (results, cancelled) = std::thread::scope(|s| {
        let job = &job;
        // A worker that ends wakes this thread, which would otherwise see it only at its
        // next look (a tenth of a second later at worst: a fortieth of a run of a million).
        let caller = std::thread::current();
        let handles: Vec<_> = std::iter::once(store)
            .chain(stores.iter_mut())
            .map(|store| {
                let caller = caller.clone();
                s.spawn(move || {
                    // Counted as ended however it ends, a panic included.
                    let _ended = Ended {
                        count: &job.ended,
                        caller,
                    };
                    job.work(store)
                })
            })
            .collect();
        let mut cancelled = false;
        loop {
            let finished = job.ended.load(Ordering::Acquire) == handles.len();
            let done = job.done.load(Ordering::Relaxed);
            if !progress(done, total.max(done)) && !cancelled {
                cancelled = true;
                job.stop.store(true, Ordering::Relaxed);
            }
            if finished {
                break;
            }
            std::thread::park_timeout(std::time::Duration::from_millis(100));
        }
        let results: Vec<Result<Worked, AppError>> = handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(AppError::corrupt("simulation", "a worker panicked")))
            })
            .collect();
        (results, cancelled)
    });
    let mut sim = Simulation {
        policy: draft_id.to_string(),
        draft_version: policy.version.clone(),
        cancelled,
        ..Simulation::default()
    };
    let mut tally = Tally::default();
    for r in results {
        let w = r?;
        sim.decisions += w.decisions;
        sim.changed += w.changed;
        tally.merge(w.tally);
    }
    // Stopped, and before the end: a run that finished before anyone looked was not.
    sim.cancelled = cancelled && job.done.load(Ordering::Relaxed) < total;
    tally.into(&mut sim);
    Ok(sim)
}

/// Counts a worker as ended and wakes the caller's thread when dropped.
struct Ended<'a> {
    count: &'a AtomicUsize,
    caller: std::thread::Thread,
}

impl Drop for Ended<'_> {
    fn drop(&mut self) {
        self.count.fetch_add(1, Ordering::Release);
        self.caller.unpark();
    }
}

/// At most this many threads re-decide at once.
pub const WORKERS: usize = 4;
/// How many decision ids a worker claims at a time.
pub const SPAN: i64 = 2_000;

/// What the workers share.
struct Job<'a> {
    policy: &'a Policy,
    /// The policy whose recorded decisions are made again.
    history: &'a str,
    since: i64,
    /// How many ids a worker claims at a time.
    span: i64,
    /// The last decision id to make again.
    last: i64,
    /// The first id of the next range to claim.
    next: AtomicI64,
    /// Ids of the range read so far.
    done: AtomicU64,
    stop: AtomicBool,
    /// Workers that have ended.
    ended: AtomicUsize,
}

/// What one worker found.
#[derive(Default)]
struct Worked {
    decisions: u64,
    changed: u64,
    tally: Tally,
}

impl Job<'_> {
    fn work(&self, store: &mut Store) -> Result<Worked, AppError> {
        let mut out = Worked::default();
        // The stored texts decisions were made with, by the hashes that name them: a handful
        // (one per version in force), so a list searched in order; rows name theirs by index.
        let mut made_with: Vec<(String, String, Policies)> = Vec::new();
        // The texts of the last row read: in the next range, rows made with them come without
        // their hashes (NULL), which spares the database sending them and this worker reading
        // and comparing them, row after row.
        let mut last: Option<usize> = None;
        // Each row's facts are read into the same value, which keeps its memory.
        let mut facts = aftercare_policy::Facts::new();
        while !self.stop.load(Ordering::Relaxed) {
            let from = self.next.fetch_add(self.span, Ordering::Relaxed);
            if from > self.last {
                break;
            }
            // Each row with the index of the texts it was made with; texts not seen yet are
            // read in the same transaction as the rows naming them.
            let rows = store.read(|tx| -> Result<_, AppError> {
                // A NULL pair means "the texts named in this query": those of the last row
                // read before it (hashes no row has, hex as they are, before any row).
                let sent = last;
                let (same_policy, same_laws): (Val, Val) = match sent.and_then(|i| made_with.get(i))
                {
                    Some((p, l, _)) => (p.as_str().into(), l.as_str().into()),
                    None => ("-".into(), "-".into()),
                };
                let rows = tx.query(
                    "SELECT case_id, decided_at,
                       CASE WHEN policy_hash = ? AND law_hashes = ? THEN NULL ELSE policy_hash END,
                       CASE WHEN policy_hash = ? AND law_hashes = ? THEN NULL ELSE law_hashes END,
                       facts FROM decisions
                     WHERE id >= ? AND id < ? AND policy_id = ? AND decided_at >= ?",
                    &[
                        same_policy.clone(),
                        same_laws.clone(),
                        same_policy,
                        same_laws,
                        Val::Int(from),
                        Val::Int(from.saturating_add(self.span)),
                        self.history.into(),
                        Val::Int(self.since),
                    ],
                )?;
                let mut keyed = Vec::with_capacity(rows.len());
                for r in rows {
                    let i = match (r.opt_str(2)?, r.opt_str(3)?) {
                        (None, None) => sent.ok_or_else(|| {
                            AppError::corrupt("decision", "its policy texts were not named")
                        })?,
                        (Some(policy_hash), Some(law_hashes)) => {
                            let known = made_with
                                .iter()
                                .position(|(p, l, _)| p == policy_hash && l == law_hashes);
                            match known {
                                Some(i) => i,
                                None => {
                                    let texts = decision::made_with(tx, policy_hash, law_hashes)?;
                                    made_with.push((
                                        policy_hash.to_string(),
                                        law_hashes.to_string(),
                                        texts,
                                    ));
                                    made_with.len() - 1
                                }
                            }
                        }
                        _ => {
                            return Err(AppError::corrupt(
                                "decision",
                                "one of its policy text hashes is missing",
                            ));
                        }
                    };
                    last = Some(i);
                    keyed.push((r, i));
                }
                Ok(keyed)
            })?;
            for (r, i) in &rows {
                let case_id = r.int(0)?;
                let at = from_micros(r.int(1)?)?;
                decision::read_stored_facts(&mut facts, r.str(4)?)?;
                let then = made_with
                    .get(*i)
                    .ok_or_else(|| AppError::corrupt("decision", "its policy texts were not read"))?
                    .2
                    .get(self.history)?;
                // Only what is compared: remedies, refund, deadlines (not what explains them).
                let before = aftercare_policy::decide_in(Detail::Outcomes, then, &facts, at);
                let now = aftercare_policy::decide_in(Detail::Outcomes, self.policy, &facts, at);
                out.decisions += 1;
                if out.tally.compare(case_id, &before, &now) {
                    out.changed += 1;
                }
            }
            let read = self.last.min(from.saturating_add(self.span - 1)) - from + 1;
            self.done
                .fetch_add(u64::try_from(read).unwrap_or(0), Ordering::Relaxed);
        }
        Ok(out)
    }
}

/// Keeps `case_id` among the [`EXAMPLES`] smallest of `cases`: the same examples whichever
/// worker met them first.
fn example(cases: &mut BTreeSet<i64>, case_id: i64) {
    if cases.len() >= EXAMPLES && cases.last().is_some_and(|last| *last < case_id) {
        return;
    }
    cases.insert(case_id);
    while cases.len() > EXAMPLES {
        cases.pop_last();
    }
}

/// The changes counted so far.
#[derive(Default)]
struct Tally {
    /// By remedy, status before and after (their names).
    remedies: BTreeMap<(&'static str, &'static str, &'static str), RemedyChange>,
    money: BTreeMap<String, MoneyChange>,
    deadlines: BTreeMap<&'static str, DeadlineChange>,
}

impl Tally {
    /// Counts what differs between the two decisions of case `case_id`; whether anything does.
    fn compare(&mut self, case_id: i64, before: &Decision<'_>, now: &Decision<'_>) -> bool {
        let mut changed = false;
        // Nothing is allocated for a decision that does not change (most of them): the remedies
        // and deadlines either side speaks of are bits, walked in their fixed order.
        let remedies = before
            .remedies
            .iter()
            .chain(&now.remedies)
            .fold(0u16, |m, r| m | r.remedy.bit());
        for remedy in Remedy::ALL.into_iter().filter(|r| remedies & r.bit() != 0) {
            let was = before
                .remedy(remedy)
                .map_or(Status::NotOffered, |r| r.status);
            let is = now.remedy(remedy).map_or(Status::NotOffered, |r| r.status);
            if was == is {
                continue;
            }
            changed = true;
            let (remedy_name, from, to) = (remedy.name(), was.name(), is.name());
            let g = self
                .remedies
                .entry((remedy_name, from, to))
                .or_insert_with(|| RemedyChange::new(remedy_name, from, to));
            g.decisions += 1;
            // The clauses the draft cites for its answer, else those cited before (kept
            // apart, so a reader knows whose they are); each copied once into the group.
            let cited =
                |d: &Decision<'_>| d.remedy(remedy).is_some_and(|r| !r.citations.is_empty());
            let (by, into) = if cited(now) {
                (now, &mut g.clauses)
            } else {
                (before, &mut g.recorded_clauses)
            };
            if let Some(r) = by.remedy(remedy) {
                for id in r.citations.iter().filter_map(|c| by.clause_id(c.at)) {
                    if !into.contains(id) {
                        into.insert(id.to_string());
                    }
                }
            }
            example(&mut g.cases, case_id);
        }
        let amount = |d: &Decision<'_>| d.refund.as_ref().map(|r| r.amount);
        let (was, is) = (amount(before), amount(now));
        if was != is {
            changed = true;
            // A refund in another currency is one withdrawn and one granted.
            let mut change = |currency: &str, delta: i64| {
                if !self.money.contains_key(currency) {
                    self.money
                        .insert(currency.to_string(), MoneyChange::new(currency));
                }
                let Some(m) = self.money.get_mut(currency) else {
                    return;
                };
                if delta > 0 {
                    m.granted += 1;
                    m.granted_minor = m.granted_minor.saturating_add(delta);
                } else if delta < 0 {
                    m.withdrawn += 1;
                    m.withdrawn_minor = m.withdrawn_minor.saturating_add(-delta);
                }
                if delta != 0 {
                    example(&mut m.cases, case_id);
                }
            };
            match (was, is) {
                (Some(w), Some(i)) if w.currency == i.currency => {
                    change(w.currency.as_str(), i.minor.saturating_sub(w.minor));
                }
                (w, i) => {
                    if let Some(w) = w {
                        change(w.currency.as_str(), -w.minor);
                    }
                    if let Some(i) = i {
                        change(i.currency.as_str(), i.minor);
                    }
                }
            }
        }
        let named = |name: DeadlineName| {
            before
                .deadlines
                .iter()
                .chain(&now.deadlines)
                .any(|d| d.name == name)
        };
        for name in DeadlineName::ALL.into_iter().filter(|n| named(*n)) {
            let due = |d: &Decision<'_>| {
                d.deadlines
                    .iter()
                    .find(|x| x.name == name)
                    .and_then(|x| x.due)
                    .map(|due| due.last_day)
            };
            let (was, is) = (due(before), due(now));
            if was == is {
                continue;
            }
            changed = true;
            let g = self
                .deadlines
                .entry(name.name())
                .or_insert_with(|| DeadlineChange::new(name.name()));
            match (was, is) {
                (Some(w), Some(i)) => {
                    let days = w.until(i).map_or(0, |span| i64::from(span.get_days()));
                    if days > 0 {
                        g.later += 1;
                    } else {
                        g.earlier += 1;
                    }
                    g.min_days = g.min_days.min(days);
                    g.max_days = g.max_days.max(days);
                }
                (None, Some(_)) => g.set += 1,
                (Some(_), None) => g.removed += 1,
                (None, None) => {}
            }
            example(&mut g.cases, case_id);
        }
        changed
    }

    /// Adds another worker's counts.
    fn merge(&mut self, other: Tally) {
        for (k, o) in other.remedies {
            let g = self
                .remedies
                .entry(k)
                .or_insert_with(|| RemedyChange::new(&o.remedy, &o.from, &o.to));
            g.decisions += o.decisions;
            g.clauses.extend(o.clauses);
            g.recorded_clauses.extend(o.recorded_clauses);
            for c in o.cases {
                example(&mut g.cases, c);
            }
        }
        for (k, o) in other.money {
            let m = self
                .money
                .entry(k)
                .or_insert_with(|| MoneyChange::new(&o.currency));
            m.granted += o.granted;
            m.granted_minor = m.granted_minor.saturating_add(o.granted_minor);
            m.withdrawn += o.withdrawn;
            m.withdrawn_minor = m.withdrawn_minor.saturating_add(o.withdrawn_minor);
            for c in o.cases {
                example(&mut m.cases, c);
            }
        }
        for (k, o) in other.deadlines {
            let d = self
                .deadlines
                .entry(k)
                .or_insert_with(|| DeadlineChange::new(&o.deadline));
            d.later += o.later;
            d.earlier += o.earlier;
            d.set += o.set;
            d.removed += o.removed;
            d.min_days = d.min_days.min(o.min_days);
            d.max_days = d.max_days.max(o.max_days);
            for c in o.cases {
                example(&mut d.cases, c);
            }
        }
    }

    fn into(self, sim: &mut Simulation) {
        sim.remedies = self.remedies.into_values().collect();
        // Most decisions first.
        sim.remedies
            .sort_by(|a, b| b.decisions.cmp(&a.decisions).then(a.remedy.cmp(&b.remedy)));
        sim.money = self.money.into_values().collect();
        sim.deadlines = self
            .deadlines
            .into_values()
            .map(|mut d| {
                if d.later + d.earlier == 0 {
                    (d.min_days, d.max_days) = (0, 0);
                }
                d
            })
            .collect();
    }
}

/// The set a draft is simulated in: the policies loaded, with every version of the draft's
/// policy (each file whose `[policy] id` is the draft's) taken out and the draft put in. The
/// draft's id, from its text.
pub fn with_draft(
    live: Vec<aftercare_policy::SourceFile>,
    draft: aftercare_policy::SourceFile,
) -> Result<(Policies, String), AppError> {
    let id = draft_id(&draft.text)?;
    let mut files: Vec<_> = live
        .into_iter()
        .filter(|f| draft_id(&f.text).ok().as_deref() != Some(id.as_str()))
        .collect();
    files.push(draft);
    Ok((Policies::from_sources(files)?, id))
}

/// The `[policy] id` a policy text gives.
fn draft_id(text: &str) -> Result<String, AppError> {
    let v: toml::Value =
        toml::from_str(text).map_err(|e| AppError::invalid("draft", e.to_string()))?;
    v.get("policy")
        .and_then(|p| p.get("id"))
        .and_then(toml::Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| AppError::invalid("draft", "no `id` in its `[policy]` table"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail on error")]

    use super::*;

    #[test]
    fn a_stopped_job_claims_no_more_decisions() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies");
        let policies = Policies::from_sources(crate::policies::read_dir(&dir).unwrap()).unwrap();
        let mut store = Store::open("sqlite::memory:").unwrap();
        let job = Job {
            policy: policies.get("maintenance").unwrap(),
            history: "maintenance",
            since: i64::MIN,
            span: SPAN,
            last: 10 * SPAN,
            next: AtomicI64::new(1),
            done: AtomicU64::new(0),
            stop: AtomicBool::new(true),
            ended: AtomicUsize::new(0),
        };
        let worked = job.work(&mut store).unwrap();
        assert_eq!(worked.decisions, 0);
        assert_eq!(job.next.load(Ordering::Relaxed), 1, "no range was claimed");
        // Not stopped, the same job walks every range (of an empty history) to the end.
        job.stop.store(false, Ordering::Relaxed);
        job.work(&mut store).unwrap();
        assert!(job.next.load(Ordering::Relaxed) > job.last);
        // Progress is the range read: ids 1 to 10 spans, every one of them.
        assert_eq!(
            job.done.load(Ordering::Relaxed),
            u64::try_from(10 * SPAN).unwrap()
        );
    }
}
