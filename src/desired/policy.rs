//! Shape of the IAM policy documents under `inlinePolicies`: the elements
//! IAM accepts, in their exact case. The wildcard and guardrail checks read
//! only these elements, so a policy that passes here has no statement they
//! cannot see.

use serde_json::Value;

use super::error::{Rule, ValidationError};
use super::model::SourcePos;
use super::position::Node;

/// Top-level elements of a policy document.
const POLICY_KEYS: [&str; 3] = ["Version", "Id", "Statement"];

/// Elements of one statement.
const STATEMENT_KEYS: [&str; 9] =
    ["Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource", "NotResource", "Condition"];
// NOTE: IAM rejects Principal and NotPrincipal in the identity policies that
// inline policies are, so they pass here only to fail when the role is applied.

/// Policy language versions IAM accepts.
const VERSIONS: [&str; 2] = ["2012-10-17", "2008-10-17"];

/// Location of a policy's nodes, for error positions. Without a node,
/// every error is placed at `fallback`.
pub struct PolicySource<'a> {
    pub file: &'a str,
    /// The policy's value node under `inlinePolicies`.
    pub node: Option<&'a Node>,
    pub fallback: &'a SourcePos,
}

impl PolicySource<'_> {
    /// Position of the value at dotted `path` inside the policy.
    fn value_pos(&self, path: &str) -> SourcePos {
        match self.node {
            Some(node) => node.locate(path).pos(self.file),
            None => self.fallback.clone(),
        }
    }

    /// Position of the key `key` of the mapping at dotted `parent`.
    fn key_pos(&self, parent: &str, key: &str) -> SourcePos {
        match self.node {
            Some(node) => {
                let mapping = node.locate(parent);
                mapping.entry(key).map(|(k, _)| k).unwrap_or(mapping).pos(self.file)
            }
            None => self.fallback.clone(),
        }
    }
}

/// Returns every shape problem of inline policy `name`, as `invalid-policy` errors.
pub fn check_policy(name: &str, policy: &Value, source: &PolicySource<'_>) -> Vec<ValidationError> {
    let mut errors = Vec::new();
    let invalid = |pos: SourcePos, problem: &'static str| {
        ValidationError::new(pos, Rule::InvalidPolicy).problem(problem).arg("policy", name)
    };

    let Value::Object(document) = policy else {
        errors.push(invalid(source.value_pos(""), "not-a-mapping").arg("found", json_type(policy)));
        return errors;
    };
    for (key, value) in document {
        if !POLICY_KEYS.contains(&key.as_str()) {
            errors.push(invalid(source.key_pos("", key), "unknown-key").arg("key", key).arg("allowed", POLICY_KEYS.join(", ")));
            continue;
        }
        match (key.as_str(), value) {
            ("Version", Value::String(v)) if VERSIONS.contains(&v.as_str()) => {}
            ("Version", _) => errors.push(
                invalid(source.value_pos(key), "version").arg("value", scalar_text(value)).arg("allowed", VERSIONS.join(", ")),
            ),
            ("Id", Value::String(_)) => {}
            ("Id", _) => errors.push(invalid(source.value_pos(key), "not-a-string").arg("key", key)),
            _ => {}
        }
    }

    match document.get("Statement") {
        None => errors.push(invalid(source.value_pos(""), "statement-missing")),
        Some(Value::Array(items)) => {
            for (i, statement) in items.iter().enumerate() {
                check_statement(&format!("Statement.{i}"), statement, source, &invalid, &mut errors);
            }
        }
        Some(statement @ Value::Object(_)) => check_statement("Statement", statement, source, &invalid, &mut errors),
        Some(other) => {
            errors.push(invalid(source.value_pos("Statement"), "statement-type").arg("found", json_type(other)));
        }
    }
    errors
}

fn check_statement(
    path: &str,
    statement: &Value,
    source: &PolicySource<'_>,
    invalid: &dyn Fn(SourcePos, &'static str) -> ValidationError,
    errors: &mut Vec<ValidationError>,
) {
    let Value::Object(elements) = statement else {
        errors.push(invalid(source.value_pos(path), "statement-type").arg("found", json_type(statement)));
        return;
    };
    for (key, value) in elements {
        let at = format!("{path}.{key}");
        match key.as_str() {
            "Sid" if !value.is_string() => errors.push(invalid(source.value_pos(&at), "not-a-string").arg("key", key)),
            "Effect" if !matches!(value.as_str(), Some("Allow" | "Deny")) => {
                errors.push(invalid(source.value_pos(&at), "effect").arg("value", scalar_text(value)));
            }
            "Action" | "NotAction" | "Resource" | "NotResource" => {
                if let Some(bad) = not_string_or_list(value) {
                    let pos = source.value_pos(&format!("{at}{bad}"));
                    errors.push(invalid(pos, "string-or-list").arg("key", key));
                }
            }
            "Principal" | "NotPrincipal" if !(value.as_str() == Some("*") || value.is_object()) => {
                errors.push(invalid(source.value_pos(&at), "principal").arg("key", key));
            }
            "Condition" if !value.is_object() => errors.push(invalid(source.value_pos(&at), "condition")),
            known if STATEMENT_KEYS.contains(&known) => {}
            _ => errors.push(
                invalid(source.key_pos(path, key), "unknown-statement-key")
                    .arg("key", key)
                    .arg("allowed", STATEMENT_KEYS.join(", ")),
            ),
        }
    }

    // IAM rejects a statement without these; one of each pair is required.
    for (required, alternative) in [("Effect", None), ("Action", Some("NotAction")), ("Resource", Some("NotResource"))] {
        let present = elements.contains_key(required) || alternative.is_some_and(|a| elements.contains_key(a));
        if !present {
            let key = match alternative {
                Some(alternative) => format!("{required} / {alternative}"),
                None => required.to_owned(),
            };
            errors.push(invalid(source.value_pos(path), "statement-key-missing").arg("key", key));
        }
    }
}

/// `None` when `value` is a string or a list of strings; otherwise the path
/// suffix (`""` or `.<i>`) of the offending value.
fn not_string_or_list(value: &Value) -> Option<String> {
    match value {
        Value::String(_) => None,
        Value::Array(items) if !items.is_empty() => items.iter().position(|v| !v.is_string()).map(|i| format!(".{i}")),
        _ => Some(String::new()),
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "mapping",
    }
}

/// Formats a scalar as written, or names the type of a collection.
fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(_) | Value::Object(_) => json_type(value).to_owned(),
        other => other.to_string(),
    }
}
