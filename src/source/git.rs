//! [`Repo`]: one git repository, local or a cached bare clone of a remote.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use git2::{CredentialType, Direction, FetchOptions, FetchPrune, Oid, PushOptions, RemoteCallbacks, Repository};

use super::{Auth, BRANCH_TRAILER, Error, Identity, Options};

/// Name of the remote inside a cache clone.
const ORIGIN: &str = "origin";

/// A git repository holding desired state.
pub struct Repo {
    repo: Repository,
    /// Local path, or the remote URL without its password; used in errors and logs.
    display: String,
    /// Set when the repository is a cache clone of a remote.
    remote: Option<RemoteSpec>,
    options: Options,
}

/// Location and credentials of the remote behind a cache clone.
struct RemoteSpec {
    /// URL as the operator gave it; may contain a password, so never shown.
    url: String,
    /// HTTPS token read from the environment when the repository was opened.
    token: Option<String>,
}

impl std::fmt::Debug for Repo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Repo").field("repo", &self.display).field("remote", &self.remote.is_some()).finish()
    }
}

impl Repo {
    /// Opens `spec`: a local path to an existing repository (bare or not), or
    /// a remote URL (`https://`, `http://`, `ssh://`, `git@host:path`,
    /// `file://`) that is cloned into `<cache_dir>/<sanitised-url>` on first
    /// use and fetched on every later open.
    pub fn open(spec: &str, options: &Options) -> Result<Repo, Error> {
        if is_remote_url(spec) {
            Self::open_remote(spec, options)
        } else {
            let repo = Repository::open(spec).map_err(|source| Error::Open { repo: spec.to_string(), source })?;
            Ok(Repo { repo, display: spec.to_string(), remote: None, options: options.clone() })
        }
    }

    fn open_remote(url: &str, options: &Options) -> Result<Repo, Error> {
        let display = redact_url(url);
        let token = read_token(url, &display, &options.auth)?;
        let path = options.cache_dir.join(sanitise(&display));

        let repo = if path.join("HEAD").exists() {
            Repository::open_bare(&path).map_err(|source| Error::Open { repo: path.display().to_string(), source })?
        } else {
            std::fs::create_dir_all(&path).map_err(|source| Error::Cache {
                repo: display.clone(),
                path: path.clone(),
                source,
            })?;
            Repository::init_bare(&path).map_err(|source| Error::Open { repo: path.display().to_string(), source })?
        };
        let mut this = Repo { repo, display, remote: Some(RemoteSpec { url: url.to_string(), token }), options: options.clone() };
        this.set_origin(url)?;
        this.fetch()?;
        Ok(this)
    }

    /// Local path, or the remote URL without its password.
    pub fn display_name(&self) -> &str {
        &self.display
    }

    /// Returns whether this is a cache clone of a remote.
    pub fn is_remote(&self) -> bool {
        self.remote.is_some()
    }

    fn set_origin(&mut self, url: &str) -> Result<(), Error> {
        let result = match self.repo.find_remote(ORIGIN) {
            Ok(existing) if existing.url().ok() == Some(url) => Ok(()),
            Ok(_) => self.repo.remote_set_url(ORIGIN, url),
            Err(_) => self.repo.remote(ORIGIN, url).map(|_| ()),
        };
        result.map_err(|source| self.git_error("configure remote", source))
    }

