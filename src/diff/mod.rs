//! The diff engine: pure functions from (desired state, live state) to drift
//! items and coverage entries.
//!
//! Each desired document expands into one resource instance per target
//! account (and region, for regional kinds). Every instance ends with one
//! coverage entry; only instances whose live read succeeded can be in sync.
//! Live resources that no document names are listed as not checked.

pub mod model;

mod accounts;
mod alarms;
mod budgets;
mod config_rules;
mod coverage;
mod grants;
pub mod normalize;
pub mod policy;
mod stacks;

#[cfg(test)]
mod testkit;

use std::collections::BTreeSet;

use chrono::{FixedOffset, NaiveDate, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::desired::model::{Account, DesiredState, DocRef, Exception};
use crate::live::model::{AccountLive, LiveState, Read};

use model::{Change, Coverage, CoverageEntry, Drift, DriftItem, ResourceType, Source};

/// Compares `desired` with `live`, applying exceptions valid today in Japan
/// (Asia/Tokyo), the time zone every Government Cloud client works in.
pub fn diff(desired: &DesiredState, live: &LiveState) -> Drift {
    diff_on(desired, live, today_in_japan())
}

/// Compares `desired` with `live`; exceptions whose `expires` is before
/// `today` no longer hide drift.
pub fn diff_on(desired: &DesiredState, live: &LiveState, today: NaiveDate) -> Drift {
    let mut out = Collector::default();

    accounts::diff_accounts(desired, live, &mut out);
    stacks::diff_stacks(desired, live, &mut out);
    grants::diff_grants(desired, live, &mut out);
    alarms::diff_alarms(desired, live, &mut out);
    budgets::diff_budgets(desired, live, &mut out);
    config_rules::diff_config_rules(desired, live, &mut out);
    coverage::list_unmanaged(live, &mut out);

    let Collector { mut items, mut coverage, .. } = out;
    sort_items(&mut items);
    coverage.sort();
    coverage.dedup();

    let (excepted, items) = items.into_iter().partition(|item| excepted_by(desired, item, today));
    Drift { items, coverage, excepted }
}

/// Hex SHA-256 over the items' canonical JSON, independent of their order.
///
/// Source positions (`doc.pos`, `doc.index`) are left out: they move when
/// unrelated lines of the file change, and the drift stays the same.
pub fn fingerprint(items: &[&DriftItem]) -> String {
    let mut lines: Vec<String> = items
        .iter()
        .map(|item| {
            let mut value = serde_json::to_value(item).unwrap_or(Value::Null);
            if let Some(Value::Object(doc)) = value.get_mut("doc") {
                doc.remove("pos");
                doc.remove("index");
            }
            normalize::canonical_string(&value)
        })
        .collect();
    lines.sort();
    let mut hasher = Sha256::new();
    for line in &lines {
        hasher.update(line.as_bytes());
        hasher.update(b"\n");
    }
    hex::encode(hasher.finalize())
}

fn today_in_japan() -> NaiveDate {
    let japan = FixedOffset::east_opt(9 * 3600).expect("UTC+9 is a valid offset");
    Utc::now().with_timezone(&japan).date_naive()
}

/// Drift items and coverage entries collected while diffing.
#[derive(Default)]
pub(crate) struct Collector {
    items: Vec<DriftItem>,
    coverage: Vec<CoverageEntry>,
    /// Live resources some desired document names, so that the unmanaged
    /// listing skips them.
    claimed: BTreeSet<ResourceKey>,
}

/// Identity of a live resource: account id, region, type and id.
pub(crate) type ResourceKey = (String, Option<String>, ResourceType, String);

impl Collector {
    pub(crate) fn claim(&mut self, account_id: &str, region: Option<&str>, resource_type: ResourceType, id: &str) {
        self.claimed.insert((account_id.to_string(), region.map(str::to_string), resource_type, id.to_string()));
    }

    pub(crate) fn is_claimed(&self, account_id: &str, region: Option<&str>, resource_type: ResourceType, id: &str) -> bool {
        self.claimed.contains(&(account_id.to_string(), region.map(str::to_string), resource_type, id.to_string()))
    }

    pub(crate) fn not_checked(&mut self, account_id: &str, region: Option<&str>, resource_type: ResourceType, id: &str) {
        self.coverage.push(CoverageEntry {
            account_id: account_id.to_string(),
            region: region.map(str::to_string),
            resource_type,
            resource_id: id.to_string(),
            state: Coverage::NotChecked,
        });
    }
}

/// Outcome of looking up one read for one desired instance.
pub(crate) enum Looked<'a, T> {
    Ok(&'a T),
    Unknown,
    NotChecked,
}

/// Looks up a read; an absent read (account or region missing from the live
/// state) means the reader did not deliver, so nothing is known.
pub(crate) fn look<T>(read: Option<&Read<T>>) -> Looked<'_, T> {
    match read {
        Some(Read::Ok { value }) => Looked::Ok(value),
        Some(Read::NotChecked { .. }) => Looked::NotChecked,
        Some(Read::Unknown { .. }) | None => Looked::Unknown,
    }
}

