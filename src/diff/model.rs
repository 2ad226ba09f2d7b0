//! Drift items and coverage counts: the output of the diff engine.

use serde::{Deserialize, Serialize};

use crate::desired::model::DocRef;

/// AWS service (or source) a drift item was seen in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Organizations,
    CloudFormation,
    Iam,
    CloudWatch,
    Sns,
    Budgets,
    Config,
}

/// Kind of live resource, with the CloudFormation type name as its label.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ResourceType {
    #[serde(rename = "AWS::Organizations::Account")]
    Account,
    #[serde(rename = "AWS::CloudFormation::Stack")]
    Stack,
    #[serde(rename = "AWS::IAM::Role")]
    Role,
    #[serde(rename = "AWS::IAM::User")]
    User,
    #[serde(rename = "AWS::CloudWatch::Alarm")]
    Alarm,
    #[serde(rename = "AWS::SNS::Topic")]
    Topic,
    #[serde(rename = "AWS::Budgets::Budget")]
    Budget,
    #[serde(rename = "AWS::Config::ConfigRule")]
    ConfigRule,
}

impl ResourceType {
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceType::Account => "AWS::Organizations::Account",
            ResourceType::Stack => "AWS::CloudFormation::Stack",
            ResourceType::Role => "AWS::IAM::Role",
            ResourceType::User => "AWS::IAM::User",
            ResourceType::Alarm => "AWS::CloudWatch::Alarm",
            ResourceType::Topic => "AWS::SNS::Topic",
            ResourceType::Budget => "AWS::Budgets::Budget",
            ResourceType::ConfigRule => "AWS::Config::ConfigRule",
        }
    }
}

/// Kind of difference a drift item records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// Desired, but absent live.
    Missing,
    /// Present on both sides with a different value.
    Modified,
    /// Present live (e.g. a policy added by hand) but not desired.
    Unexpected,
}

/// One difference between git and AWS.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DriftItem {
    pub account_id: String,
    pub account_name: String,
    /// `None` for global services (IAM, Budgets, Organizations).
    pub region: Option<String>,
    pub resource_type: ResourceType,
    /// Name of the resource (role name, alarm name, stack name, account id).
    pub resource_id: String,
    pub change: Change,
    /// Dotted path of the differing property, matching the YAML keys of the
    /// desired document (`threshold`, `inlinePolicies.HandAdded`); empty when
    /// the whole resource is missing.
    pub path: String,
    /// Desired value in the document's own terms; `null` when not desired.
    pub desired: serde_json::Value,
    /// Live value, normalised into the document's terms; `null` when absent.
    pub live: serde_json::Value,
    pub source: Source,
    /// Desired document that declares the resource; `None` for unexpected
    /// live resources that no document names.
    pub doc: Option<DocRef>,
}

/// State of one resource at the end of a pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Coverage {
    InSync,
    Drifted,
    /// gcops does not compare this type or property, or did not read the service.
    NotChecked,
    /// The read failed, so nothing is known.
    Unknown,
}

/// One resource's coverage, for counts per account and kind.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CoverageEntry {
    pub account_id: String,
    pub region: Option<String>,
    pub resource_type: ResourceType,
    pub resource_id: String,
    pub state: Coverage,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoverageCounts {
    pub checked: usize,
    pub in_sync: usize,
    pub drifted: usize,
    pub not_checked: usize,
    pub unknown: usize,
}

/// Result of diffing one desired state against one live state.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Drift {
    pub items: Vec<DriftItem>,
    pub coverage: Vec<CoverageEntry>,
    /// Drift that a valid exception accepts. It is kept out of `items` so
    /// that it opens no pull request, and kept here so that reports list it.
    #[serde(default)]
    pub excepted: Vec<DriftItem>,
}

impl Drift {
    /// Counts over all entries; `checked` = in sync + drifted.
    pub fn counts(&self) -> CoverageCounts {
        let mut c = CoverageCounts::default();
        for e in &self.coverage {
            match e.state {
                Coverage::InSync => c.in_sync += 1,
                Coverage::Drifted => c.drifted += 1,
                Coverage::NotChecked => c.not_checked += 1,
                Coverage::Unknown => c.unknown += 1,
            }
        }
        c.checked = c.in_sync + c.drifted;
        c
    }

    /// Drift items of one account, in a stable order.
    pub fn items_for(&self, account_id: &str) -> Vec<&DriftItem> {
        let mut v: Vec<&DriftItem> = self.items.iter().filter(|i| i.account_id == account_id).collect();
        v.sort_by(|a, b| {
            (a.resource_type, &a.resource_id, &a.region, &a.path).cmp(&(b.resource_type, &b.resource_id, &b.region, &b.path))
        });
        v
    }
}
