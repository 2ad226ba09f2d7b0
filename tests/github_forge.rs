//! The GitHub forge against the loopback GitHub fake: the octocrab client,
//! the retry loop and the request bodies run for real.

mod support;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use gcops::forge::github::{Error as GithubError, GithubAuth, GithubForge, GithubSettings, RetrySettings, TokenSource};
use gcops::forge::{CommitState, Error, Forge, PLAN_MARKER, PLAN_STATUS_CONTEXT, PullContent, PullState, ReviewForge};
use support::github_fake::GithubFake;
use tempfile::TempDir;

const OWNER: &str = "gc-city";
const REPO: &str = "desired-state";
const TOKEN: &str = "ghp_TestToken0123456789SecretValue";
const BRANCH: &str = "gcops/drift/jumin-asp";
const SHA: &str = "1111111111111111111111111111111111111111";
const PULLS: &str = "/repos/gc-city/desired-state/pulls";

struct Setup {
    fake: GithubFake,
    forge: GithubForge,
    _dir: TempDir,
}

fn fast_retry() -> RetrySettings {
    RetrySettings {
        max_attempts: 4,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
        max_rate_limit_wait: Duration::from_secs(5),
    }
}

fn token_file(dir: &TempDir, token: &str) -> PathBuf {
    let path = dir.path().join("token");
    std::fs::write(&path, format!("{token}\n")).unwrap();
    path
}

fn settings(fake: &GithubFake, dir: &TempDir, token: &str) -> GithubSettings {
    GithubSettings {
        api_base_url: fake.base_url(),
        reviewers: vec!["kansa-team".to_string()],
        retry: fast_retry(),
        ..GithubSettings::new(OWNER, REPO, GithubAuth::Token(TokenSource::File(token_file(dir, token))))
    }
}

async fn setup_with(change: impl FnOnce(&mut GithubSettings)) -> Setup {
    let fake = GithubFake::start(OWNER, REPO).await;
    fake.expect_token(TOKEN);
    fake.push_branch(BRANCH, SHA);
    let dir = tempfile::tempdir().unwrap();
    let mut settings = settings(&fake, &dir, TOKEN);
    change(&mut settings);
    let forge = GithubForge::new(settings).expect("forge builds from valid settings");
    Setup { fake, forge, _dir: dir }
}

async fn setup() -> Setup {
    setup_with(|_| {}).await
}

fn content(title: &str) -> PullContent {
    PullContent {
        branch: BRANCH.to_string(),
        base: "main".to_string(),
        title: title.to_string(),
        body: format!("{title} body"),
        head_commit: SHA.to_string(),
    }
}

/// Display of the error and all its sources, plus its Debug form.
fn everything_printed(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = format!("{error:?}");
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = current {
        text.push_str(&format!("\n{e}"));
        current = e.source();
    }
    text
}

#[tokio::test]
async fn open_creates_one_pull() {
    let s = setup().await;
    let pull = s.forge.open(&content("Drift in jumin-asp")).await.unwrap();

    assert_eq!(pull.number, 1);
    assert_eq!(pull.state, PullState::Open);
    assert_eq!(pull.branch, BRANCH);
    assert_eq!(pull.base, "main");
    assert_eq!(pull.head_commit, SHA);
    assert_eq!(s.fake.state().pulls.len(), 1);
    assert_eq!(s.fake.count("POST", PULLS), 1);
}

#[tokio::test]
async fn open_adds_labels_and_reviewers() {
    let s = setup_with(|settings| settings.labels = vec!["gc".to_string()]).await;
    s.forge.open(&content("Drift")).await.unwrap();

    let state = s.fake.state();
    assert_eq!(state.pulls[0].labels, ["gcops", "drift", "jumin-asp", "gc"]);
    assert_eq!(state.pulls[0].requested_reviewers, ["kansa-team"]);
}

#[tokio::test]
async fn open_sends_token() {
    let s = setup().await;
    s.forge.open(&content("Drift")).await.unwrap();

    let requests = s.fake.requests();
    assert!(!requests.is_empty());
    for request in requests {
        assert_eq!(request.authorization.as_deref(), Some(format!("Bearer {TOKEN}").as_str()), "{request:?}");
    }
}

#[tokio::test]
async fn find_by_branch_finds_pull() {
    let s = setup().await;
    let opened = s.forge.open(&content("Drift")).await.unwrap();
    let found = s.forge.find_by_branch(BRANCH).await.unwrap();

    assert_eq!(found, Some(opened));
}

