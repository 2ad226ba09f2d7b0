//! JSON Schema of one `gcops/v1` document, for editors and external checks.
//! The committed copy lives in `schema/gcops-v1.schema.json`.

use schemars::generate::SchemaSettings;
use serde_json::{Value, json};

use super::model::{
    API_VERSION, AlarmRule, Budget, ConfigRule, Environment, Exception, Kind, PermissionGrant, TemplateAssignment,
};

/// Builds the schema: a `oneOf` with one branch per kind, each fixing
/// `apiVersion` and `kind` and giving the kind's `spec`.
pub fn json_schema() -> Value {
    let mut generator = SchemaSettings::draft2020_12().into_generator();
    let branches: Vec<Value> = Kind::ALL
        .iter()
        .map(|kind| {
            let spec = match kind {
                Kind::Environment => generator.subschema_for::<Environment>(),
                Kind::TemplateAssignment => generator.subschema_for::<TemplateAssignment>(),
                Kind::PermissionGrant => generator.subschema_for::<PermissionGrant>(),
                Kind::AlarmRule => generator.subschema_for::<AlarmRule>(),
                Kind::Budget => generator.subschema_for::<Budget>(),
                Kind::ConfigRule => generator.subschema_for::<ConfigRule>(),
                Kind::Exception => generator.subschema_for::<Exception>(),
            };
            json!({
                "title": kind.as_str(),
                "type": "object",
                "properties": {
                    "apiVersion": { "const": API_VERSION },
                    "kind": { "const": kind.as_str() },
                    "id": {
                        "description": "Identity of the document, unique per kind.",
                        "type": "string",
                        "minLength": 1
                    },
                    "spec": spec.to_value(),
                },
                "required": ["apiVersion", "kind", "id", "spec"],
                "additionalProperties": false,
            })
        })
        .collect();

    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "gcops/v1 desired-state document",
        "description": "One YAML document of a desired-state file; files may hold several, separated by ---.",
        "oneOf": branches,
        "$defs": generator.take_definitions(true),
    })
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn committed_path() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("schema/gcops-v1.schema.json")
    }

    /// Fails when the committed schema differs from the model types; run
    /// with `GCOPS_UPDATE_SCHEMA=1` to rewrite the file.
    #[test]
    fn schema_file_current() {
        let generated = format!("{}\n", serde_json::to_string_pretty(&json_schema()).unwrap());
        let path = committed_path();
        if std::env::var_os("GCOPS_UPDATE_SCHEMA").is_some_and(|v| v == "1") {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &generated).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == generated,
            "{} is stale or missing: regenerate it with `GCOPS_UPDATE_SCHEMA=1 cargo test --lib desired::schema`",
            path.display()
        );
    }

    #[test]
    fn schema_covers_every_kind() {
        let schema = json_schema();
        let branches = schema["oneOf"].as_array().unwrap();
        assert_eq!(branches.len(), Kind::ALL.len());
        for (branch, kind) in branches.iter().zip(Kind::ALL) {
            assert_eq!(branch["properties"]["kind"]["const"], kind.as_str());
        }
    }

    #[test]
    fn schema_spec_rejects_unknown_fields() {
        let schema = json_schema();
        assert_eq!(schema["$defs"]["Environment"]["additionalProperties"], json!(false));
    }
}
