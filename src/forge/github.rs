//! The GitHub forge: pull requests, comments and commit statuses on
//! github.com or a GitHub Enterprise Server, through the REST API (octocrab).
//!
//! Every request goes through [`GithubForge::send`], which waits out rate
//! limits and retries server errors and transport failures with jittered
//! exponential backoff. Requests that create a pull request or a comment
//! are not replayed blindly. After a failure whose outcome is unknown, the
//! forge looks for the object before it tries again, so a GitHub outage
//! delays gcops but does not duplicate pull requests.

use std::fmt;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use octocrab::Octocrab;
use octocrab::service::middleware::retry::RetryConfig;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::{
    Annotation, CommitState, Error as ForgeError, Forge, PullContent, PullRequest, PullState, ReviewForge, annotation_marker,
};

/// API root of github.com. A GitHub Enterprise Server serves its API under
/// `https://HOST/api/v3`.
pub const DEFAULT_API_BASE_URL: &str = "https://api.github.com";

/// Branch prefix of drift pull requests; the rest of the branch name is the
/// account name.
const DRIFT_BRANCH_PREFIX: &str = "gcops/drift/";

/// Labels on every pull request gcops opens, before the configured ones.
const BASE_LABEL: &str = "gcops";
const DRIFT_LABEL: &str = "drift";

/// GitHub caps a page at 100 items.
const PAGE_SIZE: u32 = 100;

/// Pages read before a listing stops. The pull request files endpoint
/// returns at most 3000 files, which is 30 pages.
const MAX_PAGES: u32 = 30;

/// GitHub rejects a commit status description longer than 140 characters.
const MAX_STATUS_DESCRIPTION_CHARS: usize = 140;

/// Wait after a 429 response without rate-limit headers, because GitHub
/// asks clients to wait at least one minute.
const SECONDARY_RATE_LIMIT_WAIT: Duration = Duration::from_secs(60);

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// Characters escaped in a path segment or a query value.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// Repository, credentials and behaviour of the GitHub forge.
#[derive(Clone, Debug, PartialEq)]
pub struct GithubSettings {
    /// API root: [`DEFAULT_API_BASE_URL`], or `https://HOST/api/v3` for a
    /// GitHub Enterprise Server.
    pub api_base_url: String,
    /// Owner (user or organization) of the desired-state repository.
    pub owner: String,
    pub repo: String,
    pub auth: GithubAuth,
    /// Labels added to every pull request gcops opens, after `gcops`.
    pub labels: Vec<String>,
    /// Users asked to review every pull request gcops opens.
    pub reviewers: Vec<String>,
    pub retry: RetrySettings,
}

impl GithubSettings {
    /// Settings for `owner/repo` on github.com with default labels, no
    /// reviewers and default retries.
    pub fn new(owner: impl Into<String>, repo: impl Into<String>, auth: GithubAuth) -> GithubSettings {
        GithubSettings {
            api_base_url: DEFAULT_API_BASE_URL.to_string(),
            owner: owner.into(),
            repo: repo.into(),
            auth,
            labels: Vec::new(),
            reviewers: Vec::new(),
            retry: RetrySettings::default(),
        }
    }
}

/// Authentication method. Settings name where a secret is, never the
/// secret itself.
#[derive(Clone, Debug, PartialEq)]
pub enum GithubAuth {
    /// A personal access token or fine-grained token.
    Token(TokenSource),
    /// A GitHub App installation; octocrab mints and renews installation
    /// tokens from the app's private key.
    App { app_id: u64, private_key_path: PathBuf, installation_id: u64 },
}

/// Location of the token, read once when the forge is built.
#[derive(Clone, Debug, PartialEq)]
pub enum TokenSource {
    /// Name of an environment variable.
    Env(String),
    /// A file whose content is the token; surrounding whitespace is ignored.
    File(PathBuf),
}

/// Retry and rate-limit behaviour of every request.
#[derive(Clone, Debug, PartialEq)]
pub struct RetrySettings {
    /// Attempts per request, including the first, for server errors,
    /// transport failures and rate limits together.
    pub max_attempts: u32,
    /// Backoff before the second attempt; it doubles with each attempt.
    pub base_delay: Duration,
    /// Upper bound of one backoff.
    pub max_delay: Duration,
    /// Upper bound of one wait for a rate-limit reset; a longer reset is
    /// cut to this, and the request retried.
    pub max_rate_limit_wait: Duration,
}

impl Default for RetrySettings {
    fn default() -> RetrySettings {
        RetrySettings {
            max_attempts: 5,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(30),
            max_rate_limit_wait: Duration::from_secs(15 * 60),
        }
    }
}

