//! Alarm rules: the CloudWatch alarm's properties, its SNS action, and the
//! topic's subscriptions.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::desired::model::{AlarmRule, DesiredState, Subscription};
use crate::live::model::{LiveAlarm, LiveState, LiveTopic};

use super::model::{Change, ResourceType, Source};
use super::normalize::{non_empty, number_value, numbers_equal};
use super::{Check, Collector, account_live, look, target_accounts};

/// Missing-data treatment CloudWatch applies when the alarm does not set one.
const DEFAULT_TREAT_MISSING_DATA: &str = "missing";

pub(crate) fn diff_alarms(desired: &DesiredState, live: &LiveState, out: &mut Collector) {
    for doc in &desired.alarms {
        let rule = &doc.spec;
        let region = rule.region.clone().unwrap_or_else(|| desired.home_region().to_string());
        for account in target_accounts(desired, &rule.accounts) {
            out.claim(&account.id, Some(&region), ResourceType::Alarm, &rule.alarm_name);
            out.claim(&account.id, Some(&region), ResourceType::Topic, &rule.notify.topic_name);
            let mut check = Check::new(account, Some(&region), ResourceType::Alarm, &rule.alarm_name, &doc.doc);
            let region_live = account_live(live, &account.id).and_then(|a| a.regions.get(&region));

            if let Some(alarms) = check.take(look(region_live.map(|r| &r.alarms))) {
                match alarms.iter().find(|a| a.name == rule.alarm_name) {
                    None => check.drift(
                        Source::CloudWatch,
                        Change::Missing,
                        "",
                        serde_json::to_value(rule).unwrap_or(Value::Null),
                        Value::Null,
                    ),
                    Some(alarm) => compare_alarm(&mut check, rule, alarm),
                }
            }

            if let Some(topics) = check.take(look(region_live.map(|r| &r.topics))) {
                match topics.iter().find(|t| t.name == rule.notify.topic_name) {
                    None => {
                        check.drift(Source::Sns, Change::Missing, "notify.topicName", json!(rule.notify.topic_name), Value::Null)
                    }
                    Some(topic) => compare_subscriptions(&mut check, &rule.notify.subscriptions, topic),
                }
            }
            check.finish(out);
        }
    }
}

fn compare_alarm(check: &mut Check<'_>, rule: &AlarmRule, alarm: &LiveAlarm) {
    let source = Source::CloudWatch;
    if !alarm.threshold.is_some_and(|t| numbers_equal(t, rule.threshold)) {
        check.drift(
            source,
            Change::Modified,
            "threshold",
            number_value(rule.threshold),
            alarm.threshold.map_or(Value::Null, number_value),
        );
    }
    check.compare(source, "period", json!(rule.period), json!(alarm.period));
    check.compare(source, "evaluationPeriods", json!(rule.evaluation_periods), json!(alarm.evaluation_periods));
    check.compare(source, "statistic", json!(rule.statistic), json!(alarm.statistic));
    check.compare(source, "comparisonOperator", json!(rule.comparison_operator), json!(alarm.comparison_operator));
    check.compare(source, "namespace", json!(rule.namespace), json!(alarm.namespace));
    check.compare(source, "metricName", json!(rule.metric_name), json!(alarm.metric_name));
    check.compare(source, "dimensions", json!(rule.dimensions), json!(alarm.dimensions));
    check.compare(
        source,
        "description",
        json!(non_empty(rule.description.as_deref())),
        json!(non_empty(alarm.description.as_deref())),
    );
    check.compare(
        source,
        "treatMissingData",
        json!(rule.treat_missing_data.as_deref().unwrap_or(DEFAULT_TREAT_MISSING_DATA)),
        json!(alarm.treat_missing_data.as_deref().unwrap_or(DEFAULT_TREAT_MISSING_DATA)),
    );

    let region = check.region().unwrap_or_default().to_string();
    let account_id = check.account_id().to_string();
    let prefix = format!("arn:aws:sns:{region}:{account_id}:");
    let wanted = format!("{prefix}{}", rule.notify.topic_name);
    if !alarm.alarm_actions.contains(&wanted) {
        check.drift(
            source,
            Change::Modified,
            "notify.topicName",
            json!(rule.notify.topic_name),
            actions_as_topics(&alarm.alarm_actions, &prefix),
        );
    }
}

