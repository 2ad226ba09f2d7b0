//! `gcops run` as a process: a pushed commit triggers a pass that shows in
//! the metrics, SIGTERM during a pass exits cleanly after the pass, and a
//! restart duplicates no pull request.

mod support;

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::moto::MotoGateway;
use support::repo::{example_with_remote, git};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn aws_env(moto: &MotoGateway) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL", moto.endpoint_url().to_string()),
        ("AWS_ACCESS_KEY_ID", "testing".to_string()),
        ("AWS_SECRET_ACCESS_KEY", "testing".to_string()),
        ("AWS_REGION", "ap-northeast-1".to_string()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_string()),
    ]
}

fn start_daemon(config: &Path, moto: &MotoGateway, log: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_gcops"))
        .arg("--config")
        .arg(config)
        .arg("run")
        .envs(aws_env(moto))
        .env("GCOPS_LOG", "warn,gcops=debug")
        .env_remove("GCOPS_CONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap()
}

fn http_get(port: u16, path: &str) -> Option<String> {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/plain\r\nConnection: close\r\n\r\n").ok()?;
    let mut body = String::new();
    stream.read_to_string(&mut body).ok()?;
    Some(body)
}

fn successful_passes(port: u16) -> u64 {
    let Some(text) = http_get(port, "/metrics") else { return 0 };
    text.lines()
        .find(|l| l.starts_with("gcops_reconcile_passes_total{") && l.contains("outcome=\"success\""))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse::<f64>().ok())
        .map(|v| v as u64)
        .unwrap_or(0)
}

fn wait_until(what: &str, log: &Path, timeout: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < timeout,
            "timed out waiting for {what}; daemon log:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn pull_refs(bare: &Path) -> Vec<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(bare)
        .args(["for-each-ref", "--format=%(refname) %(objectname)", "refs/gcops/pulls"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect()
}

fn count_in_log(log: &Path, needle: &str) -> usize {
    std::fs::read_to_string(log).unwrap_or_default().matches(needle).count()
}

fn terminate(child: &Child) {
    assert!(Command::new("kill").arg("-TERM").arg(child.id().to_string()).status().unwrap().success());
}

fn wait_exit(child: &mut Child, log: &Path, timeout: Duration) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            panic!("daemon did not exit after SIGTERM; log:\n{}", std::fs::read_to_string(log).unwrap_or_default());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn daemon_pass_on_push_clean_shutdown_and_restart() {
    // Every AWS request is held 40 ms so that a pass lasts long enough to
    // be interrupted.
    let moto = MotoGateway::start_with(&["--delay-ms", "40"]);
    let tmp = tempfile::tempdir().unwrap();
    let (work, bare) = example_with_remote(tmp.path());

    for step in ["seed", "hand-changes"] {
        let out = Command::new(env!("CARGO_BIN_EXE_gcops-devenv")).arg(step).arg(&work).envs(aws_env(&moto)).output().unwrap();
        assert!(out.status.success(), "{step}: {}", String::from_utf8_lossy(&out.stderr));
    }

    let port = free_port();
    let config = tmp.path().join("gcops.yaml");
    std::fs::write(
        &config,
        format!(
            "repository:\n  url: {}\naws:\n  maxAttempts: 1\ndaemon:\n  listen: 127.0.0.1:{port}\n  gitIntervalSeconds: 1\n  liveIntervalSeconds: 3600\n  shutdownDeadlineSeconds: 60\n",
            bare.display()
        ),
    )
    .unwrap();
    let log = tmp.path().join("daemon.log");
    let mut daemon = start_daemon(&config, &moto, &log);

    // The start-up pass opens the drift pull requests.
    wait_until("the first successful pass", &log, Duration::from_secs(60), || successful_passes(port) >= 1);
    let pulls = pull_refs(&bare);
    assert_eq!(pulls.len(), 2, "one pull request per drifted account: {pulls:?}");
    assert!(http_get(port, "/readyz").unwrap().starts_with("HTTP/1.1 200"), "ready after a successful pass");

    // A pushed commit starts a pass, seen in the metrics.
    std::fs::write(work.join("NOTES.md"), "operator notes\n").unwrap();
    git(&work, &["add", "NOTES.md"]);
    git(&work, &["commit", "-qm", "Add notes"]);
    git(&work, &["push", "-q", "origin", "main"]);
    wait_until("the pass triggered by the push", &log, Duration::from_secs(60), || successful_passes(port) >= 2);

    // SIGTERM during a pass: the pass finishes, then the process exits 0.
    let started_before = count_in_log(&log, "reconcile pass started");
    std::fs::write(work.join("NOTES.md"), "more notes\n").unwrap();
    git(&work, &["commit", "-qam", "More notes"]);
    git(&work, &["push", "-q", "origin", "main"]);
    wait_until("a pass to start", &log, Duration::from_secs(60), || {
        count_in_log(&log, "reconcile pass started") > started_before
    });
    terminate(&daemon);
    let status = wait_exit(&mut daemon, &log, Duration::from_secs(90));
    assert_eq!(status.code(), Some(0), "clean exit; log:\n{}", std::fs::read_to_string(&log).unwrap());
    let text = std::fs::read_to_string(&log).unwrap();
    let signal_at = text.find("shutdown requested").expect("the signal is logged");
    assert!(text[signal_at..].contains("reconcile pass finished"), "the pass in flight finished after the signal:\n{text}");

    // Restart: same drift, no new pull request and no moved ref.
    let log2 = tmp.path().join("daemon2.log");
    let mut daemon = start_daemon(&config, &moto, &log2);
    wait_until("the pass after restart", &log2, Duration::from_secs(60), || successful_passes(port) >= 1);
    assert_eq!(pull_refs(&bare), pulls, "a restart must not duplicate or rewrite pull requests");
    terminate(&daemon);
    assert_eq!(wait_exit(&mut daemon, &log2, Duration::from_secs(90)).code(), Some(0));
}

/// Runs `gcops run` with `config`, expecting it to stop at start-up.
fn run_once_failing(config: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_gcops"))
        .args(["--lang", "en", "--config"])
        .arg(config)
        .arg("run")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .output()
        .unwrap()
}

#[test]
fn daemon_port_in_use_fails_at_start() {
    let tmp = tempfile::tempdir().unwrap();
    let (_work, bare) = example_with_remote(tmp.path());
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let config = tmp.path().join("gcops.yaml");
    std::fs::write(&config, format!("repository:\n  url: {}\ndaemon:\n  listen: 127.0.0.1:{port}\n", bare.display())).unwrap();
    let out = run_once_failing(&config);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&format!("127.0.0.1:{port}")), "error names the address: {stderr}");
}

