//! Permission grants: the IAM role, its trust policy, inline and managed
//! policies, and permission boundary.

use serde_json::{Value, json};

use crate::desired::model::{DesiredState, PermissionGrant};
use crate::live::model::{LiveRole, LiveState};

use super::model::{Change, ResourceType, Source};
use super::normalize::{policy_arn, sorted_set};
use super::policy::{normalize_policy, normalize_policy_text, trust_from_policy, trust_policy};
use super::{Check, Collector, account_live, look, target_accounts};

pub(crate) fn diff_grants(desired: &DesiredState, live: &LiveState, out: &mut Collector) {
    for doc in &desired.grants {
        let grant = &doc.spec;
        for account in target_accounts(desired, &grant.accounts) {
            out.claim(&account.id, None, ResourceType::Role, &grant.role_name);
            let mut check = Check::new(account, None, ResourceType::Role, &grant.role_name, &doc.doc);
            let read = account_live(live, &account.id).map(|a| &a.iam);
            if let Some(iam) = check.take(look(read)) {
                match iam.roles.iter().find(|r| r.name == grant.role_name) {
                    None => check.drift(
                        Source::Iam,
                        Change::Missing,
                        "",
                        serde_json::to_value(grant).unwrap_or(Value::Null),
                        Value::Null,
                    ),
                    Some(role) => compare_role(&mut check, grant, role),
                }
            }
            check.finish(out);
        }
    }
}

fn compare_role(check: &mut Check<'_>, grant: &PermissionGrant, role: &LiveRole) {
    compare_trust(check, grant, role);
    compare_inline_policies(check, grant, role);

    let wanted = sorted_set(grant.managed_policies.iter().map(|p| policy_arn(p)));
    let attached = sorted_set(role.managed_policy_arns.iter().map(|p| policy_arn(p)));
    check.compare(Source::Iam, "managedPolicies", json!(wanted), json!(attached));

    let wanted = grant.permission_boundary.as_deref().map(policy_arn);
    let set = role.permission_boundary.as_deref().map(policy_arn);
    check.compare(Source::Iam, "permissionBoundary", json!(wanted), json!(set));
}

/// Compares the role's trust policy with the one the grant's `trust` builds.
/// The live value is shown in `trust` terms when it has that shape, so that
/// adopting it is a plain edit. Any other shape is shown as the normalised
/// document.
fn compare_trust(check: &mut Check<'_>, grant: &PermissionGrant, role: &LiveRole) {
    let wanted = trust_policy(&grant.trust);
    let live = normalize_policy_text(&role.trust_policy);
    if live.as_ref().ok() == Some(&wanted) {
        return;
    }
    let desired = serde_json::to_value(&grant.trust).unwrap_or(Value::Null);
    let live = match live {
        Ok(doc) => trust_from_policy(&doc).unwrap_or(doc),
        Err(_) => json!(role.trust_policy),
    };
    check.drift(Source::Iam, Change::Modified, "trust", desired, live);
}

