//! Edits to `desired-state/` that make git adopt the live state of one
//! account, so that merging a drift pull request ends the drift.
//!
//! Edits are splices of source spans: yaml-edit parses each file losslessly
//! to find the byte range of a document, entry or list item, and only that
//! range is rewritten. Every byte outside the changed lines, comments
//! included, stays as it was.
//!
//! - Modified or Unexpected property: the value at `item.path` inside the
//!   document's `spec` becomes `item.live`.
//! - Missing property: the property is removed.
//! - Missing resource (`path` empty): the account leaves the document's
//!   `accounts`, or the document goes when the account was its only one.
//! - A document that targets several accounts is split: the account leaves
//!   the original, and a copy with id `<id>-<account>` targets it alone and
//!   carries the live values.
//! - Mandatory-template stacks are never adopted: an `Exception` with empty
//!   `reason`, `approver` and `expires` goes to `desired-state/exceptions.yaml`
//!   for a reviewer to fill in.

use std::collections::BTreeMap;
use std::str::FromStr;

use serde_json::Value;
use yaml_edit::{Mapping, Sequence, YamlFile, YamlNode};

use crate::desired::model::{Account, DesiredState, Kind};
use crate::diff::model::{Change, DriftItem, ResourceType};

/// File that receives the exceptions for drift that cannot be adopted.
pub const EXCEPTIONS_FILE: &str = "desired-state/exceptions.yaml";

/// Errors of the adopt edits; each names the file and, where known, the document.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A drift item points at a file that was not handed in.
    #[error("desired-state file {file} not found among the files read")]
    FileMissing { file: String },
    /// The file is not YAML that yaml-edit can parse.
    #[error("cannot parse {file} for editing: {reason}")]
    Parse { file: String, reason: String },
    /// The file has fewer documents than the drift item's index.
    #[error("{file} has no document at index {index}")]
    DocumentMissing { file: String, index: usize },
    /// The path runs through a value that is neither a mapping nor a list,
    /// or through a list index that does not exist.
    #[error("{file}: path {path} of document {index} cannot be edited: {reason}")]
    Unsupported { file: String, index: usize, path: String, reason: String },
}

/// Returns the files to change (`None` deletes the file) so that the desired
/// state adopts the live state of `account` for `items`. `files` maps
/// repository-relative paths to the text of the desired-state files.
pub fn adopt(
    files: &BTreeMap<String, String>,
    desired: &DesiredState,
    account: &Account,
    items: &[&DriftItem],
) -> Result<BTreeMap<String, Option<String>>, Error> {
    let mut edited: BTreeMap<String, Option<String>> = BTreeMap::new();
    let mut exceptions: Vec<String> = Vec::new();

    // Documents of one file are edited from the highest index down. Removing
    // one then never shifts the index of another still to edit, and copies
    // appended at the end land after all of them.
    let mut by_doc: BTreeMap<(String, std::cmp::Reverse<usize>), Vec<&DriftItem>> = BTreeMap::new();
    for item in items {
        if item.resource_type == ResourceType::Stack {
            if let Some(text) = exception_document(desired, account, item, &exceptions) {
                exceptions.push(text);
            }
            continue;
        }
        match &item.doc {
            Some(doc) => by_doc.entry((doc.file.clone(), std::cmp::Reverse(doc.index))).or_default().push(item),
            None => {
                // NOTE: a live resource that no document names has nowhere to
                // be adopted into; the pull request body still lists it.
                tracing::warn!(account = %account.name, resource = %item.resource_id, "drift item without a document is not adopted");
            }
        }
    }

    for ((file, std::cmp::Reverse(index)), doc_items) in by_doc {
        let current = match edited.get(&file) {
            Some(Some(text)) => text.clone(),
            Some(None) => continue,
            None => files.get(&file).cloned().ok_or_else(|| Error::FileMissing { file: file.clone() })?,
        };
        let kind = doc_items[0].doc.as_ref().map(|d| d.kind).unwrap_or_default();
        let id = doc_items[0].doc.as_ref().map(|d| d.id.clone()).unwrap_or_default();
        let updated = adopt_document(&current, &file, index, kind, &id, account, &doc_items)?;
        edited.insert(file, updated);
    }

    if !exceptions.is_empty() {
        let mut text = match edited.get(EXCEPTIONS_FILE) {
            Some(Some(text)) => text.clone(),
            _ => files.get(EXCEPTIONS_FILE).cloned().unwrap_or_default(),
        };
        for document in exceptions {
            text = append_document(&text, &document);
        }
        edited.insert(EXCEPTIONS_FILE.to_string(), Some(text));
    }

    // A file whose edits cancelled out is not a change.
    edited.retain(|file, text| files.get(file) != text.as_ref());
    Ok(edited)
}