#[tokio::test]
async fn find_by_branch_unknown_is_none() {
    let s = setup().await;
    s.forge.open(&content("Drift")).await.unwrap();

    assert_eq!(s.forge.find_by_branch("gcops/drift/other").await.unwrap(), None);
}

#[tokio::test]
async fn find_by_branch_returns_newest() {
    let s = setup().await;
    let first = s.forge.open(&content("First")).await.unwrap();
    s.fake.close_pull(first.number, false);
    let second = s.forge.open(&content("Second")).await.unwrap();
    let found = s.forge.find_by_branch(BRANCH).await.unwrap().unwrap();

    assert_eq!(found.number, second.number);
    assert_eq!(found.state, PullState::Open);
}

#[tokio::test]
async fn update_edits_in_place() {
    let s = setup().await;
    let opened = s.forge.open(&content("Drift v1")).await.unwrap();
    s.fake.push_branch(BRANCH, "2222222222222222222222222222222222222222");
    let updated = s.forge.update(opened.number, &content("Drift v2")).await.unwrap();

    assert_eq!(updated.number, opened.number);
    assert_eq!(updated.title, "Drift v2");
    assert_eq!(updated.body, "Drift v2 body");
    assert_eq!(updated.head_commit, "2222222222222222222222222222222222222222");
    assert_eq!(s.fake.state().pulls.len(), 1);
    assert_eq!(s.fake.count("POST", PULLS), 1);
}

#[tokio::test]
async fn update_unknown_is_not_found() {
    let s = setup().await;
    let result = s.forge.update(42, &content("Drift")).await;

    assert!(matches!(result, Err(Error::NotFound { forge: "github", number: 42 })), "{result:?}");
}

#[tokio::test]
async fn close_comments_then_closes() {
    let s = setup().await;
    let opened = s.forge.open(&content("Drift")).await.unwrap();
    s.forge.close(opened.number, "Drift resolved.").await.unwrap();

    let state = s.fake.state();
    assert_eq!(state.comments.len(), 1);
    assert_eq!(state.comments[0].body, "Drift resolved.");
    assert_eq!(state.comments[0].issue, opened.number);
    assert_eq!(state.pulls[0].state, "closed");
    assert!(!state.pulls[0].merged);
}

#[tokio::test]
async fn closed_unmerged_is_closed() {
    let s = setup().await;
    let opened = s.forge.open(&content("Drift")).await.unwrap();
    s.fake.close_pull(opened.number, false);
    let found = s.forge.find_by_branch(BRANCH).await.unwrap().unwrap();

    assert_eq!(found.state, PullState::Closed);
}

#[tokio::test]
async fn merged_is_merged() {
    let s = setup().await;
    let opened = s.forge.open(&content("Drift")).await.unwrap();
    s.fake.close_pull(opened.number, true);
    let found = s.forge.find_by_branch(BRANCH).await.unwrap().unwrap();

    assert_eq!(found.state, PullState::Merged);
}

#[tokio::test]
async fn comment_posts_once() {
    let s = setup().await;
    let opened = s.forge.open(&content("Drift")).await.unwrap();
    s.forge.comment(opened.number, "Still drifting.").await.unwrap();

    let state = s.fake.state();
    assert_eq!(state.comments.len(), 1);
    assert_eq!(state.comments[0].body, "Still drifting.");
}

#[tokio::test]
async fn rate_limit_waits_then_succeeds() {
    let s = setup().await;
    s.fake.rate_limit_next(1);
    let started = Instant::now();
    let found = s.forge.find_by_branch(BRANCH).await;

    assert!(found.is_ok(), "{found:?}");
    assert_eq!(s.fake.count("GET", PULLS), 2);
    // The fake sets the reset more than one second ahead.
    assert!(started.elapsed() >= Duration::from_millis(900), "waited only {:?}", started.elapsed());
}

#[tokio::test]
async fn rate_limit_wait_is_capped() {
    let s = setup_with(|settings| settings.retry.max_rate_limit_wait = Duration::from_millis(100)).await;
    s.fake.rate_limit_next(3600);
    let started = Instant::now();
    let found = s.forge.find_by_branch(BRANCH).await;

    assert!(found.is_ok(), "{found:?}");
    assert!(started.elapsed() < Duration::from_secs(10), "waited {:?}", started.elapsed());
}

