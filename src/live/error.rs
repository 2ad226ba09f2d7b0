//! Errors of the live readers, and their classification into what an
//! operator (and the reconcile loop) can act on.

use std::error::Error as StdError;
use std::fmt;

use aws_sdk_sts::operation::assume_role::AssumeRoleError;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Kind of failure an AWS call ended in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// The service throttled the request and the retries ran out.
    Throttled,
    /// The credentials may not call the operation, or assuming the role failed.
    AccessDenied,
    /// No connection to the endpoint, or the call timed out.
    EndpointUnreachable,
    /// Anything else: a service error, an unreadable response.
    Other,
}

impl ErrorClass {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::Throttled => "throttled",
            ErrorClass::AccessDenied => "access denied",
            ErrorClass::EndpointUnreachable => "endpoint unreachable",
            ErrorClass::Other => "other",
        }
    }
}

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Call site of an AWS call: account, region (regional services only), service and operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallSite {
    pub account: String,
    pub region: Option<String>,
    pub service: &'static str,
    pub operation: &'static str,
}

impl fmt::Display for CallSite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "account {}", self.account)?;
        if let Some(region) = &self.region {
            write!(f, " region {region}")?;
        }
        write!(f, ": {} {}", self.service, self.operation)
    }
}

/// Errors of the live readers and the client factory.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An AWS API call failed (after the SDK's retries).
    #[error("{site} failed ({class})")]
    Call {
        site: CallSite,
        class: ErrorClass,
        #[source]
        source: BoxError,
    },
    /// An AWS response lacked a field the reader needs, or contained an unreadable value.
    #[error("{site} returned an invalid {field}: {detail}")]
    InvalidResponse { site: CallSite, field: &'static str, detail: String },
    /// An account id is not 12 digits, so no role ARN can be built for it.
    #[error("invalid account id {account:?}: expected 12 digits")]
    InvalidAccountId { account: String },
}

impl Error {
    /// Wraps an SDK error of a call, classifying it.
    pub fn call<E>(site: CallSite, error: SdkError<E, HttpResponse>) -> Error
    where
        E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
    {
        let class = classify(&error);
        Error::Call { site, class, source: Box::new(error) }
    }

    pub fn class(&self) -> ErrorClass {
        match self {
            Error::Call { class, .. } => *class,
            Error::InvalidResponse { .. } | Error::InvalidAccountId { .. } => ErrorClass::Other,
        }
    }

    /// Formats this error with its whole source chain, for a `Read::Unknown` reason.
    ///
    /// The SDK's error text does not include secret keys or session tokens,
    /// so the reason can be shown in a pull request.
    pub fn reason(&self) -> String {
        // The chain's Display texts only: DisplayErrorContext would append
        // the Debug form, which carries the raw HTTP response.
        let mut parts: Vec<String> = Vec::new();
        let mut current: Option<&(dyn std::error::Error + 'static)> = Some(self);
        while let Some(error) = current {
            let text = error.to_string();
            if !text.is_empty() && parts.last() != Some(&text) && !parts.iter().any(|p| p.contains(&text)) {
                parts.push(text);
            }
            current = error.source();
        }
        parts.join(": ")
    }
}

/// Error codes that AWS services use for throttling.
const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "RequestThrottledException",
    "SlowDown",
    "ProvisionedThroughputExceededException",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
];

/// Error codes that AWS services use for denied access or unusable credentials.
const ACCESS_DENIED_CODES: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "AuthorizationError",
    "UnauthorizedOperation",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "ExpiredToken",
    "ExpiredTokenException",
    "SignatureDoesNotMatch",
    "NotAuthorized",
];

/// Classifies an SDK error by its code or, for failures without a response, by its kind.
pub fn classify<E>(error: &SdkError<E, HttpResponse>) -> ErrorClass
where
    E: ProvideErrorMetadata + StdError + 'static,
{
    match error {
        SdkError::ServiceError(context) => classify_code(context.err().code()),
        SdkError::TimeoutError(_) => ErrorClass::EndpointUnreachable,
        SdkError::DispatchFailure(failure) if failure.is_io() || failure.is_timeout() => ErrorClass::EndpointUnreachable,
        _ => classify_chain(error),
    }
}

fn classify_code(code: Option<&str>) -> ErrorClass {
    match code {
        Some(code) if THROTTLING_CODES.contains(&code) => ErrorClass::Throttled,
        Some(code) if ACCESS_DENIED_CODES.contains(&code) => ErrorClass::AccessDenied,
        _ => ErrorClass::Other,
    }
}

/// Classifies an error that has no code of its own by the errors it wraps.
///
/// A failed AssumeRole surfaces in the member account's call as a credentials
/// error, not a service error. Its source is the STS error, and that error's
/// kind shows whether the role could not be assumed or STS was unreachable.
fn classify_chain(error: &(dyn StdError + 'static)) -> ErrorClass {
    let mut current = error.source();
    while let Some(inner) = current {
        if let Some(sts) = inner.downcast_ref::<SdkError<AssumeRoleError, HttpResponse>>() {
            return match classify(sts) {
                // STS returned an error without a known code, so the role could not be assumed.
                ErrorClass::Other if sts.as_service_error().is_some() => ErrorClass::AccessDenied,
                class => class,
            };
        }
        current = inner.source();
    }
    ErrorClass::Other
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_code_throttling() {
        assert_eq!(classify_code(Some("Throttling")), ErrorClass::Throttled);
    }

    #[test]
    fn classify_code_access_denied() {
        assert_eq!(classify_code(Some("AccessDeniedException")), ErrorClass::AccessDenied);
    }

    #[test]
    fn classify_code_unknown() {
        assert_eq!(classify_code(Some("ValidationError")), ErrorClass::Other);
        assert_eq!(classify_code(None), ErrorClass::Other);
    }

    #[test]
    fn call_site_display_regional() {
        let site = CallSite {
            account: "111111111111".into(),
            region: Some("ap-northeast-1".into()),
            service: "cloudwatch",
            operation: "DescribeAlarms",
        };
        assert_eq!(site.to_string(), "account 111111111111 region ap-northeast-1: cloudwatch DescribeAlarms");
    }
}
