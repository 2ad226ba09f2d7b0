//! Live resources that no desired document names: listed as not checked, so
//! that coverage counts show what gcops does not compare.

use crate::live::model::{LiveState, Read};

use super::Collector;
use super::model::ResourceType;

pub(crate) fn list_unmanaged(live: &LiveState, out: &mut Collector) {
    if let Some(Read::Ok { value: organization }) = &live.organization {
        for account_id in organization.account_ous.keys() {
            unclaimed(out, account_id, None, ResourceType::Account, account_id);
        }
    }

    for (account_id, account) in &live.accounts {
        // gcops lists IAM users for the access review but never compares them.
        if let Some(iam) = account.iam.as_ok() {
            for user in &iam.users {
                out.not_checked(account_id, None, ResourceType::User, user);
            }
            for role in &iam.roles {
                unclaimed(out, account_id, None, ResourceType::Role, &role.name);
            }
        }
        if let Some(budgets) = account.budgets.as_ok() {
            for budget in budgets {
                unclaimed(out, account_id, None, ResourceType::Budget, &budget.name);
            }
        }
        for (region, regional) in &account.regions {
            let region = Some(region.as_str());
            if let Some(stacks) = regional.stacks.as_ok() {
                for stack in stacks.iter().filter(|s| s.status != "DELETE_COMPLETE") {
                    unclaimed(out, account_id, region, ResourceType::Stack, &stack.name);
                }
            }
            if let Some(alarms) = regional.alarms.as_ok() {
                for alarm in alarms {
                    unclaimed(out, account_id, region, ResourceType::Alarm, &alarm.name);
                }
            }
            if let Some(topics) = regional.topics.as_ok() {
                for topic in topics {
                    unclaimed(out, account_id, region, ResourceType::Topic, &topic.name);
                }
            }
            if let Some(rules) = regional.config_rules.as_ok() {
                for rule in rules {
                    unclaimed(out, account_id, region, ResourceType::ConfigRule, &rule.name);
                }
            }
        }
    }
}

fn unclaimed(out: &mut Collector, account_id: &str, region: Option<&str>, resource_type: ResourceType, id: &str) {
    if !out.is_claimed(account_id, region, resource_type, id) {
        out.not_checked(account_id, region, resource_type, id);
    }
}
