//! gcops keeps a Government Cloud (GC) environment on AWS equal to a git
//! repository of desired state, and shows every difference as a pull request.
//!
//! # Layout
//!
//! Each module owns one concern; dependencies point inward, towards the pure
//! core (`desired`, `templates`, `diff`, `adopt`).
//!
//! - [`desired`]: the desired-state documents (`desired-state/*.yaml`), their
//!   loading and validation, with file:line:column on every error. No I/O
//!   beyond the file contents it is handed.
//! - [`templates`]: mandatory CloudFormation templates under `templates/`,
//!   parsed with every intrinsic function kept.
//! - [`source`]: the git repository: clone, fetch, read a tree at a commit,
//!   write commits and branches (git2).
//! - [`live`]: AWS readers, one per service, built from one client factory
//!   (endpoint override, region, assume-role, retries).
//! - [`diff`]: pure functions from (desired, live) to drift items and
//!   coverage counts, with the normalisation rules.
//! - [`adopt`]: edits to `desired-state/` that make git match live state,
//!   keeping comments and formatting.
//! - [`forge`]: pull requests: the `Forge` trait, the local ref-backed forge,
//!   and pull request bodies in Japanese and English.
//! - [`telemetry`]: Prometheus metrics (every metric is declared in
//!   `telemetry::metrics`) and the interceptor that counts AWS requests.
//! - [`server`]: the HTTP endpoints `/metrics`, `/healthz` and `/readyz`.
//! - [`webhook`]: GitHub webhook signature checks and event parsing.
//! - [`review`]: plan comments and `gcops/plan` statuses on pull requests.
//! - [`reconcile`]: one pass as a list of named steps; the only module that
//!   uses all of the above.
//! - [`daemon`]: `gcops run`, the loop around passes: triggers, schedule,
//!   backoff, HTTP endpoints and shutdown.
//! - [`config`]: the daemon's own settings file (`gcops.yaml`) and its
//!   validation into [`config::Settings`].
//! - [`cli`]: command-line arguments only; [`app`] runs a parsed command.
//! - [`i18n`]: the operator's language and message lookup.
//! - [`devenv`]: builds a live environment from a desired state, for the demo
//!   and the integration tests against moto; never used by `reconcile`.

pub mod adopt;
pub mod app;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod desired;
pub mod devenv;
pub mod diff;
pub mod forge;
pub mod i18n;
pub mod live;
pub mod reconcile;
pub mod review;
pub mod server;
pub mod source;
pub mod telemetry;
pub mod templates;
pub mod webhook;

rust_i18n::i18n!("locales", fallback = "en");

/// Japan Standard Time (UTC+9, no daylight saving): the calendar of the
/// client, for expiry dates and schedules.
pub const JST: chrono::FixedOffset = match chrono::FixedOffset::east_opt(9 * 3600) {
    Some(offset) => offset,
    None => panic!("UTC+9 is a valid offset"),
};

/// Formats `error` and its causes on one line, `a: b: c`, for log fields and
/// texts a reviewer reads (the CLI prints causes on their own lines instead).
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