/// Errors of the GitHub forge. None of them carries the token: the token
/// lives only inside the octocrab client.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A setting is not usable (empty owner, bad URL).
    #[error("github forge: invalid setting {key}: {message}")]
    Setting { key: &'static str, message: String },
    /// The token environment variable is unset or not valid Unicode.
    #[error("github forge: environment variable {name} with the token is not set")]
    TokenEnvMissing { name: String },
    /// The token file could not be read.
    #[error("github forge: cannot read token file {path}")]
    TokenFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The token source holds only whitespace.
    #[error("github forge: token from {origin} is empty")]
    TokenEmpty { origin: String },
    /// The GitHub App private key file could not be read.
    #[error("github forge: cannot read app private key {path}")]
    PrivateKeyFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// octocrab rejected the client settings or the app private key.
    #[error("github forge: cannot build the API client for {api_base_url}")]
    Client {
        api_base_url: String,
        #[source]
        source: Box<octocrab::Error>,
    },
    /// The request got no HTTP response (connection refused, timeout) on
    /// the last attempt.
    #[error("github {repo}: {operation}: request failed after {attempts} attempts")]
    Transport {
        repo: String,
        operation: String,
        attempts: u32,
        #[source]
        source: Box<octocrab::Error>,
    },
    /// GitHub returned a server error on the last attempt.
    #[error("github {repo}: {operation}: server error HTTP {status} after {attempts} attempts")]
    ServerError { repo: String, operation: String, status: u16, attempts: u32 },
    /// The rate limit did not reset within the allowed attempts.
    #[error("github {repo}: {operation}: still rate-limited after {attempts} attempts")]
    RateLimited { repo: String, operation: String, attempts: u32 },
    /// GitHub rejected the request (4xx other than a rate limit).
    #[error("github {repo}: {operation}: HTTP {status}: {message}")]
    Rejected { repo: String, operation: String, status: u16, message: String },
    /// A response body did not have the expected shape.
    #[error("github {repo}: {operation}: unexpected response body")]
    Decode {
        repo: String,
        operation: String,
        #[source]
        source: serde_json::Error,
    },
}

impl Error {
    /// True when the request may succeed if sent again later.
    pub fn is_transient(&self) -> bool {
        matches!(self, Error::Transport { .. } | Error::ServerError { .. } | Error::RateLimited { .. })
    }

    fn status(&self) -> Option<u16> {
        match self {
            Error::Rejected { status, .. } | Error::ServerError { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// HTTP methods the forge uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Method {
    Get,
    Post,
    Patch,
    Delete,
}

/// Whether a request may be sent again after a failure whose outcome is
/// unknown (a server error or a lost connection).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Replay {
    /// Sending it twice has the effect of sending it once.
    Safe,
    /// It may create a duplicate; the caller checks and retries.
    Unsafe,
}

/// Body of a successful (2xx) response.
struct Reply {
    body: String,
}

/// Pull requests, comments and statuses in one GitHub repository.
pub struct GithubForge {
    client: Octocrab,
    settings: GithubSettings,
    /// `owner/repo`, for errors and logs.
    full_name: String,
    /// `/repos/{owner}/{repo}`, percent-encoded.
    repo_path: String,
    /// The personal token, kept only to scrub it from error text a server
    /// sends back (a proxy or a broken server may echo request headers).
    /// `None` for app authentication, whose tokens octocrab mints itself.
    token: Option<String>,
}

impl fmt::Debug for GithubForge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The octocrab client contains the token, so it is left out.
        f.debug_struct("GithubForge").field("settings", &self.settings).finish_non_exhaustive()
    }
}

impl fmt::Display for GithubForge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "github {} at {}", self.full_name, self.settings.api_base_url)
    }
}

