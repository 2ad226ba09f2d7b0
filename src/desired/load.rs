//! Loading `desired-state/` and `templates/` from file contents into a
//! [`DesiredState`], collecting every problem of the repository in one run.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::NaiveDate;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::de::{DeError, DeErrorKind, from_node};
use super::error::{Rule, ValidationError, ValidationErrors};
use super::model::{API_VERSION, DesiredState, Doc, DocRef, Kind, SourcePos};
use super::position::{Node, NodeValue, SyntaxErrorKind, parse_documents};
use super::validate::{Sources, validate};
use crate::templates::load::load_templates;

/// Folder of desired-state documents, relative to the repository root.
pub const DESIRED_DIR: &str = "desired-state";
/// Folder of mandatory templates, relative to the repository root.
pub const TEMPLATES_DIR: &str = "templates";

/// Largest file accepted under `desired-state/` or `templates/`, in bytes
/// (4 MiB). A desired-state file is a few kilobytes, and CloudFormation
/// accepts template bodies of at most 1 MB, so only a mistake or an attack
/// comes near it.
pub const MAX_FILE_BYTES: usize = 4 * 1024 * 1024;

/// One document as written: `apiVersion`, `kind`, `id` and the kind's spec.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)] // The header fields are checked before this is built.
struct Document<T> {
    api_version: String,
    kind: String,
    id: String,
    spec: T,
}

/// Loads and validates a repository given as file contents.
///
/// `files` maps repository-relative paths (`desired-state/...`,
/// `templates/...`) to bytes; other paths are ignored. `today` decides
/// which grants have expired. Returns every problem found, sorted by position.
pub fn load(files: &BTreeMap<String, Vec<u8>>, today: NaiveDate) -> Result<DesiredState, ValidationErrors> {
    let mut state = DesiredState::default();
    let mut errors = Vec::new();
    let mut trees = BTreeMap::new();
    let mut environment_declared = false;

    for (path, bytes) in files {
        if !is_document_file(path) {
            continue;
        }
        if bytes.len() > MAX_FILE_BYTES {
            errors.push(file_too_large(path, bytes.len() as u64));
            continue;
        }
        let Ok(text) = std::str::from_utf8(bytes) else {
            errors.push(ValidationError::new(start_of(path), Rule::NotUtf8));
            continue;
        };
        let (documents, syntax_errors) = parse_documents(text);
        for e in syntax_errors {
            let pos = SourcePos { file: path.clone(), line: e.line, column: e.column };
            let err = match e.kind {
                SyntaxErrorKind::Invalid => ValidationError::new(pos, Rule::YamlSyntax).arg("detail", e.message),
                SyntaxErrorKind::TooManyNodes { limit } => ValidationError::new(pos, Rule::YamlTooManyNodes).arg("limit", limit),
                SyntaxErrorKind::TooDeep { limit } => ValidationError::new(pos, Rule::YamlTooDeep).arg("limit", limit),
            };
            errors.push(err);
        }
        for (index, mut root) in documents {
            environment_declared |= root.get("kind").and_then(Node::as_str) == Some(Kind::Environment.as_str());
            if load_document(path, index, &mut root, &mut state, &mut errors) {
                trees.insert((path.clone(), index), root);
            }
        }
    }

    let templates = load_templates(files);
    for warning in &templates.warnings {
        tracing::warn!(warning = %warning, "template loaded with a warning");
    }
    errors.extend(templates.errors);
    state.template_versions = templates.versions;

    let sources = Sources { trees: &trees, template_dirs: &templates.dirs, environment_declared };
    errors.extend(validate(&state, &sources, today));

    if errors.is_empty() {
        Ok(state)
    } else {
        errors.sort();
        errors.dedup();
        Err(ValidationErrors(errors))
    }
}

/// Reads `desired-state/` and `templates/` under `root` and calls [`load`].
/// Either folder may be missing; a missing Environment is then reported by
/// validation. Files that cannot be read are reported as `read-failed`
/// errors together with the validation errors of the rest.
pub fn load_dir(root: &Path, today: NaiveDate) -> Result<DesiredState, ValidationErrors> {
    let (files, mut errors) = read_files(root);
    match load(&files, today) {
        Ok(state) if errors.is_empty() => Ok(state),
        Ok(_) => Err(ValidationErrors(errors)),
        Err(more) => {
            errors.extend(more);
            errors.sort();
            Err(ValidationErrors(errors))
        }
    }
}

