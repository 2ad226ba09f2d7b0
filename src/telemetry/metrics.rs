//! Every Prometheus metric gcops exposes, declared in this one file.
//!
//! Names follow `gcops_<subsystem>_<name>_<unit>`, in base units (seconds).
//! Counters are registered without `_total`, because the encoder appends it;
//! every other name below is the exposed name. Label values come only from
//! closed enums or from the validated desired state (account names, template
//! names, grant document ids), never from ARNs or error text, so the number
//! of series stays bounded.
//!
//! The state gauges are derived from each pass by the pure function
//! [`snapshot`], and [`Metrics::publish`] replaces all of them at once, so an
//! account or template that leaves the desired state stops being reported.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;
use std::time::Instant;

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveTime, Utc};
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::desired::model::DesiredState;
use crate::diff::model::{Change, Coverage, Drift, ResourceType};

/// Grants whose last valid day is at most this many days away count as expiring.
pub const GRANT_EXPIRY_WARNING_DAYS: i64 = 30;

/// Content type of [`Metrics::encode_openmetrics`].
pub const OPENMETRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Content type of [`Metrics::encode_prometheus_text`].
pub const PROMETHEUS_TEXT_CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Upper bounds of the pass duration histogram, in seconds. A pass reads
/// every account, so it takes seconds to minutes.
const PASS_BUCKETS: [f64; 10] = [1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0];

/// Upper bounds of the step duration histogram, in seconds.
const STEP_BUCKETS: [f64; 11] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0];

/// Japan Standard Time, the time zone in which a grant's last valid day ends.
const JST_OFFSET_SECONDS: i32 = 9 * 3600;

const SECONDS_PER_DAY: i64 = 86_400;

// ---------------------------------------------------------------------------
// Closed label values
// ---------------------------------------------------------------------------

/// Writes a closed enum's `as_str` as a label value.
macro_rules! label_value {
    ($type:ty) => {
        impl EncodeLabelValue for $type {
            fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
                std::fmt::Write::write_str(encoder, self.as_str())
            }
        }
    };
}

/// State of one resource at the end of a pass (`state` label).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ResourceState {
    InSync,
    Drifted,
    NotChecked,
    Unknown,
}

impl ResourceState {
    pub const ALL: [ResourceState; 4] =
        [ResourceState::InSync, ResourceState::Drifted, ResourceState::NotChecked, ResourceState::Unknown];

    pub fn as_str(self) -> &'static str {
        match self {
            ResourceState::InSync => "in_sync",
            ResourceState::Drifted => "drifted",
            ResourceState::NotChecked => "not_checked",
            ResourceState::Unknown => "unknown",
        }
    }
}

impl From<Coverage> for ResourceState {
    fn from(coverage: Coverage) -> Self {
        match coverage {
            Coverage::InSync => ResourceState::InSync,
            Coverage::Drifted => ResourceState::Drifted,
            Coverage::NotChecked => ResourceState::NotChecked,
            Coverage::Unknown => ResourceState::Unknown,
        }
    }
}

label_value!(ResourceState);

/// End state of a reconcile pass (`outcome` label of `gcops_reconcile_passes_total`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PassResult {
    Success,
    Failure,
    /// The pass did not run, e.g. because the previous one was still running.
    Skipped,
}

impl PassResult {
    pub fn as_str(self) -> &'static str {
        match self {
            PassResult::Success => "success",
            PassResult::Failure => "failure",
            PassResult::Skipped => "skipped",
        }
    }
}

label_value!(PassResult);

/// Steps of a reconcile pass (`step` label).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Step {
    Fetch,
    Validate,
    ReadLive,
    Diff,
    Propose,
}

impl Step {
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Fetch => "fetch",
            Step::Validate => "validate",
            Step::ReadLive => "read_live",
            Step::Diff => "diff",
            Step::Propose => "propose",
        }
    }
}

label_value!(Step);

/// Outcome of one request to AWS or to the forge (`outcome` label).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RequestOutcome {
    Success,
    /// Rejected because of a rate limit; the SDK may retry it.
    Throttled,
    /// Rejected because the credentials lack a permission.
    Denied,
    /// Any other failure: a server error, a timeout, a connection failure.
    Error,
}

impl RequestOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestOutcome::Success => "success",
            RequestOutcome::Throttled => "throttled",
            RequestOutcome::Denied => "denied",
            RequestOutcome::Error => "error",
        }
    }
}

label_value!(RequestOutcome);

/// Security Hub severity labels (`severity` label).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Critical,
    High,
    Medium,
    Low,
    Informational,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "CRITICAL",
            Severity::High => "HIGH",
            Severity::Medium => "MEDIUM",
            Severity::Low => "LOW",
            Severity::Informational => "INFORMATIONAL",
        }
    }
}

