//! The service commands: `import`, `case …`, `tick`, `audit verify`. Each opens the database
//! (`--db`, else `$AFTERCARE_DB`, else `sqlite://aftercare.db` in the working directory,
//! created on first use) and the policies directory.

use std::path::Path;

use aftercare_app::cases::{self, NewCase, Step};
use aftercare_app::stated::By;
use aftercare_app::{AppError, Policies, audit, import, published, sweep};
use aftercare_domain::case::{Action, CaseKind, State};
use aftercare_policy::facts::When;
use aftercare_store::Store;
use jiff::Timestamp;
use serde_json::{Map, Value as J};

use super::policy::Output;
use crate::files;

/// Where and when the service runs, and who acts.
#[derive(Debug, Clone)]
pub struct Env {
    pub db: String,
    /// `--now`/`$AFTERCARE_NOW` when given (tests, replays), else the system clock.
    pub clock: Option<When>,
    pub actor: String,
    pub policies_dir: std::path::PathBuf,
}

impl Env {
    fn store(&self) -> Result<Store, String> {
        Store::open(&self.db).map_err(|e| format!("cannot open the database `{}`: {e}", self.db))
    }

    fn policies(&self) -> Result<Policies, String> {
        self.load_policies()
    }

    /// The policies published in the database, linked; a database where nothing is
    /// published yet is first given the policies folder's.
    pub fn load_policies(&self) -> Result<Policies, String> {
        let mut store = self.store()?;
        self.live(&mut store).map(|(_, p)| p)
    }

    /// [`Env::load_policies`] on an open store, with the publications' generation.
    pub fn live(&self, store: &mut Store) -> Result<(i64, Policies), String> {
        let dir = &self.policies_dir;
        published::load_or_seed(store, || files::folder(dir), Timestamp::now()).map_err(app)
    }

    /// Seeds a database where nothing is published yet from the policies folder, loading
    /// nothing: for commands that read the published texts themselves.
    fn seeded(&self, store: &mut Store) -> Result<(), String> {
        let dir = &self.policies_dir;
        published::seed_if_empty(store, || files::folder(dir), Timestamp::now())
            .map(|_| ())
            .map_err(app)
    }

    /// The moment to act at, for a command about seller policy `policy` (or about no one
    /// policy). `--now` with a date alone means the start of that day in the policy's zone, as
    /// for `policy explain` and scenarios ([`When::at`]); for a command about no one policy,
    /// in the zone all loaded seller policies share, and a date alone is refused when they do
    /// not share one.
    fn now(&self, policy: Option<&str>) -> Result<Timestamp, String> {
        let day = match self.clock {
            None => return Ok(Timestamp::now()),
            Some(When::Instant(t)) => return Ok(t),
            Some(When::Day(d)) => d,
        };
        let policies = self.policies()?;
        let zone = match policy {
            Some(id) => policies.get(id).map_err(app)?.tz().clone(),
            None => {
                let mut zones: Vec<&str> =
                    policies.sellers().map(|p| p.time_zone.as_str()).collect();
                zones.sort_unstable();
                zones.dedup();
                match zones.as_slice() {
                    [one] => jiff::tz::TimeZone::get(one).map_err(|e| e.to_string())?,
                    _ => {
                        return Err(format!(
                            "--now: `{day}` alone is ambiguous here: the policies are in {}; \
                             give a timestamp with an offset, like {day}T00:00:00+08:00",
                            zones.join(", ")
                        ));
                    }
                }
            }
        };
        When::Day(day)
            .at(&zone)
            .ok_or_else(|| format!("--now: `{day}` cannot be placed in its policy's zone"))
    }

    /// The moment `--now` fixes the clock at (a date alone as for a command about no one
    /// policy); `None` without `--now`: the system clock.
    pub fn fixed_now(&self) -> Result<Option<Timestamp>, String> {
        match self.clock {
            None => Ok(None),
            Some(_) => self.now(None).map(Some),
        }
    }

    /// [`Env::now`] for a command about case `id`: a date alone is placed in its policy's zone.
    fn now_for_case(&self, store: &mut Store, id: i64) -> Result<Timestamp, String> {
        if !matches!(self.clock, Some(When::Day(_))) {
            return self.now(None);
        }
        let case = store.tx(|tx| cases::load(tx, id)).map_err(app)?;
        self.now(Some(&case.policy_id))
    }
}

