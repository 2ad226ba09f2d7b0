//! Engine-wide rules: exceptions, fingerprints, ordering, coverage of
//! accounts whose reads are missing.

use chrono::NaiveDate;
use serde_json::json;

use super::model::{Coverage, Drift, ResourceType};
use super::testkit::*;
use super::{diff_on, fingerprint};
use crate::desired::model::{AlarmRule, DesiredState, Exception, Kind, Notify};
use crate::live::model::{LiveAlarm, LiveState, LiveTopic};

const ALARM: &str = "jumin-errors";

fn alarm_rule(accounts: &[&str]) -> AlarmRule {
    AlarmRule {
        accounts: names(accounts),
        region: None,
        alarm_name: ALARM.into(),
        description: None,
        namespace: "AWS/Lambda".into(),
        metric_name: "Errors".into(),
        dimensions: Default::default(),
        statistic: "Sum".into(),
        period: 60,
        evaluation_periods: 1,
        threshold: 1.0,
        comparison_operator: "GreaterThanOrEqualToThreshold".into(),
        treat_missing_data: None,
        notify: Notify { topic_name: "alerts".into(), subscriptions: Vec::new() },
    }
}

/// Builds one alarm rule for both accounts whose live alarms have threshold
/// 5 and period 300, so each account has two drift items.
fn drifted() -> (DesiredState, LiveState) {
    let mut desired = desired_base();
    desired.alarms.push(doc(Kind::AlarmRule, ALARM, alarm_rule(&[ALPHA, BETA])));
    let mut live = live_base(&desired);
    for account_id in [ALPHA_ID, BETA_ID] {
        let region = home_mut(&mut live, account_id);
        ok_mut(&mut region.alarms).push(LiveAlarm {
            name: ALARM.into(),
            namespace: Some("AWS/Lambda".into()),
            metric_name: Some("Errors".into()),
            statistic: Some("Sum".into()),
            period: Some(300),
            evaluation_periods: Some(1),
            threshold: Some(5.0),
            comparison_operator: Some("GreaterThanOrEqualToThreshold".into()),
            alarm_actions: vec![format!("arn:aws:sns:{HOME}:{account_id}:alerts")],
            ..LiveAlarm::default()
        });
        ok_mut(&mut region.topics).push(LiveTopic { name: "alerts".into(), ..LiveTopic::default() });
    }
    (desired, live)
}

fn exception(property: Option<&str>) -> Exception {
    Exception {
        account: BETA.into(),
        resource_type: "AWS::CloudWatch::Alarm".into(),
        resource_id: ALARM.into(),
        property: property.map(str::to_string),
        reason: "Batch job raises errors by design at night".into(),
        approver: "Sato".into(),
        expires: NaiveDate::from_ymd_opt(2027, 3, 31),
    }
}

fn diff_with(exception: Exception) -> Drift {
    let (mut desired, live) = drifted();
    desired.exceptions.push(doc(Kind::Exception, "e1", exception));
    diff_on(&desired, &live, today())
}

#[test]
fn exception_for_whole_resource_moves_its_items() {
    let drift = diff_with(exception(None));
    assert_eq!(drift.excepted.len(), 2);
    assert!(drift.excepted.iter().all(|i| i.account_id == BETA_ID));
    assert_eq!(drift.items.len(), 2);
    assert!(drift.items.iter().all(|i| i.account_id == ALPHA_ID));
}

#[test]
fn exception_for_property_moves_only_that_item() {
    let drift = diff_with(exception(Some("threshold")));
    assert_eq!(drift.excepted.len(), 1);
    assert_eq!(drift.excepted[0].path, "threshold");
    assert_eq!(drift.items.len(), 3);
}

#[test]
fn exception_property_matches_whole_segments_only() {
    let drift = diff_with(exception(Some("thresh")));
    assert_eq!(drift.excepted.len(), 0);
}

#[test]
fn exception_property_covers_nested_paths() {
    let (mut desired, mut live) = drifted();
    ok_mut(&mut home_mut(&mut live, BETA_ID).topics)[0].subscriptions.push(("email".into(), "x@example.com".into()));
    desired.exceptions.push(doc(Kind::Exception, "e1", exception(Some("notify"))));
    let drift = diff_on(&desired, &live, today());
    assert_eq!(drift.excepted.len(), 1);
    assert_eq!(drift.excepted[0].path, "notify.subscriptions");
}

#[test]
fn exception_without_approver_is_ignored() {
    let mut e = exception(None);
    e.approver = String::new();
    assert_eq!(diff_with(e).excepted.len(), 0);
}

#[test]
fn exception_without_reason_is_ignored() {
    let mut e = exception(None);
    e.reason = " ".into();
    assert_eq!(diff_with(e).excepted.len(), 0);
}

#[test]
fn exception_without_expiry_is_ignored() {
    let mut e = exception(None);
    e.expires = None;
    assert_eq!(diff_with(e).excepted.len(), 0);
}