/// Edits document `index` of `text` for one account's items; `None` deletes the file.
fn adopt_document(
    text: &str,
    file: &str,
    index: usize,
    kind: Kind,
    id: &str,
    account: &Account,
    items: &[&DriftItem],
) -> Result<Option<String>, Error> {
    let targets = if kind == Kind::Environment { Vec::new() } else { target_accounts(text, file, index)? };
    let shared = targets.len() > 1 && targets.iter().any(|a| a == &account.name);
    let whole_missing = items.iter().any(|i| i.change == Change::Missing && i.path.is_empty());

    if whole_missing {
        if shared {
            return remove_account(text, file, index, &targets, &account.name).map(Some);
        }
        return remove_document(text, file, index);
    }

    if shared {
        let copy = document_text(text, file, index)?;
        let copy = set_path(&copy, file, 0, &["id"], &Value::String(format!("{id}-{}", account.name)))?;
        let copy = set_path(&copy, file, 0, &["spec", "accounts"], &Value::from(vec![account.name.clone()]))?;
        let copy = apply_items(copy, file, 0, items)?;
        let original = remove_account(text, file, index, &targets, &account.name)?;
        return Ok(Some(append_document(&original, &copy)));
    }

    apply_items(text.to_string(), file, index, items).map(Some)
}

fn apply_items(mut text: String, file: &str, index: usize, items: &[&DriftItem]) -> Result<String, Error> {
    for item in items {
        let mut path = vec!["spec"];
        path.extend(item.path.split('.').filter(|s| !s.is_empty()));
        text = match item.change {
            Change::Missing => remove_path(&text, file, index, &path)?,
            Change::Modified | Change::Unexpected if item.live.is_null() => remove_path(&text, file, index, &path)?,
            Change::Modified | Change::Unexpected => set_path(&text, file, index, &path, &item.live)?,
        };
    }
    Ok(text)
}

/// Renders an `Exception` document for a stack item, unless an exception
/// for the same account, resource and property already exists.
fn exception_document(desired: &DesiredState, account: &Account, item: &DriftItem, pending: &[String]) -> Option<String> {
    let property = (!item.path.is_empty()).then(|| item.path.clone());
    let known = desired.exceptions.iter().any(|e| {
        e.spec.account == account.name
            && e.spec.resource_type == item.resource_type.as_str()
            && e.spec.resource_id == item.resource_id
            && e.spec.property == property
    });
    if known {
        return None;
    }
    let mut id = format!("{}-{}", account.name, item.resource_id);
    if let Some(property) = &property {
        id.push('-');
        id.push_str(property);
    }
    let id: String = id.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '-' }).collect();
    let mut text = format!(
        "apiVersion: gcops/v1\nkind: Exception\nid: {}\nspec:\n  account: {}\n  resourceType: {}\n  resourceId: {}\n",
        render_scalar(&Value::String(id)),
        render_scalar(&Value::String(account.name.clone())),
        item.resource_type.as_str(),
        render_scalar(&Value::String(item.resource_id.clone())),
    );
    if let Some(property) = property {
        text.push_str(&format!("  property: {}\n", render_scalar(&Value::String(property))));
    }
    text.push_str("  reason: \"\"\n  approver: \"\"\n  expires: null\n");
    let duplicate = pending.contains(&text);
    (!duplicate).then_some(text)
}

