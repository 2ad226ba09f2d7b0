//! The whole path on real components: the example repository in a real git
//! repository, live state in moto, drift pull requests on the local forge.

mod support;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use gcops::config::{FileConfig, Settings};
use gcops::diff::model::{Change, ResourceType};
use gcops::forge::PullState;
use gcops::reconcile::{Context, PullAction};
use support::moto::MotoGateway;

const JUMIN: &str = "222222222222";
const ZEIMU: &str = "333333333333";

fn example_repo(dir: &Path) -> PathBuf {
    support::repo::example_repo(dir, "sample-city")
}

fn settings(moto: &MotoGateway, repo: &Path) -> Settings {
    let text = format!("repository:\n  url: {}\n  branch: main\nlanguage: ja\n", repo.display());
    let mut settings = Settings::from_file(FileConfig::parse(&text, Path::new("gcops.yaml")).unwrap(), |_| None).unwrap();
    settings.aws = moto.settings();
    settings
}

async fn context(moto: &MotoGateway, repo: &Path) -> Context {
    Context::with_factory(settings(moto, repo), moto.client_factory().await).expect("open repository and forge")
}

async fn seeded(moto: &MotoGateway, repo: &Path) -> gcops::devenv::DevEnv {
    let desired = gcops::desired::load_dir(repo, chrono::Utc::now().date_naive()).expect("example validates");
    let env = gcops::devenv::DevEnv::new(Arc::new(moto.client_factory().await));
    env.seed(&desired).await.expect("seed moto from the example");
    env
}

fn refs(repo: &Path) -> Vec<(String, git2::Oid)> {
    let repo = git2::Repository::open(repo).unwrap();
    let mut refs: Vec<(String, git2::Oid)> = repo
        .references()
        .unwrap()
        .filter_map(|r| r.ok())
        .filter_map(|r| Some((r.name().ok()?.to_string(), r.target()?)))
        .collect();
    refs.sort();
    refs
}

