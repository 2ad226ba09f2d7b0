//! Small desired and live states for the diff tests: two accounts, one
//! region, every read succeeded and empty.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use crate::desired::model::{Account, Area, DesiredState, Doc, DocRef, Environment, Kind, SourcePos};
use crate::live::model::{AccountLive, Iam, LiveState, Organization, Read, RegionLive};

use super::model::{Coverage, Drift, DriftItem, ResourceType};

pub const ALPHA_ID: &str = "111111111111";
pub const ALPHA: &str = "ops-shared";
pub const BETA_ID: &str = "222222222222";
pub const BETA: &str = "jumin-asp";
pub const HOME: &str = "ap-northeast-1";
pub const OSAKA: &str = "ap-northeast-3";

pub fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 12, 1).unwrap()
}

pub fn doc_ref(kind: Kind, id: &str) -> DocRef {
    DocRef {
        file: format!("desired-state/{}.yaml", kind.as_str().to_lowercase()),
        index: 0,
        kind,
        id: id.to_string(),
        pos: SourcePos { file: format!("desired-state/{}.yaml", kind.as_str().to_lowercase()), line: 1, column: 1 },
    }
}

pub fn doc<T>(kind: Kind, id: &str, spec: T) -> Doc<T> {
    Doc { doc: doc_ref(kind, id), spec }
}

pub fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// Environment only: `ops-shared` (operations) and `jumin-asp` (ASP, system `jumin`).
pub fn desired_base() -> DesiredState {
    let environment = Environment {
        client: "Sample City".into(),
        regions: vec![HOME.into(), OSAKA.into()],
        accounts: vec![
            Account {
                id: ALPHA_ID.into(),
                name: ALPHA.into(),
                area: Area::Operations,
                ou: "/GC/Operations".into(),
                system: None,
                vendor: None,
            },
            Account {
                id: BETA_ID.into(),
                name: BETA.into(),
                area: Area::Asp,
                ou: "/GC/ASP/jumin".into(),
                system: Some("jumin".into()),
                vendor: Some("vendor-x".into()),
            },
        ],
        guardrails: None,
    };
    DesiredState { environment: Some(doc(Kind::Environment, "sample-city", environment)), ..DesiredState::default() }
}

pub fn empty_region() -> RegionLive {
    RegionLive {
        stacks: Read::ok(Vec::new()),
        alarms: Read::ok(Vec::new()),
        topics: Read::ok(Vec::new()),
        config_rules: Read::ok(Vec::new()),
    }
}

/// Builds a live state where every environment account was read in the home
/// region with nothing in it, and each account sits in its declared OU.
pub fn live_base(desired: &DesiredState) -> LiveState {
    let mut organization = Organization::default();
    let mut accounts = BTreeMap::new();
    for account in desired.accounts() {
        organization.account_ous.insert(account.id.clone(), account.ou.clone());
        let live = AccountLive {
            account_id: account.id.clone(),
            iam: Read::ok(Iam::default()),
            budgets: Read::ok(Vec::new()),
            regions: BTreeMap::from([(HOME.to_string(), empty_region())]),
        };
        accounts.insert(account.id.clone(), live);
    }
    LiveState { organization: Some(Read::ok(organization)), accounts }
}

pub fn ok_mut<T>(read: &mut Read<T>) -> &mut T {
    match read {
        Read::Ok { value } => value,
        _ => panic!("fixture read is not Ok"),
    }
}

pub fn organization_mut(live: &mut LiveState) -> &mut Organization {
    ok_mut(live.organization.as_mut().expect("fixture has an organization read"))
}

pub fn account_mut<'a>(live: &'a mut LiveState, account_id: &str) -> &'a mut AccountLive {
    live.accounts.get_mut(account_id).expect("fixture has the account")
}

pub fn home_mut<'a>(live: &'a mut LiveState, account_id: &str) -> &'a mut RegionLive {
    account_mut(live, account_id).regions.get_mut(HOME).expect("fixture has the home region")
}

pub fn items_of<'a>(drift: &'a Drift, resource_type: ResourceType, id: &str) -> Vec<&'a DriftItem> {
    drift.items.iter().filter(|i| i.resource_type == resource_type && i.resource_id == id).collect()
}

/// Returns the single drift item of a resource, and fails listing all items
/// when there is not exactly one.
pub fn only_item<'a>(drift: &'a Drift, resource_type: ResourceType, id: &str) -> &'a DriftItem {
    let items = items_of(drift, resource_type, id);
    assert_eq!(items.len(), 1, "expected one drift item for {id}, got {items:#?}");
    items[0]
}

pub fn item_at<'a>(drift: &'a Drift, id: &str, path: &str) -> &'a DriftItem {
    drift
        .items
        .iter()
        .find(|i| i.resource_id == id && i.path == path)
        .unwrap_or_else(|| panic!("no drift item for {id} at {path:?}; items: {:#?}", drift.items))
}

pub fn coverage_of(drift: &Drift, resource_type: ResourceType, id: &str) -> Option<Coverage> {
    drift.coverage.iter().find(|c| c.resource_type == resource_type && c.resource_id == id).map(|c| c.state)
}

pub fn coverage_in(drift: &Drift, account_id: &str, resource_type: ResourceType, id: &str) -> Option<Coverage> {
    drift
        .coverage
        .iter()
        .find(|c| c.account_id == account_id && c.resource_type == resource_type && c.resource_id == id)
        .map(|c| c.state)
}