impl GithubForge {
    /// Reads the token or private key and builds the API client. Nothing is
    /// sent to GitHub yet. Call it inside a Tokio runtime, because octocrab
    /// starts its connection worker there.
    pub fn new(settings: GithubSettings) -> Result<GithubForge, Error> {
        check_name("owner", &settings.owner)?;
        check_name("repo", &settings.repo)?;
        if settings.retry.max_attempts == 0 {
            return Err(Error::Setting { key: "retry.maxAttempts", message: "must be at least 1".to_string() });
        }
        let base = url::Url::parse(&settings.api_base_url)
            .map_err(|e| Error::Setting { key: "apiBaseUrl", message: format!("{}: {e}", settings.api_base_url) })?;
        if !matches!(base.scheme(), "https" | "http") {
            return Err(Error::Setting {
                key: "apiBaseUrl",
                message: format!("{} must start with https:// or http://", settings.api_base_url),
            });
        }

        let client_error = |source| Error::Client { api_base_url: settings.api_base_url.clone(), source: Box::new(source) };
        // octocrab's own retry layer would replay a POST after a server
        // error and could open a pull request twice; `send` retries instead.
        let builder = Octocrab::builder()
            .base_uri(settings.api_base_url.as_str())
            .map_err(client_error)?
            .add_retry_config(RetryConfig::None)
            .set_connect_timeout(Some(CONNECT_TIMEOUT))
            .set_read_timeout(Some(READ_TIMEOUT));
        let mut token = None;
        let client = match &settings.auth {
            GithubAuth::Token(source) => {
                let secret = read_token(source)?;
                token = Some(secret.clone());
                builder.personal_token(secret).build().map_err(client_error)?
            }
            GithubAuth::App { app_id, private_key_path, installation_id } => {
                let pem = std::fs::read(private_key_path)
                    .map_err(|source| Error::PrivateKeyFile { path: private_key_path.clone(), source })?;
                let app = builder.app_from_rsa_pem((*app_id).into(), pem).map_err(client_error)?.build().map_err(client_error)?;
                app.installation((*installation_id).into()).map_err(client_error)?
            }
        };

        let full_name = format!("{}/{}", settings.owner, settings.repo);
        let repo_path = format!("/repos/{}/{}", encode(&settings.owner), encode(&settings.repo));
        Ok(GithubForge { client, settings, full_name, repo_path, token })
    }

    /// Replaces the token in `text` by `***`.
    fn scrub(&self, text: String) -> String {
        match &self.token {
            Some(token) if !token.is_empty() && text.contains(token.as_str()) => text.replace(token.as_str(), "***"),
            _ => text,
        }
    }

    // ---- requests, retries and rate limits ----