/// Reads every file under `root/desired-state` and `root/templates` into
/// the map that [`load`] takes, keyed by `/`-separated relative path.
/// Returns the files that could be read and an error for each that could not.
pub fn read_files(root: &Path) -> (BTreeMap<String, Vec<u8>>, Vec<ValidationError>) {
    let mut files = BTreeMap::new();
    let mut errors = Vec::new();
    for dir in [DESIRED_DIR, TEMPLATES_DIR] {
        let path = root.join(dir);
        if path.is_dir() {
            read_tree(&path, dir, &mut files, &mut errors);
        }
    }
    (files, errors)
}

fn read_tree(dir: &Path, relative: &str, files: &mut BTreeMap<String, Vec<u8>>, errors: &mut Vec<ValidationError>) {
    let read_failed = |path: &str, e: std::io::Error| ValidationError::new(start_of(path), Rule::ReadFailed).arg("detail", e);
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            errors.push(read_failed(relative, e));
            return;
        }
    };
    for entry in entries {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                errors.push(read_failed(relative, e));
                continue;
            }
        };
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        let child = format!("{relative}/{name}");
        if path.is_dir() {
            read_tree(&path, &child, files, errors);
        } else {
            // Checked before reading, so that a huge file is never loaded into memory.
            // NOTE: a template file skipped here is also reported as missing by the template checks.
            if let Ok(metadata) = entry.metadata()
                && metadata.len() > MAX_FILE_BYTES as u64
            {
                errors.push(file_too_large(&child, metadata.len()));
                continue;
            }
            match std::fs::read(&path) {
                Ok(bytes) => {
                    files.insert(child, bytes);
                }
                Err(e) => errors.push(read_failed(&child, e)),
            }
        }
    }
}

fn is_document_file(path: &str) -> bool {
    path.starts_with("desired-state/") && (path.ends_with(".yaml") || path.ends_with(".yml"))
}

fn file_too_large(file: &str, bytes: u64) -> ValidationError {
    ValidationError::new(start_of(file), Rule::FileTooLarge).arg("bytes", bytes).arg("limit", MAX_FILE_BYTES)
}

fn start_of(file: &str) -> SourcePos {
    SourcePos { file: file.to_owned(), line: 1, column: 1 }
}

/// Checks the document header, builds the typed spec and adds it to
/// `state`. Returns true when the document was added.
fn load_document(file: &str, index: usize, root: &mut Node, state: &mut DesiredState, errors: &mut Vec<ValidationError>) -> bool {
    // An empty document, e.g. after a trailing `---`, declares nothing.
    if root.is_null() {
        return false;
    }
    let pos = root.pos(file);
    if !matches!(root.value, NodeValue::Mapping(_)) {
        errors.push(ValidationError::new(pos, Rule::NotAMapping));
        return false;
    }
    let Some((kind, id)) = read_header(file, root, errors) else {
        return false;
    };
    if kind == Kind::Exception {
        clear_empty_exception_fields(root);
    }

    let doc = DocRef { file: file.to_owned(), index, kind, id, pos };
    match kind {
        Kind::Environment => match build(file, root, doc.clone(), errors) {
            Some(env) if state.environment.is_some() => {
                let first = state.environment.as_ref().map(|e| e.doc.pos.to_string()).unwrap_or_default();
                errors.push(ValidationError::new(env.doc.pos.clone(), Rule::EnvironmentDuplicate).arg("first", first));
                false
            }
            Some(env) => {
                state.environment = Some(env);
                true
            }
            None => false,
        },
        Kind::TemplateAssignment => push(build(file, root, doc, errors), &mut state.templates),
        Kind::PermissionGrant => push(build(file, root, doc, errors), &mut state.grants),
        Kind::AlarmRule => push(build(file, root, doc, errors), &mut state.alarms),
        Kind::Budget => push(build(file, root, doc, errors), &mut state.budgets),
        Kind::ConfigRule => push(build(file, root, doc, errors), &mut state.config_rules),
        Kind::Exception => push(build(file, root, doc, errors), &mut state.exceptions),
    }
}

fn push<T>(doc: Option<Doc<T>>, list: &mut Vec<Doc<T>>) -> bool {
    match doc {
        Some(doc) => {
            list.push(doc);
            true
        }
        None => false,
    }
}

