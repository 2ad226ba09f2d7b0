//! Changes of a pull request to the desired state, per account: a pure
//! comparison of two [`DesiredState`]s by kind and document id.
//!
//! Each document is expanded into one instance per target account, so a
//! grant whose `accounts` list gains `zeimu-asp` shows as that account
//! gaining the grant, not as an edit of the grant.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;

use crate::desired::model::{DesiredState, Doc, Kind};

/// Whether an account gains, loses or keeps-but-changes a document.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    Added,
    Removed,
    Modified,
}

/// One top-level spec field of a modified document, before and after.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FieldChange {
    /// camelCase key as written in YAML, e.g. `threshold` or `version`.
    pub field: String,
    /// `null` when the field is absent on that side.
    pub before: Value,
    pub after: Value,
}

/// One account gaining, losing or seeing a change of one document.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DesiredChange {
    /// Account name, as documents refer to it.
    pub account: String,
    /// 12-digit account id, from the head or else the base Environment.
    pub account_id: Option<String>,
    pub kind: Kind,
    /// Document id. For `Environment`, it is the environment's id.
    pub id: String,
    pub change: ChangeKind,
    /// The fields that differ, for [`ChangeKind::Modified`]. Empty for added and removed documents.
    pub fields: Vec<FieldChange>,
}

/// Identity of one document instance: account name, kind, document id.
type Key = (String, Kind, String);

/// Lists every change from `base` to `head`, sorted by account, kind and id.
///
/// Account membership (`accounts`) is the added/removed dimension and is
/// never listed as a modified field. A budget without `accounts` applies to
/// every account of its business system. An account's own entry in the
/// Environment document is compared as kind `Environment`.
pub fn desired_changes(base: &DesiredState, head: &DesiredState) -> Vec<DesiredChange> {
    let before = instances(base);
    let after = instances(head);
    let keys: BTreeSet<&Key> = before.keys().chain(after.keys()).collect();

    let mut changes = Vec::new();
    for key in keys {
        let (change, fields) = match (before.get(key), after.get(key)) {
            (None, Some(_)) => (ChangeKind::Added, Vec::new()),
            (Some(_), None) => (ChangeKind::Removed, Vec::new()),
            (Some(old), Some(new)) if old != new => (ChangeKind::Modified, changed_fields(old, new)),
            _ => continue,
        };
        let (account, kind, id) = key.clone();
        let account_id = account_id(head, &account).or_else(|| account_id(base, &account));
        changes.push(DesiredChange { account, account_id, kind, id, change, fields });
    }
    changes
}

fn account_id(state: &DesiredState, name: &str) -> Option<String> {
    state.account_by_name(name).map(|a| a.id.clone())
}

/// Expands every document of `state` into instances keyed by account, kind
/// and id, each with its spec as JSON minus `accounts`.
fn instances(state: &DesiredState) -> BTreeMap<Key, Value> {
    let mut out = BTreeMap::new();

    if let Some(env) = &state.environment {
        for account in &env.spec.accounts {
            let key = (account.name.clone(), Kind::Environment, env.doc.id.clone());
            out.insert(key, serde_json::to_value(account).unwrap_or(Value::Null));
        }
    }
    insert_each(&mut out, Kind::TemplateAssignment, &state.templates, |t| t.spec.accounts.clone());
    insert_each(&mut out, Kind::PermissionGrant, &state.grants, |g| g.spec.accounts.clone());
    insert_each(&mut out, Kind::AlarmRule, &state.alarms, |a| a.spec.accounts.clone());
    insert_each(&mut out, Kind::ConfigRule, &state.config_rules, |c| c.spec.accounts.clone());
    insert_each(&mut out, Kind::Budget, &state.budgets, |b| {
        if b.spec.accounts.is_empty() {
            let system = Some(b.spec.system.as_str());
            state.accounts().iter().filter(|a| a.system.as_deref() == system).map(|a| a.name.clone()).collect()
        } else {
            b.spec.accounts.clone()
        }
    });
    insert_each(&mut out, Kind::Exception, &state.exceptions, |e| vec![e.spec.account.clone()]);
    out
}

fn insert_each<T: Serialize>(
    out: &mut BTreeMap<Key, Value>,
    kind: Kind,
    docs: &[Doc<T>],
    accounts: impl Fn(&Doc<T>) -> Vec<String>,
) {
    for doc in docs {
        let mut spec = serde_json::to_value(&doc.spec).unwrap_or(Value::Null);
        if let Value::Object(map) = &mut spec {
            map.remove("accounts");
        }
        for account in accounts(doc) {
            out.insert((account, kind, doc.doc.id.clone()), spec.clone());
        }
    }
}

