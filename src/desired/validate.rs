//! Semantic checks across documents: references, uniqueness, regions,
//! expiry dates and guardrails on vendor grants.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Months, NaiveDate};

use super::error::{Rule, ValidationError};
use super::model::{Area, DesiredState, Doc, DocRef, GC_REGIONS, Guardrails, PrincipalKind, SourcePos};
use super::policy::{PolicySource, check_policy};
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
    check.id_formats(state);

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
        check.accounts_present(&t.doc, &t.spec.accounts);
        check.accounts(&t.doc, "accounts", &t.spec.accounts, &known);
        check.region_list(&t.doc, "regions", &t.spec.regions, &known);
        check.template_assignment(t, state);
    }
    for g in &state.grants {
        check.accounts_present(&g.doc, &g.spec.accounts);
        check.accounts(&g.doc, "accounts", &g.spec.accounts, &known);
        check.grant(g, &known, today);
    }
    for a in &state.alarms {
        check.accounts_present(&a.doc, &a.spec.accounts);
        check.accounts(&a.doc, "accounts", &a.spec.accounts, &known);
        check.region(&a.doc, "region", a.spec.region.as_deref(), &known);
        check.alarm_numbers(a);
    }
    for b in &state.budgets {
        // An empty or missing list means every account of the system.
        check.accounts(&b.doc, "accounts", &b.spec.accounts, &known);
        check.budget_numbers(b);
        if !known.systems.contains(b.spec.system.as_str()) {
            let err = ValidationError::new(check.pos(&b.doc, "system"), Rule::UnknownSystem)
                .arg("system", &b.spec.system)
                .arg("known", join(&known.systems));
            check.errors.push(err);
        }
    }
    for c in &state.config_rules {
        check.accounts_present(&c.doc, &c.spec.accounts);
        check.accounts(&c.doc, "accounts", &c.spec.accounts, &known);
        check.region(&c.doc, "region", c.spec.region.as_deref(), &known);
    }
    let defaults = Guardrails::default();
    let max_exception_months = env.spec.guardrails.as_ref().unwrap_or(&defaults).max_exception_months;
    for e in &state.exceptions {
        check.accounts(&e.doc, "account", std::slice::from_ref(&e.spec.account), &known);
        check.exception(e);
        check.exception_expiry(e, today, max_exception_months);
    }
    check.errors.extend(super::guardrails::check_guardrails(state, sources, today));
    check.errors
}

/// Maximum e-mail subscribers of one AWS Budgets notification (API reference,
/// NotificationWithSubscribers). A Budget notifies every address at each threshold.
pub const MAX_BUDGET_ADDRESSES: usize = 10;

/// Maximum subscriptions of one AlarmRule. SNS allows far more per topic, so
/// this is gcops' own limit, kept small enough for a reviewer to check.
pub const MAX_ALARM_SUBSCRIPTIONS: usize = 100;

