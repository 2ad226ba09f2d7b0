//! The git repository that contains the desired state: open a local repository
//! or a cached clone of a remote, read files from a commit's tree, write
//! commits and move the branches gcops owns.
//!
//! gcops never moves a branch it did not create. A branch counts as gcops'
//! own when its tip commit was committed by the gcops identity and carries a
//! `Gcops-Branch: <name>` trailer naming that branch.

mod git;

use std::path::PathBuf;

pub use git::Repo;

/// Trailer key that marks a commit as written by gcops for one branch.
pub const BRANCH_TRAILER: &str = "Gcops-Branch";

/// Name and e-mail of a commit author or committer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub name: String,
    pub email: String,
}

impl Default for Identity {
    /// Returns `gcops <gcops@localhost>`, the identity used unless the settings name another.
    fn default() -> Self {
        Identity { name: "gcops".to_string(), email: "gcops@localhost".to_string() }
    }
}

/// Credentials for a remote repository. The values are names and paths,
/// never secrets, so that settings can be logged.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Auth {
    /// Environment variable that contains the HTTPS token (sent as the password).
    pub token_env: Option<String>,
    /// User name sent with the HTTPS token; defaults to `x-access-token`,
    /// which GitHub and Gitea accept for tokens.
    pub username: Option<String>,
    /// Private key file for SSH URLs.
    pub ssh_key: Option<PathBuf>,
}

/// How to open a repository.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// Folder with one bare clone per remote URL.
    pub cache_dir: PathBuf,
    pub auth: Auth,
    /// Committer of every commit gcops writes, and the identity that marks a
    /// branch as gcops' own.
    pub identity: Identity,
}

impl Options {
    pub fn new(cache_dir: impl Into<PathBuf>) -> Options {
        Options { cache_dir: cache_dir.into(), auth: Auth::default(), identity: Identity::default() }
    }
}

/// Errors of the git source. Every variant names the repository (a local
/// path, or the URL with any password removed); none carries a token.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A local path is not a git repository.
    #[error("cannot open git repository {repo}")]
    Open {
        repo: String,
        #[source]
        source: git2::Error,
    },
    /// The cache folder for a remote could not be created.
    #[error("cannot create cache folder {path} for {repo}")]
    Cache {
        repo: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The environment variable that should hold the HTTPS token is unset.
    #[error("token for {repo} missing: environment variable {var} is not set")]
    MissingToken { repo: String, var: String },
    /// Cloning or fetching the remote failed (unreachable, denied, not a repository).
    #[error("fetch from {repo} failed")]
    Fetch {
        repo: String,
        #[source]
        source: git2::Error,
    },
    /// The branch does not exist (for a remote: after the last fetch).
    #[error("branch {branch} not found in {repo}")]
    BranchNotFound { repo: String, branch: String },
    /// A git operation on the repository's objects or refs failed.
    #[error("{operation} in {repo} failed")]
    Git {
        repo: String,
        operation: String,
        #[source]
        source: git2::Error,
    },
    /// The branch exists but its tip was not written by gcops for this branch.
    #[error(
        "branch {branch} in {repo} was not written by gcops: its tip commit lacks the Gcops-Branch trailer or has another committer (someone created it, or added a commit on top); refusing to move it"
    )]
    NotOwned { repo: String, branch: String },
    /// The branch is the repository's default branch, which gcops never writes.
    #[error("branch {branch} is the default branch of {repo}; refusing to write it")]
    DefaultBranch { repo: String, branch: String },
    /// The branch moved since the caller read it (compare-and-swap failed).
    #[error("branch {branch} in {repo} is at {actual}, expected {expected}")]
    Stale { repo: String, branch: String, expected: String, actual: String },
    /// Pushing the branch failed before the remote returned a status for it.
    #[error("push of branch {branch} to {repo} failed")]
    Push {
        repo: String,
        branch: String,
        #[source]
        source: git2::Error,
    },
    /// The remote rejected the push of the branch.
    #[error("push of branch {branch} to {repo} rejected: {status}")]
    PushRejected { repo: String, branch: String, status: String },
}
