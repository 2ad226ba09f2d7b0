//! Budgets: monthly limit, currency, alert thresholds and who is notified.

use serde_json::{Value, json};

use crate::desired::model::{Account, Budget, DesiredState};
use crate::live::model::{LiveBudget, LiveState};

use super::model::{Change, ResourceType, Source};
use super::normalize::{number_matches, number_value, numbers_equal, parse_number, sorted_set};
use super::{Check, Collector, account_live, look, target_accounts};

/// Currency of a budget that does not name one: AWS bills in USD.
const DEFAULT_UNIT: &str = "USD";

/// Accounts that carry a budget: `accounts`, or every account of its system.
pub fn budget_accounts<'a>(desired: &'a DesiredState, budget: &Budget) -> Vec<&'a Account> {
    if budget.accounts.is_empty() {
        desired.accounts().iter().filter(|a| a.system.as_deref() == Some(budget.system.as_str())).collect()
    } else {
        target_accounts(desired, &budget.accounts)
    }
}

pub(crate) fn diff_budgets(desired: &DesiredState, live: &LiveState, out: &mut Collector) {
    for doc in &desired.budgets {
        let budget = &doc.spec;
        for account in budget_accounts(desired, budget) {
            out.claim(&account.id, None, ResourceType::Budget, &budget.budget_name);
            let mut check = Check::new(account, None, ResourceType::Budget, &budget.budget_name, &doc.doc);
            let read = account_live(live, &account.id).map(|a| &a.budgets);
            if let Some(budgets) = check.take(look(read)) {
                match budgets.iter().find(|b| b.name == budget.budget_name) {
                    None => check.drift(
                        Source::Budgets,
                        Change::Missing,
                        "",
                        serde_json::to_value(budget).unwrap_or(Value::Null),
                        Value::Null,
                    ),
                    Some(found) => compare_budget(&mut check, budget, found),
                }
            }
            check.finish(out);
        }
    }
}

// NOTE: `budget_type` and `time_unit` are not compared; a budget of the
// desired name is taken to be the monthly cost budget.
fn compare_budget(check: &mut Check<'_>, budget: &Budget, live: &LiveBudget) {
    let amount = live.limit_amount.as_deref();
    if !amount.is_some_and(|a| number_matches(budget.monthly_amount, &json!(a))) {
        let shown = match amount {
            None => Value::Null,
            Some(text) => parse_number(text).map_or_else(|| json!(text), number_value),
        };
        check.drift(Source::Budgets, Change::Modified, "monthlyAmount", number_value(budget.monthly_amount), shown);
    }

    check.compare(Source::Budgets, "unit", json!(budget.unit.as_deref().unwrap_or(DEFAULT_UNIT)), json!(live.limit_unit));

    let wanted = sorted_numbers(budget.thresholds.iter().copied());
    let actual = sorted_numbers(
        live.notifications
            .iter()
            .filter(|n| {
                n.notification_type == "ACTUAL" && n.threshold_type == "PERCENTAGE" && n.comparison_operator == "GREATER_THAN"
            })
            .map(|n| n.threshold),
    );
    let same = wanted.len() == actual.len() && wanted.iter().zip(&actual).all(|(a, b)| numbers_equal(*a, *b));
    if !same {
        let shown = |v: &[f64]| Value::Array(v.iter().copied().map(number_value).collect());
        check.drift(Source::Budgets, Change::Modified, "thresholds", shown(&wanted), shown(&actual));
    }

    // Addresses of every notification count, so that an outside address
    // added to a forecast alert shows too.
    let wanted = sorted_set(&budget.addresses);
    let actual = sorted_set(live.notifications.iter().flat_map(|n| n.addresses.iter()));
    check.compare(Source::Budgets, "addresses", json!(wanted), json!(actual));
}

