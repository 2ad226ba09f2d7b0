//! Command-line arguments, and nothing else: parsing happens here, every
//! decision happens in [`crate::reconcile`] and [`crate::config`].

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::i18n::Lang;

#[derive(Debug, Parser)]
#[command(name = "gcops", version, about = "GitOps reconciler for Government Cloud accounts on AWS")]
pub struct Cli {
    /// Settings file; default ./gcops.yaml when it exists.
    #[arg(long, global = true, env = "GCOPS_CONFIG")]
    pub config: Option<PathBuf>,

    /// Language of messages: ja or en. Default: from LC_ALL, LC_MESSAGES or LANG.
    #[arg(long, global = true)]
    pub lang: Option<Lang>,

    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the desired state in a folder (default: the current one) and exit 1 on any error.
    Validate {
        /// Repository folder that holds desired-state/ and templates/.
        repo: Option<PathBuf>,
    },
    /// Compare the desired state at the branch head with live AWS and print
    /// the drift. Exit code: 0 no drift, 2 drift, 1 error or a failed read.
    Plan {
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        format: OutputFormat,
    },
    /// Plan, then open, update or close one drift pull request per account.
    Reconcile {
        /// Run one pass and exit; without it, the same as `gcops run`.
        #[arg(long)]
        once: bool,
    },
    /// Plan every open pull request that changes desired-state/ or templates/:
    /// one plan comment and one `gcops/plan` status each. Exit code 1 when a
    /// pull request could not be planned.
    PlanPulls,
    /// Run as a daemon: reconcile on every git change and live interval,
    /// serve /metrics, /healthz, /readyz and the webhook, until SIGTERM.
    Run,
    /// Print the JSON Schema of the desired-state documents.
    Schema,
}