/// `path=value` pairs: the value is JSON when it parses as JSON (`true`, `3`, `["drop"]`),
/// else a string.
pub fn parse_facts(pairs: &[String]) -> Result<Map<String, J>, String> {
    let mut out = Map::new();
    for p in pairs {
        let (k, v) = p
            .split_once('=')
            .ok_or_else(|| format!("--fact `{p}`: expected PATH=VALUE"))?;
        let v = serde_json::from_str(v).unwrap_or_else(|_| J::String(v.to_string()));
        out.insert(k.trim().to_string(), v);
    }
    Ok(out)
}

fn run(f: impl FnOnce() -> Result<String, String>) -> Output {
    match f() {
        Ok(s) => Output::ok(s),
        Err(e) => Output::fail(format!("error: {e}\n")),
    }
}

fn app(e: AppError) -> String {
    e.to_string()
}

/// `aftercare import FILE`
pub fn import(env: &Env, path: &Path) -> Output {
    run(|| {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
        let csv = path
            .extension()
            .is_some_and(|x| x.eq_ignore_ascii_case("csv"));
        let batch = if csv {
            aftercare_app::csv_import::parse(&text)
        } else {
            import::parse_json(&text)
        }
        .map_err(|e| format!("{}: {e}", path.display()))?;
        let policies = env.policies()?;
        let mut store = env.store()?;
        let bar = indicatif::ProgressBar::new(u64::try_from(batch.len()).unwrap_or(0));
        let now = env.now(None)?;
        // Dates in the registry may not be later than today: the day `--now` names, else
        // today in UTC.
        let today = match env.clock {
            Some(When::Day(d)) => d,
            _ => now.to_zoned(jiff::tz::TimeZone::UTC).date(),
        };
        let loaded = import::load(
            &mut store,
            &policies,
            &batch,
            &text,
            &env.actor,
            now,
            today,
            &mut |done, _| bar.set_position(done),
        );
        bar.finish_and_clear();
        let l = loaded.map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(format!(
            "imported {}: {} SKUs, {} customers, {} units, {} orders, {} invoices, {} shipments\n",
            path.display(),
            l.skus,
            l.customers,
            l.units,
            l.orders,
            l.invoices,
            l.shipments
        ))
    })
}

/// `case open`: the command line's arguments are the service's.
#[derive(Debug, clap::Args)]
pub struct OpenArgs {
    /// return, delivery_damage, wrong_item, warranty_service, paid_repair, service_withdrawal
    #[arg(long)]
    pub kind: String,
    /// The customer's ref.
    #[arg(long)]
    pub customer: Option<String>,
    #[arg(long)]
    pub order: Option<String>,
    #[arg(long)]
    pub serial: Option<String>,
    /// The seller policy (default: the one the unit's or order's SKU names).
    #[arg(long)]
    pub policy: Option<String>,
    /// A fact about the case, PATH=VALUE (repeatable), e.g. problem.reported=defect.
    #[arg(long = "fact")]
    pub facts: Vec<String>,
    /// What happened, in the customer's words.
    #[arg(long)]
    pub description: Option<String>,
}

pub fn case_open(env: &Env, a: &OpenArgs) -> Output {
    run(|| {
        let kind: CaseKind = a.kind.parse().map_err(|e| format!("--kind: {e}"))?;
        let new = NewCase {
            open_key: None,
            kind: Some(kind),
            customer: a.customer.clone(),
            order_no: a.order.clone(),
            serial: a.serial.clone(),
            policy: a.policy.clone(),
            facts: parse_facts(&a.facts)?,
            description: a.description.clone(),
        };
        let policies = env.policies()?;
        let mut store = env.store()?;
        let now = env.now(new.policy.as_deref())?;
        let id =
            cases::open(&mut store, &policies, &new, By::Operator, &env.actor, now).map_err(app)?;
        Ok(format!("{id}\n"))
    })
}

pub fn case_show(env: &Env, id: i64) -> Output {
    run(|| {
        let mut store = env.store()?;
        let shown = cases::show(&mut store, id).map_err(app)?;
        Ok(format!(
            "{}\n",
            serde_json::to_string_pretty(&shown).unwrap_or_default()
        ))
    })
}

pub fn case_list(env: &Env, state: Option<&str>, limit: i64) -> Output {
    run(|| {
        let state: Option<State> = state
            .map(str::parse)
            .transpose()
            .map_err(|e| format!("--state: {e}"))?;
        let mut store = env.store()?;
        let list = cases::list(&mut store, state, limit).map_err(app)?;
        let mut out = String::from("id\tkind\tstate\tpolicy\tserial\tupdated\n");
        for c in list {
            out.push_str(&format!(
                "{}\t{}\t{}\t{}\t{}\t{}\n",
                c.id,
                c.kind,
                c.state,
                c.policy_id,
                c.serial.as_deref().unwrap_or("-"),
                c.updated_at
            ));
        }
        Ok(out)
    })
}

