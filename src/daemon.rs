//! `gcops run`: the outer loop around single passes. It owns timing,
//! jittered backoff, triggers and shutdown; a pass itself is
//! [`reconcile::run_once`] and never sleeps.
//!
//! Nothing here must survive a restart: open pull requests are found on the
//! forge by branch, the drift they show by the fingerprint in their body,
//! and the desired state is read from git. A restarted daemon (or a second
//! replica) therefore repeats no commit, pull request or comment.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

use crate::config::{RepoLocation, Settings};
use crate::reconcile::{self, Context, ErrorClass};
use crate::server::{AppState, Health};
use crate::telemetry::metrics::{Metrics, PassResult};

/// Reason the loop woke up. New trigger sources send one of these on the
/// scheduler's channel and need no other change to the loop.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// The first pass after start-up.
    Startup,
    /// The git interval elapsed: run a pass if the branch head moved.
    GitPoll,
    /// The live interval elapsed: run a full pass.
    LivePoll,
    /// Files of a local repository changed.
    LocalChange,
    /// A verified webhook event asked for a pass.
    Webhook(String),
    /// The previous pass failed; try again.
    Retry,
}

impl Trigger {
    /// True for triggers that need a pass only when the branch head moved,
    /// because planning pull requests alone handles a pull request event.
    fn waits_for_new_commit(&self) -> bool {
        match self {
            Trigger::GitPoll => true,
            Trigger::Webhook(kind) => kind == "pull_request",
            _ => false,
        }
    }
}

