//! One reconcile pass, as a list of named steps: fetch the desired-state
//! commit, load and validate it, read live state, diff, then keep one drift
//! pull request per account. This is the only module that uses every other;
//! the CLI and the daemon ([`crate::daemon`]) call [`plan`] and [`run_once`].

mod error;
mod propose;
pub mod report;

use std::collections::{BTreeMap, BTreeSet};

use git2::Oid;
use tracing::{Instrument, info, info_span};

pub use error::{Error, ErrorClass};
pub use propose::{PullAction, PullOutcome};

use crate::config::{RepoLocation, Settings};
use crate::desired::model::DesiredState;
use crate::diff::model::Drift;
use crate::i18n::Lang;
use crate::live::model::LiveState;
use crate::source::Repo;

/// Folders of the repository that gcops reads.
pub const DESIRED_PREFIXES: [&str; 2] = ["desired-state/", "templates/"];

/// Everything a pass needs, built once from [`Settings`].
pub struct Context {
    pub settings: Settings,
    /// The desired-state repository (local, or a cached clone of a remote).
    pub repo: Repo,
    pub forge: Box<dyn crate::forge::PullForge>,
    pub reader: crate::live::AwsReader,
    /// Language of pull request bodies.
    pub lang: Lang,
    /// Step timings, forge requests and the per-pass gauges.
    pub metrics: std::sync::Arc<crate::telemetry::metrics::Metrics>,
}

/// The result of the read-only part of a pass.
pub struct Plan {
    pub commit: Oid,
    pub desired: DesiredState,
    /// Raw files of the commit, kept for the edits that adopt live state.
    pub files: BTreeMap<String, Vec<u8>>,
    pub live: LiveState,
    pub drift: Drift,
}

/// Outcome of a full pass.
pub struct PassOutcome {
    pub plan: Plan,
    pub pulls: Vec<PullOutcome>,
    /// Accounts whose pull request could not be written; the others were.
    pub errors: Vec<Error>,
}

impl Context {
    /// Opens the repository, the forge and the AWS client factory (the
    /// standard credential chain).
    pub async fn new(settings: Settings) -> Result<Context, Error> {
        let factory = crate::live::ClientFactory::new(settings.aws.clone()).await;
        Context::with_factory(settings, factory)
    }

    /// Like [`Context::new`], counting every AWS request in `metrics`.
    pub async fn with_metrics(
        settings: Settings,
        metrics: std::sync::Arc<crate::telemetry::metrics::Metrics>,
    ) -> Result<Context, Error> {
        let factory = crate::live::ClientFactory::new(settings.aws.clone())
            .await
            .with_interceptor(crate::telemetry::aws_interceptor(metrics.clone()));
        let mut ctx = Context::with_factory(settings, factory)?;
        ctx.metrics = metrics;
        Ok(ctx)
    }

    /// Like [`Context::new`] with a client factory built by the caller,
    /// e.g. on explicit test credentials.
    pub fn with_factory(settings: Settings, factory: crate::live::ClientFactory) -> Result<Context, Error> {
        let repo = open_repo(&settings).map_err(|e| Error::Source(Box::new(e)))?;
        let forge_error =
            |forge, source| Error::Forge { account: "-".to_string(), forge, operation: "open", source: Box::new(source) };
        let forge: Box<dyn crate::forge::PullForge> = match (&settings.forge, &settings.github) {
            (crate::config::ForgeKind::Github, Some(github)) => Box::new(
                crate::forge::github::GithubForge::new(github.clone())
                    .map_err(|e| forge_error("github", crate::forge::Error::Github(e)))?,
            ),
            _ => Box::new(crate::forge::local::LocalForge::new(repo.git().path()).map_err(|e| forge_error("local", e))?),
        };
        let reader = crate::live::AwsReader::new(std::sync::Arc::new(factory));
        let lang = settings.language;
        let metrics = std::sync::Arc::new(crate::telemetry::metrics::Metrics::new());
        Ok(Context { settings, repo, forge, reader, lang, metrics })
    }
}

