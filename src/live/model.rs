//! Live state as read from AWS, per account and region.
//!
//! A read either succeeded, failed (`Unknown`: the listing broke, access was
//! denied, throttling outlasted the retries), or was not attempted
//! (`NotChecked`: the service is not reachable by design, e.g. no
//! Organizations access). Diff treats only `Ok` data as evidence.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Outcome of one read of one service in one account (and region).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Read<T> {
    Ok {
        value: T,
    },
    /// The read failed; `reason` names service, operation and error.
    Unknown {
        reason: String,
    },
    /// gcops did not read this, on purpose.
    NotChecked {
        reason: String,
    },
}

impl<T> Read<T> {
    pub fn ok(value: T) -> Self {
        Read::Ok { value }
    }

    pub fn as_ok(&self) -> Option<&T> {
        match self {
            Read::Ok { value } => Some(value),
            _ => None,
        }
    }
}

/// Everything read in one pass.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct LiveState {
    /// Read once from the management (or delegated) account.
    pub organization: Option<Read<Organization>>,
    /// Keyed by 12-digit account id.
    pub accounts: BTreeMap<String, AccountLive>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Organization {
    /// Account id to OU path from the root (`/GC/ASP/x`); the root itself is `/`.
    pub account_ous: BTreeMap<String, String>,
    /// Account id to the SCP names attached directly to it.
    pub account_policies: BTreeMap<String, Vec<String>>,
    /// OU path to SCP names attached to it.
    pub ou_policies: BTreeMap<String, Vec<String>>,
}

/// Reads of one member account.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AccountLive {
    pub account_id: String,
    /// Global services (IAM).
    pub iam: Read<Iam>,
    /// Budgets is a global service of the account.
    pub budgets: Read<Vec<LiveBudget>>,
    pub regions: BTreeMap<String, RegionLive>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RegionLive {
    pub stacks: Read<Vec<LiveStack>>,
    pub alarms: Read<Vec<LiveAlarm>>,
    pub topics: Read<Vec<LiveTopic>>,
    pub config_rules: Read<Vec<LiveConfigRule>>,
}

impl RegionLive {
    /// Returns a region gcops did not read on purpose, with the same `reason` for every service.
    pub fn not_checked(reason: &str) -> RegionLive {
        RegionLive {
            stacks: Read::NotChecked { reason: reason.to_string() },
            alarms: Read::NotChecked { reason: reason.to_string() },
            topics: Read::NotChecked { reason: reason.to_string() },
            config_rules: Read::NotChecked { reason: reason.to_string() },
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Iam {
    pub roles: Vec<LiveRole>,
    /// User names; gcops lists users for the access review but does not compare them.
    pub users: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LiveRole {
    pub name: String,
    pub arn: String,
    pub path: String,
    /// Trust policy as returned (may be percent-encoded JSON).
    pub trust_policy: String,
    /// Inline policy name to document text as returned (may be percent-encoded).
    pub inline_policies: BTreeMap<String, String>,
    pub managed_policy_arns: Vec<String>,
    pub permission_boundary: Option<String>,
    pub tags: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LiveStack {
    pub name: String,
    pub stack_id: String,
    /// e.g. `CREATE_COMPLETE`, `UPDATE_ROLLBACK_COMPLETE`.
    pub status: String,
    pub parameters: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
    /// Template text from GetTemplate (Original stage).
    pub template_body: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LiveAlarm {
    pub name: String,
    pub arn: String,
    pub description: Option<String>,
    pub namespace: Option<String>,
    pub metric_name: Option<String>,
    pub dimensions: BTreeMap<String, String>,
    pub statistic: Option<String>,
    pub period: Option<i32>,
    pub evaluation_periods: Option<i32>,
    pub threshold: Option<f64>,
    pub comparison_operator: Option<String>,
    pub treat_missing_data: Option<String>,
    pub alarm_actions: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LiveTopic {
    pub name: String,
    pub arn: String,
    /// `(protocol, endpoint)` pairs of confirmed and pending subscriptions.
    pub subscriptions: Vec<(String, String)>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LiveBudget {
    pub name: String,
    /// `COST`, `USAGE`, ...
    pub budget_type: String,
    /// `MONTHLY`, `QUARTERLY`, ...
    pub time_unit: String,
    pub limit_amount: Option<String>,
    pub limit_unit: Option<String>,
    pub notifications: Vec<LiveBudgetNotification>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LiveBudgetNotification {
    /// `ACTUAL` or `FORECASTED`.
    pub notification_type: String,
    pub comparison_operator: String,
    pub threshold: f64,
    /// `PERCENTAGE` or `ABSOLUTE_VALUE`.
    pub threshold_type: String,
    /// E-mail addresses among the subscribers.
    pub addresses: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LiveConfigRule {
    pub name: String,
    pub arn: String,
    pub description: Option<String>,
    pub owner: String,
    pub identifier: String,
    /// Parsed from the rule's `InputParameters` JSON; values as strings.
    pub input_parameters: BTreeMap<String, String>,
    pub maximum_execution_frequency: Option<String>,
    /// `ACTIVE`, `DELETING`, ...
    pub state: Option<String>,
}