/// Inline policies by name: changed (both normalised), missing, or added by
/// hand. A live document that does not parse is shown as its text.
fn compare_inline_policies(check: &mut Check<'_>, grant: &PermissionGrant, role: &LiveRole) {
    for (name, document) in &grant.inline_policies {
        let path = format!("inlinePolicies.{name}");
        let wanted = normalize_policy(document);
        match role.inline_policies.get(name) {
            None => check.drift(Source::Iam, Change::Missing, &path, wanted, Value::Null),
            Some(text) => match normalize_policy_text(text) {
                Ok(live) => check.compare(Source::Iam, &path, wanted, live),
                Err(_) => check.drift(Source::Iam, Change::Modified, &path, wanted, json!(text)),
            },
        }
    }
    for (name, text) in &role.inline_policies {
        if grant.inline_policies.contains_key(name) {
            continue;
        }
        let live = normalize_policy_text(text).unwrap_or_else(|_| json!(text));
        check.drift(Source::Iam, Change::Unexpected, &format!("inlinePolicies.{name}"), Value::Null, live);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
    use serde_json::{Value, json};

    use super::super::diff_on;
    use super::super::model::{Change, Coverage, ResourceType, Source};
    use super::super::testkit::*;
    use crate::desired::model::{DesiredState, Kind, PermissionGrant, Principal, PrincipalKind, Trust};
    use crate::live::model::{Iam, LiveRole, LiveState, Read};

    const ROLE: &str = "vendor-x-operator";
    const VENDOR_ROOT: &str = "arn:aws:iam::333333333333:root";

    fn read_only() -> Value {
        json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["logs:Get*", "cloudwatch:Describe*"], "Resource": "*"}
        ]})
    }

    fn desired() -> DesiredState {
        let mut desired = desired_base();
        desired.grants.push(doc(
            Kind::PermissionGrant,
            "vendor-x-operator",
            PermissionGrant {
                principal: Principal { kind: PrincipalKind::Vendor, name: "vendor-x".into() },
                accounts: names(&[BETA]),
                role_name: ROLE.into(),
                trust: Trust { principals: vec![VENDOR_ROOT.into()], external_id: Some("ext-42".into()) },
                managed_policies: vec!["ReadOnlyAccess".into()],
                inline_policies: BTreeMap::from([("Logs".to_string(), read_only())]),
                permission_boundary: Some("arn:aws:iam::222222222222:policy/gc-boundary".into()),
                expires: None,
                ticket: "CHG-1".into(),
            },
        ));
        desired
    }

    fn encode(value: &Value) -> String {
        utf8_percent_encode(&value.to_string(), NON_ALPHANUMERIC).to_string()
    }

    /// The role as IAM returns it: documents percent-encoded, written the
    /// other way round from the desired ones.
    fn role() -> LiveRole {
        let trust = json!({"Version": "2012-10-17", "Statement": {
            "Effect": "Allow",
            "Principal": {"AWS": VENDOR_ROOT},
            "Action": ["sts:AssumeRole"],
            "Condition": {"StringEquals": {"sts:ExternalId": ["ext-42"]}}
        }});
        let logs = json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["cloudwatch:Describe*", "logs:Get*", "logs:Get*"], "Resource": ["*"]}
        ]});
        LiveRole {
            name: ROLE.into(),
            arn: format!("arn:aws:iam::222222222222:role/{ROLE}"),
            path: "/".into(),
            trust_policy: encode(&trust),
            inline_policies: BTreeMap::from([("Logs".to_string(), encode(&logs))]),
            managed_policy_arns: vec!["arn:aws:iam::aws:policy/ReadOnlyAccess".into()],
            permission_boundary: Some("arn:aws:iam::222222222222:policy/gc-boundary".into()),
            tags: BTreeMap::new(),
        }
    }

    fn live_with(desired: &DesiredState, role: LiveRole) -> LiveState {
        let mut live = live_base(desired);
        ok_mut(&mut account_mut(&mut live, BETA_ID).iam).roles.push(role);
        live
    }

    #[test]
    fn role_written_differently_is_in_sync() {
        let desired = desired();
        let live = live_with(&desired, role());
        let drift = diff_on(&desired, &live, today());
        assert_eq!(items_of(&drift, ResourceType::Role, ROLE), Vec::<&super::super::model::DriftItem>::new());
        assert_eq!(coverage_of(&drift, ResourceType::Role, ROLE), Some(Coverage::InSync));
    }

    #[test]
    fn missing_role_is_missing() {
        let desired = desired();
        let live = live_base(&desired);
        let drift = diff_on(&desired, &live, today());
        let item = only_item(&drift, ResourceType::Role, ROLE);
        assert_eq!(item.change, Change::Missing);
        assert_eq!(item.path, "");
        assert_eq!(item.source, Source::Iam);
        assert_eq!(item.region, None);
    }

    #[test]
    fn changed_external_id_drifts_on_trust() {
        let desired = desired();
        let mut changed = role();
        changed.trust_policy = json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": VENDOR_ROOT},
            "Action": "sts:AssumeRole", "Condition": {"StringEquals": {"sts:ExternalId": "other"}}}]})
        .to_string();
        let live = live_with(&desired, changed);
        let drift = diff_on(&desired, &live, today());
        let item = only_item(&drift, ResourceType::Role, ROLE);
        assert_eq!(item.path, "trust");
        assert_eq!(item.desired, json!({"principals": [VENDOR_ROOT], "externalId": "ext-42"}));
        assert_eq!(item.live["externalId"], json!("other"));
    }

    #[test]
    fn trust_without_external_id_drifts() {
        let desired = desired();
        let mut changed = role();
        changed.trust_policy =
            json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": VENDOR_ROOT}, "Action": "sts:AssumeRole"}]})
                .to_string();
        let live = live_with(&desired, changed);
        let drift = diff_on(&desired, &live, today());
        assert_eq!(item_at(&drift, ROLE, "trust").live, json!({"principals": [VENDOR_ROOT]}));
    }

    #[test]
    fn trust_for_a_service_is_shown_as_document() {
        let desired = desired();
        let mut changed = role();
        changed.trust_policy = json!({"Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
            "Action": "sts:AssumeRole"}]})
        .to_string();
        let live = live_with(&desired, changed);
        let drift = diff_on(&desired, &live, today());
        let item = item_at(&drift, ROLE, "trust");
        assert_eq!(item.live["Statement"][0]["Principal"], json!({"Service": ["ec2.amazonaws.com"]}));
    }

    #[test]
    fn changed_inline_policy_drifts_at_its_name() {
        let desired = desired();
        let mut changed = role();
        changed.inline_policies.insert(
            "Logs".into(),
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}).to_string(),
        );
        let live = live_with(&desired, changed);
        let drift = diff_on(&desired, &live, today());
        let item = only_item(&drift, ResourceType::Role, ROLE);
        assert_eq!(item.path, "inlinePolicies.Logs");
        assert_eq!(item.change, Change::Modified);
        assert_eq!(item.live["Statement"][0]["Action"], json!(["*"]));
        assert_eq!(item.desired["Statement"][0]["Action"], json!(["cloudwatch:Describe*", "logs:Get*"]));
    }

    #[test]
    fn missing_inline_policy_is_missing() {
        let desired = desired();
        let mut changed = role();
        changed.inline_policies.clear();
        let live = live_with(&desired, changed);
        let drift = diff_on(&desired, &live, today());
        let item = only_item(&drift, ResourceType::Role, ROLE);
        assert_eq!(item.path, "inlinePolicies.Logs");
        assert_eq!(item.change, Change::Missing);
        assert_eq!(item.live, Value::Null);
    }

    #[test]
    fn hand_added_inline_policy_is_unexpected() {
        let desired = desired();
        let mut changed = role();
        changed
            .inline_policies
            .insert("HandAdded".into(), encode(&json!({"Statement": [{"Effect": "Allow", "Action": "iam:*", "Resource": "*"}]})));
        let live = live_with(&desired, changed);
        let drift = diff_on(&desired, &live, today());
        let item = only_item(&drift, ResourceType::Role, ROLE);
        assert_eq!(item.path, "inlinePolicies.HandAdded");
        assert_eq!(item.change, Change::Unexpected);
        assert_eq!(item.desired, Value::Null);
        assert_eq!(item.live["Statement"][0]["Action"], json!(["iam:*"]));
    }

    #[test]
    fn unparsable_inline_policy_is_shown_as_text() {
        let desired = desired();
        let mut changed = role();
        changed.inline_policies.insert("Logs".into(), "%7Bbroken".into());
        let live = live_with(&desired, changed);
        let drift = diff_on(&desired, &live, today());
        assert_eq!(item_at(&drift, ROLE, "inlinePolicies.Logs").live, json!("%7Bbroken"));
    }

    #[test]
    fn hand_attached_managed_policy_drifts() {
        let desired = desired();
        let mut changed = role();
        changed.managed_policy_arns.push("arn:aws:iam::aws:policy/AdministratorAccess".into());
        let live = live_with(&desired, changed);
        let drift = diff_on(&desired, &live, today());
        let item = only_item(&drift, ResourceType::Role, ROLE);
        assert_eq!(item.path, "managedPolicies");
        assert_eq!(item.desired, json!(["arn:aws:iam::aws:policy/ReadOnlyAccess"]));
        assert_eq!(item.live, json!(["arn:aws:iam::aws:policy/AdministratorAccess", "arn:aws:iam::aws:policy/ReadOnlyAccess"]));
    }

    #[test]
    fn managed_policies_in_other_order_are_equal() {
        let mut desired = desired();
        desired.grants[0].spec.managed_policies = vec!["ViewOnlyAccess".into(), "ReadOnlyAccess".into()];
        let mut changed = role();
        changed.managed_policy_arns =
            vec!["arn:aws:iam::aws:policy/ReadOnlyAccess".into(), "arn:aws:iam::aws:policy/ViewOnlyAccess".into()];
        let live = live_with(&desired, changed);
        let drift = diff_on(&desired, &live, today());
        assert_eq!(coverage_of(&drift, ResourceType::Role, ROLE), Some(Coverage::InSync));
    }

    #[test]
    fn removed_permission_boundary_drifts() {
        let desired = desired();
        let mut changed = role();
        changed.permission_boundary = None;
        let live = live_with(&desired, changed);
        let drift = diff_on(&desired, &live, today());
        let item = only_item(&drift, ResourceType::Role, ROLE);
        assert_eq!(item.path, "permissionBoundary");
        assert_eq!(item.live, Value::Null);
    }

    #[test]
    fn failed_iam_read_is_unknown() {
        let desired = desired();
        let mut live = live_base(&desired);
        account_mut(&mut live, BETA_ID).iam = Read::Unknown { reason: "AccessDenied".into() };
        let drift = diff_on(&desired, &live, today());
        assert_eq!(coverage_of(&drift, ResourceType::Role, ROLE), Some(Coverage::Unknown));
    }

    #[test]
    fn other_roles_and_users_are_not_checked() {
        let desired = desired();
        let mut live = live_with(&desired, role());
        let iam: &mut Iam = ok_mut(&mut account_mut(&mut live, BETA_ID).iam);
        iam.roles.push(LiveRole { name: "AWSControlTowerExecution".into(), ..LiveRole::default() });
        iam.users.push("break-glass".into());
        let drift = diff_on(&desired, &live, today());
        assert_eq!(coverage_of(&drift, ResourceType::Role, "AWSControlTowerExecution"), Some(Coverage::NotChecked));
        assert_eq!(coverage_of(&drift, ResourceType::User, "break-glass"), Some(Coverage::NotChecked));
        assert_eq!(coverage_of(&drift, ResourceType::Role, ROLE), Some(Coverage::InSync));
    }

    #[test]
    fn granted_role_in_untargeted_account_is_not_checked() {
        let desired = desired();
        let mut live = live_with(&desired, role());
        ok_mut(&mut account_mut(&mut live, ALPHA_ID).iam).roles.push(role());
        let drift = diff_on(&desired, &live, today());
        assert_eq!(coverage_in(&drift, ALPHA_ID, ResourceType::Role, ROLE), Some(Coverage::NotChecked));
    }
}