/// Top-level keys whose values differ, in key order.
fn changed_fields(old: &Value, new: &Value) -> Vec<FieldChange> {
    let empty = serde_json::Map::new();
    let old_map = old.as_object().unwrap_or(&empty);
    let new_map = new.as_object().unwrap_or(&empty);
    let fields: BTreeSet<&String> = old_map.keys().chain(new_map.keys()).collect();
    fields
        .into_iter()
        .filter_map(|field| {
            let before = old_map.get(field).cloned().unwrap_or(Value::Null);
            let after = new_map.get(field).cloned().unwrap_or(Value::Null);
            (before != after).then(|| FieldChange { field: field.clone(), before, after })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::desired::model::{
        Account, AlarmRule, Area, Budget, ConfigRule, DocRef, Environment, Notify, PermissionGrant, Principal, PrincipalKind,
        RuleSource, TemplateAssignment, Trust,
    };

    fn doc<T>(kind: Kind, id: &str, spec: T) -> Doc<T> {
        Doc { doc: DocRef { kind, id: id.to_string(), ..DocRef::default() }, spec }
    }

    fn account(id: &str, name: &str, system: &str) -> Account {
        Account {
            id: id.to_string(),
            name: name.to_string(),
            area: Area::Asp,
            ou: "/GC/ASP".to_string(),
            system: Some(system.to_string()),
            vendor: Some("alpha-systems".to_string()),
        }
    }

    fn grant(accounts: &[&str], managed: &[&str]) -> Doc<PermissionGrant> {
        doc(
            Kind::PermissionGrant,
            "alpha-operator",
            PermissionGrant {
                principal: Principal { kind: PrincipalKind::Vendor, name: "alpha-systems".to_string() },
                accounts: accounts.iter().map(|a| a.to_string()).collect(),
                role_name: "GCVendorAlphaOperator".to_string(),
                trust: Trust { principals: vec!["arn:aws:iam::444455556666:root".to_string()], external_id: None },
                managed_policies: managed.iter().map(|a| a.to_string()).collect(),
                inline_policies: BTreeMap::new(),
                permission_boundary: None,
                expires: None,
                ticket: "CHG-1".to_string(),
            },
        )
    }

    fn alarm(threshold: f64) -> Doc<AlarmRule> {
        doc(
            Kind::AlarmRule,
            "cpu-high",
            AlarmRule {
                accounts: vec!["jumin-asp".to_string()],
                region: None,
                alarm_name: "cpu-high".to_string(),
                description: None,
                namespace: "AWS/EC2".to_string(),
                metric_name: "CPUUtilization".to_string(),
                dimensions: BTreeMap::new(),
                statistic: "Average".to_string(),
                period: 300,
                evaluation_periods: 2,
                threshold,
                comparison_operator: "GreaterThanOrEqualToThreshold".to_string(),
                treat_missing_data: None,
                notify: Notify { topic_name: "ops".to_string(), subscriptions: Vec::new() },
            },
        )
    }

    fn template(version: &str) -> Doc<TemplateAssignment> {
        doc(
            Kind::TemplateAssignment,
            "baseline",
            TemplateAssignment {
                template: "baseline".to_string(),
                version: version.to_string(),
                accounts: vec!["jumin-asp".to_string(), "zeimu-asp".to_string()],
                regions: Vec::new(),
                stack_name: None,
                parameters: BTreeMap::new(),
            },
        )
    }

    fn budget(accounts: &[&str]) -> Doc<Budget> {
        doc(
            Kind::Budget,
            "resident-records",
            Budget {
                system: "resident-records".to_string(),
                accounts: accounts.iter().map(|a| a.to_string()).collect(),
                budget_name: "resident-records-monthly".to_string(),
                monthly_amount: 1000.0,
                unit: None,
                thresholds: vec![80.0],
                addresses: vec!["ops@example.jp".to_string()],
            },
        )
    }

    fn config_rule(accounts: &[&str]) -> Doc<ConfigRule> {
        doc(
            Kind::ConfigRule,
            "password-policy",
            ConfigRule {
                accounts: accounts.iter().map(|a| a.to_string()).collect(),
                region: None,
                rule_name: "iam-password-policy".to_string(),
                description: None,
                source: RuleSource { owner: "AWS".to_string(), identifier: "IAM_PASSWORD_POLICY".to_string() },
                input_parameters: BTreeMap::new(),
                maximum_execution_frequency: None,
            },
        )
    }

    /// Two ASP accounts, `jumin-asp` (resident-records) and `zeimu-asp` (individual-tax).
    fn state() -> DesiredState {
        let accounts = vec![
            account("222222222222", "jumin-asp", "resident-records"),
            account("333333333333", "zeimu-asp", "individual-tax"),
        ];
        let environment = Environment {
            client: "Sample City".to_string(),
            regions: vec!["ap-northeast-1".to_string()],
            accounts,
            guardrails: None,
        };
        DesiredState { environment: Some(doc(Kind::Environment, "sample-city", environment)), ..DesiredState::default() }
    }

    /// (account, kind, id, change, changed fields) of one change.
    type Row = (String, Kind, String, ChangeKind, Vec<String>);

    fn summary(changes: &[DesiredChange]) -> Vec<Row> {
        changes
            .iter()
            .map(|c| {
                let fields = c.fields.iter().map(|f| f.field.clone()).collect();
                (c.account.clone(), c.kind, c.id.clone(), c.change, fields)
            })
            .collect()
    }

    fn row(
        account: &str,
        kind: Kind,
        id: &str,
        change: ChangeKind,
        fields: &[&str],
    ) -> (String, Kind, String, ChangeKind, Vec<String>) {
        (account.to_string(), kind, id.to_string(), change, fields.iter().map(|f| f.to_string()).collect())
    }

    #[test]
    fn desired_changes_table() {
        type Edit = fn(&mut DesiredState);
        let cases: Vec<(&str, Edit, Edit, Vec<Row>)> = vec![
            ("identical states", |_| {}, |_| {}, vec![]),
            (
                "grant reaches one more account",
                |s| s.grants.push(grant(&["jumin-asp"], &[])),
                |s| s.grants.push(grant(&["jumin-asp", "zeimu-asp"], &[])),
                vec![row("zeimu-asp", Kind::PermissionGrant, "alpha-operator", ChangeKind::Added, &[])],
            ),
            (
                "grant removed",
                |s| s.grants.push(grant(&["jumin-asp"], &[])),
                |_| {},
                vec![row("jumin-asp", Kind::PermissionGrant, "alpha-operator", ChangeKind::Removed, &[])],
            ),
            (
                "grant gains a managed policy",
                |s| s.grants.push(grant(&["jumin-asp"], &[])),
                |s| s.grants.push(grant(&["jumin-asp"], &["arn:aws:iam::aws:policy/ReadOnlyAccess"])),
                vec![row("jumin-asp", Kind::PermissionGrant, "alpha-operator", ChangeKind::Modified, &["managedPolicies"])],
            ),
            (
                "alarm threshold changed",
                |s| s.alarms.push(alarm(80.0)),
                |s| s.alarms.push(alarm(90.0)),
                vec![row("jumin-asp", Kind::AlarmRule, "cpu-high", ChangeKind::Modified, &["threshold"])],
            ),
            (
                "template version bumped in every account",
                |s| s.templates.push(template("1.0.0")),
                |s| s.templates.push(template("1.1.0")),
                vec![
                    row("jumin-asp", Kind::TemplateAssignment, "baseline", ChangeKind::Modified, &["version"]),
                    row("zeimu-asp", Kind::TemplateAssignment, "baseline", ChangeKind::Modified, &["version"]),
                ],
            ),
            (
                "budget without accounts covers its system",
                |_| {},
                |s| s.budgets.push(budget(&[])),
                vec![row("jumin-asp", Kind::Budget, "resident-records", ChangeKind::Added, &[])],
            ),
            (
                "budget moving from default to explicit accounts",
                |s| s.budgets.push(budget(&[])),
                |s| s.budgets.push(budget(&["zeimu-asp"])),
                vec![
                    row("jumin-asp", Kind::Budget, "resident-records", ChangeKind::Removed, &[]),
                    row("zeimu-asp", Kind::Budget, "resident-records", ChangeKind::Added, &[]),
                ],
            ),
            (
                "config rule moved between accounts",
                |s| s.config_rules.push(config_rule(&["jumin-asp"])),
                |s| s.config_rules.push(config_rule(&["zeimu-asp"])),
                vec![
                    row("jumin-asp", Kind::ConfigRule, "password-policy", ChangeKind::Removed, &[]),
                    row("zeimu-asp", Kind::ConfigRule, "password-policy", ChangeKind::Added, &[]),
                ],
            ),
            (
                "account added to the environment",
                |_| {},
                |s| {
                    let env = s.environment.as_mut().unwrap();
                    env.spec.accounts.push(account("444444444444", "kokuho-asp", "health-insurance"));
                },
                vec![row("kokuho-asp", Kind::Environment, "sample-city", ChangeKind::Added, &[])],
            ),
            (
                "account moved to another OU",
                |_| {},
                |s| s.environment.as_mut().unwrap().spec.accounts[1].ou = "/GC/ASP/tax".to_string(),
                vec![row("zeimu-asp", Kind::Environment, "sample-city", ChangeKind::Modified, &["ou"])],
            ),
        ];

        for (name, edit_base, edit_head, expected) in cases {
            let mut base = state();
            edit_base(&mut base);
            let mut head = state();
            edit_head(&mut head);

            assert_eq!(summary(&desired_changes(&base, &head)), expected, "case: {name}");
        }
    }

    #[test]
    fn desired_changes_version_values() {
        let mut base = state();
        base.templates.push(template("1.0.0"));
        let mut head = state();
        head.templates.push(template("1.1.0"));

        let changes = desired_changes(&base, &head);

        assert_eq!(
            changes[0].fields,
            vec![FieldChange { field: "version".to_string(), before: json!("1.0.0"), after: json!("1.1.0") }]
        );
    }

    #[test]
    fn desired_changes_account_id_of_removed_account() {
        let mut base = state();
        base.grants.push(grant(&["zeimu-asp"], &[]));
        let mut head = state();
        head.environment.as_mut().unwrap().spec.accounts.pop();

        let changes = desired_changes(&base, &head);

        assert!(changes.iter().all(|c| c.account_id.as_deref() == Some("333333333333")), "{changes:#?}");
        assert_eq!(changes.len(), 2, "{changes:#?}");
    }
}
