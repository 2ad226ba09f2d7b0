//! Mandatory template stacks: present, healthy, at the assigned template
//! version, with the assigned parameters.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::desired::model::{DesiredState, TemplateAssignment};
use crate::live::model::{LiveStack, LiveState};
use crate::templates::{TemplateVersion, parse_template};

use super::model::{Change, ResourceType, Source};
use super::{Check, Collector, account_live, look, target_accounts};

/// Statuses of a stack that finished its last operation successfully.
const HEALTHY_STATUSES: [&str; 3] = ["CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE"];

/// Value NoEcho parameters show instead of their text.
const MASKED_PARAMETER: &str = "****";

/// Hex digits of the template digest shown for an unknown template.
const DIGEST_PREFIX_LEN: usize = 12;

/// Stack name of an assignment: `stackName`, or `gcops-<template>`.
pub fn stack_name(assignment: &TemplateAssignment) -> String {
    assignment.stack_name.clone().unwrap_or_else(|| format!("gcops-{}", assignment.template))
}

/// Regions of an assignment: `regions`, or the environment's first region.
pub fn assignment_regions(desired: &DesiredState, assignment: &TemplateAssignment) -> Vec<String> {
    if assignment.regions.is_empty() { vec![desired.home_region().to_string()] } else { assignment.regions.clone() }
}

pub(crate) fn diff_stacks(desired: &DesiredState, live: &LiveState, out: &mut Collector) {
    for doc in &desired.templates {
        let assignment = &doc.spec;
        let name = stack_name(assignment);
        for account in target_accounts(desired, &assignment.accounts) {
            for region in assignment_regions(desired, assignment) {
                out.claim(&account.id, Some(&region), ResourceType::Stack, &name);
                let mut check = Check::new(account, Some(&region), ResourceType::Stack, &name, &doc.doc);
                let read = account_live(live, &account.id).and_then(|a| a.regions.get(&region)).map(|r| &r.stacks);
                if let Some(stacks) = check.take(look(read)) {
                    let found = stacks.iter().find(|s| s.name == name && s.status != "DELETE_COMPLETE");
                    match found {
                        None => check.drift(
                            Source::CloudFormation,
                            Change::Missing,
                            "",
                            serde_json::to_value(assignment).unwrap_or(Value::Null),
                            Value::Null,
                        ),
                        Some(stack) => compare_stack(&mut check, desired, assignment, stack),
                    }
                }
                check.finish(out);
            }
        }
    }
}

fn compare_stack(check: &mut Check<'_>, desired: &DesiredState, assignment: &TemplateAssignment, stack: &LiveStack) {
    if !is_healthy(&stack.status) {
        check.drift(Source::CloudFormation, Change::Modified, "status", json!(HEALTHY_STATUSES), json!(stack.status));
    }
    compare_version(check, desired, assignment, stack);
    compare_parameters(check, desired, assignment, stack);
}

/// Tests whether the stack's last operation completed without a rollback.
/// In-progress and failed statuses do not end in `_COMPLETE`.
fn is_healthy(status: &str) -> bool {
    status.ends_with("_COMPLETE") && !status.ends_with("ROLLBACK_COMPLETE")
}

/// Compares the deployed template with every stored version of the
/// assigned template; the desired version is tried first, so identical
/// versions never report a lag.
fn compare_version(check: &mut Check<'_>, desired: &DesiredState, assignment: &TemplateAssignment, stack: &LiveStack) {
    let versions: Vec<&TemplateVersion> = desired.template_versions.values().filter(|v| v.name == assignment.template).collect();
    let Some(body) = &stack.template_body else {
        check.mark_not_checked();
        return;
    };
    if versions.is_empty() {
        check.mark_not_checked();
        return;
    }
    let deployed = parse_template(body).ok().map(|(parsed, _warnings)| parsed);
    let matches = |v: &TemplateVersion| deployed.as_ref() == Some(&v.parsed);
    let wanted = versions.iter().find(|v| v.version == assignment.version);
    if wanted.is_some_and(|v| matches(v)) {
        return;
    }
    let live = match versions.iter().find(|v| matches(v)) {
        Some(other) => json!(other.version),
        None => json!(format!("unknown template (sha256 {})", digest_prefix(body))),
    };
    check.drift(Source::CloudFormation, Change::Modified, "version", json!(assignment.version), live);
}