#[tokio::test]
async fn rate_limited_create_is_sent_again() {
    let s = setup().await;
    s.fake.rate_limit_next(1);
    let opened = s.forge.open(&content("Drift")).await;

    assert!(opened.is_ok(), "{opened:?}");
    assert_eq!(s.fake.count("POST", PULLS), 2);
    assert_eq!(s.fake.state().pulls.len(), 1);
}

#[tokio::test]
async fn server_error_then_success() {
    let s = setup().await;
    s.fake.fail_next(2, 503);
    let found = s.forge.find_by_branch(BRANCH).await;

    assert!(found.is_ok(), "{found:?}");
    assert_eq!(s.fake.count("GET", PULLS), 3);
}

#[tokio::test]
async fn server_error_on_create_then_success() {
    let s = setup().await;
    s.fake.fail_next(1, 500);
    let opened = s.forge.open(&content("Drift")).await;

    assert!(opened.is_ok(), "{opened:?}");
    assert_eq!(s.fake.state().pulls.len(), 1);
}

#[tokio::test]
async fn server_error_gives_up() {
    let s = setup().await;
    s.fake.fail_next(100, 500);
    let result = s.forge.find_by_branch(BRANCH).await;

    let Err(Error::Github(error)) = result else {
        panic!("expected a GitHub error, got {result:?}");
    };
    assert!(matches!(error, GithubError::ServerError { status: 500, attempts: 4, .. }), "{error:?}");
    assert!(error.is_transient());
    assert_eq!(s.fake.count("GET", PULLS), 4);
}

#[tokio::test]
async fn lost_create_answer_no_duplicate() {
    let s = setup().await;
    // GitHub creates the pull request, but the response is a 502.
    s.fake.apply_then_fail_next(1);
    let opened = s.forge.open(&content("Drift")).await;

    assert!(opened.is_ok(), "{opened:?}");
    assert_eq!(opened.unwrap().number, 1);
    assert_eq!(s.fake.state().pulls.len(), 1);
    assert_eq!(s.fake.count("POST", PULLS), 1);
    assert_eq!(s.fake.state().pulls[0].labels, ["gcops", "drift", "jumin-asp"]);
}

#[tokio::test]
async fn lost_comment_answer_no_duplicate() {
    let s = setup().await;
    let opened = s.forge.open(&content("Drift")).await.unwrap();
    s.fake.apply_then_fail_next(1);
    s.forge.close(opened.number, "Drift resolved.").await.unwrap();

    let state = s.fake.state();
    assert_eq!(state.comments.len(), 1);
    assert_eq!(state.pulls[0].state, "closed");
}

#[tokio::test]
async fn upsert_comment_creates_with_marker() {
    let s = setup().await;
    let opened = s.forge.open(&content("Drift")).await.unwrap();
    s.forge.upsert_comment(opened.number, PLAN_MARKER, "Plan: 2 changes").await.unwrap();

    let state = s.fake.state();
    assert_eq!(state.comments.len(), 1);
    assert!(state.comments[0].body.contains(PLAN_MARKER));
    assert!(state.comments[0].body.contains("Plan: 2 changes"));
}

#[tokio::test]
async fn upsert_comment_edits_in_place() {
    let s = setup().await;
    let opened = s.forge.open(&content("Drift")).await.unwrap();
    s.fake.add_comment(opened.number, "LGTM");
    let first = s.forge.upsert_comment(opened.number, PLAN_MARKER, "Plan: 2 changes").await.unwrap();
    let second = s.forge.upsert_comment(opened.number, PLAN_MARKER, "Plan: 3 changes").await.unwrap();

    assert_eq!(first, second);
    let state = s.fake.state();
    let marked: Vec<_> = state.comments.iter().filter(|c| c.body.contains(PLAN_MARKER)).collect();
    assert_eq!(marked.len(), 1);
    assert!(marked[0].body.contains("Plan: 3 changes"));
    assert_eq!(state.comments.len(), 2);
}

#[tokio::test]
async fn upsert_comment_same_body_no_edit() {
    let s = setup().await;
    let opened = s.forge.open(&content("Drift")).await.unwrap();
    let id = s.forge.upsert_comment(opened.number, PLAN_MARKER, "Plan: none").await.unwrap();
    s.forge.upsert_comment(opened.number, PLAN_MARKER, "Plan: none").await.unwrap();

    assert_eq!(s.fake.count("PATCH", &format!("/repos/gc-city/desired-state/issues/comments/{id}")), 0);
}

