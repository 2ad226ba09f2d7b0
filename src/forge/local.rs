//! [`LocalForge`]: pull requests kept inside a plain git repository, for
//! demos and tests without a GitHub server.
//!
//! Each pull request is one JSON blob that the ref `refs/gcops/pulls/<number>`
//! points at, so `git cat-file -p refs/gcops/pulls/1` prints it. Records are
//! rewritten only when their content changes, so an identical update writes
//! nothing. Comments and the commit statuses of the head commit live in the
//! same record.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use git2::{Oid, Repository};
use serde::{Deserialize, Serialize};

use super::{CommitState, Error, Forge, PullContent, PullRequest, PullState, ReviewForge};

/// Ref namespace of the pull request records.
const PULLS_PREFIX: &str = "refs/gcops/pulls/";

/// One comment on a pull request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comment {
    pub at: DateTime<Utc>,
    pub body: String,
    /// Time of the last edit by [`ReviewForge::upsert_comment`]; `None` when
    /// the comment was never edited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edited_at: Option<DateTime<Utc>>,
}

/// One commit status, as [`ReviewForge::set_status`] stored it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusRecord {
    pub commit: String,
    /// Status name, e.g. `gcops/plan`. A commit keeps one status per context.
    pub context: String,
    pub state: CommitState,
    pub description: String,
    pub at: DateTime<Utc>,
}

/// Stored form of a pull request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PullRecord {
    pub number: u64,
    pub branch: String,
    pub base: String,
    pub title: String,
    pub body: String,
    /// `open` or `closed`; `merged` is never stored but derived from the
    /// base branch when the record is read.
    pub state: PullState,
    pub head_commit: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Comments in the order they were added. A comment's id is its
    /// 1-based position in this list, because comments are never removed.
    #[serde(default)]
    pub comments: Vec<Comment>,
    /// Commit statuses set on this pull request's head commits, one per
    /// commit and context.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub statuses: Vec<StatusRecord>,
}

/// A forge that stores pull requests as refs in a local git repository.
pub struct LocalForge {
    /// Repository path, shown in errors.
    path: PathBuf,
    /// git2 repositories are not `Sync`; the lock also serialises number
    /// allocation within this process.
    repo: Mutex<Repository>,
}

impl LocalForge {
    /// Opens the repository at `repo_path` (bare or not) as a forge.
    pub fn new(repo_path: impl AsRef<Path>) -> Result<LocalForge, Error> {
        let path = repo_path.as_ref().to_path_buf();
        let repo = Repository::open(&path).map_err(|source| Error::LocalStore {
            repo: path.display().to_string(),
            action: "open repository".to_string(),
            source,
        })?;
        Ok(LocalForge { path, repo: Mutex::new(repo) })
    }