    /// Fetches every branch of the remote into `refs/remotes/origin/*` and
    /// records the remote's default branch. Does nothing for a local repository.
    pub fn fetch(&self) -> Result<(), Error> {
        let Some(spec) = &self.remote else {
            return Ok(());
        };
        let fetch_error = |source| Error::Fetch { repo: self.display.clone(), source: self.scrub(source) };
        let mut remote = self.repo.find_remote(ORIGIN).map_err(fetch_error)?;

        let default_branch = {
            let connection = remote.connect_auth(Direction::Fetch, Some(self.callbacks()), None).map_err(fetch_error)?;
            connection.default_branch().ok().and_then(|b| b.as_str().ok().map(str::to_string))
        };

        let mut fetch_options = FetchOptions::new();
        fetch_options.remote_callbacks(self.callbacks());
        fetch_options.prune(FetchPrune::On);
        remote
            // Pull request heads (GitHub's refs/pull/<n>/head) come along so
            // that pull requests from other branches and forks can be planned.
            .fetch(
                &["+refs/heads/*:refs/remotes/origin/*", "+refs/pull/*/head:refs/remotes/origin/pull/*/head"],
                Some(&mut fetch_options),
                None,
            )
            .map_err(fetch_error)?;

        if let Some(head) = default_branch.as_deref().and_then(|b| b.strip_prefix("refs/heads/")) {
            let target = format!("refs/remotes/{ORIGIN}/{head}");
            self.repo
                .reference_symbolic(&format!("refs/remotes/{ORIGIN}/HEAD"), &target, true, "gcops: default branch")
                .map_err(|source| self.git_error("record default branch", source))?;
        }
        tracing::info!(repo = %self.display, url_has_token = spec.token.is_some(), "fetched remote");
        Ok(())
    }

    /// Tip commit of `branch`; for a remote, as of the last fetch.
    pub fn head_commit(&self, branch: &str) -> Result<Oid, Error> {
        self.branch_tip(branch)?.ok_or_else(|| Error::BranchNotFound { repo: self.display.clone(), branch: branch.to_string() })
    }

    /// Tip commit of `name`, or `None` when the branch does not exist.
    pub fn branch_tip(&self, name: &str) -> Result<Option<Oid>, Error> {
        match self.repo.find_reference(&self.branch_ref(name)) {
            Ok(reference) => {
                let commit =
                    reference.peel_to_commit().map_err(|source| self.git_error(&format!("resolve branch {name}"), source))?;
                Ok(Some(commit.id()))
            }
            Err(e) if e.code() == git2::ErrorCode::NotFound => Ok(None),
            Err(e) if e.code() == git2::ErrorCode::InvalidSpec => Ok(None),
            Err(source) => Err(self.git_error(&format!("find branch {name}"), source)),
        }
    }

    /// Reads every blob under one of `prefixes` from the tree of `commit`,
    /// keyed by repository-relative path. The work tree is never read, so
    /// uncommitted edits in a checkout do not leak in. An empty `prefixes`
    /// reads the whole tree.
    pub fn read_files(&self, commit: Oid, prefixes: &[&str]) -> Result<BTreeMap<String, Vec<u8>>, Error> {
        let operation = format!("read tree of commit {commit}");
        let tree = self.repo.find_commit(commit).and_then(|c| c.tree()).map_err(|source| self.git_error(&operation, source))?;

        let mut blobs: Vec<(String, Oid)> = Vec::new();
        tree.walk(git2::TreeWalkMode::PreOrder, |root, entry| {
            if entry.kind() == Some(git2::ObjectType::Blob) {
                let path = format!("{root}{}", String::from_utf8_lossy(entry.name_bytes()));
                if prefixes.is_empty() || prefixes.iter().any(|p| path.starts_with(p)) {
                    blobs.push((path, entry.id()));
                }
            }
            git2::TreeWalkResult::Ok
        })
        .map_err(|source| self.git_error(&operation, source))?;

        let mut files = BTreeMap::new();
        for (path, id) in blobs {
            let blob = self.repo.find_blob(id).map_err(|source| self.git_error(&operation, source))?;
            files.insert(path, blob.content().to_vec());
        }
        Ok(files)
    }