    /// Sends one request, waiting out rate limits and, for [`Replay::Safe`]
    /// requests, retrying server errors and transport failures. An
    /// [`Replay::Unsafe`] request returns its first server error or
    /// transport failure, because it may have taken effect.
    async fn send(
        &self,
        operation: &str,
        method: Method,
        path: &str,
        body: Option<&Value>,
        replay: Replay,
    ) -> Result<Reply, Error> {
        let retry = &self.settings.retry;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let last = attempt >= retry.max_attempts;
            let response = match self.exchange(method, path, body).await {
                Ok(response) => response,
                Err(source) => {
                    let error = Error::Transport {
                        repo: self.full_name.clone(),
                        operation: operation.to_string(),
                        attempts: attempt,
                        source: Box::new(source),
                    };
                    if last || replay == Replay::Unsafe {
                        return Err(error);
                    }
                    let delay = backoff(retry, attempt);
                    tracing::warn!(repo = %self.full_name, operation, attempt, ?delay, error = %error, "github request failed; retrying");
                    tokio::time::sleep(delay).await;
                    continue;
                }
            };

            let (status, rate_limit_wait, body_text) = response;
            if (200..300).contains(&status) {
                return Ok(Reply { body: body_text });
            }
            if let Some(wait) = rate_limit_wait {
                // A rate-limited request was not processed, so even a
                // request that creates something can be sent again.
                if last {
                    return Err(Error::RateLimited {
                        repo: self.full_name.clone(),
                        operation: operation.to_string(),
                        attempts: attempt,
                    });
                }
                let wait = wait.min(retry.max_rate_limit_wait);
                tracing::warn!(repo = %self.full_name, operation, status, attempt, ?wait, "github rate limit reached; waiting");
                tokio::time::sleep(wait).await;
                continue;
            }
            if status >= 500 {
                if last || replay == Replay::Unsafe {
                    return Err(Error::ServerError {
                        repo: self.full_name.clone(),
                        operation: operation.to_string(),
                        status,
                        attempts: attempt,
                    });
                }
                let delay = backoff(retry, attempt);
                tracing::warn!(repo = %self.full_name, operation, status, attempt, ?delay, "github server error; retrying");
                tokio::time::sleep(delay).await;
                continue;
            }
            return Err(Error::Rejected {
                repo: self.full_name.clone(),
                operation: operation.to_string(),
                status,
                message: self.scrub(error_message(&body_text)),
            });
        }
    }

    /// Sends one HTTP request and returns the status, the rate-limit wait
    /// (if the response is a rate limit) and the body text.
    async fn exchange(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Option<Duration>, String), octocrab::Error> {
        // Relative paths: octocrab prefixes the base URL and adds the
        // Authorization header only to requests bound for that base.
        let response = match method {
            Method::Get => self.client._get(path).await?,
            Method::Post => self.client._post(path, body).await?,
            Method::Patch => self.client._patch(path, body).await?,
            Method::Delete => self.client._delete(path, body).await?,
        };
        let status = response.status().as_u16();
        let wait = rate_limit_wait(status, response.headers(), SystemTime::now());
        let text = self.client.body_to_string(response).await?;
        Ok((status, wait, text))
    }

    fn decode<T: DeserializeOwned>(&self, operation: &str, reply: &Reply) -> Result<T, Error> {
        serde_json::from_str(&reply.body).map_err(|source| Error::Decode {
            repo: self.full_name.clone(),
            operation: operation.to_string(),
            source,
        })
    }

    /// Reads every page of a listing (`path` has no query yet).
    async fn list_all<T: DeserializeOwned>(&self, operation: &str, path: &str, query: &str) -> Result<Vec<T>, Error> {
        let mut items = Vec::new();
        for page in 1..=MAX_PAGES {
            let url = format!("{path}?{query}{}per_page={PAGE_SIZE}&page={page}", if query.is_empty() { "" } else { "&" });
            let reply = self.send(operation, Method::Get, &url, None, Replay::Safe).await?;
            let batch: Vec<T> = self.decode(operation, &reply)?;
            let full = batch.len() == PAGE_SIZE as usize;
            items.extend(batch);
            if !full {
                return Ok(items);
            }
        }
        tracing::warn!(repo = %self.full_name, operation, pages = MAX_PAGES, "github listing truncated");
        Ok(items)
    }

    async fn pause_before_retry(&self, operation: &str, attempt: u32, error: &Error) {
        let delay = backoff(&self.settings.retry, attempt);
        tracing::warn!(repo = %self.full_name, operation, attempt, ?delay, error = %error, "github request outcome unknown; checking before retrying");
        tokio::time::sleep(delay).await;
    }

    // ---- pull requests ----

    /// Finds the newest open pull request whose head is `branch`.
    async fn find_open(&self, branch: &str) -> Result<Option<PullRequest>, Error> {
        Ok(self.find_newest(branch).await?.filter(|pull| pull.state == PullState::Open))
    }

    async fn find_newest(&self, branch: &str) -> Result<Option<PullRequest>, Error> {
        let operation = format!("find pull request for branch {branch}");
        let head = format!("{}:{branch}", self.settings.owner);
        let url =
            format!("{}/pulls?state=all&head={}&sort=created&direction=desc&per_page={PAGE_SIZE}", self.repo_path, encode(&head));
        let reply = self.send(&operation, Method::Get, &url, None, Replay::Safe).await?;
        let pulls: Vec<WirePull> = self.decode(&operation, &reply)?;
        // Numbers grow with creation time, so the highest is the newest,
        // whatever order the server used.
        Ok(pulls.into_iter().filter(|p| p.head.git_ref == branch).max_by_key(|p| p.number).map(WirePull::into_pull))
    }

    /// Creates the pull request; after a failure whose outcome is unknown it
    /// looks for an open pull request on the branch before posting again.
    async fn create_pull(&self, content: &PullContent) -> Result<PullRequest, Error> {
        let operation = format!("create pull request for branch {}", content.branch);
        let url = format!("{}/pulls", self.repo_path);
        let body = json!({
            "title": content.title,
            "body": content.body,
            "head": content.branch,
            "base": content.base,
        });
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.send(&operation, Method::Post, &url, Some(&body), Replay::Unsafe).await {
                Ok(reply) => return Ok(self.decode::<WirePull>(&operation, &reply)?.into_pull()),
                // GitHub returns 422 when the branch already has an open
                // pull request, for example one created by an earlier
                // attempt whose response was lost.
                Err(error) if error.status() == Some(422) => {
                    return match self.find_open(&content.branch).await? {
                        Some(pull) => Ok(pull),
                        None => Err(error),
                    };
                }
                Err(error) if error.is_transient() && attempt < self.settings.retry.max_attempts => {
                    self.pause_before_retry(&operation, attempt, &error).await;
                    if let Some(pull) = self.find_open(&content.branch).await? {
                        tracing::info!(repo = %self.full_name, number = pull.number, branch = %content.branch, "pull request was created by the failed attempt");
                        return Ok(pull);
                    }
                }
                Err(error) => return Err(error),
            }
        }
    }

    /// Adds labels; GitHub keeps labels already present, so this is safe to repeat.
    async fn add_labels(&self, number: u64, branch: &str) -> Result<(), Error> {
        let operation = format!("add labels to pull request #{number}");
        let url = format!("{}/issues/{number}/labels", self.repo_path);
        let body = json!({ "labels": labels_for(branch, &self.settings.labels) });
        self.send(&operation, Method::Post, &url, Some(&body), Replay::Safe).await?;
        Ok(())
    }

    async fn request_reviewers(&self, number: u64) -> Result<(), Error> {
        if self.settings.reviewers.is_empty() {
            return Ok(());
        }
        let operation = format!("request reviewers on pull request #{number}");
        let url = format!("{}/pulls/{number}/requested_reviewers", self.repo_path);
        let body = json!({ "reviewers": self.settings.reviewers });
        match self.send(&operation, Method::Post, &url, Some(&body), Replay::Safe).await {
            Ok(_) => Ok(()),
            // 422: a reviewer is the author or not a collaborator. The pull
            // request is still useful without the review request.
            Err(error) if error.status() == Some(422) => {
                tracing::warn!(repo = %self.full_name, number, error = %error, "reviewers not requested");
                Ok(())
            }
            Err(error) => Err(error),
        }
    }

    async fn list_comments(&self, number: u64) -> Result<Vec<WireComment>, Error> {
        let operation = format!("list comments of pull request #{number}");
        let url = format!("{}/issues/{number}/comments", self.repo_path);
        self.list_all(&operation, &url, "").await
    }

    /// Posts a comment; after a failure whose outcome is unknown it checks
    /// whether the newest comment already has this body before posting again.
    async fn post_comment(&self, number: u64, body: &str) -> Result<u64, Error> {
        let operation = format!("comment on pull request #{number}");
        let url = format!("{}/issues/{number}/comments", self.repo_path);
        let payload = json!({ "body": body });
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.send(&operation, Method::Post, &url, Some(&payload), Replay::Unsafe).await {
                Ok(reply) => return Ok(self.decode::<WireComment>(&operation, &reply)?.id),
                Err(error) if error.is_transient() && attempt < self.settings.retry.max_attempts => {
                    self.pause_before_retry(&operation, attempt, &error).await;
                    // NOTE: an identical comment posted by someone else in
                    // the meantime is taken for ours; the cost is one
                    // missing comment, never a duplicate.
                    let comments = self.list_comments(number).await?;
                    if let Some(last) = comments.last().filter(|c| c.body.as_deref() == Some(body)) {
                        return Ok(last.id);
                    }
                }
                Err(error) => return Err(error),
            }
        }
    }

    async fn edit_comment(&self, id: u64, body: &str) -> Result<(), Error> {
        let operation = format!("edit comment {id}");
        let url = format!("{}/issues/comments/{id}", self.repo_path);
        self.send(&operation, Method::Patch, &url, Some(&json!({ "body": body })), Replay::Safe).await?;
        Ok(())
    }

    async fn delete_comment(&self, id: u64) -> Result<(), Error> {
        let operation = format!("delete comment {id}");
        let url = format!("{}/issues/comments/{id}", self.repo_path);
        match self.send(&operation, Method::Delete, &url, None, Replay::Safe).await {
            // Gone already, for example deleted by an earlier attempt.
            Err(error) if error.status() == Some(404) => Ok(()),
            other => other.map(|_| ()),
        }
    }

    // ---- reviews ----

    async fn list_reviews(&self, number: u64) -> Result<Vec<WireReview>, Error> {
        let operation = format!("list reviews of pull request #{number}");
        let url = format!("{}/pulls/{number}/reviews", self.repo_path);
        self.list_all(&operation, &url, "").await
    }

    /// Submits the review `payload` unless a review whose body contains
    /// `marker` exists. After a failure whose outcome is unknown it lists
    /// the reviews again before sending, so a lost response never posts the
    /// review twice. Returns whether a review was posted.
    async fn create_review_once(&self, number: u64, marker: &str, payload: &Value) -> Result<bool, Error> {
        let operation = format!("create review {marker} on pull request #{number}");
        let url = format!("{}/pulls/{number}/reviews", self.repo_path);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let reviews = self.list_reviews(number).await?;
            if reviews.iter().any(|r| r.body.as_deref().is_some_and(|b| b.contains(marker))) {
                return Ok(false);
            }
            match self.send(&operation, Method::Post, &url, Some(payload), Replay::Unsafe).await {
                Ok(_) => return Ok(true),
                Err(error) if error.is_transient() && attempt < self.settings.retry.max_attempts => {
                    self.pause_before_retry(&operation, attempt, &error).await;
                }
                Err(error) => return Err(error),
            }
        }
    }

    fn not_found(number: u64) -> impl FnOnce(Error) -> ForgeError {
        move |error| match error.status() {
            Some(404) => ForgeError::NotFound { forge: "github", number },
            _ => ForgeError::Github(error),
        }
    }
}

