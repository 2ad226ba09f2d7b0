//! Counts AWS API requests from inside the SDK, with an interceptor that
//! every client built from the shared `SdkConfig` runs.
//!
//! Each attempt (the first send and every retry) counts once in
//! `gcops_aws_requests_total`, labelled with the SDK's service and operation
//! names and an outcome taken from the HTTP status and the AWS error code.
//! An attempt that follows a throttled one also counts in
//! `gcops_aws_throttling_retries_total`.

use std::sync::Arc;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::{HttpResponse, Metadata};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};

use super::metrics::{Metrics, RequestOutcome};

/// AWS error codes that mean "slow down". Services disagree on the name.
const THROTTLING_CODES: [&str; 11] = [
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "BandwidthLimitExceeded",
    "ProvisionedThroughputExceededException",
];

/// AWS error codes that mean the caller is not allowed, or not recognised.
const DENIED_CODES: [&str; 9] = [
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "AuthFailure",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "ExpiredToken",
    "ExpiredTokenException",
    "AWSOrganizationsNotInUseException",
];

/// Returns an interceptor that counts every AWS request attempt in `metrics`.
/// Add it with `aws_config::SdkConfig::builder().interceptor(..)` or a
/// client config builder's `.interceptor(..)`.
pub fn aws_interceptor(metrics: Arc<Metrics>) -> impl Intercept {
    RequestCounter { metrics }
}

#[derive(Debug)]
struct RequestCounter {
    metrics: Arc<Metrics>,
}

/// Outcome of the previous attempt of the same operation call, kept in the
/// call's config bag so that the next attempt can tell it is a retry.
#[derive(Clone, Copy, Debug)]
struct PreviousAttempt(RequestOutcome);

impl Storable for PreviousAttempt {
    type Storer = StoreReplace<Self>;
}

fn names(cfg: &ConfigBag) -> (String, String) {
    match cfg.load::<Metadata>() {
        Some(metadata) => (metadata.service().to_string(), metadata.name().to_string()),
        None => ("unknown".to_string(), "unknown".to_string()),
    }
}

impl Intercept for RequestCounter {
    fn name(&self) -> &'static str {
        "GcopsRequestCounter"
    }

    fn read_before_attempt(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if matches!(cfg.load::<PreviousAttempt>(), Some(PreviousAttempt(RequestOutcome::Throttled))) {
            let (service, _) = names(cfg);
            self.metrics.count_aws_throttling_retry(&service);
        }
        Ok(())
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let outcome = match context.response() {
            Some(response) => classify_response(response),
            // No response at all: a connection failure or a timeout.
            None => RequestOutcome::Error,
        };
        let (service, operation) = names(cfg);
        self.metrics.count_aws_request(&service, &operation, outcome);
        cfg.interceptor_state().store_put(PreviousAttempt(outcome));
        Ok(())
    }
}

/// Classifies one HTTP response of an AWS API.
fn classify_response(response: &HttpResponse) -> RequestOutcome {
    let status = response.status().as_u16();
    if (200..300).contains(&status) {
        return RequestOutcome::Success;
    }
    let headers = response.headers();
    let code = error_code(
        headers.get("x-amzn-errortype"),
        headers.get("x-amzn-query-error"),
        response.body().bytes().unwrap_or_default(),
    );
    classify(status, code.as_deref())
}

/// Classifies a failed attempt by HTTP status and AWS error code.
fn classify(status: u16, code: Option<&str>) -> RequestOutcome {
    match code {
        Some(code) if THROTTLING_CODES.contains(&code) => RequestOutcome::Throttled,
        Some(code) if DENIED_CODES.contains(&code) => RequestOutcome::Denied,
        _ if status == 429 => RequestOutcome::Throttled,
        _ if status == 401 || status == 403 => RequestOutcome::Denied,
        _ => RequestOutcome::Error,
    }
}

/// Extracts the AWS error code of an error response, from the places the
/// AWS protocols put it: the `x-amzn-ErrorType` header (JSON protocols,
/// `Code:uri` form), the `x-amzn-query-error` header (`Code;Sender` form),
/// a JSON body's `__type` (`namespace#Code`) or `code`, or an XML body's
/// first `<Code>` element (query and REST-XML protocols).
fn error_code(error_type: Option<&str>, query_error: Option<&str>, body: &[u8]) -> Option<String> {
    if let Some(value) = error_type {
        return Some(value.split(':').next().unwrap_or(value).trim().to_string());
    }
    if let Some(value) = query_error {
        return Some(value.split(';').next().unwrap_or(value).trim().to_string());
    }
    let text = std::str::from_utf8(body).ok()?.trim_start();
    if text.starts_with('{') {
        let json: serde_json::Value = serde_json::from_str(text).ok()?;
        let raw = ["__type", "code", "Code"].iter().find_map(|k| json.get(*k).and_then(|v| v.as_str()))?;
        let after_namespace = raw.rsplit('#').next().unwrap_or(raw);
        return Some(after_namespace.split(':').next().unwrap_or(after_namespace).to_string());
    }
    let start = text.find("<Code>")? + "<Code>".len();
    let end = start + text[start..].find("</Code>")?;
    Some(text[start..end].trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_code_from_json_type() {
        let body = br#"{"__type":"com.amazonaws.organizations#AccessDeniedException","message":"no"}"#;
        assert_eq!(error_code(None, None, body).as_deref(), Some("AccessDeniedException"));
    }

    #[test]
    fn error_code_from_xml() {
        let body = b"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error></ErrorResponse>";
        assert_eq!(error_code(None, None, body).as_deref(), Some("Throttling"));
    }

    #[test]
    fn error_code_headers_win() {
        assert_eq!(error_code(Some("ThrottlingException:http://x/"), None, b"").as_deref(), Some("ThrottlingException"));
        assert_eq!(error_code(None, Some("AccessDenied;Sender"), b"").as_deref(), Some("AccessDenied"));
    }

    #[test]
    fn error_code_absent_in_plain_text() {
        assert_eq!(error_code(None, None, b"Service Unavailable"), None);
    }

    #[test]
    fn classify_by_code_then_status() {
        assert_eq!(classify(400, Some("Throttling")), RequestOutcome::Throttled);
        assert_eq!(classify(400, Some("AccessDenied")), RequestOutcome::Denied);
        assert_eq!(classify(429, None), RequestOutcome::Throttled);
        assert_eq!(classify(403, None), RequestOutcome::Denied);
        assert_eq!(classify(400, Some("ValidationError")), RequestOutcome::Error);
        assert_eq!(classify(503, None), RequestOutcome::Error);
    }
}