pub(crate) fn account_live<'a>(live: &'a LiveState, account_id: &str) -> Option<&'a AccountLive> {
    live.accounts.get(account_id)
}

/// Resolves a document's account names to the environment's accounts, in
/// document order and without repeats. Unknown names are skipped because
/// validation reports them.
pub(crate) fn target_accounts<'a>(desired: &'a DesiredState, names: &[String]) -> Vec<&'a Account> {
    let mut seen = BTreeSet::new();
    names.iter().filter_map(|name| desired.account_by_name(name)).filter(|account| seen.insert(account.id.clone())).collect()
}

/// One desired resource instance being compared: it collects drift items and
/// ends as one coverage entry.
pub(crate) struct Check<'a> {
    account: &'a Account,
    region: Option<String>,
    resource_type: ResourceType,
    resource_id: String,
    doc: &'a DocRef,
    items: Vec<DriftItem>,
    unknown: bool,
    not_checked: bool,
}

impl<'a> Check<'a> {
    pub(crate) fn new(
        account: &'a Account,
        region: Option<&str>,
        resource_type: ResourceType,
        resource_id: &str,
        doc: &'a DocRef,
    ) -> Self {
        Check {
            account,
            region: region.map(str::to_string),
            resource_type,
            resource_id: resource_id.to_string(),
            doc,
            items: Vec::new(),
            unknown: false,
            not_checked: false,
        }
    }

    pub(crate) fn account_id(&self) -> &str {
        &self.account.id
    }

    pub(crate) fn region(&self) -> Option<&str> {
        self.region.as_deref()
    }

    /// Records that a read this instance needs failed.
    pub(crate) fn mark_unknown(&mut self) {
        self.unknown = true;
    }

    /// Records that a read this instance needs was not attempted.
    pub(crate) fn mark_not_checked(&mut self) {
        self.not_checked = true;
    }

    /// Records the state of a read and returns its value when there is one.
    pub(crate) fn take<'r, T>(&mut self, looked: Looked<'r, T>) -> Option<&'r T> {
        match looked {
            Looked::Ok(value) => Some(value),
            Looked::Unknown => {
                self.mark_unknown();
                None
            }
            Looked::NotChecked => {
                self.mark_not_checked();
                None
            }
        }
    }

    pub(crate) fn drift(&mut self, source: Source, change: Change, path: &str, desired: Value, live: Value) {
        self.items.push(DriftItem {
            account_id: self.account.id.clone(),
            account_name: self.account.name.clone(),
            region: self.region.clone(),
            resource_type: self.resource_type,
            resource_id: self.resource_id.clone(),
            change,
            path: path.to_string(),
            desired,
            live,
            source,
            doc: Some(self.doc.clone()),
        });
    }

    /// Records a changed property unless the two values are equal.
    pub(crate) fn compare(&mut self, source: Source, path: &str, desired: Value, live: Value) {
        if desired != live {
            self.drift(source, Change::Modified, path, desired, live);
        }
    }

    /// Ends the check with one coverage entry. Drift wins over a failed read
    /// because a difference that was seen is known. A failed or skipped read
    /// keeps the instance from counting as in sync.
    pub(crate) fn finish(self, out: &mut Collector) {
        let state = if !self.items.is_empty() {
            Coverage::Drifted
        } else if self.unknown {
            Coverage::Unknown
        } else if self.not_checked {
            Coverage::NotChecked
        } else {
            Coverage::InSync
        };
        out.coverage.push(CoverageEntry {
            account_id: self.account.id.clone(),
            region: self.region.clone(),
            resource_type: self.resource_type,
            resource_id: self.resource_id.clone(),
            state,
        });
        out.items.extend(self.items);
    }
}

fn sort_items(items: &mut [DriftItem]) {
    items.sort_by_cached_key(|i| {
        (
            i.account_id.clone(),
            i.region.clone(),
            i.resource_type,
            i.resource_id.clone(),
            i.path.clone(),
            i.source,
            i.change,
            normalize::canonical_string(&i.desired),
            normalize::canonical_string(&i.live),
        )
    });
}

/// Tests whether an exception accepts `item`. The exception must be complete
/// (reason, approver and expiry filled in) and not expired. It must name the
/// item's account and resource, and its property, when given, must be the
/// item's path or a parent of it.
fn excepted_by(desired: &DesiredState, item: &DriftItem, today: NaiveDate) -> bool {
    desired.exceptions.iter().any(|e| exception_matches(&e.spec, item, today))
}

fn exception_matches(e: &Exception, item: &DriftItem, today: NaiveDate) -> bool {
    let Some(expires) = e.expires else {
        return false;
    };
    if e.reason.trim().is_empty() || e.approver.trim().is_empty() || expires < today {
        return false;
    }
    if e.account != item.account_name || e.resource_type != item.resource_type.as_str() || e.resource_id != item.resource_id {
        return false;
    }
    match e.property.as_deref().filter(|p| !p.is_empty()) {
        None => true,
        Some(prefix) => item.path == prefix || item.path.starts_with(&format!("{prefix}.")),
    }
}

#[cfg(test)]
mod tests;