fn open_repo(settings: &Settings) -> Result<Repo, crate::source::Error> {
    let mut options = crate::source::Options::new(match &settings.repository {
        RepoLocation::Remote { cache_dir, .. } => cache_dir.clone(),
        RepoLocation::Local(_) => std::path::PathBuf::from(".gcops-cache"),
    });
    options.auth.token_env = settings.token_env.clone();
    options.auth.ssh_key = settings.ssh_key.clone();
    let spec = match &settings.repository {
        RepoLocation::Local(path) => path.display().to_string(),
        RepoLocation::Remote { url, .. } => url.clone(),
    };
    Repo::open(&spec, &options)
}

/// Runs the read-only steps: fetch, load and validate, read live, diff.
pub async fn plan(ctx: &Context) -> Result<Plan, Error> {
    use crate::telemetry::metrics::Step;

    // Fetch: the branch head is the desired state; the work tree is ignored.
    let timer = ctx.metrics.time_step(Step::Fetch);
    let commit = fetch_commit(ctx)?;
    drop(timer);
    let span = info_span!("reconcile", repo.revision = %commit);

    async {
        // Load and validate everything at that commit; any error stops the pass.
        let timer = ctx.metrics.time_step(Step::Validate);
        let (desired, files) = load_desired(ctx, commit)?;
        drop(timer);

        // Read every account of the environment, concurrently and bounded.
        let timer = ctx.metrics.time_step(Step::ReadLive);
        let live = read_live(ctx, &desired).await;
        drop(timer);

        // Compare: a pure function of the two states.
        let timer = ctx.metrics.time_step(Step::Diff);
        let drift = crate::diff::diff(&desired, &live);
        drop(timer);

        Ok(Plan { commit, desired, files, live, drift })
    }
    .instrument(span)
    .await
}

/// Runs a full pass: plan, then one drift pull request per account.
pub async fn run_once(ctx: &Context) -> Result<PassOutcome, Error> {
    let started = std::time::Instant::now();
    let plan = plan(ctx).await?;

    // Guard: with no account readable, nothing is known; write nothing.
    check_any_account_read(ctx, &plan)?;

    // Publish the pass's gauges: computed from the snapshot, never incremented.
    let today = chrono::Utc::now().with_timezone(&crate::JST).date_naive();
    ctx.metrics.publish(&crate::telemetry::metrics::snapshot(&plan.desired, &plan.drift, today));

    // Propose: open, update or close the drift pull request of each account.
    let timer = ctx.metrics.time_step(crate::telemetry::metrics::Step::Propose);
    let (pulls, errors) = propose::propose_all(ctx, &plan).await;
    drop(timer);

    let counts = plan.drift.counts();
    info!(
        repo.revision = %plan.commit,
        drift.items = plan.drift.items.len(),
        resources.checked = counts.checked,
        resources.not_checked = counts.not_checked,
        resources.unknown = counts.unknown,
        pulls.changed = pulls.iter().filter(|p| matches!(p.action, PullAction::Opened | PullAction::Updated | PullAction::Closed)).count(),
        pulls.skipped_unknown = pulls.iter().filter(|p| p.action == PullAction::SkippedUnknown).count(),
        pulls.failed = errors.len(),
        duration_seconds = started.elapsed().as_secs_f64(),
        "reconcile pass finished"
    );
    Ok(PassOutcome { plan, pulls, errors })
}

