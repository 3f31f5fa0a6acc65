//! The `aftercare` binary.

/// mimalloc, not glibc's malloc: a request allocates and frees many small values (JSON,
/// rows, the decision's explanation), and glibc's allocator took about a seventh of the
/// server's cycles (docs/architecture.md, "Still to do", says how that was measured and what
/// changed with it).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::PathBuf;
use std::process::ExitCode;

use aftercare_cli::commands::policy::{self, ExplainArgs, Output};
use aftercare_cli::commands::service::{self, OpenArgs, TransitionArgs};
use aftercare_cli::files::policies_dir;
use aftercare_policy::facts::When;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "aftercare",
    version,
    about = "After-sales policies that decide, cite and run"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Where the data is, when it is and who acts: before or after the subcommand.
    #[command(flatten)]
    service: ServiceArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Policy files: check, explain decisions, run the scenario corpus.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// Staff accounts: add, list, disable.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// API tokens for integrations: create (the secret is shown once), revoke.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Serve the JSON API over HTTP, with the timer sweeper in the same process.
    Serve(ServeArgs),
    /// Load the demo (five sellers, accounts for every role, cases in every state) into
    /// `./aftercare-demo.db` (or `--db`) the first time, then serve it.
    Demo(ServeArgs),
    /// Bring the database's schema up to date (the service's other commands do it too; a
    /// server runs it once at start).
    Migrate,
    /// Load the registry (SKUs, customers, units, orders, invoices) from a JSON or CSV file.
    Import { file: PathBuf },
    /// Cases: open, show, list, decide, transition.
    Case {
        #[command(subcommand)]
        command: CaseCommand,
    },
    /// Fire every timer that is due; with `--every`, keep sweeping (a background sweeper: any
    /// number may run against one PostgreSQL, and each timer still fires once).
    Tick {
        #[arg(long, default_value_t = 500)]
        batch: i64,
        /// Sweep again every this many seconds, until stopped (Ctrl-C between sweeps is safe:
        /// each sweep is one transaction).
        #[arg(long, value_name = "SECONDS")]
        every: Option<f64>,
        /// With `--every`: stop after this many sweeps.
        #[arg(long, requires = "every")]
        rounds: Option<u64>,
    },
    /// Refunds: recorded with an idempotency key, never over what was paid.
    Refund {
        #[command(subcommand)]
        command: RefundCommand,
    },
    /// A serial's warranty and whole history: lineage, first sale, parts, repairs, cases.
    Warranty { serial: String },
    /// Personal data: export or erase a customer.
    Customer {
        #[command(subcommand)]
        command: CustomerCommand,
    },
    /// The audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
}

fn service_env(a: ServiceArgs) -> Result<service::Env, Output> {
    let clock = match a.now.as_deref() {
        Some(s) => Some(When::parse(s).map_err(|e| Output {
            stdout: String::new(),
            stderr: format!("error: --now: {e}\n"),
            code: 2,
        })?),
        None => None,
    };
    Ok(service::Env {
        db: a.db.unwrap_or_else(|| "sqlite://aftercare.db".to_string()),
        clock,
        actor: a.actor,
        policies_dir: policies_dir(a.policies.as_deref()),
    })
}

