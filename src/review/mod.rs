//! Plans of the pull requests that people open against the desired state.
//! A plan validates the head commit and lists what each account gains or
//! loses against the base branch, and what applying would change live.
//! gcops keeps one plan comment and one `gcops/plan` commit status on each
//! pull request.
//!
//! When the head does not validate, gcops also posts the errors as line
//! annotations where the forge supports them (one review per head commit
//! on GitHub).
//!
//! Nothing is applied here, and the only writes are the comment, the
//! status and the annotations of the pull request being planned.

mod changes;
mod render;

use std::collections::BTreeMap;

use chrono::NaiveDate;
use git2::Oid;
use tracing::{info, warn};

pub use changes::{ChangeKind, DesiredChange, FieldChange, desired_changes};
pub use render::{render_comment, render_status};

use crate::desired::model::DesiredState;
use crate::desired::{ValidationErrors, load};
use crate::diff::model::Drift;
use crate::forge::{CommitState, PLAN_MARKER, PLAN_STATUS_CONTEXT, PullRequest, ReviewForge};
use crate::i18n::Lang;
use crate::live::model::LiveState;
use crate::source::Repo;
use render::{render_annotation_summary, render_annotations};

/// Branch prefix of gcops' own drift pull requests, whose body is their plan.
pub const DRIFT_BRANCH_PREFIX: &str = "gcops/drift/";

/// Folders whose changes make a pull request worth planning: the
/// `desired::load` folders, with the slash that keeps `desired-state-old/` out.
const PLANNED_PREFIXES: [&str; 2] = ["desired-state/", "templates/"];

/// Result of planning one open pull request.
#[derive(Debug)]
pub struct PullPlanOutcome {
    pub number: u64,
    pub branch: String,
    pub head_commit: String,
    pub result: PlanResult,
}

#[derive(Debug)]
pub enum PlanResult {
    /// Not planned, so nothing was written to the pull request.
    Skipped(SkipReason),
    /// The plan comment and the status were written (or were already up to date).
    Planned {
        state: CommitState,
        comment_id: u64,
        /// Account-level changes against the base branch.
        changes: usize,
        /// Validation errors of the head commit.
        errors: usize,
    },
    /// A forge request failed, so the comment or the status may be stale.
    Failed(Error),
}

/// Reason a pull request was not planned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SkipReason {
    /// A gcops drift pull request, whose body is already its plan.
    DriftBranch,
    /// It merges into another branch than the one gcops reconciles.
    OtherBase,
    /// It changes nothing under `desired-state/` or `templates/`.
    NoDesiredChanges,
}

/// Errors of planning. Each names the pull request and the forge operation.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Listing the open pull requests failed, so none was planned.
    #[error("list open pull requests failed")]
    ListPulls {
        #[source]
        source: crate::forge::Error,
    },
    /// Listing the files a pull request changes failed.
    #[error("list changed files of pull request #{number} failed")]
    ChangedFiles {
        number: u64,
        #[source]
        source: crate::forge::Error,
    },
    /// Writing the plan comment failed.
    #[error("write plan comment on pull request #{number} failed")]
    Comment {
        number: u64,
        #[source]
        source: crate::forge::Error,
    },
    /// Setting the `gcops/plan` commit status failed.
    #[error("set status {PLAN_STATUS_CONTEXT} on commit {commit} of pull request #{number} failed")]
    Status {
        number: u64,
        commit: String,
        #[source]
        source: crate::forge::Error,
    },
}

/// The plan of one pull request, before it is written to the forge.
#[derive(Debug)]
pub struct PullPlan {
    pub number: u64,
    pub head_commit: String,
    pub base_branch: String,
    /// Tip of the base branch the changes were computed against.
    pub base_commit: Option<String>,
    pub verdict: Verdict,
}

#[derive(Debug)]
pub enum Verdict {
    /// The head validates.
    Valid {
        /// Changes per account against the base, empty when `base` is not loaded.
        changes: Vec<DesiredChange>,
        base: BaseState,
        /// Drift of the head's desired state against live state, when a
        /// live state was given: what applying the head would change.
        drift: Option<Drift>,
    },
    /// The head does not validate (syntax, schema, references, guardrails).
    Invalid(ValidationErrors),
    /// gcops could not plan the head.
    Unplannable(Unplannable),
}