pub fn case_decide(env: &Env, id: i64) -> Output {
    run(|| {
        let policies = env.policies()?;
        let mut store = env.store()?;
        let now = env.now_for_case(&mut store, id)?;
        let rec = cases::decide(&mut store, &policies, id, &env.actor, now).map_err(app)?;
        let mut out = format!("decision {} for case {id}\n", rec.id);
        for (remedy, status) in &rec.remedies {
            out.push_str(&format!("  {:<26} {}\n", remedy.name(), status.name()));
        }
        Ok(out)
    })
}

pub fn case_reexplain(env: &Env, decision: i64) -> Output {
    run(|| {
        let mut store = env.store()?;
        let (stored, again) = cases::reexplain(&mut store, decision).map_err(app)?;
        if stored != again {
            return Err(format!(
                "decision {decision} comes out differently when made again from its stored policy texts and facts"
            ));
        }
        Ok(format!(
            "{}\n",
            serde_json::to_string_pretty(&again).unwrap_or_default()
        ))
    })
}

/// `case transition`: the command line's arguments are the service's.
#[derive(Debug, clap::Args)]
pub struct TransitionArgs {
    pub id: i64,
    pub action: String,
    /// A fact this step establishes, PATH=VALUE (repeatable).
    #[arg(long = "fact")]
    pub facts: Vec<String>,
    /// For approve: the authorisation number (default RA-<id>).
    #[arg(long)]
    pub authorisation: Option<String>,
    /// For approve: the ship-by date (default: the decision's).
    #[arg(long)]
    pub ship_by: Option<String>,
    #[arg(long)]
    pub note: Option<String>,
    /// For quote: a line KIND:DESCRIPTION:AMOUNT, e.g. part:Fan:25.00 (repeatable).
    #[arg(long = "line")]
    pub quote_lines: Vec<String>,
}

pub fn case_transition(env: &Env, a: &TransitionArgs) -> Output {
    run(|| {
        let action: Action = a.action.parse()?;
        let mut step = Step::new(action);
        step.facts = parse_facts(&a.facts)?;
        step.authorisation = a.authorisation.clone();
        step.ship_by = a
            .ship_by
            .as_deref()
            .map(str::parse)
            .transpose()
            .map_err(|e| format!("--ship-by: {e}"))?;
        step.note = a.note.clone();
        step.quote_lines = a.quote_lines.clone();
        let policies = env.policies()?;
        let mut store = env.store()?;
        let now = env.now_for_case(&mut store, a.id)?;
        let c = cases::transition(
            &mut store,
            &policies,
            a.id,
            &step,
            By::Operator,
            &env.actor,
            now,
        )
        .map_err(app)?;
        let mut out = format!("case {} is {}\n", c.id, c.state);
        if let Some(ra) = &c.authorisation
            && action == Action::Approve
        {
            out.push_str(&format!("authorisation {ra}"));
            if let Some(d) = c.ship_by {
                out.push_str(&format!(", ship by {d}"));
            }
            out.push('\n');
        }
        Ok(out)
    })
}

pub fn case_diagram() -> Output {
    Output::ok(aftercare_domain::case::mermaid())
}

/// `aftercare tick`: one sweep. Timers that could not fire (a policy not loaded, stored data
/// that no longer reads) stay pending and are named on stderr with their case and cause; the
/// command then exits 1, after firing every other due timer.
pub fn tick(env: &Env, batch: i64) -> Output {
    let swept = (|| -> Result<sweep::Swept, String> {
        let policies = env.policies()?;
        let mut store = env.store()?;
        sweep::sweep(&mut store, &policies, env.now(None)?, batch).map_err(app)
    })();
    let swept = match swept {
        Ok(s) => s,
        Err(e) => return Output::fail(format!("error: {e}\n")),
    };
    let mut out = format!("{} timer(s) fired\n", swept.fired.len());
    for f in &swept.fired {
        out.push_str(&format!(
            "  case {}: {} ({})\n",
            f.case_id, f.kind, f.outcome
        ));
    }
    let stderr = failures(&swept.failed);
    Output {
        code: i32::from(!swept.failed.is_empty()),
        stdout: out,
        stderr,
    }
}

