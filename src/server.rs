//! The daemon's HTTP endpoints: `/metrics` for Prometheus, `/healthz` for
//! liveness and `/readyz` for readiness.
//!
//! The caller binds the listener (see [`bind`]) and hands it to [`serve`],
//! so that tests can listen on port 0 and the daemon can report a busy
//! port before it starts any pass.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use tokio::net::TcpListener;

use crate::i18n::Lang;
use crate::telemetry::metrics::{Metrics, OPENMETRICS_CONTENT_TYPE, PROMETHEUS_TEXT_CONTENT_TYPE};

/// Listen address when the settings name none: loopback only, on the port
/// registered for Prometheus exporters of this kind (9464).
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9464";

/// Errors of the HTTP server.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Another process (often another gcops) already listens on the address.
    #[error("cannot listen on {addr}: the address is already in use")]
    AddrInUse { addr: SocketAddr },
    /// Binding failed for another reason, e.g. an address this host does not have.
    #[error("cannot listen on {addr}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// Accepting or serving connections failed.
    #[error("the HTTP server on {addr} stopped")]
    Serve {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// What the operator should do, in their language.
    pub fn hint(&self, lang: Lang) -> String {
        let key = match self {
            Error::AddrInUse { .. } => "server.hint.addr_in_use",
            Error::Bind { .. } => "server.hint.bind",
            Error::Serve { .. } => "server.hint.serve",
        };
        rust_i18n::t!(key, locale = lang.code()).into_owned()
    }
}

/// Binds the listen address; a busy port is reported as [`Error::AddrInUse`].
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, Error> {
    TcpListener::bind(addr).await.map_err(|source| match source.kind() {
        std::io::ErrorKind::AddrInUse => Error::AddrInUse { addr },
        _ => Error::Bind { addr, source },
    })
}

/// Last pass results, updated by the reconcile loop and read by `/readyz`.
/// Clones share the same state.
#[derive(Clone, Debug)]
pub struct Health {
    state: Arc<Mutex<HealthState>>,
    /// Readiness ends when the last successful pass is older than this.
    max_age: chrono::Duration,
}

#[derive(Debug, Default)]
struct HealthState {
    last_success: Option<DateTime<Utc>>,
    /// Time and error class (such as `transient` or `terminal`) of the last failed pass.
    last_failure: Option<(DateTime<Utc>, &'static str)>,
}

impl Health {
    /// A handle that reports ready while the last successful pass is at most
    /// `max_age` old. Two pass intervals is a sensible value: one missed
    /// pass is tolerated, two are not.
    pub fn new(max_age: std::time::Duration) -> Health {
        let max_age = chrono::Duration::from_std(max_age).unwrap_or(chrono::Duration::MAX);
        Health { state: Arc::default(), max_age }
    }

    pub fn record_success(&self, now: DateTime<Utc>) {
        self.lock().last_success = Some(now);
    }

    /// Records a failed pass. `class` is a fixed word such as `transient`
    /// or `terminal`, never error text, because `/readyz` shows it.
    pub fn record_failure(&self, now: DateTime<Utc>, class: &'static str) {
        self.lock().last_failure = Some((now, class));
    }