#[async_trait::async_trait]
impl Forge for GithubForge {
    fn name(&self) -> &'static str {
        "github"
    }

    async fn find_by_branch(&self, branch: &str) -> Result<Option<PullRequest>, ForgeError> {
        Ok(self.find_newest(branch).await?)
    }

    async fn open(&self, content: &PullContent) -> Result<PullRequest, ForgeError> {
        let pull = self.create_pull(content).await?;
        self.add_labels(pull.number, &content.branch).await?;
        self.request_reviewers(pull.number).await?;
        tracing::info!(repo = %self.full_name, number = pull.number, branch = %content.branch, "pull request opened");
        Ok(pull)
    }

    async fn update(&self, number: u64, content: &PullContent) -> Result<PullRequest, ForgeError> {
        let operation = format!("update pull request #{number}");
        let url = format!("{}/pulls/{number}", self.repo_path);
        let body = json!({ "title": content.title, "body": content.body });
        let reply =
            self.send(&operation, Method::Patch, &url, Some(&body), Replay::Safe).await.map_err(Self::not_found(number))?;
        let pull = self.decode::<WirePull>(&operation, &reply)?.into_pull();
        // Labels again, because `open` may have failed after creating the
        // pull request and before labelling it.
        self.add_labels(number, &content.branch).await?;
        Ok(pull)
    }

    async fn close(&self, number: u64, comment: &str) -> Result<(), ForgeError> {
        self.post_comment(number, comment).await.map_err(Self::not_found(number))?;
        let operation = format!("close pull request #{number}");
        let url = format!("{}/pulls/{number}", self.repo_path);
        self.send(&operation, Method::Patch, &url, Some(&json!({ "state": "closed" })), Replay::Safe)
            .await
            .map_err(Self::not_found(number))?;
        tracing::info!(repo = %self.full_name, number, "pull request closed");
        Ok(())
    }

    async fn comment(&self, number: u64, body: &str) -> Result<(), ForgeError> {
        self.post_comment(number, body).await.map_err(Self::not_found(number))?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl ReviewForge for GithubForge {
    async fn upsert_comment(&self, number: u64, marker: &str, body: &str) -> Result<u64, ForgeError> {
        let body = if body.contains(marker) { body.to_string() } else { format!("{marker}\n{body}") };
        let operation = format!("create comment {marker} on pull request #{number}");
        let url = format!("{}/issues/{number}/comments", self.repo_path);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let comments = self.list_comments(number).await.map_err(Self::not_found(number))?;
            let mut marked = comments.iter().filter(|c| c.body.as_deref().is_some_and(|b| b.contains(marker)));
            if let Some(first) = marked.next() {
                if first.body.as_deref() != Some(body.as_str()) {
                    self.edit_comment(first.id, &body).await?;
                }
                // More than one marked comment can only come from a race
                // with another gcops replica; keep the oldest.
                for extra in marked {
                    self.delete_comment(extra.id).await?;
                }
                return Ok(first.id);
            }

            match self.send(&operation, Method::Post, &url, Some(&json!({ "body": body })), Replay::Unsafe).await {
                Ok(reply) => return Ok(self.decode::<WireComment>(&operation, &reply)?.id),
                Err(error) if error.is_transient() && attempt < self.settings.retry.max_attempts => {
                    // The next round lists the comments again and edits
                    // the comment if this attempt created it.
                    self.pause_before_retry(&operation, attempt, &error).await;
                }
                Err(error) => return Err(Self::not_found(number)(error)),
            }
        }
    }

    async fn set_status(&self, commit: &str, context: &str, state: CommitState, description: &str) -> Result<(), ForgeError> {
        let operation = format!("set status {context} on commit {commit}");
        let url = format!("{}/statuses/{}", self.repo_path, encode(commit));
        let description: String = description.chars().take(MAX_STATUS_DESCRIPTION_CHARS).collect();
        let body = json!({ "state": state.as_str(), "context": context, "description": description });
        // A repeated status replaces the earlier one with the same context,
        // so replaying it is harmless.
        self.send(&operation, Method::Post, &url, Some(&body), Replay::Safe).await?;
        Ok(())
    }

    async fn list_open_pulls(&self) -> Result<Vec<PullRequest>, ForgeError> {
        let url = format!("{}/pulls", self.repo_path);
        let pulls: Vec<WirePull> = self.list_all("list open pull requests", &url, "state=open").await?;
        Ok(pulls.into_iter().map(WirePull::into_pull).collect())
    }

    async fn changed_files(&self, number: u64) -> Result<Vec<String>, ForgeError> {
        let operation = format!("list files of pull request #{number}");
        let url = format!("{}/pulls/{number}/files", self.repo_path);
        let files: Vec<WireFile> = self.list_all(&operation, &url, "").await.map_err(Self::not_found(number))?;
        let mut paths = Vec::with_capacity(files.len());
        for file in files {
            if let Some(old) = file.previous_filename {
                paths.push(old);
            }
            paths.push(file.filename);
        }
        Ok(paths)
    }

    /// Posts one review with event `COMMENT` whose body carries the
    /// annotation marker of `commit`, with one comment per annotation on the
    /// right-hand (head) side of the diff. GitHub rejects the whole review
    /// with HTTP 422 when a line is not part of the diff. The review is then
    /// posted again with the annotations listed in its body instead.
    async fn annotate(&self, number: u64, commit: &str, summary: &str, annotations: &[Annotation]) -> Result<(), ForgeError> {
        if annotations.is_empty() {
            return Ok(());
        }
        let marker = annotation_marker(commit);
        let body = format!("{marker}\n{summary}");
        let comments: Vec<Value> =
            annotations.iter().map(|a| json!({ "path": a.path, "line": a.line, "side": "RIGHT", "body": a.message })).collect();
        let with_lines = json!({ "commit_id": commit, "event": "COMMENT", "body": body, "comments": comments });

        // NOTE: an error in a file that the pull request does not change
        // (a reference broken by a change elsewhere) makes GitHub reject
        // every line comment, so such a review shows the body-only form.
        let posted = match self.create_review_once(number, &marker, &with_lines).await {
            Ok(posted) => posted,
            Err(error) if error.status() == Some(422) => {
                tracing::warn!(repo = %self.full_name, number, commit, error = %error, "line annotations rejected; posting them in the review body");
                let listed: Vec<String> =
                    annotations.iter().map(|a| format!("- `{}:{}` {}", a.path, a.line, a.message)).collect();
                let body_only = json!({
                    "commit_id": commit,
                    "event": "COMMENT",
                    "body": format!("{body}\n\n{}", listed.join("\n")),
                });
                self.create_review_once(number, &marker, &body_only).await.map_err(Self::not_found(number))?
            }
            Err(error) => return Err(Self::not_found(number)(error)),
        };
        if posted {
            tracing::info!(repo = %self.full_name, number, commit, annotations = annotations.len(), "annotation review posted");
        }
        Ok(())
    }
}