// ---- locating nodes ----

fn parse(text: &str, file: &str) -> Result<YamlFile, Error> {
    YamlFile::from_str(text).map_err(|e| Error::Parse { file: file.to_string(), reason: e.to_string() })
}

fn document_mapping(parsed: &YamlFile, file: &str, index: usize) -> Result<(yaml_edit::Document, Mapping), Error> {
    let document = parsed.documents().nth(index).ok_or_else(|| Error::DocumentMissing { file: file.to_string(), index })?;
    let mapping = document.as_mapping().ok_or_else(|| Error::Unsupported {
        file: file.to_string(),
        index,
        path: String::new(),
        reason: "document is not a mapping".to_string(),
    })?;
    Ok((document, mapping))
}

fn unsupported(file: &str, index: usize, path: &[&str], reason: &str) -> Error {
    Error::Unsupported { file: file.to_string(), index, path: path.join("."), reason: reason.to_string() }
}

/// Account names in `spec.accounts` of the document; empty when absent.
fn target_accounts(text: &str, file: &str, index: usize) -> Result<Vec<String>, Error> {
    let parsed = parse(text, file)?;
    let (_, mapping) = document_mapping(&parsed, file, index)?;
    let Some(accounts) = mapping.get_mapping("spec").and_then(|spec| spec.get_sequence("accounts")) else {
        return Ok(Vec::new());
    };
    Ok(accounts.values().filter_map(|v| v.as_scalar().map(|s| s.as_string())).collect())
}

fn range(start: u32, end: u32) -> (usize, usize) {
    (start as usize, end as usize)
}

fn line_start(text: &str, pos: usize) -> usize {
    text[..pos].rfind('\n').map_or(0, |i| i + 1)
}

/// First byte after the line that contains `pos - 1`, i.e. after the
/// newline that ends a span, or the end of the text.
fn line_end(text: &str, pos: usize) -> usize {
    if pos > 0 && text.as_bytes()[pos - 1] == b'\n' {
        return pos;
    }
    text[pos..].find('\n').map_or(text.len(), |i| pos + i + 1)
}

fn splice(text: &str, start: usize, end: usize, replacement: &str) -> String {
    format!("{}{}{}", &text[..start], replacement, &text[end..])
}

// ---- edits ----

/// Sets the value at `path` (from the document root) to `value`, creating
/// missing mapping keys on the way.
fn set_path(text: &str, file: &str, index: usize, path: &[&str], value: &Value) -> Result<String, Error> {
    let parsed = parse(text, file)?;
    let (_, mut mapping) = document_mapping(&parsed, file, index)?;
    let mut sequence: Option<Sequence> = None;

    for (i, segment) in path.iter().enumerate() {
        let last = i + 1 == path.len();
        let node: YamlNode = if let Some(seq) = sequence.take() {
            let position: usize = segment.parse().map_err(|_| unsupported(file, index, path, "list index is not a number"))?;
            let item = seq.get(position).ok_or_else(|| unsupported(file, index, path, "list index out of range"))?;
            if last {
                let (start, end) = range(item.byte_range().start, item.byte_range().end);
                return Ok(splice(text, start, end, &render_flow(value)));
            }
            item
        } else {
            let Some(entry) = mapping.find_entry_by_key(*segment) else {
                let rest = nest(&path[i + 1..], value);
                return insert_entry(text, file, index, path, &mapping, segment, &rest);
            };
            if last {
                return replace_entry(text, &entry, segment, value);
            }
            entry.value_node().ok_or_else(|| unsupported(file, index, path, "value is empty"))?
        };
        if let Some(next) = node.as_mapping() {
            mapping = next.clone();
        } else if let Some(next) = node.as_sequence() {
            sequence = Some(next.clone());
        } else {
            return Err(unsupported(file, index, path, "value is neither a mapping nor a list"));
        }
    }
    Err(unsupported(file, index, path, "empty path"))
}

