//! Value normalisation shared by the comparisons: JSON key order, numbers
//! written as text, tags, string lists and ARNs.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// Relative tolerance for comparing numbers. AWS returns budget limits as
/// decimal text (`"100.0"`), and parsed decimals need not match exactly.
const RELATIVE_TOLERANCE: f64 = 1e-9;

/// Returns `value` with every object's keys sorted, so that two equal values
/// serialise to the same text whatever order their keys arrived in.
pub fn canonical_json(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let sorted: BTreeMap<&String, Value> = map.iter().map(|(k, v)| (k, canonical_json(v))).collect();
            let mut out = Map::new();
            for (k, v) in sorted {
                out.insert(k.clone(), v);
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(canonical_json).collect()),
        other => other.clone(),
    }
}

/// Serialises `value` with sorted keys and no whitespace.
pub fn canonical_string(value: &Value) -> String {
    canonical_json(value).to_string()
}

/// Parses a number written as text (`"100.0"`, `" 80 "`); `None` when the
/// text is not a finite number.
pub fn parse_number(text: &str) -> Option<f64> {
    text.trim().parse::<f64>().ok().filter(|n| n.is_finite())
}

/// Compares two numbers with a small relative tolerance.
pub fn numbers_equal(a: f64, b: f64) -> bool {
    if a == b {
        return true;
    }
    let scale = a.abs().max(b.abs()).max(1.0);
    (a - b).abs() <= RELATIVE_TOLERANCE * scale
}

/// Compares two scalar texts: equal as strings, or both numbers of equal value
/// (`"90"` and `"90.0"`).
pub fn scalars_equal(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    match (parse_number(a), parse_number(b)) {
        (Some(x), Some(y)) => numbers_equal(x, y),
        _ => false,
    }
}

/// Compares a number with a value that may be a JSON number or numeric text.
pub fn number_matches(desired: f64, live: &Value) -> bool {
    match live {
        Value::Number(n) => n.as_f64().is_some_and(|x| numbers_equal(desired, x)),
        Value::String(s) => parse_number(s).is_some_and(|x| numbers_equal(desired, x)),
        _ => false,
    }
}

/// Writes a number as JSON, integral values without a fraction (`80`, not
/// `80.0`), so that drift values read like the YAML they came from.
pub fn number_value(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        Value::from(n as i64)
    } else {
        serde_json::Number::from_f64(n).map(Value::Number).unwrap_or(Value::Null)
    }
}

/// Copies tags without the keys AWS reserves (`aws:` prefix, e.g.
/// `aws:cloudformation:stack-name`), which users cannot set or remove.
pub fn normalize_tags(tags: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    tags.iter().filter(|(k, _)| !k.starts_with("aws:")).map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// Compares tag sets as unordered maps, ignoring `aws:` keys.
pub fn tags_equal<'a, A, B>(a: A, b: B) -> bool
where
    A: IntoIterator<Item = (&'a String, &'a String)>,
    B: IntoIterator<Item = (&'a String, &'a String)>,
{
    let keep = |(k, v): (&'a String, &'a String)| (!k.starts_with("aws:")).then(|| (k.clone(), v.clone()));
    let a: BTreeMap<String, String> = a.into_iter().filter_map(keep).collect();
    let b: BTreeMap<String, String> = b.into_iter().filter_map(keep).collect();
    a == b
}

/// Sorted, de-duplicated copy of a list of strings.
pub fn sorted_set<I, S>(items: I) -> Vec<String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let mut v: Vec<String> = items.into_iter().map(|s| s.as_ref().to_string()).collect();
    v.sort();
    v.dedup();
    v
}

/// An empty optional text means the same as an absent one: AWS returns `""`
/// for some unset descriptions and omits others.
pub fn non_empty(text: Option<&str>) -> Option<&str> {
    text.filter(|s| !s.is_empty())
}

/// Expands a bare AWS managed policy name (`ReadOnlyAccess`) to its ARN, so
/// that a document may name a policy either way.
pub fn policy_arn(name_or_arn: &str) -> String {
    if name_or_arn.starts_with("arn:") { name_or_arn.to_string() } else { format!("arn:aws:iam::aws:policy/{name_or_arn}") }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn canonical_json_sorts_keys_at_every_depth() {
        let v: Value = serde_json::from_str(r#"{"b":1,"a":{"d":2,"c":[{"f":1,"e":2}]}}"#).unwrap();
        assert_eq!(canonical_string(&v), r#"{"a":{"c":[{"e":2,"f":1}],"d":2},"b":1}"#);
    }

    #[test]
    fn canonical_json_keeps_array_order() {
        let v = json!([3, 1, 2]);
        assert_eq!(canonical_string(&v), "[3,1,2]");
    }

    #[test]
    fn budget_limit_text_equals_integer_limit() {
        assert!(number_matches(100.0, &json!("100.0")));
    }

    #[test]
    fn integer_threshold_equals_decimal_text() {
        assert!(scalars_equal("80", "80.0"));
    }

    #[test]
    fn different_numbers_are_not_equal() {
        assert!(!number_matches(100.0, &json!("100.5")));
    }

    #[test]
    fn json_number_matches_desired_number() {
        assert!(number_matches(80.0, &json!(80)));
    }

    #[test]
    fn non_numeric_text_never_matches_a_number() {
        assert!(!number_matches(1.0, &json!("one")));
    }

    #[test]
    fn non_numeric_texts_compare_as_strings() {
        assert!(scalars_equal("TwentyFour_Hours", "TwentyFour_Hours"));
        assert!(!scalars_equal("true", "TRUE"));
    }

    #[test]
    fn integral_number_is_written_without_fraction() {
        assert_eq!(number_value(80.0).to_string(), "80");
    }

    #[test]
    fn fractional_number_keeps_its_fraction() {
        assert_eq!(number_value(12.5).to_string(), "12.5");
    }

    #[test]
    fn tags_in_another_order_are_equal() {
        let a = tags(&[("Owner", "ops"), ("System", "jumin")]);
        let b = tags(&[("System", "jumin"), ("Owner", "ops")]);
        assert!(tags_equal(&a, &b));
    }

    #[test]
    fn tags_with_aws_prefix_are_ignored() {
        let a = tags(&[("Owner", "ops")]);
        let b = tags(&[("Owner", "ops"), ("aws:cloudformation:stack-name", "gcops-baseline")]);
        assert!(tags_equal(&a, &b));
        assert_eq!(normalize_tags(&b), a);
    }

    #[test]
    fn tags_with_a_changed_value_differ() {
        let a = tags(&[("Owner", "ops")]);
        let b = tags(&[("Owner", "vendor")]);
        assert!(!tags_equal(&a, &b));
    }

    #[test]
    fn sorted_set_removes_duplicates() {
        assert_eq!(sorted_set(["b", "a", "b"]), vec!["a".to_string(), "b".to_string()]);
    }

    #[test]
    fn bare_policy_name_expands_to_aws_managed_arn() {
        assert_eq!(policy_arn("ReadOnlyAccess"), "arn:aws:iam::aws:policy/ReadOnlyAccess");
        assert_eq!(policy_arn("arn:aws:iam::123456789012:policy/x"), "arn:aws:iam::123456789012:policy/x");
    }

    #[test]
    fn empty_description_equals_absent_description() {
        assert_eq!(non_empty(Some("")), None);
        assert_eq!(non_empty(Some("x")), Some("x"));
    }
}