// ---- wire types: only the fields gcops reads ----

#[derive(Deserialize)]
struct WirePull {
    number: u64,
    state: String,
    title: String,
    body: Option<String>,
    merged_at: Option<String>,
    head: WireRef,
    base: WireRef,
}

#[derive(Deserialize)]
struct WireRef {
    #[serde(rename = "ref")]
    git_ref: String,
    sha: String,
}

#[derive(Deserialize)]
struct WireComment {
    id: u64,
    body: Option<String>,
}

#[derive(Deserialize)]
struct WireReview {
    body: Option<String>,
}

#[derive(Deserialize)]
struct WireFile {
    filename: String,
    previous_filename: Option<String>,
}

impl WirePull {
    fn into_pull(self) -> PullRequest {
        let state = if self.merged_at.is_some() {
            PullState::Merged
        } else if self.state == "open" {
            PullState::Open
        } else {
            PullState::Closed
        };
        PullRequest {
            number: self.number,
            branch: self.head.git_ref,
            base: self.base.git_ref,
            title: self.title,
            body: self.body.unwrap_or_default(),
            state,
            head_commit: self.head.sha,
        }
    }
}

// ---- helpers ----

fn check_name(key: &'static str, value: &str) -> Result<(), Error> {
    if value.is_empty() || value.contains('/') || value.trim() != value {
        return Err(Error::Setting { key, message: format!("{value:?} must be one non-empty path segment") });
    }
    Ok(())
}