    /// `Ok` when ready at `now`; otherwise the reason, in one line.
    pub fn readiness(&self, now: DateTime<Utc>) -> Result<(), String> {
        let state = self.lock();
        let failure = match state.last_failure {
            Some((at, class)) => format!("; last pass failed ({class}) at {}", at.to_rfc3339()),
            None => String::new(),
        };
        match state.last_success {
            None => Err(format!("no successful pass yet{failure}")),
            Some(at) if now - at > self.max_age => {
                Err(format!("last successful pass at {} is older than {}s{failure}", at.to_rfc3339(), self.max_age.num_seconds()))
            }
            Some(_) => Ok(()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HealthState> {
        // The state is two plain values, so a panic elsewhere cannot leave it
        // half-written; keep serving it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// What the handlers read.
#[derive(Clone, Debug)]
pub struct AppState {
    pub metrics: Arc<Metrics>,
    pub health: Health,
}

/// The router with all three endpoints.
pub fn router(state: AppState) -> Router {
    Router::new().route("/metrics", get(metrics)).route("/healthz", get(healthz)).route("/readyz", get(readyz)).with_state(state)
}

/// Serves the endpoints on `listener` until `shutdown` completes, then lets
/// open requests finish.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    serve_router(listener, router(state), shutdown).await
}

/// Like [`serve`] for a router the caller assembled, e.g. [`router`]
/// merged with the webhook's.
pub async fn serve_router(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let addr = listener.local_addr().map_err(|source| Error::Serve { addr: SocketAddr::from(([0, 0, 0, 0], 0)), source })?;
    tracing::info!(%addr, "HTTP server listening");
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await.map_err(|source| Error::Serve { addr, source })?;
    tracing::info!(%addr, "HTTP server stopped");
    Ok(())
}

/// Serves OpenMetrics, unless the client accepts only the older Prometheus
/// text format (`text/plain`), as promtool 2.x and some agents do.
async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("");
    let (content_type, body) = if accept.contains("text/plain") && !accept.contains("application/openmetrics-text") {
        (PROMETHEUS_TEXT_CONTENT_TYPE, state.metrics.encode_prometheus_text())
    } else {
        (OPENMETRICS_CONTENT_TYPE, state.metrics.encode_openmetrics())
    };
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(state): State<AppState>) -> Response {
    match state.health.readiness(Utc::now()) {
        Ok(()) => (StatusCode::OK, "ready\n".to_string()).into_response(),
        Err(reason) => (StatusCode::SERVICE_UNAVAILABLE, format!("{reason}\n")).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;
    use tokio::sync::oneshot;

    use super::*;

    struct TestServer {
        addr: SocketAddr,
        health: Health,
        stop: oneshot::Sender<()>,
        task: tokio::task::JoinHandle<Result<(), Error>>,
    }

    async fn start(max_age: Duration) -> TestServer {
        let listener = bind(SocketAddr::from(([127, 0, 0, 1], 0))).await.expect("port 0 on loopback binds");
        let addr = listener.local_addr().unwrap();
        let health = Health::new(max_age);
        let state = AppState { metrics: Arc::new(Metrics::new()), health: health.clone() };
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(serve(listener, state, async {
            let _ = stopped.await;
        }));
        TestServer { addr, health, stop, task }
    }

    /// Status, headers (lowercase names) and body of one HTTP/1.1 GET.
    async fn get(addr: SocketAddr, path: &str, accept: Option<&str>) -> (u16, String, String) {
        let mut stream = TcpStream::connect(addr).await.expect("server accepts connections");
        let accept = accept.map(|a| format!("Accept: {a}\r\n")).unwrap_or_default();
        let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{accept}Connection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut raw = String::new();
        tokio::time::timeout(Duration::from_secs(10), stream.read_to_string(&mut raw))
            .await
            .expect("response within 10 s")
            .unwrap();
        let (head, body) = raw.split_once("\r\n\r\n").expect("response has a header block");
        let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("status line has a code");
        (status, head.to_lowercase(), body.to_string())
    }

    #[tokio::test]
    async fn server_metrics_are_openmetrics() {
        let server = start(Duration::from_secs(600)).await;
        let (status, head, body) = get(server.addr, "/metrics", None).await;
        assert_eq!(status, 200);
        assert!(head.contains("content-type: application/openmetrics-text; version=1.0.0; charset=utf-8"), "{head}");
        assert!(body.contains("gcops_build_info{version="), "{body}");
        assert!(body.ends_with("# EOF\n"));
    }

    #[tokio::test]
    async fn server_metrics_text_plain_on_request() {
        let server = start(Duration::from_secs(600)).await;
        let (status, head, body) = get(server.addr, "/metrics", Some("text/plain;version=0.0.4")).await;
        assert_eq!(status, 200);
        assert!(head.contains("content-type: text/plain; version=0.0.4"), "{head}");
        assert!(!body.contains("# EOF"));
    }

    #[tokio::test]
    async fn server_healthz_ok() {
        let server = start(Duration::from_secs(600)).await;
        let (status, _, body) = get(server.addr, "/healthz", None).await;
        assert_eq!(status, 200);
        assert_eq!(body, "ok\n");
    }

    #[tokio::test]
    async fn server_readyz_transitions() {
        let server = start(Duration::from_secs(600)).await;

        let (status, _, body) = get(server.addr, "/readyz", None).await;
        assert_eq!(status, 503);
        assert_eq!(body, "no successful pass yet\n");

        server.health.record_failure(Utc::now(), "transient");
        let (status, _, body) = get(server.addr, "/readyz", None).await;
        assert_eq!(status, 503);
        assert!(body.contains("last pass failed (transient)"), "{body}");

        server.health.record_success(Utc::now());
        let (status, _, body) = get(server.addr, "/readyz", None).await;
        assert_eq!(status, 200);
        assert_eq!(body, "ready\n");

        server.health.record_success(Utc::now() - chrono::Duration::seconds(601));
        let (status, _, body) = get(server.addr, "/readyz", None).await;
        assert_eq!(status, 503);
        assert!(body.contains("is older than 600s"), "{body}");
    }

    #[tokio::test]
    async fn server_unknown_path_is_404() {
        let server = start(Duration::from_secs(600)).await;
        let (status, _, _) = get(server.addr, "/nothing", None).await;
        assert_eq!(status, 404);
    }

    #[tokio::test]
    async fn server_stops_on_shutdown() {
        let server = start(Duration::from_secs(600)).await;
        server.stop.send(()).unwrap();
        let result = tokio::time::timeout(Duration::from_secs(10), server.task).await.expect("server stops within 10 s");
        assert!(result.unwrap().is_ok());
        assert!(TcpStream::connect(server.addr).await.is_err(), "the port is closed after shutdown");
    }

    #[tokio::test]
    async fn bind_busy_port_names_address() {
        let first = bind(SocketAddr::from(([127, 0, 0, 1], 0))).await.unwrap();
        let addr = first.local_addr().unwrap();
        let err = bind(addr).await.unwrap_err();
        assert!(matches!(err, Error::AddrInUse { .. }), "{err:?}");
        assert!(err.to_string().contains(&addr.to_string()), "{err}");
    }

    #[test]
    fn readiness_before_first_pass() {
        let health = Health::new(Duration::from_secs(60));
        assert_eq!(health.readiness(Utc::now()), Err("no successful pass yet".to_string()));
    }
}
