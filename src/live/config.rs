//! AWS Config reader: the Config rules of one region.

use std::collections::BTreeMap;

use aws_sdk_config::types::ConfigRule;

use super::error::{CallSite, Error, Result};
use super::model::LiveConfigRule;

const SERVICE: &str = "config";

/// Reads every Config rule of the region (DescribeConfigRules, paginated).
pub async fn read_config_rules(client: &aws_sdk_config::Client, account: &str, region: &str) -> Result<Vec<LiveConfigRule>> {
    let site = CallSite {
        account: account.to_string(),
        region: Some(region.to_string()),
        service: SERVICE,
        operation: "DescribeConfigRules",
    };

    let mut rules = Vec::new();
    let mut pages = client.describe_config_rules().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|error| Error::call(site.clone(), error))?;
        for rule in page.config_rules() {
            rules.push(live_rule(rule, &site)?);
        }
    }

    rules.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(rules)
}

fn live_rule(rule: &ConfigRule, site: &CallSite) -> Result<LiveConfigRule> {
    let name = rule.config_rule_name().unwrap_or_default().to_string();
    let input_parameters = match rule.input_parameters() {
        Some(text) if !text.trim().is_empty() => parse_input_parameters(text).map_err(|detail| Error::InvalidResponse {
            site: site.clone(),
            field: "ConfigRules.InputParameters",
            detail: format!("rule {name}: {detail}"),
        })?,
        _ => BTreeMap::new(),
    };

    Ok(LiveConfigRule {
        arn: rule.config_rule_arn().unwrap_or_default().to_string(),
        description: rule.description().map(str::to_string),
        owner: rule.source().map(|source| source.owner().as_str().to_string()).unwrap_or_default(),
        identifier: rule.source().and_then(|source| source.source_identifier()).unwrap_or_default().to_string(),
        input_parameters,
        maximum_execution_frequency: rule.maximum_execution_frequency().map(|frequency| frequency.as_str().to_string()),
        state: rule.config_rule_state().map(|state| state.as_str().to_string()),
        name,
    })
}

/// Parses a rule's `InputParameters` JSON object; string values stay as they
/// are, other values become their JSON text (`5`, `true`).
fn parse_input_parameters(text: &str) -> std::result::Result<BTreeMap<String, String>, String> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|error| error.to_string())?;
    let serde_json::Value::Object(object) = value else {
        return Err("not a JSON object".to_string());
    };
    Ok(object
        .into_iter()
        .map(|(key, value)| {
            let text = match value {
                serde_json::Value::String(text) => text,
                other => other.to_string(),
            };
            (key, text)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_parameters_strings_and_numbers() {
        let parsed = parse_input_parameters(r#"{"MaxPasswordAge":"90","MinimumLength":14,"RequireSymbols":true}"#).unwrap();
        assert_eq!(parsed["MaxPasswordAge"], "90");
        assert_eq!(parsed["MinimumLength"], "14");
        assert_eq!(parsed["RequireSymbols"], "true");
    }

    #[test]
    fn input_parameters_rejects_array() {
        assert!(parse_input_parameters("[1]").is_err());
    }
}
