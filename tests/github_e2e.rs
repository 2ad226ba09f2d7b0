//! Drift pull requests on GitHub, end to end: moto for AWS, a real bare git
//! repository as the remote that gcops clones and pushes to, and the
//! loopback GitHub fake that octocrab talks to.

mod support;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use gcops::config::{FileConfig, Settings};
use gcops::forge::github::RetrySettings;
use gcops::reconcile::{Context, PullAction};
use support::github_fake::GithubFake;
use support::moto::MotoGateway;
use support::repo::example_with_remote;

const TOKEN: &str = "ghp_e2e_token_never_logged";

async fn github_context(moto: &MotoGateway, fake: &GithubFake, bare: &Path, dir: &Path) -> Context {
    let token_file = dir.join("token");
    std::fs::write(&token_file, TOKEN).unwrap();
    let text = format!(
        "repository:\n  url: file://{}\n  cacheDir: {}\nforge:\n  kind: github\n  github:\n    owner: sample-city\n    repo: gc\n    tokenFile: {}\n    apiBaseUrl: {}\n",
        bare.display(),
        dir.join("cache").display(),
        token_file.display(),
        fake.base_url()
    );
    let mut settings = Settings::from_file(FileConfig::parse(&text, Path::new("gcops.yaml")).unwrap(), |_| None).unwrap();
    settings.aws = moto.settings();
    if let Some(github) = settings.github.as_mut() {
        github.retry = RetrySettings {
            max_attempts: 4,
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(20),
            max_rate_limit_wait: Duration::from_secs(5),
        };
    }
    Context::with_factory(settings, moto.client_factory().await).expect("clone the remote and build the GitHub forge")
}

fn remote_refs(bare: &Path) -> String {
    let out =
        Command::new("git").arg("-C").arg(bare).args(["for-each-ref", "--format=%(refname) %(objectname)"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn github_drift_pulls_lifecycle() {
    let moto = MotoGateway::start();
    let tmp = tempfile::tempdir().unwrap();
    let (work, bare) = example_with_remote(tmp.path());
    let fake = GithubFake::start("sample-city", "gc").await;
    fake.expect_token(TOKEN);
    fake.serve_git(&bare);

    let desired = gcops::desired::load_dir(&work, chrono::Utc::now().date_naive()).unwrap();
    let env = gcops::devenv::DevEnv::new(Arc::new(moto.client_factory().await));
    env.seed(&desired).await.unwrap();
    env.make_hand_changes(&desired).await.unwrap();
    let ctx = github_context(&moto, &fake, &bare, tmp.path()).await;

    // Created once: two accounts drifted, two pull requests, branches pushed.
    let pass = gcops::reconcile::run_once(&ctx).await.expect("first pass");
    assert!(pass.errors.is_empty(), "{:?}", pass.errors);
    assert_eq!(fake.count("POST", "/repos/sample-city/gc/pulls"), 2);
    let refs = remote_refs(&bare);
    assert!(refs.contains("refs/heads/gcops/drift/jumin-asp"), "branch pushed to the remote:\n{refs}");
    let jumin = fake.state().pulls.iter().find(|p| p.head_ref == "gcops/drift/jumin-asp").cloned().unwrap();
    assert!(jumin.labels.contains(&"drift".to_string()), "{:?}", jumin.labels);
    assert!(jumin.labels.contains(&"jumin-asp".to_string()), "{:?}", jumin.labels);
    assert!(jumin.body.contains("gcops:fingerprint="), "fingerprint kept in the body");

    // Same drift: no new pull request, no push.
    let pass = gcops::reconcile::run_once(&ctx).await.expect("second pass");
    assert!(pass.pulls.iter().all(|p| matches!(p.action, PullAction::Unchanged | PullAction::None)), "{:?}", pass.pulls);
    assert_eq!(fake.count("POST", "/repos/sample-city/gc/pulls"), 2);
    assert_eq!(remote_refs(&bare), refs, "no push for the same drift");

    // Changed drift: the same pull request is updated in place.
    let iam = aws_sdk_iam::Client::new(&env.config_for("222222222222", "ap-northeast-1").await.unwrap());
    let extra = serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sqs:ListQueues", "Resource": "*"}]});
    iam.put_role_policy()
        .role_name("GCVendorAlphaOperator")
        .policy_name("HandAddedSqs")
        .policy_document(extra.to_string())
        .send()
        .await
        .unwrap();
    let pass = gcops::reconcile::run_once(&ctx).await.expect("third pass");
    let outcome = pass.pulls.iter().find(|p| p.account == "jumin-asp").unwrap();
    assert_eq!(outcome.action, PullAction::Updated);
    assert_eq!(outcome.number, Some(jumin.number));
    assert_eq!(fake.count("POST", "/repos/sample-city/gc/pulls"), 2, "updated, not duplicated");

    // A pull request closed unmerged is not reopened for the same drift.
    let zeimu = fake.state().pulls.iter().find(|p| p.head_ref == "gcops/drift/zeimu-asp").cloned().unwrap();
    fake.close_pull(zeimu.number, false);
    let pass = gcops::reconcile::run_once(&ctx).await.expect("fourth pass");
    let outcome = pass.pulls.iter().find(|p| p.account == "zeimu-asp").unwrap();
    assert_eq!(outcome.action, PullAction::KeptClosed);
    assert_eq!(fake.count("POST", "/repos/sample-city/gc/pulls"), 2);

    // Drift gone: closed with a comment.
    for name in ["HandAddedS3Read", "HandAddedSqs"] {
        iam.delete_role_policy().role_name("GCVendorAlphaOperator").policy_name(name).send().await.unwrap();
    }
    let cw = aws_sdk_cloudwatch::Client::new(&env.config_for("222222222222", "ap-northeast-1").await.unwrap());
    let alarm = desired.alarms.iter().find(|a| a.spec.alarm_name == "gc-ec2-cpu-high").unwrap();
    cw.put_metric_alarm()
        .alarm_name("gc-ec2-cpu-high")
        .namespace(&alarm.spec.namespace)
        .metric_name(&alarm.spec.metric_name)
        .statistic(aws_sdk_cloudwatch::types::Statistic::Average)
        .period(alarm.spec.period)
        .evaluation_periods(alarm.spec.evaluation_periods)
        .threshold(alarm.spec.threshold)
        .comparison_operator(aws_sdk_cloudwatch::types::ComparisonOperator::GreaterThanOrEqualToThreshold)
        .treat_missing_data("notBreaching")
        .set_alarm_description(alarm.spec.description.clone())
        .alarm_actions("arn:aws:sns:ap-northeast-1:222222222222:gc-ops-alerts")
        .send()
        .await
        .unwrap();
    let pass = gcops::reconcile::run_once(&ctx).await.expect("fifth pass");
    let outcome = pass.pulls.iter().find(|p| p.account == "jumin-asp").unwrap();
    assert_eq!(outcome.action, PullAction::Closed, "{:?}", pass.plan.drift.items_for("222222222222"));
    let closed = fake.state().pulls.iter().find(|p| p.number == jumin.number).cloned().unwrap();
    assert_eq!(closed.state, "closed");
    assert!(fake.state().comments.iter().any(|c| c.issue == jumin.number), "closing comment posted");

    // Every request carried the token, and only in its Authorization header.
    assert!(fake.requests().iter().all(|r| r.authorization.as_deref().is_some_and(|a| a.ends_with(TOKEN))));
}
