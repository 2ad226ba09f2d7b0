//! The git source against real repositories in temporary folders: a bare
//! "remote" plus clones made with the git command line, reached by file:// URLs.

mod support;

use std::collections::BTreeMap;
use std::path::Path;

use support::repo::git;

use gcops::source::{Auth, Error, Options, Repo};

fn write(dir: &Path, path: &str, text: &str) {
    let full = dir.join(path);
    std::fs::create_dir_all(full.parent().unwrap()).unwrap();
    std::fs::write(full, text).unwrap();
}

fn commit_all(dir: &Path, message: &str) -> String {
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", message]);
    git(dir, &["rev-parse", "HEAD"])
}

/// A bare remote with one commit on `main`, and a work clone of it.
struct Fixture {
    root: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        let root = tempfile::tempdir().unwrap();
        git(root.path(), &["init", "-q", "--bare", "remote.git"]);
        git(root.path(), &["clone", "-q", "remote.git", "work"]);
        let fixture = Fixture { root };
        write(&fixture.work(), "desired-state/environment.yaml", "kind: Environment\n");
        write(&fixture.work(), "templates/base/1.0/template.yaml", "Resources: {}\n");
        write(&fixture.work(), "README.md", "sample\n");
        commit_all(&fixture.work(), "initial");
        git(&fixture.work(), &["push", "-q", "origin", "main"]);
        fixture
    }

    fn work(&self) -> std::path::PathBuf {
        self.root.path().join("work")
    }

    fn remote_path(&self) -> std::path::PathBuf {
        self.root.path().join("remote.git")
    }

    fn url(&self) -> String {
        format!("file://{}", self.remote_path().display())
    }

    fn options(&self) -> Options {
        Options::new(self.root.path().join("cache"))
    }

    fn remote_tip(&self, branch: &str) -> String {
        git(&self.remote_path(), &["rev-parse", &format!("refs/heads/{branch}")])
    }
}

fn change(path: &str, text: &str) -> BTreeMap<String, Option<Vec<u8>>> {
    BTreeMap::from([(path.to_string(), Some(text.as_bytes().to_vec()))])
}

#[test]
fn read_files_ignores_dirty_worktree() {
    let fixture = Fixture::new();
    write(&fixture.work(), "desired-state/environment.yaml", "kind: Edited\n");
    write(&fixture.work(), "desired-state/untracked.yaml", "x: 1\n");

    let repo = Repo::open(fixture.work().to_str().unwrap(), &fixture.options()).unwrap();
    let head = repo.head_commit("main").unwrap();
    let files = repo.read_files(head, &["desired-state/", "templates/"]).unwrap();

    let names: Vec<&str> = files.keys().map(String::as_str).collect();
    assert_eq!(names, ["desired-state/environment.yaml", "templates/base/1.0/template.yaml"]);
    assert_eq!(files["desired-state/environment.yaml"], b"kind: Environment\n");
}

#[test]
fn read_files_empty_prefixes_reads_all() {
    let fixture = Fixture::new();
    let repo = Repo::open(fixture.remote_path().to_str().unwrap(), &fixture.options()).unwrap();
    let files = repo.read_files(repo.head_commit("main").unwrap(), &[]).unwrap();
    assert_eq!(files.len(), 3);
}

#[test]
fn remote_fetch_sees_new_commit() {
    let fixture = Fixture::new();
    let first = Repo::open(&fixture.url(), &fixture.options()).unwrap();
    assert!(first.is_remote());
    assert_eq!(first.head_commit("main").unwrap().to_string(), fixture.remote_tip("main"));

    write(&fixture.work(), "desired-state/environment.yaml", "kind: Environment\nid: new\n");
    let pushed = commit_all(&fixture.work(), "second");
    git(&fixture.work(), &["push", "-q", "origin", "main"]);

    let reopened = Repo::open(&fixture.url(), &fixture.options()).unwrap();
    assert_eq!(reopened.head_commit("main").unwrap().to_string(), pushed);
    first.fetch().unwrap();
    assert_eq!(first.head_commit("main").unwrap().to_string(), pushed);
    assert_eq!(first.default_branch().unwrap().as_deref(), Some("main"));
}