/// Reads the token. Errors name the variable or file, never the content.
fn read_token(source: &TokenSource) -> Result<String, Error> {
    let (raw, origin) = match source {
        TokenSource::Env(name) => {
            let raw = std::env::var(name).map_err(|_| Error::TokenEnvMissing { name: name.clone() })?;
            (raw, format!("environment variable {name}"))
        }
        TokenSource::File(path) => {
            let raw = std::fs::read_to_string(path).map_err(|source| Error::TokenFile { path: path.clone(), source })?;
            (raw, format!("file {}", path.display()))
        }
    };
    let token = raw.trim();
    if token.is_empty() {
        return Err(Error::TokenEmpty { origin });
    }
    Ok(token.to_string())
}

/// Labels for a pull request on `branch`: `gcops`, then for drift
/// branches `drift` and the account name, then `configured`.
fn labels_for(branch: &str, configured: &[String]) -> Vec<String> {
    let mut labels = vec![BASE_LABEL.to_string()];
    if let Some(account) = branch.strip_prefix(DRIFT_BRANCH_PREFIX).filter(|a| !a.is_empty()) {
        labels.push(DRIFT_LABEL.to_string());
        labels.push(account.to_string());
    }
    for label in configured {
        if !labels.contains(label) {
            labels.push(label.clone());
        }
    }
    labels
}