    /// Writes a commit on top of `parent` that applies `changes` (path to new
    /// content, `None` deletes the file) and returns its id. No ref moves;
    /// call [`Repo::write_branch`] for that. The committer is the configured
    /// gcops identity, the author `author` or that identity, and the message
    /// ends with a `Gcops-Branch: <branch>` trailer that marks the branch as
    /// gcops' own.
    pub fn commit_files(
        &self,
        parent: Oid,
        branch: &str,
        changes: &BTreeMap<String, Option<Vec<u8>>>,
        message: &str,
        author: Option<&Identity>,
    ) -> Result<Oid, Error> {
        let operation = format!("commit for branch {branch}");
        let wrap = |source| self.git_error(&operation, source);

        let parent_commit = self.repo.find_commit(parent).map_err(wrap)?;
        let base_tree = parent_commit.tree().map_err(wrap)?;
        let mut update = git2::build::TreeUpdateBuilder::new();
        for (path, content) in changes {
            match content {
                Some(bytes) => {
                    let blob = self.repo.blob(bytes).map_err(wrap)?;
                    update.upsert(path.as_str(), blob, git2::FileMode::Blob);
                }
                // Removing an absent path is an error in libgit2, and a no-op here.
                None if base_tree.get_path(Path::new(path)).is_ok() => {
                    update.remove(path.as_str());
                }
                None => {}
            }
        }
        let tree_id = update.create_updated(&self.repo, &base_tree).map_err(wrap)?;
        let tree = self.repo.find_tree(tree_id).map_err(wrap)?;

        let committer = signature(&self.options.identity).map_err(wrap)?;
        let author = match author {
            Some(identity) => signature(identity).map_err(wrap)?,
            None => committer.clone(),
        };
        let message = format!("{}\n\n{BRANCH_TRAILER}: {branch}\n", message.trim_end());
        self.repo.commit(None, &author, &committer, &message, &tree, &[&parent_commit]).map_err(wrap)
    }

    /// Moves branch `name` to `new` if it is still at `expected_old` (`None`:
    /// the branch must not exist yet). A local repository gets a
    /// compare-and-swap ref update. A remote is fetched, compared, then
    /// pushed. The push is forced only when the branch is gcops' own, because
    /// that is the only case where it may move at all.
    ///
    /// NOTE: for a remote the compare and the push are two steps, so a push
    /// by someone else in between is caught only by the non-forced push of a
    /// new branch, not when rewriting gcops' own branch.
    pub fn write_branch(&self, name: &str, new: Oid, expected_old: Option<Oid>) -> Result<(), Error> {
        if !git2::Reference::is_valid_name(&format!("refs/heads/{name}")) {
            return Err(Error::BranchNotFound { repo: self.display.clone(), branch: name.to_string() });
        }
        if self.default_branch()?.as_deref() == Some(name) {
            return Err(Error::DefaultBranch { repo: self.display.clone(), branch: name.to_string() });
        }

        self.fetch()?;
        let current = self.branch_tip(name)?;
        if current != expected_old {
            return Err(Error::Stale {
                repo: self.display.clone(),
                branch: name.to_string(),
                expected: describe(expected_old),
                actual: describe(current),
            });
        }
        if let Some(tip) = current {
            if !self.is_owned(tip, name)? {
                return Err(Error::NotOwned { repo: self.display.clone(), branch: name.to_string() });
            }
            if tip == new {
                return Ok(());
            }
        }

        match &self.remote {
            None => self.write_local_ref(name, new, expected_old),
            Some(_) => self.push(name, new, current.is_some()),
        }
    }

    fn write_local_ref(&self, name: &str, new: Oid, expected_old: Option<Oid>) -> Result<(), Error> {
        let refname = format!("refs/heads/{name}");
        let log = format!("gcops: write branch {name}");
        let result = match expected_old {
            Some(old) => self.repo.reference_matching(&refname, new, true, old, &log),
            None => self.repo.reference(&refname, new, false, &log),
        };
        match result {
            Ok(_) => {
                tracing::info!(repo = %self.display, branch = name, commit = %new, "moved branch");
                Ok(())
            }
            Err(e) if matches!(e.code(), git2::ErrorCode::Modified | git2::ErrorCode::Exists) => Err(Error::Stale {
                repo: self.display.clone(),
                branch: name.to_string(),
                expected: describe(expected_old),
                actual: describe(self.branch_tip(name)?),
            }),
            Err(source) => Err(self.git_error(&format!("write branch {name}"), source)),
        }
    }