label_value!(Severity);

// ---------------------------------------------------------------------------
// Label sets
// ---------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ResourceLabels {
    account: String,
    kind: String,
    state: ResourceState,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
struct AccountKindLabels {
    account: String,
    kind: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
struct AccountLabels {
    account: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
struct TemplateLabels {
    template: String,
    account: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
struct GrantLabels {
    grant: String,
    account: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
struct FindingLabels {
    account: String,
    severity: Severity,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
struct PassLabels {
    outcome: PassResult,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
struct StepLabels {
    step: Step,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
struct AwsRequestLabels {
    service: String,
    operation: String,
    outcome: RequestOutcome,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ServiceLabels {
    service: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ForgeRequestLabels {
    forge: String,
    operation: String,
    outcome: RequestOutcome,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
struct VersionLabels {
    version: String,
}

type FloatGauge = Gauge<f64, AtomicU64>;
type HistogramFamily<S> = Family<S, Histogram, fn() -> Histogram>;

// ---------------------------------------------------------------------------
// Snapshot: the pure part
// ---------------------------------------------------------------------------

/// One mandatory template in one account, as the lag gauges show it.
#[derive(Clone, Debug, PartialEq)]
pub struct TemplateLag {
    /// True when a stack of the assignment runs another version than desired.
    pub behind: bool,
    /// Seconds since the desired version was published, while `behind`, and
    /// 0 when current. `None` when behind but the desired version has no
    /// `published` date in its provenance.
    pub lag_seconds: Option<i64>,
}

/// The state gauges of one pass, as plain data. Keys are label values.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Snapshot {
    /// `(account, kind, state)` to the number of resources. Every state of a
    /// seen `(account, kind)` pair is present, with 0 where none.
    pub resources: BTreeMap<(String, String, ResourceState), i64>,
    /// `(account, kind)` to the number of drift items.
    pub drift_items: BTreeMap<(String, String), i64>,
    /// `(template, account)` to its lag; absent where the stack was not read.
    pub template_lag: BTreeMap<(String, String), TemplateLag>,
    /// Account to the number of grants expiring within
    /// [`GRANT_EXPIRY_WARNING_DAYS`] (already expired ones included).
    pub grants_expiring: BTreeMap<String, i64>,
    /// `(grant, account)` to the Unix time at which the grant stops being
    /// valid: midnight Japan time after its last valid day.
    pub grant_expiry: BTreeMap<(String, String), i64>,
    /// Account to the number of budgets with drift.
    pub budgets_out_of_sync: BTreeMap<String, i64>,
    /// Account to the number of CloudWatch alarms with drift.
    pub alarms_out_of_sync: BTreeMap<String, i64>,
}

/// Computes the state gauges of one pass. `today` is the date in Japan.
///
/// Accounts are labelled by their name from the Environment document; a
/// coverage entry or drift item for an account id the environment does not
/// list is labelled by its id.
pub fn snapshot(desired: &DesiredState, drift: &Drift, today: NaiveDate) -> Snapshot {
    let names: BTreeMap<&str, &str> = desired.accounts().iter().map(|a| (a.id.as_str(), a.name.as_str())).collect();
    let account_name = |id: &str| names.get(id).map_or_else(|| id.to_string(), |n| n.to_string());

    let mut snap = Snapshot::default();
    count_resources(&mut snap, drift, &account_name);
    count_drift_items(&mut snap, drift, &account_name);
    count_out_of_sync(&mut snap, desired, drift, &account_name);
    compute_template_lag(&mut snap, desired, drift, today);
    compute_grant_expiry(&mut snap, desired, today);
    snap
}

fn count_resources(snap: &mut Snapshot, drift: &Drift, account_name: &impl Fn(&str) -> String) {
    for entry in &drift.coverage {
        let account = account_name(&entry.account_id);
        let kind = entry.resource_type.as_str().to_string();
        for state in ResourceState::ALL {
            snap.resources.entry((account.clone(), kind.clone(), state)).or_insert(0);
        }
        *snap.resources.entry((account, kind, entry.state.into())).or_insert(0) += 1;
    }
}

fn count_drift_items(snap: &mut Snapshot, drift: &Drift, account_name: &impl Fn(&str) -> String) {
    // Every (account, kind) that was looked at reports 0 rather than nothing,
    // so that an alert on "> 0" resolves when the drift goes away.
    for entry in &drift.coverage {
        snap.drift_items.entry((account_name(&entry.account_id), entry.resource_type.as_str().to_string())).or_insert(0);
    }
    for item in &drift.items {
        *snap.drift_items.entry((account_name(&item.account_id), item.resource_type.as_str().to_string())).or_insert(0) += 1;
    }
}

fn count_out_of_sync(snap: &mut Snapshot, desired: &DesiredState, drift: &Drift, account_name: &impl Fn(&str) -> String) {
    for account in desired.accounts() {
        snap.budgets_out_of_sync.insert(account.name.clone(), 0);
        snap.alarms_out_of_sync.insert(account.name.clone(), 0);
    }
    // A resource with several differing properties counts once.
    let drifted = |resource_type: ResourceType| -> BTreeSet<(String, Option<String>, String)> {
        drift
            .items
            .iter()
            .filter(|i| i.resource_type == resource_type)
            .map(|i| (account_name(&i.account_id), i.region.clone(), i.resource_id.clone()))
            .collect()
    };
    for (account, _, _) in drifted(ResourceType::Budget) {
        *snap.budgets_out_of_sync.entry(account).or_insert(0) += 1;
    }
    for (account, _, _) in drifted(ResourceType::Alarm) {
        *snap.alarms_out_of_sync.entry(account).or_insert(0) += 1;
    }
}

/// The diff reports a stack that runs another template version as a
/// `Modified` drift item on path `version` of the stack.
fn compute_template_lag(snap: &mut Snapshot, desired: &DesiredState, drift: &Drift, today: NaiveDate) {
    for doc in &desired.templates {
        let assignment = &doc.spec;
        let stack = assignment.stack_name.clone().unwrap_or_else(|| format!("gcops-{}", assignment.template));
        let published = desired
            .template_versions
            .get(&(assignment.template.clone(), assignment.version.clone()))
            .and_then(|v| v.provenance.published.as_deref())
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());

        for account in assignment.accounts.iter().filter_map(|name| desired.account_by_name(name)) {
            let is_stack = |account_id: &str, resource_type: ResourceType, resource_id: &str| {
                account_id == account.id && resource_type == ResourceType::Stack && resource_id == stack
            };
            let behind = drift.items.iter().any(|i| {
                is_stack(&i.account_id, i.resource_type, &i.resource_id) && i.change == Change::Modified && i.path == "version"
            });
            let compared = drift.coverage.iter().any(|c| {
                is_stack(&c.account_id, c.resource_type, &c.resource_id)
                    && matches!(c.state, Coverage::InSync | Coverage::Drifted)
            });
            // A stack that was not read, or not compared, reports no lag
            // rather than a lag of 0: gcops did not look.
            if !behind && !compared {
                continue;
            }
            let lag_seconds = if behind { published.map(|p| (today - p).num_days().max(0) * SECONDS_PER_DAY) } else { Some(0) };
            snap.template_lag.insert((assignment.template.clone(), account.name.clone()), TemplateLag { behind, lag_seconds });
        }
    }
}

fn compute_grant_expiry(snap: &mut Snapshot, desired: &DesiredState, today: NaiveDate) {
    for account in desired.accounts() {
        snap.grants_expiring.insert(account.name.clone(), 0);
    }
    let jst = FixedOffset::east_opt(JST_OFFSET_SECONDS).expect("+09:00 is a valid offset");
    for doc in &desired.grants {
        let Some(expires) = doc.spec.expires else { continue };
        let end = expires.succ_opt().unwrap_or(expires).and_time(NaiveTime::MIN).and_local_timezone(jst).single();
        let expiring = (expires - today).num_days() <= GRANT_EXPIRY_WARNING_DAYS;
        for account in &doc.spec.accounts {
            if let Some(end) = end {
                snap.grant_expiry.insert((doc.doc.id.clone(), account.clone()), end.timestamp());
            }
            if expiring {
                *snap.grants_expiring.entry(account.clone()).or_insert(0) += 1;
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Metrics: the registry and its families
// ---------------------------------------------------------------------------

/// The registry and every metric family; one per process, shared as `Arc`.
pub struct Metrics {
    /// Encoded on every scrape; no global registry exists.
    registry: Registry,
    /// Held while a snapshot is published and while the registry is encoded,
    /// so a scrape never sees half of one pass and half of another.
    publish_lock: Mutex<()>,

    resources: Family<ResourceLabels, Gauge>,
    drift_items: Family<AccountKindLabels, Gauge>,
    template_version_lag: Family<TemplateLabels, Gauge>,
    template_lag_seconds: Family<TemplateLabels, Gauge>,
    grants_expiring: Family<AccountLabels, Gauge>,
    grant_expiry_timestamp: Family<GrantLabels, Gauge>,
    budgets_out_of_sync: Family<AccountLabels, Gauge>,
    alarms_out_of_sync: Family<AccountLabels, Gauge>,
    /// Declared for the Security Hub reader, which does not exist yet.
    securityhub_findings: Family<FindingLabels, Gauge>,

    reconcile_passes: Family<PassLabels, Counter>,
    pass_duration: Histogram,
    step_duration: HistogramFamily<StepLabels>,
    last_success: FloatGauge,
    aws_requests: Family<AwsRequestLabels, Counter>,
    aws_throttling_retries: Family<ServiceLabels, Counter>,
    forge_requests: Family<ForgeRequestLabels, Counter>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// Registers every metric, and sets `gcops_build_info` to this build.
    pub fn new() -> Metrics {
        let mut registry = Registry::default();

        let resources = Family::default();
        registry.register(
            "gcops_resources",
            "Resources gcops looked at in the last pass, by account, resource type and state (in_sync, drifted, not_checked, unknown)",
            resources.clone(),
        );
        let drift_items = Family::default();
        registry.register(
            "gcops_drift_items",
            "Differences between desired and live state found in the last pass, by account and resource type",
            drift_items.clone(),
        );
        let template_version_lag = Family::default();
        registry.register(
            "gcops_template_version_lag",
            "1 when a stack of the mandatory template runs another version than desired in the account, else 0",
            template_version_lag.clone(),
        );
        let template_lag_seconds = Family::default();
        registry.register(
            "gcops_template_lag_seconds",
            "Seconds since the desired version of the mandatory template was published, while the account runs another version; 0 when current",
            template_lag_seconds.clone(),
        );
        let grants_expiring = Family::default();
        registry.register(
            "gcops_grants_expiring",
            format!(
                "Permission grants whose last valid day is at most {GRANT_EXPIRY_WARNING_DAYS} days away or past, by account"
            ),
            grants_expiring.clone(),
        );
        let grant_expiry_timestamp = Family::default();
        registry.register(
            "gcops_grant_expiry_timestamp_seconds",
            "Unix time at which a permission grant stops being valid (midnight Japan time after its last valid day)",
            grant_expiry_timestamp.clone(),
        );
        let budgets_out_of_sync = Family::default();
        registry.register(
            "gcops_budgets_out_of_sync",
            "Budgets whose live settings differ from the desired state, by account",
            budgets_out_of_sync.clone(),
        );
        let alarms_out_of_sync = Family::default();
        registry.register(
            "gcops_alarms_out_of_sync",
            "CloudWatch alarms whose live settings differ from the desired state, by account",
            alarms_out_of_sync.clone(),
        );
        let securityhub_findings = Family::default();
        registry.register(
            "gcops_securityhub_findings",
            "Active Security Hub findings by account and severity (not collected yet)",
            securityhub_findings.clone(),
        );

        let reconcile_passes = Family::default();
        registry.register(
            "gcops_reconcile_passes",
            "Reconcile passes by outcome (success, failure, skipped)",
            reconcile_passes.clone(),
        );
        let pass_duration = Histogram::new(PASS_BUCKETS);
        registry.register("gcops_reconcile_pass_duration_seconds", "Duration of whole reconcile passes", pass_duration.clone());
        let step_duration: HistogramFamily<StepLabels> = Family::new_with_constructor(|| Histogram::new(STEP_BUCKETS));
        registry.register(
            "gcops_reconcile_step_duration_seconds",
            "Duration of reconcile steps (fetch, validate, read_live, diff, propose)",
            step_duration.clone(),
        );
        let last_success = FloatGauge::default();
        registry.register(
            "gcops_last_success_timestamp_seconds",
            "Unix time at which the last successful reconcile pass finished; 0 before the first",
            last_success.clone(),
        );
        let aws_requests = Family::default();
        registry.register(
            "gcops_aws_requests",
            "AWS API request attempts by service, operation and outcome (success, throttled, denied, error)",
            aws_requests.clone(),
        );
        let aws_throttling_retries = Family::default();
        registry.register(
            "gcops_aws_throttling_retries",
            "AWS API requests sent again after a throttling response, by service",
            aws_throttling_retries.clone(),
        );
        let forge_requests = Family::default();
        registry.register(
            "gcops_forge_requests",
            "Forge API requests by forge, operation and outcome (success, throttled, denied, error)",
            forge_requests.clone(),
        );
        let build_info: Family<VersionLabels, Gauge> = Family::default();
        registry.register("gcops_build_info", "Always 1; the label carries the gcops version", build_info.clone());
        build_info.get_or_create(&VersionLabels { version: env!("CARGO_PKG_VERSION").to_string() }).set(1);

        Metrics {
            registry,
            publish_lock: Mutex::new(()),
            resources,
            drift_items,
            template_version_lag,
            template_lag_seconds,
            grants_expiring,
            grant_expiry_timestamp,
            budgets_out_of_sync,
            alarms_out_of_sync,
            securityhub_findings,
            reconcile_passes,
            pass_duration,
            step_duration,
            last_success,
            aws_requests,
            aws_throttling_retries,
            forge_requests,
        }
    }

    /// Replaces every state gauge with the values of `snap`; series that
    /// `snap` does not contain disappear.
    pub fn publish(&self, snap: &Snapshot) {
        let _guard = self.publish_lock.lock().unwrap_or_else(|e| e.into_inner());

        self.resources.clear();
        for ((account, kind, state), count) in &snap.resources {
            let labels = ResourceLabels { account: account.clone(), kind: kind.clone(), state: *state };
            self.resources.get_or_create(&labels).set(*count);
        }
        self.drift_items.clear();
        for ((account, kind), count) in &snap.drift_items {
            let labels = AccountKindLabels { account: account.clone(), kind: kind.clone() };
            self.drift_items.get_or_create(&labels).set(*count);
        }
        self.template_version_lag.clear();
        self.template_lag_seconds.clear();
        for ((template, account), lag) in &snap.template_lag {
            let labels = TemplateLabels { template: template.clone(), account: account.clone() };
            self.template_version_lag.get_or_create(&labels).set(i64::from(lag.behind));
            if let Some(seconds) = lag.lag_seconds {
                self.template_lag_seconds.get_or_create(&labels).set(seconds);
            }
        }
        self.grant_expiry_timestamp.clear();
        for ((grant, account), timestamp) in &snap.grant_expiry {
            let labels = GrantLabels { grant: grant.clone(), account: account.clone() };
            self.grant_expiry_timestamp.get_or_create(&labels).set(*timestamp);
        }
        replace_by_account(&self.grants_expiring, &snap.grants_expiring);
        replace_by_account(&self.budgets_out_of_sync, &snap.budgets_out_of_sync);
        replace_by_account(&self.alarms_out_of_sync, &snap.alarms_out_of_sync);
    }

    /// Replaces the Security Hub finding counts: `(account, severity)` to
    /// the number of active findings. No reader calls this yet.
    pub fn publish_securityhub_findings(&self, counts: &BTreeMap<(String, Severity), i64>) {
        let _guard = self.publish_lock.lock().unwrap_or_else(|e| e.into_inner());
        self.securityhub_findings.clear();
        for ((account, severity), count) in counts {
            let labels = FindingLabels { account: account.clone(), severity: *severity };
            self.securityhub_findings.get_or_create(&labels).set(*count);
        }
    }

    /// Counts a finished pass; a success also sets the last success time.
    pub fn record_pass(&self, result: PassResult, finished_at: DateTime<Utc>) {
        self.reconcile_passes.get_or_create(&PassLabels { outcome: result }).inc();
        if result == PassResult::Success {
            self.last_success.set(finished_at.timestamp_millis() as f64 / 1000.0);
        }
    }

    /// Starts timing a whole pass; the duration is recorded when the guard drops.
    pub fn time_pass(&self) -> DurationTimer {
        DurationTimer { histogram: self.pass_duration.clone(), started: Instant::now() }
    }

    /// Starts timing one step; the duration is recorded when the guard drops.
    pub fn time_step(&self, step: Step) -> DurationTimer {
        let histogram = self.step_duration.get_or_create_owned(&StepLabels { step });
        DurationTimer { histogram, started: Instant::now() }
    }

    /// Counts one attempt of an AWS API request. `service` and `operation`
    /// are the SDK's model names, e.g. `iam` and `ListRoles`.
    pub fn count_aws_request(&self, service: &str, operation: &str, outcome: RequestOutcome) {
        let labels = AwsRequestLabels { service: service.to_string(), operation: operation.to_string(), outcome };
        self.aws_requests.get_or_create(&labels).inc();
    }

    /// Counts one attempt that follows a throttled attempt of the same request.
    pub fn count_aws_throttling_retry(&self, service: &str) {
        self.aws_throttling_retries.get_or_create(&ServiceLabels { service: service.to_string() }).inc();
    }

    /// Counts one forge API request. Both names are fixed strings of the
    /// forge implementation, e.g. `github` and `create_pull`.
    pub fn count_forge_request(&self, forge: &'static str, operation: &'static str, outcome: RequestOutcome) {
        let labels = ForgeRequestLabels { forge: forge.to_string(), operation: operation.to_string(), outcome };
        self.forge_requests.get_or_create(&labels).inc();
    }

    /// Encodes every metric in the OpenMetrics 1.0 text format.
    pub fn encode_openmetrics(&self) -> String {
        let _guard = self.publish_lock.lock().unwrap_or_else(|e| e.into_inner());
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry).expect("writing to a String cannot fail");
        text
    }

    /// Encodes every metric in the Prometheus text format 0.0.4, for
    /// scrapers and tools (such as promtool 2.x) that do not read OpenMetrics.
    pub fn encode_prometheus_text(&self) -> String {
        let _guard = self.publish_lock.lock().unwrap_or_else(|e| e.into_inner());
        let mut text = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry).expect("writing to a String cannot fail");
        text
    }
}

fn replace_by_account(family: &Family<AccountLabels, Gauge>, values: &BTreeMap<String, i64>) {
    family.clear();
    for (account, value) in values {
        family.get_or_create(&AccountLabels { account: account.clone() }).set(*value);
    }
}

/// Records the time since its creation into a duration histogram when dropped.
#[must_use = "the duration is recorded when the timer is dropped"]
pub struct DurationTimer {
    histogram: Histogram,
    started: Instant,
}

impl Drop for DurationTimer {
    fn drop(&mut self) {
        self.histogram.observe(self.started.elapsed().as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desired::model::{
        Account, Area, Doc, DocRef, Environment, Kind, PermissionGrant, Principal, PrincipalKind, TemplateAssignment, Trust,
    };
    use crate::diff::model::{CoverageEntry, DriftItem, Source};
    use crate::templates::model::{Provenance, TemplateVersion};

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn doc<T>(kind: Kind, id: &str, spec: T) -> Doc<T> {
        Doc { doc: DocRef { kind, id: id.to_string(), ..DocRef::default() }, spec }
    }

    fn account(id: &str, name: &str) -> Account {
        Account { id: id.into(), name: name.into(), area: Area::Asp, ou: "/GC".into(), system: None, vendor: None }
    }

    fn grant(id: &str, accounts: &[&str], expires: Option<&str>) -> Doc<PermissionGrant> {
        doc(
            Kind::PermissionGrant,
            id,
            PermissionGrant {
                principal: Principal { kind: PrincipalKind::Vendor, name: "alpha".into() },
                accounts: accounts.iter().map(|a| a.to_string()).collect(),
                role_name: format!("{id}-role"),
                trust: Trust { principals: vec![], external_id: None },
                managed_policies: vec![],
                inline_policies: BTreeMap::new(),
                permission_boundary: None,
                expires: expires.map(date),
                ticket: "CHG-1".into(),
            },
        )
    }

    fn template_version(name: &str, version: &str, published: Option<&str>) -> TemplateVersion {
        TemplateVersion {
            name: name.into(),
            version: version.into(),
            file: format!("templates/{name}/{version}/template.yaml"),
            body: String::new(),
            parsed: serde_json::Value::Null,
            provenance: Provenance { source: "test".into(), sha256: String::new(), published: published.map(str::to_string) },
            parameters: BTreeMap::new(),
            resources: BTreeMap::new(),
        }
    }

    /// Two accounts, one template assignment at 1.1.0 published 2026-10-01,
    /// and three grants.
    fn desired() -> DesiredState {
        let mut state = DesiredState {
            environment: Some(doc(
                Kind::Environment,
                "env",
                Environment {
                    client: "city".into(),
                    regions: vec!["ap-northeast-1".into()],
                    accounts: vec![account("111111111111", "jumin-asp"), account("222222222222", "zeimu-asp")],
                    guardrails: None,
                },
            )),
            templates: vec![doc(
                Kind::TemplateAssignment,
                "baseline",
                TemplateAssignment {
                    template: "gc-security-baseline".into(),
                    version: "1.1.0".into(),
                    accounts: vec!["jumin-asp".into(), "zeimu-asp".into()],
                    regions: vec![],
                    stack_name: None,
                    parameters: BTreeMap::new(),
                },
            )],
            grants: vec![
                grant("soon", &["jumin-asp"], Some("2026-11-20")),
                grant("later", &["jumin-asp", "zeimu-asp"], Some("2027-06-30")),
                grant("no-date", &["zeimu-asp"], None),
            ],
            ..DesiredState::default()
        };
        for (version, published) in [("1.0.0", "2026-04-01"), ("1.1.0", "2026-10-01")] {
            state.template_versions.insert(
                ("gc-security-baseline".into(), version.into()),
                template_version("gc-security-baseline", version, Some(published)),
            );
        }
        state
    }

    fn coverage(account_id: &str, resource_type: ResourceType, id: &str, state: Coverage) -> CoverageEntry {
        CoverageEntry {
            account_id: account_id.into(),
            region: Some("ap-northeast-1".into()),
            resource_type,
            resource_id: id.into(),
            state,
        }
    }

    fn item(account_id: &str, resource_type: ResourceType, id: &str, path: &str) -> DriftItem {
        DriftItem {
            account_id: account_id.into(),
            account_name: String::new(),
            region: Some("ap-northeast-1".into()),
            resource_type,
            resource_id: id.into(),
            change: Change::Modified,
            path: path.into(),
            desired: serde_json::json!("1.1.0"),
            live: serde_json::json!("1.0.0"),
            source: Source::CloudFormation,
            doc: None,
        }
    }

    /// jumin-asp runs baseline 1.0.0 and has a drifted alarm (two properties)
    /// and budget; zeimu-asp is in sync except for an unreadable IAM.
    fn drift() -> Drift {
        Drift {
            items: vec![
                item("111111111111", ResourceType::Stack, "gcops-gc-security-baseline", "version"),
                item("111111111111", ResourceType::Alarm, "cpu-high", "threshold"),
                item("111111111111", ResourceType::Alarm, "cpu-high", "period"),
                item("111111111111", ResourceType::Budget, "jumin-monthly", "monthlyAmount"),
            ],
            coverage: vec![
                coverage("111111111111", ResourceType::Stack, "gcops-gc-security-baseline", Coverage::Drifted),
                coverage("111111111111", ResourceType::Alarm, "cpu-high", Coverage::Drifted),
                coverage("111111111111", ResourceType::Alarm, "disk-full", Coverage::InSync),
                coverage("111111111111", ResourceType::Budget, "jumin-monthly", Coverage::Drifted),
                coverage("222222222222", ResourceType::Stack, "gcops-gc-security-baseline", Coverage::InSync),
                coverage("222222222222", ResourceType::Role, "alpha-operator", Coverage::Unknown),
            ],
            excepted: Vec::new(),
        }
    }

    fn key3(account: &str, kind: ResourceType, state: ResourceState) -> (String, String, ResourceState) {
        (account.to_string(), kind.as_str().to_string(), state)
    }

    #[test]
    fn snapshot_counts_resources_by_state() {
        let snap = snapshot(&desired(), &drift(), date("2026-11-01"));
        assert_eq!(snap.resources[&key3("jumin-asp", ResourceType::Alarm, ResourceState::InSync)], 1);
        assert_eq!(snap.resources[&key3("jumin-asp", ResourceType::Alarm, ResourceState::Drifted)], 1);
        assert_eq!(snap.resources[&key3("zeimu-asp", ResourceType::Role, ResourceState::Unknown)], 1);
    }

    #[test]
    fn snapshot_zero_fills_states() {
        let snap = snapshot(&desired(), &drift(), date("2026-11-01"));
        assert_eq!(snap.resources[&key3("jumin-asp", ResourceType::Alarm, ResourceState::NotChecked)], 0);
        assert_eq!(snap.resources[&key3("zeimu-asp", ResourceType::Role, ResourceState::InSync)], 0);
        assert_eq!(snap.resources.len(), 5 * 4, "five (account, kind) pairs, four states each");
    }

    #[test]
    fn snapshot_counts_drift_items() {
        let snap = snapshot(&desired(), &drift(), date("2026-11-01"));
        let kind = |t: ResourceType| t.as_str().to_string();
        assert_eq!(snap.drift_items[&("jumin-asp".to_string(), kind(ResourceType::Alarm))], 2);
        assert_eq!(snap.drift_items[&("jumin-asp".to_string(), kind(ResourceType::Stack))], 1);
        assert_eq!(snap.drift_items[&("zeimu-asp".to_string(), kind(ResourceType::Stack))], 0);
    }

    #[test]
    fn snapshot_counts_resources_out_of_sync_once() {
        let snap = snapshot(&desired(), &drift(), date("2026-11-01"));
        assert_eq!(snap.alarms_out_of_sync["jumin-asp"], 1);
        assert_eq!(snap.budgets_out_of_sync["jumin-asp"], 1);
        assert_eq!(snap.alarms_out_of_sync["zeimu-asp"], 0);
        assert_eq!(snap.budgets_out_of_sync["zeimu-asp"], 0);
    }

    #[test]
    fn snapshot_template_lag_behind() {
        let snap = snapshot(&desired(), &drift(), date("2026-11-01"));
        let lag = &snap.template_lag[&("gc-security-baseline".to_string(), "jumin-asp".to_string())];
        assert!(lag.behind);
        assert_eq!(lag.lag_seconds, Some(31 * SECONDS_PER_DAY), "1.1.0 was published on 2026-10-01");
    }

    #[test]
    fn snapshot_template_lag_current() {
        let snap = snapshot(&desired(), &drift(), date("2026-11-01"));
        let lag = &snap.template_lag[&("gc-security-baseline".to_string(), "zeimu-asp".to_string())];
        assert!(!lag.behind);
        assert_eq!(lag.lag_seconds, Some(0));
    }

    #[test]
    fn snapshot_template_lag_unread_is_absent() {
        let mut drift = drift();
        drift.coverage.retain(|c| c.account_id != "222222222222");
        let snap = snapshot(&desired(), &drift, date("2026-11-01"));
        assert!(!snap.template_lag.contains_key(&("gc-security-baseline".to_string(), "zeimu-asp".to_string())));
    }

    #[test]
    fn snapshot_template_lag_without_published_date() {
        let mut desired = desired();
        for version in desired.template_versions.values_mut() {
            version.provenance.published = None;
        }
        let snap = snapshot(&desired, &drift(), date("2026-11-01"));
        let lag = &snap.template_lag[&("gc-security-baseline".to_string(), "jumin-asp".to_string())];
        assert!(lag.behind);
        assert_eq!(lag.lag_seconds, None);
    }

    #[test]
    fn snapshot_grants_expiring_within_window() {
        let snap = snapshot(&desired(), &drift(), date("2026-11-01"));
        assert_eq!(snap.grants_expiring["jumin-asp"], 1, "only `soon` ends within 30 days");
        assert_eq!(snap.grants_expiring["zeimu-asp"], 0);
    }

    #[test]
    fn snapshot_grant_expiry_boundary() {
        let on_boundary = snapshot(&desired(), &drift(), date("2026-10-21"));
        let past_boundary = snapshot(&desired(), &drift(), date("2026-10-20"));
        assert_eq!(on_boundary.grants_expiring["jumin-asp"], 1, "30 days before the last valid day");
        assert_eq!(past_boundary.grants_expiring["jumin-asp"], 0, "31 days before the last valid day");
    }

    #[test]
    fn snapshot_grant_expiry_timestamp_is_midnight_jst() {
        let snap = snapshot(&desired(), &drift(), date("2026-11-01"));
        // 2026-11-21T00:00:00+09:00 = 2026-11-20T15:00:00Z.
        let expected = DateTime::parse_from_rfc3339("2026-11-20T15:00:00Z").unwrap().timestamp();
        assert_eq!(snap.grant_expiry[&("soon".to_string(), "jumin-asp".to_string())], expected);
        assert_eq!(snap.grant_expiry.len(), 3, "the grant without a date has no timestamp");
    }

    #[test]
    fn snapshot_unknown_account_uses_id() {
        let mut drift = drift();
        drift.coverage.push(coverage("999999999999", ResourceType::Role, "x", Coverage::InSync));
        let snap = snapshot(&desired(), &drift, date("2026-11-01"));
        assert_eq!(snap.resources[&key3("999999999999", ResourceType::Role, ResourceState::InSync)], 1);
    }

    #[test]
    fn publish_replaces_previous_series() {
        let metrics = Metrics::new();
        metrics.publish(&snapshot(&desired(), &drift(), date("2026-11-01")));
        assert!(metrics.encode_openmetrics().contains("account=\"zeimu-asp\""));

        let mut smaller = desired();
        smaller.environment.as_mut().unwrap().spec.accounts.retain(|a| a.name == "jumin-asp");
        smaller.grants.clear();
        smaller.templates.clear();
        let mut drift = drift();
        drift.coverage.retain(|c| c.account_id == "111111111111");
        metrics.publish(&snapshot(&smaller, &drift, date("2026-11-01")));
        let text = metrics.encode_openmetrics();
        assert!(!text.contains("zeimu-asp"), "a vanished account must stop being reported:\n{text}");
        assert!(text.contains("gcops_alarms_out_of_sync{account=\"jumin-asp\"} 1"));
    }

    #[test]
    fn record_pass_sets_last_success() {
        let metrics = Metrics::new();
        let at = DateTime::parse_from_rfc3339("2026-11-01T00:00:00Z").unwrap().with_timezone(&Utc);
        metrics.record_pass(PassResult::Failure, at);
        assert!(metrics.encode_openmetrics().contains("gcops_last_success_timestamp_seconds 0.0"));
        metrics.record_pass(PassResult::Success, at);
        let text = metrics.encode_openmetrics();
        assert!(text.contains("gcops_reconcile_passes_total{outcome=\"success\"} 1"));
        assert!(text.contains("gcops_reconcile_passes_total{outcome=\"failure\"} 1"));
        assert!(text.contains(&format!("gcops_last_success_timestamp_seconds {}", at.timestamp() as f64)), "{text}");
    }

    #[test]
    fn timer_records_on_drop() {
        let metrics = Metrics::new();
        drop(metrics.time_step(Step::ReadLive));
        drop(metrics.time_pass());
        let text = metrics.encode_openmetrics();
        assert!(text.contains("gcops_reconcile_step_duration_seconds_count{step=\"read_live\"} 1"), "{text}");
        assert!(text.contains("gcops_reconcile_pass_duration_seconds_count 1"));
    }

    #[test]
    fn build_info_carries_version() {
        let text = Metrics::new().encode_openmetrics();
        assert!(text.contains(&format!("gcops_build_info{{version=\"{}\"}} 1", env!("CARGO_PKG_VERSION"))));
    }
}