/// Highest budget notification threshold, in percent of the monthly amount.
/// NOTE: gcops' own bound against typing mistakes, not a documented AWS limit.
pub const MAX_THRESHOLD_PERCENT: f64 = 1000.0;

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
        let all = all_docs(state);
        let mut seen: BTreeMap<(super::model::Kind, &str), &DocRef> = BTreeMap::new();
        for doc in all {
            match seen.get(&(doc.kind, doc.id.as_str())) {
                Some(first) => {
                    let pos = self.id_pos(doc);
                    let first_pos = self.id_pos(first);
                    let err = ValidationError::new(pos, Rule::DuplicateId)
                        .arg("kind", doc.kind.as_str())
                        .arg("id", &doc.id)
                        .arg("first", &first_pos);
                    self.errors.push(err);
                }
                None => {
                    seen.insert((doc.kind, doc.id.as_str()), doc);
                }
            }
        }
    }

    /// Position of a document's `id:` value, or of the document when it has none.
    fn id_pos(&self, doc: &DocRef) -> SourcePos {
        match self.tree(doc).and_then(|t| t.get("id")) {
            Some(node) => node.pos(&doc.file),
            None => doc.pos.clone(),
        }
    }

    fn id_formats(&mut self, state: &DesiredState) {
        for doc in all_docs(state) {
            if !is_valid_id(&doc.id) {
                let pos = self.id_pos(doc);
                self.errors.push(ValidationError::new(pos, Rule::InvalidId).arg("id", &doc.id));
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

            if !is_valid_account_name(&account.name) {
                self.errors.push(ValidationError::new(name_pos.clone(), Rule::InvalidAccountName).arg("name", &account.name));
            }
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

    /// Reports an empty `accounts` list, which would apply the document nowhere.
    fn accounts_present(&mut self, doc: &DocRef, names: &[String]) {
        if names.is_empty() {
            let err = ValidationError::new(self.pos(doc, "accounts"), Rule::AccountsEmpty).arg("kind", doc.kind.as_str());
            self.errors.push(err);
        }
    }

    fn alarm_numbers(&mut self, a: &Doc<super::model::AlarmRule>) {
        let spec = &a.spec;
        if !spec.threshold.is_finite() {
            self.invalid_number(&a.doc, "threshold", "not-finite", spec.threshold);
        }
        if spec.period <= 0 {
            self.invalid_number(&a.doc, "period", "not-positive", spec.period);
        } else if !(spec.period == 10 || spec.period == 30 || spec.period % 60 == 0) {
            self.invalid_number(&a.doc, "period", "period", spec.period);
        }
        if spec.evaluation_periods <= 0 {
            self.invalid_number(&a.doc, "evaluationPeriods", "not-positive", spec.evaluation_periods);
        }
        let count = spec.notify.subscriptions.len();
        if count > MAX_ALARM_SUBSCRIPTIONS {
            let err = ValidationError::new(self.pos(&a.doc, "notify.subscriptions"), Rule::TooManySubscribers)
                .problem("alarm")
                .arg("count", count)
                .arg("limit", MAX_ALARM_SUBSCRIPTIONS);
            self.errors.push(err);
        }
    }

    fn budget_numbers(&mut self, b: &Doc<super::model::Budget>) {
        let spec = &b.spec;
        if !spec.monthly_amount.is_finite() {
            self.invalid_number(&b.doc, "monthlyAmount", "not-finite", spec.monthly_amount);
        } else if spec.monthly_amount <= 0.0 {
            self.invalid_number(&b.doc, "monthlyAmount", "not-positive", spec.monthly_amount);
        }
        for (i, threshold) in spec.thresholds.iter().enumerate() {
            let path = format!("thresholds.{i}");
            if !threshold.is_finite() {
                self.invalid_number(&b.doc, &path, "not-finite", threshold);
            } else if *threshold <= 0.0 || *threshold > MAX_THRESHOLD_PERCENT {
                self.invalid_number(&b.doc, &path, "threshold-percent", threshold);
            }
        }
        let count = spec.addresses.len();
        if count > MAX_BUDGET_ADDRESSES {
            let err = ValidationError::new(self.pos(&b.doc, "addresses"), Rule::TooManySubscribers)
                .problem("budget")
                .arg("count", count)
                .arg("limit", MAX_BUDGET_ADDRESSES);
            self.errors.push(err);
        }
    }

    fn invalid_number(&mut self, doc: &DocRef, path: &str, problem: &'static str, value: impl std::fmt::Display) {
        let field = path.split('.').next().unwrap_or(path);
        let err = ValidationError::new(self.pos(doc, path), Rule::InvalidNumber)
            .problem(problem)
            .arg("field", field)
            .arg("value", value);
        self.errors.push(err);
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

        for (policy_name, policy) in &g.spec.inline_policies {
            let node = self.tree(&g.doc).map(|root| root.locate_key("spec.inlinePolicies", policy_name));
            let source = PolicySource { file: &g.doc.file, node, fallback: &g.doc.pos };
            self.errors.extend(check_policy(policy_name, policy, &source));
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

    /// Checks an exception's `expires` against today and the latest date allowed,
    /// `max_months` after today (0 turns that limit off).
    fn exception_expiry(&mut self, e: &Doc<super::model::Exception>, today: NaiveDate, max_months: u32) {
        // A missing date is `exception-incomplete`.
        let Some(expires) = e.spec.expires else {
            return;
        };
        let pos = self.pos(&e.doc, "expires");
        if expires < today {
            let err = ValidationError::new(pos, Rule::ExceptionExpired)
                .arg("id", &e.doc.id)
                .arg("expires", expires)
                .arg("today", today);
            self.errors.push(err);
            return;
        }
        if max_months == 0 {
            return;
        }
        let limit = today.checked_add_months(Months::new(max_months)).unwrap_or(NaiveDate::MAX);
        if expires > limit {
            let err = ValidationError::new(pos, Rule::ExceptionExpiryTooFar)
                .arg("expires", expires)
                .arg("months", max_months)
                .arg("today", today)
                .arg("limit", limit);
            self.errors.push(err);
        }
    }
}

/// Collects every loaded document, Environment first.
fn all_docs(state: &DesiredState) -> Vec<&DocRef> {
    state
        .environment
        .iter()
        .map(|d| &d.doc)
        .chain(state.templates.iter().map(|d| &d.doc))
        .chain(state.grants.iter().map(|d| &d.doc))
        .chain(state.alarms.iter().map(|d| &d.doc))
        .chain(state.budgets.iter().map(|d| &d.doc))
        .chain(state.config_rules.iter().map(|d| &d.doc))
        .chain(state.exceptions.iter().map(|d| &d.doc))
        .collect()
}

/// True for `^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`: a name that is safe as a
/// git branch name component, a file name and a DNS label.
pub fn is_valid_account_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    let edge_ok = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes.first().is_some_and(edge_ok)
        && bytes.last().is_some_and(edge_ok)
        && bytes.iter().all(|b| edge_ok(b) || *b == b'-')
}

/// True for `^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`, so that an id can become
/// part of another id (`<id>-<account>`), a branch name or a file name.
pub fn is_valid_id(id: &str) -> bool {
    let bytes = id.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 128
        && bytes[0].is_ascii_alphanumeric()
        && bytes.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
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