/// Wraps `value` in one single-key mapping per remaining path segment.
fn nest(rest: &[&str], value: &Value) -> Value {
    rest.iter().rev().fold(value.clone(), |inner, key| {
        let mut map = serde_json::Map::new();
        map.insert((*key).to_string(), inner);
        Value::Object(map)
    })
}

fn replace_entry(text: &str, entry: &yaml_edit::MappingEntry, key: &str, value: &Value) -> Result<String, Error> {
    let (start, end) = range(entry.byte_range().start, entry.byte_range().end);
    let in_flow = !text[start..end].ends_with('\n');
    let old_value = entry.value_node();
    let old_is_scalar = old_value.as_ref().is_some_and(|v| v.is_scalar());

    // A scalar replaced by a scalar, or anything inside a flow collection,
    // changes only the value's own span; a trailing comment survives.
    if let Some(old) = old_value.filter(|_| in_flow || (old_is_scalar && is_scalar(value))) {
        let (value_start, value_end) = range(old.byte_range().start, old.byte_range().end);
        let rendered = if is_scalar(value) { render_scalar(value) } else { render_flow(value) };
        return Ok(splice(text, value_start, value_end, &rendered));
    }
    let line = line_start(text, start);
    let indent = start - line;
    let key_text = match entry.key_node() {
        Some(k) => {
            let (key_start, key_end) = range(k.byte_range().start, k.byte_range().end);
            text[key_start..key_end].to_string()
        }
        None => render_key(key),
    };
    let mut rendered = render_entry(&key_text, value, indent);
    if !text[..end].ends_with('\n') {
        rendered.pop();
    }
    Ok(splice(text, line, line_end(text, end), &rendered))
}

fn insert_entry(
    text: &str,
    file: &str,
    index: usize,
    path: &[&str],
    mapping: &Mapping,
    key: &str,
    value: &Value,
) -> Result<String, Error> {
    if mapping.is_flow_style() {
        return Err(unsupported(file, index, path, "adding a key to a flow mapping is not supported"));
    }
    let first = mapping.entries().next().ok_or_else(|| unsupported(file, index, path, "mapping is empty"))?;
    let first_start = first.byte_range().start as usize;
    let indent = first_start - line_start(text, first_start);
    let end = line_end(text, mapping.byte_range().end as usize);
    let mut rendered = render_entry(&render_key(key), value, indent);
    if !text[..end].ends_with('\n') {
        rendered.insert(0, '\n');
    }
    Ok(splice(text, end, end, &rendered))
}

/// Removes the entry or list item at `path`; a mapping or list left empty
/// is removed with it. A path that does not exist is already removed.
fn remove_path(text: &str, file: &str, index: usize, path: &[&str]) -> Result<String, Error> {
    let parsed = parse(text, file)?;
    let (_, mut mapping) = document_mapping(&parsed, file, index)?;
    let mut sequence: Option<Sequence> = None;

    for (i, segment) in path.iter().enumerate() {
        let last = i + 1 == path.len();
        let node = if let Some(seq) = sequence.take() {
            let Some(item) = segment.parse::<usize>().ok().and_then(|p| seq.get(p)) else {
                return Ok(text.to_string());
            };
            if last {
                if seq.len() == 1 && path.len() > 2 {
                    return remove_path(text, file, index, &path[..i]);
                }
                return remove_item(text, file, index, path, &seq, &item);
            }
            item
        } else {
            let Some(entry) = mapping.find_entry_by_key(*segment) else {
                return Ok(text.to_string());
            };
            if last {
                if mapping.len() == 1 && path.len() > 2 {
                    return remove_path(text, file, index, &path[..i]);
                }
                let (start, end) = range(entry.byte_range().start, entry.byte_range().end);
                if !text[start..end].ends_with('\n') {
                    return Err(unsupported(file, index, path, "removing a key from a flow mapping is not supported"));
                }
                return Ok(splice(text, line_start(text, start), end, ""));
            }
            match entry.value_node() {
                Some(value) => value,
                None => return Ok(text.to_string()),
            }
        };
        if let Some(next) = node.as_mapping() {
            mapping = next.clone();
        } else if let Some(next) = node.as_sequence() {
            sequence = Some(next.clone());
        } else {
            return Ok(text.to_string());
        }
    }
    Ok(text.to_string())
}

