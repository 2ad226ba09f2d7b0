//! GitHub webhooks: the `X-Hub-Signature-256` check, the events gcops acts
//! on, and an axum router that hands verified events to the daemon.
//!
//! The checks run in a fixed order so that an unauthenticated sender learns
//! nothing and causes nothing: body size first, then the signature, and only
//! then the event name and JSON.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;
use tokio::sync::mpsc;

/// Largest accepted payload. GitHub caps webhook payloads at 25 MB, but the
/// events gcops reads are small; a larger body is rejected unread.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Path the router serves.
pub const WEBHOOK_PATH: &str = "/webhook";

const SIGNATURE_HEADER: &str = "x-hub-signature-256";
const EVENT_HEADER: &str = "x-github-event";
const DELIVERY_HEADER: &str = "x-github-delivery";
const SIGNATURE_PREFIX: &str = "sha256=";

/// A verified webhook event that gcops acts on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// GitHub's test delivery when a webhook is created.
    Ping,
    /// Commits were pushed.
    Push {
        /// Full ref name, e.g. `refs/heads/main`.
        git_ref: String,
        /// Commit id the ref points at after the push.
        after: String,
    },
    PullRequest {
        /// `opened`, `synchronize`, `closed`, `reopened`, ...
        action: String,
        number: u64,
        head_sha: String,
        head_ref: String,
    },
    IssueComment {
        /// `created`, `edited` or `deleted`.
        action: String,
        issue_number: u64,
        /// True when the issue is a pull request.
        is_pull_request: bool,
        body: String,
    },
}

/// Errors of webhook handling. None carries the secret.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// The body is larger than [`MAX_BODY_BYTES`].
    #[error("webhook body of {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge { size: usize, limit: usize },
    /// No `X-Hub-Signature-256` header.
    #[error("webhook signature header X-Hub-Signature-256 is missing")]
    MissingSignature,
    /// The header is not `sha256=` followed by 64 hex digits.
    #[error("webhook signature header X-Hub-Signature-256 is malformed")]
    MalformedSignature,
    /// The signature does not match the body and the secret.
    #[error("webhook signature does not match")]
    SignatureMismatch,
    /// An empty secret would let anyone compute a valid signature.
    #[error("webhook secret is empty")]
    EmptySecret,
    /// The `X-GitHub-Event` header is missing.
    #[error("webhook event header X-GitHub-Event is missing")]
    MissingEvent,
    /// An event type gcops does not handle.
    #[error("webhook event {name:?} is not handled")]
    UnknownEvent { name: String },
    /// The payload is not JSON of the expected shape for its event.
    #[error("webhook {event} payload is not valid")]
    MalformedPayload {
        event: String,
        #[source]
        source: serde_json::Error,
    },
    /// The secret file could not be read.
    #[error("cannot read webhook secret file {path}")]
    SecretRead {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The secret file is empty or holds only line breaks.
    #[error("webhook secret file {path} is empty")]
    SecretEmpty { path: PathBuf },
}

/// Reads the webhook secret from `path`. Trailing line breaks are dropped,
/// because a file written with `echo` ends with one and GitHub's secret
/// does not.
pub fn load_secret(path: &Path) -> Result<Vec<u8>, WebhookError> {
    let mut secret = std::fs::read(path).map_err(|source| WebhookError::SecretRead { path: path.to_path_buf(), source })?;
    while matches!(secret.last(), Some(b'\n' | b'\r')) {
        secret.pop();
    }
    if secret.is_empty() {
        return Err(WebhookError::SecretEmpty { path: path.to_path_buf() });
    }
    Ok(secret)
}

/// Checks `header` (the `X-Hub-Signature-256` value) against the HMAC-SHA256
/// of `body` under `secret`, in constant time.
pub fn verify_signature(secret: &[u8], body: &[u8], header: Option<&str>) -> Result<(), WebhookError> {
    check_size(body)?;
    if secret.is_empty() {
        return Err(WebhookError::EmptySecret);
    }
    let header = header.ok_or(WebhookError::MissingSignature)?;
    let digits = header.trim().strip_prefix(SIGNATURE_PREFIX).ok_or(WebhookError::MalformedSignature)?;
    let expected = hex::decode(digits).map_err(|_| WebhookError::MalformedSignature)?;
    if expected.len() != 32 {
        return Err(WebhookError::MalformedSignature);
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).map_err(|_| WebhookError::EmptySecret)?;
    mac.update(body);
    mac.verify_slice(&expected).map_err(|_| WebhookError::SignatureMismatch)
}