fn sorted_numbers(numbers: impl Iterator<Item = f64>) -> Vec<f64> {
    let mut v: Vec<f64> = numbers.collect();
    v.sort_by(f64::total_cmp);
    v.dedup_by(|a, b| numbers_equal(*a, *b));
    v
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::diff_on;
    use super::super::model::{Change, Coverage, ResourceType, Source};
    use super::super::testkit::*;
    use crate::desired::model::{Budget, DesiredState, Kind};
    use crate::live::model::{LiveBudget, LiveBudgetNotification, LiveState};

    const BUDGET: &str = "jumin-monthly";

    fn desired() -> DesiredState {
        let mut desired = desired_base();
        desired.budgets.push(doc(
            Kind::Budget,
            "jumin",
            Budget {
                system: "jumin".into(),
                accounts: Vec::new(),
                budget_name: BUDGET.into(),
                monthly_amount: 100.0,
                unit: None,
                thresholds: vec![100.0, 80.0],
                addresses: names(&["ops@example.com"]),
            },
        ));
        desired
    }

    fn notification(threshold: f64) -> LiveBudgetNotification {
        LiveBudgetNotification {
            notification_type: "ACTUAL".into(),
            comparison_operator: "GREATER_THAN".into(),
            threshold,
            threshold_type: "PERCENTAGE".into(),
            addresses: names(&["ops@example.com"]),
        }
    }

    fn budget() -> LiveBudget {
        LiveBudget {
            name: BUDGET.into(),
            budget_type: "COST".into(),
            time_unit: "MONTHLY".into(),
            limit_amount: Some("100.0".into()),
            limit_unit: Some("USD".into()),
            notifications: vec![notification(80.0), notification(100.0)],
        }
    }

    fn live_with(desired: &DesiredState, budget: LiveBudget) -> LiveState {
        let mut live = live_base(desired);
        ok_mut(&mut account_mut(&mut live, BETA_ID).budgets).push(budget);
        live
    }

    fn drift_with(budget: LiveBudget) -> super::super::model::Drift {
        let desired = desired();
        let live = live_with(&desired, budget);
        diff_on(&desired, &live, today())
    }

    #[test]
    fn budget_with_decimal_text_limit_is_in_sync() {
        let drift = drift_with(budget());
        assert_eq!(items_of(&drift, ResourceType::Budget, BUDGET).len(), 0);
        assert_eq!(coverage_in(&drift, BETA_ID, ResourceType::Budget, BUDGET), Some(Coverage::InSync));
    }

    #[test]
    fn budget_targets_accounts_of_its_system() {
        let drift = drift_with(budget());
        assert_eq!(coverage_in(&drift, ALPHA_ID, ResourceType::Budget, BUDGET), None);
    }

    #[test]
    fn explicit_accounts_replace_the_system_default() {
        let mut desired = desired();
        desired.budgets[0].spec.accounts = names(&[ALPHA]);
        let live = live_with(&desired, budget());
        let drift = diff_on(&desired, &live, today());
        assert_eq!(coverage_in(&drift, ALPHA_ID, ResourceType::Budget, BUDGET), Some(Coverage::Drifted));
        assert_eq!(coverage_in(&drift, BETA_ID, ResourceType::Budget, BUDGET), Some(Coverage::NotChecked));
    }

    #[test]
    fn missing_budget_is_missing() {
        let desired = desired();
        let live = live_base(&desired);
        let drift = diff_on(&desired, &live, today());
        let item = only_item(&drift, ResourceType::Budget, BUDGET);
        assert_eq!(item.change, Change::Missing);
        assert_eq!(item.source, Source::Budgets);
        assert_eq!(item.region, None);
    }

    #[test]
    fn changed_limit_drifts_on_monthly_amount() {
        let mut changed = budget();
        changed.limit_amount = Some("150.5".into());
        let drift = drift_with(changed);
        let item = only_item(&drift, ResourceType::Budget, BUDGET);
        assert_eq!(item.path, "monthlyAmount");
        assert_eq!(item.desired, json!(100));
        assert_eq!(item.live, json!(150.5));
    }

    #[test]
    fn other_currency_drifts_on_unit() {
        let mut changed = budget();
        changed.limit_unit = Some("JPY".into());
        let drift = drift_with(changed);
        let item = only_item(&drift, ResourceType::Budget, BUDGET);
        assert_eq!(item.path, "unit");
        assert_eq!(item.desired, json!("USD"));
    }

    #[test]
    fn removed_threshold_drifts() {
        let mut changed = budget();
        changed.notifications.pop();
        let drift = drift_with(changed);
        let item = only_item(&drift, ResourceType::Budget, BUDGET);
        assert_eq!(item.path, "thresholds");
        assert_eq!(item.desired, json!([80, 100]));
        assert_eq!(item.live, json!([80]));
    }

    #[test]
    fn forecast_notification_is_not_a_threshold() {
        let mut changed = budget();
        let mut forecast = notification(90.0);
        forecast.notification_type = "FORECASTED".into();
        changed.notifications.push(forecast);
        let drift = drift_with(changed);
        assert_eq!(coverage_in(&drift, BETA_ID, ResourceType::Budget, BUDGET), Some(Coverage::InSync));
    }

    #[test]
    fn added_subscriber_drifts_on_addresses() {
        let mut changed = budget();
        changed.notifications[0].addresses.push("cfo@example.com".into());
        let drift = drift_with(changed);
        let item = only_item(&drift, ResourceType::Budget, BUDGET);
        assert_eq!(item.path, "addresses");
        assert_eq!(item.live, json!(["cfo@example.com", "ops@example.com"]));
    }

    #[test]
    fn undesired_budget_is_not_checked() {
        let desired = desired();
        let mut live = live_with(&desired, budget());
        ok_mut(&mut account_mut(&mut live, ALPHA_ID).budgets).push(LiveBudget { name: "old".into(), ..LiveBudget::default() });
        let drift = diff_on(&desired, &live, today());
        assert_eq!(coverage_in(&drift, ALPHA_ID, ResourceType::Budget, "old"), Some(Coverage::NotChecked));
    }
}