fn digest_prefix(body: &str) -> String {
    let digest = hex::encode(Sha256::digest(body.as_bytes()));
    digest[..DIGEST_PREFIX_LEN].to_string()
}

/// Compares the parameters the assignment sets, and the template's `Default`
/// for the rest, with the stack's values. NoEcho values are masked live, so
/// they are skipped.
fn compare_parameters(check: &mut Check<'_>, desired: &DesiredState, assignment: &TemplateAssignment, stack: &LiveStack) {
    let mut wanted: BTreeMap<&str, &str> = BTreeMap::new();
    let key = (assignment.template.clone(), assignment.version.clone());
    if let Some(version) = desired.template_versions.get(&key) {
        for (name, default) in &version.parameters {
            if let Some(default) = default {
                wanted.insert(name, default);
            }
        }
    }
    for (name, value) in &assignment.parameters {
        wanted.insert(name, value);
    }
    for (name, value) in wanted {
        let live = stack.parameters.get(name).map(String::as_str);
        if live == Some(MASKED_PARAMETER) {
            continue;
        }
        if live != Some(value) {
            let live = live.map_or(Value::Null, |v| json!(v));
            check.drift(Source::CloudFormation, Change::Modified, &format!("parameters.{name}"), json!(value), live);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::super::diff_on;
    use super::super::model::{Change, Coverage, ResourceType, Source};
    use super::super::testkit::*;
    use crate::desired::model::{DesiredState, Kind, TemplateAssignment};
    use crate::live::model::{LiveStack, LiveState, Read};
    use crate::templates::{Provenance, TemplateVersion, parse_template};

    const V1: &str =
        "Parameters:\n  Level:\n    Type: String\n    Default: low\nResources:\n  Topic:\n    Type: AWS::SNS::Topic\n";
    const V2: &str = "Parameters:\n  Level:\n    Type: String\n    Default: high\n  Mail:\n    Type: String\nResources:\n  Topic:\n    Type: AWS::SNS::Topic\n  Queue:\n    Type: AWS::SQS::Queue\n";

    fn version(name: &str, version: &str, body: &str) -> TemplateVersion {
        let parsed = parse_template(body).unwrap().0;
        let parameters = parsed["Parameters"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.get("Default").and_then(|d| d.as_str()).map(str::to_string)))
            .collect();
        TemplateVersion {
            name: name.into(),
            version: version.into(),
            file: format!("templates/{name}/{version}/template.yaml"),
            body: body.into(),
            parsed,
            provenance: Provenance { source: "test".into(), sha256: String::new(), published: None },
            parameters,
            resources: BTreeMap::new(),
        }
    }

    /// `baseline` 1.1.0 assigned to `jumin-asp` with `Mail` set; 1.0.0 and 1.1.0 stored.
    fn desired() -> DesiredState {
        let mut desired = desired_base();
        desired.templates.push(doc(
            Kind::TemplateAssignment,
            "baseline",
            TemplateAssignment {
                template: "baseline".into(),
                version: "1.1.0".into(),
                accounts: names(&[BETA]),
                regions: Vec::new(),
                stack_name: None,
                parameters: BTreeMap::from([("Mail".into(), "ops@example.com".into())]),
            },
        ));
        for v in [version("baseline", "1.0.0", V1), version("baseline", "1.1.0", V2)] {
            desired.template_versions.insert((v.name.clone(), v.version.clone()), v);
        }
        desired
    }

    fn stack(body: &str) -> LiveStack {
        LiveStack {
            name: "gcops-baseline".into(),
            stack_id: "arn:aws:cloudformation:ap-northeast-1:222222222222:stack/gcops-baseline/1".into(),
            status: "CREATE_COMPLETE".into(),
            parameters: BTreeMap::from([("Level".into(), "high".into()), ("Mail".into(), "ops@example.com".into())]),
            tags: BTreeMap::new(),
            template_body: Some(body.into()),
        }
    }

    fn live_with(desired: &DesiredState, stack: LiveStack) -> LiveState {
        let mut live = live_base(desired);
        ok_mut(&mut home_mut(&mut live, BETA_ID).stacks).push(stack);
        live
    }

    #[test]
    fn stack_at_assigned_version_is_in_sync() {
        let desired = desired();
        let live = live_with(&desired, stack(V2));
        let drift = diff_on(&desired, &live, today());
        assert_eq!(items_of(&drift, ResourceType::Stack, "gcops-baseline").len(), 0);
        assert_eq!(coverage_of(&drift, ResourceType::Stack, "gcops-baseline"), Some(Coverage::InSync));
    }

    #[test]
    fn missing_stack_is_missing_at_empty_path() {
        let desired = desired();
        let live = live_base(&desired);
        let drift = diff_on(&desired, &live, today());
        let item = only_item(&drift, ResourceType::Stack, "gcops-baseline");
        assert_eq!(item.change, Change::Missing);
        assert_eq!(item.path, "");
        assert_eq!(item.source, Source::CloudFormation);
        assert_eq!(item.region.as_deref(), Some(HOME));
        assert_eq!(item.account_name, BETA);
    }

    #[test]
    fn deleted_stack_counts_as_missing() {
        let desired = desired();
        let mut deleted = stack(V2);
        deleted.status = "DELETE_COMPLETE".into();
        let live = live_with(&desired, deleted);
        let drift = diff_on(&desired, &live, today());
        assert_eq!(only_item(&drift, ResourceType::Stack, "gcops-baseline").change, Change::Missing);
    }

    #[test]
    fn rolled_back_update_drifts_on_status() {
        let desired = desired();
        let mut failed = stack(V2);
        failed.status = "UPDATE_ROLLBACK_COMPLETE".into();
        let live = live_with(&desired, failed);
        let drift = diff_on(&desired, &live, today());
        let item = only_item(&drift, ResourceType::Stack, "gcops-baseline");
        assert_eq!(item.path, "status");
        assert_eq!(item.live, json!("UPDATE_ROLLBACK_COMPLETE"));
    }

    #[test]
    fn statuses_are_judged_by_their_ending() {
        for (status, healthy) in [
            ("CREATE_COMPLETE", true),
            ("UPDATE_COMPLETE", true),
            ("IMPORT_COMPLETE", true),
            ("ROLLBACK_COMPLETE", false),
            ("UPDATE_ROLLBACK_COMPLETE", false),
            ("CREATE_FAILED", false),
            ("UPDATE_IN_PROGRESS", false),
            ("UPDATE_ROLLBACK_FAILED", false),
        ] {
            assert_eq!(super::is_healthy(status), healthy, "{status}");
        }
    }

    #[test]
    fn older_template_drifts_on_version() {
        let desired = desired();
        let live = live_with(&desired, stack(V1));
        let drift = diff_on(&desired, &live, today());
        let item = item_at(&drift, "gcops-baseline", "version");
        assert_eq!(item.change, Change::Modified);
        assert_eq!(item.desired, json!("1.1.0"));
        assert_eq!(item.live, json!("1.0.0"));
    }

    #[test]
    fn template_equal_in_other_formatting_is_in_sync() {
        let desired = desired();
        let json_body = serde_json::to_string_pretty(&parse_template(V2).unwrap().0).unwrap();
        let live = live_with(&desired, stack(&json_body));
        let drift = diff_on(&desired, &live, today());
        assert_eq!(coverage_of(&drift, ResourceType::Stack, "gcops-baseline"), Some(Coverage::InSync));
    }

    #[test]
    fn hand_edited_template_is_unknown_with_digest() {
        let desired = desired();
        let edited = format!("{V2}  Extra:\n    Type: AWS::SNS::Topic\n");
        let live = live_with(&desired, stack(&edited));
        let drift = diff_on(&desired, &live, today());
        let item = item_at(&drift, "gcops-baseline", "version");
        let live_text = item.live.as_str().unwrap();
        assert!(live_text.starts_with("unknown template (sha256 "), "{live_text}");
        assert_eq!(live_text.len(), "unknown template (sha256 )".len() + 12);
    }

    #[test]
    fn stack_without_template_body_is_not_checked() {
        let desired = desired();
        let mut no_body = stack(V2);
        no_body.template_body = None;
        let live = live_with(&desired, no_body);
        let drift = diff_on(&desired, &live, today());
        assert_eq!(coverage_of(&drift, ResourceType::Stack, "gcops-baseline"), Some(Coverage::NotChecked));
    }

    #[test]
    fn changed_parameter_drifts_at_its_name() {
        let desired = desired();
        let mut changed = stack(V2);
        changed.parameters.insert("Mail".into(), "someone@example.com".into());
        let live = live_with(&desired, changed);
        let drift = diff_on(&desired, &live, today());
        let item = only_item(&drift, ResourceType::Stack, "gcops-baseline");
        assert_eq!(item.path, "parameters.Mail");
        assert_eq!(item.desired, json!("ops@example.com"));
        assert_eq!(item.live, json!("someone@example.com"));
    }

    #[test]
    fn parameter_left_to_default_is_compared_with_default() {
        let desired = desired();
        let mut changed = stack(V2);
        changed.parameters.insert("Level".into(), "low".into());
        let live = live_with(&desired, changed);
        let drift = diff_on(&desired, &live, today());
        let item = only_item(&drift, ResourceType::Stack, "gcops-baseline");
        assert_eq!(item.path, "parameters.Level");
        assert_eq!(item.desired, json!("high"));
    }

    #[test]
    fn masked_parameter_is_not_compared() {
        let desired = desired();
        let mut masked = stack(V2);
        masked.parameters.insert("Mail".into(), "****".into());
        let live = live_with(&desired, masked);
        let drift = diff_on(&desired, &live, today());
        assert_eq!(items_of(&drift, ResourceType::Stack, "gcops-baseline").len(), 0);
    }

    #[test]
    fn stack_name_defaults_to_gcops_prefix() {
        let desired = desired();
        assert_eq!(super::stack_name(&desired.templates[0].spec), "gcops-baseline");
    }

    #[test]
    fn explicit_stack_name_and_regions_are_used() {
        let mut desired = desired();
        desired.templates[0].spec.stack_name = Some("Baseline".into());
        desired.templates[0].spec.regions = vec![HOME.into(), OSAKA.into()];
        let mut named = stack(V2);
        named.name = "Baseline".into();
        let live = live_with(&desired, named);
        let drift = diff_on(&desired, &live, today());
        assert_eq!(coverage_in(&drift, BETA_ID, ResourceType::Stack, "Baseline"), Some(Coverage::InSync));
        let osaka = drift.coverage.iter().find(|c| c.region.as_deref() == Some(OSAKA)).unwrap();
        assert_eq!(osaka.state, Coverage::Unknown);
    }

    #[test]
    fn failed_stack_listing_is_unknown() {
        let desired = desired();
        let mut live = live_base(&desired);
        home_mut(&mut live, BETA_ID).stacks = Read::Unknown { reason: "Throttling".into() };
        let drift = diff_on(&desired, &live, today());
        assert_eq!(coverage_of(&drift, ResourceType::Stack, "gcops-baseline"), Some(Coverage::Unknown));
        assert_eq!(items_of(&drift, ResourceType::Stack, "gcops-baseline").len(), 0);
    }

    #[test]
    fn account_missing_from_live_state_is_unknown() {
        let desired = desired();
        let mut live = live_base(&desired);
        live.accounts.remove(BETA_ID);
        let drift = diff_on(&desired, &live, today());
        assert_eq!(coverage_of(&drift, ResourceType::Stack, "gcops-baseline"), Some(Coverage::Unknown));
    }

    #[test]
    fn unassigned_stack_is_not_checked() {
        let desired = desired();
        let mut other = stack(V2);
        other.name = "StackSet-hand-made".into();
        let live = live_with(&desired, other);
        let drift = diff_on(&desired, &live, today());
        assert_eq!(coverage_of(&drift, ResourceType::Stack, "StackSet-hand-made"), Some(Coverage::NotChecked));
    }
}
