//! A GitHub REST API on loopback, with in-memory state, for the GitHub
//! forge tests. It serves one repository and the endpoints gcops uses, sends
//! rate-limit headers on every response, records every request, and can
//! fail the next requests in the ways GitHub fails.

#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use serde_json::{Value, json};

/// One request as the fake received it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    pub query: String,
    /// The `Authorization` header, if any.
    pub authorization: Option<String>,
}

#[derive(Clone, Debug)]
pub struct FakePull {
    pub number: u64,
    pub state: String,
    pub title: String,
    pub body: String,
    pub head_ref: String,
    pub head_sha: String,
    pub base_ref: String,
    pub merged: bool,
    pub labels: Vec<String>,
    pub requested_reviewers: Vec<String>,
    pub files: Vec<Value>,
}

#[derive(Clone, Debug)]
pub struct FakeComment {
    pub id: u64,
    pub issue: u64,
    pub body: String,
}

/// A submitted pull request review.
#[derive(Clone, Debug)]
pub struct FakeReview {
    pub id: u64,
    pub pull: u64,
    pub commit_id: String,
    pub event: String,
    pub body: String,
    pub comments: Vec<FakeReviewComment>,
}

/// A line comment of a review.
#[derive(Clone, Debug)]
pub struct FakeReviewComment {
    pub path: String,
    pub line: u64,
    pub side: String,
    pub body: String,
}

#[derive(Clone, Debug)]
pub struct FakeStatus {
    pub sha: String,
    pub state: String,
    pub context: String,
    pub description: String,
}

#[derive(Default)]
pub struct FakeState {
    pub owner: String,
    pub repo: String,
    /// Branch name to head commit; a pull request can be opened only on a
    /// known branch, as on GitHub.
    pub branches: HashMap<String, String>,
    pub pulls: Vec<FakePull>,
    pub comments: Vec<FakeComment>,
    pub statuses: Vec<FakeStatus>,
    pub reviews: Vec<FakeReview>,
    pub requests: Vec<RecordedRequest>,
    /// Token the requests must carry as `Bearer`; `None` accepts any.
    pub expected_token: Option<String>,
    /// The next N requests get this server error and are not processed.
    pub fail_next: u32,
    pub fail_status: u16,
    /// The next request gets a 403 rate-limit response, with
    /// `x-ratelimit-reset` more than this many seconds ahead (whole epoch
    /// seconds, rounded up).
    pub rate_limit_next: Option<u64>,
    /// The next N requests are processed but get a 502 response, as when
    /// the connection breaks after GitHub did the work.
    pub apply_then_fail_next: u32,
    /// Limits `apply_then_fail_next` to requests with this method.
    pub apply_then_fail_method: Option<String>,
    /// The next request gets a 422 whose message repeats the request's
    /// `Authorization` header, as a broken proxy might.
    pub echo_authorization_next: bool,
    /// A real git repository whose branches count as pushed, so that tests
    /// where gcops pushes with git need no `push_branch` calls.
    pub git_dir: Option<std::path::PathBuf>,
    next_id: u64,
}

impl FakeState {
    /// Head commit of `branch`: the real repository's ref when one is
    /// attached, else the branch recorded by `push_branch`.
    fn branch_sha(&self, branch: &str) -> Option<String> {
        let from_git = self.git_dir.as_ref().and_then(|dir| {
            let repo = git2::Repository::open(dir).ok()?;
            let target = repo.find_reference(&format!("refs/heads/{branch}")).ok()?.target()?;
            Some(target.to_string())
        });
        from_git.or_else(|| self.branches.get(branch).cloned())
    }
}

/// A running fake; the server stops when the test's runtime ends.
pub struct GithubFake {
    pub addr: SocketAddr,
    state: Arc<Mutex<FakeState>>,
}

type Shared = Arc<Mutex<FakeState>>;

