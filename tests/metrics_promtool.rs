//! Checks the /metrics exposition and the alerting rules with promtool, the
//! linter that ships with Prometheus. Run scripts/setup-prometheus first
//! (scripts/test does) when promtool is not installed.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use chrono::Utc;
use gcops::telemetry::metrics::{Metrics, PassResult, RequestOutcome, ResourceState, Severity, Snapshot, Step, TemplateLag};

fn promtool(args: &[&str], dir: &Path, stdin: &str) -> Output {
    let mut child = Command::new("promtool")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run promtool ({e}); install it with scripts/setup-prometheus"));
    let mut input = child.stdin.take().expect("stdin is piped");
    input.write_all(stdin.as_bytes()).unwrap();
    drop(input);
    child.wait_with_output().unwrap()
}

fn report(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).to_string() + &String::from_utf8_lossy(&output.stderr)
}

fn rules_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/prometheus")
}

/// Two accounts, one with drift and a template behind, with every kind of
/// series the daemon produces.
fn realistic_metrics() -> Metrics {
    let metrics = Metrics::new();
    let mut snap = Snapshot::default();
    for (account, kind, state, count) in [
        ("jumin-asp", "AWS::IAM::Role", ResourceState::InSync, 3),
        ("jumin-asp", "AWS::IAM::Role", ResourceState::Drifted, 1),
        ("jumin-asp", "AWS::CloudWatch::Alarm", ResourceState::InSync, 4),
        ("zeimu-asp", "AWS::IAM::Role", ResourceState::Unknown, 2),
        ("zeimu-asp", "AWS::Budgets::Budget", ResourceState::NotChecked, 1),
    ] {
        snap.resources.insert((account.into(), kind.into(), state), count);
    }
    snap.drift_items.insert(("jumin-asp".into(), "AWS::IAM::Role".into()), 2);
    snap.drift_items.insert(("zeimu-asp".into(), "AWS::IAM::Role".into()), 0);
    snap.template_lag.insert(
        ("gc-security-baseline".into(), "jumin-asp".into()),
        TemplateLag { behind: true, lag_seconds: Some(31 * 86_400) },
    );
    snap.template_lag
        .insert(("gc-security-baseline".into(), "zeimu-asp".into()), TemplateLag { behind: false, lag_seconds: Some(0) });
    snap.grants_expiring.insert("jumin-asp".into(), 1);
    snap.grants_expiring.insert("zeimu-asp".into(), 0);
    snap.grant_expiry.insert(("alpha-operator-jumin".into(), "jumin-asp".into()), 1_795_100_400);
    snap.budgets_out_of_sync.insert("jumin-asp".into(), 0);
    snap.alarms_out_of_sync.insert("jumin-asp".into(), 1);
    metrics.publish(&snap);
    metrics.publish_securityhub_findings(&BTreeMap::from([(("jumin-asp".to_string(), Severity::Critical), 0)]));

    metrics.record_pass(PassResult::Success, Utc::now());
    metrics.record_pass(PassResult::Failure, Utc::now());
    drop(metrics.time_pass());
    drop(metrics.time_step(Step::Fetch));
    drop(metrics.time_step(Step::ReadLive));
    metrics.count_aws_request("iam", "ListRoles", RequestOutcome::Success);
    metrics.count_aws_request("cloudformation", "DescribeStacks", RequestOutcome::Throttled);
    metrics.count_aws_throttling_retry("cloudformation");
    metrics.count_forge_request("local", "open_pull", RequestOutcome::Success);
    metrics
}

#[test]
fn promtool_accepts_prometheus_text() {
    let text = realistic_metrics().encode_prometheus_text();
    let output = promtool(&["check", "metrics"], &rules_dir(), &text);
    assert!(output.status.success(), "promtool check metrics reported:\n{}\nfor:\n{text}", report(&output));
}

/// promtool 2.x parses its input as Prometheus text 0.0.4, where a counter's
/// HELP and TYPE lines name the sample with `_total`, while OpenMetrics names
/// the family without it. Every counter therefore shows up as
/// "<name>_total no help text"; anything else is a real problem.
#[test]
fn promtool_accepts_openmetrics() {
    let text = realistic_metrics().encode_openmetrics();
    let output = promtool(&["check", "metrics"], &rules_dir(), &text);
    let counters: Vec<&str> =
        text.lines().filter_map(|l| l.strip_prefix("# TYPE ")).filter_map(|l| l.strip_suffix(" counter")).collect();
    assert!(!counters.is_empty(), "the exposition declares counters:\n{text}");
    for problem in report(&output).lines().filter(|l| !l.trim().is_empty()) {
        let known = counters.iter().any(|c| problem.trim() == format!("{c}_total no help text"));
        assert!(known, "promtool check metrics reported `{problem}` for:\n{text}");
    }
}

#[test]
fn promtool_accepts_alert_rules() {
    let output = promtool(&["check", "rules", "alerts.yaml"], &rules_dir(), "");
    assert!(output.status.success(), "promtool check rules reported:\n{}", report(&output));
}

#[test]
fn promtool_alert_rule_tests_pass() {
    let output = promtool(&["test", "rules", "alerts_test.yaml"], &rules_dir(), "");
    assert!(output.status.success(), "promtool test rules reported:\n{}", report(&output));
}

/// Every query of the Grafana dashboard, with its variables filled in, must
/// parse as PromQL; promtool checks them as recording rules.
#[test]
fn promtool_accepts_dashboard_queries() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/grafana/gcops-dashboard.json");
    let dashboard: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut rules = String::from("groups:\n  - name: dashboard\n    rules:\n");
    for (i, panel) in dashboard["panels"].as_array().expect("dashboard has panels").iter().enumerate() {
        for target in panel["targets"].as_array().expect("panel has targets") {
            let expr = target["expr"].as_str().expect("target has expr").replace("$account", ".*");
            rules.push_str(&format!(
                "      - record: dashboard:panel{i}\n        expr: {}\n",
                serde_json::to_string(&expr).unwrap()
            ));
        }
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("dashboard.yaml"), &rules).unwrap();
    let output = promtool(&["check", "rules", "dashboard.yaml"], dir.path(), "");
    assert!(output.status.success(), "promtool check rules reported:\n{}\nfor:\n{rules}", report(&output));
}
