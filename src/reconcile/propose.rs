//! The propose step: one drift pull request per account, on the branch
//! `gcops/drift/<account-name>`, kept in step with the drift.
//!
//! The forge is the only memory: the pull request is found by branch and the
//! drift it shows by the fingerprint in its body, so a restart or a second
//! run never duplicates a commit or a pull request.

use std::collections::BTreeMap;

use tracing::{debug, warn};

use super::{Context, Error, Plan};
use crate::desired::model::Account;
use crate::diff::model::{Coverage, DriftItem};
use crate::forge::{PullContent, PullRequest, PullState};

/// Action the propose step took for one account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PullAction {
    /// No drift and no open pull request.
    None,
    Opened,
    Updated,
    /// The open pull request already shows this drift.
    Unchanged,
    /// The drift is gone; the pull request was closed with a comment.
    Closed,
    /// A pull request for this same drift was closed unmerged; it is not reopened.
    KeptClosed,
    /// Some reads of the account failed, so its drift is not known and its
    /// pull request is neither changed nor closed.
    SkippedUnknown,
}

impl PullAction {
    /// Stable snake_case name, as in JSON and message keys.
    pub fn as_str(self) -> &'static str {
        match self {
            PullAction::None => "none",
            PullAction::Opened => "opened",
            PullAction::Updated => "updated",
            PullAction::Unchanged => "unchanged",
            PullAction::Closed => "closed",
            PullAction::KeptClosed => "kept_closed",
            PullAction::SkippedUnknown => "skipped_unknown",
        }
    }
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct PullOutcome {
    pub account: String,
    pub branch: String,
    pub action: PullAction,
    pub number: Option<u64>,
}

/// Branch that carries the drift pull request of `account`.
pub fn drift_branch(account: &Account) -> String {
    format!("gcops/drift/{}", account.name)
}

/// Runs the step for every account. One account's failure does not stop
/// the others; its error is returned beside the outcomes of the rest.
pub(super) async fn propose_all(ctx: &Context, plan: &Plan) -> (Vec<PullOutcome>, Vec<Error>) {
    let mut outcomes = Vec::new();
    let mut errors = Vec::new();
    for account in plan.desired.accounts() {
        if plan.drift.coverage.iter().any(|e| e.account_id == account.id && e.state == Coverage::Unknown) {
            warn!(account = %account.name, "some reads failed; drift pull request left as it is");
            let branch = drift_branch(account);
            outcomes.push(PullOutcome {
                account: account.name.clone(),
                branch,
                action: PullAction::SkippedUnknown,
                number: None,
            });
            continue;
        }
        match propose_account(ctx, plan, account).await {
            Ok(outcome) => outcomes.push(outcome),
            Err(error) => {
                warn!(account = %account.name, error = %crate::error_chain(&error), "drift pull request not updated");
                errors.push(error);
            }
        }
    }
    (outcomes, errors)
}

