//! Errors of a reconcile pass, each tied to the step that failed.

use crate::i18n::Lang;

/// What the outer loop should do about an error.
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
    Source(#[source] crate::source::Error),
    /// The desired state at the branch head does not validate.
    #[error("step validate: the desired state at commit {commit} has {count} error(s)")]
    Validation {
        commit: String,
        count: usize,
        #[source]
        source: crate::desired::ValidationErrors,
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
        source: crate::adopt::Error,
    },
    /// Writing the drift commit or branch failed for one account.
    #[error("step propose: account {account}: writing branch {branch} failed")]
    Branch {
        account: String,
        branch: String,
        #[source]
        source: crate::source::Error,
    },
    /// A forge call failed for one account.
    #[error("step propose: account {account}: {operation} on the {forge} forge failed")]
    Forge {
        account: String,
        forge: &'static str,
        operation: &'static str,
        #[source]
        source: crate::forge::Error,
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

    /// What the operator should do, in their language.
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
