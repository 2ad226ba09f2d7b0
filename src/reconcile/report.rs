//! The plan as an operator reads it: text for terminals, and a stable JSON
//! document for scripts (`gcops plan --format json`).

use serde::Serialize;

use super::Plan;
use crate::diff::model::{Change, Coverage, CoverageCounts, CoverageEntry, DriftItem, ResourceType};
use crate::i18n::Lang;
use crate::live::model::{LiveState, Read};

/// Unmanaged roles and users listed in the text plan; `--format json` lists all.
const UNMANAGED_TEXT_LIMIT: usize = 20;

/// `gcops plan --format json`. Field names and meanings are stable; new
/// fields may be added.
#[derive(Debug, Serialize)]
pub struct PlanReport<'a> {
    #[serde(rename = "apiVersion")]
    pub api_version: &'static str,
    pub kind: &'static str,
    pub commit: String,
    pub counts: Counts,
    pub items: &'a [DriftItem],
    /// Drift covered by a filled-in Exception document.
    pub excepted: &'a [DriftItem],
    /// Reads that failed or were skipped, with their reasons.
    pub reads: Vec<ReadNote>,
    /// IAM roles and users that exist live but that no desired document
    /// names: gcops does not compare them ("not checked"), and lists them
    /// so that a role or user created by hand is seen.
    pub unmanaged: Vec<&'a CoverageEntry>,
}

#[derive(Debug, Serialize)]
pub struct Counts {
    #[serde(flatten)]
    pub coverage: CoverageCounts,
    pub drift_items: usize,
    pub excepted_items: usize,
}

/// A read whose result is not evidence: `unknown` (failed) or `not_checked`.
#[derive(Debug, Serialize)]
pub struct ReadNote {
    pub account_id: Option<String>,
    pub region: Option<String>,
    pub service: &'static str,
    pub state: &'static str,
    pub reason: String,
}

impl<'a> PlanReport<'a> {
    pub fn new(plan: &'a Plan) -> PlanReport<'a> {
        PlanReport {
            api_version: crate::desired::model::API_VERSION,
            kind: "Plan",
            commit: plan.commit.to_string(),
            counts: Counts {
                coverage: plan.drift.counts(),
                drift_items: plan.drift.items.len(),
                excepted_items: plan.drift.excepted.len(),
            },
            items: &plan.drift.items,
            excepted: &plan.drift.excepted,
            reads: read_notes(&plan.live),
            unmanaged: plan
                .drift
                .coverage
                .iter()
                .filter(|e| e.state == Coverage::NotChecked && matches!(e.resource_type, ResourceType::Role | ResourceType::User))
                .collect(),
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("plan report serialises")
    }

    /// Text for a terminal, in the operator's language.
    pub fn to_text(&self, lang: Lang) -> String {
        let code = lang.code();
        let mut out = String::new();
        out.push_str(&rust_i18n::t!("plan.commit", locale = code, commit = self.commit));
        out.push('\n');
        if self.items.is_empty() {
            out.push_str(&rust_i18n::t!("plan.no_drift", locale = code));
            out.push('\n');
        } else {
            out.push_str(&rust_i18n::t!("plan.drift_header", locale = code, count = self.items.len()));
            out.push('\n');
            for item in self.items {
                let region = item.region.clone().unwrap_or_else(|| rust_i18n::t!("plan.global", locale = code).into_owned());
                let path = if item.path.is_empty() { "-" } else { item.path.as_str() };
                let change = match item.change {
                    Change::Missing => rust_i18n::t!("plan.change.missing", locale = code),
                    Change::Modified => rust_i18n::t!("plan.change.modified", locale = code),
                    Change::Unexpected => rust_i18n::t!("plan.change.unexpected", locale = code),
                };
                out.push_str(&format!(
                    "  {} ({}) {} {} [{}] {}: {change}\n      {}: {}\n      {}: {}\n",
                    item.account_name,
                    item.account_id,
                    region,
                    item.resource_type.as_str(),
                    item.resource_id,
                    path,
                    rust_i18n::t!("plan.desired", locale = code),
                    compact(&item.desired, lang),
                    rust_i18n::t!("plan.live", locale = code),
                    compact(&item.live, lang),
                ));
            }
        }
        if !self.unmanaged.is_empty() {
            out.push_str(&rust_i18n::t!("plan.unmanaged_header", locale = code, count = self.unmanaged.len()));
            out.push('\n');
            // Real accounts carry many service roles; the JSON has them all.
            for entry in self.unmanaged.iter().take(UNMANAGED_TEXT_LIMIT) {
                let region = entry.region.clone().unwrap_or_else(|| rust_i18n::t!("plan.global", locale = code).into_owned());
                out.push_str(&format!(
                    "  {} {} {} [{}]\n",
                    entry.account_id,
                    region,
                    entry.resource_type.as_str(),
                    entry.resource_id
                ));
            }
            if self.unmanaged.len() > UNMANAGED_TEXT_LIMIT {
                let more = self.unmanaged.len() - UNMANAGED_TEXT_LIMIT;
                out.push_str(&rust_i18n::t!("plan.unmanaged_more", locale = code, count = more));
                out.push('\n');
            }
        }
        let unknown: Vec<&ReadNote> = self.reads.iter().filter(|r| r.state == "unknown").collect();
        if !unknown.is_empty() {
            out.push_str(&rust_i18n::t!("plan.unknown_reads", locale = code));
            out.push('\n');
            for note in unknown {
                out.push_str(&format!("  {}\n", note.reason));
            }
        }
        let c = &self.counts.coverage;
        out.push_str(&rust_i18n::t!(
            "plan.counts",
            locale = code,
            checked = c.checked,
            in_sync = c.in_sync,
            drifted = c.drifted,
            not_checked = c.not_checked,
            unknown = c.unknown,
            excepted = self.counts.excepted_items
        ));
        out.push('\n');
        out
    }
}

fn compact(value: &serde_json::Value, lang: Lang) -> String {
    match value {
        serde_json::Value::Null => rust_i18n::t!("plan.none", locale = lang.code()).into_owned(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn note<T>(read: &Read<T>, account_id: Option<&str>, region: Option<&str>, service: &'static str) -> Option<ReadNote> {
    let (state, reason) = match read {
        Read::Ok { .. } => return None,
        Read::Unknown { reason } => ("unknown", reason),
        Read::NotChecked { reason } => ("not_checked", reason),
    };
    Some(ReadNote {
        account_id: account_id.map(str::to_string),
        region: region.map(str::to_string),
        service,
        state,
        reason: reason.clone(),
    })
}

fn read_notes(live: &LiveState) -> Vec<ReadNote> {
    let mut notes = Vec::new();
    if let Some(org) = &live.organization {
        notes.extend(note(org, None, None, "organizations"));
    }
    for (id, account) in &live.accounts {
        notes.extend(note(&account.iam, Some(id), None, "iam"));
        notes.extend(note(&account.budgets, Some(id), None, "budgets"));
        for (region, r) in &account.regions {
            notes.extend(note(&r.stacks, Some(id), Some(region), "cloudformation"));
            notes.extend(note(&r.alarms, Some(id), Some(region), "cloudwatch"));
            notes.extend(note(&r.topics, Some(id), Some(region), "sns"));
            notes.extend(note(&r.config_rules, Some(id), Some(region), "config"));
        }
    }
    notes
}