fn encode(component: &str) -> String {
    utf8_percent_encode(component, COMPONENT).to_string()
}

/// GitHub's `message` field of an error body, or the start of the body.
fn error_message(body: &str) -> String {
    #[derive(Deserialize)]
    struct ErrorBody {
        message: Option<String>,
    }
    match serde_json::from_str::<ErrorBody>(body) {
        Ok(ErrorBody { message: Some(message) }) => message,
        _ => body.chars().take(200).collect(),
    }
}

/// Computes the wait before a retry when the response is a rate limit:
/// `retry-after` seconds, else until `x-ratelimit-reset` (epoch seconds)
/// when `x-ratelimit-remaining` is 0, else one minute for a bare 429. A
/// 403 without those headers is a permission error, not a rate limit.
fn rate_limit_wait(status: u16, headers: &axum::http::HeaderMap, now: SystemTime) -> Option<Duration> {
    if status != 403 && status != 429 {
        return None;
    }
    let number = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<u64>().ok());
    if let Some(seconds) = number("retry-after") {
        return Some(Duration::from_secs(seconds));
    }
    if number("x-ratelimit-remaining") == Some(0)
        && let Some(reset) = number("x-ratelimit-reset")
    {
        let reset = UNIX_EPOCH + Duration::from_secs(reset);
        return Some(reset.duration_since(now).unwrap_or(Duration::ZERO));
    }
    (status == 429).then_some(SECONDARY_RATE_LIMIT_WAIT)
}

/// Backoff after failed attempt number `attempt` (1-based): the base delay
/// doubled per attempt, capped, then scaled by a random factor in [0.5, 1)
/// so that replicas do not retry in step.
fn backoff(retry: &RetrySettings, attempt: u32) -> Duration {
    let doubled = retry.base_delay.saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
    doubled.min(retry.max_delay).mul_f64(0.5 + fastrand::f64() * 0.5)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{HeaderMap, HeaderValue};

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn rate_limit_wait_until_reset() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000);
        let h = headers(&[("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "1030")]);
        assert_eq!(rate_limit_wait(403, &h, now), Some(Duration::from_secs(30)));
    }

    #[test]
    fn rate_limit_wait_prefers_retry_after() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000);
        let h = headers(&[("retry-after", "7"), ("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "1030")]);
        assert_eq!(rate_limit_wait(429, &h, now), Some(Duration::from_secs(7)));
    }

    #[test]
    fn rate_limit_wait_past_reset_is_zero() {
        let now = UNIX_EPOCH + Duration::from_secs(2_000);
        let h = headers(&[("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "1030")]);
        assert_eq!(rate_limit_wait(403, &h, now), Some(Duration::ZERO));
    }

    #[test]
    fn rate_limit_wait_bare_forbidden_is_none() {
        let h = headers(&[("x-ratelimit-remaining", "10")]);
        assert_eq!(rate_limit_wait(403, &h, SystemTime::now()), None);
    }

    #[test]
    fn rate_limit_wait_bare_429_is_one_minute() {
        assert_eq!(rate_limit_wait(429, &HeaderMap::new(), SystemTime::now()), Some(SECONDARY_RATE_LIMIT_WAIT));
    }

    #[test]
    fn rate_limit_wait_ignores_success() {
        let h = headers(&[("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "1030")]);
        assert_eq!(rate_limit_wait(200, &h, SystemTime::now()), None);
    }

    #[test]
    fn backoff_stays_within_bounds() {
        let retry = RetrySettings {
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(300),
            ..RetrySettings::default()
        };
        for attempt in 1..40 {
            let delay = backoff(&retry, attempt);
            assert!(delay <= Duration::from_millis(300), "attempt {attempt}: {delay:?}");
            assert!(delay >= Duration::from_millis(50), "attempt {attempt}: {delay:?}");
        }
    }

    #[test]
    fn labels_for_drift_branch() {
        let configured = ["gc".to_string(), "gcops".to_string()];
        assert_eq!(labels_for("gcops/drift/jumin-asp", &configured), ["gcops", "drift", "jumin-asp", "gc"]);
    }

    #[test]
    fn labels_for_other_branch() {
        assert_eq!(labels_for("gcops/templates/x", &[]), ["gcops"]);
    }

    #[test]
    fn encode_escapes_separators() {
        assert_eq!(encode("city:gcops/drift/a b"), "city%3Agcops%2Fdrift%2Fa%20b");
    }
}