/// Whether the base branch could be loaded to compare against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BaseState {
    Loaded,
    /// The base branch does not exist in the repository.
    Missing,
    /// The base branch does not validate, so there is nothing sound to compare with.
    Invalid {
        errors: usize,
    },
    /// Reading the base branch's tree failed.
    Unreadable {
        detail: String,
    },
}

/// Reason gcops could not plan a head commit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unplannable {
    /// The head commit is not in the repository: the branch (or, on GitHub,
    /// `refs/pull/<n>/head`) was not fetched.
    HeadMissing,
    /// The head commit exists but its tree could not be read.
    HeadUnreadable { detail: String },
}

impl Verdict {
    /// Commit status state of this verdict.
    pub fn state(&self) -> CommitState {
        match self {
            Verdict::Valid { .. } => CommitState::Success,
            Verdict::Invalid(_) => CommitState::Failure,
            Verdict::Unplannable(_) => CommitState::Error,
        }
    }
}

/// The base branch, loaded once for every pull request of a run.
struct Base {
    commit: Option<Oid>,
    state: Option<DesiredState>,
    note: BaseState,
}

/// Plans every open pull request into `base_branch` that changes
/// `desired-state/` or `templates/`, and writes one plan comment and one
/// `gcops/plan` status on each.
///
/// Head commits are read from `repo`, so the caller fetches them first
/// (on GitHub, `refs/pull/<n>/head`). `live`, when given, is the live state
/// of the current pass; each plan then shows the head's drift against it.
/// `today` decides which grants have expired. One pull request's failure
/// does not stop the others; it is returned in its outcome. Returns an error
/// only when the open pull requests cannot be listed.
pub async fn plan_pull_requests(
    repo: &Repo,
    forge: &dyn ReviewForge,
    base_branch: &str,
    live: Option<&LiveState>,
    lang: Lang,
    today: NaiveDate,
) -> Result<Vec<PullPlanOutcome>, Error> {
    let pulls = forge.list_open_pulls().await.map_err(|source| Error::ListPulls { source })?;
    let base = load_base(repo, base_branch, today);

    let mut outcomes = Vec::with_capacity(pulls.len());
    for pull in pulls {
        let result = plan_one(repo, forge, &base, base_branch, &pull, live, lang, today).await;
        match &result {
            PlanResult::Planned { state, .. } => {
                info!(pull = pull.number, commit = %pull.head_commit, state = state.as_str(), "pull request planned");
            }
            PlanResult::Skipped(reason) => {
                tracing::debug!(pull = pull.number, ?reason, "pull request not planned");
            }
            PlanResult::Failed(error) => {
                warn!(pull = pull.number, commit = %pull.head_commit, error = %error, "pull request plan not written");
            }
        }
        outcomes.push(PullPlanOutcome {
            number: pull.number,
            branch: pull.branch.clone(),
            head_commit: pull.head_commit.clone(),
            result,
        });
    }
    Ok(outcomes)
}

#[allow(clippy::too_many_arguments)] // One pull request of `plan_pull_requests`, with its arguments.
async fn plan_one(
    repo: &Repo,
    forge: &dyn ReviewForge,
    base: &Base,
    base_branch: &str,
    pull: &PullRequest,
    live: Option<&LiveState>,
    lang: Lang,
    today: NaiveDate,
) -> PlanResult {
    if pull.branch.starts_with(DRIFT_BRANCH_PREFIX) {
        return PlanResult::Skipped(SkipReason::DriftBranch);
    }
    if pull.base != base_branch {
        return PlanResult::Skipped(SkipReason::OtherBase);
    }
    let files = match forge.changed_files(pull.number).await {
        Ok(files) => files,
        Err(source) => return PlanResult::Failed(Error::ChangedFiles { number: pull.number, source }),
    };
    if !files.iter().any(|f| PLANNED_PREFIXES.iter().any(|p| f.starts_with(p))) {
        return PlanResult::Skipped(SkipReason::NoDesiredChanges);
    }

    let plan = plan_head(repo, base, base_branch, pull, live, today);
    write_plan(forge, &plan, lang).await
}