fn remove_item(
    text: &str,
    file: &str,
    index: usize,
    path: &[&str],
    sequence: &Sequence,
    item: &YamlNode,
) -> Result<String, Error> {
    let (start, end) = range(item.byte_range().start, item.byte_range().end);
    if !sequence.is_flow_style() {
        return Ok(splice(text, line_start(text, start), line_end(text, end), ""));
    }
    let remaining: Vec<String> = sequence
        .values()
        .filter(|v| v.byte_range().start as usize != start)
        .map(|v| {
            let (s, e) = range(v.byte_range().start, v.byte_range().end);
            text[s..e].to_string()
        })
        .collect();
    let (seq_start, seq_end) = range(sequence.byte_range().start, sequence.byte_range().end);
    if !text[seq_start..seq_end].trim_end().ends_with(']') {
        return Err(unsupported(file, index, path, "flow list has no closing bracket"));
    }
    let trailing = &text[seq_start..seq_end][text[seq_start..seq_end].trim_end().len()..];
    Ok(splice(text, seq_start, seq_end, &format!("[{}]{trailing}", remaining.join(", "))))
}

fn remove_account(text: &str, file: &str, index: usize, targets: &[String], name: &str) -> Result<String, Error> {
    let position = targets.iter().position(|a| a == name).expect("caller checked that the account is a target");
    let position = position.to_string();
    remove_path(text, file, index, &["spec", "accounts", &position])
}

/// Removes document `index`; `None` when it was the file's only document.
fn remove_document(text: &str, file: &str, index: usize) -> Result<Option<String>, Error> {
    let parsed = parse(text, file)?;
    let count = parsed.documents().count();
    let (document, _) = document_mapping(&parsed, file, index)?;
    if count == 1 {
        return Ok(None);
    }
    let (start, end) = range(document.byte_range().start, document.byte_range().end);
    let mut result = splice(text, start, end, "");
    if index == 0 {
        // The next document's `---` now opens the file; drop it so the
        // file starts with content, as before.
        if let Some(rest) = result.strip_prefix("---\n") {
            result = rest.to_string();
        }
    }
    Ok(Some(result))
}

/// Text of document `index` from its first key, without a leading `---`
/// or the comments above it.
fn document_text(text: &str, file: &str, index: usize) -> Result<String, Error> {
    let parsed = parse(text, file)?;
    let (document, mapping) = document_mapping(&parsed, file, index)?;
    let first = mapping.entries().next().ok_or_else(|| unsupported(file, index, &[], "document is empty"))?;
    let start = line_start(text, first.byte_range().start as usize);
    let end = document.byte_range().end as usize;
    let mut copy = text[start..end].to_string();
    if !copy.ends_with('\n') {
        copy.push('\n');
    }
    Ok(copy)
}

fn append_document(text: &str, document: &str) -> String {
    if text.trim().is_empty() {
        return document.to_string();
    }
    let mut result = text.to_string();
    if !result.ends_with('\n') {
        result.push('\n');
    }
    result.push_str("---\n");
    result.push_str(document);
    result
}

// ---- rendering values as YAML ----

fn is_scalar(value: &Value) -> bool {
    !matches!(value, Value::Array(_) | Value::Object(_))
}

