//! Desired-state documents as they appear in `desired-state/`, after parsing.
//!
//! Every document has `apiVersion: gcops/v1` and a `kind`. Field names in
//! YAML are camelCase; unknown fields are rejected by the loader.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The only regions Government Cloud allows for AWS accounts.
pub const GC_REGIONS: [&str; 2] = ["ap-northeast-1", "ap-northeast-3"];

/// The `apiVersion` every document of this format carries.
pub const API_VERSION: &str = "gcops/v1";

/// Where a document or a value came from: file path relative to the
/// repository root, 1-based line and column.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SourcePos {
    pub file: String,
    pub line: u64,
    pub column: u64,
}

impl std::fmt::Display for SourcePos {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// Identity of one loaded document, kept so that drift can be traced back to
/// the text that declares it and a pull request can edit that text.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct DocRef {
    /// Path relative to the repository root, e.g. `desired-state/monitoring/alarms.yaml`.
    pub file: String,
    /// 0-based index of the document within a multi-document file.
    pub index: usize,
    pub kind: Kind,
    pub id: String,
    /// Position of the document's first line.
    pub pos: SourcePos,
}

/// Document kinds of `gcops/v1`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
pub enum Kind {
    #[default]
    Environment,
    TemplateAssignment,
    PermissionGrant,
    AlarmRule,
    Budget,
    ConfigRule,
    Exception,
}

impl Kind {
    pub const ALL: [Kind; 7] = [
        Kind::Environment,
        Kind::TemplateAssignment,
        Kind::PermissionGrant,
        Kind::AlarmRule,
        Kind::Budget,
        Kind::ConfigRule,
        Kind::Exception,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Environment => "Environment",
            Kind::TemplateAssignment => "TemplateAssignment",
            Kind::PermissionGrant => "PermissionGrant",
            Kind::AlarmRule => "AlarmRule",
            Kind::Budget => "Budget",
            Kind::ConfigRule => "ConfigRule",
            Kind::Exception => "Exception",
        }
    }
}

/// Area of a GC account: run by the operations assistant, or handed to an ASP vendor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Area {
    Operations,
    Asp,
}

/// `kind: Environment`: the client, its accounts and the regions it may use.
/// Exactly one per repository.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Environment {
    /// Name of the client (the municipality or agency), shown in reports.
    pub client: String,
    /// Regions this client uses; each must be one that GC allows.
    pub regions: Vec<String>,
    pub accounts: Vec<Account>,
    /// Permission guardrails checked on every PermissionGrant. When absent,
    /// the defaults of [`Guardrails`] apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guardrails: Option<Guardrails>,
}

/// Permission guardrails (権限管理): limits on what a PermissionGrant may
/// give, checked by `gcops validate` and on every plan. Vendor grants get
/// every rule. Operator grants get only `maxExpiryMonths` and
/// `requireBoundary`, unless `allRulesForOperators` is on. A field left out
/// keeps its default.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Guardrails {
    /// Switch that limits a vendor grant to `area: asp` accounts whose
    /// `vendor` is the grant's principal name. Default true.
    pub vendor_own_accounts_only: bool,
    /// Actions no Allow statement of an inline policy may grant, compared
    /// case-insensitively. An entry `service:pattern` denies every action
    /// the pattern can reach, including wildcards such as `*` or `iam:Pass*`.
    /// The entry `*` denies the all-actions wildcard itself. `NotAction` in
    /// an Allow statement counts as a wildcard. Empty turns the rule off.
    pub denied_actions: Vec<String>,
    /// Switch that denies `sts:AssumeRole` (or a wildcard reaching it, e.g.
    /// `sts:*`) allowed on Resource `*`. Default true.
    pub deny_assume_role_any: bool,
    /// Switch that makes `permissionBoundary` required. Default true.
    pub require_boundary: bool,
    /// Latest `expires` allowed, in months after today. 0 turns the limit
    /// off. Default 12.
    pub max_expiry_months: u32,
    /// Switch that denies trust principals containing a wildcard (`*`,
    /// `arn:aws:iam::*:root`). Default true.
    pub deny_trust_wildcards: bool,
    /// Switch that requires every trust principal of a vendor grant to be
    /// the IAM ARN of an account root, a role or a user. Default true.
    pub vendor_trust_arns_only: bool,
    /// Managed policy ARNs no grant may attach, compared
    /// case-insensitively. Empty turns the rule off.
    pub denied_managed_policies: Vec<String>,
    /// Switch that applies every rule except the vendor-only ones
    /// (`vendorOwnAccountsOnly`, `vendorTrustArnsOnly`) to operator grants
    /// too. Default false, so operators get only the expiry and boundary rules.
    pub all_rules_for_operators: bool,
    /// Latest `expires` of an Exception, in months after today. 0 turns the
    /// limit off. Default 12. An Exception that has expired is always an
    /// error, because it would stop covering its drift without notice.
    pub max_exception_months: u32,
}