/// Reads `apiVersion`, `kind` and `id`, reporting each one that is missing
/// or wrong.
fn read_header(file: &str, root: &Node, errors: &mut Vec<ValidationError>) -> Option<(Kind, String)> {
    let before = errors.len();
    let missing = |field: &str| ValidationError::new(root.pos(file), Rule::MissingField).arg("field", field);

    match root.get("apiVersion") {
        None => errors.push(missing("apiVersion")),
        Some(node) if node.as_str() != Some(API_VERSION) => errors.push(
            ValidationError::new(node.pos(file), Rule::UnknownApiVersion)
                .arg("value", node.as_str().unwrap_or("?"))
                .arg("expected", API_VERSION),
        ),
        Some(_) => {}
    }

    let kind = match root.get("kind") {
        None => {
            errors.push(missing("kind"));
            None
        }
        Some(node) => {
            let kind = node.as_str().and_then(|s| Kind::ALL.into_iter().find(|k| k.as_str() == s));
            if kind.is_none() {
                let known = Kind::ALL.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", ");
                errors.push(
                    ValidationError::new(node.pos(file), Rule::UnknownKind)
                        .arg("value", node.as_str().unwrap_or("?"))
                        .arg("known", known),
                );
            }
            kind
        }
    };

    let id = match root.get("id") {
        None => {
            errors.push(missing("id"));
            None
        }
        Some(node) => match node.as_str().map(str::trim) {
            Some(id) if !id.is_empty() && !node.is_null() => Some(id.to_owned()),
            _ => {
                errors.push(ValidationError::new(node.pos(file), Rule::EmptyId));
                None
            }
        },
    };

    if root.get("spec").is_none() {
        errors.push(missing("spec"));
    }
    if errors.len() > before {
        return None;
    }
    Some((kind?, id?))
}

/// Drops `reason:`, `approver:` and `expires:` entries whose value is YAML
/// null, because drift pull requests write them empty for a reviewer to fill
/// in. Validation then reports them as incomplete, not as type errors.
fn clear_empty_exception_fields(root: &mut Node) {
    let Some(NodeValue::Mapping(entries)) = root_spec_mut(root).map(|n| &mut n.value) else {
        return;
    };
    entries.retain(|(key, value)| !(matches!(key.as_str(), Some("reason" | "approver" | "expires")) && value.is_null()));
}

fn root_spec_mut(root: &mut Node) -> Option<&mut Node> {
    match &mut root.value {
        NodeValue::Mapping(entries) => entries.iter_mut().find(|(k, _)| k.as_str() == Some("spec")).map(|(_, v)| v),
        _ => None,
    }
}

// NOTE: serde stops at the first type error, so a document reports at most
// one; semantic checks run only on documents that built.
fn build<T: DeserializeOwned>(file: &str, root: &Node, doc: DocRef, errors: &mut Vec<ValidationError>) -> Option<Doc<T>> {
    match from_node::<Document<T>>(root) {
        Ok(document) => Some(Doc { doc, spec: document.spec }),
        Err(e) => {
            errors.push(type_error(file, root, e));
            None
        }
    }
}

/// Turns a deserialization error into a validation error at its node.
pub(crate) fn type_error(file: &str, root: &Node, e: DeError) -> ValidationError {
    let (line, column) = e.at.unwrap_or((root.line, root.column));
    let pos = SourcePos { file: file.to_owned(), line, column };
    match e.kind {
        DeErrorKind::UnknownField { field, expected } => {
            ValidationError::new(pos, Rule::UnknownField).arg("field", field).arg("allowed", expected.join(", "))
        }
        DeErrorKind::MissingField { field } => ValidationError::new(pos, Rule::MissingField).arg("field", field),
        DeErrorKind::DuplicateField { field } => ValidationError::new(pos, Rule::DuplicateField).arg("field", field),
        DeErrorKind::WrongType { found, expected } => {
            ValidationError::new(pos, Rule::WrongType).arg("found", found).arg("expected", expected)
        }
        DeErrorKind::UnknownVariant { value, expected } => {
            ValidationError::new(pos, Rule::UnknownValue).arg("value", value).arg("allowed", expected.join(", "))
        }
        DeErrorKind::UnsupportedTag { tag } => ValidationError::new(pos, Rule::UnsupportedTag).arg("tag", tag),
        DeErrorKind::Invalid { message } => ValidationError::new(pos, Rule::InvalidValue).arg("detail", message),
    }
}
