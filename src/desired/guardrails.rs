//! Permission guardrails (権限管理): limits on what a PermissionGrant may
//! give, configured by the Environment's `guardrails:` block (see
//! [`Guardrails`] for each setting and its default).
//!
//! Each violation is reported once, at the value to change. Facts that other
//! rules already report are left to them: an unknown account or vendor, a
//! missing or past expiry date, and `*` on `*` in a vendor grant
//! (`vendor-wildcard`).

use chrono::{Months, NaiveDate};
use serde_json::Value;

use super::error::{Rule, ValidationError};
use super::model::{Area, DesiredState, Doc, Guardrails, PermissionGrant, PrincipalKind, SourcePos};
use super::position::Node;
use super::validate::{Sources, wildcard_statements};

/// The action whose wildcard grants on Resource `*` let a principal become
/// any role that trusts its account.
const ASSUME_ROLE: &str = "sts:AssumeRole";

/// Returns every guardrail violation of the grants in `state`, under the
/// Environment's guardrails or their defaults. Returns nothing without an
/// Environment, whose absence has its own error.
pub fn check_guardrails(state: &DesiredState, sources: &Sources<'_>, today: NaiveDate) -> Vec<ValidationError> {
    let Some(env) = &state.environment else {
        return Vec::new();
    };
    let defaults = Guardrails::default();
    let config = env.spec.guardrails.as_ref().unwrap_or(&defaults);
    let mut check = GrantCheck { state, sources, config, today, errors: Vec::new() };
    for grant in &state.grants {
        check.grant(grant);
    }
    check.errors
}

struct GrantCheck<'a> {
    state: &'a DesiredState,
    sources: &'a Sources<'a>,
    config: &'a Guardrails,
    today: NaiveDate,
    errors: Vec<ValidationError>,
}