/// How `serve` listens.
#[derive(clap::Args, Clone, Debug)]
struct ServeArgs {
    /// The address to listen on.
    #[arg(long, env = "AFTERCARE_BIND", default_value = "127.0.0.1:8080")]
    bind: std::net::SocketAddr,
    /// Also serve /metrics on this address, to anyone who reaches it and nothing else there
    /// (an internal interface for a scraper); on --bind they need an API token with the
    /// `metrics:read` scope.
    #[arg(long, env = "AFTERCARE_METRICS_BIND", value_name = "ADDR")]
    metrics_bind: Option<std::net::SocketAddr>,
    /// Sweep due timers every this many seconds (0: no sweeper in this process).
    #[arg(
        long,
        env = "AFTERCARE_SWEEP_EVERY",
        default_value_t = 30.0,
        value_name = "SECONDS"
    )]
    sweep_every: f64,
    /// Database connections at most.
    #[arg(long, env = "AFTERCARE_CONNECTIONS", default_value_t = 8)]
    connections: usize,
    /// The address people reach the server at, for links in e-mails and as the origin a
    /// browser's writes must come from (besides the `Host` they are sent to; default:
    /// http://BIND).
    #[arg(long, env = "AFTERCARE_PUBLIC_URL")]
    public_url: Option<String>,
    /// Where e-mails are delivered: a folder of `.eml` files.
    #[arg(long, env = "AFTERCARE_MAIL_DIR", default_value = "aftercare-mail")]
    mail_dir: PathBuf,
    /// The `From` of e-mails.
    #[arg(
        long,
        env = "AFTERCARE_MAIL_FROM",
        default_value = "Aftercare <aftercare@localhost>"
    )]
    mail_from: String,
    /// Where evidence photos are kept: a folder.
    #[arg(
        long,
        env = "AFTERCARE_EVIDENCE_DIR",
        default_value = "aftercare-evidence"
    )]
    evidence_dir: PathBuf,
    /// Let webhooks go to loopback and private-network addresses (by default only public
    /// ones, so a subscription cannot reach the server's own network).
    #[arg(long, env = "AFTERCARE_WEBHOOKS_TO_PRIVATE")]
    webhooks_to_private: bool,
    /// Send e-mails over SMTP instead of into --mail-dir:
    /// `smtp://USER:PASSWORD@HOST:587?tls=required` (STARTTLS), `smtps://USER:PASSWORD@HOST`
    /// (TLS), or plain `smtp://HOST:25` to a relay on a trusted network.
    #[arg(
        long,
        env = "AFTERCARE_SMTP",
        value_name = "URL",
        hide_env_values = true
    )]
    smtp: Option<String>,
    /// Keep evidence in an S3-compatible bucket instead of --evidence-dir:
    /// `s3://BUCKET[/PREFIX]`, with the store's address and keys in the standard `AWS_*`
    /// variables (`AWS_ENDPOINT`, `AWS_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
    /// `AWS_ALLOW_HTTP`).
    #[arg(long, env = "AFTERCARE_EVIDENCE_S3", value_name = "URL")]
    evidence_s3: Option<String>,
    /// Where a seller's customers send items, printed on their return slips:
    /// `SELLER=LINE; LINE; …` (repeat for each seller; the seller as its policies name it).
    #[arg(long, value_name = "SELLER=ADDRESS", value_parser = service_centre)]
    service_centre: Vec<(String, String)>,
    /// A proxy in front of the server, whose `X-Forwarded-For` names the client: an address or
    /// a range like `10.0.0.0/8` (repeat, or separate with commas). Sign-in failures are
    /// counted per client address; from anyone but these the header is ignored and the
    /// connection's peer is the client.
    #[arg(
        long,
        env = "AFTERCARE_TRUSTED_PROXY",
        value_name = "CIDR",
        value_delimiter = ',',
        value_parser = trusted_proxy
    )]
    trusted_proxy: Vec<aftercare_web::auth::Cidr>,
    /// The key the audit log's checkpoints are signed with (a file made by `aftercare audit
    /// keygen`, kept away from the database). Without one, checkpoints are not signed.
    #[arg(long, env = "AFTERCARE_AUDIT_KEY", value_name = "FILE")]
    audit_key: Option<PathBuf>,
}

/// Where the service's data is, when it is, and who acts.
#[derive(clap::Args, Clone)]
struct ServiceArgs {
    /// Database URL: `sqlite://PATH` (created on first use) or `postgres://…`.
    #[arg(long, env = "AFTERCARE_DB", global = true)]
    db: Option<String>,
    /// The time to act or decide at: an RFC 3339 timestamp, or a date (the start of that day
    /// in the policy's zone); default: the system clock (`policy explain`: the scenario's).
    #[arg(long, env = "AFTERCARE_NOW", global = true)]
    now: Option<String>,
    /// Who acts, for the audit log.
    #[arg(long, env = "AFTERCARE_ACTOR", default_value = "cli", global = true)]
    actor: String,
    /// The policies directory (default: $AFTERCARE_POLICIES, else ./policies).
    #[arg(long, global = true)]
    policies: Option<PathBuf>,
    /// A TOML file of settings, keyed by the long flags' names (`db`, `bind`, `smtp`,
    /// `mail-from`, `evidence-s3`…): for secrets and whatever is set once per installation.
    /// A flag or environment variable given as well wins over the file.
    #[arg(long, env = "AFTERCARE_CONFIG", global = true, value_name = "FILE")]
    config: Option<PathBuf>,
}

