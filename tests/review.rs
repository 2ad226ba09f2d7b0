//! Plans of pull requests against the example repository in a real git
//! repository: the GitHub forge talks to the loopback GitHub fake, and the
//! local forge keeps its records in the same repository.

mod support;

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use gcops::forge::github::{GithubAuth, GithubForge, GithubSettings, RetrySettings, TokenSource};
use gcops::forge::{
    Annotation, CommitState, Forge, LocalForge, PLAN_MARKER, PLAN_STATUS_CONTEXT, PullContent, ReviewForge, annotation_marker,
};
use gcops::i18n::Lang;
use gcops::review::{PlanResult, PullPlanOutcome, SkipReason, plan_pull_requests};
use gcops::source::{Options, Repo};
use support::github_fake::{FakeReview, GithubFake};
use tempfile::TempDir;

const OWNER: &str = "gc-city";
const REPO: &str = "desired-state";

/// Returns a day before every expiry date of the example grants.
fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 6, 1).unwrap()
}

/// The example repository, committed on `main`, plus the fake and a forge.
struct Setup {
    tmp: TempDir,
    repo_dir: PathBuf,
    fake: GithubFake,
    forge: GithubForge,
}

impl Setup {
    async fn new() -> Setup {
        let tmp = tempfile::tempdir().unwrap();
        let repo_dir = example_repo(tmp.path());
        let fake = GithubFake::start(OWNER, REPO).await;
        let token = tmp.path().join("token");
        std::fs::write(&token, "ghp_ReviewTestToken\n").unwrap();
        let settings = GithubSettings {
            api_base_url: fake.base_url(),
            retry: RetrySettings { max_attempts: 2, ..RetrySettings::default() },
            ..GithubSettings::new(OWNER, REPO, GithubAuth::Token(TokenSource::File(token)))
        };
        let forge = GithubForge::new(settings).expect("forge builds from valid settings");
        Setup { tmp, repo_dir, fake, forge }
    }

    fn repo(&self) -> Repo {
        Repo::open(&self.repo_dir.display().to_string(), &Options::new(self.tmp.path().join("cache"))).unwrap()
    }

    /// Commits `changes` on top of `main` as branch `branch` and opens a
    /// pull request for it in the fake, listing the changed paths.
    fn open_pull(&self, branch: &str, changes: &[(&str, Option<&str>)]) -> (u64, String) {
        let sha = commit_on_branch(&self.repo_dir, branch, changes);
        let files: Vec<&str> = changes.iter().map(|(path, _)| *path).collect();
        let number = self.fake.add_pull(branch, &sha, &files);
        (number, sha)
    }

    async fn plan(&self, lang: Lang) -> Vec<PullPlanOutcome> {
        plan_pull_requests(&self.repo(), &self.forge, "main", None, lang, today()).await.expect("open pull requests list")
    }

    fn comments(&self, number: u64) -> Vec<String> {
        self.fake.state().comments.iter().filter(|c| c.issue == number).map(|c| c.body.clone()).collect()
    }

    /// Returns the newest `gcops/plan` status of `sha` as (state, description).
    fn status(&self, sha: &str) -> Option<(String, String)> {
        let state = self.fake.state();
        state
            .statuses
            .iter()
            .rev()
            .find(|s| s.sha == sha && s.context == PLAN_STATUS_CONTEXT)
            .map(|s| (s.state.clone(), s.description.clone()))
    }

    fn reviews(&self, number: u64) -> Vec<FakeReview> {
        self.fake.state().reviews.iter().filter(|r| r.pull == number).cloned().collect()
    }

    /// Returns the plan comment of pull request `number`, asserting it is the only comment.
    fn plan_comment(&self, number: u64) -> String {
        let comments = self.comments(number);
        assert_eq!(comments.len(), 1, "expected exactly one comment on #{number}: {comments:#?}");
        assert!(comments[0].contains(PLAN_MARKER), "the comment must carry the plan marker");
        comments[0].clone()
    }
}

