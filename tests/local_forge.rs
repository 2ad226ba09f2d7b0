//! The local forge on a real git repository in a temporary folder.

mod support;

use std::path::Path;

use support::repo::git;

use gcops::forge::{Forge, LocalForge, PullContent, PullState};

/// A repository with one commit on `main` and one on `gcops/drift/a`;
/// returns the folder and the drift branch's tip.
fn repository() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path();
    git(path, &["init", "-q"]);
    std::fs::write(path.join("a.yaml"), "a: 1\n").unwrap();
    git(path, &["add", "-A"]);
    git(path, &["commit", "-q", "-m", "initial"]);
    git(path, &["checkout", "-q", "-b", "gcops/drift/a"]);
    std::fs::write(path.join("a.yaml"), "a: 2\n").unwrap();
    git(path, &["commit", "-q", "-am", "drift"]);
    let head = git(path, &["rev-parse", "HEAD"]);
    git(path, &["checkout", "-q", "main"]);
    (dir, head)
}

fn content(head: &str, body: &str) -> PullContent {
    PullContent {
        branch: "gcops/drift/a".to_string(),
        base: "main".to_string(),
        title: "[gcops] drift: a (1)".to_string(),
        body: body.to_string(),
        head_commit: head.to_string(),
    }
}

fn pull_ref(dir: &Path, number: u64) -> String {
    git(dir, &["rev-parse", &format!("refs/gcops/pulls/{number}")])
}

#[tokio::test]
async fn open_then_find_by_branch() {
    let (dir, head) = repository();
    let forge = LocalForge::new(dir.path()).unwrap();
    assert_eq!(forge.find_by_branch("gcops/drift/a").await.unwrap(), None);

    let opened = forge.open(&content(&head, "body")).await.unwrap();
    let found = forge.find_by_branch("gcops/drift/a").await.unwrap().unwrap();

    assert_eq!(opened.number, 1);
    assert_eq!(found, opened);
    assert_eq!(found.state, PullState::Open);
    let stored = git(dir.path(), &["cat-file", "-p", "refs/gcops/pulls/1"]);
    assert!(stored.contains("\"branch\": \"gcops/drift/a\""), "{stored}");
    assert_eq!(forge.find_by_branch("gcops/drift/other").await.unwrap(), None);
}

#[tokio::test]
async fn open_allocates_next_number() {
    let (dir, head) = repository();
    let forge = LocalForge::new(dir.path()).unwrap();
    forge.open(&content(&head, "one")).await.unwrap();
    forge.close(1, "gone").await.unwrap();

    let second = forge.open(&content(&head, "two")).await.unwrap();
    let newest = forge.find_by_branch("gcops/drift/a").await.unwrap().unwrap();

    assert_eq!(second.number, 2);
    assert_eq!(newest.number, 2);
    assert_eq!(newest.body, "two");
}

#[tokio::test]
async fn update_in_place() {
    let (dir, head) = repository();
    let forge = LocalForge::new(dir.path()).unwrap();
    forge.open(&content(&head, "old")).await.unwrap();

    let updated = forge.update(1, &content(&head, "new")).await.unwrap();

    assert_eq!(updated.number, 1);
    assert_eq!(updated.body, "new");
    let numbers = git(dir.path(), &["for-each-ref", "--format=%(refname)", "refs/gcops/pulls/"]);
    assert_eq!(numbers, "refs/gcops/pulls/1");
    assert_eq!(forge.find_by_branch("gcops/drift/a").await.unwrap().unwrap().body, "new");
}

#[tokio::test]
async fn update_identical_is_noop() {
    let (dir, head) = repository();
    let forge = LocalForge::new(dir.path()).unwrap();
    forge.open(&content(&head, "same")).await.unwrap();
    let before = pull_ref(dir.path(), 1);

    forge.update(1, &content(&head, "same")).await.unwrap();

    assert_eq!(pull_ref(dir.path(), 1), before);
}

#[tokio::test]
async fn update_missing_pull() {
    let (dir, head) = repository();
    let forge = LocalForge::new(dir.path()).unwrap();
    let error = forge.update(7, &content(&head, "x")).await.unwrap_err();
    assert!(error.to_string().contains("#7"), "{error}");
}

#[tokio::test]
async fn close_with_comment() {
    let (dir, head) = repository();
    let forge = LocalForge::new(dir.path()).unwrap();
    forge.open(&content(&head, "body")).await.unwrap();
    forge.comment(1, "first note").await.unwrap();

    forge.close(1, "drift is gone").await.unwrap();
    let after_close = pull_ref(dir.path(), 1);
    forge.close(1, "drift is gone").await.unwrap();

    let record = forge.record(1).unwrap().unwrap();
    let bodies: Vec<&str> = record.comments.iter().map(|c| c.body.as_str()).collect();
    assert_eq!(bodies, ["first note", "drift is gone"]);
    assert_eq!(record.state, PullState::Closed);
    assert_eq!(forge.find_by_branch("gcops/drift/a").await.unwrap().unwrap().state, PullState::Closed);
    assert_eq!(pull_ref(dir.path(), 1), after_close);
    assert!(forge.update(1, &content(&head, "reopen?")).await.is_err());
}

#[tokio::test]
async fn merged_when_head_in_base() {
    let (dir, head) = repository();
    let forge = LocalForge::new(dir.path()).unwrap();
    forge.open(&content(&head, "body")).await.unwrap();
    assert_eq!(forge.find_by_branch("gcops/drift/a").await.unwrap().unwrap().state, PullState::Open);

    git(dir.path(), &["merge", "-q", "--no-ff", "-m", "merge drift", "gcops/drift/a"]);

    let found = forge.find_by_branch("gcops/drift/a").await.unwrap().unwrap();
    assert_eq!(found.state, PullState::Merged);
}