    fn push(&self, name: &str, new: Oid, force: bool) -> Result<(), Error> {
        let push_error =
            |source| Error::Push { repo: self.display.clone(), branch: name.to_string(), source: self.scrub(source) };
        // The cache clone has no branches of its own, so its refs/heads/ is a
        // staging area for what gets pushed.
        let refname = format!("refs/heads/{name}");
        self.repo.reference(&refname, new, true, "gcops: stage push").map_err(push_error)?;

        let rejection = std::cell::RefCell::new(None::<String>);
        let mut callbacks = self.callbacks();
        callbacks.push_update_reference(|_reference, status| {
            if let Some(status) = status {
                *rejection.borrow_mut() = Some(status.to_string());
            }
            Ok(())
        });
        let mut push_options = PushOptions::new();
        push_options.remote_callbacks(callbacks);

        let refspec = format!("{}{refname}:{refname}", if force { "+" } else { "" });
        let mut remote = self.repo.find_remote(ORIGIN).map_err(push_error)?;
        remote.push(&[refspec.as_str()], Some(&mut push_options)).map_err(push_error)?;
        drop(push_options);

        if let Some(status) = rejection.into_inner() {
            return Err(Error::PushRejected { repo: self.display.clone(), branch: name.to_string(), status });
        }
        self.repo
            .reference(&format!("refs/remotes/{ORIGIN}/{name}"), new, true, "gcops: pushed")
            .map_err(|source| self.git_error(&format!("record pushed branch {name}"), source))?;
        tracing::info!(repo = %self.display, branch = name, commit = %new, forced = force, "pushed branch");
        Ok(())
    }

    /// Branch name that HEAD points at (local) or that the remote reports as
    /// its default (remote), without the `refs/heads/` prefix.
    pub fn default_branch(&self) -> Result<Option<String>, Error> {
        let (head, prefix) = match self.remote {
            None => ("HEAD".to_string(), "refs/heads/".to_string()),
            Some(_) => (format!("refs/remotes/{ORIGIN}/HEAD"), format!("refs/remotes/{ORIGIN}/")),
        };
        match self.repo.find_reference(&head) {
            Ok(reference) => {
                Ok(reference.symbolic_target().ok().flatten().and_then(|t| t.strip_prefix(prefix.as_str())).map(str::to_string))
            }
            Err(e) if e.code() == git2::ErrorCode::NotFound => Ok(None),
            Err(source) => Err(self.git_error("read default branch", source)),
        }
    }

    /// Checks whether `tip` was committed by the gcops identity for branch `name`.
    pub fn is_owned(&self, tip: Oid, name: &str) -> Result<bool, Error> {
        let commit =
            self.repo.find_commit(tip).map_err(|source| self.git_error(&format!("read tip of branch {name}"), source))?;
        let committer = commit.committer();
        let identity = &self.options.identity;
        if committer.name().ok() != Some(identity.name.as_str()) || committer.email().ok() != Some(identity.email.as_str()) {
            return Ok(false);
        }
        let message = commit.message().unwrap_or_default();
        let trailers = match git2::message_trailers_strs(message) {
            Ok(trailers) => trailers,
            Err(_) => return Ok(false),
        };
        let owned = trailers.iter().any(|(key, value)| key == BRANCH_TRAILER && value == name);
        Ok(owned)
    }

    /// Returns the underlying git2 repository, for reading objects this type does not wrap.
    pub fn git(&self) -> &Repository {
        &self.repo
    }

    fn branch_ref(&self, name: &str) -> String {
        match self.remote {
            None => format!("refs/heads/{name}"),
            Some(_) => format!("refs/remotes/{ORIGIN}/{name}"),
        }
    }