#[test]
fn daemon_unreachable_repository_fails_at_start() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("gcops.yaml");
    let missing = tmp.path().join("no-such-repo");
    std::fs::write(&config, format!("repository:\n  url: {}\ndaemon:\n  listen: 127.0.0.1:0\n", missing.display())).unwrap();
    let out = run_once_failing(&config);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-repo"));
}

#[test]
fn daemon_survives_aws_outage_and_recovers() {
    let mut moto = MotoGateway::start();
    let moto_port = moto.port();
    let tmp = tempfile::tempdir().unwrap();
    let (work, bare) = example_with_remote(tmp.path());
    let out = Command::new(env!("CARGO_BIN_EXE_gcops-devenv")).arg("seed").arg(&work).envs(aws_env(&moto)).output().unwrap();
    assert!(out.status.success(), "seed: {}", String::from_utf8_lossy(&out.stderr));

    let port = free_port();
    let config = tmp.path().join("gcops.yaml");
    std::fs::write(
        &config,
        format!(
            "repository:\n  url: {}\naws:\n  maxAttempts: 1\ndaemon:\n  listen: 127.0.0.1:{port}\n  gitIntervalSeconds: 1\n  liveIntervalSeconds: 1\n  readyMaxAgeSeconds: 3\n",
            bare.display()
        ),
    )
    .unwrap();
    let log = tmp.path().join("daemon.log");
    let mut daemon = start_daemon(&config, &moto, &log);
    wait_until("the first successful pass", &log, Duration::from_secs(60), || successful_passes(port) >= 1);

    // AWS goes away: the daemon stays up, turns not-ready and counts failures.
    drop(moto);
    wait_until("readyz to turn not-ready", &log, Duration::from_secs(60), || {
        http_get(port, "/readyz").is_some_and(|r| r.starts_with("HTTP/1.1 503"))
    });
    let metrics = http_get(port, "/metrics").unwrap();
    assert!(
        metrics.lines().any(|l| l.starts_with("gcops_reconcile_passes_total{") && l.contains("failure") && !l.ends_with(" 0")),
        "failed passes are counted:\n{metrics}"
    );
    assert!(daemon.try_wait().unwrap().is_none(), "the daemon stays up during the outage");

    // AWS comes back on the same port: the daemon recovers without a restart.
    moto = MotoGateway::start_with(&["--port", &moto_port.to_string()]);
    let out = Command::new(env!("CARGO_BIN_EXE_gcops-devenv")).arg("seed").arg(&work).envs(aws_env(&moto)).output().unwrap();
    assert!(out.status.success(), "seed again: {}", String::from_utf8_lossy(&out.stderr));
    wait_until("readyz to recover", &log, Duration::from_secs(90), || {
        http_get(port, "/readyz").is_some_and(|r| r.starts_with("HTTP/1.1 200"))
    });
    terminate(&daemon);
    assert_eq!(wait_exit(&mut daemon, &log, Duration::from_secs(60)).code(), Some(0));
    drop(moto);
}

