//! Mandatory CloudFormation templates under `templates/<name>/<version>/`.

pub mod load;
pub mod model;

pub use load::{LoadedTemplates, load_templates};
pub use model::{Provenance, TemplateVersion};

use serde_json::{Map, Value};
use serde_yaml_ng::Value as YamlValue;

/// Short-form tags that CloudFormation defines as `Fn::<Name>` functions,
/// including the rule functions and the `AWS::LanguageExtensions` ones.
const KNOWN_FUNCTIONS: [&str; 25] = [
    "And",
    "Base64",
    "Cidr",
    "Contains",
    "EachMemberEquals",
    "EachMemberIn",
    "Equals",
    "FindInMap",
    "ForEach",
    "GetAZs",
    "GetAtt",
    "If",
    "ImportValue",
    "Join",
    "Length",
    "Not",
    "Or",
    "RefAll",
    "Select",
    "Split",
    "Sub",
    "ToJsonString",
    "Transform",
    "ValueOf",
    "ValueOfAll",
];

/// Tag prefix of the YAML core schema (`!!str`, `!!int`, ...).
const CORE_TAG_PREFIX: &str = "tag:yaml.org,2002:";

/// A template that is not YAML or JSON, with the parser's position (1-based).
#[derive(Clone, Debug, PartialEq)]
pub struct TemplateSyntaxError {
    pub line: u64,
    pub column: u64,
    pub message: String,
}

/// Parses a CloudFormation template (YAML with short-form tags, or JSON)
/// into JSON with every intrinsic function in long form.
///
/// Returns the parsed template and warnings (e.g. unknown tags kept as
/// `Fn::<Tag>`).
pub fn parse_template(text: &str) -> Result<(serde_json::Value, Vec<String>), String> {
    parse_template_located(text).map_err(|e| format!("line {} column {}: {}", e.line, e.column, e.message))
}

/// Like [`parse_template`], with the syntax error's position kept apart.
pub fn parse_template_located(text: &str) -> Result<(Value, Vec<String>), TemplateSyntaxError> {
    let yaml: YamlValue = serde_yaml_ng::from_str(text).map_err(|e| {
        let (line, column) = e.location().map(|l| (l.line() as u64, l.column() as u64)).unwrap_or((1, 1));
        TemplateSyntaxError { line, column, message: e.to_string() }
    })?;
    let mut warnings = Vec::new();
    let mut path = Vec::new();
    let json = to_json(yaml, &mut path, &mut warnings);
    Ok((json, warnings))
}

/// Converts a YAML value to JSON, replacing short-form tags by their
/// long form. `path` is the position inside the template, for warnings.
fn to_json(value: YamlValue, path: &mut Vec<String>, warnings: &mut Vec<String>) -> Value {
    match value {
        YamlValue::Null => Value::Null,
        YamlValue::Bool(b) => Value::Bool(b),
        YamlValue::Number(n) => number_to_json(&n),
        YamlValue::String(s) => Value::String(s),
        YamlValue::Sequence(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.into_iter().enumerate() {
                path.push(i.to_string());
                out.push(to_json(item, path, warnings));
                path.pop();
            }
            Value::Array(out)
        }
        YamlValue::Mapping(mapping) => {
            let mut out = Map::new();
            for (key, item) in mapping {
                let key = key_to_string(key, path, warnings);
                path.push(key.clone());
                let item = to_json(item, path, warnings);
                path.pop();
                out.insert(key, item);
            }
            Value::Object(out)
        }
        YamlValue::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let name = tag.trim_start_matches('!').to_owned();
            let inner = to_json(tagged.value, path, warnings);
            if name.starts_with(CORE_TAG_PREFIX) {
                return inner;
            }
            long_form(&name, inner, path, warnings)
        }
    }
}

fn long_form(name: &str, inner: Value, path: &[String], warnings: &mut Vec<String>) -> Value {
    let (key, value) = match name {
        "Ref" => ("Ref".to_owned(), inner),
        "Condition" => ("Condition".to_owned(), inner),
        // `!GetAtt Bucket.Arn` names the resource before the first dot; the
        // attribute may itself contain dots, e.g. `Endpoint.Address`.
        "GetAtt" => {
            let value = match inner {
                Value::String(s) => match s.split_once('.') {
                    Some((resource, attribute)) => {
                        Value::Array(vec![Value::String(resource.to_owned()), Value::String(attribute.to_owned())])
                    }
                    None => Value::Array(vec![Value::String(s)]),
                },
                other => other,
            };
            ("Fn::GetAtt".to_owned(), value)
        }
        _ if KNOWN_FUNCTIONS.contains(&name) => (format!("Fn::{name}"), inner),
        _ => {
            let at = if path.is_empty() { "<root>".to_owned() } else { path.join(".") };
            warnings.push(format!("unknown tag !{name} at {at}, kept as Fn::{name}"));
            (format!("Fn::{name}"), inner)
        }
    };
    let mut object = Map::new();
    object.insert(key, value);
    Value::Object(object)
}

