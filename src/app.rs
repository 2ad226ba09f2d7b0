//! Runs one CLI command: turns arguments and settings into calls on the
//! engine, and results into output and an exit code.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use rust_i18n::t;

use crate::cli::{Cli, Command, OutputFormat};
use crate::config::{FileConfig, Settings};
use crate::i18n::Lang;
use crate::reconcile::report::PlanReport;

/// Exit code of `gcops plan` when there is drift (0: none, 1: error).
pub const EXIT_DRIFT: u8 = 2;

/// Runs the parsed command. `lang` is the language of operator messages.
pub async fn run(cli: Cli, lang: Lang) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Validate { repo } => validate(repo.unwrap_or_else(|| PathBuf::from(".")), lang),
        Command::Schema => {
            println!("{}", serde_json::to_string_pretty(&crate::desired::json_schema()).expect("schema serialises"));
            Ok(ExitCode::SUCCESS)
        }
        Command::Plan { format } => {
            let ctx = context(cli.config, lang).await?;
            let plan = crate::reconcile::plan(&ctx).await?;
            let report = PlanReport::new(&plan);
            match format {
                OutputFormat::Json => println!("{}", report.to_json()),
                OutputFormat::Text => print!("{}", report.to_text(lang)),
            }
            // A plan with failed reads is incomplete: "no drift" would be a
            // claim about resources gcops could not see.
            if report.counts.coverage.unknown > 0 {
                eprintln!("{}", t!("cli.plan_incomplete", locale = lang.code(), unknown = report.counts.coverage.unknown));
                return Ok(ExitCode::FAILURE);
            }
            Ok(if plan.drift.items.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(EXIT_DRIFT) })
        }
        Command::PlanPulls => {
            let ctx = context(cli.config, lang).await?;
            let outcomes = crate::reconcile::plan_pulls(&ctx, None).await?;
            let mut failed = false;
            for outcome in &outcomes {
                use crate::review::PlanResult;
                let summary = match &outcome.result {
                    PlanResult::Skipped(reason) => format!("skipped ({reason:?})"),
                    PlanResult::Planned { state, changes, errors, .. } => {
                        format!("{} ({changes} changes, {errors} errors)", state.as_str())
                    }
                    PlanResult::Failed(error) => {
                        failed = true;
                        format!("not planned: {error}")
                    }
                };
                println!("#{} {}: {summary}", outcome.number, outcome.branch);
            }
            Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
        }
        Command::Run | Command::Reconcile { once: false } => {
            let settings = settings(cli.config, lang)?;
            crate::daemon::run(settings).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Reconcile { once: true } => {
            let ctx = context(cli.config, lang).await?;
            let outcome = crate::reconcile::run_once(&ctx).await?;
            print!("{}", PlanReport::new(&outcome.plan).to_text(lang));
            for pull in &outcome.pulls {
                if let Some(number) = pull.number {
                    let action = t!(format!("reconcile.action.{}", pull.action.as_str()), locale = lang.code());
                    println!("  {} #{number} {action} ({})", pull.branch, pull.account);
                }
            }
            let count = |a| outcome.pulls.iter().filter(|p| p.action == a).count();
            use crate::reconcile::PullAction as A;
            println!(
                "{}",
                t!(
                    "reconcile.summary",
                    locale = lang.code(),
                    opened = count(A::Opened),
                    updated = count(A::Updated),
                    unchanged = count(A::Unchanged) + count(A::KeptClosed),
                    closed = count(A::Closed)
                )
            );
            if let Some(first) = outcome.errors.into_iter().next() {
                return Err(first.into());
            }
            // As for plan: accounts with failed reads were skipped, so the
            // pass did not do its job for them.
            let unknown = outcome.plan.drift.counts().unknown;
            if unknown > 0 {
                eprintln!("{}", t!("cli.reconcile_incomplete", locale = lang.code(), unknown = unknown));
                return Ok(ExitCode::FAILURE);
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn settings(config: Option<PathBuf>, lang: Lang) -> anyhow::Result<Settings> {
    let file = FileConfig::load(config.as_deref()).with_context(|| t!("cli.config_failed", locale = lang.code()).into_owned())?;
    Settings::from_file(file, |k| std::env::var(k).ok())
        .with_context(|| t!("cli.config_failed", locale = lang.code()).into_owned())
}

async fn context(config: Option<PathBuf>, lang: Lang) -> anyhow::Result<crate::reconcile::Context> {
    Ok(crate::reconcile::Context::new(settings(config, lang)?).await?)
}

fn validate(repo: PathBuf, lang: Lang) -> anyhow::Result<ExitCode> {
    let today = chrono::Utc::now().date_naive();
    if !repo.is_dir() {
        anyhow::bail!(t!("cli.validate_no_folder", locale = lang.code(), repo = repo.display()).into_owned());
    }
    match crate::desired::load_dir(&repo, today) {
        Ok(state) => {
            let documents = state.templates.len()
                + state.grants.len()
                + state.alarms.len()
                + state.budgets.len()
                + state.config_rules.len()
                + state.exceptions.len()
                + usize::from(state.environment.is_some());
            println!(
                "{}",
                t!(
                    "cli.validate_ok",
                    locale = lang.code(),
                    repo = repo.display(),
                    documents = documents,
                    templates = state.template_versions.len()
                )
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(errors) => {
            for error in errors.iter() {
                eprintln!("{}", error.render(lang));
            }
            eprintln!("{}", t!("cli.validate_failed", locale = lang.code(), count = errors.len()));
            Ok(ExitCode::FAILURE)
        }
    }
}