#[test]
fn daemon_bad_webhook_secret_fails_at_start() {
    let tmp = tempfile::tempdir().unwrap();
    let (_work, bare) = example_with_remote(tmp.path());
    let secret = tmp.path().join("missing-secret");
    let config = tmp.path().join("gcops.yaml");
    std::fs::write(
        &config,
        format!(
            "repository:\n  url: {}\ndaemon:\n  listen: 127.0.0.1:0\n  webhookSecretFile: {}\n",
            bare.display(),
            secret.display()
        ),
    )
    .unwrap();
    let out = run_once_failing(&config);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("missing-secret"), "error names the secret file: {stderr}");
}

/// Sends a GitHub webhook delivery to the daemon, signed with `secret`
/// unless `secret` is empty; returns the status line.
fn post_webhook(port: u16, event: &str, body: &str, secret: &[u8]) -> String {
    use hmac::Mac;
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let signature = if secret.is_empty() {
        String::new()
    } else {
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret).unwrap();
        mac.update(body.as_bytes());
        format!("X-Hub-Signature-256: sha256={}\r\n", hex::encode(mac.finalize().into_bytes()))
    };
    write!(
        stream,
        "POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nX-GitHub-Event: {event}\r\n{signature}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response.lines().next().unwrap_or_default().to_string()
}

#[test]
fn daemon_webhook_push_starts_pass() {
    let moto = MotoGateway::start();
    let tmp = tempfile::tempdir().unwrap();
    let (work, bare) = example_with_remote(tmp.path());
    let out = Command::new(env!("CARGO_BIN_EXE_gcops-devenv")).arg("seed").arg(&work).envs(aws_env(&moto)).output().unwrap();
    assert!(out.status.success(), "seed: {}", String::from_utf8_lossy(&out.stderr));

    let secret = b"webhook-test-secret";
    let secret_file = tmp.path().join("webhook-secret");
    std::fs::write(&secret_file, secret).unwrap();
    let port = free_port();
    let config = tmp.path().join("gcops.yaml");
    // Polling is an hour apart and the local watch is off, so only the
    // webhook can start the second pass.
    std::fs::write(
        &config,
        format!(
            "repository:\n  url: {}\naws:\n  maxAttempts: 1\ndaemon:\n  listen: 127.0.0.1:{port}\n  gitIntervalSeconds: 3600\n  liveIntervalSeconds: 3600\n  watchLocalRepository: false\n  webhookSecretFile: {}\n",
            bare.display(),
            secret_file.display()
        ),
    )
    .unwrap();
    let log = tmp.path().join("daemon.log");
    let mut daemon = start_daemon(&config, &moto, &log);
    wait_until("the first successful pass", &log, Duration::from_secs(60), || successful_passes(port) >= 1);

    let push = r#"{"ref":"refs/heads/main","after":"0123456789abcdef0123456789abcdef01234567"}"#;
    assert!(post_webhook(port, "push", push, b"").contains("401"), "unsigned delivery is rejected");
    assert!(post_webhook(port, "push", push, b"wrong-secret").contains("401"), "wrongly signed delivery is rejected");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(successful_passes(port), 1, "a rejected delivery starts nothing");

    assert!(post_webhook(port, "push", push, secret).contains("202"), "signed delivery is accepted");
    wait_until("the pass started by the webhook", &log, Duration::from_secs(60), || successful_passes(port) >= 2);

    terminate(&daemon);
    assert_eq!(wait_exit(&mut daemon, &log, Duration::from_secs(60)).code(), Some(0));
}