/// Renders `key: value` as block YAML at `indent` spaces, ending in a newline.
fn render_entry(key: &str, value: &Value, indent: usize) -> String {
    let pad = " ".repeat(indent);
    match value {
        Value::Object(map) if !map.is_empty() => {
            let mut out = format!("{pad}{key}:\n");
            for (k, v) in map {
                out.push_str(&render_entry(&render_key(k), v, indent + 2));
            }
            out
        }
        Value::Array(items) if !items.is_empty() => {
            let mut out = format!("{pad}{key}:\n");
            for item in items {
                out.push_str(&render_item(item, indent + 2));
            }
            out
        }
        _ => format!("{pad}{key}: {}\n", render_flow(value)),
    }
}

fn render_item(value: &Value, indent: usize) -> String {
    let pad = " ".repeat(indent);
    match value {
        Value::Object(map) if !map.is_empty() => {
            // The first key goes on the dash line, the rest align under it.
            let body: String = map.iter().map(|(k, v)| render_entry(&render_key(k), v, indent + 2)).collect();
            format!("{pad}- {}", &body[indent + 2..])
        }
        _ => format!("{pad}- {}\n", render_flow(value)),
    }
}

/// Renders a value on one line: scalars plain or quoted, collections as JSON,
/// which is valid flow YAML.
fn render_flow(value: &Value) -> String {
    if is_scalar(value) { render_scalar(value) } else { serde_json::to_string(value).expect("a JSON value always serialises") }
}

fn render_key(key: &str) -> String {
    render_scalar(&Value::String(key.to_string()))
}

fn render_scalar(value: &Value) -> String {
    match value {
        Value::String(s) if is_plain_safe(s) => s.clone(),
        // A JSON string is a valid YAML double-quoted scalar.
        Value::String(s) => serde_json::to_string(s).expect("a string always serialises"),
        Value::Null => "null".to_string(),
        other => other.to_string(),
    }
}