/// The settings a config file may give: the root's and `serve`'s (and `demo`'s) flags.
const CONFIG_GLOBAL: &[&str] = &["db", "policies", "actor"];
const CONFIG_SERVE: &[&str] = &[
    "bind",
    "metrics-bind",
    "sweep-every",
    "connections",
    "public-url",
    "mail-dir",
    "mail-from",
    "smtp",
    "evidence-dir",
    "evidence-s3",
    "webhooks-to-private",
    "service-centre",
    "trusted-proxy",
];

/// An address or a range of addresses.
fn trusted_proxy(s: &str) -> Result<aftercare_web::auth::Cidr, String> {
    s.parse()
}

/// `SELLER=ADDRESS`, both non-empty.
fn service_centre(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((seller, address)) if !seller.trim().is_empty() && !address.trim().is_empty() => {
            Ok((seller.trim().to_string(), address.trim().to_string()))
        }
        _ => Err(format!(
            "`{s}`: expected SELLER=ADDRESS, e.g. \"IMASK=Service centre; 1 Road; Shenzhen\""
        )),
    }
}

/// The command line, with a config file's settings as the flags' defaults (so a flag or an
/// environment variable still wins).
fn parse_cli() -> Result<Cli, String> {
    use clap::{CommandFactory, FromArgMatches};
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let from_args = args.iter().enumerate().find_map(|(i, a)| {
        let a = a.to_str()?;
        if a == "--config" {
            args.get(i + 1).map(PathBuf::from)
        } else {
            a.strip_prefix("--config=").map(PathBuf::from)
        }
    });
    let file = from_args.or_else(|| std::env::var_os("AFTERCARE_CONFIG").map(PathBuf::from));
    let mut cmd = Cli::command();
    if let Some(path) = file {
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("--config {}: {e}", path.display()))?;
        let table: toml::Table =
            toml::from_str(&text).map_err(|e| format!("--config {}: {e}", path.display()))?;
        for (key, value) in table {
            // A list (`service-centre = ["A=…", "B=…"]`) gives a repeatable flag its values.
            let values: Option<Vec<&'static str>> = match &value {
                toml::Value::Array(items) => Some(
                    items
                        .iter()
                        .map(|v| match v {
                            toml::Value::String(s) => Ok(&*Box::leak(s.clone().into_boxed_str())),
                            other => Err(format!(
                                "--config {}: `{key}` must list strings, not {}",
                                path.display(),
                                other.type_str()
                            )),
                        })
                        .collect::<Result<_, _>>()?,
                ),
                _ => None,
            };
            if let Some(values) = values {
                if !CONFIG_SERVE.contains(&key.as_str()) {
                    return Err(format!(
                        "--config {}: `{key}` is not a setting that takes a list",
                        path.display()
                    ));
                }
                let id = key.replace('-', "_");
                for sub in ["serve", "demo"] {
                    let (id, values) = (id.clone(), values.clone());
                    cmd = cmd.mut_subcommand(sub, |c| c.mut_arg(id, |a| a.default_values(values)));
                }
                continue;
            }
            let value = match value {
                toml::Value::String(s) => s,
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Float(f) => f.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                other => {
                    return Err(format!(
                        "--config {}: `{key}` must be a string, number or boolean, not {}",
                        path.display(),
                        other.type_str()
                    ));
                }
            };
            let id = key.replace('-', "_");
            // Leaked once per setting, for the life of the process.
            let value: &'static str = Box::leak(value.into_boxed_str());
            if CONFIG_GLOBAL.contains(&key.as_str()) {
                cmd = cmd.mut_arg(id, |a| a.default_value(value));
            } else if CONFIG_SERVE.contains(&key.as_str()) {
                for sub in ["serve", "demo"] {
                    let id = id.clone();
                    cmd = cmd.mut_subcommand(sub, |c| c.mut_arg(id, |a| a.default_value(value)));
                }
            } else {
                return Err(format!(
                    "--config {}: `{key}` is not a setting; known: {}, {}",
                    path.display(),
                    CONFIG_GLOBAL.join(", "),
                    CONFIG_SERVE.join(", ")
                ));
            }
        }
    }
    let matches = cmd.get_matches_from(args);
    Cli::from_arg_matches(&matches).map_err(|e| e.to_string())
}