/// Loads and validates the head commit of `pull` and compares it with the base.
fn plan_head(
    repo: &Repo,
    base: &Base,
    base_branch: &str,
    pull: &PullRequest,
    live: Option<&LiveState>,
    today: NaiveDate,
) -> PullPlan {
    let verdict = match read_head(repo, &pull.head_commit) {
        Err(reason) => Verdict::Unplannable(reason),
        Ok(files) => match load(&files, today) {
            Err(errors) => Verdict::Invalid(errors),
            Ok(mut head) => {
                head.commit = pull.head_commit.clone();
                let changes = base.state.as_ref().map(|b| desired_changes(b, &head)).unwrap_or_default();
                let drift = live.map(|live| crate::diff::diff_on(&head, live, today));
                Verdict::Valid { changes, base: base.note.clone(), drift }
            }
        },
    };
    PullPlan {
        number: pull.number,
        head_commit: pull.head_commit.clone(),
        base_branch: base_branch.to_string(),
        base_commit: base.commit.map(|c| c.to_string()),
        verdict,
    }
}

fn read_head(repo: &Repo, head_commit: &str) -> Result<BTreeMap<String, Vec<u8>>, Unplannable> {
    let Ok(oid) = Oid::from_str(head_commit) else {
        return Err(Unplannable::HeadMissing);
    };
    if repo.git().find_commit(oid).is_err() {
        return Err(Unplannable::HeadMissing);
    }
    repo.read_files(oid, &PLANNED_PREFIXES).map_err(|e| Unplannable::HeadUnreadable { detail: crate::error_chain(&e) })
}

fn load_base(repo: &Repo, base_branch: &str, today: NaiveDate) -> Base {
    let commit = match repo.branch_tip(base_branch) {
        Ok(Some(commit)) => commit,
        Ok(None) => return Base { commit: None, state: None, note: BaseState::Missing },
        Err(e) => return Base { commit: None, state: None, note: BaseState::Unreadable { detail: crate::error_chain(&e) } },
    };
    let files = match repo.read_files(commit, &PLANNED_PREFIXES) {
        Ok(files) => files,
        Err(e) => {
            return Base { commit: Some(commit), state: None, note: BaseState::Unreadable { detail: crate::error_chain(&e) } };
        }
    };
    match load(&files, today) {
        Ok(state) => Base { commit: Some(commit), state: Some(state), note: BaseState::Loaded },
        Err(errors) => {
            warn!(branch = base_branch, commit = %commit, errors = errors.len(), "base branch does not validate; plans list no changes");
            Base { commit: Some(commit), state: None, note: BaseState::Invalid { errors: errors.len() } }
        }
    }
}

/// Writes the comment first and the status second, so that a status never
/// points at a comment that was not updated. The annotations of an invalid
/// head come last and do not change the result.
async fn write_plan(forge: &dyn ReviewForge, plan: &PullPlan, lang: Lang) -> PlanResult {
    let comment = render_comment(plan, lang);
    let comment_id = match forge.upsert_comment(plan.number, PLAN_MARKER, &comment).await {
        Ok(id) => id,
        Err(source) => return PlanResult::Failed(Error::Comment { number: plan.number, source }),
    };

    let state = plan.verdict.state();
    let description = render_status(plan, lang);
    if let Err(source) = forge.set_status(&plan.head_commit, PLAN_STATUS_CONTEXT, state, &description).await {
        let commit = plan.head_commit.clone();
        return PlanResult::Failed(Error::Status { number: plan.number, commit, source });
    }

    if let Verdict::Invalid(errors) = &plan.verdict {
        annotate_errors(forge, plan, errors, lang).await;
    }

    let (changes, errors) = match &plan.verdict {
        Verdict::Valid { changes, .. } => (changes.len(), 0),
        Verdict::Invalid(errors) => (0, errors.len()),
        Verdict::Unplannable(_) => (0, 0),
    };
    PlanResult::Planned { state, comment_id, changes, errors }
}

/// Posts the validation errors as line annotations. A failure is only
/// logged, because the plan comment and the status already carry every error.
async fn annotate_errors(forge: &dyn ReviewForge, plan: &PullPlan, errors: &ValidationErrors, lang: Lang) {
    let annotations = render_annotations(errors, lang);
    let summary = render_annotation_summary(plan, errors.len(), annotations.len(), lang);
    if let Err(error) = forge.annotate(plan.number, &plan.head_commit, &summary, &annotations).await {
        warn!(pull = plan.number, commit = %plan.head_commit, error = %crate::error_chain(&error), "line annotations not posted");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desired::load::{DESIRED_DIR, TEMPLATES_DIR};

    #[test]
    fn planned_prefixes_match_loader_folders() {
        assert_eq!(PLANNED_PREFIXES, [format!("{DESIRED_DIR}/"), format!("{TEMPLATES_DIR}/")]);
    }
}
