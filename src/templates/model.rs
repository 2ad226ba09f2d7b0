//! Mandatory CloudFormation templates as stored under `templates/<name>/<version>/`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `provenance.yaml` beside each template version: where the files came from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Provenance {
    /// Where the release was obtained (URL, document number or drop folder).
    pub source: String,
    /// Hex SHA-256 of the template file's bytes, as published.
    pub sha256: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<String>,
}

/// One version of one mandatory template.
#[derive(Clone, Debug, PartialEq)]
pub struct TemplateVersion {
    pub name: String,
    pub version: String,
    /// Path of the template file relative to the repository root.
    pub file: String,
    /// The template text exactly as stored; this is what gets deployed.
    pub body: String,
    /// Parsed template with intrinsic functions in long form (`{"Ref": ...}`,
    /// `{"Fn::GetAtt": [..]}`), used for comparison and explanation.
    pub parsed: serde_json::Value,
    pub provenance: Provenance,
    /// Parameter names with their `Default`, if any.
    pub parameters: BTreeMap<String, Option<String>>,
    /// Logical resource id to resource type.
    pub resources: BTreeMap<String, String>,
}
