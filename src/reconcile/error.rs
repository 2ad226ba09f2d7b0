//! Errors of a reconcile pass, each tied to the step that failed.

use crate::i18n::Lang;

/// Class of an error, which decides what the outer loop does about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// Network, throttling, a forge outage: retry with backoff.
    Transient,
    /// Bad desired state or settings: retrying cannot help until the input changes.
    Terminal,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Opening, fetching or reading the desired-state repository failed.
    #[error("step fetch: reading the desired-state repository failed")]
    Source(#[source] Box<crate::source::Error>),
    /// The desired state at the branch head does not validate.
    #[error("step validate: the desired state at commit {commit} has {count} error(s)")]
    Validation {
        commit: String,
        count: usize,
        #[source]
        source: Box<crate::desired::ValidationErrors>,
    },
    /// No account could be read, so nothing is known about live state and no
    /// pull request may be written or closed.
    #[error("step read_live: no account could be read from AWS (endpoint {endpoint}); first failure: {first_reason}")]
    LiveUnavailable { endpoint: String, first_reason: String },
    /// Building the edits that adopt live state failed for one account.
    #[error("step propose: account {account}: building the desired-state edit failed")]
    Adopt {
        account: String,
        #[source]
        source: Box<crate::adopt::Error>,
    },
    /// Writing the drift commit or branch failed for one account.
    #[error("step propose: account {account}: writing branch {branch} failed")]
    Branch {
        account: String,
        branch: String,
        #[source]
        source: Box<crate::source::Error>,
    },
    /// A forge call failed for one account.
    #[error("step propose: account {account}: {operation} on the {forge} forge failed")]
    Forge {
        account: String,
        forge: &'static str,
        operation: &'static str,
        #[source]
        source: Box<crate::forge::Error>,
    },
}

impl Error {
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::Validation { .. } | Error::Adopt { .. } => ErrorClass::Terminal,
            Error::Source(_) | Error::LiveUnavailable { .. } | Error::Branch { .. } | Error::Forge { .. } => {
                ErrorClass::Transient
            }
        }
    }

    /// This error's own message (without its causes) in the operator's language.
    pub fn message(&self, lang: Lang) -> String {
        let code = lang.code();
        let text = match self {
            Error::Source(_) => rust_i18n::t!("reconcile.error.source", locale = code),
            Error::Validation { commit, count, .. } => {
                rust_i18n::t!("reconcile.error.validation", locale = code, commit = commit, count = count)
            }
            Error::LiveUnavailable { endpoint, first_reason } => {
                rust_i18n::t!("reconcile.error.live", locale = code, endpoint = endpoint, reason = first_reason)
            }
            Error::Adopt { account, .. } => rust_i18n::t!("reconcile.error.adopt", locale = code, account = account),
            Error::Branch { account, branch, .. } => {
                rust_i18n::t!("reconcile.error.branch", locale = code, account = account, branch = branch)
            }
            Error::Forge { account, forge, operation, .. } => {
                rust_i18n::t!("reconcile.error.forge", locale = code, account = account, forge = forge, operation = operation)
            }
        };
        text.into_owned()
    }

    /// Returns what the operator should do, in their language.
    pub fn hint(&self, lang: Lang) -> String {
        let key = match self {
            Error::Source(_) => "reconcile.hint.source",
            Error::Validation { .. } => "reconcile.hint.validation",
            Error::LiveUnavailable { .. } => "reconcile.hint.live",
            Error::Adopt { .. } => "reconcile.hint.adopt",
            Error::Branch { .. } => "reconcile.hint.branch",
            Error::Forge { .. } => "reconcile.hint.forge",
        };
        rust_i18n::t!(key, locale = lang.code()).into_owned()
    }
}