/// Each timer that could not fire, a line each.
fn failures(failed: &[sweep::Failed]) -> String {
    failed
        .iter()
        .map(|f| {
            format!(
                "error: case {}: timer {} not fired, left pending for the next sweep: {}\n",
                f.case_id, f.kind, f.error
            )
        })
        .collect()
}

/// `aftercare tick --every SECONDS [--rounds N]`: the background sweeper. Prints each sweep
/// that fired something, and each failed sweep, as it happens; a failed sweep is retried at
/// the next round with a new connection.
pub fn tick_every(env: &Env, batch: i64, every: f64, rounds: Option<u64>) -> Output {
    run(|| {
        let every = std::time::Duration::try_from_secs_f64(every)
            .map_err(|_| format!("--every: `{every}` is not a number of seconds"))?;
        // The published policies, taken up again before each round when a new version is
        // published (as servers do), on a connection of their own.
        let mut watch = env.store()?;
        let (generation, policies) = env.live(&mut watch)?;
        let live = published::Live::new(generation, policies);
        let watch = std::sync::Mutex::new(watch);
        let stop = std::sync::atomic::AtomicBool::new(false);
        let sweeper = sweep::Sweeper {
            every,
            batch,
            rounds,
            stop: &stop,
        };
        let connect = || Store::open(&env.db).map_err(aftercare_app::AppError::from);
        let fixed = match env.clock {
            Some(_) => Some(env.now(None)?),
            None => None,
        };
        let clock = || fixed.unwrap_or_else(Timestamp::now);
        let (mut failed, mut not_fired) = (0u64, 0u64);
        let current = || {
            if let Ok(mut store) = watch.lock()
                && let Err(e) = live.refresh(&mut store)
            {
                eprintln!(
                    "warning: the published policies did not load ({e}); keeping the ones loaded"
                );
            }
            live.get()
        };
        let fired = sweep::run_sweeper(&connect, &current, &clock, &sweeper, &mut |r| {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            match r {
                sweep::Round::Swept(s) => {
                    for f in &s.fired {
                        let _ = writeln!(out, "case {}: {} ({})", f.case_id, f.kind, f.outcome);
                    }
                    not_fired += u64::try_from(s.failed.len()).unwrap_or(u64::MAX);
                    let _ = write!(std::io::stderr(), "{}", failures(&s.failed));
                }
                sweep::Round::Failed(e) => {
                    failed += 1;
                    let _ = writeln!(out, "sweep failed, retrying next round: {e}");
                }
            }
            let _ = out.flush();
        });
        let summary = format!(
            "{fired} timer(s) fired, {failed} sweep(s) failed, {not_fired} timer failure(s)\n"
        );
        if not_fired > 0 {
            return Err(summary.trim_end().to_string());
        }
        Ok(summary)
    })
}

/// `aftercare migrate`
pub fn migrate(env: &Env) -> Output {
    run(|| {
        let mut store = Store::connect_unmigrated(&env.db)
            .map_err(|e| format!("cannot open the database `{}`: {e}", env.db))?;
        let version = store.migrate().map_err(|e| e.to_string())?;
        Ok(format!("{}: schema at version {version}\n", store.url()))
    })
}

/// `aftercare audit verify`
pub fn audit_verify(env: &Env, public_key: Option<String>, checkpoint: Option<&Path>) -> Output {
    run(|| {
        let checkpoint = checkpoint
            .map(|p| -> Result<audit::Checkpoint, String> {
                let text = std::fs::read_to_string(p)
                    .map_err(|e| format!("--checkpoint `{}`: {e}", p.display()))?;
                serde_json::from_str(&text).map_err(|e| {
                    format!(
                        "--checkpoint `{}`: not a checkpoint from `aftercare audit checkpoint`: {e}",
                        p.display()
                    )
                })
            })
            .transpose()?;
        if let Some(k) = &public_key
            && (k.len() != 64 || !k.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            return Err(format!(
                "--public-key `{k}`: an ed25519 public key is 64 hexadecimal digits"
            ));
        }
        let mut store = env.store()?;
        let v = audit::verify_with(
            &mut store,
            &audit::Expect {
                public_key: public_key.map(|k| k.to_ascii_lowercase()),
                checkpoint,
            },
        )
        .map_err(app)?;
        let mut out = format!(
            "audit log intact: {} events in {} chains; {} sealed in the tree (root {}), {} waiting for the sealer\n{} checkpoints",
            v.events, v.chains, v.sealed, v.root, v.pending, v.checkpoints
        );
        if v.unsigned > 0 {
            out.push_str(&format!(", {} of them not signed", v.unsigned));
        }
        for k in &v.signed_by {
            out.push_str(&format!("; signed by {k}"));
        }
        out.push('\n');
        Ok(out)
    })
}