#[derive(Subcommand)]
enum UserCommand {
    /// Add a staff account. The password is read from `$AFTERCARE_PASSWORD`, else from one
    /// line of standard input; it is never a flag (flags show in process lists).
    Add {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// agent, technician, manager or admin.
        #[arg(long)]
        role: String,
        /// The sellers they work for, comma-separated (a policy's `seller`, like `IMASK`), or `*`.
        #[arg(long, value_delimiter = ',', required = true)]
        sellers: Vec<String>,
    },
    /// Every staff account.
    List,
    /// Disable an account: its sessions end and its tokens stop working.
    Disable { email: String },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create a token for a staff account; prints its id and secret (shown this once).
    Create {
        #[arg(long)]
        email: String,
        /// What the token is for.
        #[arg(long)]
        name: String,
        /// A scope (repeat): cases:read, cases:write, refunds:write, registry:write,
        /// customers:read, customers:erase, webhooks:write, audit:read, metrics:read.
        #[arg(long = "scope", required = true)]
        scopes: Vec<String>,
    },
    /// Revoke a token by its id.
    Revoke { id: i64 },
}

#[derive(Subcommand)]
enum CaseCommand {
    /// Open a case (in `draft`); prints its id.
    Open(OpenArgs),
    /// A case with its latest decision, timers and history, as JSON.
    Show { id: i64 },
    /// Cases, newest first.
    List {
        #[arg(long)]
        state: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// Decide a case now and keep the decision on record.
    Decide { id: i64 },
    /// Make a recorded decision again from its stored policy texts and facts.
    Reexplain { decision: i64 },
    /// Move a case: submit, approve, receive, inspect, quote, pay, … (see `case diagram`).
    Transition(TransitionArgs),
    /// Record the repair or replacement of a case in `repairing` or `replacing`.
    Repaired {
        id: i64,
        /// The fault is not cured (counts towards replacement after failed repairs).
        #[arg(long)]
        failed: bool,
        /// A part replaced (repeatable).
        #[arg(long = "part")]
        parts: Vec<String>,
        /// The serial of the unit given in exchange.
        #[arg(long)]
        replacement: Option<String>,
    },
    /// Correct the seller's records for one case (a delivery date, a price): audited with the
    /// reason, and the case decided again. Only facts of the records (see `policy facts`).
    Correct {
        id: i64,
        /// A corrected fact, `path=value` (repeatable), as `--fact` takes it.
        #[arg(long = "fact", required = true)]
        facts: Vec<String>,
        /// Why the records are wrong (kept in the audit log).
        #[arg(long)]
        reason: String,
    },
    /// Attach a photo (JPEG, PNG or WebP) to a case, as the API does: checked, re-encoded,
    /// kept in the evidence folder; the case's `evidence.photos` is the photos kept.
    Photo {
        id: i64,
        /// Its kind: outer_box, inner_box, packaging_damage, product, product_damage,
        /// item_received, labels.
        #[arg(long)]
        kind: String,
        file: PathBuf,
        /// Where evidence photos are kept (the server's `--evidence-dir`).
        #[arg(
            long,
            env = "AFTERCARE_EVIDENCE_DIR",
            default_value = "aftercare-evidence"
        )]
        evidence_dir: PathBuf,
    },
    /// The case state machine as a Mermaid diagram.
    Diagram,
}