/// Writes the example's `gc-ec2-cpu-high` alarm as it is live, with another threshold.
async fn put_cpu_alarm(cw: &aws_sdk_cloudwatch::Client, live: &aws_sdk_cloudwatch::types::MetricAlarm, threshold: f64) {
    cw.put_metric_alarm()
        .alarm_name("gc-ec2-cpu-high")
        .namespace("AWS/EC2")
        .metric_name("CPUUtilization")
        .statistic(aws_sdk_cloudwatch::types::Statistic::Average)
        .period(300)
        .evaluation_periods(3)
        .threshold(threshold)
        .comparison_operator(aws_sdk_cloudwatch::types::ComparisonOperator::GreaterThanOrEqualToThreshold)
        .treat_missing_data("notBreaching")
        .alarm_description(live.alarm_description().unwrap_or_default())
        .set_alarm_actions(Some(live.alarm_actions().to_vec()))
        .send()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn example_lifecycle_of_drift_pulls() {
    let moto = MotoGateway::start();
    let tmp = tempfile::tempdir().unwrap();
    let repo = example_repo(tmp.path());
    let env = seeded(&moto, &repo).await;
    let ctx = context(&moto, &repo).await;

    // The untouched example is in sync, and everything desired was compared.
    let plan = gcops::reconcile::plan(&ctx).await.expect("plan");
    let counts = plan.drift.counts();
    assert!(plan.drift.items.is_empty(), "seeded example must have no drift: {:#?}", plan.drift.items);
    assert_eq!(counts.unknown, 0, "no read may fail against moto");
    assert!(counts.checked >= 20, "expected the example's resources to be compared, got {counts:?}");
    assert!(counts.not_checked > 0, "Organizations without an organization is not checked");

    // Out-of-band changes become exactly three drift items.
    let desired = gcops::desired::load_dir(&repo, chrono::Utc::now().date_naive()).unwrap();
    env.make_hand_changes(&desired).await.expect("hand changes");
    let plan = gcops::reconcile::plan(&ctx).await.expect("plan after hand changes");
    let found: Vec<(&str, ResourceType, &str, Change)> =
        plan.drift.items.iter().map(|i| (i.account_id.as_str(), i.resource_type, i.path.as_str(), i.change)).collect();
    assert_eq!(found.len(), 3, "unexpected drift items: {found:#?}");
    assert!(found.contains(&(JUMIN, ResourceType::Role, "inlinePolicies.HandAddedS3Read", Change::Unexpected)));
    assert!(found.contains(&(JUMIN, ResourceType::Alarm, "threshold", Change::Modified)));
    assert!(found.contains(&(ZEIMU, ResourceType::Stack, "parameters.ConfigSnapshotFrequency", Change::Modified)));

    // One pull request per drifted account.
    let pass = gcops::reconcile::run_once(&ctx).await.expect("first pass");
    assert!(pass.errors.is_empty(), "{:?}", pass.errors);
    let opened: Vec<&str> = pass.pulls.iter().filter(|p| p.action == PullAction::Opened).map(|p| p.account.as_str()).collect();
    assert_eq!(opened, vec!["jumin-asp", "zeimu-asp"]);

    // The adopting commit validates except for the Exception left for the reviewer.
    let jumin = ctx.forge.find_by_branch("gcops/drift/jumin-asp").await.unwrap().expect("jumin pull request");
    let zeimu = ctx.forge.find_by_branch("gcops/drift/zeimu-asp").await.unwrap().expect("zeimu pull request");
    assert_eq!(jumin.state, PullState::Open);
    assert!(jumin.body.contains("HandAddedS3Read"), "body lists the hand-added policy");
    let files = ctx.repo.read_files(zeimu.head_commit.parse().unwrap(), &["desired-state/", "templates/"]).unwrap();
    let errors = gcops::desired::load(&files, chrono::Utc::now().date_naive()).expect_err("empty exception must fail");
    assert!(errors.iter().all(|e| e.pos.file == "desired-state/exceptions.yaml"), "only the exception is incomplete: {errors:?}");

    // Same drift again: no ref moves.
    let before = refs(&repo);
    let pass = gcops::reconcile::run_once(&ctx).await.expect("second pass");
    assert!(pass.pulls.iter().all(|p| matches!(p.action, PullAction::Unchanged | PullAction::None)));
    assert_eq!(refs(&repo), before, "a second pass with the same drift must not write");

    // Changed drift updates the same pull request.
    let cw = aws_sdk_cloudwatch::Client::new(&env.config_for(JUMIN, "ap-northeast-1").await.unwrap());
    let alarm = cw.describe_alarms().alarm_names("gc-ec2-cpu-high").send().await.unwrap();
    let alarm = &alarm.metric_alarms()[0];
    put_cpu_alarm(&cw, alarm, 99.0).await;
    let pass = gcops::reconcile::run_once(&ctx).await.expect("third pass");
    let jumin_outcome = pass.pulls.iter().find(|p| p.account == "jumin-asp").unwrap();
    assert_eq!(jumin_outcome.action, PullAction::Updated);
    assert_eq!(jumin_outcome.number, Some(jumin.number), "the same pull request is updated");

    // Drift gone: the pull request is closed with a comment.
    let iam = aws_sdk_iam::Client::new(&env.config_for(JUMIN, "ap-northeast-1").await.unwrap());
    iam.delete_role_policy().role_name("GCVendorAlphaOperator").policy_name("HandAddedS3Read").send().await.unwrap();
    put_cpu_alarm(&cw, alarm, 80.0).await;
    let pass = gcops::reconcile::run_once(&ctx).await.expect("fourth pass");
    let jumin_outcome = pass.pulls.iter().find(|p| p.account == "jumin-asp").unwrap();
    assert_eq!(jumin_outcome.action, PullAction::Closed);
    let closed = ctx.forge.find_by_branch("gcops/drift/jumin-asp").await.unwrap().unwrap();
    assert_eq!(closed.state, PullState::Closed);
    let zeimu_outcome = pass.pulls.iter().find(|p| p.account == "zeimu-asp").unwrap();
    assert_eq!(zeimu_outcome.action, PullAction::Unchanged, "the stack drift stays");
}

#[tokio::test(flavor = "multi_thread")]
async fn reordered_policy_is_not_drift() {
    let moto = MotoGateway::start();
    let tmp = tempfile::tempdir().unwrap();
    let repo = example_repo(tmp.path());
    let env = seeded(&moto, &repo).await;
    let ctx = context(&moto, &repo).await;

    let iam = aws_sdk_iam::Client::new(&env.config_for(ZEIMU, "ap-northeast-1").await.unwrap());
    // Same statement as the example, with actions reordered, Resource as a
    // list, and a duplicate action.
    let reordered = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Resource": ["arn:aws:logs:ap-northeast-1:333333333333:log-group:/individual-tax/*"],
            "Action": ["logs:DescribeLogStreams", "logs:GetLogEvents", "logs:FilterLogEvents", "logs:GetLogEvents"],
            "Effect": "Allow"
        }]
    });
    iam.put_role_policy()
        .role_name("GCVendorBetaOperator")
        .policy_name("ReadApplicationLogs")
        .policy_document(reordered.to_string())
        .send()
        .await
        .unwrap();
    // Trust principal as a plain string instead of a one-element list.
    let trust = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{ "Action": "sts:AssumeRole", "Effect": "Allow",
                        "Principal": { "AWS": "arn:aws:iam::555566667777:role/BetaSoftOperations" } }]
    });
    iam.update_assume_role_policy().role_name("GCVendorBetaOperator").policy_document(trust.to_string()).send().await.unwrap();

    let plan = gcops::reconcile::plan(&ctx).await.expect("plan");
    assert!(plan.drift.items.is_empty(), "equivalent policies must not drift: {:#?}", plan.drift.items);
}

#[tokio::test(flavor = "multi_thread")]
async fn unreachable_endpoint_writes_nothing() {
    let moto = MotoGateway::start();
    let tmp = tempfile::tempdir().unwrap();
    let repo = example_repo(tmp.path());
    let mut settings = settings(&moto, &repo);
    // A port nothing listens on: bind and drop a listener to get one.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let endpoint = format!("http://{closed}");
    settings.aws.endpoint_url = Some(endpoint.clone());
    let base = support::moto::sdk_config(&endpoint, "ap-northeast-1").await;
    let factory = gcops::live::ClientFactory::with_base_config(settings.aws.clone(), base);
    let ctx = Context::with_factory(settings, factory).unwrap();

    let before = refs(&repo);
    let error = match gcops::reconcile::run_once(&ctx).await {
        Ok(_) => panic!("a pass with no readable account must fail"),
        Err(e) => e,
    };
    assert!(error.to_string().contains(&endpoint), "the error names the endpoint: {error}");
    assert_eq!(refs(&repo), before, "nothing may be written when AWS is unreachable");
}