/// `aftercare audit seal`
pub fn audit_seal(env: &Env, key: Option<&Path>) -> Output {
    run(|| {
        let key = key
            .map(audit::SealKey::from_file)
            .transpose()
            .map_err(app)?;
        let mut store = env.store()?;
        match audit::seal_all(&mut store, key.as_ref(), Timestamp::now()).map_err(app)? {
            Some(c) => Ok(format!(
                "sealed: the tree has {} events, root {}{}\n",
                c.tree_size,
                c.root,
                if c.signature.is_some() {
                    ", signed"
                } else {
                    ", not signed (no --audit-key)"
                }
            )),
            None => Ok("nothing to seal\n".to_string()),
        }
    })
}

/// `aftercare audit checkpoint`
pub fn audit_checkpoint(env: &Env) -> Output {
    run(|| {
        let mut store = env.store()?;
        let c = audit::latest_checkpoint(&mut store)
            .map_err(app)?
            .ok_or("no checkpoint yet: nothing has been sealed (`aftercare audit seal`)")?;
        serde_json::to_string_pretty(&c)
            .map(|s| s + "\n")
            .map_err(|e| e.to_string())
    })
}

/// `aftercare audit keygen FILE`
pub fn audit_keygen(file: &Path) -> Output {
    run(|| {
        let key = audit::SealKey::create(file).map_err(app)?;
        Ok(format!(
            "a new audit key is in {} (keep it secret, away from the database)\npublic key: {}\n",
            file.display(),
            key.public_hex()
        ))
    })
}

/// `aftercare refund record`
pub fn refund_record(
    env: &Env,
    order: &str,
    amount: &str,
    key: &str,
    case: Option<i64>,
    reason: &str,
) -> Output {
    run(|| {
        let money = aftercare_policy::value::Money::parse(amount)
            .map_err(|e| format!("--amount `{amount}`: {e}"))?;
        let mut store = env.store()?;
        let r = aftercare_app::money::record(
            &mut store,
            &aftercare_app::money::RefundRequest {
                order_no: order.to_string(),
                case_id: case,
                amount_minor: money.minor,
                currency: Some(money.currency.as_str().to_string()),
                idempotency_key: key.to_string(),
                reason: reason.to_string(),
            },
            &env.actor,
            env.now(None)?,
        )
        .map_err(app)?;
        Ok(if r.replayed {
            format!(
                "refund {} of {} on order {} was already recorded under this key\n",
                r.id, r.amount, r.order_no
            )
        } else {
            format!(
                "refund {} of {} on order {} recorded\n",
                r.id, r.amount, r.order_no
            )
        })
    })
}

/// `aftercare refund paid`
pub fn refund_paid(env: &Env, id: i64) -> Output {
    run(|| {
        let mut store = env.store()?;
        let now = env.now(None)?;
        aftercare_app::money::mark_paid(&mut store, id, &env.actor, now).map_err(app)?;
        Ok(format!("refund {id} paid\n"))
    })
}

/// `aftercare customer export`
pub fn customer_export(env: &Env, reference: &str) -> Output {
    run(|| {
        let mut store = env.store()?;
        let all = aftercare_app::personal::export(
            &mut store,
            reference,
            &aftercare_app::accounts::Sellers::All,
        )
        .map_err(app)?;
        Ok(format!(
            "{}\n",
            serde_json::to_string_pretty(&all).unwrap_or_default()
        ))
    })
}

/// `aftercare customer erase`
pub fn customer_erase(env: &Env, reference: &str) -> Output {
    run(|| {
        let mut store = env.store()?;
        let placeholder =
            aftercare_app::personal::erase(&mut store, reference, &env.actor, env.now(None)?)
                .map_err(app)?;
        Ok(format!(
            "customer `{reference}` erased; now `{placeholder}`\n"
        ))
    })
}

