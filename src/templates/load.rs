//! Loading `templates/<name>/<version>/`: the template file, its
//! `provenance.yaml`, the digest check and the template's outline.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::model::{Provenance, TemplateVersion};
use super::parse_template_located;
use crate::desired::de::from_node;
use crate::desired::error::{Rule, ValidationError};
use crate::desired::load::type_error;
use crate::desired::model::SourcePos;
use crate::desired::position::parse_documents;

/// Template file names in the order they are looked for.
const TEMPLATE_FILES: [&str; 3] = ["template.yaml", "template.yml", "template.json"];
const PROVENANCE_FILE: &str = "provenance.yaml";

/// Everything found under `templates/`.
#[derive(Debug, Default)]
pub struct LoadedTemplates {
    /// Versions that loaded without error, by `(name, version)`.
    pub versions: BTreeMap<(String, String), TemplateVersion>,
    /// Every `(name, version)` folder present, including those that failed,
    /// so that an assignment to a broken version is not also reported as
    /// naming an unknown one.
    pub dirs: BTreeSet<(String, String)>,
    pub errors: Vec<ValidationError>,
    /// Unknown tags and similar findings that do not stop a template loading.
    pub warnings: Vec<String>,
}

/// Loads every `templates/<name>/<version>/` folder in `files`.
pub fn load_templates(files: &BTreeMap<String, Vec<u8>>) -> LoadedTemplates {
    let mut loaded = LoadedTemplates::default();
    let mut folders: BTreeMap<(String, String), BTreeMap<&str, &[u8]>> = BTreeMap::new();
    for (path, bytes) in files {
        let parts: Vec<&str> = path.split('/').collect();
        // Files deeper than `templates/<name>/<version>/<file>` are
        // supporting material (nested stacks, docs) and are not loaded.
        if let ["templates", name, version, file] = parts.as_slice() {
            folders.entry(((*name).to_owned(), (*version).to_owned())).or_default().insert(file, bytes.as_slice());
        }
    }

    for ((name, version), folder) in folders {
        loaded.dirs.insert((name.clone(), version.clone()));
        if let Some(template) = load_version(&name, &version, &folder, &mut loaded) {
            loaded.versions.insert((name, version), template);
        }
    }
    loaded
}

fn load_version(
    name: &str,
    version: &str,
    folder: &BTreeMap<&str, &[u8]>,
    loaded: &mut LoadedTemplates,
) -> Option<TemplateVersion> {
    let dir = format!("templates/{name}/{version}");
    let template_file = TEMPLATE_FILES.iter().find(|f| folder.contains_key(**f));
    let provenance_bytes = folder.get(PROVENANCE_FILE);

    let Some(template_file) = template_file else {
        let pos = SourcePos { file: format!("{dir}/"), line: 1, column: 1 };
        loaded.errors.push(ValidationError::new(pos, Rule::TemplateFileMissing).arg("dir", &dir));
        return None;
    };
    let file = format!("{dir}/{template_file}");
    let bytes = folder[template_file];

    let provenance = match provenance_bytes {
        None => {
            let pos = SourcePos { file: format!("{dir}/{PROVENANCE_FILE}"), line: 1, column: 1 };
            loaded.errors.push(ValidationError::new(pos, Rule::ProvenanceMissing).arg("dir", &dir));
            None
        }
        Some(p) => load_provenance(&format!("{dir}/{PROVENANCE_FILE}"), p, bytes, &mut loaded.errors),
    };

    let Ok(text) = std::str::from_utf8(bytes) else {
        let pos = SourcePos { file: file.clone(), line: 1, column: 1 };
        loaded.errors.push(ValidationError::new(pos, Rule::NotUtf8));
        return None;
    };
    let (parsed, warnings) = match parse_template_located(text) {
        Ok(ok) => ok,
        Err(e) => {
            let pos = SourcePos { file: file.clone(), line: e.line, column: e.column };
            loaded.errors.push(ValidationError::new(pos, Rule::TemplateSyntax).arg("detail", e.message));
            return None;
        }
    };
    loaded.warnings.extend(warnings.into_iter().map(|w| format!("{file}: {w}")));

    let outline = match outline(&parsed) {
        Ok(outline) => outline,
        Err((path, problem)) => {
            let pos = locate_in_text(text, &path, &file);
            loaded.errors.push(ValidationError::new(pos, Rule::TemplateInvalid).arg("problem", problem));
            return None;
        }
    };

    Some(TemplateVersion {
        name: name.to_owned(),
        version: version.to_owned(),
        file,
        body: text.to_owned(),
        parsed,
        provenance: provenance?,
        parameters: outline.parameters,
        resources: outline.resources,
    })
}