impl GrantCheck<'_> {
    fn tree(&self, g: &Doc<PermissionGrant>) -> Option<&Node> {
        self.sources.trees.get(&(g.doc.file.clone(), g.doc.index))
    }

    /// Position of `spec.<path>`, or of its deepest existing parent.
    fn pos(&self, g: &Doc<PermissionGrant>, path: &str) -> SourcePos {
        match self.tree(g) {
            Some(root) => root.locate(&format!("spec.{path}")).pos(&g.doc.file),
            None => g.doc.pos.clone(),
        }
    }

    /// Position of `<path>` inside the inline policy named `policy`.
    fn policy_pos(&self, g: &Doc<PermissionGrant>, policy: &str, path: &str) -> SourcePos {
        match self.tree(g) {
            Some(root) => root.locate_key("spec.inlinePolicies", policy).locate(path).pos(&g.doc.file),
            None => g.doc.pos.clone(),
        }
    }

    fn grant(&mut self, g: &Doc<PermissionGrant>) {
        let vendor = g.spec.principal.kind == PrincipalKind::Vendor;
        let all_rules = vendor || self.config.all_rules_for_operators;

        self.expiry(g);
        self.boundary(g);
        if vendor && self.config.vendor_own_accounts_only {
            self.vendor_accounts(g);
        }
        if all_rules {
            self.trust(g, vendor);
            self.managed_policies(g);
            for (name, policy) in &g.spec.inline_policies {
                self.inline_policy(g, vendor, name, policy);
            }
        }
    }

    fn expiry(&mut self, g: &Doc<PermissionGrant>) {
        let months = self.config.max_expiry_months;
        // A missing or past date has its own rule.
        let Some(expires) = g.spec.expires else {
            return;
        };
        if months == 0 || expires < self.today {
            return;
        }
        let limit = self.today.checked_add_months(Months::new(months)).unwrap_or(NaiveDate::MAX);
        if expires > limit {
            let err = ValidationError::new(self.pos(g, "expires"), Rule::GuardrailExpiryTooFar)
                .arg("expires", expires)
                .arg("months", months)
                .arg("today", self.today)
                .arg("limit", limit);
            self.errors.push(err);
        }
    }

    fn boundary(&mut self, g: &Doc<PermissionGrant>) {
        let present = g.spec.permission_boundary.as_deref().is_some_and(|b| !b.trim().is_empty());
        if self.config.require_boundary && !present {
            let err = ValidationError::new(self.pos(g, "permissionBoundary"), Rule::GuardrailBoundaryRequired)
                .arg("id", &g.doc.id);
            self.errors.push(err);
        }
    }

    fn vendor_accounts(&mut self, g: &Doc<PermissionGrant>) {
        let vendor = g.spec.principal.name.as_str();
        // An unknown vendor is reported as `unknown-vendor`; every account
        // would fail here too and hide that one error.
        if !self.state.accounts().iter().any(|a| a.vendor.as_deref() == Some(vendor)) {
            return;
        }
        for (i, name) in g.spec.accounts.iter().enumerate() {
            // Unknown accounts are reported as `unknown-account`.
            let Some(account) = self.state.account_by_name(name) else {
                continue;
            };
            if account.area == Area::Asp && account.vendor.as_deref() == Some(vendor) {
                continue;
            }
            let area = match account.area {
                Area::Asp => "asp",
                Area::Operations => "operations",
            };
            let err = ValidationError::new(self.pos(g, &format!("accounts.{i}")), Rule::GuardrailVendorAccount)
                .arg("vendor", vendor)
                .arg("account", name)
                .arg("area", area)
                .arg("owner", account.vendor.as_deref().unwrap_or("-"));
            self.errors.push(err);
        }
    }

    fn trust(&mut self, g: &Doc<PermissionGrant>, vendor: bool) {
        for (i, principal) in g.spec.trust.principals.iter().enumerate() {
            let pos = || self.pos(g, &format!("trust.principals.{i}"));
            if principal.contains(['*', '?']) {
                if self.config.deny_trust_wildcards {
                    self.errors.push(ValidationError::new(pos(), Rule::GuardrailTrustWildcard).arg("principal", principal));
                }
                // A wildcard is never a valid ARN either; one error is enough.
                continue;
            }
            if vendor && self.config.vendor_trust_arns_only && !is_iam_principal_arn(principal) {
                self.errors.push(ValidationError::new(pos(), Rule::GuardrailTrustPrincipal).arg("principal", principal));
            }
        }
    }

    fn managed_policies(&mut self, g: &Doc<PermissionGrant>) {
        for (i, arn) in g.spec.managed_policies.iter().enumerate() {
            let denied = self.config.denied_managed_policies.iter().any(|d| d.trim().eq_ignore_ascii_case(arn.trim()));
            if denied {
                let err = ValidationError::new(self.pos(g, &format!("managedPolicies.{i}")), Rule::GuardrailDeniedManagedPolicy)
                    .arg("policy", arn);
                self.errors.push(err);
            }
        }
    }

    fn inline_policy(&mut self, g: &Doc<PermissionGrant>, vendor: bool, name: &str, policy: &Value) {
        // `*` on `*` in a vendor grant is `vendor-wildcard`'s to report.
        let reported: Vec<String> =
            if vendor { wildcard_statements(policy).into_iter().map(|(path, _)| path).collect() } else { Vec::new() };
        for (path, statement) in statements(policy) {
            let allows = statement.get("Effect").and_then(Value::as_str).is_some_and(|e| e.eq_ignore_ascii_case("Allow"));
            if !allows {
                continue;
            }
            let any_resource =
                statement.get("NotResource").is_some() || string_or_list(statement.get("Resource")).iter().any(|(_, r)| *r == "*");

            if let Some(excluded) = statement.get("NotAction") {
                let excluded: Vec<&str> = string_or_list(Some(excluded)).into_iter().map(|(_, a)| a).collect();
                let reachable = self.config.denied_actions.iter().find(|d| !excluded.iter().any(|n| covers(n, d)));
                if let Some(denied) = reachable {
                    let err = ValidationError::new(self.policy_pos(g, name, &format!("{path}.NotAction")), Rule::GuardrailDeniedAction)
                        .arg("policy", name)
                        .arg("action", "NotAction")
                        .arg("denied", denied);
                    self.errors.push(err);
                }
                // NOTE: a NotAction statement is judged against the denied
                // list only; whether it reaches sts:AssumeRole is not checked.
                continue;
            }

            for (suffix, action) in string_or_list(statement.get("Action")) {
                if action == "*" && reported.contains(&path) {
                    continue;
                }
                let at = || self.policy_pos(g, name, &format!("{path}.Action{suffix}"));
                if let Some(denied) = self.config.denied_actions.iter().find(|d| action_denied(action, d)) {
                    let err = ValidationError::new(at(), Rule::GuardrailDeniedAction)
                        .arg("policy", name)
                        .arg("action", action)
                        .arg("denied", denied);
                    self.errors.push(err);
                    continue;
                }
                if self.config.deny_assume_role_any && any_resource && globs_overlap(action, ASSUME_ROLE) {
                    let err = ValidationError::new(at(), Rule::GuardrailAssumeRoleAny).arg("policy", name).arg("action", action);
                    self.errors.push(err);
                }
            }
        }
    }
}

/// Statements of a policy document with their path: `Statement.<i>`, or
/// `Statement` for a single statement object.
fn statements(policy: &Value) -> Vec<(String, &Value)> {
    match policy.get("Statement") {
        Some(Value::Array(items)) => items.iter().enumerate().map(|(i, s)| (format!("Statement.{i}"), s)).collect(),
        Some(single @ Value::Object(_)) => vec![("Statement".to_owned(), single)],
        _ => Vec::new(),
    }
}