impl GithubFake {
    /// Starts the fake on 127.0.0.1 with a free port, serving `owner/repo`.
    pub async fn start(owner: &str, repo: &str) -> GithubFake {
        let state = Arc::new(Mutex::new(FakeState {
            owner: owner.to_string(),
            repo: repo.to_string(),
            fail_status: 502,
            next_id: 1000,
            ..FakeState::default()
        }));
        // Served at the root, as github.com does, and under `/api/v3`, as a
        // GitHub Enterprise Server does.
        let app = Router::new()
            .merge(routes())
            .nest("/api/v3", routes())
            .fallback(|| async { not_found() })
            .layer(middleware::from_fn_with_state(state.clone(), gate))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port for the GitHub fake");
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.expect("GitHub fake server failed");
        });
        GithubFake { addr, state }
    }

    /// API base URL to give the forge.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn state(&self) -> MutexGuard<'_, FakeState> {
        self.state.lock().unwrap()
    }

    /// Reads branches from the git repository at `dir` (bare or not), where
    /// the code under test pushes.
    pub fn serve_git(&self, dir: &std::path::Path) {
        self.state().git_dir = Some(dir.to_path_buf());
    }

    /// Creates or moves `branch` to `sha`, as a git push would.
    pub fn push_branch(&self, branch: &str, sha: &str) {
        let mut state = self.state();
        state.branches.insert(branch.to_string(), sha.to_string());
        for pull in state.pulls.iter_mut().filter(|p| p.head_ref == branch && p.state == "open") {
            pull.head_sha = sha.to_string();
        }
    }

    pub fn fail_next(&self, count: u32, status: u16) {
        let mut state = self.state();
        state.fail_next = count;
        state.fail_status = status;
    }

    pub fn rate_limit_next(&self, reset_in_seconds: u64) {
        self.state().rate_limit_next = Some(reset_in_seconds);
    }

    pub fn apply_then_fail_next(&self, count: u32) {
        let mut state = self.state();
        state.apply_then_fail_next = count;
        state.apply_then_fail_method = None;
    }

    /// Like [`GithubFake::apply_then_fail_next`], for requests with `method` only.
    pub fn apply_then_fail_next_method(&self, method: &str, count: u32) {
        let mut state = self.state();
        state.apply_then_fail_next = count;
        state.apply_then_fail_method = Some(method.to_string());
    }

    pub fn expect_token(&self, token: &str) {
        self.state().expected_token = Some(token.to_string());
    }

    /// Closes pull request `number` as a person would in the web interface.
    pub fn close_pull(&self, number: u64, merged: bool) {
        let mut state = self.state();
        let pull = state.pulls.iter_mut().find(|p| p.number == number).expect("pull request to close exists");
        pull.state = "closed".to_string();
        pull.merged = merged;
    }

    /// Adds a pull request directly, as if a person had opened it.
    pub fn add_pull(&self, branch: &str, sha: &str, files: &[&str]) -> u64 {
        let mut state = self.state();
        state.branches.insert(branch.to_string(), sha.to_string());
        let number = state.next_number();
        let files = files.iter().map(|f| json!({ "filename": f, "status": "modified" })).collect();
        state.pulls.push(FakePull {
            number,
            state: "open".to_string(),
            title: format!("Change {branch}"),
            body: String::new(),
            head_ref: branch.to_string(),
            head_sha: sha.to_string(),
            base_ref: "main".to_string(),
            merged: false,
            labels: Vec::new(),
            requested_reviewers: Vec::new(),
            files,
        });
        number
    }

    pub fn add_comment(&self, issue: u64, body: &str) -> u64 {
        let mut state = self.state();
        let id = state.next_id();
        state.comments.push(FakeComment { id, issue, body: body.to_string() });
        id
    }

    /// Number of recorded requests with `method` and exactly `path`.
    pub fn count(&self, method: &str, path: &str) -> usize {
        self.state().requests.iter().filter(|r| r.method == method && r.path == path).count()
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state().requests.clone()
    }
}

fn routes() -> Router<Shared> {
    Router::new()
        .route("/repos/{owner}/{repo}/pulls", get(list_pulls).post(create_pull))
        .route("/repos/{owner}/{repo}/pulls/{number}", get(get_pull).patch(patch_pull))
        .route("/repos/{owner}/{repo}/pulls/{number}/files", get(list_files))
        .route("/repos/{owner}/{repo}/pulls/{number}/requested_reviewers", post(request_reviewers))
        .route("/repos/{owner}/{repo}/pulls/{number}/reviews", get(list_reviews).post(create_review))
        .route("/repos/{owner}/{repo}/issues/{number}/comments", get(list_comments).post(create_comment))
        .route("/repos/{owner}/{repo}/issues/comments/{id}", patch(patch_comment).delete(delete_comment))
        .route("/repos/{owner}/{repo}/issues/{number}/labels", post(add_labels))
        .route("/repos/{owner}/{repo}/statuses/{sha}", post(create_status))
        .route("/repos/{owner}/{repo}/commits/{sha}/statuses", get(list_statuses))
        .route("/repos/{owner}/{repo}/commits/{sha}/status", get(combined_status))
}

