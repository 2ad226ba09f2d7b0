//! The webhook router served on loopback, driven with raw HTTP/1.1 requests
//! as GitHub sends them.

use std::net::SocketAddr;
use std::time::Duration;

use gcops::webhook::{Event, MAX_BODY_BYTES, WEBHOOK_PATH, webhook_router};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

const SECRET: &[u8] = b"webhook-s3cret";

const PUSH: &str =
    r#"{"ref":"refs/heads/main","before":"0000","after":"abc123","repository":{"full_name":"gc-city/desired-state"}}"#;

struct Server {
    addr: SocketAddr,
    events: mpsc::Receiver<Event>,
}

async fn serve() -> Server {
    let (sender, events) = mpsc::channel(8);
    let app = webhook_router(SECRET.to_vec(), sender);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Server { addr, events }
}

fn sign(body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Sends one POST and returns the response status code.
async fn post(addr: SocketAddr, headers: &[(&str, &str)], body: &[u8]) -> u16 {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut head = format!(
        "POST {WEBHOOK_PATH} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    // The server may respond 413 and close before reading a large body, so
    // a failed write is not an error here.
    let _ = stream.write_all(body).await;
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response).await;
    let text = String::from_utf8_lossy(&response);
    let status_line = text.lines().next().unwrap_or_default();
    status_line.split(' ').nth(1).and_then(|code| code.parse().ok()).unwrap_or_else(|| panic!("no status in {text:?}"))
}

async fn no_event(server: &mut Server) -> bool {
    tokio::time::timeout(Duration::from_millis(100), server.events.recv()).await.is_err()
}

#[tokio::test]
async fn valid_push_accepted() {
    let mut server = serve().await;
    let signature = sign(PUSH.as_bytes());
    let status = post(server.addr, &[("X-GitHub-Event", "push"), ("X-Hub-Signature-256", &signature)], PUSH.as_bytes()).await;

    assert_eq!(status, 202);
    let event = tokio::time::timeout(Duration::from_secs(5), server.events.recv()).await.unwrap();
    assert_eq!(event, Some(Event::Push { git_ref: "refs/heads/main".to_string(), after: "abc123".to_string() }));
}

#[tokio::test]
async fn wrong_signature_is_401() {
    let mut server = serve().await;
    let signature = sign(b"another body");
    let status = post(server.addr, &[("X-GitHub-Event", "push"), ("X-Hub-Signature-256", &signature)], PUSH.as_bytes()).await;

    assert_eq!(status, 401);
    assert!(no_event(&mut server).await);
}

#[tokio::test]
async fn missing_signature_is_401() {
    let mut server = serve().await;
    let status = post(server.addr, &[("X-GitHub-Event", "push")], PUSH.as_bytes()).await;

    assert_eq!(status, 401);
    assert!(no_event(&mut server).await);
}

#[tokio::test]
async fn unsigned_garbage_is_401() {
    let mut server = serve().await;
    let status = post(server.addr, &[("X-GitHub-Event", "nonsense")], b"{not json").await;

    assert_eq!(status, 401);
    assert!(no_event(&mut server).await);
}

#[tokio::test]
async fn too_large_is_413() {
    let mut server = serve().await;
    let body = vec![b' '; MAX_BODY_BYTES + 1];
    let signature = sign(&body);
    let status = post(server.addr, &[("X-GitHub-Event", "push"), ("X-Hub-Signature-256", &signature)], &body).await;

    assert_eq!(status, 413);
    assert!(no_event(&mut server).await);
}

#[tokio::test]
async fn malformed_json_is_400() {
    let mut server = serve().await;
    let body = b"{\"ref\": ";
    let signature = sign(body);
    let status = post(server.addr, &[("X-GitHub-Event", "push"), ("X-Hub-Signature-256", &signature)], body).await;

    assert_eq!(status, 400);
    assert!(no_event(&mut server).await);
}

#[tokio::test]
async fn unknown_event_is_400() {
    let mut server = serve().await;
    let body = b"{\"action\":\"created\"}";
    let signature = sign(body);
    let status = post(server.addr, &[("X-GitHub-Event", "star"), ("X-Hub-Signature-256", &signature)], body).await;

    assert_eq!(status, 400);
    assert!(no_event(&mut server).await);
}

#[tokio::test]
async fn missing_event_header_is_400() {
    let mut server = serve().await;
    let signature = sign(PUSH.as_bytes());
    let status = post(server.addr, &[("X-Hub-Signature-256", &signature)], PUSH.as_bytes()).await;

    assert_eq!(status, 400);
    assert!(no_event(&mut server).await);
}

#[tokio::test]
async fn pull_request_event_arrives() {
    let mut server = serve().await;
    let body = br#"{"action":"opened","number":12,"pull_request":{"number":12,"head":{"ref":"feature/grant","sha":"fedcba"}}}"#;
    let signature = sign(body);
    let status = post(server.addr, &[("X-GitHub-Event", "pull_request"), ("X-Hub-Signature-256", &signature)], body).await;

    assert_eq!(status, 202);
    let event = tokio::time::timeout(Duration::from_secs(5), server.events.recv()).await.unwrap();
    let expected = Event::PullRequest {
        action: "opened".to_string(),
        number: 12,
        head_sha: "fedcba".to_string(),
        head_ref: "feature/grant".to_string(),
    };
    assert_eq!(event, Some(expected));
}

#[tokio::test]
async fn full_queue_is_503() {
    let (sender, _events) = mpsc::channel(1);
    let app = webhook_router(SECRET.to_vec(), sender);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let signature = sign(PUSH.as_bytes());
    let headers = [("X-GitHub-Event", "push"), ("X-Hub-Signature-256", signature.as_str())];

    assert_eq!(post(addr, &headers, PUSH.as_bytes()).await, 202);
    assert_eq!(post(addr, &headers, PUSH.as_bytes()).await, 503);
}