/// Fails when every account of the environment came back unknown, which
/// means the endpoint or the credentials are unusable rather than one
/// account being unreachable.
fn check_any_account_read(ctx: &Context, plan: &Plan) -> Result<(), Error> {
    use crate::live::model::Read;
    let reasons: Vec<&str> = plan
        .live
        .accounts
        .values()
        .filter_map(|a| match &a.iam {
            Read::Unknown { reason } => Some(reason.as_str()),
            _ => None,
        })
        .collect();
    if plan.live.accounts.is_empty() || reasons.len() < plan.live.accounts.len() {
        return Ok(());
    }
    let endpoint = ctx
        .settings
        .aws
        .endpoint_url
        .clone()
        .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok())
        .unwrap_or_else(|| "the default AWS endpoints".to_string());
    Err(Error::LiveUnavailable { endpoint, first_reason: reasons[0].to_string() })
}

/// Plans every open pull request that changes the desired state: one plan
/// comment and one `gcops/plan` status each. `live` is the live state of
/// the latest pass, when there is one.
pub async fn plan_pulls(
    ctx: &Context,
    live: Option<&LiveState>,
) -> Result<Vec<crate::review::PullPlanOutcome>, crate::review::Error> {
    if ctx.repo.is_remote()
        && let Err(error) = ctx.repo.fetch()
    {
        tracing::warn!(error = %crate::error_chain(&error), "fetch before planning pull requests failed; planning what is already fetched");
    }
    let today = chrono::Utc::now().with_timezone(&crate::JST).date_naive();
    crate::review::plan_pull_requests(&ctx.repo, ctx.forge.as_ref(), &ctx.settings.branch, live, ctx.lang, today).await
}

/// Fetches (for a remote) and returns the branch head, without a pass.
pub fn current_head(ctx: &Context) -> Result<Oid, Error> {
    fetch_commit(ctx)
}

fn fetch_commit(ctx: &Context) -> Result<Oid, Error> {
    if ctx.repo.is_remote() {
        ctx.repo.fetch().map_err(|e| Error::Source(Box::new(e)))?;
    }
    ctx.repo.head_commit(&ctx.settings.branch).map_err(|e| Error::Source(Box::new(e)))
}

fn load_desired(ctx: &Context, commit: Oid) -> Result<(DesiredState, BTreeMap<String, Vec<u8>>), Error> {
    let files = ctx.repo.read_files(commit, &DESIRED_PREFIXES).map_err(|e| Error::Source(Box::new(e)))?;
    let today = chrono::Utc::now().date_naive();
    let mut desired = crate::desired::load(&files, today).map_err(|source| Error::Validation {
        commit: commit.to_string(),
        count: source.len(),
        source: Box::new(source),
    })?;
    desired.commit = commit.to_string();
    Ok((desired, files))
}

async fn read_live(ctx: &Context, desired: &DesiredState) -> LiveState {
    let regions: Vec<String> = if ctx.settings.regions_override.is_empty() {
        desired.environment.as_ref().map(|e| e.spec.regions.clone()).unwrap_or_default()
    } else {
        ctx.settings.regions_override.clone()
    };
    let stack_names: BTreeSet<String> = desired
        .templates
        .iter()
        .map(|t| t.spec.stack_name.clone().unwrap_or_else(|| format!("gcops-{}", t.spec.template)))
        .collect();
    let scope = crate::live::ReadScope { regions, stack_names: stack_names.into_iter().collect(), organization: true };
    let account_ids: Vec<String> = desired.accounts().iter().map(|a| a.id.clone()).collect();
    let mut live = ctx.reader.read_all(&account_ids, &scope, ctx.settings.concurrency).await;

    // Regions of the environment left out by `aws.regions` were not read on
    // purpose: their resources are "not checked", with the reason, rather
    // than "unknown" with none.
    let environment_regions = desired.environment.as_ref().map(|e| e.spec.regions.clone()).unwrap_or_default();
    for region in environment_regions.iter().filter(|r| !scope.regions.contains(r)) {
        let reason = format!("region {region} is not in aws.regions of gcops.yaml");
        for account in live.accounts.values_mut() {
            account.regions.entry(region.clone()).or_insert_with(|| crate::live::model::RegionLive::not_checked(&reason));
        }
    }
    live
}