    fn callbacks(&self) -> RemoteCallbacks<'static> {
        let token = self.remote.as_ref().and_then(|r| r.token.clone());
        let auth = self.options.auth.clone();
        let mut attempts = 0;
        let mut callbacks = RemoteCallbacks::new();
        callbacks.credentials(move |_url, username_from_url, allowed| {
            // libgit2 calls again after every rejected credential; stop
            // instead of looping forever on a wrong token or key.
            attempts += 1;
            if attempts > 3 {
                return Err(git2::Error::from_str("credentials rejected by the remote"));
            }
            if allowed.contains(CredentialType::SSH_KEY)
                && let Some(key) = &auth.ssh_key
            {
                return git2::Cred::ssh_key(username_from_url.unwrap_or("git"), None, key, None);
            }
            if allowed.contains(CredentialType::USER_PASS_PLAINTEXT)
                && let Some(token) = &token
            {
                let user = auth.username.as_deref().unwrap_or("x-access-token");
                return git2::Cred::userpass_plaintext(user, token);
            }
            git2::Cred::default()
        });
        callbacks
    }

    /// Removes the token and any password in the URL from a git2 message,
    /// since libgit2 may quote the URL it failed on.
    fn scrub(&self, error: git2::Error) -> git2::Error {
        let Some(spec) = &self.remote else {
            return error;
        };
        let mut message = error.message().replace(&spec.url, &self.display);
        if let Some(token) = spec.token.as_deref().filter(|t| !t.is_empty()) {
            message = message.replace(token, "***");
        }
        if let Some(password) = url::Url::parse(&spec.url).ok().and_then(|u| u.password().map(str::to_string)) {
            message = message.replace(&password, "***");
        }
        git2::Error::new(error.code(), error.class(), message)
    }

    fn git_error(&self, operation: &str, source: git2::Error) -> Error {
        Error::Git { repo: self.display.clone(), operation: operation.to_string(), source: self.scrub(source) }
    }
}

fn signature(identity: &Identity) -> Result<git2::Signature<'static>, git2::Error> {
    git2::Signature::now(&identity.name, &identity.email)
}

fn describe(oid: Option<Oid>) -> String {
    oid.map_or_else(|| "no commit (absent)".to_string(), |o| o.to_string())
}

/// Checks whether `spec` names a remote rather than a local path: a URL with a
/// scheme, or the scp-like `user@host:path` form of SSH.
fn is_remote_url(spec: &str) -> bool {
    if spec.contains("://") {
        return true;
    }
    match (spec.find('@'), spec.find(':'), spec.find('/')) {
        (Some(at), Some(colon), slash) => at < colon && slash.is_none_or(|s| colon < s),
        _ => false,
    }
}

/// `url` without its password, for errors, logs and the cache folder name.
pub(super) fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(None);
            parsed.to_string()
        }
        _ => url.to_string(),
    }
}

/// Cache folder name for a URL: every character outside `[A-Za-z0-9.-]` becomes `_`.
fn sanitise(url: &str) -> PathBuf {
    let name: String = url.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '_' }).collect();
    PathBuf::from(name)
}

/// Reads the HTTPS token named in `auth` for an `http(s)://` URL.
fn read_token(url: &str, display: &str, auth: &Auth) -> Result<Option<String>, Error> {
    let is_http = url.starts_with("https://") || url.starts_with("http://");
    match (&auth.token_env, is_http) {
        (Some(var), true) => match std::env::var(var) {
            Ok(token) if !token.is_empty() => Ok(Some(token)),
            _ => Err(Error::MissingToken { repo: display.to_string(), var: var.clone() }),
        },
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_url_forms() {
        assert!(is_remote_url("https://example.org/a.git"));
        assert!(is_remote_url("file:///tmp/a.git"));
        assert!(is_remote_url("git@example.org:org/repo.git"));
        assert!(!is_remote_url("/tmp/repo"));
        assert!(!is_remote_url("./repo@x/y:z"));
    }

    #[test]
    fn redact_removes_password() {
        assert_eq!(redact_url("https://u:secret@example.org/r.git"), "https://u@example.org/r.git");
        assert_eq!(redact_url("file:///tmp/r.git"), "file:///tmp/r.git");
    }

    #[test]
    fn sanitise_cache_name() {
        assert_eq!(sanitise("https://example.org/a/b.git"), PathBuf::from("https___example.org_a_b.git"));
    }
}