#[test]
fn expired_exception_is_ignored() {
    let mut e = exception(None);
    e.expires = NaiveDate::from_ymd_opt(2026, 11, 30);
    assert_eq!(diff_with(e).excepted.len(), 0);
}

#[test]
fn exception_on_its_last_day_applies() {
    let mut e = exception(None);
    e.expires = Some(today());
    assert_eq!(diff_with(e).excepted.len(), 2);
}

#[test]
fn exception_for_other_resource_type_is_ignored() {
    let mut e = exception(None);
    e.resource_type = "AWS::SNS::Topic".into();
    assert_eq!(diff_with(e).excepted.len(), 0);
}

#[test]
fn excepted_resource_still_counts_as_drifted() {
    let drift = diff_with(exception(None));
    assert_eq!(coverage_in(&drift, BETA_ID, ResourceType::Alarm, ALARM), Some(Coverage::Drifted));
}

#[test]
fn drift_without_excepted_field_deserialises() {
    let drift: Drift = serde_json::from_value(json!({"items": [], "coverage": []})).unwrap();
    assert!(drift.excepted.is_empty());
}

#[test]
fn same_inputs_give_identical_json() {
    let (desired, live) = drifted();
    let first = serde_json::to_string(&diff_on(&desired, &live, today())).unwrap();
    let second = serde_json::to_string(&diff_on(&desired, &live, today())).unwrap();
    assert_eq!(first, second);
}

#[test]
fn items_are_sorted_by_account_resource_and_path() {
    let (desired, live) = drifted();
    let drift = diff_on(&desired, &live, today());
    let keys: Vec<(&str, &str)> = drift.items.iter().map(|i| (i.account_id.as_str(), i.path.as_str())).collect();
    assert_eq!(keys, vec![(ALPHA_ID, "period"), (ALPHA_ID, "threshold"), (BETA_ID, "period"), (BETA_ID, "threshold")]);
}

#[test]
fn document_order_does_not_change_output() {
    let (mut desired, live) = drifted();
    desired.alarms[0].spec.accounts = names(&[BETA, ALPHA]);
    let reordered = serde_json::to_string(&diff_on(&desired, &live, today())).unwrap();
    let (desired, live) = drifted();
    let original = serde_json::to_string(&diff_on(&desired, &live, today())).unwrap();
    assert_eq!(reordered, original);
}

#[test]
fn fingerprint_ignores_item_order() {
    let (desired, live) = drifted();
    let drift = diff_on(&desired, &live, today());
    let forward: Vec<_> = drift.items.iter().collect();
    let backward: Vec<_> = drift.items.iter().rev().collect();
    assert_eq!(fingerprint(&forward), fingerprint(&backward));
}

#[test]
fn fingerprint_is_hex_sha256() {
    let fp = fingerprint(&[]);
    assert_eq!(fp.len(), 64);
    assert!(fp.chars().all(|c| c.is_ascii_hexdigit()));
}

#[test]
fn fingerprint_changes_with_live_value() {
    let (desired, live) = drifted();
    let drift = diff_on(&desired, &live, today());
    let mut changed = drift.items.clone();
    changed[0].live = json!(600);
    let before: Vec<_> = drift.items.iter().collect();
    let after: Vec<_> = changed.iter().collect();
    assert_ne!(fingerprint(&before), fingerprint(&after));
}

#[test]
fn fingerprint_ignores_source_line_moves() {
    let (desired, live) = drifted();
    let drift = diff_on(&desired, &live, today());
    let mut moved = drift.items.clone();
    for item in &mut moved {
        let doc = item.doc.as_mut().unwrap();
        doc.pos.line += 10;
        doc.index += 1;
    }
    let before: Vec<_> = drift.items.iter().collect();
    let after: Vec<_> = moved.iter().collect();
    assert_eq!(fingerprint(&before), fingerprint(&after));
}

#[test]
fn account_without_reads_is_unknown_for_its_resources() {
    let (desired, mut live) = drifted();
    live.accounts.remove(ALPHA_ID);
    let drift = diff_on(&desired, &live, today());
    assert_eq!(coverage_in(&drift, ALPHA_ID, ResourceType::Alarm, ALARM), Some(Coverage::Unknown));
    assert!(drift.items.iter().all(|i| i.account_id != ALPHA_ID));
}

#[test]
fn nothing_unread_is_called_in_sync() {
    let (desired, mut live) = drifted();
    live.accounts.clear();
    live.organization = None;
    let drift = diff_on(&desired, &live, today());
    assert_eq!(drift.counts().in_sync, 0);
    assert_eq!(drift.counts().unknown, 2);
    assert_eq!(drift.counts().not_checked, 2);
}

#[test]
fn account_name_outside_environment_is_skipped() {
    let mut desired = desired_base();
    desired.alarms.push(doc(Kind::AlarmRule, ALARM, alarm_rule(&["no-such-account"])));
    let live = live_base(&desired);
    let drift = diff_on(&desired, &live, today());
    assert_eq!(coverage_of(&drift, ResourceType::Alarm, ALARM), None);
}
