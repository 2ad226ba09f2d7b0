//! CloudWatch reader: the metric alarms of one region.

use aws_sdk_cloudwatch::types::{AlarmType, MetricAlarm};

use super::error::{CallSite, Error, Result};
use super::model::LiveAlarm;

const SERVICE: &str = "cloudwatch";

/// Reads every metric alarm of the region (DescribeAlarms, paginated).
/// Composite alarms are not read: gcops manages only metric alarms.
pub async fn read_alarms(client: &aws_sdk_cloudwatch::Client, account: &str, region: &str) -> Result<Vec<LiveAlarm>> {
    let site = CallSite {
        account: account.to_string(),
        region: Some(region.to_string()),
        service: SERVICE,
        operation: "DescribeAlarms",
    };

    let mut alarms = Vec::new();
    let mut pages = client.describe_alarms().alarm_types(AlarmType::MetricAlarm).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|error| Error::call(site.clone(), error))?;
        for alarm in page.metric_alarms() {
            alarms.push(live_alarm(alarm, &site)?);
        }
    }

    alarms.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(alarms)
}

fn live_alarm(alarm: &MetricAlarm, site: &CallSite) -> Result<LiveAlarm> {
    let name = alarm.alarm_name().ok_or_else(|| Error::InvalidResponse {
        site: site.clone(),
        field: "MetricAlarms.AlarmName",
        detail: "missing".to_string(),
    })?;

    let dimensions = alarm
        .dimensions()
        .iter()
        .filter_map(|dimension| Some((dimension.name()?.to_string(), dimension.value()?.to_string())))
        .collect();

    Ok(LiveAlarm {
        name: name.to_string(),
        arn: alarm.alarm_arn().unwrap_or_default().to_string(),
        description: alarm.alarm_description().map(str::to_string),
        namespace: alarm.namespace().map(str::to_string),
        metric_name: alarm.metric_name().map(str::to_string),
        dimensions,
        statistic: alarm.statistic().map(|statistic| statistic.as_str().to_string()),
        period: alarm.period(),
        evaluation_periods: alarm.evaluation_periods(),
        threshold: alarm.threshold(),
        comparison_operator: alarm.comparison_operator().map(|operator| operator.as_str().to_string()),
        treat_missing_data: alarm.treat_missing_data().map(str::to_string),
        alarm_actions: alarm.alarm_actions().to_vec(),
    })
}