/// Copies the example's desired-state/ and templates/ into a new git
/// repository with one commit on `main`, plus a README.
fn example_repo(dir: &Path) -> PathBuf {
    let repo_dir = dir.join("sample-city");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for folder in ["desired-state", "templates"] {
        support::repo::copy_dir(&root.join(folder), &repo_dir.join(folder));
    }
    std::fs::write(repo_dir.join("README.md"), "# Sample City\n").unwrap();
    let repo = git2::Repository::init_opts(&repo_dir, git2::RepositoryInitOptions::new().initial_head("main")).unwrap();
    let mut index = repo.index().unwrap();
    index.add_all(["*"], git2::IndexAddOption::DEFAULT, None).unwrap();
    index.write().unwrap();
    let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
    let sig = signature();
    repo.commit(Some("HEAD"), &sig, &sig, "Desired state of Sample City", &tree, &[]).unwrap();
    repo_dir
}

fn signature() -> git2::Signature<'static> {
    git2::Signature::now("reviewer", "reviewer@city.example.jp").unwrap()
}

/// Writes a commit with `changes` (path, new content or `None` to delete)
/// on top of `main` and points `refs/heads/<branch>` at it.
fn commit_on_branch(repo_dir: &Path, branch: &str, changes: &[(&str, Option<&str>)]) -> String {
    let repo = git2::Repository::open(repo_dir).unwrap();
    let parent = repo.find_reference("refs/heads/main").unwrap().peel_to_commit().unwrap();
    let mut update = git2::build::TreeUpdateBuilder::new();
    for (path, content) in changes {
        match content {
            Some(text) => {
                let blob = repo.blob(text.as_bytes()).unwrap();
                update.upsert(*path, blob, git2::FileMode::Blob);
            }
            None => {
                update.remove(*path);
            }
        }
    }
    let tree_id = update.create_updated(&repo, &parent.tree().unwrap()).unwrap();
    let tree = repo.find_tree(tree_id).unwrap();
    let sig = signature();
    let commit = repo.commit(None, &sig, &sig, &format!("Change for {branch}"), &tree, &[&parent]).unwrap();
    repo.reference(&format!("refs/heads/{branch}"), commit, true, "test branch").unwrap();
    commit.to_string()
}

/// 1-based line of the first line of `text` that contains `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).expect("needle is in the text") + 1
}

fn result_of(outcomes: &[PullPlanOutcome], number: u64) -> &PlanResult {
    &outcomes.iter().find(|o| o.number == number).expect("every open pull request has an outcome").result
}