#[derive(Subcommand)]
enum RefundCommand {
    /// Record a refund before paying it out; the same key again records nothing new.
    Record {
        #[arg(long)]
        order: String,
        /// The amount with its currency, e.g. "100.00 USD".
        #[arg(long)]
        amount: String,
        /// The idempotency key of this refund.
        #[arg(long)]
        key: String,
        #[arg(long)]
        case: Option<i64>,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Mark a recorded refund as paid out.
    Paid { id: i64 },
}

#[derive(Subcommand)]
enum CustomerCommand {
    /// Everything held about a customer, as JSON.
    Export { reference: String },
    /// Replace a customer's personal fields with placeholders and end their sessions and
    /// sign-in links; cases, money and audit stay.
    Erase { reference: String },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Recompute every chain, the tree and every checkpoint's root and signature; exit 1
    /// naming the first edited, missing or inserted event, leaf or checkpoint.
    Verify {
        /// The public key (hex) checkpoints must be signed with, from the first one it signed.
        #[arg(long, value_name = "HEX")]
        public_key: Option<String>,
        /// A checkpoint kept from an earlier `aftercare audit checkpoint`: the log must still
        /// hold everything it held then.
        #[arg(long, value_name = "FILE")]
        checkpoint: Option<PathBuf>,
    },
    /// Seal the events not sealed yet into the tree and record a checkpoint now (a server
    /// does this by itself within a second).
    Seal {
        /// The key to sign the checkpoint with (made by `aftercare audit keygen`).
        #[arg(long, env = "AFTERCARE_AUDIT_KEY", value_name = "FILE")]
        audit_key: Option<PathBuf>,
    },
    /// Print the newest checkpoint as JSON, for an auditor to keep somewhere else.
    Checkpoint,
    /// Make a new key to sign checkpoints with, in FILE (readable by its owner only); prints
    /// its public half.
    Keygen { file: PathBuf },
}

#[derive(Subcommand)]
enum PolicyCommand {
    /// Parse and type-check policy files; errors are located at file:line:column.
    Check {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Decide a case and explain it, per remedy, with the clauses' words.
    Explain {
        /// Policy id (optional when FILE is a scenario, which names its policy).
        #[arg(long)]
        policy: Option<String>,
        /// Facts: a TOML or JSON facts file, or a scenario file.
        #[arg(long)]
        facts: PathBuf,
        /// Print the decision as JSON.
        #[arg(long)]
        json: bool,
        /// Also list remedies the policy does not offer.
        #[arg(long)]
        all: bool,
        /// Also say what the named definitions in the cited rules stand for.
        #[arg(long)]
        meanings: bool,
    },
    /// Run the scenario corpus and check clause coverage.
    Test {
        /// Directory of scenarios (default: <policies>/cases).
        dir: Option<PathBuf>,
        /// Also delete each rule of each seller policy in turn and report the deletions no
        /// scenario notices (untested or redundant rules); exit 1 if any.
        #[arg(long)]
        mutate: bool,
    },
    /// What-if: make every decision recorded under the draft's policy again with the draft
    /// (on its stored facts, at its moment) and report what would change: remedies, refunds
    /// and deadlines, with the clauses responsible and example cases.
    Simulate {
        /// The draft policy file (its `[policy] id` names the policy it replaces).
        draft: PathBuf,
        /// Only decisions made at or after this moment (a date alone: the start of that day
        /// in the policy's zone).
        #[arg(long, value_name = "DATE")]
        since: Option<String>,
        /// Refuse a draft that is not this seller's.
        #[arg(long)]
        seller: Option<String>,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Publish the policy files of a folder (default: the policies folder) into the database:
    /// each text not published yet becomes a version, checked with those published, that
    /// every server decides new cases with within a second, without a restart. A database
    /// starts with the policies folder it is first given; this adds what came after.
    Import {
        /// The folder: its `*.toml` and those of its `law/`.
        dir: Option<PathBuf>,
    },
    /// The policy versions published in the database, in the order published.
    Versions,
    /// Write what the database holds back to a folder, as `import` reads it (for a team that
    /// keeps its policies in git): each policy's latest published text (`ID.toml`, law layers
    /// in `law/`) and the scenarios kept for the studio, the cases saved as scenarios among
    /// them (`cases/ID/NAME.toml`). Files of those names are replaced; nothing else is touched.
    Export {
        /// The folder (created if missing).
        dir: PathBuf,
    },
    /// List the policies.
    List,
    /// The facts policies read: type, who may state them (the registry, the service, staff by
    /// what they do, the customer) and meaning.
    Facts,
}

fn main() -> ExitCode {
    let cli = match parse_cli() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let service = cli.service;
    let out = match cli.command {
        Command::Policy { command } => {
            let dir = policies_dir(service.policies.as_deref());
            match command {
                PolicyCommand::Check { files } => policy::check(&files, &dir),
                PolicyCommand::Explain {
                    policy,
                    facts,
                    json,
                    all,
                    meanings,
                } => policy::explain(&ExplainArgs {
                    dir: &dir,
                    policy: policy.as_deref(),
                    facts: &facts,
                    now: service.now.as_deref(),
                    json,
                    options: aftercare_policy::explain::ExplainOptions { all, meanings },
                }),
                PolicyCommand::Test { dir: cases, mutate } => {
                    let cases = cases.unwrap_or_else(|| dir.join("cases"));
                    let tested = policy::test(&cases, &dir);
                    if mutate && tested.code == 0 {
                        policy::mutate(&cases, &dir, tested)
                    } else {
                        tested
                    }
                }
                PolicyCommand::Simulate {
                    draft,
                    since,
                    seller,
                    json,
                } => with_env(service, |env| {
                    service::policy_simulate(env, &draft, since.as_deref(), seller.as_deref(), json)
                }),
                PolicyCommand::Import { dir: from } => with_env(service, |env| {
                    service::policy_import(env, from.as_deref().unwrap_or(&env.policies_dir))
                }),
                PolicyCommand::Versions => with_env(service, service::policy_versions),
                PolicyCommand::Export { dir: to } => {
                    with_env(service, |env| service::policy_export(env, &to))
                }
                PolicyCommand::List => policy::list(&dir),
                PolicyCommand::Facts => policy::facts(),
            }
        }
        Command::Case {
            command: CaseCommand::Diagram,
        } => service::case_diagram(),
        Command::Migrate => with_env(service, service::migrate),
        Command::User { command } => with_env(service, |env| match command {
            UserCommand::Add {
                email,
                name,
                role,
                sellers,
            } => service::user_add(env, &email, &name, &role, &sellers),
            UserCommand::List => service::user_list(env),
            UserCommand::Disable { email } => service::user_disable(env, &email),
        }),
        Command::Token { command } => with_env(service, |env| match command {
            TokenCommand::Create {
                email,
                name,
                scopes,
            } => service::token_create(env, &email, &name, &scopes),
            TokenCommand::Revoke { id } => service::token_revoke(env, id),
        }),
        Command::Demo(a) => {
            let mut service = service;
            service.db = service
                .db
                .or_else(|| Some("sqlite://aftercare-demo.db".to_string()));
            with_env(service, |env| demo(env, &a))
        }
        Command::Serve(a) => with_env(service, |env| match web_config(env, &a) {
            Ok(config) => serve(env, config),
            Err(e) => Output::fail(format!("error: {e}\n")),
        }),
        Command::Import { file } => with_env(service, |env| service::import(env, &file)),
        Command::Tick {
            batch, every: None, ..
        } => with_env(service, |env| service::tick(env, batch)),
        Command::Tick {
            batch,
            every: Some(every),
            rounds,
        } => with_env(service, |env| {
            service::tick_every(env, batch, every, rounds)
        }),
        Command::Refund { command } => with_env(service, |env| match command {
            RefundCommand::Record {
                order,
                amount,
                key,
                case,
                reason,
            } => service::refund_record(env, &order, &amount, &key, case, &reason),
            RefundCommand::Paid { id } => service::refund_paid(env, id),
        }),
        Command::Warranty { serial } => with_env(service, |env| service::warranty(env, &serial)),
        Command::Customer { command } => with_env(service, |env| match command {
            CustomerCommand::Export { reference } => service::customer_export(env, &reference),
            CustomerCommand::Erase { reference } => service::customer_erase(env, &reference),
        }),
        Command::Audit { command } => with_env(service, |env| match command {
            AuditCommand::Verify {
                public_key,
                checkpoint,
            } => service::audit_verify(env, public_key, checkpoint.as_deref()),
            AuditCommand::Seal { audit_key } => service::audit_seal(env, audit_key.as_deref()),
            AuditCommand::Checkpoint => service::audit_checkpoint(env),
            AuditCommand::Keygen { file } => service::audit_keygen(&file),
        }),
        Command::Case { command } => with_env(service, |env| match command {
            CaseCommand::Open(a) => service::case_open(env, &a),
            CaseCommand::Show { id } => service::case_show(env, id),
            CaseCommand::List { state, limit } => service::case_list(env, state.as_deref(), limit),
            CaseCommand::Decide { id } => service::case_decide(env, id),
            CaseCommand::Reexplain { decision } => service::case_reexplain(env, decision),
            CaseCommand::Transition(a) => service::case_transition(env, &a),
            CaseCommand::Repaired {
                id,
                failed,
                parts,
                replacement,
            } => service::case_repaired(env, id, failed, &parts, replacement.as_deref()),
            CaseCommand::Photo {
                id,
                kind,
                file,
                evidence_dir,
            } => service::case_photo(env, id, &kind, &file, &evidence_dir),
            CaseCommand::Correct { id, facts, reason } => {
                service::case_correct(env, id, &facts, &reason)
            }
            CaseCommand::Diagram => service::case_diagram(),
        }),
    };
    emit(out)
}

fn web_config(env: &service::Env, a: &ServeArgs) -> Result<aftercare_web::Config, String> {
    Ok(aftercare_web::Config {
        bind: a.bind,
        metrics_bind: a.metrics_bind,
        db: env.db.clone(),
        connections: a.connections,
        sweep_every: (a.sweep_every > 0.0)
            .then(|| std::time::Duration::try_from_secs_f64(a.sweep_every).ok())
            .flatten(),
        public_url: a.public_url.clone(),
        mail_dir: a.mail_dir.clone(),
        mail_from: a.mail_from.clone(),
        evidence_dir: a.evidence_dir.clone(),
        webhooks_to_private: a.webhooks_to_private,
        smtp: a.smtp.clone(),
        evidence_s3: a.evidence_s3.clone(),
        service_centres: a.service_centre.iter().cloned().collect(),
        trusted_proxies: a.trusted_proxy.clone(),
        audit_key: a
            .audit_key
            .as_deref()
            .map(aftercare_app::audit::SealKey::from_file)
            .transpose()
            .map_err(|e| e.to_string())?
            .map(std::sync::Arc::new),
        demo: None,
        clock: match env.fixed_now()? {
            None => aftercare_web::Clock::System,
            Some(t) => aftercare_web::Clock::Fixed(t),
        },
    })
}

/// `aftercare demo`: loads the demo into a new database, then serves it.
fn demo(env: &service::Env, a: &ServeArgs) -> Output {
    use aftercare_cli::demo;
    let policies = match env.load_policies() {
        Ok(p) => p,
        Err(e) => {
            return Output::fail(format!(
                "error: {e}\n(run the demo from the root of the Aftercare checkout, or give --policies)\n"
            ));
        }
    };
    let mut store = match aftercare_store::Store::open(&env.db) {
        Ok(s) => s,
        Err(e) => {
            return Output::fail(format!(
                "error: cannot open the database `{}`: {e}\n",
                env.db
            ));
        }
    };
    match demo::seeded(&mut store) {
        Ok(true) => println!(
            "Serving the demo in {} as it was left.",
            aftercare_store::redact(&env.db)
        ),
        Ok(false) => {
            println!(
                "Loading the demo into {} …",
                aftercare_store::redact(&env.db)
            );
            let examples = include_str!("../../../examples/registry.json");
            // The demo's photos go where the server keeps evidence; in a bucket, the server
            // is the one that reaches it, so they go to the folder instead.
            let blobs = aftercare_app::evidence::Folder(a.evidence_dir.clone());
            match demo::seed(
                &mut store,
                &policies,
                &blobs,
                examples,
                jiff::Timestamp::now(),
            ) {
                Ok(what) => println!(
                    "Loaded: five sellers' registry, {} staff accounts, {what}.",
                    demo::STAFF.len()
                ),
                Err(e) => return Output::fail(format!("error: the demo did not load: {e}\n")),
            }
        }
        Err(e) => return Output::fail(format!("error: {e}\n")),
    }
    drop(store);
    // The demo signs its audit checkpoints with a key of its own, beside its evidence folder
    // (made on first use), unless one is given.
    let mut a = a.clone();
    if a.audit_key.is_none() {
        let path = a.evidence_dir.with_file_name("aftercare-audit.key");
        if !path.exists()
            && let Err(e) = aftercare_app::audit::SealKey::create(&path)
            && !path.exists()
        {
            return Output::fail(format!("error: {e}\n"));
        }
        a.audit_key = Some(path);
    }
    let a = &a;
    let mut config = match web_config(env, a) {
        Ok(c) => c,
        Err(e) => return Output::fail(format!("error: {e}\n")),
    };
    // Timers of the demo's past (a target breached, a device never sent) act at once.
    config.sweep_every = config
        .sweep_every
        .map(|d| d.min(std::time::Duration::from_secs(5)));
    for (seller, address) in demo::SERVICE_CENTRES {
        config
            .service_centres
            .entry((*seller).to_string())
            .or_insert_with(|| (*address).to_string());
    }
    // The demo runs on one's own machine: its webhooks may go to a receiver there.
    config.webhooks_to_private = true;
    config.demo = Some(aftercare_web::pages::Demo {
        password: demo::PASSWORD.to_string(),
        accounts: demo::STAFF
            .iter()
            .map(
                |(email, _, role, sellers)| aftercare_web::pages::DemoAccount {
                    email: (*email).to_string(),
                    role: role.as_str().to_string(),
                    sellers: (*sellers).to_string(),
                },
            )
            .collect(),
        customer_order: demo::CUSTOMER.0.to_string(),
        customer_email: demo::CUSTOMER.1.to_string(),
    });
    let url = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", config.bind));
    println!("\nStaff accounts (password `{}`):", demo::PASSWORD);
    for (email, name, role, sellers) in demo::STAFF {
        println!("  {email:<26} {:<11} {sellers:<14} {name}", role.as_str());
    }
    println!(
        "Customer: order {} with e-mail {} (the sign-in link arrives in ./{}/)",
        demo::CUSTOMER.0,
        demo::CUSTOMER.1,
        config.mail_dir.display()
    );
    println!(
        "\nOpen {url}/ in a browser: the customer portal ({url}/portal) and the service desk ({url}/desk).\n\
         Or curl {url}/api/v1/warranty/IMA-DEMO-1   ·   API description: {url}/api/openapi.json\n"
    );
    serve(env, config)
}

/// Runs the server until it is stopped, logging to stderr (`AFTERCARE_LOG`, default
/// `info`).
fn serve(env: &service::Env, config: aftercare_web::Config) -> Output {
    let filter: tracing_subscriber::filter::Targets = std::env::var("AFTERCARE_LOG")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| "info".parse().unwrap_or_default());
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let _ = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())),
        )
        .with(filter)
        .try_init();
    let live = aftercare_store::Store::open(&config.db)
        .map_err(|e| format!("cannot open the database `{}`: {e}", config.db))
        .and_then(|mut store| env.live(&mut store));
    let policies = match live {
        Ok((generation, p)) => aftercare_app::published::Live::new(generation, p),
        Err(e) => return Output::fail(format!("error: {e}\n")),
    };
    let db = aftercare_store::redact(&config.db);
    match aftercare_web::serve(config, policies, |at| {
        if let Some(m) = at.metrics {
            println!("Metrics, to anyone who reaches this address: http://{m}/metrics");
        }
        println!("Aftercare is serving http://{}/ (database {db})", at.api);
    }) {
        Ok(()) => Output::ok(String::new()),
        Err(e) => Output::fail(format!("error: {e}\n")),
    }
}

fn emit(out: Output) -> ExitCode {
    print!("{}", out.stdout);
    eprint!("{}", out.stderr);
    ExitCode::from(u8::try_from(out.code).unwrap_or(1))
}

/// Runs a service command with its environment, or reports why the environment is wrong.
fn with_env(a: ServiceArgs, f: impl FnOnce(&service::Env) -> Output) -> Output {
    match service_env(a) {
        Ok(env) => f(&env),
        Err(o) => o,
    }
}