impl Default for Guardrails {
    fn default() -> Self {
        Guardrails {
            vendor_own_accounts_only: true,
            denied_actions: ["*", "iam:*", "organizations:*", "account:*"].map(String::from).to_vec(),
            deny_assume_role_any: true,
            require_boundary: true,
            max_expiry_months: 12,
            deny_trust_wildcards: true,
            vendor_trust_arns_only: true,
            denied_managed_policies: ["arn:aws:iam::aws:policy/AdministratorAccess", "arn:aws:iam::aws:policy/IAMFullAccess"]
                .map(String::from)
                .to_vec(),
            all_rules_for_operators: false,
            max_exception_months: 12,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Account {
    /// 12-digit AWS account id, quoted so YAML keeps leading zeros.
    pub id: String,
    /// Short name used in branch names and reports, e.g. `jumin-asp`.
    pub name: String,
    pub area: Area,
    /// Organizations OU path from the root, e.g. `/GC/ASP/resident-records`.
    pub ou: String,
    /// Business system this account serves; the unit of cost allocation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    /// ASP vendor that operates the account; required when `area: asp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor: Option<String>,
}

/// `kind: TemplateAssignment`: a mandatory template version applied to accounts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TemplateAssignment {
    /// Folder name under `templates/`.
    pub template: String,
    /// Version folder under `templates/<template>/`.
    pub version: String,
    /// Account names the stack must run in.
    pub accounts: Vec<String>,
    /// Regions; defaults to the environment's first region.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regions: Vec<String>,
    /// CloudFormation stack name; defaults to `gcops-<template>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack_name: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub parameters: BTreeMap<String, String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PrincipalKind {
    /// An ASP vendor; guardrails apply.
    Vendor,
    /// The operations assistant's own staff.
    Operator,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Principal {
    pub kind: PrincipalKind,
    /// Vendor name (must match an account's `vendor`) or operator team name.
    pub name: String,
}

/// Who may assume the granted role.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Trust {
    /// IAM principal ARNs (accounts, roles or users) allowed to assume the role.
    pub principals: Vec<String>,
    /// Required `sts:ExternalId`, if the vendor uses one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
}

/// `kind: PermissionGrant`: an IAM role for a vendor or operator in target accounts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PermissionGrant {
    pub principal: Principal,
    pub accounts: Vec<String>,
    pub role_name: String,
    pub trust: Trust,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub managed_policies: Vec<String>,
    /// Inline policies by name; each value is an IAM policy document.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(with = "BTreeMap<String, serde_json::Value>")]
    pub inline_policies: BTreeMap<String, serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permission_boundary: Option<String>,
    /// Last day the grant is valid (YYYY-MM-DD); required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<NaiveDate>,
    /// Change ticket that approved the grant.
    pub ticket: String,
}

/// SNS target of an alarm.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Notify {
    pub topic_name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subscriptions: Vec<Subscription>,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Subscription {
    /// SNS protocol: `email`, `https`, `sqs`, `lambda`, ...
    pub protocol: String,
    pub endpoint: String,
}

/// `kind: AlarmRule`: a CloudWatch metric alarm and where it notifies.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AlarmRule {
    pub accounts: Vec<String>,
    /// Defaults to the environment's first region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    pub alarm_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub namespace: String,
    pub metric_name: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub dimensions: BTreeMap<String, String>,
    /// `Average`, `Sum`, `Minimum`, `Maximum` or `SampleCount`.
    pub statistic: String,
    /// Seconds.
    pub period: i32,
    pub evaluation_periods: i32,
    pub threshold: f64,
    /// CloudWatch comparison operator, e.g. `GreaterThanOrEqualToThreshold`.
    pub comparison_operator: String,
    /// `missing`, `notBreaching`, `breaching` or `ignore`; defaults to `missing`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub treat_missing_data: Option<String>,
    pub notify: Notify,
}