/// Reads `provenance.yaml` and checks its digest against the template bytes.
fn load_provenance(file: &str, bytes: &[u8], template: &[u8], errors: &mut Vec<ValidationError>) -> Option<Provenance> {
    let Ok(text) = std::str::from_utf8(bytes) else {
        errors.push(ValidationError::new(SourcePos { file: file.to_owned(), line: 1, column: 1 }, Rule::NotUtf8));
        return None;
    };
    let (mut documents, syntax_errors) = parse_documents(text);
    if let Some(e) = syntax_errors.into_iter().next() {
        let pos = SourcePos { file: file.to_owned(), line: e.line, column: e.column };
        errors.push(ValidationError::new(pos, Rule::YamlSyntax).arg("detail", e.message));
        return None;
    }
    if documents.is_empty() {
        let pos = SourcePos { file: file.to_owned(), line: 1, column: 1 };
        errors.push(ValidationError::new(pos, Rule::ProvenanceInvalid).arg("problem", "the file is empty"));
        return None;
    }
    let root = documents.remove(0).1;
    let provenance: Provenance = match from_node(&root) {
        Ok(p) => p,
        Err(e) => {
            errors.push(type_error(file, &root, e));
            return None;
        }
    };

    let actual = hex::encode(Sha256::digest(template));
    if !provenance.sha256.trim().eq_ignore_ascii_case(&actual) {
        let pos = root.locate("sha256").pos(file);
        let err = ValidationError::new(pos, Rule::DigestMismatch).arg("expected", provenance.sha256.trim()).arg("actual", actual);
        errors.push(err);
        return None;
    }
    Some(provenance)
}

/// Parameters and resources of a template.
struct Outline {
    parameters: BTreeMap<String, Option<String>>,
    resources: BTreeMap<String, String>,
}

/// Checks the shape CloudFormation requires and extracts the outline. On
/// failure returns the dotted path of the offending value and the problem.
fn outline(template: &Value) -> Result<Outline, (String, String)> {
    let Some(root) = template.as_object() else {
        return Err((String::new(), "the template is not a mapping".to_owned()));
    };
    let resources = match root.get("Resources") {
        Some(Value::Object(resources)) => resources,
        Some(_) => return Err(("Resources".to_owned(), "Resources is not a mapping".to_owned())),
        None => return Err((String::new(), "the template has no Resources section".to_owned())),
    };

    let mut outline = Outline { parameters: BTreeMap::new(), resources: BTreeMap::new() };
    for (id, resource) in resources {
        // `Fn::ForEach::<Name>` keys of AWS::LanguageExtensions expand into
        // resources at deploy time and have no Type of their own.
        if id.starts_with("Fn::ForEach::") {
            continue;
        }
        match resource.get("Type") {
            Some(Value::String(t)) => {
                outline.resources.insert(id.clone(), t.clone());
            }
            Some(_) => return Err((format!("Resources.{id}.Type"), format!("Type of resource {id} is not a string"))),
            None => return Err((format!("Resources.{id}"), format!("resource {id} has no Type"))),
        }
    }

    match root.get("Parameters") {
        None | Some(Value::Null) => {}
        Some(Value::Object(parameters)) => {
            for (name, parameter) in parameters {
                let default = parameter.get("Default").map(default_text);
                outline.parameters.insert(name.clone(), default);
            }
        }
        Some(_) => return Err(("Parameters".to_owned(), "Parameters is not a mapping".to_owned())),
    }
    Ok(outline)
}