/// Parses the payload of event `event_name` (the `X-GitHub-Event` value).
/// Call it only after [`verify_signature`] succeeded.
pub fn parse_event(event_name: &str, body: &[u8]) -> Result<Event, WebhookError> {
    check_size(body)?;
    let malformed = |source| WebhookError::MalformedPayload { event: event_name.to_string(), source };
    match event_name {
        "ping" => Ok(Event::Ping),
        "push" => {
            let payload: PushPayload = serde_json::from_slice(body).map_err(malformed)?;
            Ok(Event::Push { git_ref: payload.git_ref, after: payload.after })
        }
        "pull_request" => {
            let payload: PullRequestPayload = serde_json::from_slice(body).map_err(malformed)?;
            Ok(Event::PullRequest {
                action: payload.action,
                number: payload.number,
                head_sha: payload.pull_request.head.sha,
                head_ref: payload.pull_request.head.git_ref,
            })
        }
        "issue_comment" => {
            let payload: IssueCommentPayload = serde_json::from_slice(body).map_err(malformed)?;
            Ok(Event::IssueComment {
                action: payload.action,
                issue_number: payload.issue.number,
                is_pull_request: payload.issue.pull_request.is_some(),
                body: payload.comment.body.unwrap_or_default(),
            })
        }
        other => Err(WebhookError::UnknownEvent { name: other.to_string() }),
    }
}

fn check_size(body: &[u8]) -> Result<(), WebhookError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(WebhookError::TooLarge { size: body.len(), limit: MAX_BODY_BYTES });
    }
    Ok(())
}

#[derive(Deserialize)]
struct PushPayload {
    #[serde(rename = "ref")]
    git_ref: String,
    after: String,
}

#[derive(Deserialize)]
struct PullRequestPayload {
    action: String,
    number: u64,
    pull_request: PullRequestObject,
}

#[derive(Deserialize)]
struct PullRequestObject {
    head: HeadObject,
}

#[derive(Deserialize)]
struct HeadObject {
    #[serde(rename = "ref")]
    git_ref: String,
    sha: String,
}

#[derive(Deserialize)]
struct IssueCommentPayload {
    action: String,
    issue: IssueObject,
    comment: CommentObject,
}