async fn propose_account(ctx: &Context, plan: &Plan, account: &Account) -> Result<PullOutcome, Error> {
    let branch = drift_branch(account);
    let items = plan.drift.items_for(&account.id);
    let existing = ctx.forge.find_by_branch(&branch).await.map_err(forge_error(ctx, account, "find_pull"))?;
    let existing = counted(ctx, "find_pull", existing);
    let outcome = |action, number| PullOutcome { account: account.name.clone(), branch: branch.clone(), action, number };

    if items.is_empty() {
        return match existing {
            Some(pr) if pr.state == PullState::Open => {
                let comment = crate::forge::render::render_closing_comment(account, ctx.lang);
                ctx.forge.close(pr.number, &comment).await.map_err(forge_error(ctx, account, "close_pull"))?;
                counted(ctx, "close_pull", ());
                Ok(outcome(PullAction::Closed, Some(pr.number)))
            }
            _ => Ok(outcome(PullAction::None, None)),
        };
    }

    let fingerprint = crate::diff::fingerprint(&items);
    if let Some(pr) = existing.as_ref().filter(|pr| shows_fingerprint(pr, &fingerprint)) {
        let action = match pr.state {
            PullState::Open => PullAction::Unchanged,
            PullState::Closed => PullAction::KeptClosed,
            // Merging adopts the live state, so the same drift after a merge
            // means the edit did not resolve it; opening it again would loop.
            PullState::Merged => {
                warn!(account = %account.name, pull = pr.number, "drift persists after its pull request was merged");
                PullAction::Unchanged
            }
        };
        debug!(account = %account.name, pull = pr.number, ?action, "drift unchanged");
        return Ok(outcome(action, Some(pr.number)));
    }

    // Commit the edit that adopts live state on top of the desired-state commit.
    let content = write_drift_commit(ctx, plan, account, &branch, &items, &fingerprint)?;

    match existing {
        Some(pr) if pr.state == PullState::Open => {
            ctx.forge.update(pr.number, &content).await.map_err(forge_error(ctx, account, "update_pull"))?;
            counted(ctx, "update_pull", ());
            Ok(outcome(PullAction::Updated, Some(pr.number)))
        }
        _ => {
            // Another replica may have opened one since the lookup above;
            // look again right before opening so that it is updated instead.
            // NOTE: this narrows the race between replicas but does not close
            // it; running one leader (deploy/kubernetes/HA.md) does.
            let again = ctx.forge.find_by_branch(&branch).await.map_err(forge_error(ctx, account, "find_pull"))?;
            if let Some(pr) = counted(ctx, "find_pull", again).filter(|pr| pr.state == PullState::Open) {
                ctx.forge.update(pr.number, &content).await.map_err(forge_error(ctx, account, "update_pull"))?;
                counted(ctx, "update_pull", ());
                return Ok(outcome(PullAction::Updated, Some(pr.number)));
            }
            let pr = ctx.forge.open(&content).await.map_err(forge_error(ctx, account, "open_pull"))?;
            let pr = counted(ctx, "open_pull", pr);
            Ok(outcome(PullAction::Opened, Some(pr.number)))
        }
    }
}

fn shows_fingerprint(pr: &PullRequest, fingerprint: &str) -> bool {
    crate::forge::render::read_fingerprint(&pr.body) == Some(fingerprint)
}

fn write_drift_commit(
    ctx: &Context,
    plan: &Plan,
    account: &Account,
    branch: &str,
    items: &[&DriftItem],
    fingerprint: &str,
) -> Result<PullContent, Error> {
    let texts: BTreeMap<String, String> = plan
        .files
        .iter()
        .filter(|(path, _)| path.starts_with("desired-state/"))
        .filter_map(|(path, bytes)| String::from_utf8(bytes.clone()).ok().map(|t| (path.clone(), t)))
        .collect();
    let edits = crate::adopt::adopt(&texts, &plan.desired, account, items)
        .map_err(|source| Error::Adopt { account: account.name.clone(), source: Box::new(source) })?;
    let changes: BTreeMap<String, Option<Vec<u8>>> =
        edits.into_iter().map(|(path, text)| (path, text.map(String::into_bytes))).collect();

    let commit_text = plan.commit.to_string();
    let (title, body) = crate::forge::render::render_drift_pull(account, items, &commit_text, ctx.lang, fingerprint);
    let branch_error =
        |source| Error::Branch { account: account.name.clone(), branch: branch.to_string(), source: Box::new(source) };
    let head = ctx.repo.commit_files(plan.commit, branch, &changes, &title, None).map_err(branch_error)?;
    let tip = ctx.repo.branch_tip(branch).map_err(branch_error)?;
    ctx.repo.write_branch(branch, head, tip).map_err(branch_error)?;

    Ok(PullContent { branch: branch.to_string(), base: ctx.settings.branch.clone(), title, body, head_commit: head.to_string() })
}

/// Maps a failed forge call to the step's error and counts it; successful
/// calls are counted by [`counted`].
fn forge_error<'a>(
    ctx: &'a Context,
    account: &'a Account,
    operation: &'static str,
) -> impl FnOnce(crate::forge::Error) -> Error + 'a {
    move |source| {
        ctx.metrics.count_forge_request(ctx.forge.name(), operation, crate::telemetry::metrics::RequestOutcome::Error);
        Error::Forge { account: account.name.clone(), forge: ctx.forge.name(), operation, source: Box::new(source) }
    }
}

/// Counts a successful forge call and passes its value through.
fn counted<T>(ctx: &Context, operation: &'static str, value: T) -> T {
    ctx.metrics.count_forge_request(ctx.forge.name(), operation, crate::telemetry::metrics::RequestOutcome::Success);
    value
}