    /// Reads the stored record of pull request `number`, with comments.
    pub fn record(&self, number: u64) -> Result<Option<PullRecord>, Error> {
        let repo = self.lock();
        self.read_record(&repo, number)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Repository> {
        // A panic while holding the lock leaves no partial write behind
        // (refs are replaced whole), so a poisoned lock is still usable.
        self.repo.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn store_error(&self, action: impl Into<String>, source: git2::Error) -> Error {
        Error::LocalStore { repo: self.path.display().to_string(), action: action.into(), source }
    }

    fn numbers(&self, repo: &Repository) -> Result<Vec<u64>, Error> {
        let references =
            repo.references_glob(&format!("{PULLS_PREFIX}*")).map_err(|source| self.store_error("list pull requests", source))?;
        let mut numbers = Vec::new();
        for reference in references {
            let reference = reference.map_err(|source| self.store_error("list pull requests", source))?;
            let number =
                reference.name().ok().and_then(|name| name.strip_prefix(PULLS_PREFIX)).and_then(|n| n.parse::<u64>().ok());
            numbers.extend(number);
        }
        numbers.sort_unstable();
        Ok(numbers)
    }

    fn read_record(&self, repo: &Repository, number: u64) -> Result<Option<PullRecord>, Error> {
        let reference = format!("{PULLS_PREFIX}{number}");
        let blob = match repo.find_reference(&reference) {
            Ok(r) => r.peel_to_blob().map_err(|source| self.store_error(format!("read {reference}"), source))?,
            Err(e) if e.code() == git2::ErrorCode::NotFound => return Ok(None),
            Err(source) => return Err(self.store_error(format!("read {reference}"), source)),
        };
        let record = serde_json::from_slice(blob.content()).map_err(|source| Error::BadRecord {
            repo: self.path.display().to_string(),
            reference,
            source,
        })?;
        Ok(Some(record))
    }

    /// Writes `record` to its ref. `create` makes the write fail when the
    /// number is already taken, which guards allocation against other writers.
    fn write_record(&self, repo: &Repository, record: &PullRecord, create: bool) -> Result<(), Error> {
        let reference = format!("{PULLS_PREFIX}{}", record.number);
        let json = serde_json::to_vec_pretty(record).expect("a pull request record always serialises to JSON");
        let blob = repo.blob(&json).map_err(|source| self.store_error(format!("write {reference}"), source))?;
        repo.reference(&reference, blob, !create, "gcops: pull request")
            .map_err(|source| self.store_error(format!("write {reference}"), source))?;
        tracing::debug!(repo = %self.path.display(), reference, "wrote pull request record");
        Ok(())
    }

    fn existing(&self, repo: &Repository, number: u64) -> Result<PullRecord, Error> {
        self.read_record(repo, number)?.ok_or(Error::NotFound { forge: "local", number })
    }

    /// Public view of a record, with `Merged` when the head commit is
    /// already contained in the base branch.
    fn to_pull(&self, repo: &Repository, record: PullRecord) -> PullRequest {
        let merged = record.state == PullState::Open && is_merged(repo, &record.base, &record.head_commit);
        PullRequest {
            number: record.number,
            branch: record.branch,
            base: record.base,
            title: record.title,
            body: record.body,
            state: if merged { PullState::Merged } else { record.state },
            head_commit: record.head_commit,
        }
    }
}

/// Checks whether `head` is the tip of `base` or one of its ancestors.
fn is_merged(repo: &Repository, base: &str, head: &str) -> bool {
    let Ok(head) = Oid::from_str(head) else {
        return false;
    };
    let Ok(base_tip) = repo.find_reference(&format!("refs/heads/{base}")).and_then(|r| r.peel_to_commit()) else {
        return false;
    };
    base_tip.id() == head || repo.graph_descendant_of(base_tip.id(), head).unwrap_or(false)
}

#[async_trait::async_trait]
impl Forge for LocalForge {
    fn name(&self) -> &'static str {
        "local"
    }

    async fn find_by_branch(&self, branch: &str) -> Result<Option<PullRequest>, Error> {
        let repo = self.lock();
        for number in self.numbers(&repo)?.into_iter().rev() {
            if let Some(record) = self.read_record(&repo, number)?
                && record.branch == branch
            {
                return Ok(Some(self.to_pull(&repo, record)));
            }
        }
        Ok(None)
    }

    async fn open(&self, content: &PullContent) -> Result<PullRequest, Error> {
        let repo = self.lock();
        let number = self.numbers(&repo)?.last().map_or(1, |n| n + 1);
        let now = Utc::now();
        let record = PullRecord {
            number,
            branch: content.branch.clone(),
            base: content.base.clone(),
            title: content.title.clone(),
            body: content.body.clone(),
            state: PullState::Open,
            head_commit: content.head_commit.clone(),
            created_at: now,
            updated_at: now,
            comments: Vec::new(),
            statuses: Vec::new(),
        };
        self.write_record(&repo, &record, true)?;
        tracing::info!(repo = %self.path.display(), number, branch = %content.branch, "opened pull request");
        Ok(self.to_pull(&repo, record))
    }

    async fn update(&self, number: u64, content: &PullContent) -> Result<PullRequest, Error> {
        let repo = self.lock();
        let mut record = self.existing(&repo, number)?;
        if record.state != PullState::Open {
            return Err(Error::NotOpen { forge: "local", number });
        }
        let unchanged = record.branch == content.branch
            && record.base == content.base
            && record.title == content.title
            && record.body == content.body
            && record.head_commit == content.head_commit;
        if !unchanged {
            record.branch = content.branch.clone();
            record.base = content.base.clone();
            record.title = content.title.clone();
            record.body = content.body.clone();
            record.head_commit = content.head_commit.clone();
            record.updated_at = Utc::now();
            self.write_record(&repo, &record, false)?;
            tracing::info!(repo = %self.path.display(), number, "updated pull request");
        }
        Ok(self.to_pull(&repo, record))
    }

    async fn close(&self, number: u64, comment: &str) -> Result<(), Error> {
        let repo = self.lock();
        let mut record = self.existing(&repo, number)?;
        if record.state == PullState::Closed {
            return Ok(());
        }
        let now = Utc::now();
        record.comments.push(Comment { at: now, body: comment.to_string(), edited_at: None });
        record.state = PullState::Closed;
        record.updated_at = now;
        self.write_record(&repo, &record, false)?;
        tracing::info!(repo = %self.path.display(), number, "closed pull request");
        Ok(())
    }

    async fn comment(&self, number: u64, body: &str) -> Result<(), Error> {
        let repo = self.lock();
        let mut record = self.existing(&repo, number)?;
        let now = Utc::now();
        record.comments.push(Comment { at: now, body: body.to_string(), edited_at: None });
        record.updated_at = now;
        self.write_record(&repo, &record, false)
    }
}

#[async_trait::async_trait]
impl ReviewForge for LocalForge {
    async fn upsert_comment(&self, number: u64, marker: &str, body: &str) -> Result<u64, Error> {
        let body = if body.contains(marker) { body.to_string() } else { format!("{marker}\n{body}") };
        let repo = self.lock();
        let mut record = self.existing(&repo, number)?;
        let now = Utc::now();
        let id = match record.comments.iter().position(|c| c.body.contains(marker)) {
            Some(index) if record.comments[index].body == body => return Ok(index as u64 + 1),
            Some(index) => {
                let comment = &mut record.comments[index];
                comment.body = body;
                comment.edited_at = Some(now);
                index as u64 + 1
            }
            None => {
                record.comments.push(Comment { at: now, body, edited_at: None });
                record.comments.len() as u64
            }
        };
        record.updated_at = now;
        self.write_record(&repo, &record, false)?;
        tracing::info!(repo = %self.path.display(), number, comment = id, "wrote marked comment");
        Ok(id)
    }

