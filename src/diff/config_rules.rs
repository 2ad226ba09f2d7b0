//! AWS Config rules: source, input parameters, frequency, description.

use serde_json::{Value, json};

use crate::desired::model::{ConfigRule, DesiredState};
use crate::live::model::{LiveConfigRule, LiveState};

use super::model::{Change, ResourceType, Source};
use super::normalize::{non_empty, scalars_equal};
use super::{Check, Collector, account_live, look, target_accounts};

/// Frequency AWS Config applies to a periodic rule that does not set one.
const DEFAULT_FREQUENCY: &str = "TwentyFour_Hours";

pub(crate) fn diff_config_rules(desired: &DesiredState, live: &LiveState, out: &mut Collector) {
    for doc in &desired.config_rules {
        let rule = &doc.spec;
        let region = rule.region.clone().unwrap_or_else(|| desired.home_region().to_string());
        for account in target_accounts(desired, &rule.accounts) {
            out.claim(&account.id, Some(&region), ResourceType::ConfigRule, &rule.rule_name);
            let mut check = Check::new(account, Some(&region), ResourceType::ConfigRule, &rule.rule_name, &doc.doc);
            let read = account_live(live, &account.id).and_then(|a| a.regions.get(&region)).map(|r| &r.config_rules);
            if let Some(rules) = check.take(look(read)) {
                match rules.iter().find(|r| r.name == rule.rule_name) {
                    None => check.drift(
                        Source::Config,
                        Change::Missing,
                        "",
                        serde_json::to_value(rule).unwrap_or(Value::Null),
                        Value::Null,
                    ),
                    Some(found) => compare_rule(&mut check, rule, found),
                }
            }
            check.finish(out);
        }
    }
}

