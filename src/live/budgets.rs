//! Budgets reader: the budgets of one account with their notifications and
//! e-mail subscribers.

use aws_sdk_budgets::types::{Budget, Notification, SubscriptionType};
use futures::future::try_join_all;

use super::error::{CallSite, Error, Result};
use super::model::{LiveBudget, LiveBudgetNotification};

const SERVICE: &str = "budgets";

/// Reads every budget (DescribeBudgets), then for each its notifications
/// (DescribeNotificationsForBudget) and for each notification its subscribers
/// (DescribeSubscribersForNotification), all paginated. Budgets has no
/// listing that returns all three at once.
pub async fn read_budgets(client: &aws_sdk_budgets::Client, account: &str) -> Result<Vec<LiveBudget>> {
    let site = |operation| CallSite { account: account.to_string(), region: None, service: SERVICE, operation };

    let mut budgets = Vec::new();
    let mut pages = client.describe_budgets().account_id(account).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|error| Error::call(site("DescribeBudgets"), error))?;
        budgets.extend(page.budgets().iter().cloned());
    }

    let mut live = try_join_all(budgets.iter().map(|budget| read_budget(client, account, budget))).await?;
    live.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(live)
}

async fn read_budget(client: &aws_sdk_budgets::Client, account: &str, budget: &Budget) -> Result<LiveBudget> {
    let site =
        CallSite { account: account.to_string(), region: None, service: SERVICE, operation: "DescribeNotificationsForBudget" };

    let mut notifications = Vec::new();
    let mut pages =
        client.describe_notifications_for_budget().account_id(account).budget_name(budget.budget_name()).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|error| Error::call(site.clone(), error))?;
        notifications.extend(page.notifications().iter().cloned());
    }

    let notifications = try_join_all(
        notifications.iter().map(|notification| read_notification(client, account, budget.budget_name(), notification)),
    )
    .await?;

    Ok(LiveBudget {
        name: budget.budget_name().to_string(),
        budget_type: budget.budget_type().as_str().to_string(),
        time_unit: budget.time_unit().as_str().to_string(),
        limit_amount: budget.budget_limit().map(|limit| limit.amount().to_string()),
        limit_unit: budget.budget_limit().map(|limit| limit.unit().to_string()),
        notifications,
    })
}

async fn read_notification(
    client: &aws_sdk_budgets::Client,
    account: &str,
    budget_name: &str,
    notification: &Notification,
) -> Result<LiveBudgetNotification> {
    let site = CallSite {
        account: account.to_string(),
        region: None,
        service: SERVICE,
        operation: "DescribeSubscribersForNotification",
    };

    let mut addresses = Vec::new();
    let mut pages = client
        .describe_subscribers_for_notification()
        .account_id(account)
        .budget_name(budget_name)
        .notification(notification.clone())
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|error| Error::call(site.clone(), error))?;
        addresses.extend(
            page.subscribers()
                .iter()
                .filter(|subscriber| subscriber.subscription_type() == &SubscriptionType::Email)
                .map(|subscriber| subscriber.address().to_string()),
        );
    }
    addresses.sort();

    Ok(LiveBudgetNotification {
        notification_type: notification.notification_type().as_str().to_string(),
        comparison_operator: notification.comparison_operator().as_str().to_string(),
        threshold: notification.threshold(),
        // AWS documents PERCENTAGE as the default when the type is absent.
        threshold_type: notification
            .threshold_type()
            .map(|kind| kind.as_str().to_string())
            .unwrap_or_else(|| "PERCENTAGE".to_string()),
        addresses,
    })
}