/// Errors that stop `gcops run` at start-up; after start-up the daemon
/// stays up and reports failures through metrics and `/readyz`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The HTTP listener could not be opened.
    #[error("cannot start the HTTP server")]
    Server(#[source] crate::server::Error),
    /// The webhook secret file is unusable.
    #[error("cannot load the webhook secret")]
    WebhookSecret(#[source] crate::webhook::WebhookError),
    /// The repository, forge or AWS clients could not be set up.
    #[error("cannot set up the reconcile pass")]
    Setup(#[source] reconcile::Error),
    /// The signal handlers could not be installed.
    #[error("cannot install the SIGTERM/SIGINT handlers")]
    Signals(#[source] std::io::Error),
    /// The local repository could not be watched.
    #[error("cannot watch repository folder {path}")]
    Watch {
        path: PathBuf,
        #[source]
        source: notify::Error,
    },
}

/// Runs the daemon until SIGTERM or SIGINT, then lets the pass in flight
/// finish (up to the shutdown deadline) and returns.
pub async fn run(settings: Settings) -> Result<(), Error> {
    let daemon = settings.daemon.clone();

    // Start-up checks: each bad input stops here with a clear error.
    let listener = crate::server::bind(daemon.listen).await.map_err(Error::Server)?;
    let secret = match &daemon.webhook_secret_file {
        Some(path) => Some(crate::webhook::load_secret(path).map_err(Error::WebhookSecret)?),
        None => None,
    };
    let metrics = Arc::new(Metrics::new());
    let ctx = Context::with_metrics(settings.clone(), metrics.clone()).await.map_err(Error::Setup)?;
    // An unreachable repository at start-up is a configuration error, not an outage.
    reconcile::current_head(&ctx).map_err(Error::Setup)?;

    let shutdown = CancellationToken::new();
    spawn_signal_handler(shutdown.clone()).map_err(Error::Signals)?;
    let (triggers, mut trigger_rx) = mpsc::channel::<Trigger>(64);

    // HTTP: metrics, health and (when configured) the webhook.
    let health = Health::new(daemon.ready_max_age);
    let mut app = crate::server::router(AppState { metrics: metrics.clone(), health: health.clone() });
    if let Some(secret) = secret {
        app = app.merge(crate::webhook::webhook_router(secret, webhook_forwarder(triggers.clone(), &settings.branch)));
    }
    let server_shutdown = shutdown.clone();
    let server = tokio::spawn(crate::server::serve_router(listener, app, async move { server_shutdown.cancelled().await }));

    // Local repository changes, debounced by the loop's coalescing.
    let _watcher = match (&settings.repository, daemon.watch_local_repository) {
        (RepoLocation::Local(path), true) => Some(watch_repository(path, &settings.branch, triggers.clone())?),
        _ => None,
    };

    info!(listen = %daemon.listen, git_interval_seconds = daemon.git_interval.as_secs(), "gcops daemon started");
    let mut schedule = Schedule::new(daemon.git_interval, daemon.live_interval);
    let _ = triggers.try_send(Trigger::Startup);
    let mut last_commit: Option<git2::Oid> = None;
    // Live state of the latest successful pass, for pull request plans.
    let mut last_live: Option<crate::live::model::LiveState> = None;

    loop {
        let trigger = tokio::select! {
            _ = shutdown.cancelled() => break,
            Some(trigger) = trigger_rx.recv() => trigger,
            trigger = schedule.next() => trigger,
        };
        // Coalesce: one pass serves every trigger queued meanwhile.
        let mut batch = vec![trigger];
        while let Ok(more) = trigger_rx.try_recv() {
            batch.push(more);
        }

        // Pull requests are planned on every wake-up: polling alone must
        // find a new or changed pull request within one git interval.
        plan_pulls(&ctx, last_live.as_ref()).await;

        if batch.iter().all(Trigger::waits_for_new_commit) && !head_moved(&ctx, last_commit) {
            debug!("branch head unchanged; no pass");
            continue;
        }

        let outcome = run_pass_until_deadline(&ctx, &shutdown, daemon.shutdown_deadline).await;
        let now = Utc::now();
        match outcome {
            Some(Ok((commit, live))) => {
                last_commit = Some(commit);
                last_live = Some(live);
                metrics.record_pass(PassResult::Success, now);
                health.record_success(now);
                schedule.pass_succeeded();
            }
            Some(Err(error)) => {
                let class = error.class();
                metrics.record_pass(PassResult::Failure, now);
                health.record_failure(now, class_label(class));
                let delay = schedule.pass_failed(class);
                error!(error = %crate::error_chain(&error), error_class = class_label(class), retry_in_seconds = delay.as_secs(), "reconcile pass failed");
            }
            None => {
                metrics.record_pass(PassResult::Skipped, now);
                warn!("pass in flight did not finish before the shutdown deadline");
            }
        }
        if shutdown.is_cancelled() {
            break;
        }
    }

    info!("shutting down");
    shutdown.cancel();
    if let Ok(Err(e)) = server.await {
        warn!(error = %e, "HTTP server stopped with an error");
    }
    Ok(())
}

/// Runs one pass. When shutdown is requested meanwhile, the pass gets
/// `deadline` to finish; `None` means it was abandoned.
async fn run_pass_until_deadline(
    ctx: &Context,
    shutdown: &CancellationToken,
    deadline: Duration,
) -> Option<Result<(git2::Oid, crate::live::model::LiveState), reconcile::Error>> {
    let timer = ctx.metrics.time_pass();
    debug!("reconcile pass started");
    let pass = async {
        let outcome = reconcile::run_once(ctx).await?;
        for error in &outcome.errors {
            warn!(error = %crate::error_chain(error), "account not reconciled");
        }
        Ok((outcome.plan.commit, outcome.plan.live))
    };
    tokio::pin!(pass);
    let result = tokio::select! {
        result = &mut pass => Some(result),
        _ = shutdown.cancelled() => {
            info!(deadline_seconds = deadline.as_secs(), "shutdown requested; finishing the pass in flight");
            tokio::time::timeout(deadline, &mut pass).await.ok()
        }
    };
    drop(timer);
    result
}

/// Plans open pull requests; failures are logged and retried next wake-up.
async fn plan_pulls(ctx: &Context, live: Option<&crate::live::model::LiveState>) {
    match reconcile::plan_pulls(ctx, live).await {
        Ok(outcomes) => {
            for outcome in outcomes {
                if let crate::review::PlanResult::Failed(error) = outcome.result {
                    warn!(pull = outcome.number, error = %crate::error_chain(&error), "pull request not planned");
                }
            }
        }
        Err(error) => warn!(error = %crate::error_chain(&error), "open pull requests could not be listed"),
    }
}

fn head_moved(ctx: &Context, last: Option<git2::Oid>) -> bool {
    match (reconcile::current_head(ctx), last) {
        (Ok(head), Some(last)) => head != last,
        // A failing fetch is reported by the pass it starts.
        _ => true,
    }
}

fn class_label(class: ErrorClass) -> &'static str {
    match class {
        ErrorClass::Transient => "transient",
        ErrorClass::Terminal => "terminal",
    }
}

/// When the periodic triggers fire, and how long to back off after a failure.
struct Schedule {
    git_interval: Duration,
    live_interval: Duration,
    next_git: Instant,
    next_live: Instant,
    /// Set after a failed pass; cleared by a success.
    next_retry: Option<Instant>,
    failures: u32,
}

impl Schedule {
    fn new(git_interval: Duration, live_interval: Duration) -> Schedule {
        let now = Instant::now();
        Schedule {
            git_interval,
            live_interval,
            next_git: now + git_interval,
            next_live: now + live_interval,
            next_retry: None,
            failures: 0,
        }
    }

    /// Waits for the next periodic trigger.
    async fn next(&mut self) -> Trigger {
        let (at, trigger) = [
            (Some(self.next_git), Trigger::GitPoll),
            (Some(self.next_live), Trigger::LivePoll),
            (self.next_retry, Trigger::Retry),
        ]
        .into_iter()
        .filter_map(|(at, t)| at.map(|at| (at, t)))
        .min_by_key(|(at, _)| *at)
        .expect("git and live times are always set");
        tokio::time::sleep_until(at).await;
        let now = Instant::now();
        match trigger {
            Trigger::GitPoll => self.next_git = now + self.git_interval,
            Trigger::LivePoll => {
                self.next_live = now + self.live_interval;
                self.next_git = now + self.git_interval;
            }
            _ => self.next_retry = None,
        }
        trigger
    }

    fn pass_succeeded(&mut self) {
        self.failures = 0;
        self.next_retry = None;
        self.next_live = Instant::now() + self.live_interval;
    }

    /// Schedules a retry. Transient errors back off exponentially from 10 s
    /// with ±20 % jitter, capped at the git interval. Terminal errors get no
    /// retry: the next git change or live interval starts the next pass.
    fn pass_failed(&mut self, class: ErrorClass) -> Duration {
        self.failures = self.failures.saturating_add(1);
        if class == ErrorClass::Terminal {
            self.next_retry = None;
            return self.git_interval;
        }
        let base = Duration::from_secs(10).saturating_mul(2u32.saturating_pow(self.failures.min(10) - 1));
        let capped = base.min(self.git_interval);
        let jitter = 0.8 + fastrand::f64() * 0.4;
        let delay = capped.mul_f64(jitter);
        self.next_retry = Some(Instant::now() + delay);
        delay
    }
}

fn spawn_signal_handler(shutdown: CancellationToken) -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => info!(signal = "SIGTERM", "shutdown requested"),
            _ = int.recv() => info!(signal = "SIGINT", "shutdown requested"),
        }
        shutdown.cancel();
    });
    Ok(())
}