#[test]
fn remote_write_branch_creates_branch() {
    let fixture = Fixture::new();
    let repo = Repo::open(&fixture.url(), &fixture.options()).unwrap();
    let main = repo.head_commit("main").unwrap();
    let branch = "gcops/drift/jumin-asp";

    let commit = repo
        .commit_files(main, branch, &change("desired-state/environment.yaml", "adopted\n"), "Adopt live state", None)
        .unwrap();
    repo.write_branch(branch, commit, None).unwrap();

    assert_eq!(fixture.remote_tip(branch), commit.to_string());
    let message = git(&fixture.remote_path(), &["log", "-1", "--format=%B", branch]);
    assert!(message.ends_with("Gcops-Branch: gcops/drift/jumin-asp"), "{message}");
    let committer = git(&fixture.remote_path(), &["log", "-1", "--format=%cn <%ce>", branch]);
    assert_eq!(committer, "gcops <gcops@localhost>");
    let text = git(&fixture.remote_path(), &["show", &format!("{branch}:desired-state/environment.yaml")]);
    assert_eq!(text, "adopted");
    let untouched = git(&fixture.remote_path(), &["show", &format!("{branch}:README.md")]);
    assert_eq!(untouched, "sample");
}

#[test]
fn remote_write_branch_rewrites_own_branch() {
    let fixture = Fixture::new();
    let repo = Repo::open(&fixture.url(), &fixture.options()).unwrap();
    let main = repo.head_commit("main").unwrap();
    let branch = "gcops/drift/a";
    let first = repo.commit_files(main, branch, &change("a.yaml", "1\n"), "first", None).unwrap();
    repo.write_branch(branch, first, None).unwrap();

    // A sibling of the first commit, so the push is not a fast-forward.
    let second = repo.commit_files(main, branch, &change("a.yaml", "2\n"), "second", None).unwrap();
    repo.write_branch(branch, second, Some(first)).unwrap();

    assert_eq!(fixture.remote_tip(branch), second.to_string());
}

#[test]
fn commit_files_deletes_file() {
    let fixture = Fixture::new();
    let repo = Repo::open(fixture.work().to_str().unwrap(), &fixture.options()).unwrap();
    let main = repo.head_commit("main").unwrap();
    let changes = BTreeMap::from([("README.md".to_string(), None), ("absent.txt".to_string(), None)]);
    let commit = repo.commit_files(main, "gcops/x", &changes, "delete", None).unwrap();

    let files = repo.read_files(commit, &[]).unwrap();
    assert!(!files.contains_key("README.md"));
    assert_eq!(files.len(), 2);
}

#[test]
fn local_write_branch_creates_branch() {
    let fixture = Fixture::new();
    let repo = Repo::open(fixture.work().to_str().unwrap(), &fixture.options()).unwrap();
    let main = repo.head_commit("main").unwrap();
    let commit = repo.commit_files(main, "gcops/drift/b", &change("b.yaml", "b\n"), "b", None).unwrap();

    repo.write_branch("gcops/drift/b", commit, None).unwrap();

    assert_eq!(git(&fixture.work(), &["rev-parse", "gcops/drift/b"]), commit.to_string());
    assert_eq!(repo.branch_tip("gcops/drift/b").unwrap(), Some(commit));
    assert_eq!(repo.branch_tip("gcops/drift/none").unwrap(), None);
}

#[test]
fn local_write_branch_stale_expected() {
    let fixture = Fixture::new();
    let repo = Repo::open(fixture.work().to_str().unwrap(), &fixture.options()).unwrap();
    let main = repo.head_commit("main").unwrap();
    let branch = "gcops/drift/c";
    let first = repo.commit_files(main, branch, &change("c.yaml", "1\n"), "first", None).unwrap();
    repo.write_branch(branch, first, None).unwrap();
    let second = repo.commit_files(first, branch, &change("c.yaml", "2\n"), "second", None).unwrap();

    let stale_old = repo.write_branch(branch, second, Some(main)).unwrap_err();
    assert!(matches!(stale_old, Error::Stale { .. }), "{stale_old:?}");
    let stale_absent = repo.write_branch(branch, second, None).unwrap_err();
    assert!(matches!(stale_absent, Error::Stale { .. }), "{stale_absent:?}");
    assert_eq!(repo.branch_tip(branch).unwrap(), Some(first));
}

#[test]
fn remote_write_branch_stale_expected() {
    let fixture = Fixture::new();
    let repo = Repo::open(&fixture.url(), &fixture.options()).unwrap();
    let main = repo.head_commit("main").unwrap();
    let branch = "gcops/drift/d";
    let first = repo.commit_files(main, branch, &change("d.yaml", "1\n"), "first", None).unwrap();

    let error = repo.write_branch(branch, first, Some(main)).unwrap_err();

    assert!(matches!(error, Error::Stale { .. }), "{error:?}");
    assert!(error.to_string().contains(branch), "{error}");
}