/// Formats a parameter default as CloudFormation passes it: text, with
/// lists joined by commas for `CommaDelimitedList` parameters.
fn default_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(default_text).collect::<Vec<_>>().join(","),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Finds a dotted path in the template text; the start of the file when the
/// text cannot be parsed as plain YAML.
fn locate_in_text(text: &str, path: &str, file: &str) -> SourcePos {
    let (documents, _) = parse_documents(text);
    match documents.first() {
        // Logical ids are alphanumeric, so splitting the path at dots is exact.
        Some((_, root)) => root.locate(path).pos(file),
        None => SourcePos { file: file.to_owned(), line: 1, column: 1 },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = "AWSTemplateFormatVersion: 2010-09-09\nParameters:\n  Env:\n    Type: String\n  Retention:\n    Type: Number\n    Default: 90\nResources:\n  Trail:\n    Type: AWS::CloudTrail::Trail\n";

    fn repo(template: &str, sha: &str) -> BTreeMap<String, Vec<u8>> {
        let mut files = BTreeMap::new();
        files.insert("templates/baseline/1.0.0/template.yaml".to_owned(), template.as_bytes().to_vec());
        let provenance = format!("source: https://example.com/baseline-1.0.0.zip\nsha256: {sha}\n");
        files.insert("templates/baseline/1.0.0/provenance.yaml".to_owned(), provenance.into_bytes());
        files
    }

    fn digest(text: &str) -> String {
        hex::encode(Sha256::digest(text.as_bytes()))
    }

    #[test]
    fn load_outline() {
        let loaded = load_templates(&repo(TEMPLATE, &digest(TEMPLATE)));
        assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
        let version = &loaded.versions[&("baseline".to_owned(), "1.0.0".to_owned())];
        assert_eq!(version.parameters.get("Env"), Some(&None));
        assert_eq!(version.parameters.get("Retention"), Some(&Some("90".to_owned())));
        assert_eq!(version.resources.get("Trail").map(String::as_str), Some("AWS::CloudTrail::Trail"));
        assert_eq!(version.parsed["AWSTemplateFormatVersion"], "2010-09-09");
    }

    #[test]
    fn load_digest_mismatch() {
        let loaded = load_templates(&repo(TEMPLATE, &"0".repeat(64)));
        assert_eq!(loaded.errors.len(), 1);
        let err = &loaded.errors[0];
        assert_eq!(err.rule, Rule::DigestMismatch);
        assert_eq!(err.pos.to_string(), "templates/baseline/1.0.0/provenance.yaml:2:9");
        assert_eq!(err.get("actual"), Some(digest(TEMPLATE).as_str()));
        assert!(loaded.dirs.contains(&("baseline".to_owned(), "1.0.0".to_owned())));
    }

    #[test]
    fn load_resource_without_type() {
        let text = "Resources:\n  Trail:\n    Properties: {}\n";
        let loaded = load_templates(&repo(text, &digest(text)));
        assert_eq!(loaded.errors.len(), 1);
        assert_eq!(loaded.errors[0].rule, Rule::TemplateInvalid);
        assert_eq!(loaded.errors[0].pos.to_string(), "templates/baseline/1.0.0/template.yaml:3:5");
    }

    #[test]
    fn load_type_not_string() {
        let text = "Resources:\n  Trail:\n    Type: [a]\n";
        let loaded = load_templates(&repo(text, &digest(text)));
        assert_eq!(loaded.errors[0].pos.to_string(), "templates/baseline/1.0.0/template.yaml:3:11");
    }

    #[test]
    fn load_no_resources() {
        let text = "Parameters: {}\n";
        let loaded = load_templates(&repo(text, &digest(text)));
        assert_eq!(loaded.errors[0].rule, Rule::TemplateInvalid);
        assert_eq!(loaded.errors[0].pos.to_string(), "templates/baseline/1.0.0/template.yaml:1:1");
    }

    #[test]
    fn load_syntax_error() {
        let text = "Resources:\n  Trail: [\n";
        let loaded = load_templates(&repo(text, &digest(text)));
        assert_eq!(loaded.errors[0].rule, Rule::TemplateSyntax);
        assert!(loaded.errors[0].pos.line >= 2);
    }

    #[test]
    fn load_provenance_missing() {
        let mut files = repo(TEMPLATE, "x");
        files.remove("templates/baseline/1.0.0/provenance.yaml");
        let loaded = load_templates(&files);
        assert_eq!(loaded.errors[0].rule, Rule::ProvenanceMissing);
        assert!(loaded.versions.is_empty());
    }

    #[test]
    fn load_template_missing() {
        let mut files = repo(TEMPLATE, "x");
        files.remove("templates/baseline/1.0.0/template.yaml");
        let loaded = load_templates(&files);
        assert_eq!(loaded.errors[0].rule, Rule::TemplateFileMissing);
    }

    #[test]
    fn load_provenance_unknown_field() {
        let mut files = repo(TEMPLATE, &digest(TEMPLATE));
        let text = format!("source: s\nsha256: {}\nsigner: me\n", digest(TEMPLATE));
        files.insert("templates/baseline/1.0.0/provenance.yaml".to_owned(), text.into_bytes());
        let loaded = load_templates(&files);
        assert_eq!(loaded.errors[0].rule, Rule::UnknownField);
        assert_eq!(loaded.errors[0].pos.to_string(), "templates/baseline/1.0.0/provenance.yaml:3:1");
    }
}