/// Turns verified webhook events into triggers: a push to the desired-state
/// branch starts a pass; other events are logged for now.
fn webhook_forwarder(triggers: mpsc::Sender<Trigger>, branch: &str) -> mpsc::Sender<crate::webhook::Event> {
    let (tx, mut rx) = mpsc::channel::<crate::webhook::Event>(64);
    let branch_ref = format!("refs/heads/{branch}");
    tokio::spawn(async move {
        while let Some(event) = rx.recv().await {
            match event {
                crate::webhook::Event::Push { git_ref, .. } if git_ref == branch_ref => {
                    let _ = triggers.try_send(Trigger::Webhook("push".to_string()));
                }
                crate::webhook::Event::PullRequest { .. } | crate::webhook::Event::IssueComment { .. } => {
                    let _ = triggers.try_send(Trigger::Webhook("pull_request".to_string()));
                }
                other => debug!(?other, "webhook event ignored"),
            }
        }
    });
    tx
}

/// Watches a local repository for moves of the desired-state branch.
/// Events arrive on notify's own thread; a full channel just drops them,
/// because one queued trigger is enough to start a pass. Only the branch's
/// ref and `packed-refs` count, so gcops' own writes (drift branches, pull
/// request records) do not start passes.
fn watch_repository(
    path: &std::path::Path,
    branch: &str,
    triggers: mpsc::Sender<Trigger>,
) -> Result<notify::RecommendedWatcher, Error> {
    use notify::Watcher;
    let branch_ref = PathBuf::from("refs/heads").join(branch);
    let mut last_sent = std::time::Instant::now() - Duration::from_secs(60);
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let Ok(event) = event else { return };
        if event.kind.is_access() {
            return;
        }
        let relevant = event.paths.iter().any(|p| p.ends_with(&branch_ref) || p.file_name().is_some_and(|n| n == "packed-refs"));
        if !relevant {
            return;
        }
        // Debounce: a commit touches several files within milliseconds.
        if last_sent.elapsed() >= Duration::from_secs(2) {
            last_sent = std::time::Instant::now();
            let _ = triggers.try_send(Trigger::LocalChange);
        }
    })
    .map_err(|source| Error::Watch { path: path.to_path_buf(), source })?;
    let refs = if path.join(".git").is_dir() { path.join(".git") } else { path.to_path_buf() };
    watcher.watch(&refs, notify::RecursiveMode::Recursive).map_err(|source| Error::Watch { path: refs.clone(), source })?;
    Ok(watcher)
}