const AUDIT_GRANT: &str = "\
apiVersion: gcops/v1
kind: PermissionGrant
id: audit-readonly
spec:
  principal:
    kind: operator
    name: audit-team
  accounts: [zeimu-asp]
  roleName: GCAuditReadOnly
  trust:
    principals: [\"arn:aws:iam::111111111111:root\"]
  managedPolicies:
    - arn:aws:iam::aws:policy/SecurityAudit
  permissionBoundary: arn:aws:iam::aws:policy/ReadOnlyAccess
  expires: 2026-12-31
  ticket: CHG-2026-0601
";

const WILDCARD_GRANT: &str = "\
apiVersion: gcops/v1
kind: PermissionGrant
id: alpha-systems-admin
spec:
  principal:
    kind: vendor
    name: alpha-systems
  accounts: [jumin-asp]
  roleName: GCVendorAlphaAdmin
  trust:
    principals: [\"arn:aws:iam::444455556666:root\"]
  inlinePolicies:
    Everything:
      Version: \"2012-10-17\"
      Statement:
        - Effect: Allow
          Action: \"*\"
          Resource: \"*\"
  permissionBoundary: arn:aws:iam::aws:policy/PowerUserAccess
  expires: 2026-12-31
  ticket: CHG-2026-0602
";

const OPERATIONS_VENDOR_GRANT: &str = "\
apiVersion: gcops/v1
kind: PermissionGrant
id: alpha-systems-network
spec:
  principal:
    kind: vendor
    name: alpha-systems
  accounts: [ops-shared]
  roleName: GCVendorAlphaNetwork
  trust:
    principals: [\"arn:aws:iam::444455556666:root\"]
  managedPolicies:
    - arn:aws:iam::aws:policy/ReadOnlyAccess
  expires: 2026-12-31
  ticket: CHG-2026-0603
";

const UNKNOWN_ACCOUNT_GRANT: &str = "\
apiVersion: gcops/v1
kind: PermissionGrant
id: audit-readonly
spec:
  principal:
    kind: operator
    name: audit-team
  accounts:
    - zeimu-asp
    - kokuho-asp
  roleName: GCAuditReadOnly
  trust:
    principals: [\"arn:aws:iam::111111111111:root\"]
  expires: 2026-12-31
  ticket: CHG-2026-0604
";

const AUDIT_PATH: &str = "desired-state/permissions/audit.yaml";

#[tokio::test]
async fn valid_grant_gets_success() {
    let s = Setup::new().await;
    let (number, sha) = s.open_pull("add-audit-role", &[(AUDIT_PATH, Some(AUDIT_GRANT))]);

    let outcomes = s.plan(Lang::Ja).await;

    assert!(matches!(result_of(&outcomes, number), PlanResult::Planned { state: CommitState::Success, changes: 1, .. }));
    let comment = s.plan_comment(number);
    assert!(comment.contains("| zeimu-asp (`333333333333`) | 追加 | PermissionGrant | `audit-readonly` |"), "{comment}");
    assert!(!comment.contains("jumin-asp"), "no other account changes: {comment}");
    let (state, description) = s.status(&sha).expect("a gcops/plan status on the head commit");
    assert_eq!(state, "success");
    assert_eq!(description, "検証OK: 1 アカウントで 1 件の変更");
}

#[tokio::test]
async fn english_comment_with_lang_en() {
    let s = Setup::new().await;
    let (number, sha) = s.open_pull("add-audit-role", &[(AUDIT_PATH, Some(AUDIT_GRANT))]);

    s.plan(Lang::En).await;

    let comment = s.plan_comment(number);
    assert!(comment.contains("| zeimu-asp (`333333333333`) | gains | PermissionGrant | `audit-readonly` |"), "{comment}");
    assert_eq!(s.status(&sha).unwrap().1, "valid: 1 change(s) in 1 account(s)");
}

#[tokio::test]
async fn yaml_syntax_error_gets_failure() {
    let s = Setup::new().await;
    let broken = AUDIT_GRANT.replace("  accounts: [zeimu-asp]", "  accounts: [zeimu-asp\n  roleName: [");
    let (number, sha) = s.open_pull("broken-yaml", &[(AUDIT_PATH, Some(&broken))]);

    let outcomes = s.plan(Lang::En).await;

    assert!(matches!(result_of(&outcomes, number), PlanResult::Planned { state: CommitState::Failure, .. }));
    let comment = s.plan_comment(number);
    assert!(comment.contains(&format!("`{AUDIT_PATH}:")), "{comment}");
    assert!(comment.contains("[yaml-syntax]"), "{comment}");
    let (state, description) = s.status(&sha).unwrap();
    assert_eq!(state, "failure");
    assert!(description.contains(AUDIT_PATH), "{description}");
    assert!(description.contains("[yaml-syntax]"), "{description}");
}

#[tokio::test]
async fn vendor_wildcard_gets_failure() {
    let s = Setup::new().await;
    let path = "desired-state/permissions/alpha-admin.yaml";
    let (number, sha) = s.open_pull("alpha-admin", &[(path, Some(WILDCARD_GRANT))]);

    s.plan(Lang::En).await;

    let comment = s.plan_comment(number);
    let line = line_of(WILDCARD_GRANT, "- Effect: Allow");
    assert!(comment.contains(&format!("`{path}:{line}:")), "expected line {line}: {comment}");
    assert!(comment.contains("[vendor-wildcard]"), "{comment}");
    let (state, description) = s.status(&sha).unwrap();
    assert_eq!(state, "failure");
    assert!(description.contains(&format!("{path}:{line} [vendor-wildcard]")), "{description}");
}

#[tokio::test]
async fn operations_vendor_grant_gets_failure() {
    let s = Setup::new().await;
    let path = "desired-state/permissions/alpha-network.yaml";
    let (number, sha) = s.open_pull("alpha-network", &[(path, Some(OPERATIONS_VENDOR_GRANT))]);

    s.plan(Lang::En).await;

    let comment = s.plan_comment(number);
    let line = line_of(OPERATIONS_VENDOR_GRANT, "accounts: [ops-shared]");
    assert!(comment.contains(&format!("`{path}:{line}:")), "expected line {line}: {comment}");
    assert!(comment.contains("[guardrail-vendor-account]"), "{comment}");
    assert_eq!(s.status(&sha).unwrap().0, "failure");
}

#[tokio::test]
async fn unknown_account_gets_failure() {
    let s = Setup::new().await;
    let (number, sha) = s.open_pull("unknown-account", &[(AUDIT_PATH, Some(UNKNOWN_ACCOUNT_GRANT))]);

    s.plan(Lang::En).await;

    let comment = s.plan_comment(number);
    let line = line_of(UNKNOWN_ACCOUNT_GRANT, "- kokuho-asp");
    assert!(comment.contains(&format!("`{AUDIT_PATH}:{line}:")), "expected line {line}: {comment}");
    assert!(comment.contains("[unknown-account]"), "{comment}");
    assert_eq!(s.status(&sha).unwrap().0, "failure");
}

#[tokio::test]
async fn second_run_keeps_one_comment() {
    let s = Setup::new().await;
    let (number, sha) = s.open_pull("add-audit-role", &[(AUDIT_PATH, Some(AUDIT_GRANT))]);
    let comments_path = format!("/repos/{OWNER}/{REPO}/issues/{number}/comments");

    s.plan(Lang::Ja).await;
    let first = s.plan_comment(number);
    let first_id = s.fake.state().comments[0].id;
    let outcomes = s.plan(Lang::Ja).await;

    assert_eq!(s.plan_comment(number), first);
    assert_eq!(s.fake.state().comments[0].id, first_id);
    assert_eq!(s.fake.count("POST", &comments_path), 1, "the second run must not post a comment");
    assert!(!s.fake.requests().iter().any(|r| r.method == "PATCH"), "an unchanged plan must not edit the comment");
    assert!(matches!(result_of(&outcomes, number), PlanResult::Planned { state: CommitState::Success, .. }));
    let plan_statuses: Vec<_> = s.fake.state().statuses.iter().filter(|st| st.sha == sha).map(|st| st.state.clone()).collect();
    assert!(plan_statuses.iter().all(|st| st == "success"), "{plan_statuses:?}");
}

#[tokio::test]
async fn changed_head_edits_comment_in_place() {
    let s = Setup::new().await;
    let (number, _) = s.open_pull("add-audit-role", &[(AUDIT_PATH, Some(AUDIT_GRANT))]);
    s.plan(Lang::En).await;
    let first_id = s.fake.state().comments[0].id;

    // The author pushes a fix-up that breaks the document.
    let broken = AUDIT_GRANT.replace("  accounts: [zeimu-asp]", "  accounts: [kokuho-asp]");
    let new_sha = commit_on_branch(&s.repo_dir, "add-audit-role", &[(AUDIT_PATH, Some(&broken))]);
    s.fake.push_branch("add-audit-role", &new_sha);
    s.plan(Lang::En).await;

    let comment = s.plan_comment(number);
    assert_eq!(s.fake.state().comments[0].id, first_id);
    assert!(comment.contains("[unknown-account]"), "{comment}");
    assert_eq!(s.status(&new_sha).unwrap().0, "failure");
}

#[tokio::test]
async fn readme_only_pull_is_skipped() {
    let s = Setup::new().await;
    let (number, sha) = s.open_pull("docs", &[("README.md", Some("# Sample City\n\nMore words.\n"))]);

    let outcomes = s.plan(Lang::Ja).await;

    assert!(matches!(result_of(&outcomes, number), PlanResult::Skipped(SkipReason::NoDesiredChanges)));
    assert!(s.comments(number).is_empty());
    assert_eq!(s.status(&sha), None);
}

#[tokio::test]
async fn drift_pull_is_skipped() {
    let s = Setup::new().await;
    let (number, sha) = s.open_pull("gcops/drift/jumin-asp", &[(AUDIT_PATH, Some(WILDCARD_GRANT))]);

    let outcomes = s.plan(Lang::Ja).await;

    assert!(matches!(result_of(&outcomes, number), PlanResult::Skipped(SkipReason::DriftBranch)));
    assert!(s.comments(number).is_empty());
    assert_eq!(s.status(&sha), None);
}

#[tokio::test]
async fn missing_head_gets_error() {
    let s = Setup::new().await;
    let absent = "0123456789012345678901234567890123456789";
    let number = s.fake.add_pull("not-fetched", absent, &[AUDIT_PATH]);

    let outcomes = s.plan(Lang::En).await;

    assert!(matches!(result_of(&outcomes, number), PlanResult::Planned { state: CommitState::Error, .. }));
    let comment = s.plan_comment(number);
    assert!(comment.contains(&format!("refs/pull/{number}/head")), "{comment}");
    let (state, description) = s.status(absent).unwrap();
    assert_eq!(state, "error");
    assert!(description.contains("012345678901"), "{description}");
}

#[tokio::test]
async fn failing_pull_does_not_stop_others() {
    let s = Setup::new().await;
    let (bad, _) = s.open_pull("unknown-account", &[(AUDIT_PATH, Some(UNKNOWN_ACCOUNT_GRANT))]);
    let missing = s.fake.add_pull("not-fetched", "0123456789012345678901234567890123456789", &[AUDIT_PATH]);
    let (good, good_sha) = s.open_pull("add-audit-role", &[(AUDIT_PATH, Some(AUDIT_GRANT))]);

    let outcomes = s.plan(Lang::En).await;

    assert!(matches!(result_of(&outcomes, bad), PlanResult::Planned { state: CommitState::Failure, .. }));
    assert!(matches!(result_of(&outcomes, missing), PlanResult::Planned { state: CommitState::Error, .. }));
    assert!(matches!(result_of(&outcomes, good), PlanResult::Planned { state: CommitState::Success, .. }));
    assert_eq!(s.status(&good_sha).unwrap().0, "success");
}

#[tokio::test]
async fn live_state_adds_apply_section() {
    let s = Setup::new().await;
    let (number, sha) = s.open_pull("add-audit-role", &[(AUDIT_PATH, Some(AUDIT_GRANT))]);
    // No account was read, so every desired resource is unknown, not missing.
    let live = gcops::live::model::LiveState::default();

    plan_pull_requests(&s.repo(), &s.forge, "main", Some(&live), Lang::En, today()).await.unwrap();

    let comment = s.plan_comment(number);
    assert!(comment.contains("What applying would change"), "{comment}");
    assert!(comment.contains("unknown because the read failed"), "{comment}");
    assert!(!comment.contains("already match"), "nothing was read, so no match may be claimed: {comment}");
    let description = s.status(&sha).unwrap().1;
    assert!(description.contains("0 difference(s) from live"), "{description}");
    assert!(description.contains(" unknown"), "{description}");
}

#[tokio::test]
async fn local_forge_plans_pull() {
    let tmp = tempfile::tempdir().unwrap();
    let repo_dir = example_repo(tmp.path());
    let sha = commit_on_branch(&repo_dir, "add-audit-role", &[(AUDIT_PATH, Some(AUDIT_GRANT))]);
    let docs_sha = commit_on_branch(&repo_dir, "docs", &[("README.md", Some("# Sample City\n\nMore.\n"))]);
    let forge = LocalForge::new(&repo_dir).unwrap();
    let pull = |branch: &str, head: &str| PullContent {
        branch: branch.to_string(),
        base: "main".to_string(),
        title: format!("Change {branch}"),
        body: String::new(),
        head_commit: head.to_string(),
    };
    let number = forge.open(&pull("add-audit-role", &sha)).await.unwrap().number;
    let docs = forge.open(&pull("docs", &docs_sha)).await.unwrap().number;
    let repo = Repo::open(&repo_dir.display().to_string(), &Options::new(tmp.path().join("cache"))).unwrap();
    let record_ref = |n: u64| git2::Repository::open(&repo_dir).unwrap().refname_to_id(&format!("refs/gcops/pulls/{n}")).unwrap();

    let outcomes = plan_pull_requests(&repo, &forge, "main", None, Lang::Ja, today()).await.unwrap();
    let after_first = record_ref(number);
    plan_pull_requests(&repo, &forge, "main", None, Lang::Ja, today()).await.unwrap();

    assert!(matches!(result_of(&outcomes, number), PlanResult::Planned { state: CommitState::Success, .. }));
    assert!(matches!(result_of(&outcomes, docs), PlanResult::Skipped(SkipReason::NoDesiredChanges)));
    let record = forge.record(number).unwrap().unwrap();
    assert_eq!(record.comments.len(), 1);
    assert!(record.comments[0].body.contains("| zeimu-asp (`333333333333`) | 追加 |"), "{}", record.comments[0].body);
    let statuses: Vec<(&str, CommitState)> = record.statuses.iter().map(|st| (st.context.as_str(), st.state)).collect();
    assert_eq!(statuses, [(PLAN_STATUS_CONTEXT, CommitState::Success)]);
    assert_eq!(record.statuses[0].commit, sha);
    assert_eq!(record_ref(number), after_first, "an unchanged plan must not rewrite the record");
    assert!(forge.record(docs).unwrap().unwrap().comments.is_empty());
}

#[tokio::test]
async fn local_changed_files_since_merge_base() {
    let tmp = tempfile::tempdir().unwrap();
    let repo_dir = example_repo(tmp.path());
    let head = commit_on_branch(&repo_dir, "docs", &[("README.md", Some("# Sample City\n\nMore.\n"))]);
    // `main` moves on with a desired-state change after the branch was cut.
    let moved = commit_on_branch(&repo_dir, "next", &[(AUDIT_PATH, Some(AUDIT_GRANT))]);
    let git = git2::Repository::open(&repo_dir).unwrap();
    git.reference("refs/heads/main", git2::Oid::from_str(&moved).unwrap(), true, "advance main").unwrap();
    let forge = LocalForge::new(&repo_dir).unwrap();
    let content = PullContent {
        branch: "docs".to_string(),
        base: "main".to_string(),
        title: "Docs".to_string(),
        body: String::new(),
        head_commit: head,
    };
    let number = forge.open(&content).await.unwrap().number;

    assert_eq!(forge.changed_files(number).await.unwrap(), ["README.md"]);
}

#[tokio::test]
async fn local_status_without_pull_fails() {
    let tmp = tempfile::tempdir().unwrap();
    let repo_dir = example_repo(tmp.path());
    let forge = LocalForge::new(&repo_dir).unwrap();

    let result =
        forge.set_status("0123456789012345678901234567890123456789", PLAN_STATUS_CONTEXT, CommitState::Success, "ok").await;

    assert!(matches!(result, Err(gcops::forge::Error::UnknownCommit { .. })), "{result:?}");
}

/// A valid vendor grant for zeimu-asp; each case below breaks one guardrail.
const GUARDED_GRANT: &str = "\
apiVersion: gcops/v1
kind: PermissionGrant
id: beta-soft-extra
spec:
  principal:
    kind: vendor
    name: beta-soft
  accounts: [zeimu-asp]
  roleName: GCVendorBetaExtra
  trust:
    principals: [\"arn:aws:iam::555566667777:role/BetaSoftOperations\"]
  managedPolicies:
    - arn:aws:iam::aws:policy/ReadOnlyAccess
  inlinePolicies:
    Logs:
      Version: \"2012-10-17\"
      Statement:
        - Effect: Allow
          Action: logs:GetLogEvents
          Resource: \"*\"
  permissionBoundary: arn:aws:iam::aws:policy/PowerUserAccess
  expires: 2026-12-31
  ticket: CHG-2026-0700
";

#[tokio::test]
async fn each_guardrail_fails_the_status() {
    let cases: &[(&str, &str, &str, &str)] = &[
        ("vendor-account", "accounts: [zeimu-asp]", "accounts: [jumin-asp]", "guardrail-vendor-account"),
        ("denied-action", "Action: logs:GetLogEvents", "Action: iam:CreateUser", "guardrail-denied-action"),
        ("assume-role-any", "Action: logs:GetLogEvents", "Action: sts:AssumeRole", "guardrail-assume-role-any"),
        (
            "boundary-required",
            "  permissionBoundary: arn:aws:iam::aws:policy/PowerUserAccess\n",
            "",
            "guardrail-boundary-required",
        ),
        // The example allows 48 months; 2031 is beyond that from the test date.
        ("expiry-too-far", "expires: 2026-12-31", "expires: 2031-12-31", "guardrail-expiry-too-far"),
        ("trust-wildcard", "[\"arn:aws:iam::555566667777:role/BetaSoftOperations\"]", "[\"*\"]", "guardrail-trust-wildcard"),
        (
            "denied-managed-policy",
            "arn:aws:iam::aws:policy/ReadOnlyAccess",
            "arn:aws:iam::aws:policy/AdministratorAccess",
            "guardrail-denied-managed-policy",
        ),
    ];
    let s = Setup::new().await;
    let path = "desired-state/permissions/beta-extra.yaml";

    let (valid, valid_sha) = s.open_pull("guard-valid", &[(path, Some(GUARDED_GRANT))]);
    let mut opened = Vec::new();
    for (name, from, to, _) in cases {
        assert!(GUARDED_GRANT.contains(from), "{name}: fixture must contain {from:?}");
        let text = GUARDED_GRANT.replace(from, to);
        opened.push(s.open_pull(&format!("guard-{name}"), &[(path, Some(text.as_str()))]));
    }

    s.plan(Lang::En).await;

    assert_eq!(s.status(&valid_sha).unwrap().0, "success", "the valid grant passes: {}", s.plan_comment(valid));
    for ((name, _, _, rule), (number, sha)) in cases.iter().zip(&opened) {
        let comment = s.plan_comment(*number);
        assert!(comment.contains(&format!("[{rule}]")), "{name}: comment names the rule:\n{comment}");
        assert!(comment.contains(&format!("`{path}:")), "{name}: comment names the file and line:\n{comment}");
        assert_eq!(s.status(sha).unwrap().0, "failure", "{name}: status");
    }
}

#[tokio::test]
async fn invalid_pull_gets_line_review() {
    let s = Setup::new().await;
    let path = "desired-state/permissions/alpha-admin.yaml";
    let (number, sha) = s.open_pull("alpha-admin", &[(path, Some(WILDCARD_GRANT))]);

    let outcomes = s.plan(Lang::En).await;

    assert!(matches!(result_of(&outcomes, number), PlanResult::Planned { state: CommitState::Failure, .. }));
    let reviews = s.reviews(number);
    assert_eq!(reviews.len(), 1, "{reviews:#?}");
    let review = &reviews[0];
    assert_eq!(review.event, "COMMENT");
    assert_eq!(review.commit_id, sha);
    assert!(review.body.contains(&annotation_marker(&sha)), "{}", review.body);
    assert!(review.body.contains("1 validation errors"), "{}", review.body);
    assert_eq!(review.comments.len(), 1, "{review:#?}");
    let comment = &review.comments[0];
    assert_eq!(comment.path, path);
    assert_eq!(comment.line, line_of(WILDCARD_GRANT, "- Effect: Allow") as u64);
    assert_eq!(comment.side, "RIGHT");
    assert!(comment.body.starts_with("[vendor-wildcard] "), "{}", comment.body);
    assert_eq!(s.status(&sha).unwrap().0, "failure", "the status is still set");
    assert!(s.plan_comment(number).contains("[vendor-wildcard]"), "the plan comment still lists the error");
}

#[tokio::test]
async fn review_uses_plan_language() {
    let s = Setup::new().await;
    let (number, _) = s.open_pull("unknown-account", &[(AUDIT_PATH, Some(UNKNOWN_ACCOUNT_GRANT))]);

    s.plan(Lang::Ja).await;

    let reviews = s.reviews(number);
    assert_eq!(reviews.len(), 1, "{reviews:#?}");
    assert!(reviews[0].body.contains("検証エラーが"), "{}", reviews[0].body);
    let comment = reviews[0].comments.iter().find(|c| c.body.contains("[unknown-account]")).expect("an unknown-account comment");
    assert_eq!(comment.line, line_of(UNKNOWN_ACCOUNT_GRANT, "- kokuho-asp") as u64);
    assert!(comment.body.starts_with("[unknown-account] "), "{}", comment.body);
    assert!(!comment.body.is_ascii(), "the message is Japanese: {}", comment.body);
}

#[tokio::test]
async fn second_run_posts_no_review() {
    let s = Setup::new().await;
    let (number, _) = s.open_pull("unknown-account", &[(AUDIT_PATH, Some(UNKNOWN_ACCOUNT_GRANT))]);
    let reviews_path = format!("/repos/{OWNER}/{REPO}/pulls/{number}/reviews");

    s.plan(Lang::En).await;
    s.plan(Lang::En).await;

    assert_eq!(s.reviews(number).len(), 1);
    assert_eq!(s.fake.count("POST", &reviews_path), 1, "the second run must not post a review");
}

#[tokio::test]
async fn new_head_posts_new_review() {
    let s = Setup::new().await;
    let (number, first_sha) = s.open_pull("unknown-account", &[(AUDIT_PATH, Some(UNKNOWN_ACCOUNT_GRANT))]);
    s.plan(Lang::En).await;

    // The author pushes a commit that is still invalid, with another error.
    let still_broken = WILDCARD_GRANT.replace("id: alpha-systems-admin", "id: audit-readonly");
    let new_sha = commit_on_branch(&s.repo_dir, "unknown-account", &[(AUDIT_PATH, Some(&still_broken))]);
    s.fake.push_branch("unknown-account", &new_sha);
    s.plan(Lang::En).await;

    let reviews = s.reviews(number);
    assert_eq!(reviews.len(), 2, "{reviews:#?}");
    assert_eq!(reviews[0].commit_id, first_sha);
    assert_eq!(reviews[1].commit_id, new_sha);
    assert!(reviews[1].body.contains(&annotation_marker(&new_sha)), "{}", reviews[1].body);
    assert!(reviews[1].comments.iter().any(|c| c.body.starts_with("[vendor-wildcard]")), "{:#?}", reviews[1].comments);
}

#[tokio::test]
async fn unchanged_file_error_gets_body_review() {
    let s = Setup::new().await;
    let environment = std::fs::read_to_string(s.repo_dir.join("desired-state/environment.yaml")).unwrap();
    assert!(environment.contains("name: zeimu-asp"), "fixture must contain the account name");
    // Renaming the account breaks references in files the pull request does
    // not change, so GitHub cannot place a comment on their lines.
    let renamed = environment.replace("name: zeimu-asp", "name: zeimu-tax");
    let (number, sha) = s.open_pull("rename-account", &[("desired-state/environment.yaml", Some(&renamed))]);

    let outcomes = s.plan(Lang::En).await;

    assert!(matches!(result_of(&outcomes, number), PlanResult::Planned { state: CommitState::Failure, .. }));
    let reviews_path = format!("/repos/{OWNER}/{REPO}/pulls/{number}/reviews");
    assert_eq!(s.fake.count("POST", &reviews_path), 2, "one rejected review with lines, one with the body only");
    let reviews = s.reviews(number);
    assert_eq!(reviews.len(), 1, "{reviews:#?}");
    assert!(reviews[0].comments.is_empty(), "{:#?}", reviews[0].comments);
    assert!(reviews[0].body.contains(&annotation_marker(&sha)), "{}", reviews[0].body);
    assert!(reviews[0].body.contains("`desired-state/permissions/beta-soft.yaml:9` [unknown-account]"), "{}", reviews[0].body);
}

#[tokio::test]
async fn valid_pull_gets_no_review() {
    let s = Setup::new().await;
    let (number, _) = s.open_pull("add-audit-role", &[(AUDIT_PATH, Some(AUDIT_GRANT))]);
    let reviews_path = format!("/repos/{OWNER}/{REPO}/pulls/{number}/reviews");

    s.plan(Lang::En).await;

    assert!(s.reviews(number).is_empty());
    assert_eq!(s.fake.count("GET", &reviews_path), 0, "a valid head must not even list reviews");
}

#[tokio::test]
async fn lost_review_response_not_reposted() {
    let s = Setup::new().await;
    let sha = "0123456789012345678901234567890123456789";
    let number = s.fake.add_pull("lost-response", sha, &[AUDIT_PATH]);
    let annotation = Annotation { path: AUDIT_PATH.to_string(), line: 3, message: "[unknown-account] x".to_string() };
    // GitHub stores the review, but the response is lost.
    s.fake.apply_then_fail_next_method("POST", 1);

    s.forge.annotate(number, sha, "summary", &[annotation]).await.expect("the lookup finds the stored review");

    assert_eq!(s.reviews(number).len(), 1);
    let reviews_path = format!("/repos/{OWNER}/{REPO}/pulls/{number}/reviews");
    assert_eq!(s.fake.count("POST", &reviews_path), 1, "the review must not be sent again");
}

#[tokio::test]
async fn local_forge_ignores_annotations() {
    let tmp = tempfile::tempdir().unwrap();
    let repo_dir = example_repo(tmp.path());
    let sha = commit_on_branch(&repo_dir, "unknown-account", &[(AUDIT_PATH, Some(UNKNOWN_ACCOUNT_GRANT))]);
    let forge = LocalForge::new(&repo_dir).unwrap();
    let content = PullContent {
        branch: "unknown-account".to_string(),
        base: "main".to_string(),
        title: "Unknown account".to_string(),
        body: String::new(),
        head_commit: sha,
    };
    let number = forge.open(&content).await.unwrap().number;
    let repo = Repo::open(&repo_dir.display().to_string(), &Options::new(tmp.path().join("cache"))).unwrap();

    let outcomes = plan_pull_requests(&repo, &forge, "main", None, Lang::En, today()).await.unwrap();

    assert!(matches!(result_of(&outcomes, number), PlanResult::Planned { state: CommitState::Failure, .. }));
    assert_eq!(forge.record(number).unwrap().unwrap().comments.len(), 1, "only the plan comment");
}
