//! Git repositories holding a copy of the example desired state, for tests
//! that need a managed repository: a work tree, and optionally a bare
//! "remote" it pushes to.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs `git` in `dir` as a person (not the gcops identity), asserts
/// success and returns its trimmed standard output.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=operator", "-c", "user.email=operator@ops.example.jp", "-c", "init.defaultBranch=main"])
        .args(args)
        .output()
        .expect("git command line must be installed");
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Copies folder `from` into `to`, recursively.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Copies the example's `desired-state/` and `templates/` into `dir/name`
/// without making it a repository.
pub fn example_copy(dir: &Path, name: &str) -> PathBuf {
    let target = dir.join(name);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for folder in ["desired-state", "templates"] {
        copy_dir(&root.join(folder), &target.join(folder));
    }
    target
}

/// Creates a repository at `dir/name` with the example committed on `main`.
pub fn example_repo(dir: &Path, name: &str) -> PathBuf {
    let repo = example_copy(dir, name);
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-qm", "Desired state of Sample City"]);
    repo
}

/// A work repository with the example and a bare clone of it as `origin`;
/// returns (work, bare).
pub fn example_with_remote(dir: &Path) -> (PathBuf, PathBuf) {
    let work = example_repo(dir, "work");
    let bare = dir.join("city.git");
    git(dir, &["clone", "-q", "--bare", work.to_str().unwrap(), bare.to_str().unwrap()]);
    git(&work, &["remote", "add", "origin", bare.to_str().unwrap()]);
    (work, bare)
}