/// Checks whether `s` reads back as the same string when written unquoted:
/// no YAML indicators, and not a word or number that YAML would resolve to
/// another type.
fn is_plain_safe(s: &str) -> bool {
    const RESERVED: [&str; 12] = ["true", "false", "yes", "no", "on", "off", "null", "y", "n", "~", "<<", "="];
    let Some(first) = s.chars().next() else {
        return false;
    };
    let allowed = |c: char| c.is_alphanumeric() || " _-./@:+()".contains(c);
    (first.is_alphabetic() || first == '/' || first == '_')
        && s.chars().all(allowed)
        && !s.ends_with(' ')
        && !s.contains(": ")
        && !s.contains(" #")
        && !s.ends_with(':')
        && !RESERVED.contains(&s.to_ascii_lowercase().as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desired::model::{Area, DocRef};
    use crate::diff::model::Source;
    use serde_json::json;

    fn account(name: &str) -> Account {
        Account {
            id: "111111111111".to_string(),
            name: name.to_string(),
            area: Area::Asp,
            ou: "/GC/ASP".to_string(),
            system: None,
            vendor: None,
        }
    }

    fn item(file: &str, index: usize, kind: Kind, change: Change, path: &str, live: Value) -> DriftItem {
        DriftItem {
            account_id: "111111111111".to_string(),
            account_name: "a".to_string(),
            region: None,
            resource_type: ResourceType::Alarm,
            resource_id: "r".to_string(),
            change,
            path: path.to_string(),
            desired: Value::Null,
            live,
            source: Source::CloudWatch,
            doc: Some(DocRef { file: file.to_string(), index, kind, id: "doc".to_string(), ..DocRef::default() }),
        }
    }

    fn run(file: &str, text: &str, items: &[DriftItem]) -> BTreeMap<String, Option<String>> {
        let files = BTreeMap::from([(file.to_string(), text.to_string())]);
        let refs: Vec<&DriftItem> = items.iter().collect();
        adopt(&files, &DesiredState::default(), &account("a"), &refs).unwrap()
    }

    const ALARM: &str = "# alarms for a\napiVersion: gcops/v1\nkind: AlarmRule\nid: doc\nspec:\n  accounts: [a]\n  # the limit\n  threshold: 80 # keep me\n  period: 300\n";

    #[test]
    fn modified_scalar_keeps_comments() {
        let f = "desired-state/monitoring/a.yaml";
        let out = run(f, ALARM, &[item(f, 0, Kind::AlarmRule, Change::Modified, "threshold", json!(90))]);
        assert_eq!(out[f].as_deref(), Some(ALARM.replace("80 # keep", "90 # keep").as_str()));
    }

    #[test]
    fn unexpected_adds_nested_key() {
        let f = "desired-state/permissions/g.yaml";
        let text = "kind: PermissionGrant\nid: doc\nspec:\n  accounts:\n    - a\n  inlinePolicies:\n    Base: {Version: '2012-10-17'} # base\n  ticket: T-1\n";
        let live = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*"}]});
        let out = run(f, text, &[item(f, 0, Kind::PermissionGrant, Change::Unexpected, "inlinePolicies.HandAdded", live)]);
        let expected = "kind: PermissionGrant\nid: doc\nspec:\n  accounts:\n    - a\n  inlinePolicies:\n    Base: {Version: '2012-10-17'} # base\n    HandAdded:\n      Version: \"2012-10-17\"\n      Statement:\n        - Effect: Allow\n          Action: \"s3:*\"\n  ticket: T-1\n";
        assert_eq!(out[f].as_deref(), Some(expected));
    }

    #[test]
    fn unexpected_creates_missing_parent() {
        let f = "g.yaml";
        let text = "id: doc\nspec:\n  ticket: T-1 # t\n";
        let out = run(f, text, &[item(f, 0, Kind::PermissionGrant, Change::Unexpected, "inlinePolicies.X", json!({"k": "v"}))]);
        assert_eq!(out[f].as_deref(), Some("id: doc\nspec:\n  ticket: T-1 # t\n  inlinePolicies:\n    X:\n      k: v\n"));
    }

    #[test]
    fn missing_property_removed() {
        let f = "m.yaml";
        let out = run(f, ALARM, &[item(f, 0, Kind::AlarmRule, Change::Missing, "period", Value::Null)]);
        assert_eq!(out[f].as_deref(), Some(ALARM.replace("  period: 300\n", "").as_str()));
    }

    #[test]
    fn missing_last_key_removes_parent() {
        let f = "m.yaml";
        let text = "id: doc\nspec:\n  dimensions:\n    A: b\n  period: 1\n";
        let out = run(f, text, &[item(f, 0, Kind::AlarmRule, Change::Missing, "dimensions.A", Value::Null)]);
        assert_eq!(out[f].as_deref(), Some("id: doc\nspec:\n  period: 1\n"));
    }

    #[test]
    fn missing_resource_deletes_file() {
        let f = "m.yaml";
        let out = run(f, ALARM, &[item(f, 0, Kind::AlarmRule, Change::Missing, "", Value::Null)]);
        assert_eq!(out[f], None);
    }

    #[test]
    fn missing_resource_removes_document() {
        let f = "m.yaml";
        let text = format!("{ALARM}---\n# second\nid: other\nspec:\n  accounts: [b]\n");
        let out = run(f, &text, &[item(f, 0, Kind::AlarmRule, Change::Missing, "", Value::Null)]);
        assert_eq!(out[f].as_deref(), Some("# second\nid: other\nspec:\n  accounts: [b]\n"));
        let out = run(f, &text, &[item(f, 1, Kind::AlarmRule, Change::Missing, "", Value::Null)]);
        assert_eq!(out[f].as_deref(), Some(ALARM));
    }

    #[test]
    fn missing_resource_shared_removes_account() {
        let f = "m.yaml";
        let text = "id: doc\nspec:\n  accounts:\n    - b\n    - a # gone\n    - c\n  period: 1\n";
        let out = run(f, text, &[item(f, 0, Kind::AlarmRule, Change::Missing, "", Value::Null)]);
        assert_eq!(out[f].as_deref(), Some("id: doc\nspec:\n  accounts:\n    - b\n    - c\n  period: 1\n"));
    }

    #[test]
    fn shared_document_split() {
        let f = "m.yaml";
        let text = "# alarms\napiVersion: gcops/v1\nid: doc\nspec:\n  accounts: [a, b] # both\n  threshold: 80\n";
        let out = run(f, text, &[item(f, 0, Kind::AlarmRule, Change::Modified, "threshold", json!(95))]);
        let expected = "# alarms\napiVersion: gcops/v1\nid: doc\nspec:\n  accounts: [b] # both\n  threshold: 80\n---\napiVersion: gcops/v1\nid: doc-a\nspec:\n  accounts:\n    - a\n  threshold: 95\n";
        assert_eq!(out[f].as_deref(), Some(expected));
    }

    #[test]
    fn stack_drift_adds_exception() {
        let mut drift = item("t.yaml", 0, Kind::TemplateAssignment, Change::Modified, "Resources.Trail.IsLogging", json!(false));
        drift.resource_type = ResourceType::Stack;
        drift.resource_id = "gcops-baseline".to_string();
        let out = run("t.yaml", "id: doc\n", &[drift]);
        let expected = "apiVersion: gcops/v1\nkind: Exception\nid: a-gcops-baseline-Resources-Trail-IsLogging\nspec:\n  account: a\n  resourceType: AWS::CloudFormation::Stack\n  resourceId: gcops-baseline\n  property: Resources.Trail.IsLogging\n  reason: \"\"\n  approver: \"\"\n  expires: null\n";
        assert_eq!(out[EXCEPTIONS_FILE].as_deref(), Some(expected));
        assert!(!out.contains_key("t.yaml"));
    }

    #[test]
    fn stack_drift_appends_to_exceptions() {
        let mut drift = item("t.yaml", 0, Kind::TemplateAssignment, Change::Missing, "", Value::Null);
        drift.resource_type = ResourceType::Stack;
        let existing = "# accepted\nkind: Exception\nid: old\n";
        let out = run(EXCEPTIONS_FILE, existing, &[drift]);
        let text = out[EXCEPTIONS_FILE].as_deref().unwrap();
        assert!(text.starts_with("# accepted\nkind: Exception\nid: old\n---\napiVersion: gcops/v1\n"), "{text}");
        assert!(!text.contains("property:"), "{text}");
    }

    #[test]
    fn environment_ou_edited() {
        let f = "desired-state/environment.yaml";
        let text = "kind: Environment\nid: env\nspec:\n  client: x\n  accounts:\n    - id: \"1\"\n      name: b\n      ou: /GC/Old\n    - id: \"2\" # second\n      name: a\n      ou: /GC/ASP # here\n";
        let mut drift = item(f, 0, Kind::Environment, Change::Modified, "accounts.1.ou", json!("/GC/ASP/jumin"));
        drift.resource_type = ResourceType::Account;
        let out = run(f, text, &[drift]);
        assert_eq!(out[f].as_deref(), Some(text.replace("/GC/ASP # here", "/GC/ASP/jumin # here").as_str()));
    }

    #[test]
    fn scalar_quoting() {
        assert_eq!(render_scalar(&json!("plain-text")), "plain-text");
        assert_eq!(render_scalar(&json!("yes")), "\"yes\"");
        assert_eq!(render_scalar(&json!("123")), "\"123\"");
        assert_eq!(render_scalar(&json!("a: b")), "\"a: b\"");
        assert_eq!(render_scalar(&json!("")), "\"\"");
        assert_eq!(render_scalar(&json!(1.5)), "1.5");
    }
}