#[tokio::test]
async fn upsert_comment_removes_extra_copies() {
    let s = setup().await;
    let opened = s.forge.open(&content("Drift")).await.unwrap();
    let oldest = s.fake.add_comment(opened.number, &format!("{PLAN_MARKER}\nold"));
    s.fake.add_comment(opened.number, &format!("{PLAN_MARKER}\nolder race"));
    let id = s.forge.upsert_comment(opened.number, PLAN_MARKER, "Plan: new").await.unwrap();

    assert_eq!(id, oldest);
    let state = s.fake.state();
    assert_eq!(state.comments.len(), 1);
    assert!(state.comments[0].body.ends_with("Plan: new"));
}

#[tokio::test]
async fn upsert_comment_lost_answer_no_duplicate() {
    let s = setup().await;
    let opened = s.forge.open(&content("Drift")).await.unwrap();
    s.fake.apply_then_fail_next_method("POST", 1);
    let result = s.forge.upsert_comment(opened.number, PLAN_MARKER, "Plan: 1 change").await;

    assert!(result.is_ok(), "{result:?}");
    let state = s.fake.state();
    assert_eq!(state.comments.len(), 1);
    assert!(state.comments[0].body.contains("Plan: 1 change"));
}

#[tokio::test]
async fn set_status_records_status() {
    let s = setup().await;
    s.forge.set_status(SHA, PLAN_STATUS_CONTEXT, CommitState::Success, "2 accounts change").await.unwrap();

    let state = s.fake.state();
    assert_eq!(state.statuses.len(), 1);
    assert_eq!(state.statuses[0].sha, SHA);
    assert_eq!(state.statuses[0].context, "gcops/plan");
    assert_eq!(state.statuses[0].state, "success");
    assert_eq!(state.statuses[0].description, "2 accounts change");
}

#[tokio::test]
async fn set_status_truncates_description() {
    let s = setup().await;
    let long = "計".repeat(300);
    s.forge.set_status(SHA, PLAN_STATUS_CONTEXT, CommitState::Failure, &long).await.unwrap();

    assert_eq!(s.fake.state().statuses[0].description.chars().count(), 140);
}

#[tokio::test]
async fn list_open_pulls_skips_closed() {
    let s = setup().await;
    let drift = s.forge.open(&content("Drift")).await.unwrap();
    let change = s.fake.add_pull("feature/grant", SHA, &["desired-state/permissions/x.yaml"]);
    let closed = s.fake.add_pull("feature/old", SHA, &[]);
    s.fake.close_pull(closed, false);
    let mut numbers: Vec<u64> = s.forge.list_open_pulls().await.unwrap().iter().map(|p| p.number).collect();
    numbers.sort();

    assert_eq!(numbers, [drift.number, change]);
}

#[tokio::test]
async fn list_open_pulls_reads_all_pages() {
    let s = setup().await;
    for i in 0..130 {
        s.fake.add_pull(&format!("feature/{i}"), SHA, &[]);
    }

    assert_eq!(s.forge.list_open_pulls().await.unwrap().len(), 130);
}

#[tokio::test]
async fn changed_files_lists_paths() {
    let s = setup().await;
    let number = s.fake.add_pull("feature/grant", SHA, &["desired-state/permissions/x.yaml", "README.md"]);
    s.fake.state().pulls.last_mut().unwrap().files.push(serde_json::json!({
        "filename": "docs/moved.yaml",
        "previous_filename": "desired-state/budgets/old.yaml",
        "status": "renamed",
    }));
    let files = s.forge.changed_files(number).await.unwrap();

    assert_eq!(files, ["desired-state/permissions/x.yaml", "README.md", "desired-state/budgets/old.yaml", "docs/moved.yaml",]);
}

#[tokio::test]
async fn enterprise_base_url_works() {
    let s = setup_with(|settings| settings.api_base_url.push_str("/api/v3")).await;
    let opened = s.forge.open(&content("Drift")).await;

    assert!(opened.is_ok(), "{opened:?}");
    assert_eq!(s.fake.count("POST", "/api/v3/repos/gc-city/desired-state/pulls"), 1);
    assert_eq!(s.fake.count("POST", PULLS), 0);
}

#[tokio::test]
async fn token_absent_from_debug_and_display() {
    let s = setup().await;
    let shown = format!("{:?} {}", s.forge, s.forge);

    assert!(!shown.contains(TOKEN), "{shown}");
    assert!(shown.contains("gc-city/desired-state"), "{shown}");
}