/// `aftercare case photo`
pub fn case_photo(env: &Env, id: i64, kind: &str, file: &Path, dir: &Path) -> Output {
    run(|| {
        let bytes = std::fs::read(file).map_err(|e| format!("{}: {e}", file.display()))?;
        let policies = env.policies()?;
        let mut store = env.store()?;
        let now = env.now_for_case(&mut store, id)?;
        // The operator on the server's machine: every seller's cases.
        let operator = aftercare_app::accounts::Principal::Staff {
            user_id: 0,
            email: env.actor.clone(),
            role: aftercare_app::accounts::Role::Admin,
            sellers: aftercare_app::accounts::Sellers::All,
            scopes: None,
        };
        let attached = aftercare_app::evidence::attach(
            &mut store,
            &aftercare_app::evidence::Folder(dir.to_path_buf()),
            &policies,
            &operator,
            id,
            kind,
            &bytes,
            now,
        )
        .map_err(app)?;
        let mut out = format!(
            "photo {} ({}, {}×{}) attached to case {id}\n",
            attached.photo.id, attached.photo.kind, attached.photo.width, attached.photo.height
        );
        if !attached.still_missing.is_empty() {
            out.push_str(&format!(
                "still missing: {}\n",
                attached.still_missing.join(", ")
            ));
        }
        Ok(out)
    })
}

/// `aftercare case correct`
pub fn case_correct(env: &Env, id: i64, facts: &[String], reason: &str) -> Output {
    run(|| {
        let correction = cases::Correction {
            facts: parse_facts(facts)?,
            reason: reason.to_string(),
            if_version: None,
        };
        let policies = env.policies()?;
        let mut store = env.store()?;
        let now = env.now_for_case(&mut store, id)?;
        let c = cases::correct(
            &mut store,
            &policies,
            id,
            &correction,
            By::Operator,
            &env.actor,
            now,
        )
        .map_err(app)?;
        Ok(format!("case {} corrected ({})\n", c.id, c.state))
    })
}

/// `aftercare case repaired`
pub fn case_repaired(
    env: &Env,
    id: i64,
    failed: bool,
    parts: &[String],
    replacement: Option<&str>,
) -> Output {
    run(|| {
        let policies = env.policies()?;
        let mut store = env.store()?;
        let now = env.now_for_case(&mut store, id)?;
        let detail = aftercare_app::repairs::record_repair(
            &mut store,
            &policies,
            id,
            &aftercare_app::repairs::RepairReport {
                fixed: !failed,
                parts: parts.to_vec(),
                replacement_serial: replacement.map(str::to_string),
                if_version: None,
            },
            &env.actor,
            now,
        )
        .map_err(app)?;
        Ok(format!(
            "{}\n",
            serde_json::to_string_pretty(&detail).unwrap_or_default()
        ))
    })
}

/// `aftercare warranty SERIAL`
pub fn warranty(env: &Env, serial: &str) -> Output {
    run(|| {
        let mut store = env.store()?;
        let seen = aftercare_app::lineage::lookup(&mut store, serial).map_err(app)?;
        Ok(format!(
            "{}\n",
            serde_json::to_string_pretty(&seen).unwrap_or_default()
        ))
    })
}

/// `aftercare user add`: the password from `$AFTERCARE_PASSWORD`, else a line of stdin.
pub fn user_add(env: &Env, email: &str, name: &str, role: &str, sellers: &[String]) -> Output {
    run(|| {
        let role = aftercare_app::accounts::Role::parse(role).map_err(app)?;
        let password = match std::env::var("AFTERCARE_PASSWORD") {
            Ok(p) if !p.is_empty() => p,
            _ => {
                let mut line = String::new();
                std::io::stdin()
                    .read_line(&mut line)
                    .map_err(|e| format!("cannot read the password from stdin: {e}"))?;
                line.trim_end_matches(['\r', '\n']).to_string()
            }
        };
        let mut store = env.store()?;
        let id = aftercare_app::accounts::add_user(
            &mut store,
            &aftercare_app::accounts::NewUser {
                email: email.to_string(),
                name: name.to_string(),
                role,
                password,
                sellers: sellers.to_vec(),
            },
            &env.actor,
            env.now(None)?,
        )
        .map_err(app)?;
        Ok(format!("user {id}: {email} ({})\n", role.as_str()))
    })
}

pub fn user_list(env: &Env) -> Output {
    run(|| {
        let mut store = env.store()?;
        let users = aftercare_app::accounts::list_users(&mut store).map_err(app)?;
        let mut out = String::new();
        for u in users {
            out.push_str(&format!(
                "{:<5} {:<32} {:<11} {:<24} {}{}\n",
                u.id,
                u.email,
                u.role.as_str(),
                u.sellers.join(","),
                u.name,
                if u.disabled { " (disabled)" } else { "" }
            ));
        }
        Ok(out)
    })
}

