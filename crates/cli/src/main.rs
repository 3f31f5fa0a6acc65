//! The `aftercare` binary.

use std::path::PathBuf;
use std::process::ExitCode;

use aftercare_cli::commands::policy::{self, ExplainArgs, Output};
use aftercare_cli::files::policies_dir;
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
}

#[derive(Subcommand)]
enum Command {
    /// Policy files: check, explain decisions, run the scenario corpus.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
        /// The policies directory (default: $AFTERCARE_POLICIES, else ./policies).
        #[arg(long, global = true)]
        policies: Option<PathBuf>,
    },
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
        /// When to decide: RFC 3339 timestamp or a date (default: the scenario's, else now).
        #[arg(long)]
        now: Option<String>,
        /// Print the decision as JSON.
        #[arg(long)]
        json: bool,
        /// Also list remedies the policy does not offer.
        #[arg(long)]
        all: bool,
    },
    /// Run the scenario corpus and check clause coverage.
    Test {
        /// Directory of scenarios (default: <policies>/cases).
        dir: Option<PathBuf>,
    },
    /// List the policies.
    List,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let out = match cli.command {
        Command::Policy { command, policies } => {
            let dir = policies_dir(policies.as_deref());
            match command {
                PolicyCommand::Check { files } => policy::check(&files, &dir),
                PolicyCommand::Explain {
                    policy,
                    facts,
                    now,
                    json,
                    all,
                } => policy::explain(&ExplainArgs {
                    dir: &dir,
                    policy: policy.as_deref(),
                    facts: &facts,
                    now: now.as_deref(),
                    json,
                    all,
                }),
                PolicyCommand::Test { dir: cases } => {
                    let cases = cases.unwrap_or_else(|| dir.join("cases"));
                    policy::test(&cases, &dir)
                }
                PolicyCommand::List => policy::list(&dir),
            }
        }
    };
    emit(out)
}

fn emit(out: Output) -> ExitCode {
    print!("{}", out.stdout);
    eprint!("{}", out.stderr);
    ExitCode::from(u8::try_from(out.code).unwrap_or(1))
}
