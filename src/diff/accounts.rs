//! Account placement in Organizations: each environment account must sit in
//! its declared OU.

use serde_json::{Value, json};

use crate::desired::model::DesiredState;
use crate::live::model::LiveState;

use super::model::{Change, ResourceType, Source};
use super::{Check, Collector, Looked, look};

pub(crate) fn diff_accounts(desired: &DesiredState, live: &LiveState, out: &mut Collector) {
    let Some(environment) = &desired.environment else {
        return;
    };
    for (index, account) in environment.spec.accounts.iter().enumerate() {
        let mut check = Check::new(account, None, ResourceType::Account, &account.id, &environment.doc);
        out.claim(&account.id, None, ResourceType::Account, &account.id);

        // No Organizations reader configured counts as not read on purpose.
        let looked = match &live.organization {
            None => Looked::NotChecked,
            Some(read) => look(Some(read)),
        };
        if let Some(organization) = check.take(looked) {
            match organization.account_ous.get(&account.id) {
                None => check.drift(
                    Source::Organizations,
                    Change::Missing,
                    &format!("accounts.{index}"),
                    serde_json::to_value(account).unwrap_or(Value::Null),
                    Value::Null,
                ),
                Some(live_ou) => check.compare(
                    Source::Organizations,
                    &format!("accounts.{index}.ou"),
                    json!(ou_path(&account.ou)),
                    json!(ou_path(live_ou)),
                ),
            }
        }
        check.finish(out);
    }
}

/// OU path without a trailing slash, except the root `/`.
fn ou_path(path: &str) -> String {
    let trimmed = path.trim().trim_end_matches('/');
    if trimmed.is_empty() { "/".to_string() } else { trimmed.to_string() }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::diff_on;
    use super::super::model::{Change, Coverage, ResourceType, Source};
    use super::super::testkit::*;
    use crate::live::model::Read;

    #[test]
    fn account_in_declared_ou_is_in_sync() {
        let desired = desired_base();
        let live = live_base(&desired);
        let drift = diff_on(&desired, &live, today());
        assert!(drift.items.iter().all(|i| i.resource_type != ResourceType::Account));
        assert_eq!(coverage_of(&drift, ResourceType::Account, ALPHA_ID), Some(Coverage::InSync));
    }

    #[test]
    fn account_in_wrong_ou_drifts_at_its_index() {
        let desired = desired_base();
        let mut live = live_base(&desired);
        organization_mut(&mut live).account_ous.insert(BETA_ID.into(), "/GC/Sandbox".into());
        let drift = diff_on(&desired, &live, today());
        let item = only_item(&drift, ResourceType::Account, BETA_ID);
        assert_eq!(item.path, "accounts.1.ou");
        assert_eq!(item.change, Change::Modified);
        assert_eq!(item.source, Source::Organizations);
        assert_eq!(item.desired, json!("/GC/ASP/jumin"));
        assert_eq!(item.live, json!("/GC/Sandbox"));
        assert_eq!(item.region, None);
    }

    #[test]
    fn trailing_slash_on_ou_path_is_ignored() {
        let desired = desired_base();
        let mut live = live_base(&desired);
        organization_mut(&mut live).account_ous.insert(BETA_ID.into(), "/GC/ASP/jumin/".into());
        let drift = diff_on(&desired, &live, today());
        assert_eq!(coverage_of(&drift, ResourceType::Account, BETA_ID), Some(Coverage::InSync));
    }

    #[test]
    fn account_outside_organization_is_missing() {
        let desired = desired_base();
        let mut live = live_base(&desired);
        organization_mut(&mut live).account_ous.remove(BETA_ID);
        let drift = diff_on(&desired, &live, today());
        let item = only_item(&drift, ResourceType::Account, BETA_ID);
        assert_eq!(item.change, Change::Missing);
        assert_eq!(item.path, "accounts.1");
    }

    #[test]
    fn organizations_without_access_is_not_checked() {
        let desired = desired_base();
        let mut live = live_base(&desired);
        live.organization = Some(Read::NotChecked { reason: "no Organizations access".into() });
        let drift = diff_on(&desired, &live, today());
        assert_eq!(coverage_of(&drift, ResourceType::Account, ALPHA_ID), Some(Coverage::NotChecked));
    }

    #[test]
    fn organizations_never_read_is_not_checked() {
        let desired = desired_base();
        let mut live = live_base(&desired);
        live.organization = None;
        let drift = diff_on(&desired, &live, today());
        assert_eq!(coverage_of(&drift, ResourceType::Account, ALPHA_ID), Some(Coverage::NotChecked));
    }

    #[test]
    fn failed_organizations_read_is_unknown() {
        let desired = desired_base();
        let mut live = live_base(&desired);
        live.organization = Some(Read::Unknown { reason: "AccessDenied".into() });
        let drift = diff_on(&desired, &live, today());
        assert_eq!(coverage_of(&drift, ResourceType::Account, BETA_ID), Some(Coverage::Unknown));
    }

    #[test]
    fn organization_account_outside_environment_is_not_checked() {
        let desired = desired_base();
        let mut live = live_base(&desired);
        organization_mut(&mut live).account_ous.insert("999999999999".into(), "/Sandbox".into());
        let drift = diff_on(&desired, &live, today());
        assert_eq!(coverage_of(&drift, ResourceType::Account, "999999999999"), Some(Coverage::NotChecked));
    }
}