fn number_to_json(n: &serde_yaml_ng::Number) -> Value {
    if let Some(i) = n.as_i64() {
        Value::from(i)
    } else if let Some(u) = n.as_u64() {
        Value::from(u)
    } else {
        let f = n.as_f64().unwrap_or(f64::NAN);
        // JSON has no NaN or infinity; keep YAML's spelling as a string.
        serde_json::Number::from_f64(f).map(Value::Number).unwrap_or_else(|| Value::String(n.to_string()))
    }
}

/// JSON keys must be strings; YAML allows numbers, booleans and more.
fn key_to_string(key: YamlValue, path: &mut Vec<String>, warnings: &mut Vec<String>) -> String {
    match key {
        YamlValue::String(s) => s,
        YamlValue::Null => "null".to_owned(),
        YamlValue::Bool(b) => b.to_string(),
        YamlValue::Number(n) => n.to_string(),
        other => to_json(other, path, warnings).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse(text: &str) -> Value {
        parse_template(text).unwrap().0
    }

    #[test]
    fn tag_ref_and_condition() {
        let v = parse("a: !Ref Bucket\nb: !Condition IsProd\n");
        assert_eq!(v["a"], json!({"Ref": "Bucket"}));
        assert_eq!(v["b"], json!({"Condition": "IsProd"}));
    }

    #[test]
    fn tag_getatt_splits_first_dot() {
        let v = parse("a: !GetAtt Db.Endpoint.Address\nb: !GetAtt [Db, Arn]\n");
        assert_eq!(v["a"], json!({"Fn::GetAtt": ["Db", "Endpoint.Address"]}));
        assert_eq!(v["b"], json!({"Fn::GetAtt": ["Db", "Arn"]}));
    }

    #[test]
    fn tag_functions_long_form() {
        let text =
            "a: !Sub '${AWS::Region}-x'\nb: !Join [',', [x, !Ref Y]]\nc: !If [C, !GetAZs '', !Select [0, !Split [',', s]]]\n";
        let v = parse(text);
        assert_eq!(v["a"], json!({"Fn::Sub": "${AWS::Region}-x"}));
        assert_eq!(v["b"], json!({"Fn::Join": [",", ["x", {"Ref": "Y"}]]}));
        assert_eq!(v["c"], json!({"Fn::If": ["C", {"Fn::GetAZs": ""}, {"Fn::Select": [0, {"Fn::Split": [",", "s"]}]}]}));
    }

    #[test]
    fn tag_conditions_long_form() {
        let v = parse("a: !And [!Equals [x, y], !Not [!Or [!Condition A, !Condition B]]]\n");
        let expected = json!({"Fn::And": [
            {"Fn::Equals": ["x", "y"]},
            {"Fn::Not": [{"Fn::Or": [{"Condition": "A"}, {"Condition": "B"}]}]}
        ]});
        assert_eq!(v["a"], expected);
    }

    #[test]
    fn tag_unknown_kept_with_warning() {
        let (v, warnings) = parse_template("Resources:\n  X:\n    Properties:\n      P: !Include ./file.yml\n").unwrap();
        assert_eq!(v["Resources"]["X"]["Properties"]["P"], json!({"Fn::Include": "./file.yml"}));
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("Resources.X.Properties.P"));
    }

    #[test]
    fn date_scalar_stays_string() {
        let v = parse("AWSTemplateFormatVersion: 2010-09-09\nVersion: 2012-10-17\n");
        assert_eq!(v["AWSTemplateFormatVersion"], json!("2010-09-09"));
        assert_eq!(v["Version"], json!("2012-10-17"));
    }

    #[test]
    fn core_tag_keeps_value() {
        let v = parse("a: !!str 123\n");
        assert_eq!(v["a"], json!("123"));
    }

    #[test]
    fn json_template_parses() {
        let v = parse("{\"Resources\": {\"B\": {\"Type\": \"AWS::S3::Bucket\"}}}");
        assert_eq!(v["Resources"]["B"]["Type"], json!("AWS::S3::Bucket"));
    }

    #[test]
    fn syntax_error_has_position() {
        let err = parse_template_located("a: 1\nb: [1, 2\n").unwrap_err();
        assert!(err.line >= 2);
    }
}
