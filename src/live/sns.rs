//! SNS reader: topics of one region with their subscriptions.

use std::collections::BTreeMap;

use super::error::{CallSite, Error, Result};
use super::model::LiveTopic;

const SERVICE: &str = "sns";

/// Reads every topic (ListTopics) and every subscription (ListSubscriptions)
/// of the region, both paginated, and groups subscriptions by topic.
///
/// Listing subscriptions once for the region costs one call per 100
/// subscriptions, instead of one call per topic with ListSubscriptionsByTopic.
pub async fn read_topics(client: &aws_sdk_sns::Client, account: &str, region: &str) -> Result<Vec<LiveTopic>> {
    let site =
        |operation| CallSite { account: account.to_string(), region: Some(region.to_string()), service: SERVICE, operation };

    let list_topics = async {
        let mut arns = Vec::new();
        let mut pages = client.list_topics().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|error| Error::call(site("ListTopics"), error))?;
            arns.extend(page.topics().iter().filter_map(|topic| topic.topic_arn().map(str::to_string)));
        }
        Ok::<_, Error>(arns)
    };

    let list_subscriptions = async {
        let mut by_topic: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
        let mut pages = client.list_subscriptions().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|error| Error::call(site("ListSubscriptions"), error))?;
            for subscription in page.subscriptions() {
                let Some(topic_arn) = subscription.topic_arn() else {
                    continue;
                };
                by_topic.entry(topic_arn.to_string()).or_default().push((
                    subscription.protocol().unwrap_or_default().to_string(),
                    subscription.endpoint().unwrap_or_default().to_string(),
                ));
            }
        }
        Ok::<_, Error>(by_topic)
    };

    let (arns, mut by_topic) = futures::try_join!(list_topics, list_subscriptions)?;

    let mut topics: Vec<LiveTopic> = arns
        .into_iter()
        .map(|arn| {
            let mut subscriptions = by_topic.remove(&arn).unwrap_or_default();
            subscriptions.sort();
            LiveTopic { name: topic_name(&arn).to_string(), arn, subscriptions }
        })
        .collect();
    topics.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(topics)
}

/// The topic name is the last `:`-separated part of its ARN.
fn topic_name(arn: &str) -> &str {
    arn.rsplit(':').next().unwrap_or(arn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_name_from_arn() {
        assert_eq!(topic_name("arn:aws:sns:ap-northeast-1:111111111111:alerts"), "alerts");
    }
}
