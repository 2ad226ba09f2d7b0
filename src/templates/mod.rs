//! Mandatory CloudFormation templates under `templates/<name>/<version>/`.

pub mod model;

pub use model::{Provenance, TemplateVersion};

/// Parses a CloudFormation template (YAML with short-form tags, or JSON)
/// into JSON with every intrinsic function in long form.
///
/// Returns the parsed template and warnings (e.g. unknown tags kept as
/// `Fn::<Tag>`).
// TODO: placeholder body until the template loader lands: it drops tags.
pub fn parse_template(text: &str) -> Result<(serde_json::Value, Vec<String>), String> {
    let value: serde_json::Value = serde_yaml_ng::from_str(text).map_err(|e| e.to_string())?;
    Ok((value, Vec::new()))
}