/// Alarm actions in `topicName` terms: topics of the alarm's own account and
/// region by name, anything else as its ARN; one action as a string, none as
/// `null`.
fn actions_as_topics(actions: &[String], own_prefix: &str) -> Value {
    let mut shown: Vec<&str> = actions.iter().map(|a| a.strip_prefix(own_prefix).unwrap_or(a)).collect();
    shown.sort();
    match shown.as_slice() {
        [] => Value::Null,
        [one] => json!(one),
        many => json!(many),
    }
}

fn compare_subscriptions(check: &mut Check<'_>, wanted: &[Subscription], topic: &LiveTopic) {
    let mut desired: Vec<BTreeMap<&str, &str>> =
        wanted.iter().map(|s| BTreeMap::from([("protocol", s.protocol.as_str()), ("endpoint", s.endpoint.as_str())])).collect();
    let mut live: Vec<BTreeMap<&str, &str>> = topic
        .subscriptions
        .iter()
        .map(|(protocol, endpoint)| BTreeMap::from([("protocol", protocol.as_str()), ("endpoint", endpoint.as_str())]))
        .collect();
    desired.sort();
    desired.dedup();
    live.sort();
    live.dedup();
    check.compare(Source::Sns, "notify.subscriptions", json!(desired), json!(live));
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::{Value, json};

    use super::super::diff_on;
    use super::super::model::{Change, Coverage, ResourceType, Source};
    use super::super::testkit::*;
    use crate::desired::model::{AlarmRule, DesiredState, Kind, Notify, Subscription};
    use crate::live::model::{LiveAlarm, LiveState, LiveTopic, Read};

    const ALARM: &str = "jumin-cpu-high";
    const TOPIC: &str = "gc-ops-alerts";

    fn desired() -> DesiredState {
        let mut desired = desired_base();
        desired.alarms.push(doc(
            Kind::AlarmRule,
            "jumin-cpu-high",
            AlarmRule {
                accounts: names(&[BETA]),
                region: None,
                alarm_name: ALARM.into(),
                description: Some("CPU above 80%".into()),
                namespace: "AWS/EC2".into(),
                metric_name: "CPUUtilization".into(),
                dimensions: BTreeMap::from([("AutoScalingGroupName".into(), "jumin-app".into())]),
                statistic: "Average".into(),
                period: 300,
                evaluation_periods: 3,
                threshold: 80.0,
                comparison_operator: "GreaterThanOrEqualToThreshold".into(),
                treat_missing_data: None,
                notify: Notify {
                    topic_name: TOPIC.into(),
                    subscriptions: vec![Subscription { protocol: "email".into(), endpoint: "ops@example.com".into() }],
                },
            },
        ));
        desired
    }

    fn alarm() -> LiveAlarm {
        LiveAlarm {
            name: ALARM.into(),
            arn: format!("arn:aws:cloudwatch:{HOME}:{BETA_ID}:alarm:{ALARM}"),
            description: Some("CPU above 80%".into()),
            namespace: Some("AWS/EC2".into()),
            metric_name: Some("CPUUtilization".into()),
            dimensions: BTreeMap::from([("AutoScalingGroupName".into(), "jumin-app".into())]),
            statistic: Some("Average".into()),
            period: Some(300),
            evaluation_periods: Some(3),
            threshold: Some(80.0),
            comparison_operator: Some("GreaterThanOrEqualToThreshold".into()),
            treat_missing_data: Some("missing".into()),
            alarm_actions: vec![format!("arn:aws:sns:{HOME}:{BETA_ID}:{TOPIC}")],
        }
    }

    fn topic() -> LiveTopic {
        LiveTopic {
            name: TOPIC.into(),
            arn: format!("arn:aws:sns:{HOME}:{BETA_ID}:{TOPIC}"),
            subscriptions: vec![("email".into(), "ops@example.com".into())],
        }
    }

    fn live_with(desired: &DesiredState, alarm: LiveAlarm, topic: LiveTopic) -> LiveState {
        let mut live = live_base(desired);
        let region = home_mut(&mut live, BETA_ID);
        ok_mut(&mut region.alarms).push(alarm);
        ok_mut(&mut region.topics).push(topic);
        live
    }

    fn drift_with(alarm: LiveAlarm) -> super::super::model::Drift {
        let desired = desired();
        let live = live_with(&desired, alarm, topic());
        diff_on(&desired, &live, today())
    }

    #[test]
    fn alarm_as_desired_is_in_sync() {
        let drift = drift_with(alarm());
        assert_eq!(items_of(&drift, ResourceType::Alarm, ALARM).len(), 0);
        assert_eq!(coverage_of(&drift, ResourceType::Alarm, ALARM), Some(Coverage::InSync));
    }

    #[test]
    fn missing_alarm_is_missing_in_home_region() {
        let desired = desired();
        let mut live = live_base(&desired);
        ok_mut(&mut home_mut(&mut live, BETA_ID).topics).push(topic());
        let drift = diff_on(&desired, &live, today());
        let item = only_item(&drift, ResourceType::Alarm, ALARM);
        assert_eq!(item.change, Change::Missing);
        assert_eq!(item.path, "");
        assert_eq!(item.source, Source::CloudWatch);
        assert_eq!(item.region.as_deref(), Some(HOME));
    }

    #[test]
    fn changed_threshold_drifts() {
        let mut changed = alarm();
        changed.threshold = Some(90.0);
        let drift = drift_with(changed);
        let item = only_item(&drift, ResourceType::Alarm, ALARM);
        assert_eq!(item.path, "threshold");
        assert_eq!(item.desired, json!(80));
        assert_eq!(item.live, json!(90));
    }

    #[test]
    fn each_property_drifts_at_its_spec_name() {
        type Edit = fn(&mut LiveAlarm);
        let cases: Vec<(&str, Edit)> = vec![
            ("period", |a| a.period = Some(60)),
            ("evaluationPeriods", |a| a.evaluation_periods = Some(1)),
            ("statistic", |a| a.statistic = Some("Maximum".into())),
            ("comparisonOperator", |a| a.comparison_operator = Some("GreaterThanThreshold".into())),
            ("namespace", |a| a.namespace = Some("AWS/RDS".into())),
            ("metricName", |a| a.metric_name = Some("FreeableMemory".into())),
            ("dimensions", |a| {
                a.dimensions.insert("InstanceId".into(), "i-1".into());
            }),
            ("description", |a| a.description = None),
            ("treatMissingData", |a| a.treat_missing_data = Some("breaching".into())),
        ];
        for (path, change) in cases {
            let mut changed = alarm();
            change(&mut changed);
            let drift = drift_with(changed);
            let items = items_of(&drift, ResourceType::Alarm, ALARM);
            assert_eq!(items.len(), 1, "{path}: {items:#?}");
            assert_eq!(items[0].path, path);
            assert_eq!(items[0].change, Change::Modified, "{path}");
        }
    }

    #[test]
    fn absent_treat_missing_data_means_missing() {
        let mut changed = alarm();
        changed.treat_missing_data = None;
        let drift = drift_with(changed);
        assert_eq!(coverage_of(&drift, ResourceType::Alarm, ALARM), Some(Coverage::InSync));
    }

    #[test]
    fn action_to_another_topic_drifts_on_topic_name() {
        let mut changed = alarm();
        changed.alarm_actions = vec![format!("arn:aws:sns:{HOME}:{BETA_ID}:someone-else")];
        let drift = drift_with(changed);
        let item = only_item(&drift, ResourceType::Alarm, ALARM);
        assert_eq!(item.path, "notify.topicName");
        assert_eq!(item.source, Source::CloudWatch);
        assert_eq!(item.desired, json!(TOPIC));
        assert_eq!(item.live, json!("someone-else"));
    }

    #[test]
    fn alarm_without_actions_shows_null_topic() {
        let mut changed = alarm();
        changed.alarm_actions.clear();
        let drift = drift_with(changed);
        assert_eq!(item_at(&drift, ALARM, "notify.topicName").live, Value::Null);
    }

    #[test]
    fn extra_alarm_action_is_accepted() {
        let mut changed = alarm();
        changed.alarm_actions.push(format!("arn:aws:sns:{HOME}:{BETA_ID}:pager"));
        let drift = drift_with(changed);
        assert_eq!(coverage_of(&drift, ResourceType::Alarm, ALARM), Some(Coverage::InSync));
    }

    #[test]
    fn missing_topic_drifts_from_sns() {
        let desired = desired();
        let mut live = live_base(&desired);
        ok_mut(&mut home_mut(&mut live, BETA_ID).alarms).push(alarm());
        let drift = diff_on(&desired, &live, today());
        let item = only_item(&drift, ResourceType::Alarm, ALARM);
        assert_eq!(item.path, "notify.topicName");
        assert_eq!(item.source, Source::Sns);
        assert_eq!(item.change, Change::Missing);
    }

    #[test]
    fn extra_subscription_drifts_from_sns() {
        let desired = desired();
        let mut changed = topic();
        changed.subscriptions.push(("email".into(), "outsider@example.net".into()));
        let live = live_with(&desired, alarm(), changed);
        let drift = diff_on(&desired, &live, today());
        let item = only_item(&drift, ResourceType::Alarm, ALARM);
        assert_eq!(item.path, "notify.subscriptions");
        assert_eq!(item.source, Source::Sns);
        assert_eq!(
            item.live,
            json!([
                {"endpoint": "ops@example.com", "protocol": "email"},
                {"endpoint": "outsider@example.net", "protocol": "email"}
            ])
        );
    }

    #[test]
    fn failed_topic_read_leaves_alarm_unknown() {
        let desired = desired();
        let mut live = live_with(&desired, alarm(), topic());
        home_mut(&mut live, BETA_ID).topics = Read::Unknown { reason: "Throttling".into() };
        let drift = diff_on(&desired, &live, today());
        assert_eq!(coverage_of(&drift, ResourceType::Alarm, ALARM), Some(Coverage::Unknown));
    }

    #[test]
    fn alarm_region_overrides_home_region() {
        let mut desired = desired();
        desired.alarms[0].spec.region = Some(OSAKA.into());
        let live = live_with(&desired, alarm(), topic());
        let drift = diff_on(&desired, &live, today());
        let state_in = |region: &str| {
            drift
                .coverage
                .iter()
                .find(|c| c.resource_id == ALARM && c.resource_type == ResourceType::Alarm && c.region.as_deref() == Some(region))
                .map(|c| c.state)
        };
        assert_eq!(state_in(OSAKA), Some(Coverage::Unknown));
        assert_eq!(state_in(HOME), Some(Coverage::NotChecked));
    }

    #[test]
    fn undesired_alarm_and_topic_are_not_checked() {
        let desired = desired();
        let mut live = live_with(&desired, alarm(), topic());
        let region = home_mut(&mut live, BETA_ID);
        ok_mut(&mut region.alarms).push(LiveAlarm { name: "hand-made".into(), ..LiveAlarm::default() });
        ok_mut(&mut region.topics).push(LiveTopic { name: "hand-topic".into(), ..LiveTopic::default() });
        let drift = diff_on(&desired, &live, today());
        assert_eq!(coverage_of(&drift, ResourceType::Alarm, "hand-made"), Some(Coverage::NotChecked));
        assert_eq!(coverage_of(&drift, ResourceType::Topic, "hand-topic"), Some(Coverage::NotChecked));
        assert_eq!(coverage_of(&drift, ResourceType::Topic, TOPIC), None);
    }
}