fn compare_rule(check: &mut Check<'_>, rule: &ConfigRule, live: &LiveConfigRule) {
    check.compare(Source::Config, "source.owner", json!(rule.source.owner), json!(live.owner));
    check.compare(Source::Config, "source.identifier", json!(rule.source.identifier), json!(live.identifier));

    // Values are compared as text, numbers by value: `"90"` equals `"90.0"`.
    let same_keys = rule.input_parameters.keys().eq(live.input_parameters.keys());
    let same_values =
        rule.input_parameters.iter().all(|(k, v)| live.input_parameters.get(k).is_some_and(|lv| scalars_equal(v, lv)));
    if !(same_keys && same_values) {
        check.drift(
            Source::Config,
            Change::Modified,
            "inputParameters",
            json!(rule.input_parameters),
            json!(live.input_parameters),
        );
    }

    // An unset frequency accepts AWS's default, which some responses spell out.
    let wanted = rule.maximum_execution_frequency.as_deref();
    let set = live.maximum_execution_frequency.as_deref();
    let frequency_ok = match wanted {
        Some(w) => set == Some(w),
        None => set.is_none() || set == Some(DEFAULT_FREQUENCY),
    };
    if !frequency_ok {
        check.drift(Source::Config, Change::Modified, "maximumExecutionFrequency", json!(wanted), json!(set));
    }

    check.compare(
        Source::Config,
        "description",
        json!(non_empty(rule.description.as_deref())),
        json!(non_empty(live.description.as_deref())),
    );
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::super::diff_on;
    use super::super::model::{Change, Coverage, ResourceType, Source};
    use super::super::testkit::*;
    use crate::desired::model::{ConfigRule, DesiredState, Kind, RuleSource};
    use crate::live::model::{LiveConfigRule, LiveState};

    const RULE: &str = "iam-password-policy";

    fn desired() -> DesiredState {
        let mut desired = desired_base();
        desired.config_rules.push(doc(
            Kind::ConfigRule,
            RULE,
            ConfigRule {
                accounts: names(&[ALPHA, BETA]),
                region: None,
                rule_name: RULE.into(),
                description: Some("Password policy meets the GC baseline".into()),
                source: RuleSource { owner: "AWS".into(), identifier: "IAM_PASSWORD_POLICY".into() },
                input_parameters: BTreeMap::from([
                    ("MinimumPasswordLength".into(), "14".into()),
                    ("RequireSymbols".into(), "true".into()),
                ]),
                maximum_execution_frequency: None,
            },
        ));
        desired
    }

    fn rule() -> LiveConfigRule {
        LiveConfigRule {
            name: RULE.into(),
            arn: format!("arn:aws:config:{HOME}:{BETA_ID}:config-rule/config-rule-1"),
            description: Some("Password policy meets the GC baseline".into()),
            owner: "AWS".into(),
            identifier: "IAM_PASSWORD_POLICY".into(),
            input_parameters: BTreeMap::from([
                ("MinimumPasswordLength".into(), "14.0".into()),
                ("RequireSymbols".into(), "true".into()),
            ]),
            maximum_execution_frequency: Some("TwentyFour_Hours".into()),
            state: Some("ACTIVE".into()),
        }
    }

    /// `beta_rule` in `jumin-asp`, the rule as desired in `ops-shared`.
    fn live_with(desired: &DesiredState, beta_rule: LiveConfigRule) -> LiveState {
        let mut live = live_base(desired);
        ok_mut(&mut home_mut(&mut live, BETA_ID).config_rules).push(beta_rule);
        ok_mut(&mut home_mut(&mut live, ALPHA_ID).config_rules).push(rule());
        live
    }

    fn drift_with(rule: LiveConfigRule) -> super::super::model::Drift {
        let desired = desired();
        let live = live_with(&desired, rule);
        diff_on(&desired, &live, today())
    }

    #[test]
    fn rule_with_numeric_text_parameter_is_in_sync() {
        let drift = drift_with(rule());
        assert_eq!(items_of(&drift, ResourceType::ConfigRule, RULE).len(), 0);
        assert_eq!(coverage_in(&drift, BETA_ID, ResourceType::ConfigRule, RULE), Some(Coverage::InSync));
        assert_eq!(coverage_in(&drift, ALPHA_ID, ResourceType::ConfigRule, RULE), Some(Coverage::InSync));
    }

    #[test]
    fn missing_rule_is_missing() {
        let desired = desired();
        let mut live = live_base(&desired);
        ok_mut(&mut home_mut(&mut live, ALPHA_ID).config_rules).push(rule());
        let drift = diff_on(&desired, &live, today());
        let item = only_item(&drift, ResourceType::ConfigRule, RULE);
        assert_eq!(item.change, Change::Missing);
        assert_eq!(item.account_id, BETA_ID);
        assert_eq!(item.source, Source::Config);
    }

    #[test]
    fn each_property_drifts_at_its_spec_name() {
        type Edit = fn(&mut LiveConfigRule);
        let cases: Vec<(&str, Edit)> = vec![
            ("source.owner", |r| r.owner = "CUSTOM_LAMBDA".into()),
            ("source.identifier", |r| r.identifier = "ROOT_ACCOUNT_MFA_ENABLED".into()),
            ("inputParameters", |r| {
                r.input_parameters.insert("MinimumPasswordLength".into(), "8".into());
            }),
            ("maximumExecutionFrequency", |r| r.maximum_execution_frequency = Some("One_Hour".into())),
            ("description", |r| r.description = Some("edited".into())),
        ];
        for (path, change) in cases {
            let mut changed = rule();
            change(&mut changed);
            let drift = drift_with(changed);
            let items = items_of(&drift, ResourceType::ConfigRule, RULE);
            assert_eq!(items.len(), 1, "{path}: {items:#?}");
            assert_eq!(items[0].path, path);
        }
    }

    #[test]
    fn removed_input_parameter_drifts() {
        let mut changed = rule();
        changed.input_parameters.remove("RequireSymbols");
        let drift = drift_with(changed);
        let item = only_item(&drift, ResourceType::ConfigRule, RULE);
        assert_eq!(item.path, "inputParameters");
        assert_eq!(item.live, json!({"MinimumPasswordLength": "14.0"}));
    }

    #[test]
    fn absent_frequency_accepts_none_live() {
        let mut changed = rule();
        changed.maximum_execution_frequency = None;
        let drift = drift_with(changed);
        assert_eq!(items_of(&drift, ResourceType::ConfigRule, RULE).len(), 0);
    }

    #[test]
    fn undesired_rule_is_not_checked() {
        let mut changed = rule();
        changed.name = "securityhub-s3-public".into();
        let drift = drift_with(changed);
        assert_eq!(coverage_in(&drift, BETA_ID, ResourceType::ConfigRule, "securityhub-s3-public"), Some(Coverage::NotChecked));
    }
}