#[tokio::test]
async fn token_absent_from_rejected_error() {
    let fake = GithubFake::start(OWNER, REPO).await;
    fake.expect_token(TOKEN);
    let dir = tempfile::tempdir().unwrap();
    let wrong = "ghp_WrongToken0123456789SecretValue";
    let forge = GithubForge::new(settings(&fake, &dir, wrong)).unwrap();
    let error = forge.find_by_branch(BRANCH).await.unwrap_err();
    let printed = everything_printed(&error);

    assert!(printed.contains("401"), "{printed}");
    assert!(!printed.contains(wrong), "{printed}");
}

#[tokio::test]
async fn token_scrubbed_from_echoed_error() {
    let fake = GithubFake::start(OWNER, REPO).await;
    fake.state().echo_authorization_next = true;
    let dir = tempfile::tempdir().unwrap();
    let forge = GithubForge::new(settings(&fake, &dir, TOKEN)).unwrap();
    let error = forge.find_by_branch(BRANCH).await.unwrap_err();
    let printed = everything_printed(&error);

    assert!(printed.contains("422"), "{printed}");
    assert!(printed.contains("***"), "the echoed token is replaced: {printed}");
    assert!(!printed.contains(TOKEN), "{printed}");
}

#[tokio::test]
async fn token_absent_from_transport_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let dir = tempfile::tempdir().unwrap();
    let settings = GithubSettings {
        api_base_url: format!("http://{addr}"),
        retry: fast_retry(),
        ..GithubSettings::new(OWNER, REPO, GithubAuth::Token(TokenSource::File(token_file(&dir, TOKEN))))
    };
    let forge = GithubForge::new(settings).unwrap();
    let error = forge.find_by_branch(BRANCH).await.unwrap_err();
    let printed = everything_printed(&error);

    assert!(matches!(error, Error::Github(GithubError::Transport { attempts: 4, .. })), "{printed}");
    assert!(!printed.contains(TOKEN), "{printed}");
}

#[test]
fn token_env_missing_names_variable() {
    let settings = GithubSettings::new(OWNER, REPO, GithubAuth::Token(TokenSource::Env("GCOPS_TEST_ABSENT_TOKEN".to_string())));
    let error = GithubForge::new(settings).unwrap_err();

    assert!(matches!(error, GithubError::TokenEnvMissing { .. }), "{error:?}");
    assert!(error.to_string().contains("GCOPS_TEST_ABSENT_TOKEN"));
}

#[test]
fn token_file_missing_names_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("absent");
    let settings = GithubSettings::new(OWNER, REPO, GithubAuth::Token(TokenSource::File(path.clone())));
    let error = GithubForge::new(settings).unwrap_err();

    assert!(matches!(error, GithubError::TokenFile { .. }), "{error:?}");
    assert!(error.to_string().contains(&path.display().to_string()));
}

#[test]
fn token_file_empty_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let settings = GithubSettings::new(OWNER, REPO, GithubAuth::Token(TokenSource::File(token_file(&dir, "  "))));
    let error = GithubForge::new(settings).unwrap_err();

    assert!(matches!(error, GithubError::TokenEmpty { .. }), "{error:?}");
}

#[test]
fn owner_with_slash_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let settings = GithubSettings::new("gc/city", REPO, GithubAuth::Token(TokenSource::File(token_file(&dir, TOKEN))));
    let error = GithubForge::new(settings).unwrap_err();

    assert!(matches!(error, GithubError::Setting { key: "owner", .. }), "{error:?}");
}

#[test]
fn app_key_missing_names_path() {
    let settings = GithubSettings::new(
        OWNER,
        REPO,
        GithubAuth::App { app_id: 1, private_key_path: PathBuf::from("/nonexistent/gcops-app.pem"), installation_id: 2 },
    );
    let error = GithubForge::new(settings).unwrap_err();

    assert!(matches!(error, GithubError::PrivateKeyFile { .. }), "{error:?}");
}

#[test]
fn app_key_invalid_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.pem");
    std::fs::write(&path, "not a key").unwrap();
    let settings = GithubSettings::new(OWNER, REPO, GithubAuth::App { app_id: 1, private_key_path: path, installation_id: 2 });
    let error = GithubForge::new(settings).unwrap_err();

    assert!(matches!(error, GithubError::Client { .. }), "{error:?}");
}