pub fn user_disable(env: &Env, email: &str) -> Output {
    run(|| {
        let mut store = env.store()?;
        aftercare_app::accounts::disable_user(&mut store, email, &env.actor, env.now(None)?)
            .map_err(app)?;
        Ok(format!(
            "{email} disabled; its sessions and tokens no longer work\n"
        ))
    })
}

pub fn token_create(env: &Env, email: &str, name: &str, scopes: &[String]) -> Output {
    run(|| {
        let mut store = env.store()?;
        let (id, secret) = aftercare_app::accounts::create_token(
            &mut store,
            email,
            name,
            scopes,
            &env.actor,
            env.now(None)?,
        )
        .map_err(app)?;
        Ok(format!(
            "token {id} for {email} ({})\n{secret}\nKeep it now: it is not stored and cannot be shown again.\n",
            scopes.join(" ")
        ))
    })
}

pub fn token_revoke(env: &Env, id: i64) -> Output {
    run(|| {
        let mut store = env.store()?;
        aftercare_app::accounts::revoke_token(&mut store, id, &env.actor, env.now(None)?)
            .map_err(app)?;
        Ok(format!("token {id} revoked\n"))
    })
}

/// `aftercare policy simulate DRAFT [--since DATE] [--seller S] [--json]`: every decision
/// recorded under the draft's policy made again with the draft, and what would change.
pub fn policy_simulate(
    env: &Env,
    draft: &Path,
    since: Option<&str>,
    seller: Option<&str>,
    json: bool,
) -> Output {
    use aftercare_app::simulate::{self, Scope};
    run(|| {
        let text = std::fs::read_to_string(draft)
            .map_err(|e| format!("cannot read `{}`: {e}", draft.display()))?;
        let live = {
            let mut store = env.store()?;
            env.seeded(&mut store)?;
            store.read(|tx| published::sources(tx)).map_err(app)?
        };
        let (policies, id) = simulate::with_draft(
            live,
            aftercare_policy::SourceFile {
                name: draft.display().to_string(),
                text,
            },
        )
        .map_err(app)?;
        let policy = policies.get(&id).map_err(app)?;
        if let Some(s) = seller
            && policy.seller.as_deref() != Some(s)
        {
            return Err(format!(
                "the draft is {}'s policy `{id}`, not {s}'s",
                policy.seller.as_deref().unwrap_or("no seller")
            ));
        }
        // As `--now`: a date alone is the start of that day in the policy's zone.
        let since = since
            .map(|d| {
                When::parse(d)
                    .map_err(|e| format!("--since `{d}`: {e}"))?
                    .at(policy.tz())
                    .ok_or_else(|| format!("--since `{d}`: not a moment in the policy's zone"))
            })
            .transpose()?;
        let mut store = env.store()?;
        // The share of the history read (not a count of decisions: see `simulate`).
        let bar = indicatif::ProgressBar::new(0).with_style(
            indicatif::ProgressStyle::with_template("{wide_bar} {percent} %")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        let sim = simulate::simulate(
            &mut store,
            &policies,
            &id,
            &Scope {
                since,
                history: None,
                span: None,
            },
            &mut |done, total| {
                bar.set_length(total);
                bar.set_position(done);
                true
            },
        )
        .map_err(app)?;
        bar.finish_and_clear();
        if json {
            return serde_json::to_string_pretty(&sim)
                .map(|s| s + "\n")
                .map_err(|e| e.to_string());
        }
        Ok(simulation_text(&sim))
    })
}

/// A simulation as a person reads it.
fn simulation_text(s: &aftercare_app::simulate::Simulation) -> String {
    use std::fmt::Write;
    let cases = |c: &std::collections::BTreeSet<i64>| {
        c.iter().map(i64::to_string).collect::<Vec<_>>().join(", ")
    };
    let mut out = format!(
        "policy `{}`, draft version {}: {} recorded decisions made again, {} would change\n",
        s.policy, s.draft_version, s.decisions, s.changed
    );
    if !s.remedies.is_empty() {
        out.push_str("\nremedies\n");
        for r in &s.remedies {
            let mut clauses = r.clauses.iter().cloned().collect::<Vec<_>>().join(", ");
            if !r.recorded_clauses.is_empty() {
                let recorded = r.recorded_clauses.iter().cloned().collect::<Vec<_>>();
                if !clauses.is_empty() {
                    clauses.push_str("; ");
                }
                let _ = write!(clauses, "(recorded policy's) {}", recorded.join(", "));
            }
            let _ = writeln!(
                out,
                "  {:<20} {:>11} -> {:<11} {:>7}   clauses {}   cases {}",
                r.remedy,
                r.from,
                r.to,
                r.decisions,
                if clauses.is_empty() {
                    "-".into()
                } else {
                    clauses
                },
                cases(&r.cases)
            );
        }
    }
    if !s.money.is_empty() {
        out.push_str("\nrefunds\n");
        for m in &s.money {
            let amount = |minor: i64| {
                aftercare_policy::value::Currency::parse(&m.currency).map_or_else(
                    |_| format!("{minor} {}", m.currency),
                    |currency| aftercare_policy::value::Money { minor, currency }.to_string(),
                )
            };
            let _ = writeln!(
                out,
                "  {}: {} granted or raised (+{}), {} withdrawn or lowered (-{}); cases {}",
                m.currency,
                m.granted,
                amount(m.granted_minor),
                m.withdrawn,
                amount(m.withdrawn_minor),
                cases(&m.cases)
            );
        }
    }
    if !s.deadlines.is_empty() {
        out.push_str("\ndeadlines\n");
        for d in &s.deadlines {
            let _ = writeln!(
                out,
                "  {:<16} {} later, {} earlier (by {} to {} days), {} set, {} gone; cases {}",
                d.deadline,
                d.later,
                d.earlier,
                d.min_days,
                d.max_days,
                d.set,
                d.removed,
                cases(&d.cases)
            );
        }
    }
    out
}

/// `aftercare policy import [DIR]`
pub fn policy_import(env: &Env, dir: &Path) -> Output {
    run(|| {
        let folder = files::folder(dir)?;
        let mut store = env.store()?;
        let now = env.now(None).unwrap_or_else(|_| Timestamp::now());
        // One read of the folder, one transaction: on a new database it is the seed (as a
        // server would seed it), else the actor's publication.
        let (done, kept) = store
            .tx(|tx| -> Result<_, AppError> {
                let first = published::generation(tx)? == 0;
                let by = if first {
                    format!("seed:{}", folder.from)
                } else {
                    env.actor.clone()
                };
                let versions = published::publish(tx, folder.policies, &by, now)?;
                let kept = published::save_scenarios(tx, &folder.scenarios, &by, now)?;
                Ok((versions, if first { 0 } else { kept }))
            })
            .map_err(app)?;
        let kept = if kept > 0 {
            format!("{kept} scenario(s) kept for the studio\n")
        } else {
            String::new()
        };
        if done.is_empty() {
            return Ok(format!(
                "nothing to publish: every policy in `{}` is published already\n{kept}",
                dir.display()
            ));
        }
        let mut out = kept;
        for v in &done {
            out.push_str(&format!(
                "published {} {} (from {}, #{})\n",
                v.policy_id, v.version, v.effective_from, v.seq
            ));
        }
        Ok(out)
    })
}

/// `aftercare policy versions`
pub fn policy_export(env: &Env, dir: &Path) -> Output {
    run(|| {
        let mut store = env.store()?;
        env.seeded(&mut store)?;
        let files = store.read(|tx| published::export(tx)).map_err(app)?;
        let mut counts = (0, 0);
        for (path, text) in &files {
            let to = dir.join(path);
            if let Some(parent) = to.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(|e| format!("cannot create `{}`: {e}", parent.display()))?;
            }
            // Written whole, then renamed over the file: a reader never sees half of one.
            let part = to.with_extension("toml.part");
            std::fs::write(&part, text)
                .and_then(|()| std::fs::rename(&part, &to))
                .map_err(|e| format!("cannot write `{}`: {e}", to.display()))?;
            if path.starts_with("cases") {
                counts.1 += 1;
            } else {
                counts.0 += 1;
            }
        }
        Ok(format!(
            "wrote {} policies and {} scenarios to `{}`\n",
            counts.0,
            counts.1,
            dir.display()
        ))
    })
}

pub fn policy_versions(env: &Env) -> Output {
    run(|| {
        let mut store = env.store()?;
        env.seeded(&mut store)?;
        let versions = store.read(|tx| published::list(tx)).map_err(app)?;
        let mut out = String::new();
        for v in versions {
            out.push_str(&format!(
                "#{:<4} {:<16} {:<12} from {}  {}  by {} at {}\n",
                v.seq,
                v.policy_id,
                v.version,
                v.effective_from,
                &v.hash[..12],
                v.published_by,
                v.published_at
            ));
        }
        Ok(out)
    })
}