/// `kind: Budget`: the monthly cost budget of one business system.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Budget {
    pub system: String,
    /// Accounts that carry the budget; defaults to every account of `system`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accounts: Vec<String>,
    pub budget_name: String,
    /// Monthly limit in `unit`.
    pub monthly_amount: f64,
    /// Currency of the limit; defaults to USD, the unit AWS Budgets bills in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// Notification thresholds in percent of actual cost against the limit.
    pub thresholds: Vec<f64>,
    /// E-mail addresses notified at each threshold.
    pub addresses: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RuleSource {
    /// `AWS` for managed rules, `CUSTOM_LAMBDA` or `CUSTOM_POLICY`.
    pub owner: String,
    /// Managed rule identifier, e.g. `IAM_PASSWORD_POLICY`, or a Lambda ARN.
    pub identifier: String,
}

/// `kind: ConfigRule`: an AWS Config rule in target accounts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConfigRule {
    pub accounts: Vec<String>,
    /// Defaults to the environment's first region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    pub rule_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub source: RuleSource,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub input_parameters: BTreeMap<String, String>,
    /// e.g. `TwentyFour_Hours`; only for periodic rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum_execution_frequency: Option<String>,
}

/// `kind: Exception`: an accepted deviation from the desired state.
/// Drift pull requests add these with `reason`, `approver` and `expires`
/// empty; validation rejects them until a reviewer fills them in.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Exception {
    pub account: String,
    /// Resource type as in drift items, e.g. `AWS::CloudFormation::Stack`.
    pub resource_type: String,
    pub resource_id: String,
    /// Property path inside the resource; empty means the whole resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub property: Option<String>,
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub approver: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<NaiveDate>,
}

/// One loaded document with its identity.
#[derive(Clone, Debug, PartialEq)]
pub struct Doc<T> {
    pub doc: DocRef,
    pub spec: T,
}

/// Everything `desired-state/` and `templates/` say, after validation.
#[derive(Clone, Debug, Default)]
pub struct DesiredState {
    /// Commit the state was read from; empty when read from a plain folder.
    pub commit: String,
    pub environment: Option<Doc<Environment>>,
    pub templates: Vec<Doc<TemplateAssignment>>,
    pub grants: Vec<Doc<PermissionGrant>>,
    pub alarms: Vec<Doc<AlarmRule>>,
    pub budgets: Vec<Doc<Budget>>,
    pub config_rules: Vec<Doc<ConfigRule>>,
    pub exceptions: Vec<Doc<Exception>>,
    /// Mandatory template versions found under `templates/`, by `(name, version)`.
    pub template_versions: BTreeMap<(String, String), crate::templates::TemplateVersion>,
}

impl DesiredState {
    /// The environment's accounts; empty when no Environment document loaded.
    pub fn accounts(&self) -> &[Account] {
        self.environment.as_ref().map(|e| e.spec.accounts.as_slice()).unwrap_or(&[])
    }

    pub fn account_by_name(&self, name: &str) -> Option<&Account> {
        self.accounts().iter().find(|a| a.name == name)
    }

    /// First region of the environment, the default for region-scoped kinds.
    pub fn home_region(&self) -> &str {
        self.environment.as_ref().and_then(|e| e.spec.regions.first()).map(String::as_str).unwrap_or(GC_REGIONS[0])
    }
}
