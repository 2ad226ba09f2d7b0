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
            let err =
                ValidationError::new(self.pos(g, "permissionBoundary"), Rule::GuardrailBoundaryRequired).arg("id", &g.doc.id);
            self.errors.push(err);
        }
    }

    fn vendor_accounts(&mut self, g: &Doc<PermissionGrant>) {
        let vendor = g.spec.principal.name.as_str();
        // An unknown vendor is reported as `unknown-vendor`. Every account
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
                // A wildcard is not a valid principal ARN either, so one error is enough.
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
            // The Resource that lets an assumable action reach any role, if any.
            let any_role = match statement.get("NotResource") {
                Some(_) => Some("NotResource"),
                None => string_or_list(statement.get("Resource")).into_iter().map(|(_, r)| r).find(|r| matches_any_role(r)),
            };

            if let Some(excluded) = statement.get("NotAction") {
                let excluded: Vec<&str> = string_or_list(Some(excluded)).into_iter().map(|(_, a)| a).collect();
                let reachable = self.config.denied_actions.iter().find(|d| !excluded.iter().any(|n| covers(n, d)));
                if let Some(denied) = reachable {
                    let err =
                        ValidationError::new(self.policy_pos(g, name, &format!("{path}.NotAction")), Rule::GuardrailDeniedAction)
                            .arg("policy", name)
                            .arg("action", "NotAction")
                            .arg("denied", denied);
                    self.errors.push(err);
                }
                // NOTE: a NotAction statement is judged against the denied
                // list only, so whether it reaches sts:AssumeRole is not checked.
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
                if let Some(resource) = any_role
                    && self.config.deny_assume_role_any
                    && globs_overlap(action, ASSUME_ROLE)
                {
                    let err = ValidationError::new(at(), Rule::GuardrailAssumeRoleAny)
                        .arg("policy", name)
                        .arg("action", action)
                        .arg("resource", resource);
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

/// Returns the strings of a policy element written as one string or a list,
/// each with the path suffix that locates it (`""` or `.<i>`).
fn string_or_list(value: Option<&Value>) -> Vec<(String, &str)> {
    match value {
        Some(Value::String(s)) => vec![(String::new(), s.as_str())],
        Some(Value::Array(items)) => {
            items.iter().enumerate().filter_map(|(i, v)| v.as_str().map(|s| (format!(".{i}"), s))).collect()
        }
        _ => Vec::new(),
    }
}

/// True when Resource pattern `resource` can match every role of some
/// account, so that `sts:AssumeRole` on it reaches any role that trusts the
/// grant's account. With `*` and `?` as wildcards, that is when:
/// - it is `*`, or has fewer than the six `:`-separated fields of an ARN but
///   contains a wildcard (`arn:*`, `arn:aws:*`);
/// - its partition (2nd field) contains a wildcard (`arn:*:iam::...`);
/// - its service (3rd field) can match `iam`, and its account (5th field)
///   is empty or contains a wildcard (`arn:aws:iam::*:role/X`);
/// - its service can match `iam`, and its resource part (6th field on) ends
///   with `*` after text that is a prefix of `role/`, ignoring ASCII case
///   (`*`, `role*`, `role/*`).
///
/// A pattern with a role path or name prefix, such as `role/ops/*` or
/// `role/Deploy*`, names a subset of the roles and passes.
fn matches_any_role(resource: &str) -> bool {
    let resource = resource.trim();
    let wild = |text: &str| text.contains(['*', '?']);
    let fields: Vec<&str> = resource.splitn(6, ':').collect();
    if fields.len() < 6 {
        return resource == "*" || wild(resource);
    }
    let (partition, service, account, part) = (fields[1], fields[2], fields[4], fields[5]);
    if wild(partition) {
        return true;
    }
    if !globs_overlap(service, "iam") {
        return false;
    }
    if account.is_empty() || wild(account) {
        return true;
    }
    let before_wildcard = &part[..part.find(['*', '?']).unwrap_or(part.len())];
    part.ends_with('*') && "role/".starts_with(&before_wildcard.to_ascii_lowercase())
}

/// True when policy action `action` is forbidden by denied-list entry
/// `denied`. An entry with a service prefix forbids every action its pattern
/// can reach, so `iam:*` catches `iam:PassRole`, `iam:Get*` and `*`. An entry
/// without one (`*`) forbids only the same text, because as a pattern it
/// would catch every action.
fn action_denied(action: &str, denied: &str) -> bool {
    let denied = denied.trim();
    if denied.contains(':') { globs_overlap(action.trim(), denied) } else { action.trim().eq_ignore_ascii_case(denied) }
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    use super::*;
    use crate::desired::{load, read_files};
    use crate::i18n::Lang;

    const ENV: &str = "desired-state/environment.yaml";
    const EXTRA: &str = "desired-state/permissions/extra.yaml";

    /// A vendor grant that passes every guardrail; tests break one line.
    const GRANT: &str = r#"apiVersion: gcops/v1
kind: PermissionGrant
id: extra
spec:
  principal: {kind: vendor, name: example-vendor}
  accounts: [jumin-asp]
  roleName: Extra
  trust:
    principals: ["arn:aws:iam::333333333333:role/Ops"]
  managedPolicies: ["arn:aws:iam::aws:policy/ReadOnlyAccess"]
  inlinePolicies:
    Work:
      Statement:
        - Effect: Allow
          Action: [s3:GetObject, ssm:StartSession]
          Resource: "*"
  permissionBoundary: arn:aws:iam::aws:policy/PowerUserAccess
  expires: 2026-12-31
  ticket: CHG-9
"#;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 1, 15).unwrap()
    }

    fn fixture() -> BTreeMap<String, Vec<u8>> {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/desired/good");
        let (files, errors) = read_files(&root);
        assert!(errors.is_empty(), "{errors:?}");
        files
    }

    /// The fixture with `GRANT` added after replacing `from` with `to`.
    fn with_grant(from: &str, to: &str) -> BTreeMap<String, Vec<u8>> {
        assert!(GRANT.contains(from), "{from}");
        let mut files = fixture();
        files.insert(EXTRA.to_owned(), GRANT.replace(from, to).into_bytes());
        files
    }

    /// Appends a `guardrails:` block with one setting to the fixture's Environment.
    fn with_setting(mut files: BTreeMap<String, Vec<u8>>, setting: &str) -> BTreeMap<String, Vec<u8>> {
        let mut env = String::from_utf8(files[ENV].clone()).unwrap();
        env.push_str(&format!("  guardrails:\n    {setting}\n"));
        files.insert(ENV.to_owned(), env.into_bytes());
        files
    }

    fn errors(files: &BTreeMap<String, Vec<u8>>) -> Vec<ValidationError> {
        load(files, today()).err().map(|e| e.0).unwrap_or_default()
    }

    fn only(files: &BTreeMap<String, Vec<u8>>) -> ValidationError {
        let errors = errors(files);
        let rendered: Vec<String> = errors.iter().map(|e| e.render(Lang::En)).collect();
        assert_eq!(errors.len(), 1, "expected one error, got:\n{}", rendered.join("\n"));
        errors.into_iter().next().unwrap()
    }

    fn at(line: u64, column: u64) -> String {
        format!("{EXTRA}:{line}:{column}")
    }

    #[test]
    fn grant_valid_passes() {
        assert_eq!(errors(&with_grant("", "")), Vec::new());
    }

    #[test]
    fn vendor_account_other_area() {
        let err = only(&with_grant("accounts: [jumin-asp]", "accounts: [jumin-asp, shared-ops]"));
        assert_eq!(err.rule, Rule::GuardrailVendorAccount);
        assert_eq!(err.pos.to_string(), at(6, 25));
        assert_eq!(err.get("area"), Some("operations"));
    }

    #[test]
    fn vendor_account_unknown_vendor_once() {
        let err = only(&with_grant("name: example-vendor", "name: other-vendor"));
        assert_eq!(err.rule, Rule::UnknownVendor);
    }

    #[test]
    fn denied_action_in_list() {
        let err = only(&with_grant("ssm:StartSession", "IAM:PassRole"));
        assert_eq!(err.rule, Rule::GuardrailDeniedAction);
        assert_eq!(err.pos.to_string(), at(15, 34));
        assert_eq!(err.get("denied"), Some("iam:*"));
    }

    #[test]
    fn denied_action_wildcard_reaching_service() {
        let err = only(&with_grant("ssm:StartSession", "organizations:Describe*"));
        assert_eq!(err.rule, Rule::GuardrailDeniedAction);
        assert_eq!(err.get("denied"), Some("organizations:*"));
    }

    #[test]
    fn denied_action_star_on_resource() {
        let files = with_grant("Resource: \"*\"", "Resource: arn:aws:s3:::bucket/*");
        let text = String::from_utf8(files[EXTRA].clone()).unwrap().replace("[s3:GetObject, ssm:StartSession]", "\"*\"");
        let mut files = files;
        files.insert(EXTRA.to_owned(), text.into_bytes());
        let err = only(&files);
        assert_eq!(err.rule, Rule::GuardrailDeniedAction);
        assert_eq!(err.pos.to_string(), at(15, 19));
        assert_eq!(err.get("denied"), Some("*"));
    }

    #[test]
    fn denied_action_not_action() {
        let err = only(&with_grant("Action: [s3:GetObject, ssm:StartSession]", "NotAction: [s3:DeleteBucket]"));
        assert_eq!(err.rule, Rule::GuardrailDeniedAction);
        assert_eq!(err.pos.to_string(), at(15, 22));
        assert_eq!(err.get("action"), Some("NotAction"));
    }

    #[test]
    fn denied_action_deny_statement_passes() {
        assert_eq!(
            errors(&with_grant("Effect: Allow\n          Action: [s3", "Effect: Deny\n          Action: [iam:*, s3")),
            Vec::new()
        );
    }

    #[test]
    fn vendor_wildcard_reported_once() {
        let err = only(&with_grant("[s3:GetObject, ssm:StartSession]", "\"*\""));
        assert_eq!(err.rule, Rule::VendorWildcard);
    }

    #[test]
    fn assume_role_any() {
        let err = only(&with_grant("ssm:StartSession", "sts:AssumeRole"));
        assert_eq!(err.rule, Rule::GuardrailAssumeRoleAny);
        assert_eq!(err.pos.to_string(), at(15, 34));
    }

    #[test]
    fn assume_role_service_wildcard() {
        let err = only(&with_grant("ssm:StartSession", "STS:*"));
        assert_eq!(err.rule, Rule::GuardrailAssumeRoleAny);
    }

    #[test]
    fn assume_role_named_resource_passes() {
        let files = with_grant("ssm:StartSession", "sts:AssumeRole");
        let text = String::from_utf8(files[EXTRA].clone())
            .unwrap()
            .replace("Resource: \"*\"", "Resource: arn:aws:iam::222222222222:role/Deploy");
        let mut files = files;
        files.insert(EXTRA.to_owned(), text.into_bytes());
        assert_eq!(errors(&files), Vec::new());
    }

    #[test]
    fn assume_role_any_account_pattern() {
        let files = with_grant("ssm:StartSession", "sts:AssumeRole")
            .tap_replace("Resource: \"*\"", "Resource: [\"arn:aws:s3:::logs/*\", \"arn:aws:iam::*:role/*\"]");
        let err = only(&files);
        assert_eq!(err.rule, Rule::GuardrailAssumeRoleAny);
        assert_eq!(err.pos.to_string(), at(15, 34));
        assert_eq!(err.get("resource"), Some("arn:aws:iam::*:role/*"));
    }

    #[test]
    fn any_role_patterns() {
        for caught in [
            "*",
            "arn:*",
            "arn:aws:*",
            "arn:aws:iam::*:role/*",
            "arn:aws:iam::*:role/Deploy",
            "arn:aws:iam:::role/Deploy",
            "arn:*:iam::111122223333:role/Deploy",
            "arn:aws:*::111122223333:*",
            "arn:aws:iam::111122223333:*",
            "arn:aws:iam::111122223333:role*",
            "arn:aws:iam::111122223333:role/*",
            "arn:aws:iam::111122223333:ROLE/*",
        ] {
            assert!(matches_any_role(caught), "{caught}");
        }
        for passes in [
            "arn:aws:iam::111122223333:role/ReadOnly",
            "arn:aws:iam::111122223333:role/Deploy*",
            "arn:aws:iam::111122223333:role/ops/*",
            "arn:aws:iam::111122223333:role/*Admin",
            "arn:aws:*::111122223333:role/Deploy",
            "arn:aws:s3:::logs/*",
        ] {
            assert!(!matches_any_role(passes), "{passes}");
        }
    }

    #[test]
    fn assume_role_denied_reported_once() {
        let files = with_setting(with_grant("ssm:StartSession", "sts:*"), "deniedActions: [\"sts:*\"]");
        let err = only(&files);
        assert_eq!(err.rule, Rule::GuardrailDeniedAction);
    }

    #[test]
    fn boundary_required() {
        let err = only(&with_grant("  permissionBoundary: arn:aws:iam::aws:policy/PowerUserAccess\n", ""));
        assert_eq!(err.rule, Rule::GuardrailBoundaryRequired);
        assert_eq!(err.pos.to_string(), at(5, 3));
    }

    #[test]
    fn boundary_required_operator() {
        let err = only(&with_grant("kind: vendor", "kind: operator").tap_remove_boundary());
        assert_eq!(err.rule, Rule::GuardrailBoundaryRequired);
    }

    #[test]
    fn expiry_too_far() {
        let err = only(&with_grant("expires: 2026-12-31", "expires: 2027-01-16"));
        assert_eq!(err.rule, Rule::GuardrailExpiryTooFar);
        assert_eq!(err.pos.to_string(), at(18, 12));
        assert_eq!(err.get("limit"), Some("2027-01-15"));
    }

    #[test]
    fn expiry_at_limit_passes() {
        assert_eq!(errors(&with_grant("expires: 2026-12-31", "expires: 2027-01-15")), Vec::new());
    }

    #[test]
    fn expiry_too_far_operator() {
        let err = only(&with_grant("kind: vendor", "kind: operator").tap_replace("expires: 2026-12-31", "expires: 2030-01-01"));
        assert_eq!(err.rule, Rule::GuardrailExpiryTooFar);
    }

    #[test]
    fn trust_wildcard() {
        let err = only(&with_grant("\"arn:aws:iam::333333333333:role/Ops\"", "\"arn:aws:iam::*:root\""));
        assert_eq!(err.rule, Rule::GuardrailTrustWildcard);
        assert_eq!(err.pos.to_string(), at(9, 18));
    }

    #[test]
    fn trust_star() {
        let err = only(&with_grant("[\"arn:aws:iam::333333333333:role/Ops\"]", "[\"arn:aws:iam::333333333333:root\", \"*\"]"));
        assert_eq!(err.rule, Rule::GuardrailTrustWildcard);
        assert_eq!(err.pos.to_string(), at(9, 52));
    }

    #[test]
    fn trust_principal_not_arn() {
        let err = only(&with_grant("\"arn:aws:iam::333333333333:role/Ops\"", "\"333333333333\""));
        assert_eq!(err.rule, Rule::GuardrailTrustPrincipal);
        assert_eq!(err.pos.to_string(), at(9, 18));
    }

    #[test]
    fn denied_managed_policy() {
        let err = only(&with_grant("policy/ReadOnlyAccess", "policy/AdministratorAccess"));
        assert_eq!(err.rule, Rule::GuardrailDeniedManagedPolicy);
        assert_eq!(err.pos.to_string(), at(10, 21));
    }

    /// Builds an operator grant that breaks every rule but expiry and boundary.
    fn operator_broken() -> BTreeMap<String, Vec<u8>> {
        with_grant("kind: vendor", "kind: operator")
            .tap_replace("accounts: [jumin-asp]", "accounts: [shared-ops]")
            .tap_replace("ssm:StartSession", "iam:PassRole")
            .tap_replace("\"arn:aws:iam::333333333333:role/Ops\"", "\"*\"")
            .tap_replace("policy/ReadOnlyAccess", "policy/AdministratorAccess")
    }

    #[test]
    fn operator_limited_by_default() {
        assert_eq!(errors(&operator_broken()), Vec::new());
    }

    #[test]
    fn operator_all_rules() {
        let errors = errors(&with_setting(operator_broken(), "allRulesForOperators: true"));
        // The fixture's own operator grant allows `*` and fails too.
        let rules: Vec<Rule> = errors.iter().filter(|e| e.pos.file == EXTRA).map(|e| e.rule).collect();
        assert_eq!(rules, vec![Rule::GuardrailTrustWildcard, Rule::GuardrailDeniedManagedPolicy, Rule::GuardrailDeniedAction]);
    }

    /// Each rule, a grant that breaks it, and the setting that turns it off.
    #[test]
    fn settings_turn_rules_off() {
        let cases = [
            (Rule::GuardrailVendorAccount, "accounts: [jumin-asp]", "accounts: [shared-ops]", "vendorOwnAccountsOnly: false"),
            (Rule::GuardrailDeniedAction, "ssm:StartSession", "iam:PassRole", "deniedActions: []"),
            (Rule::GuardrailAssumeRoleAny, "ssm:StartSession", "sts:AssumeRole", "denyAssumeRoleAny: false"),
            (
                Rule::GuardrailBoundaryRequired,
                "  permissionBoundary: arn:aws:iam::aws:policy/PowerUserAccess\n",
                "",
                "requireBoundary: false",
            ),
            (Rule::GuardrailExpiryTooFar, "expires: 2026-12-31", "expires: 2099-12-31", "maxExpiryMonths: 0"),
            (Rule::GuardrailTrustWildcard, "role/Ops", "role/*", "denyTrustWildcards: false"),
            (Rule::GuardrailTrustPrincipal, "arn:aws:iam::333333333333:role/Ops", "333333333333", "vendorTrustArnsOnly: false"),
            (Rule::GuardrailDeniedManagedPolicy, "policy/ReadOnlyAccess", "policy/IAMFullAccess", "deniedManagedPolicies: []"),
        ];
        for (rule, from, to, setting) in cases {
            let files = with_grant(from, to);
            assert_eq!(only(&files).rule, rule, "{setting}");
            assert_eq!(errors(&with_setting(files, setting)), Vec::new(), "{setting}");
        }
    }

    #[test]
    fn setting_longer_expiry() {
        let files = with_setting(with_grant("expires: 2026-12-31", "expires: 2027-06-30"), "maxExpiryMonths: 18");
        assert_eq!(errors(&files), Vec::new());
    }

    #[test]
    fn setting_unknown_rejected() {
        let err = only(&with_setting(fixture(), "denyEverything: true"));
        assert_eq!(err.rule, Rule::UnknownField);
        assert_eq!(err.pos.file, ENV);
    }

    #[test]
    fn setting_partial_keeps_defaults() {
        let files = with_setting(with_grant("policy/ReadOnlyAccess", "policy/AdministratorAccess"), "denyTrustWildcards: false");
        assert_eq!(only(&files).rule, Rule::GuardrailDeniedManagedPolicy);
    }

    #[test]
    fn messages_name_the_fix() {
        let err = only(&with_grant("ssm:StartSession", "iam:PassRole"));
        assert_eq!(
            err.render(Lang::En),
            format!(
                "{}: [guardrail-denied-action] inline policy Work allows iam:PassRole, which the guardrails.deniedActions entry iam:* forbids; name only the actions the principal needs",
                at(15, 34)
            )
        );
        assert!(err.message(Lang::Ja).contains("guardrails.deniedActions"));
    }

    #[test]
    fn overlap_globs() {
        assert!(globs_overlap("*", "iam:*"));
        assert!(globs_overlap("iam:Get*", "IAM:*"));
        assert!(globs_overlap("i?m:PassRole", "iam:*"));
        assert!(globs_overlap("sts:*", ASSUME_ROLE));
        assert!(!globs_overlap("s3:*", "iam:*"));
        assert!(!globs_overlap("sts:AssumeRoleWithSAML", ASSUME_ROLE));
    }

    #[test]
    fn action_denied_entries() {
        assert!(action_denied("*", "*"));
        assert!(!action_denied("s3:GetObject", "*"));
        assert!(action_denied("*", "iam:*"));
        assert!(action_denied("Iam:passrole", "iam:*"));
        assert!(!action_denied("s3:*", "iam:*"));
    }

    #[test]
    fn covers_globs() {
        assert!(covers("*", "iam:*"));
        assert!(covers("iam:*", "iam:*"));
        assert!(!covers("iam:Get*", "iam:*"));
        assert!(!covers("iam:?", "iam:*"));
        assert!(!covers("s3:*", "*"));
    }

    #[test]
    fn principal_arns() {
        assert!(is_iam_principal_arn("arn:aws:iam::123456789012:root"));
        assert!(is_iam_principal_arn("arn:aws:iam::123456789012:role/path/Name"));
        assert!(is_iam_principal_arn("arn:aws:iam::123456789012:user/alice"));
        assert!(!is_iam_principal_arn("123456789012"));
        assert!(!is_iam_principal_arn("arn:aws:iam::1234:root"));
        assert!(!is_iam_principal_arn("arn:aws:iam::123456789012:group/admins"));
    }

    /// Further edits of the added grant, chained after [`with_grant`].
    trait GrantEdit {
        fn tap_replace(self, from: &str, to: &str) -> Self;
        fn tap_remove_boundary(self) -> Self;
    }

    impl GrantEdit for BTreeMap<String, Vec<u8>> {
        fn tap_replace(mut self, from: &str, to: &str) -> Self {
            let text = String::from_utf8(self[EXTRA].clone()).unwrap();
            assert!(text.contains(from), "{from}");
            self.insert(EXTRA.to_owned(), text.replace(from, to).into_bytes());
            self
        }

        fn tap_remove_boundary(self) -> Self {
            self.tap_replace("  permissionBoundary: arn:aws:iam::aws:policy/PowerUserAccess\n", "")
        }
    }
}