#[test]
fn write_branch_rejects_foreign_branch() {
    let fixture = Fixture::new();
    git(&fixture.work(), &["checkout", "-q", "-b", "feature"]);
    write(&fixture.work(), "f.yaml", "human\n");
    let human = commit_all(&fixture.work(), "human work");
    git(&fixture.work(), &["push", "-q", "origin", "feature"]);
    git(&fixture.work(), &["checkout", "-q", "main"]);

    let repo = Repo::open(&fixture.url(), &fixture.options()).unwrap();
    let tip = repo.head_commit("feature").unwrap();
    let ours = repo.commit_files(tip, "feature", &change("f.yaml", "gcops\n"), "overwrite", None).unwrap();
    let error = repo.write_branch("feature", ours, Some(tip)).unwrap_err();

    assert!(matches!(error, Error::NotOwned { .. }), "{error:?}");
    assert!(error.to_string().contains("feature"), "{error}");
    assert_eq!(fixture.remote_tip("feature"), human);
}

#[test]
fn write_branch_rejects_trailer_for_other_branch() {
    let fixture = Fixture::new();
    let repo = Repo::open(fixture.work().to_str().unwrap(), &fixture.options()).unwrap();
    let main = repo.head_commit("main").unwrap();
    // A gcops commit whose trailer names another branch, placed on "other" by hand.
    let commit = repo.commit_files(main, "gcops/drift/x", &change("x", "1\n"), "x", None).unwrap();
    git(&fixture.work(), &["branch", "other", &commit.to_string()]);
    let next = repo.commit_files(commit, "other", &change("x", "2\n"), "x", None).unwrap();

    let error = repo.write_branch("other", next, Some(commit)).unwrap_err();
    assert!(matches!(error, Error::NotOwned { .. }), "{error:?}");
}

#[test]
fn write_branch_rejects_default_branch() {
    let fixture = Fixture::new();
    for spec in [fixture.url(), fixture.work().display().to_string()] {
        let repo = Repo::open(&spec, &fixture.options()).unwrap();
        let main = repo.head_commit("main").unwrap();
        let commit = repo.commit_files(main, "main", &change("m", "1\n"), "m", None).unwrap();
        let error = repo.write_branch("main", commit, Some(main)).unwrap_err();
        assert!(matches!(error, Error::DefaultBranch { .. }), "{spec}: {error:?}");
    }
}

#[test]
fn open_missing_remote_names_url() {
    let fixture = Fixture::new();
    let url = format!("file://{}/absent.git", fixture.root.path().display());
    let error = Repo::open(&url, &fixture.options()).unwrap_err();
    assert!(error.to_string().contains(&url), "{error}");
}

#[test]
fn token_absent_from_errors() {
    let fixture = Fixture::new();
    let token = "ghp_secretTokenValue1234567890";
    // SAFETY: no other test reads or writes this variable.
    unsafe { std::env::set_var("GCOPS_TEST_GIT_TOKEN", token) };
    let mut options = fixture.options();
    options.auth = Auth { token_env: Some("GCOPS_TEST_GIT_TOKEN".to_string()), ..Auth::default() };

    // Port 1 on loopback has no listener, so the connection is refused.
    let url = "https://127.0.0.1:1/org/desired.git";
    let error = Repo::open(url, &options).unwrap_err();
    let text = gcops::error_chain(&error);
    assert!(!text.contains(token), "{text}");
    assert!(text.contains(url), "{text}");
    assert!(!format!("{error:?}").contains(token));

    let with_password = format!("https://user:{token}@127.0.0.1:1/org/desired.git");
    let error = Repo::open(&with_password, &options).unwrap_err();
    let text = gcops::error_chain(&error);
    assert!(!text.contains(token), "{text}");
    assert!(text.contains("https://user@127.0.0.1:1/org/desired.git"), "{text}");
}

#[test]
fn token_variable_unset() {
    let fixture = Fixture::new();
    let mut options = fixture.options();
    options.auth.token_env = Some("GCOPS_TEST_UNSET_TOKEN".to_string());
    let error = Repo::open("https://127.0.0.1:1/r.git", &options).unwrap_err();
    assert!(matches!(error, Error::MissingToken { .. }), "{error:?}");
    assert!(error.to_string().contains("GCOPS_TEST_UNSET_TOKEN"));
}