#[derive(Deserialize)]
struct IssueObject {
    number: u64,
    /// Present only on issues that are pull requests.
    pull_request: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct CommentObject {
    body: Option<String>,
}

struct WebhookState {
    secret: Vec<u8>,
    sender: mpsc::Sender<Event>,
}

/// A router serving `POST` [`WEBHOOK_PATH`]. It responds 413 for a body over
/// [`MAX_BODY_BYTES`], 401 for a missing or wrong signature, 400 for a
/// missing or unknown event or a malformed payload, 503 when `sender` is
/// full or closed, and 202 after sending the event to `sender`.
pub fn webhook_router(secret: Vec<u8>, sender: mpsc::Sender<Event>) -> Router {
    let state = Arc::new(WebhookState { secret, sender });
    Router::new().route(WEBHOOK_PATH, post(receive)).layer(DefaultBodyLimit::max(MAX_BODY_BYTES)).with_state(state)
}

async fn receive(State(state): State<Arc<WebhookState>>, headers: HeaderMap, body: Result<Bytes, BytesRejection>) -> Response {
    let delivery = header(&headers, DELIVERY_HEADER).unwrap_or("-").to_string();
    let body = match body {
        Ok(body) => body,
        Err(rejection) => {
            tracing::warn!(delivery, error = %rejection, "webhook body rejected");
            return (rejection.status(), "request body rejected\n").into_response();
        }
    };

    if let Err(error) = verify_signature(&state.secret, &body, header(&headers, SIGNATURE_HEADER)) {
        tracing::warn!(delivery, error = %error, "webhook rejected");
        let status = match error {
            WebhookError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            _ => StatusCode::UNAUTHORIZED,
        };
        return (status, "signature missing or invalid\n").into_response();
    }

    let event = header(&headers, EVENT_HEADER).ok_or(WebhookError::MissingEvent).and_then(|name| parse_event(name, &body));
    let event = match event {
        Ok(event) => event,
        Err(error) => {
            tracing::warn!(delivery, error = %error, "webhook event rejected");
            return (StatusCode::BAD_REQUEST, format!("{error}\n")).into_response();
        }
    };

    match state.sender.try_send(event) {
        Ok(()) => {
            tracing::debug!(delivery, "webhook event accepted");
            StatusCode::ACCEPTED.into_response()
        }
        Err(error) => {
            // The next scheduled pass picks up whatever this event announced.
            tracing::warn!(delivery, error = %error, "webhook event dropped: queue full or closed");
            (StatusCode::SERVICE_UNAVAILABLE, "event queue full\n").into_response()
        }
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(secret: &[u8], body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
        mac.update(body);
        format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
    }

    #[test]
    fn verify_signature_accepts_valid() {
        let header = sign(b"s3cret", b"{}");
        assert!(verify_signature(b"s3cret", b"{}", Some(&header)).is_ok());
    }

    #[test]
    fn verify_signature_github_example() {
        // The example from GitHub's webhook documentation.
        let header = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert!(verify_signature(b"It's a Secret to Everybody", b"Hello, World!", Some(header)).is_ok());
    }

    #[test]
    fn verify_signature_rejects_wrong_secret() {
        let header = sign(b"other", b"{}");
        let result = verify_signature(b"s3cret", b"{}", Some(&header));
        assert!(matches!(result, Err(WebhookError::SignatureMismatch)));
    }

    #[test]
    fn verify_signature_rejects_missing() {
        assert!(matches!(verify_signature(b"s3cret", b"{}", None), Err(WebhookError::MissingSignature)));
    }

    #[test]
    fn verify_signature_rejects_malformed() {
        for header in ["sha1=abcd", "sha256=zz", "sha256=abcd", ""] {
            let result = verify_signature(b"s3cret", b"{}", Some(header));
            assert!(matches!(result, Err(WebhookError::MalformedSignature)), "{header:?}: {result:?}");
        }
    }

    #[test]
    fn verify_signature_rejects_empty_secret() {
        let header = sign(b"", b"{}");
        assert!(matches!(verify_signature(b"", b"{}", Some(&header)), Err(WebhookError::EmptySecret)));
    }

    #[test]
    fn verify_signature_checks_size_first() {
        let body = vec![b' '; MAX_BODY_BYTES + 1];
        assert!(matches!(verify_signature(b"s3cret", &body, None), Err(WebhookError::TooLarge { .. })));
    }

    #[test]
    fn parse_event_push() {
        let body = br#"{"ref":"refs/heads/main","after":"abc123","before":"000"}"#;
        let event = parse_event("push", body).unwrap();
        assert_eq!(event, Event::Push { git_ref: "refs/heads/main".to_string(), after: "abc123".to_string() });
    }

    #[test]
    fn parse_event_pull_request() {
        let body = br#"{"action":"synchronize","number":7,"pull_request":{"head":{"ref":"feature","sha":"def456"}}}"#;
        let event = parse_event("pull_request", body).unwrap();
        let expected = Event::PullRequest {
            action: "synchronize".to_string(),
            number: 7,
            head_sha: "def456".to_string(),
            head_ref: "feature".to_string(),
        };
        assert_eq!(event, expected);
    }

    #[test]
    fn parse_event_issue_comment_on_pull() {
        let body = br#"{"action":"created","issue":{"number":3,"pull_request":{"url":"x"}},"comment":{"body":"/gcops plan"}}"#;
        let event = parse_event("issue_comment", body).unwrap();
        let expected = Event::IssueComment {
            action: "created".to_string(),
            issue_number: 3,
            is_pull_request: true,
            body: "/gcops plan".to_string(),
        };
        assert_eq!(event, expected);
    }

    #[test]
    fn parse_event_issue_comment_on_issue() {
        let body = br#"{"action":"created","issue":{"number":4},"comment":{"body":"hi"}}"#;
        let Event::IssueComment { is_pull_request, .. } = parse_event("issue_comment", body).unwrap() else {
            panic!("expected an issue comment event");
        };
        assert!(!is_pull_request);
    }

    #[test]
    fn parse_event_rejects_unknown() {
        let result = parse_event("star", b"{}");
        assert!(matches!(result, Err(WebhookError::UnknownEvent { .. })));
    }

    #[test]
    fn parse_event_rejects_malformed() {
        for body in [&b"{"[..], b"[]", b"{\"ref\":1}", b"\xff\xfe", b""] {
            let result = parse_event("push", body);
            assert!(matches!(result, Err(WebhookError::MalformedPayload { .. })), "{body:?}");
        }
    }

    #[test]
    fn load_secret_strips_line_break() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        std::fs::write(&path, "s3cret\n").unwrap();
        assert_eq!(load_secret(&path).unwrap(), b"s3cret");
    }

    #[test]
    fn load_secret_rejects_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        std::fs::write(&path, "\n").unwrap();
        assert!(matches!(load_secret(&path), Err(WebhookError::SecretEmpty { .. })));
    }

    #[test]
    fn load_secret_rejects_missing_file() {
        let dir = tempfile::tempdir().unwrap();
        let result = load_secret(&dir.path().join("absent"));
        assert!(matches!(result, Err(WebhookError::SecretRead { .. })));
    }
}