impl FakeState {
    fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Pull requests and issues share one number sequence on GitHub.
    fn next_number(&mut self) -> u64 {
        self.pulls.iter().map(|p| p.number).max().unwrap_or(0) + 1
    }

    fn is_repo(&self, owner: &str, repo: &str) -> bool {
        self.owner == owner && self.repo == repo
    }
}

fn epoch_seconds() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

fn message(status: StatusCode, text: &str) -> Response {
    (status, Json(json!({ "message": text, "documentation_url": "https://docs.github.com/rest" }))).into_response()
}

fn not_found() -> Response {
    message(StatusCode::NOT_FOUND, "Not Found")
}

/// Records the request, applies the failure knobs, and adds rate-limit
/// headers to the answer.
async fn gate(State(shared): State<Shared>, request: Request, next: Next) -> Response {
    let apply_then_fail = {
        let mut state = shared.lock().unwrap();
        let authorization = request.headers().get("authorization").and_then(|v| v.to_str().ok()).map(str::to_string);
        state.requests.push(RecordedRequest {
            method: request.method().to_string(),
            path: request.uri().path().to_string(),
            query: request.uri().query().unwrap_or_default().to_string(),
            authorization: authorization.clone(),
        });

        if let Some(token) = &state.expected_token
            && authorization.as_deref() != Some(format!("Bearer {token}").as_str())
        {
            return message(StatusCode::UNAUTHORIZED, "Bad credentials");
        }
        if std::mem::take(&mut state.echo_authorization_next) {
            return message(
                StatusCode::UNPROCESSABLE_ENTITY,
                &format!("rejected request with {}", authorization.unwrap_or_default()),
            );
        }
        if let Some(seconds) = state.rate_limit_next.take() {
            let reset = epoch_seconds() + seconds + 1;
            let mut response = message(StatusCode::FORBIDDEN, "API rate limit exceeded");
            let headers = response.headers_mut();
            headers.insert("x-ratelimit-limit", HeaderValue::from_static("5000"));
            headers.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
            headers.insert("x-ratelimit-used", HeaderValue::from_static("5000"));
            headers.insert("x-ratelimit-reset", HeaderValue::from(reset));
            headers.insert("x-ratelimit-resource", HeaderValue::from_static("core"));
            return response;
        }
        if state.fail_next > 0 {
            state.fail_next -= 1;
            let status = StatusCode::from_u16(state.fail_status).unwrap();
            return message(status, "Server Error");
        }
        let method_matches = state.apply_then_fail_method.as_deref().is_none_or(|m| m == request.method().as_str());
        if state.apply_then_fail_next > 0 && method_matches {
            state.apply_then_fail_next -= 1;
            true
        } else {
            false
        }
    };

    let response = next.run(request).await;
    let mut response = if apply_then_fail { message(StatusCode::BAD_GATEWAY, "Server Error") } else { response };
    let headers = response.headers_mut();
    headers.insert("x-ratelimit-limit", HeaderValue::from_static("5000"));
    headers.insert("x-ratelimit-remaining", HeaderValue::from_static("4999"));
    headers.insert("x-ratelimit-used", HeaderValue::from_static("1"));
    headers.insert("x-ratelimit-reset", HeaderValue::from(epoch_seconds() + 3600));
    headers.insert("x-ratelimit-resource", HeaderValue::from_static("core"));
    response
}

fn pull_json(state: &FakeState, pull: &FakePull) -> Value {
    json!({
        "id": pull.number * 10,
        "number": pull.number,
        "state": pull.state,
        "title": pull.title,
        "body": pull.body,
        "merged_at": if pull.merged { Value::from("2026-01-01T00:00:00Z") } else { Value::Null },
        "html_url": format!("https://github.example/{}/{}/pull/{}", state.owner, state.repo, pull.number),
        "labels": pull.labels.iter().map(|l| json!({ "name": l })).collect::<Vec<_>>(),
        "head": {
            "ref": pull.head_ref,
            "sha": state.git_dir.as_ref().and_then(|_| state.branch_sha(&pull.head_ref)).unwrap_or_else(|| pull.head_sha.clone()),
            "label": format!("{}:{}", state.owner, pull.head_ref)
        },
        "base": { "ref": pull.base_ref, "sha": "0000000000000000000000000000000000000000" },
    })
}