/// The strings of a policy element written as one string or a list, each
/// with the path suffix that locates it (`""` or `.<i>`).
fn string_or_list(value: Option<&Value>) -> Vec<(String, &str)> {
    match value {
        Some(Value::String(s)) => vec![(String::new(), s.as_str())],
        Some(Value::Array(items)) => {
            items.iter().enumerate().filter_map(|(i, v)| v.as_str().map(|s| (format!(".{i}"), s))).collect()
        }
        _ => Vec::new(),
    }
}

/// True when policy action `action` is forbidden by denied-list entry
/// `denied`. An entry with a service prefix forbids every action its pattern
/// can reach, so `iam:*` catches `iam:PassRole`, `iam:Get*` and `*`; an entry
/// without one (`*`) forbids only the same wildcard, since it would
/// otherwise catch every action.
fn action_denied(action: &str, denied: &str) -> bool {
    let denied = denied.trim();
    if denied.contains(':') {
        globs_overlap(action.trim(), denied)
    } else {
        action.trim().eq_ignore_ascii_case(denied)
    }
}

/// True when some action name matches both IAM globs (`*` any run, `?` one
/// character), ignoring ASCII case. With a literal side, this is plain glob
/// matching.
fn globs_overlap(a: &str, b: &str) -> bool {
    let a: Vec<char> = a.to_ascii_lowercase().chars().collect();
    let b: Vec<char> = b.to_ascii_lowercase().chars().collect();
    let mut memo = vec![vec![None; b.len() + 1]; a.len() + 1];
    overlap_at(&a, &b, 0, 0, &mut memo)
}

fn overlap_at(a: &[char], b: &[char], i: usize, j: usize, memo: &mut Vec<Vec<Option<bool>>>) -> bool {
    if let Some(known) = memo[i][j] {
        return known;
    }
    let result = match (a.get(i), b.get(j)) {
        (None, None) => true,
        // A star may match nothing, or take the other side's next element.
        (Some('*'), _) => overlap_at(a, b, i + 1, j, memo) || (j < b.len() && overlap_at(a, b, i, j + 1, memo)),
        (_, Some('*')) => overlap_at(a, b, i, j + 1, memo) || (i < a.len() && overlap_at(a, b, i + 1, j, memo)),
        (Some(x), Some(y)) => (*x == '?' || *y == '?' || x == y) && overlap_at(a, b, i + 1, j + 1, memo),
        _ => false,
    };
    memo[i][j] = Some(result);
    result
}

/// True when every action that glob `inner` matches is matched by glob
/// `outer`, ignoring ASCII case. Sufficient, not exact: a wildcard of
/// `inner` counts as covered only by a star of `outer`.
fn covers(outer: &str, inner: &str) -> bool {
    let outer: Vec<char> = outer.trim().to_ascii_lowercase().chars().collect();
    let inner: Vec<char> = inner.trim().to_ascii_lowercase().chars().collect();
    let mut memo = vec![vec![None; inner.len() + 1]; outer.len() + 1];
    covers_at(&outer, &inner, 0, 0, &mut memo)
}

fn covers_at(outer: &[char], inner: &[char], i: usize, j: usize, memo: &mut Vec<Vec<Option<bool>>>) -> bool {
    if let Some(known) = memo[i][j] {
        return known;
    }
    let result = match (outer.get(i), inner.get(j)) {
        (None, None) => true,
        (Some('*'), _) => covers_at(outer, inner, i + 1, j, memo) || (j < inner.len() && covers_at(outer, inner, i, j + 1, memo)),
        (_, None) | (None, _) => false,
        (_, Some('*')) => false,
        (Some(o), Some('?')) => *o == '?' && covers_at(outer, inner, i + 1, j + 1, memo),
        (Some(o), Some(c)) => (*o == '?' || o == c) && covers_at(outer, inner, i + 1, j + 1, memo),
    };
    memo[i][j] = Some(result);
    result
}

/// True for `arn:aws:iam::<12 digits>:root`, `...:role/<path>` and
/// `...:user/<path>`.
fn is_iam_principal_arn(principal: &str) -> bool {
    let Some(rest) = principal.strip_prefix("arn:aws:iam::") else {
        return false;
    };
    let Some((account, resource)) = rest.split_once(':') else {
        return false;
    };
    let account_ok = account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit());
    let resource_ok = resource == "root"
        || resource.strip_prefix("role/").is_some_and(|n| !n.is_empty())
        || resource.strip_prefix("user/").is_some_and(|n| !n.is_empty());
    account_ok && resource_ok
}

