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
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextRef,
};
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

/// Service (lowercased, e.g. `iam`) and operation (e.g. `ListRoles`) of the
/// call, from the metadata each generated operation stores.
fn names(cfg: &ConfigBag) -> (String, String) {
    match cfg.load::<Metadata>() {
        Some(metadata) => (metadata.service().to_ascii_lowercase(), metadata.name().to_string()),
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

    const THROTTLED: &str = "HTTP/1.1 400 Bad Request\r\nContent-Type: text/xml\r\n";
    const THROTTLED_BODY: &str = "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>\
        <Message>Rate exceeded</Message></Error><RequestId>1</RequestId></ErrorResponse>";
    const OK: &str = "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\n";
    const OK_BODY: &str = "<ListRolesResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><ListRolesResult>\
        <IsTruncated>false</IsTruncated><Roles/></ListRolesResult>\
        <ResponseMetadata><RequestId>2</RequestId></ResponseMetadata></ListRolesResponse>";
    const DENIED: &str = "HTTP/1.1 403 Forbidden\r\nContent-Type: text/xml\r\n";
    const DENIED_BODY: &str = "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>\
        <Message>not authorized</Message></Error><RequestId>3</RequestId></ErrorResponse>";

    /// Answers one request per connection on loopback with the given
    /// responses in order, as an IAM endpoint would.
    async fn respond_in_order(responses: Vec<(&'static str, &'static str)>) -> std::net::SocketAddr {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            for (head, body) in responses {
                let (mut stream, _) = listener.accept().await.unwrap();
                let mut request = Vec::new();
                let mut buffer = [0u8; 4096];
                // The SDK sends a small form-encoded POST; read until its body is complete.
                loop {
                    let n = stream.read(&mut buffer).await.unwrap();
                    request.extend_from_slice(&buffer[..n]);
                    let text = String::from_utf8_lossy(&request).to_string();
                    if let Some((headers, rest)) = text.split_once("\r\n\r\n") {
                        let length = headers
                            .lines()
                            .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_string()))
                            .and_then(|v| v.parse::<usize>().ok())
                            .unwrap_or(0);
                        if rest.len() >= length {
                            break;
                        }
                    }
                    if n == 0 {
                        break;
                    }
                }
                let response = format!("{head}Content-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
                stream.write_all(response.as_bytes()).await.unwrap();
                stream.shutdown().await.unwrap();
            }
        });
        addr
    }

    fn iam_client(addr: std::net::SocketAddr, metrics: Arc<Metrics>) -> aws_sdk_iam::Client {
        let retry = aws_smithy_types::retry::RetryConfig::standard()
            .with_max_attempts(2)
            .with_initial_backoff(std::time::Duration::from_millis(1));
        let config = aws_sdk_iam::Config::builder()
            .behavior_version(aws_sdk_iam::config::BehaviorVersion::latest())
            .region(aws_sdk_iam::config::Region::new("ap-northeast-1"))
            .credentials_provider(aws_credential_types::Credentials::new("AKIDTEST", "secret", None, None, "test"))
            .endpoint_url(format!("http://{addr}"))
            .retry_config(retry)
            .interceptor(aws_interceptor(metrics))
            .build();
        aws_sdk_iam::Client::from_conf(config)
    }

    #[tokio::test]
    async fn interceptor_counts_attempts_and_retries() {
        let addr = respond_in_order(vec![(THROTTLED, THROTTLED_BODY), (OK, OK_BODY), (DENIED, DENIED_BODY)]).await;
        let metrics = Arc::new(Metrics::new());
        let iam = iam_client(addr, metrics.clone());

        iam.list_roles().send().await.expect("the retry after throttling succeeds");
        iam.list_roles().send().await.expect_err("access denied is not retried");

        let text = metrics.encode_openmetrics();
        let line = |outcome: &str| {
            format!("gcops_aws_requests_total{{service=\"iam\",operation=\"ListRoles\",outcome=\"{outcome}\"}} 1")
        };
        assert!(text.contains(&line("throttled")), "{text}");
        assert!(text.contains(&line("success")), "{text}");
        assert!(text.contains(&line("denied")), "{text}");
        assert!(text.contains("gcops_aws_throttling_retries_total{service=\"iam\"} 1"), "{text}");
    }
}