fn page<T: Clone>(items: &[T], query: &HashMap<String, String>) -> Vec<T> {
    let per_page = query.get("per_page").and_then(|v| v.parse().ok()).unwrap_or(30usize).clamp(1, 100);
    let page = query.get("page").and_then(|v| v.parse().ok()).unwrap_or(1usize).max(1);
    items.iter().skip((page - 1) * per_page).take(per_page).cloned().collect()
}

async fn list_pulls(
    State(shared): State<Shared>,
    Path((owner, repo)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let state = shared.lock().unwrap();
    if !state.is_repo(&owner, &repo) {
        return not_found();
    }
    let wanted_state = query.get("state").map(String::as_str).unwrap_or("open");
    let head = query.get("head").map(|h| h.split_once(':').map(|(o, b)| (o.to_string(), b.to_string())));
    let mut pulls: Vec<&FakePull> = state
        .pulls
        .iter()
        .filter(|p| wanted_state == "all" || p.state == wanted_state)
        .filter(|p| match &head {
            None => true,
            Some(Some((o, b))) => *o == state.owner && *b == p.head_ref,
            // GitHub requires `user:ref`; a bare ref matches nothing.
            Some(None) => false,
        })
        .collect();
    let ascending = query.get("direction").map(String::as_str) == Some("asc");
    pulls.sort_by_key(|p| p.number);
    if !ascending {
        pulls.reverse();
    }
    let values: Vec<Value> = pulls.iter().map(|p| pull_json(&state, p)).collect();
    Json(page(&values, &query)).into_response()
}

async fn create_pull(
    State(shared): State<Shared>,
    Path((owner, repo)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> Response {
    let mut state = shared.lock().unwrap();
    if !state.is_repo(&owner, &repo) {
        return not_found();
    }
    let field = |name: &str| body.get(name).and_then(Value::as_str).map(str::to_string);
    let (Some(title), Some(head), Some(base)) = (field("title"), field("head"), field("base")) else {
        return message(StatusCode::UNPROCESSABLE_ENTITY, "Validation Failed");
    };
    let Some(sha) = state.branch_sha(&head) else {
        return message(StatusCode::UNPROCESSABLE_ENTITY, "Validation Failed: head invalid");
    };
    if state.pulls.iter().any(|p| p.head_ref == head && p.state == "open") {
        return message(StatusCode::UNPROCESSABLE_ENTITY, &format!("A pull request already exists for {owner}:{head}."));
    }
    let number = state.next_number();
    let pull = FakePull {
        number,
        state: "open".to_string(),
        title,
        body: field("body").unwrap_or_default(),
        head_ref: head,
        head_sha: sha,
        base_ref: base,
        merged: false,
        labels: Vec::new(),
        requested_reviewers: Vec::new(),
        files: Vec::new(),
    };
    let value = pull_json(&state, &pull);
    state.pulls.push(pull);
    (StatusCode::CREATED, Json(value)).into_response()
}

async fn get_pull(State(shared): State<Shared>, Path((owner, repo, number)): Path<(String, String, u64)>) -> Response {
    let state = shared.lock().unwrap();
    match state.pulls.iter().find(|p| p.number == number).filter(|_| state.is_repo(&owner, &repo)) {
        Some(pull) => Json(pull_json(&state, pull)).into_response(),
        None => not_found(),
    }
}

async fn patch_pull(
    State(shared): State<Shared>,
    Path((owner, repo, number)): Path<(String, String, u64)>,
    Json(body): Json<Value>,
) -> Response {
    let mut guard = shared.lock().unwrap();
    let state = &mut *guard;
    if !state.is_repo(&owner, &repo) {
        return not_found();
    }
    let Some(pull) = state.pulls.iter_mut().find(|p| p.number == number) else {
        return not_found();
    };
    if let Some(title) = body.get("title").and_then(Value::as_str) {
        pull.title = title.to_string();
    }
    if let Some(text) = body.get("body").and_then(Value::as_str) {
        pull.body = text.to_string();
    }
    if let Some(new_state) = body.get("state").and_then(Value::as_str) {
        pull.state = new_state.to_string();
    }
    let pull = pull.clone();
    Json(pull_json(state, &pull)).into_response()
}

async fn list_files(
    State(shared): State<Shared>,
    Path((owner, repo, number)): Path<(String, String, u64)>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let state = shared.lock().unwrap();
    match state.pulls.iter().find(|p| p.number == number).filter(|_| state.is_repo(&owner, &repo)) {
        Some(pull) => Json(page(&pull.files, &query)).into_response(),
        None => not_found(),
    }
}

async fn request_reviewers(
    State(shared): State<Shared>,
    Path((owner, repo, number)): Path<(String, String, u64)>,
    Json(body): Json<Value>,
) -> Response {
    let mut guard = shared.lock().unwrap();
    let state = &mut *guard;
    if !state.is_repo(&owner, &repo) {
        return not_found();
    }
    let Some(pull) = state.pulls.iter_mut().find(|p| p.number == number) else {
        return not_found();
    };
    for reviewer in body.get("reviewers").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str) {
        if !pull.requested_reviewers.iter().any(|r| r == reviewer) {
            pull.requested_reviewers.push(reviewer.to_string());
        }
    }
    let pull = pull.clone();
    (StatusCode::CREATED, Json(pull_json(state, &pull))).into_response()
}

async fn add_labels(
    State(shared): State<Shared>,
    Path((owner, repo, number)): Path<(String, String, u64)>,
    Json(body): Json<Value>,
) -> Response {
    let mut state = shared.lock().unwrap();
    if !state.is_repo(&owner, &repo) {
        return not_found();
    }
    let Some(pull) = state.pulls.iter_mut().find(|p| p.number == number) else {
        return not_found();
    };
    for label in body.get("labels").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str) {
        if !pull.labels.iter().any(|l| l == label) {
            pull.labels.push(label.to_string());
        }
    }
    let labels: Vec<Value> = pull.labels.iter().map(|l| json!({ "name": l })).collect();
    Json(labels).into_response()
}

fn comment_json(comment: &FakeComment) -> Value {
    json!({ "id": comment.id, "body": comment.body, "user": { "login": "gcops[bot]" } })
}

async fn list_comments(
    State(shared): State<Shared>,
    Path((owner, repo, number)): Path<(String, String, u64)>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let state = shared.lock().unwrap();
    if !state.is_repo(&owner, &repo) || !state.pulls.iter().any(|p| p.number == number) {
        return not_found();
    }
    let comments: Vec<Value> = state.comments.iter().filter(|c| c.issue == number).map(comment_json).collect();
    Json(page(&comments, &query)).into_response()
}

async fn create_comment(
    State(shared): State<Shared>,
    Path((owner, repo, number)): Path<(String, String, u64)>,
    Json(body): Json<Value>,
) -> Response {
    let mut state = shared.lock().unwrap();
    if !state.is_repo(&owner, &repo) || !state.pulls.iter().any(|p| p.number == number) {
        return not_found();
    }
    let Some(text) = body.get("body").and_then(Value::as_str) else {
        return message(StatusCode::UNPROCESSABLE_ENTITY, "Validation Failed");
    };
    let id = state.next_id();
    let comment = FakeComment { id, issue: number, body: text.to_string() };
    let value = comment_json(&comment);
    state.comments.push(comment);
    (StatusCode::CREATED, Json(value)).into_response()
}

async fn patch_comment(
    State(shared): State<Shared>,
    Path((owner, repo, id)): Path<(String, String, u64)>,
    Json(body): Json<Value>,
) -> Response {
    let mut state = shared.lock().unwrap();
    if !state.is_repo(&owner, &repo) {
        return not_found();
    }
    let Some(comment) = state.comments.iter_mut().find(|c| c.id == id) else {
        return not_found();
    };
    if let Some(text) = body.get("body").and_then(Value::as_str) {
        comment.body = text.to_string();
    }
    Json(comment_json(comment)).into_response()
}

async fn delete_comment(State(shared): State<Shared>, Path((owner, repo, id)): Path<(String, String, u64)>) -> Response {
    let mut state = shared.lock().unwrap();
    let before = state.comments.len();
    state.comments.retain(|c| c.id != id);
    if !state.is_repo(&owner, &repo) || state.comments.len() == before {
        return not_found();
    }
    StatusCode::NO_CONTENT.into_response()
}

fn review_json(review: &FakeReview) -> Value {
    json!({
        "id": review.id,
        "user": { "login": "gcops[bot]" },
        "body": review.body,
        "state": "COMMENTED",
        "commit_id": review.commit_id,
    })
}

async fn list_reviews(
    State(shared): State<Shared>,
    Path((owner, repo, number)): Path<(String, String, u64)>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let state = shared.lock().unwrap();
    if !state.is_repo(&owner, &repo) || !state.pulls.iter().any(|p| p.number == number) {
        return not_found();
    }
    let reviews: Vec<Value> = state.reviews.iter().filter(|r| r.pull == number).map(review_json).collect();
    Json(page(&reviews, &query)).into_response()
}

/// Submits a review. As on GitHub, the whole review is rejected with 422
/// when a line comment names a path that the pull request does not change.
/// Unlike GitHub, the fake does not check that the line is inside a diff hunk.
async fn create_review(
    State(shared): State<Shared>,
    Path((owner, repo, number)): Path<(String, String, u64)>,
    Json(body): Json<Value>,
) -> Response {
    let mut state = shared.lock().unwrap();
    if !state.is_repo(&owner, &repo) {
        return not_found();
    }
    let Some(pull) = state.pulls.iter().find(|p| p.number == number) else {
        return not_found();
    };

    let field = |name: &str| body.get(name).and_then(Value::as_str).unwrap_or_default().to_string();
    let (commit_id, event, text) = (field("commit_id"), field("event"), field("body"));
    if !["COMMENT", "APPROVE", "REQUEST_CHANGES"].contains(&event.as_str()) || (event == "COMMENT" && text.is_empty()) {
        return message(StatusCode::UNPROCESSABLE_ENTITY, "Validation Failed");
    }

    let mut comments = Vec::new();
    for comment in body.get("comments").and_then(Value::as_array).into_iter().flatten() {
        let text_of = |name: &str| comment.get(name).and_then(Value::as_str).unwrap_or_default().to_string();
        let path = text_of("path");
        let line = comment.get("line").and_then(Value::as_u64).unwrap_or(0);
        let in_pull = pull.files.iter().any(|f| f.get("filename").and_then(Value::as_str) == Some(path.as_str()));
        if !in_pull || line == 0 {
            return (
                StatusCode::UNPROCESSABLE_ENTITY,
                Json(json!({ "message": "Unprocessable Entity", "errors": ["Path could not be resolved"] })),
            )
                .into_response();
        }
        comments.push(FakeReviewComment { path, line, side: text_of("side"), body: text_of("body") });
    }

    let id = state.next_id();
    let review = FakeReview { id, pull: number, commit_id, event, body: text, comments };
    let value = review_json(&review);
    state.reviews.push(review);
    Json(value).into_response()
}

fn status_json(status: &FakeStatus) -> Value {
    json!({ "state": status.state, "context": status.context, "description": status.description })
}

async fn create_status(
    State(shared): State<Shared>,
    Path((owner, repo, sha)): Path<(String, String, String)>,
    Json(body): Json<Value>,
) -> Response {
    let mut state = shared.lock().unwrap();
    if !state.is_repo(&owner, &repo) {
        return not_found();
    }
    let field = |name: &str| body.get(name).and_then(Value::as_str).unwrap_or_default().to_string();
    let status = FakeStatus { sha, state: field("state"), context: field("context"), description: field("description") };
    if !["pending", "success", "failure", "error"].contains(&status.state.as_str()) || status.description.chars().count() > 140 {
        return message(StatusCode::UNPROCESSABLE_ENTITY, "Validation Failed");
    }
    let value = status_json(&status);
    state.statuses.push(status);
    (StatusCode::CREATED, Json(value)).into_response()
}

async fn list_statuses(State(shared): State<Shared>, Path((owner, repo, sha)): Path<(String, String, String)>) -> Response {
    let state = shared.lock().unwrap();
    if !state.is_repo(&owner, &repo) {
        return not_found();
    }
    // Newest first, as GitHub lists them.
    let statuses: Vec<Value> = state.statuses.iter().rev().filter(|s| s.sha == sha).map(status_json).collect();
    Json(statuses).into_response()
}

async fn combined_status(State(shared): State<Shared>, Path((owner, repo, sha)): Path<(String, String, String)>) -> Response {
    let state = shared.lock().unwrap();
    if !state.is_repo(&owner, &repo) {
        return not_found();
    }
    // The newest status of each context.
    let mut latest: Vec<&FakeStatus> = Vec::new();
    for status in state.statuses.iter().rev().filter(|s| s.sha == sha) {
        if !latest.iter().any(|s| s.context == status.context) {
            latest.push(status);
        }
    }
    let overall = if latest.iter().any(|s| s.state == "failure" || s.state == "error") {
        "failure"
    } else if latest.is_empty() || latest.iter().any(|s| s.state == "pending") {
        "pending"
    } else {
        "success"
    };
    let statuses: Vec<Value> = latest.into_iter().map(status_json).collect();
    Json(json!({ "state": overall, "sha": sha, "total_count": statuses.len(), "statuses": statuses })).into_response()
}
