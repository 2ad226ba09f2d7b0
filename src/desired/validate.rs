//! Semantic checks across documents: references, uniqueness, regions,
//! expiry dates and guardrails on vendor grants.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;

use super::error::{Rule, ValidationError};
use super::model::{Area, DesiredState, Doc, DocRef, GC_REGIONS, PrincipalKind, SourcePos};
use super::position::Node;

/// The parsed text behind a [`DesiredState`], used to locate values.
pub struct Sources<'a> {
    /// Document trees by file and document index.
    pub trees: &'a BTreeMap<(String, usize), Node>,
    /// Every `templates/<name>/<version>/` folder present, loaded or not.
    pub template_dirs: &'a BTreeSet<(String, String)>,
    /// True when some document declares `kind: Environment`, even if it
    /// failed to load.
    pub environment_declared: bool,
}

/// Returns every semantic problem of `state`.
pub fn validate(state: &DesiredState, sources: &Sources<'_>, today: NaiveDate) -> Vec<ValidationError> {
    let mut check = Checker { sources, errors: Vec::new() };
    check.duplicate_ids(state);

    let Some(env) = &state.environment else {
        if sources.environment_declared {
            // The Environment failed to load and has its own error.
            return check.errors;
        }
        let pos = SourcePos { file: "desired-state/environment.yaml".to_owned(), line: 1, column: 1 };
        check.errors.push(ValidationError::new(pos, Rule::EnvironmentMissing));
        // Without the Environment every account reference would be reported
        // as unknown, which hides the one error that matters.
        return check.errors;
    };
    check.environment(env);

    let known = Known {
        accounts: env.spec.accounts.iter().map(|a| a.name.as_str()).collect(),
        regions: env.spec.regions.iter().map(String::as_str).collect(),
        systems: env.spec.accounts.iter().filter_map(|a| a.system.as_deref()).collect(),
        vendors: env.spec.accounts.iter().filter_map(|a| a.vendor.as_deref()).collect(),
    };

    for t in &state.templates {
        check.accounts(&t.doc, "accounts", &t.spec.accounts, &known);
        check.region_list(&t.doc, "regions", &t.spec.regions, &known);
        check.template_assignment(t, state);
    }
    for g in &state.grants {
        check.accounts(&g.doc, "accounts", &g.spec.accounts, &known);
        check.grant(g, &known, today);
    }
    for a in &state.alarms {
        check.accounts(&a.doc, "accounts", &a.spec.accounts, &known);
        check.region(&a.doc, "region", a.spec.region.as_deref(), &known);
    }
    for b in &state.budgets {
        check.accounts(&b.doc, "accounts", &b.spec.accounts, &known);
        if !known.systems.contains(b.spec.system.as_str()) {
            let err = ValidationError::new(check.pos(&b.doc, "system"), Rule::UnknownSystem)
                .arg("system", &b.spec.system)
                .arg("known", join(&known.systems));
            check.errors.push(err);
        }
    }
    for c in &state.config_rules {
        check.accounts(&c.doc, "accounts", &c.spec.accounts, &known);
        check.region(&c.doc, "region", c.spec.region.as_deref(), &known);
    }
    for e in &state.exceptions {
        check.accounts(&e.doc, "account", std::slice::from_ref(&e.spec.account), &known);
        check.exception(e);
    }
    check.errors.extend(super::guardrails::check_guardrails(state, sources, today));
    check.errors
}

/// Names defined by the Environment that other documents refer to.
struct Known<'a> {
    accounts: BTreeSet<&'a str>,
    regions: BTreeSet<&'a str>,
    systems: BTreeSet<&'a str>,
    vendors: BTreeSet<&'a str>,
}

struct Checker<'a> {
    sources: &'a Sources<'a>,
    errors: Vec<ValidationError>,
}

fn join(names: &BTreeSet<&str>) -> String {
    if names.is_empty() {
        return "-".to_owned();
    }
    names.iter().copied().collect::<Vec<_>>().join(", ")
}