    /// Stores the status in every pull request whose head is `commit`.
    /// Fails with [`Error::UnknownCommit`] when there is none, because the
    /// status would have nowhere to be stored.
    async fn set_status(&self, commit: &str, context: &str, state: CommitState, description: &str) -> Result<(), Error> {
        let repo = self.lock();
        let mut found = false;
        for number in self.numbers(&repo)? {
            let Some(mut record) = self.read_record(&repo, number)? else {
                continue;
            };
            if record.head_commit != commit {
                continue;
            }
            found = true;
            let existing = record.statuses.iter().position(|s| s.commit == commit && s.context == context);
            if let Some(index) = existing {
                let status = &record.statuses[index];
                if status.state == state && status.description == description {
                    continue;
                }
                record.statuses.remove(index);
            }
            let now = Utc::now();
            record.statuses.push(StatusRecord {
                commit: commit.to_string(),
                context: context.to_string(),
                state,
                description: description.to_string(),
                at: now,
            });
            record.updated_at = now;
            self.write_record(&repo, &record, false)?;
            tracing::info!(repo = %self.path.display(), number, commit, context, state = state.as_str(), "set commit status");
        }
        if !found {
            return Err(Error::UnknownCommit { repo: self.path.display().to_string(), commit: commit.to_string() });
        }
        Ok(())
    }

    async fn list_open_pulls(&self) -> Result<Vec<PullRequest>, Error> {
        let repo = self.lock();
        let mut pulls = Vec::new();
        for number in self.numbers(&repo)? {
            if let Some(record) = self.read_record(&repo, number)? {
                let pull = self.to_pull(&repo, record);
                if pull.state == PullState::Open {
                    pulls.push(pull);
                }
            }
        }
        Ok(pulls)
    }

    /// Paths that differ between the head commit and its merge base with
    /// the base branch, as GitHub lists them. Without a common ancestor the
    /// base tip is compared, and without a base branch the empty tree.
    async fn changed_files(&self, number: u64) -> Result<Vec<String>, Error> {
        let repo = self.lock();
        let record = self.existing(&repo, number)?;
        let action = format!("list changed files of pull request #{number}");
        let wrap = |source| self.store_error(action.clone(), source);

        let head = Oid::from_str(&record.head_commit).and_then(|id| repo.find_commit(id)).map_err(wrap)?;
        let base_tip = match repo.find_reference(&format!("refs/heads/{}", record.base)) {
            Ok(reference) => Some(reference.peel_to_commit().map_err(wrap)?.id()),
            Err(e) if e.code() == git2::ErrorCode::NotFound => None,
            Err(source) => return Err(wrap(source)),
        };
        let base_commit = match base_tip {
            Some(tip) => {
                let since = repo.merge_base(tip, head.id()).unwrap_or(tip);
                Some(repo.find_commit(since).map_err(wrap)?)
            }
            None => None,
        };
        let base_tree = base_commit.map(|c| c.tree()).transpose().map_err(wrap)?;
        let head_tree = head.tree().map_err(wrap)?;
        let diff = repo.diff_tree_to_tree(base_tree.as_ref(), Some(&head_tree), None).map_err(wrap)?;

        let mut paths: Vec<String> = Vec::new();
        for delta in diff.deltas() {
            for file in [delta.old_file(), delta.new_file()] {
                if let Some(path) = file.path().and_then(|p| p.to_str())
                    && !paths.iter().any(|known| known == path)
                {
                    paths.push(path.to_string());
                }
            }
        }
        Ok(paths)
    }
}
