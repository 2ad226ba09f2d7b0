//! IAM policy documents in canonical form, so that documents IAM treats as
//! the same compare equal.
//!
//! IAM returns documents percent-encoded (`%7B%22Version%22...`). It also
//! keeps the author's choice between a string and a one-element list, and
//! the statement order. None of these change what the policy allows.

use percent_encoding::percent_decode_str;
use serde_json::{Map, Value, json};

use crate::desired::model::Trust;

use super::normalize::{canonical_json, canonical_string};

/// Statement keys whose value may be one string or a list of strings.
const LIST_KEYS: [&str; 4] = ["Action", "NotAction", "Resource", "NotResource"];

/// Statement keys whose value names principals.
const PRINCIPAL_KEYS: [&str; 2] = ["Principal", "NotPrincipal"];

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The percent-encoded text does not decode to UTF-8.
    #[error("policy document is percent-encoded but not valid UTF-8 after decoding")]
    Decode(#[source] std::str::Utf8Error),
    /// The text is not JSON.
    #[error("policy document is not valid JSON")]
    Parse(#[source] serde_json::Error),
    /// The JSON is not an object with statements.
    #[error("policy document is not a JSON object")]
    NotObject,
}

/// Decodes and normalises a policy document as IAM returns it: raw JSON, or
/// JSON percent-encoded once.
pub fn normalize_policy_text(text: &str) -> Result<Value, PolicyError> {
    let trimmed = text.trim();
    // NOTE: raw JSON starts with `{`; anything else is taken as percent-encoded.
    // Decoding raw JSON would corrupt literal `%` sequences in condition values.
    let decoded;
    let json_text = if trimmed.starts_with('{') {
        trimmed
    } else {
        decoded = percent_decode_str(trimmed).decode_utf8().map_err(PolicyError::Decode)?;
        decoded.as_ref()
    };
    let value: Value = serde_json::from_str(json_text).map_err(PolicyError::Parse)?;
    if !value.is_object() {
        return Err(PolicyError::NotObject);
    }
    Ok(normalize_policy(&value))
}

/// Normalises a parsed policy document: statements as a list sorted by their
/// canonical text, action and resource lists sorted and de-duplicated,
/// `"Principal": "*"` as `{"AWS": ["*"]}`, condition values as lists of
/// strings. `Version`, `Id` and `Sid` are kept.
pub fn normalize_policy(document: &Value) -> Value {
    let Value::Object(map) = document else {
        return canonical_json(document);
    };
    let mut out = Map::new();
    for (key, value) in map {
        let normalised = if key == "Statement" { normalize_statements(value) } else { value.clone() };
        out.insert(key.clone(), normalised);
    }
    canonical_json(&Value::Object(out))
}

/// Compares two documents after normalisation.
pub fn policies_equal(a: &Value, b: &Value) -> bool {
    normalize_policy(a) == normalize_policy(b)
}

/// Builds the trust policy a grant's role must have: one statement that lets
/// the listed AWS principals call `sts:AssumeRole`, with a `StringEquals`
/// condition on `sts:ExternalId` when the grant sets one.
pub fn trust_policy(trust: &Trust) -> Value {
    let mut statement = json!({
        "Effect": "Allow",
        "Principal": { "AWS": trust.principals },
        "Action": "sts:AssumeRole",
    });
    if let Some(external_id) = &trust.external_id {
        statement["Condition"] = json!({ "StringEquals": { "sts:ExternalId": external_id } });
    }
    normalize_policy(&json!({ "Version": "2012-10-17", "Statement": [statement] }))
}

/// Reads a normalised trust policy back into a grant's `trust` terms when it
/// has the shape [`trust_policy`] builds, and returns `None` for any other
/// document.
pub fn trust_from_policy(policy: &Value) -> Option<Value> {
    let statements = policy.get("Statement")?.as_array()?;
    let [statement] = statements.as_slice() else {
        return None;
    };

    let statement = statement.as_object()?;
    if statement.get("Effect")? != "Allow" || statement.get("Action")? != &json!(["sts:AssumeRole"]) {
        return None;
    }
    let principal = statement.get("Principal")?.as_object()?;
    if principal.len() != 1 {
        return None;
    }
    let principals = principal.get("AWS")?.clone();

    let allowed: [&str; 4] = ["Effect", "Action", "Principal", "Condition"];
    if statement.keys().any(|k| !allowed.contains(&k.as_str())) {
        return None;
    }

    let external_id = match statement.get("Condition") {
        None => None,
        Some(condition) => {
            let condition = condition.as_object()?;
            let equals = condition.get("StringEquals")?.as_object()?;
            if condition.len() != 1 || equals.len() != 1 {
                return None;
            }
            let values = equals.get("sts:ExternalId")?.as_array()?;
            let [one] = values.as_slice() else {
                return None;
            };
            Some(one.clone())
        }
    };

    let mut trust = json!({ "principals": principals });
    if let Some(id) = external_id {
        trust["externalId"] = id;
    }
    Some(trust)
}

fn normalize_statements(value: &Value) -> Value {
    let statements: Vec<Value> = match value {
        Value::Array(items) => items.iter().map(normalize_statement).collect(),
        single => vec![normalize_statement(single)],
    };
    let mut keyed: Vec<(String, Value)> = statements.into_iter().map(|s| (canonical_string(&s), s)).collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    Value::Array(keyed.into_iter().map(|(_, s)| s).collect())
}

fn normalize_statement(statement: &Value) -> Value {
    let Value::Object(map) = statement else {
        return statement.clone();
    };
    let mut out = Map::new();
    for (key, value) in map {
        let normalised = if LIST_KEYS.contains(&key.as_str()) {
            string_set(value)
        } else if PRINCIPAL_KEYS.contains(&key.as_str()) {
            normalize_principal(value)
        } else if key == "Condition" {
            normalize_condition(value)
        } else {
            value.clone()
        };
        out.insert(key.clone(), normalised);
    }
    Value::Object(out)
}

/// Normalises a principal: `"*"` means every AWS principal, and each
/// principal type maps to a sorted list.
fn normalize_principal(value: &Value) -> Value {
    match value {
        Value::String(s) if s == "*" => json!({ "AWS": ["*"] }),
        Value::Object(map) => {
            let mut out = Map::new();
            for (kind, ids) in map {
                let ids = if kind == "AWS" { account_roots(ids) } else { ids.clone() };
                out.insert(kind.clone(), string_set(&ids));
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

/// Writes bare 12-digit account ids as the account's root ARN, the form IAM
/// stores them in.
fn account_roots(ids: &Value) -> Value {
    let root = |id: &Value| match id.as_str() {
        Some(s) if s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) => json!(format!("arn:aws:iam::{s}:root")),
        _ => id.clone(),
    };
    match ids {
        Value::Array(items) => Value::Array(items.iter().map(root).collect()),
        single => root(single),
    }
}

/// Condition values as sorted lists of strings: IAM compares them as text,
/// so `true` and `"true"` mean the same.
fn normalize_condition(value: &Value) -> Value {
    let Value::Object(operators) = value else {
        return value.clone();
    };
    let mut out = Map::new();
    for (operator, keys) in operators {
        let normalised = match keys {
            Value::Object(keys) => {
                let mut inner = Map::new();
                for (key, values) in keys {
                    inner.insert(key.clone(), string_set(values));
                }
                Value::Object(inner)
            }
            other => other.clone(),
        };
        out.insert(operator.clone(), normalised);
    }
    Value::Object(out)
}

/// Converts a scalar or list of scalars to a sorted, de-duplicated list of
/// strings. Objects inside a list are kept and sorted by their canonical text.
fn string_set(value: &Value) -> Value {
    let items: Vec<Value> = match value {
        Value::Array(items) => items.iter().map(scalar_as_string).collect(),
        single => vec![scalar_as_string(single)],
    };
    let mut keyed: Vec<(String, Value)> = items.into_iter().map(|v| (canonical_string(&v), v)).collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    keyed.dedup_by(|a, b| a.0 == b.0);
    Value::Array(keyed.into_iter().map(|(_, v)| v).collect())
}

fn scalar_as_string(value: &Value) -> Value {
    match value {
        Value::Bool(b) => Value::String(b.to_string()),
        Value::Number(n) => Value::String(n.to_string()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
    use serde_json::json;

    use super::*;

    fn encode(text: &str) -> String {
        utf8_percent_encode(text, NON_ALPHANUMERIC).to_string()
    }

    #[test]
    fn percent_encoded_document_equals_raw_json() {
        let raw = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;
        let encoded = encode(raw);
        assert!(encoded.starts_with("%7B%22Version%22"));
        assert_eq!(normalize_policy_text(&encoded).unwrap(), normalize_policy_text(raw).unwrap());
    }

    #[test]
    fn document_is_decoded_only_once() {
        let raw = r#"{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::a%20b/*"}]}"#;
        let doc = normalize_policy_text(&encode(raw)).unwrap();
        assert_eq!(doc["Statement"][0]["Resource"], json!(["arn:aws:s3:::a%20b/*"]));
    }

    #[test]
    fn raw_json_with_percent_sign_is_not_decoded() {
        let raw = r#"{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::a%41"}]}"#;
        let doc = normalize_policy_text(raw).unwrap();
        assert_eq!(doc["Statement"][0]["Resource"], json!(["arn:aws:s3:::a%41"]));
    }

    #[test]
    fn action_string_equals_one_element_list() {
        let a = json!({"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]});
        let b = json!({"Statement": [{"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["*"]}]});
        assert!(policies_equal(&a, &b));
    }

    #[test]
    fn not_action_and_not_resource_strings_become_lists() {
        let doc = normalize_policy(&json!({"Statement": [{"Effect": "Deny", "NotAction": "iam:*", "NotResource": "x"}]}));
        assert_eq!(doc["Statement"][0]["NotAction"], json!(["iam:*"]));
        assert_eq!(doc["Statement"][0]["NotResource"], json!(["x"]));
    }

    #[test]
    fn action_lists_are_sorted_and_deduplicated() {
        let doc = normalize_policy(&json!({"Statement": [{"Effect": "Allow", "Action": ["s3:Put", "s3:Get", "s3:Put"]}]}));
        assert_eq!(doc["Statement"][0]["Action"], json!(["s3:Get", "s3:Put"]));
    }

    #[test]
    fn statement_order_is_ignored() {
        let first = json!({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"});
        let second = json!({"Effect": "Deny", "Action": "iam:*", "Resource": "*"});
        let a = json!({"Version": "2012-10-17", "Statement": [first, second]});
        let b = json!({"Version": "2012-10-17", "Statement": [second, first]});
        assert!(policies_equal(&a, &b));
    }

    #[test]
    fn single_statement_object_equals_one_element_list() {
        let statement = json!({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"});
        let a = json!({"Statement": statement});
        let b = json!({"Statement": [statement]});
        assert!(policies_equal(&a, &b));
    }

    #[test]
    fn principal_star_equals_aws_star() {
        let a = json!({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole"}]});
        let b = json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]});
        assert!(policies_equal(&a, &b));
    }

    #[test]
    fn principal_string_equals_one_element_list() {
        let a = json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111111111111:root"}}]});
        let b = json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::111111111111:root"]}}]});
        assert!(policies_equal(&a, &b));
    }

    #[test]
    fn account_id_principal_equals_root_arn() {
        let a = json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": "111111111111"}}]});
        let b = json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::111111111111:root"]}}]});
        assert!(policies_equal(&a, &b));
    }

    #[test]
    fn principal_lists_are_sorted() {
        let doc = normalize_policy(&json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": ["b", "a"]}}]}));
        assert_eq!(doc["Statement"][0]["Principal"]["AWS"], json!(["a", "b"]));
    }

    #[test]
    fn condition_string_equals_one_element_list() {
        let a = json!({"Statement": [{"Effect": "Allow", "Condition": {"StringEquals": {"sts:ExternalId": "x"}}}]});
        let b = json!({"Statement": [{"Effect": "Allow", "Condition": {"StringEquals": {"sts:ExternalId": ["x"]}}}]});
        assert!(policies_equal(&a, &b));
    }

    #[test]
    fn condition_boolean_equals_its_text() {
        let a = json!({"Statement": [{"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": false}}}]});
        let b = json!({"Statement": [{"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]});
        assert!(policies_equal(&a, &b));
    }

    #[test]
    fn sid_is_kept_and_compared() {
        let a = json!({"Statement": [{"Sid": "One", "Effect": "Allow", "Action": "s3:*"}]});
        let b = json!({"Statement": [{"Sid": "Two", "Effect": "Allow", "Action": "s3:*"}]});
        assert_eq!(normalize_policy(&a)["Statement"][0]["Sid"], json!("One"));
        assert!(!policies_equal(&a, &b));
    }

    #[test]
    fn version_is_kept_and_compared() {
        let a = json!({"Version": "2012-10-17", "Statement": []});
        let b = json!({"Version": "2008-10-17", "Statement": []});
        assert_eq!(normalize_policy(&a)["Version"], json!("2012-10-17"));
        assert!(!policies_equal(&a, &b));
    }

    #[test]
    fn changed_action_is_not_equal() {
        let a = json!({"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]});
        let b = json!({"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]});
        assert!(!policies_equal(&a, &b));
    }

    #[test]
    fn text_that_is_not_json_is_an_error() {
        assert!(matches!(normalize_policy_text("%7Bnot json"), Err(PolicyError::Parse(_))));
    }

    #[test]
    fn json_array_is_not_a_policy() {
        assert!(matches!(normalize_policy_text("[1]"), Err(PolicyError::Parse(_)) | Err(PolicyError::NotObject)));
        assert!(matches!(normalize_policy_text("%5B1%5D"), Err(PolicyError::NotObject)));
    }

    #[test]
    fn trust_policy_without_external_id_has_no_condition() {
        let trust = Trust { principals: vec!["arn:aws:iam::111111111111:root".into()], external_id: None };
        let doc = trust_policy(&trust);
        let expected = json!({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow",
            "Principal": {"AWS": ["arn:aws:iam::111111111111:root"]},
            "Action": ["sts:AssumeRole"],
        }]});
        assert_eq!(doc, normalize_policy(&expected));
    }

    #[test]
    fn trust_policy_with_external_id_has_string_equals() {
        let trust = Trust { principals: vec!["arn:aws:iam::111111111111:root".into()], external_id: Some("ext-1".into()) };
        let doc = trust_policy(&trust);
        assert_eq!(doc["Statement"][0]["Condition"], json!({"StringEquals": {"sts:ExternalId": ["ext-1"]}}));
    }

    #[test]
    fn trust_policy_reads_back_into_trust_terms() {
        let trust = Trust { principals: vec!["b".into(), "a".into()], external_id: Some("ext-1".into()) };
        let back = trust_from_policy(&trust_policy(&trust)).unwrap();
        assert_eq!(back, json!({"principals": ["a", "b"], "externalId": "ext-1"}));
    }

    #[test]
    fn service_trust_policy_reads_back_as_none() {
        let doc = normalize_policy(
            &json!({"Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}),
        );
        assert_eq!(trust_from_policy(&doc), None);
    }

    /// Real policies, read in place when the shared inputs folder is present.
    /// Worktrees sit one level deeper than the main checkout, so both parents
    /// are tried.
    fn real_inputs() -> Option<PathBuf> {
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
        [manifest.join("../shared/real-inputs"), manifest.join("../../shared/real-inputs")].into_iter().find(|p| p.is_dir())
    }

    fn policy_files(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        for path in paths {
            if path.is_dir() {
                policy_files(&path, out);
            } else if path.extension().is_some_and(|e| e == "json") {
                let is_policy = std::fs::read_to_string(&path)
                    .ok()
                    .and_then(|t| serde_json::from_str::<Value>(&t).ok())
                    .is_some_and(|v| v.get("Statement").is_some());
                if is_policy {
                    out.push(path);
                }
            }
        }
    }

    /// Reverses statements and lists and turns one-element lists into strings:
    /// every change here leaves the policy's meaning as it was.
    fn reorder(document: &Value) -> Value {
        let mut doc = document.clone();
        if let Some(Value::Array(statements)) = doc.get_mut("Statement") {
            statements.reverse();
            for statement in statements.iter_mut() {
                let Value::Object(map) = statement else { continue };
                for key in LIST_KEYS {
                    match map.get_mut(key) {
                        Some(Value::Array(items)) if items.len() == 1 => {
                            let only = items[0].clone();
                            map.insert(key.to_string(), only);
                        }
                        Some(Value::Array(items)) => items.reverse(),
                        Some(Value::String(s)) => {
                            let s = s.clone();
                            map.insert(key.to_string(), json!([s, s]));
                        }
                        _ => {}
                    }
                }
            }
        }
        doc
    }

    #[test]
    fn real_policies_normalise_idempotently() {
        let Some(dir) = real_inputs() else {
            eprintln!("skipped: the real-inputs folder is absent");
            return;
        };
        let mut files = Vec::new();
        policy_files(&dir, &mut files);
        assert!(!files.is_empty(), "no policy documents found under {}", dir.display());
        for file in &files {
            let text = std::fs::read_to_string(file).unwrap();
            let once = normalize_policy_text(&text).unwrap();
            let twice = normalize_policy(&once);
            assert_eq!(once, twice, "normalising twice changed {}", file.display());
        }
    }

    #[test]
    fn real_policies_equal_reordered_encoded_copies() {
        let Some(dir) = real_inputs() else {
            eprintln!("skipped: the real-inputs folder is absent");
            return;
        };
        let mut files = Vec::new();
        policy_files(&dir, &mut files);
        for file in &files {
            let text = std::fs::read_to_string(file).unwrap();
            let original: Value = serde_json::from_str(&text).unwrap();
            let copy = encode(&reorder(&original).to_string());
            assert_eq!(
                normalize_policy_text(&copy).unwrap(),
                normalize_policy_text(&text).unwrap(),
                "reordered copy of {} compares unequal",
                file.display()
            );
        }
    }
}
