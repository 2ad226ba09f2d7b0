//! Pull requests: the [`Forge`] trait, the local ref-backed forge, and the
//! rendering of drift pull request bodies.
//!
//! A forge only records pull requests; the commits and branches they point
//! at are written by [`crate::source`] before the forge is called.

use serde::{Deserialize, Serialize};

pub mod github;
pub mod local;
pub mod render;

pub use local::LocalForge;

/// State of a pull request as the forge reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PullState {
    Open,
    Closed,
    Merged,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PullRequest {
    pub number: u64,
    /// Head branch, e.g. `gcops/drift/jumin-asp`.
    pub branch: String,
    /// Base branch the pull request merges into.
    pub base: String,
    pub title: String,
    pub body: String,
    pub state: PullState,
    /// Commit id of the head branch when the pull request was last written.
    pub head_commit: String,
}

/// Content of a pull request to open or update.
#[derive(Clone, Debug, PartialEq)]
pub struct PullContent {
    pub branch: String,
    pub base: String,
    pub title: String,
    pub body: String,
    pub head_commit: String,
}

/// Pull request operations gcops needs. Implementations must be idempotent
/// from the caller's view: the reconcile pass finds an existing pull request
/// by branch before it opens one, so a restart never duplicates.
#[async_trait::async_trait]
pub trait Forge: Send + Sync {
    /// Short name for logs and metrics (`local`, `github`).
    fn name(&self) -> &'static str;

    /// Returns the most recent pull request (any state) whose head is `branch`.
    async fn find_by_branch(&self, branch: &str) -> Result<Option<PullRequest>, Error>;

    async fn open(&self, content: &PullContent) -> Result<PullRequest, Error>;

    /// Replaces title, body and head commit of an open pull request.
    async fn update(&self, number: u64, content: &PullContent) -> Result<PullRequest, Error>;

    /// Adds `comment`, then closes the pull request unmerged.
    async fn close(&self, number: u64, comment: &str) -> Result<(), Error>;

    async fn comment(&self, number: u64, body: &str) -> Result<(), Error>;
}

/// Hidden marker that identifies the plan comment of a pull request.
pub const PLAN_MARKER: &str = "<!-- gcops:plan -->";

/// Returns the hidden marker of the annotation review of head commit
/// `commit`. A forge posts at most one review per marker.
pub fn annotation_marker(commit: &str) -> String {
    format!("<!-- gcops:annotations commit={commit} -->")
}

/// One message on one line of a file in a pull request's head commit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Annotation {
    /// Path relative to the repository root.
    pub path: String,
    /// 1-based line number in the head commit's version of the file.
    pub line: u64,
    pub message: String,
}

/// Context name of the commit status that carries the plan result.
pub const PLAN_STATUS_CONTEXT: &str = "gcops/plan";

/// State of a commit status, as GitHub names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CommitState {
    Pending,
    Success,
    Failure,
    Error,
}

impl CommitState {
    pub fn as_str(self) -> &'static str {
        match self {
            CommitState::Pending => "pending",
            CommitState::Success => "success",
            CommitState::Failure => "failure",
            CommitState::Error => "error",
        }
    }
}

/// Review operations: plan comments and commit statuses on pull requests
/// that people open against the desired state.
#[async_trait::async_trait]
pub trait ReviewForge: Send + Sync {
    /// Keeps exactly one comment containing `marker` on pull request
    /// `number`, with `body` as its text (the marker is added when `body`
    /// lacks it). Returns the comment id.
    async fn upsert_comment(&self, number: u64, marker: &str, body: &str) -> Result<u64, Error>;

    /// Sets the commit status `context` on `commit`.
    async fn set_status(&self, commit: &str, context: &str, state: CommitState, description: &str) -> Result<(), Error>;

    async fn list_open_pulls(&self) -> Result<Vec<PullRequest>, Error>;

    /// Paths changed by pull request `number`, relative to the repository
    /// root; a renamed file appears under its old and its new path.
    async fn changed_files(&self, number: u64) -> Result<Vec<String>, Error>;

    /// Posts `annotations` on the lines of head commit `commit` of pull
    /// request `number`, with `summary` as the text above them, at most once
    /// per head commit: a second call for the same commit posts nothing.
    /// NOTE: the check lists existing reviews before posting, so two replicas
    /// calling at the same moment can both post.
    ///
    /// The default does nothing, for forges that cannot show line
    /// annotations; the plan comment lists every error anyway.
    async fn annotate(&self, number: u64, commit: &str, summary: &str, annotations: &[Annotation]) -> Result<(), Error> {
        let _ = (number, commit, summary, annotations);
        Ok(())
    }
}

/// A forge that does both drift pull requests and pull request reviews;
/// every forge gcops ships implements both.
pub trait PullForge: Forge + ReviewForge {}

impl<T: Forge + ReviewForge> PullForge for T {}

/// Errors of the forge layer; each names the forge and the pull request or branch.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing the ref-backed store of the local forge failed.
    #[error("local forge at {repo}: {action} failed")]
    LocalStore {
        repo: String,
        action: String,
        #[source]
        source: git2::Error,
    },
    /// A pull request record could not be decoded.
    #[error("local forge at {repo}: pull request record {reference} is not valid")]
    BadRecord {
        repo: String,
        reference: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("{forge} forge: pull request #{number} not found")]
    NotFound { forge: &'static str, number: u64 },
    /// The pull request is closed or merged, so it cannot be updated.
    #[error("{forge} forge: pull request #{number} is not open")]
    NotOpen { forge: &'static str, number: u64 },
    /// No pull request of the local forge has this head commit, so a
    /// commit status on it has nowhere to be stored.
    #[error("local forge at {repo}: no pull request has head commit {commit}")]
    UnknownCommit { repo: String, commit: String },
    /// A GitHub request or the GitHub forge's set-up failed; the inner
    /// error names the repository and the operation.
    #[error(transparent)]
    Github(#[from] github::Error),
}