impl Checker<'_> {
    fn tree(&self, doc: &DocRef) -> Option<&Node> {
        self.sources.trees.get(&(doc.file.clone(), doc.index))
    }

    /// Position of `spec.<path>` in `doc`, or of its deepest existing parent.
    fn pos(&self, doc: &DocRef, path: &str) -> SourcePos {
        match self.tree(doc) {
            Some(root) => root.locate(&format!("spec.{path}")).pos(&doc.file),
            None => doc.pos.clone(),
        }
    }

    /// Position of the value under `key` of the mapping at `spec.<parent>`;
    /// for keys that may contain dots.
    fn key_pos(&self, doc: &DocRef, parent: &str, key: &str) -> SourcePos {
        match self.tree(doc) {
            Some(root) => root.locate_key(&format!("spec.{parent}"), key).pos(&doc.file),
            None => doc.pos.clone(),
        }
    }

    fn duplicate_ids(&mut self, state: &DesiredState) {
        let all: Vec<&DocRef> = state
            .environment
            .iter()
            .map(|d| &d.doc)
            .chain(state.templates.iter().map(|d| &d.doc))
            .chain(state.grants.iter().map(|d| &d.doc))
            .chain(state.alarms.iter().map(|d| &d.doc))
            .chain(state.budgets.iter().map(|d| &d.doc))
            .chain(state.config_rules.iter().map(|d| &d.doc))
            .chain(state.exceptions.iter().map(|d| &d.doc))
            .collect();
        let mut seen: BTreeMap<(super::model::Kind, &str), &DocRef> = BTreeMap::new();
        for doc in all {
            match seen.get(&(doc.kind, doc.id.as_str())) {
                Some(first) => {
                    let pos = match self.tree(doc).and_then(|t| t.get("id")) {
                        Some(node) => node.pos(&doc.file),
                        None => doc.pos.clone(),
                    };
                    let err = ValidationError::new(pos, Rule::DuplicateId)
                        .arg("kind", doc.kind.as_str())
                        .arg("id", &doc.id)
                        .arg("first", &first.pos);
                    self.errors.push(err);
                }
                None => {
                    seen.insert((doc.kind, doc.id.as_str()), doc);
                }
            }
        }
    }

    fn environment(&mut self, env: &Doc<super::model::Environment>) {
        let allowed = GC_REGIONS.join(", ");
        for (i, region) in env.spec.regions.iter().enumerate() {
            if !GC_REGIONS.contains(&region.as_str()) {
                let err = ValidationError::new(self.pos(&env.doc, &format!("regions.{i}")), Rule::RegionNotAllowed)
                    .arg("region", region)
                    .arg("allowed", &allowed);
                self.errors.push(err);
            }
        }

        let mut ids: BTreeMap<&str, SourcePos> = BTreeMap::new();
        let mut names: BTreeMap<&str, SourcePos> = BTreeMap::new();
        for (i, account) in env.spec.accounts.iter().enumerate() {
            let id_pos = self.pos(&env.doc, &format!("accounts.{i}.id"));
            let name_pos = self.pos(&env.doc, &format!("accounts.{i}.name"));

            if account.id.len() != 12 || !account.id.bytes().all(|b| b.is_ascii_digit()) {
                self.errors.push(ValidationError::new(id_pos.clone(), Rule::AccountIdFormat).arg("id", &account.id));
            }
            if let Some(first) = ids.get(account.id.as_str()) {
                let err = ValidationError::new(id_pos.clone(), Rule::DuplicateAccount)
                    .arg("field", "id")
                    .arg("value", &account.id)
                    .arg("first", first);
                self.errors.push(err);
            } else {
                ids.insert(&account.id, id_pos);
            }
            if let Some(first) = names.get(account.name.as_str()) {
                let err = ValidationError::new(name_pos.clone(), Rule::DuplicateAccount)
                    .arg("field", "name")
                    .arg("value", &account.name)
                    .arg("first", first);
                self.errors.push(err);
            } else {
                names.insert(&account.name, name_pos);
            }
            let has_vendor = account.vendor.as_deref().is_some_and(|v| !v.trim().is_empty());
            if account.area == Area::Asp && !has_vendor {
                let pos = self.pos(&env.doc, &format!("accounts.{i}.vendor"));
                self.errors.push(ValidationError::new(pos, Rule::VendorMissing).arg("account", &account.name));
            }
        }
    }

    fn accounts(&mut self, doc: &DocRef, path: &str, names: &[String], known: &Known<'_>) {
        for (i, name) in names.iter().enumerate() {
            if known.accounts.contains(name.as_str()) {
                continue;
            }
            // `Exception.account` is a single name, the others are lists.
            let at = if path == "account" { path.to_owned() } else { format!("{path}.{i}") };
            let err = ValidationError::new(self.pos(doc, &at), Rule::UnknownAccount)
                .arg("account", name)
                .arg("known", join(&known.accounts));
            self.errors.push(err);
        }
    }

    fn region(&mut self, doc: &DocRef, path: &str, region: Option<&str>, known: &Known<'_>) {
        if let Some(region) = region
            && !known.regions.contains(region)
        {
            let err = ValidationError::new(self.pos(doc, path), Rule::RegionNotAllowed)
                .arg("region", region)
                .arg("allowed", join(&known.regions));
            self.errors.push(err);
        }
    }

    fn region_list(&mut self, doc: &DocRef, path: &str, regions: &[String], known: &Known<'_>) {
        for (i, region) in regions.iter().enumerate() {
            self.region(doc, &format!("{path}.{i}"), Some(region), known);
        }
    }

    fn template_assignment(&mut self, t: &Doc<super::model::TemplateAssignment>, state: &DesiredState) {
        let key = (t.spec.template.clone(), t.spec.version.clone());
        if !self.sources.template_dirs.contains(&key) {
            let versions: BTreeSet<&str> = self
                .sources
                .template_dirs
                .iter()
                .filter(|(name, _)| *name == t.spec.template)
                .map(|(_, version)| version.as_str())
                .collect();
            let at = if versions.is_empty() { "template" } else { "version" };
            let err = ValidationError::new(self.pos(&t.doc, at), Rule::UnknownTemplate)
                .arg("template", &t.spec.template)
                .arg("version", &t.spec.version)
                .arg("versions", join(&versions));
            self.errors.push(err);
            return;
        }
        // A folder that failed to load has its own error already.
        let Some(version) = state.template_versions.get(&key) else {
            return;
        };

        for name in t.spec.parameters.keys() {
            if !version.parameters.contains_key(name) {
                let declared: BTreeSet<&str> = version.parameters.keys().map(String::as_str).collect();
                let err = ValidationError::new(self.key_pos(&t.doc, "parameters", name), Rule::UnknownParameter)
                    .arg("parameter", name)
                    .arg("template", &version.file)
                    .arg("declared", join(&declared));
                self.errors.push(err);
            }
        }
        for (name, default) in &version.parameters {
            if default.is_none() && !t.spec.parameters.contains_key(name) {
                let err = ValidationError::new(self.pos(&t.doc, "parameters"), Rule::ParameterMissing)
                    .arg("parameter", name)
                    .arg("template", &version.file);
                self.errors.push(err);
            }
        }
    }

    fn grant(&mut self, g: &Doc<super::model::PermissionGrant>, known: &Known<'_>, today: NaiveDate) {
        match g.spec.expires {
            None => {
                let pos = self.pos(&g.doc, "expires");
                self.errors.push(ValidationError::new(pos, Rule::GrantExpiryMissing).arg("id", &g.doc.id));
            }
            Some(expires) if expires < today => {
                let err = ValidationError::new(self.pos(&g.doc, "expires"), Rule::GrantExpired)
                    .arg("expires", expires)
                    .arg("today", today);
                self.errors.push(err);
            }
            Some(_) => {}
        }

        if g.spec.principal.kind != PrincipalKind::Vendor {
            return;
        }
        if !known.vendors.contains(g.spec.principal.name.as_str()) {
            let err = ValidationError::new(self.pos(&g.doc, "principal.name"), Rule::UnknownVendor)
                .arg("vendor", &g.spec.principal.name)
                .arg("known", join(&known.vendors));
            self.errors.push(err);
        }
        for (policy_name, policy) in &g.spec.inline_policies {
            for (path, _) in wildcard_statements(policy) {
                let pos = match self.tree(&g.doc) {
                    Some(root) => root.locate_key("spec.inlinePolicies", policy_name).locate(&path).pos(&g.doc.file),
                    None => g.doc.pos.clone(),
                };
                self.errors.push(ValidationError::new(pos, Rule::VendorWildcard).arg("policy", policy_name));
            }
        }
    }

    fn exception(&mut self, e: &Doc<super::model::Exception>) {
        let mut missing = Vec::new();
        if e.spec.reason.trim().is_empty() {
            missing.push("reason");
        }
        if e.spec.approver.trim().is_empty() {
            missing.push("approver");
        }
        if e.spec.expires.is_none() {
            missing.push("expires");
        }
        for field in missing {
            let err =
                ValidationError::new(self.pos(&e.doc, field), Rule::ExceptionIncomplete).arg("field", field).arg("id", &e.doc.id);
            self.errors.push(err);
        }
    }
}

/// Statements of an IAM policy document that allow every action on every
/// resource, with their path inside the document (`Statement.0`, or
/// `Statement` when the document contains a single statement object).
pub fn wildcard_statements(policy: &serde_json::Value) -> Vec<(String, &serde_json::Value)> {
    let is_star = |v: Option<&serde_json::Value>| match v {
        Some(serde_json::Value::String(s)) => s == "*",
        Some(serde_json::Value::Array(items)) => items.iter().any(|i| i.as_str() == Some("*")),
        _ => false,
    };
    let allows_all = |s: &serde_json::Value| {
        s.get("Effect").and_then(|e| e.as_str()) == Some("Allow") && is_star(s.get("Action")) && is_star(s.get("Resource"))
    };
    match policy.get("Statement") {
        Some(serde_json::Value::Array(items)) => {
            items.iter().enumerate().filter(|(_, s)| allows_all(s)).map(|(i, s)| (format!("Statement.{i}"), s)).collect()
        }
        Some(single @ serde_json::Value::Object(_)) if allows_all(single) => vec![("Statement".to_owned(), single)],
        _ => Vec::new(),
    }
}
