//! Rule tests: each starts from the valid fixture repository in
//! `tests/fixtures/desired/good`, breaks one thing, and checks the rule and
//! the file:line:column of the error.

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::NaiveDate;

use super::error::{Rule, ValidationError};
use super::model::Kind;
use super::{load, load_dir, read_files};
use crate::i18n::Lang;

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 1, 15).unwrap()
}

fn fixture_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/desired/good")
}

fn fixture() -> BTreeMap<String, Vec<u8>> {
    let (files, errors) = read_files(&fixture_root());
    assert!(errors.is_empty(), "{errors:?}");
    files
}

fn with(mut files: BTreeMap<String, Vec<u8>>, path: &str, text: &str) -> BTreeMap<String, Vec<u8>> {
    files.insert(path.to_owned(), text.as_bytes().to_vec());
    files
}

fn errors(files: &BTreeMap<String, Vec<u8>>) -> Vec<ValidationError> {
    match load(files, today()) {
        Ok(_) => Vec::new(),
        Err(e) => e.0,
    }
}

/// Returns the single error of a repository, and fails with the full list
/// when there is not exactly one.
fn only(files: &BTreeMap<String, Vec<u8>>) -> ValidationError {
    let errors = errors(files);
    assert_eq!(errors.len(), 1, "expected one error, got:\n{}", render(&errors));
    errors.into_iter().next().unwrap()
}

fn render(errors: &[ValidationError]) -> String {
    errors.iter().map(|e| e.render(Lang::En)).collect::<Vec<_>>().join("\n")
}

const BUDGET: &str = "desired-state/budgets/budgets.yaml";
const ENV: &str = "desired-state/environment.yaml";
const TEMPLATES: &str = "desired-state/templates.yaml";
const GRANTS: &str = "desired-state/permissions/vendor.yaml";
const EXCEPTIONS: &str = "desired-state/exceptions.yaml";

fn budget(spec: &str) -> String {
    format!("apiVersion: gcops/v1\nkind: Budget\nid: b\nspec:\n{spec}")
}

const BUDGET_SPEC: &str =
    "  system: resident-records\n  budgetName: x\n  monthlyAmount: 10\n  thresholds: [80]\n  addresses: [a@example.com]\n";

fn env(accounts: &str) -> String {
    format!(
        "apiVersion: gcops/v1\nkind: Environment\nid: e\nspec:\n  client: C\n  regions: [ap-northeast-1]\n  accounts:\n{accounts}"
    )
}

const OPS: &str = "    - {id: \"111111111111\", name: shared-ops, area: operations, ou: /GC/Ops}\n";
const ASP: &str =
    "    - {id: \"222222222222\", name: jumin-asp, area: asp, ou: /GC/ASP, system: resident-records, vendor: example-vendor}\n";

fn grant(principal: &str, extra: &str) -> String {
    format!(
        "apiVersion: gcops/v1\nkind: PermissionGrant\nid: g\nspec:\n  principal: {principal}\n  accounts: [jumin-asp]\n  roleName: R\n  trust: {{principals: [\"arn:aws:iam::333333333333:root\"]}}\n  permissionBoundary: B\n  ticket: T-1\n{extra}"
    )
}

#[test]
fn fixture_loads() {
    let state = load_dir(&fixture_root(), today()).unwrap();
    assert_eq!(state.accounts().len(), 2);
    assert_eq!(state.grants.len(), 2);
    assert_eq!(state.alarms.len(), 1);
    assert_eq!(state.config_rules.len(), 1);
    assert_eq!(state.budgets.len(), 1);
    assert_eq!(state.exceptions.len(), 1);
    assert_eq!(state.templates.len(), 1);
    assert_eq!(state.template_versions.len(), 1);
}

#[test]
fn fixture_doc_refs() {
    let state = load_dir(&fixture_root(), today()).unwrap();
    let second = &state.grants[1].doc;
    assert_eq!(second.index, 1);
    assert_eq!(second.kind, Kind::PermissionGrant);
    assert_eq!(second.id, "ops-admin");
    assert_eq!(second.pos.to_string(), "desired-state/permissions/vendor.yaml:25:1");
    let env = state.environment.as_ref().unwrap();
    assert_eq!(env.doc.pos.line, 2);
}

#[test]
fn fixture_values() {
    let state = load_dir(&fixture_root(), today()).unwrap();
    let grant = &state.grants[0].spec;
    assert_eq!(grant.expires, NaiveDate::from_ymd_opt(2026, 12, 31));
    assert_eq!(grant.inline_policies["LogsRead"]["Version"], "2012-10-17");
    assert_eq!(state.config_rules[0].spec.input_parameters["MinimumPasswordLength"], "14");
    assert_eq!(state.alarms[0].spec.threshold, 1.0);
    let template = &state.template_versions[&("baseline".to_owned(), "1.0.0".to_owned())];
    assert_eq!(template.resources["LogBucket"], "AWS::S3::Bucket");
    assert_eq!(template.parsed["Resources"]["LogBucketPolicy"]["Properties"]["Bucket"], serde_json::json!({"Ref": "LogBucket"}));
}

#[test]
fn rule_yaml_syntax() {
    let files = with(fixture(), "desired-state/broken.yaml", "apiVersion: gcops/v1\nkind: [Budget\n");
    let err = only(&files);
    assert_eq!(err.rule, Rule::YamlSyntax);
    assert_eq!(err.pos.file, "desired-state/broken.yaml");
    assert!(err.pos.line >= 2, "{}", err.pos);
}

#[test]
fn rule_yaml_syntax_keeps_other_documents() {
    let text = format!("a: [1\n---\n{}", budget(&BUDGET_SPEC.replace("system: resident-records", "system: nope")));
    let files = with(fixture(), "desired-state/broken.yaml", &text);
    let rules: Vec<Rule> = errors(&files).iter().map(|e| e.rule).collect();
    assert!(rules.contains(&Rule::YamlSyntax), "{rules:?}");
    assert!(rules.contains(&Rule::UnknownSystem), "{rules:?}");
}

#[test]
fn rule_not_utf8() {
    let mut files = fixture();
    files.insert("desired-state/latin1.yaml".to_owned(), vec![b'a', b':', b' ', 0xe9]);
    assert_eq!(only(&files).rule, Rule::NotUtf8);
}

#[test]
fn rule_not_a_mapping() {
    let err = only(&with(fixture(), "desired-state/list.yaml", "- a\n- b\n"));
    assert_eq!(err.rule, Rule::NotAMapping);
    assert_eq!(err.pos.to_string(), "desired-state/list.yaml:1:1");
}

#[test]
fn rule_unknown_api_version() {
    let err = only(&with(fixture(), BUDGET, &budget(BUDGET_SPEC).replace("gcops/v1", "gcops/v2")));
    assert_eq!(err.rule, Rule::UnknownApiVersion);
    assert_eq!(err.pos.to_string(), format!("{BUDGET}:1:13"));
}

#[test]
fn rule_unknown_kind() {
    let err = only(&with(fixture(), BUDGET, &budget(BUDGET_SPEC).replace("kind: Budget", "kind: Widget")));
    assert_eq!(err.rule, Rule::UnknownKind);
    assert_eq!(err.pos.to_string(), format!("{BUDGET}:2:7"));
    assert!(err.get("known").unwrap().contains("PermissionGrant"));
}

#[test]
fn rule_missing_header_field() {
    let err = only(&with(fixture(), BUDGET, &budget(BUDGET_SPEC).replace("id: b\n", "")));
    assert_eq!(err.rule, Rule::MissingField);
    assert_eq!(err.get("field"), Some("id"));
}

#[test]
fn rule_empty_id() {
    let err = only(&with(fixture(), BUDGET, &budget(BUDGET_SPEC).replace("id: b", "id: \"\"")));
    assert_eq!(err.rule, Rule::EmptyId);
    assert_eq!(err.pos.to_string(), format!("{BUDGET}:3:5"));
}

#[test]
fn rule_unknown_field_in_spec() {
    let err = only(&with(fixture(), BUDGET, &budget(&format!("{BUDGET_SPEC}  owner: me\n"))));
    assert_eq!(err.rule, Rule::UnknownField);
    assert_eq!(err.get("field"), Some("owner"));
    assert_eq!(err.pos.to_string(), format!("{BUDGET}:10:3"));
}

#[test]
fn rule_unknown_field_top_level() {
    let err = only(&with(fixture(), BUDGET, &format!("metadata: {{}}\n{}", budget(BUDGET_SPEC))));
    assert_eq!(err.rule, Rule::UnknownField);
    assert_eq!(err.pos.to_string(), format!("{BUDGET}:1:1"));
}

#[test]
fn rule_unknown_field_nested() {
    let text = env(&format!(
        "{OPS}    - id: \"222222222222\"\n      name: n\n      area: operations\n      ou: /x\n      colour: red\n"
    ));
    let err = only(&with(fixture(), ENV, &text));
    assert_eq!(err.rule, Rule::UnknownField);
    assert_eq!(err.pos.to_string(), format!("{ENV}:13:7"));
}

#[test]
fn rule_missing_field_in_spec() {
    let err = only(&with(fixture(), BUDGET, &budget(&BUDGET_SPEC.replace("  budgetName: x\n", ""))));
    assert_eq!(err.rule, Rule::MissingField);
    assert_eq!(err.get("field"), Some("budgetName"));
    assert_eq!(err.pos.to_string(), format!("{BUDGET}:5:3"));
}

#[test]
fn rule_wrong_type() {
    let err = only(&with(fixture(), BUDGET, &budget(&BUDGET_SPEC.replace("monthlyAmount: 10", "monthlyAmount: lots"))));
    assert_eq!(err.rule, Rule::WrongType);
    assert_eq!(err.pos.to_string(), format!("{BUDGET}:7:18"));
}

#[test]
fn wrong_type_names_type_plainly() {
    let err = only(&with(fixture(), BUDGET, &budget(&BUDGET_SPEC.replace("monthlyAmount: 10", "monthlyAmount: lots"))));
    let en = err.message(Lang::En);
    let ja = err.message(Lang::Ja);
    assert!(en.contains("expected a number"), "{en}");
    assert!(!en.contains("f64"), "{en}");
    assert!(ja.contains("数値"), "{ja}");
}

#[test]
fn rule_wrong_type_in_list() {
    let err = only(&with(fixture(), BUDGET, &budget(&BUDGET_SPEC.replace("thresholds: [80]", "thresholds: [80, high]"))));
    assert_eq!(err.rule, Rule::WrongType);
    assert_eq!(err.pos.to_string(), format!("{BUDGET}:8:20"));
}

#[test]
fn rule_unknown_value() {
    let err = only(&with(fixture(), ENV, &env(&format!("{OPS}{}", ASP.replace("area: asp", "area: cloud")))));
    assert_eq!(err.rule, Rule::UnknownValue);
    assert_eq!(err.get("value"), Some("cloud"));
    assert_eq!(err.pos.line, 9);
}

#[test]
fn rule_invalid_date() {
    let text = grant("{kind: operator, name: ops}", "  expires: 2026-02-30\n");
    let err = only(&with(fixture(), "desired-state/permissions/extra.yaml", &text));
    assert_eq!(err.rule, Rule::InvalidValue);
    assert_eq!(err.pos.to_string(), "desired-state/permissions/extra.yaml:11:12");
}

#[test]
fn rule_unsupported_tag() {
    let err = only(&with(fixture(), BUDGET, &budget(&BUDGET_SPEC.replace("budgetName: x", "budgetName: !Ref x"))));
    assert_eq!(err.rule, Rule::UnsupportedTag);
    assert_eq!(err.pos.line, 6);
}

#[test]
fn rule_duplicate_id() {
    let text = format!("{}---\n{}", budget(BUDGET_SPEC), budget(BUDGET_SPEC));
    let err = only(&with(fixture(), BUDGET, &text));
    assert_eq!(err.rule, Rule::DuplicateId);
    assert_eq!(err.pos.to_string(), format!("{BUDGET}:13:5"));
    // The first copy is cited at its id, not at its document start.
    assert_eq!(err.get("first"), Some(format!("{BUDGET}:3:5").as_str()));
}

#[test]
fn rule_same_id_other_kind() {
    let files = with(fixture(), BUDGET, &budget(BUDGET_SPEC).replace("id: b", "id: baseline"));
    assert!(errors(&files).is_empty());
}

#[test]
fn rule_environment_missing() {
    let mut files = fixture();
    files.remove(ENV);
    let err = only(&files);
    assert_eq!(err.rule, Rule::EnvironmentMissing);
}

#[test]
fn rule_environment_duplicate() {
    let second = env(&format!("{OPS}{ASP}")).replace("id: e", "id: other");
    let err = only(&with(fixture(), "desired-state/second.yaml", &second));
    assert_eq!(err.rule, Rule::EnvironmentDuplicate);
    assert_eq!(err.pos.file, "desired-state/second.yaml");
}

#[test]
fn rule_duplicate_account_id() {
    let text = env(&format!("{OPS}{}", ASP.replace("222222222222", "111111111111")));
    let err = only(&with(fixture(), ENV, &text));
    assert_eq!(err.rule, Rule::DuplicateAccount);
    assert_eq!(err.get("field"), Some("id"));
    assert_eq!(err.pos.to_string(), format!("{ENV}:9:12"));
}

#[test]
fn rule_duplicate_account_name() {
    let third = "    - {id: \"333333333333\", name: shared-ops, area: operations, ou: /GC/Ops}\n";
    let err = only(&with(fixture(), ENV, &env(&format!("{OPS}{ASP}{third}"))));
    assert_eq!(err.rule, Rule::DuplicateAccount);
    assert_eq!(err.get("field"), Some("name"));
    assert_eq!(err.pos.to_string(), format!("{ENV}:10:34"));
}

#[test]
fn rule_account_id_format() {
    let err = only(&with(fixture(), ENV, &env(&format!("{}{ASP}", OPS.replace("\"111111111111\"", "1234")))));
    assert_eq!(err.rule, Rule::AccountIdFormat);
    assert_eq!(err.pos.to_string(), format!("{ENV}:8:12"));
}

#[test]
fn account_id_unquoted_keeps_digits() {
    let files = with(fixture(), ENV, &env(&format!("{}{ASP}", OPS.replace("\"111111111111\"", "011111111111"))));
    let state = load(&files, today()).unwrap();
    assert_eq!(state.accounts()[0].id, "011111111111");
}

#[test]
fn rule_vendor_missing() {
    let files = with(fixture(), ENV, &env(&format!("{OPS}{}", ASP.replace(", vendor: example-vendor", ""))));
    // The vendor grant of the fixture now names a vendor without accounts.
    let errors = errors(&files);
    let err = errors.iter().find(|e| e.rule == Rule::VendorMissing).expect("vendor-missing reported");
    assert_eq!(err.get("account"), Some("jumin-asp"));
    assert_eq!(err.pos.to_string(), format!("{ENV}:9:7"));
}

#[test]
fn rule_region_not_allowed_in_environment() {
    let text = env(&format!("{OPS}{ASP}")).replace("[ap-northeast-1]", "[ap-northeast-1, us-east-1]");
    let files = with(with(fixture(), ENV, &text), TEMPLATES, &fixture_text(TEMPLATES));
    let err = only(&files);
    assert_eq!(err.rule, Rule::RegionNotAllowed);
    assert_eq!(err.pos.to_string(), format!("{ENV}:6:29"));
}

#[test]
fn rule_region_not_in_environment() {
    let text = fixture_text("desired-state/monitoring/alarms.yaml").replace("region: ap-northeast-1", "region: ap-northeast-2");
    let err = only(&with(fixture(), "desired-state/monitoring/alarms.yaml", &text));
    assert_eq!(err.rule, Rule::RegionNotAllowed);
    assert_eq!(err.pos.to_string(), "desired-state/monitoring/alarms.yaml:6:11");
}

#[test]
fn rule_template_region_not_in_environment() {
    let files = with(fixture(), ENV, &env(&format!("{OPS}{ASP}")));
    let text = fixture_text(TEMPLATES).replace("regions: [ap-northeast-1]", "regions: [ap-northeast-3]");
    let err = only(&with(files, TEMPLATES, &text));
    assert_eq!(err.rule, Rule::RegionNotAllowed);
    assert_eq!(err.pos.to_string(), format!("{TEMPLATES}:8:13"));
}

fn fixture_text(path: &str) -> String {
    String::from_utf8(fixture()[path].clone()).unwrap()
}

#[test]
fn rule_unknown_account_in_list() {
    let text = fixture_text(TEMPLATES).replace("[shared-ops, jumin-asp]", "[shared-ops, jumin]");
    let err = only(&with(fixture(), TEMPLATES, &text));
    assert_eq!(err.rule, Rule::UnknownAccount);
    assert_eq!(err.get("account"), Some("jumin"));
    assert_eq!(err.pos.to_string(), format!("{TEMPLATES}:7:26"));
}

#[test]
fn rule_unknown_account_every_kind() {
    let cases = [
        (GRANTS, "accounts: [jumin-asp]", "accounts: [x]"),
        ("desired-state/monitoring/alarms.yaml", "accounts: [shared-ops]", "accounts: [x]"),
        ("desired-state/monitoring/alarms.yaml", "accounts: [shared-ops, jumin-asp]", "accounts: [x, jumin-asp]"),
        (EXCEPTIONS, "account: jumin-asp", "account: x"),
        (BUDGET, "system: resident-records", "system: resident-records\n  accounts: [x]"),
    ];
    for (path, from, to) in cases {
        let err = only(&with(fixture(), path, &fixture_text(path).replace(from, to)));
        assert_eq!(err.rule, Rule::UnknownAccount, "{path}");
        assert_eq!(err.pos.file, path);
    }
}

#[test]
fn rule_unknown_account_exception_position() {
    let text = fixture_text(EXCEPTIONS).replace("account: jumin-asp", "account: x");
    let err = only(&with(fixture(), EXCEPTIONS, &text));
    assert_eq!(err.pos.to_string(), format!("{EXCEPTIONS}:5:12"));
}

#[test]
fn rule_unknown_template_version() {
    let text = fixture_text(TEMPLATES).replace("version: 1.0.0", "version: 2.0.0");
    let err = only(&with(fixture(), TEMPLATES, &text));
    assert_eq!(err.rule, Rule::UnknownTemplate);
    assert_eq!(err.get("versions"), Some("1.0.0"));
    assert_eq!(err.pos.to_string(), format!("{TEMPLATES}:6:12"));
}

#[test]
fn rule_unknown_template_name() {
    let text = fixture_text(TEMPLATES).replace("template: baseline", "template: guardrails");
    let err = only(&with(fixture(), TEMPLATES, &text));
    assert_eq!(err.rule, Rule::UnknownTemplate);
    assert_eq!(err.pos.to_string(), format!("{TEMPLATES}:5:13"));
}

#[test]
fn rule_unknown_parameter() {
    let text = fixture_text(TEMPLATES).replace("Env: prod", "Env: prod\n    Stage: x");
    let err = only(&with(fixture(), TEMPLATES, &text));
    assert_eq!(err.rule, Rule::UnknownParameter);
    assert_eq!(err.get("parameter"), Some("Stage"));
    assert_eq!(err.pos.to_string(), format!("{TEMPLATES}:11:12"));
}

#[test]
fn rule_parameter_missing() {
    let text = fixture_text(TEMPLATES).replace("  parameters:\n    Env: prod\n", "");
    let err = only(&with(fixture(), TEMPLATES, &text));
    assert_eq!(err.rule, Rule::ParameterMissing);
    assert_eq!(err.get("parameter"), Some("Env"));
    assert_eq!(err.pos.file, TEMPLATES);
}

#[test]
fn rule_parameter_with_default_optional() {
    let text = fixture_text(TEMPLATES).replace("Env: prod", "Env: prod\n    RetentionDays: 30");
    assert!(errors(&with(fixture(), TEMPLATES, &text)).is_empty());
}

#[test]
fn rule_broken_template_not_unknown() {
    let files = with(fixture(), "templates/baseline/1.0.0/provenance.yaml", "source: x\nsha256: abc\n");
    let err = only(&files);
    assert_eq!(err.rule, Rule::DigestMismatch);
}

#[test]
fn rule_unknown_system() {
    let err = only(&with(fixture(), BUDGET, &budget(&BUDGET_SPEC.replace("system: resident-records", "system: tax"))));
    assert_eq!(err.rule, Rule::UnknownSystem);
    assert_eq!(err.pos.to_string(), format!("{BUDGET}:5:11"));
}

#[test]
fn rule_grant_expiry_missing() {
    let path = "desired-state/permissions/extra.yaml";
    let err = only(&with(fixture(), path, &grant("{kind: operator, name: ops}", "")));
    assert_eq!(err.rule, Rule::GrantExpiryMissing);
    assert_eq!(err.pos.to_string(), format!("{path}:5:3"));
}

#[test]
fn rule_grant_expiry_null() {
    let path = "desired-state/permissions/extra.yaml";
    let err = only(&with(fixture(), path, &grant("{kind: operator, name: ops}", "  expires:\n")));
    assert_eq!(err.rule, Rule::GrantExpiryMissing);
}

#[test]
fn rule_grant_expired() {
    let path = "desired-state/permissions/extra.yaml";
    let err = only(&with(fixture(), path, &grant("{kind: operator, name: ops}", "  expires: 2026-01-14\n")));
    assert_eq!(err.rule, Rule::GrantExpired);
    assert_eq!(err.pos.to_string(), format!("{path}:11:12"));
    assert_eq!(err.get("today"), Some("2026-01-15"));
}

#[test]
fn rule_grant_expires_today_valid() {
    let path = "desired-state/permissions/extra.yaml";
    assert!(errors(&with(fixture(), path, &grant("{kind: operator, name: ops}", "  expires: 2026-01-15\n"))).is_empty());
}

const WILDCARD_LIST: &str = "  expires: 2026-06-30\n  inlinePolicies:\n    All.Things:\n      Statement:\n        - Effect: Allow\n          Action: s3:GetObject\n          Resource: \"*\"\n        - Effect: Allow\n          Action: [\"s3:*\", \"*\"]\n          Resource: [\"*\"]\n";

#[test]
fn rule_vendor_wildcard_list() {
    let path = "desired-state/permissions/extra.yaml";
    let err = only(&with(fixture(), path, &grant("{kind: vendor, name: example-vendor}", WILDCARD_LIST)));
    assert_eq!(err.rule, Rule::VendorWildcard);
    assert_eq!(err.get("policy"), Some("All.Things"));
    assert_eq!(err.pos.to_string(), format!("{path}:18:11"));
}

#[test]
fn rule_vendor_wildcard_single_statement() {
    let path = "desired-state/permissions/extra.yaml";
    let policy = "  expires: 2026-06-30\n  inlinePolicies:\n    Admin:\n      Statement: {Effect: Allow, Action: \"*\", Resource: \"*\"}\n";
    let err = only(&with(fixture(), path, &grant("{kind: vendor, name: example-vendor}", policy)));
    assert_eq!(err.rule, Rule::VendorWildcard);
    assert_eq!(err.pos.to_string(), format!("{path}:14:18"));
}

#[test]
fn rule_operator_wildcard_allowed() {
    let path = "desired-state/permissions/extra.yaml";
    assert!(errors(&with(fixture(), path, &grant("{kind: operator, name: ops}", WILDCARD_LIST))).is_empty());
}

#[test]
fn rule_unknown_vendor() {
    let path = "desired-state/permissions/extra.yaml";
    let err = only(&with(fixture(), path, &grant("{kind: vendor, name: other-vendor}", "  expires: 2026-06-30\n")));
    assert_eq!(err.rule, Rule::UnknownVendor);
    assert_eq!(err.pos.to_string(), format!("{path}:5:35"));
}

#[test]
fn rule_exception_incomplete() {
    let text = "apiVersion: gcops/v1\nkind: Exception\nid: x\nspec:\n  account: jumin-asp\n  resourceType: AWS::IAM::Role\n  resourceId: HandMade\n  reason:\n  approver: \"\"\n";
    let errors = errors(&with(fixture(), EXCEPTIONS, text));
    assert_eq!(errors.len(), 3, "{}", render(&errors));
    assert!(errors.iter().all(|e| e.rule == Rule::ExceptionIncomplete));
    let fields: Vec<&str> = errors.iter().filter_map(|e| e.get("field")).collect();
    assert!(fields.contains(&"reason"));
    assert!(fields.contains(&"approver"));
    assert!(fields.contains(&"expires"));
    let approver = errors.iter().find(|e| e.get("field") == Some("approver")).unwrap();
    assert_eq!(approver.pos.to_string(), format!("{EXCEPTIONS}:9:13"));
}

#[test]
fn errors_all_in_one_run() {
    let files = with(fixture(), BUDGET, &budget(&BUDGET_SPEC.replace("system: resident-records", "system: tax")));
    let files = with(files, TEMPLATES, &fixture_text(TEMPLATES).replace("version: 1.0.0", "version: 9"));
    let files = with(files, "desired-state/broken.yaml", "a: [\n");
    let errors = errors(&files);
    assert_eq!(errors.len(), 3, "{}", render(&errors));
    let files: Vec<&str> = errors.iter().map(|e| e.pos.file.as_str()).collect();
    assert_eq!(files, vec!["desired-state/broken.yaml", BUDGET, TEMPLATES]);
}

#[test]
fn render_format() {
    let err = only(&with(fixture(), BUDGET, &budget(&BUDGET_SPEC.replace("system: resident-records", "system: tax"))));
    assert_eq!(
        err.render(Lang::En),
        format!(
            "{BUDGET}:5:11: [unknown-system] business system tax is not the system of any account; use one of: resident-records"
        )
    );
    assert!(err.render(Lang::Ja).starts_with(&format!("{BUDGET}:5:11: [unknown-system] 業務システム tax")));
}

#[test]
fn messages_exist_for_every_rule() {
    for rule in Rule::ALL {
        let err = ValidationError::new(Default::default(), rule);
        for lang in [Lang::En, Lang::Ja] {
            let message = err.message(lang);
            assert!(!message.starts_with("validation."), "{rule} has no {} message", lang.code());
        }
        assert_ne!(err.message(Lang::En), err.message(Lang::Ja), "{rule}");
    }
}

#[test]
fn messages_fill_every_placeholder() {
    let files = with(fixture(), BUDGET, &budget(&format!("{BUDGET_SPEC}  owner: me\n")));
    let files = with(files, TEMPLATES, &fixture_text(TEMPLATES).replace("[shared-ops, jumin-asp]", "[x]"));
    for err in errors(&files) {
        for lang in [Lang::En, Lang::Ja] {
            assert!(!err.message(lang).contains("%{"), "{}", err.message(lang));
        }
    }
}

/// The example repository shipped at the crate root (`desired-state/`,
/// `templates/`) must validate; skipped while it does not exist.
/// `GCOPS_EXAMPLE_REPO` points the test at another checkout.
#[test]
fn example_repository_valid() {
    let root =
        std::env::var_os("GCOPS_EXAMPLE_REPO").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    if !root.join("desired-state").is_dir() {
        println!("skipped: no example repository at {}", root.display());
        return;
    }
    if let Err(errors) = load_dir(&root, today()) {
        panic!("example repository is invalid:\n{}", errors.render(Lang::En));
    }
}

use super::position::tests::alias_bomb;

#[test]
fn rule_yaml_too_many_nodes() {
    let started = std::time::Instant::now();
    let err = only(&with(fixture(), BUDGET, &alias_bomb()));
    assert!(started.elapsed() < std::time::Duration::from_secs(1), "{:?}", started.elapsed());
    assert_eq!(err.rule, Rule::YamlTooManyNodes);
    assert_eq!(err.pos.to_string(), format!("{BUDGET}:6:10"));
    assert!(err.render(Lang::En).contains("100000"), "{}", err.render(Lang::En));
}

#[test]
fn rule_yaml_too_deep() {
    let text = format!("{}{}\n", "[".repeat(65), "]".repeat(65));
    let err = only(&with(fixture(), BUDGET, &text));
    assert_eq!(err.rule, Rule::YamlTooDeep);
    assert_eq!(err.pos.to_string(), format!("{BUDGET}:1:65"));
}

#[test]
fn rule_file_too_large() {
    let text = format!("{}# padding\n{}", budget(BUDGET_SPEC), "#".repeat(4 * 1024 * 1024));
    let err = only(&with(fixture(), BUDGET, &text));
    assert_eq!(err.rule, Rule::FileTooLarge);
    assert_eq!(err.pos.to_string(), format!("{BUDGET}:1:1"));
    assert_eq!(err.get("limit"), Some("4194304"));
}

#[test]
fn rule_file_too_large_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("desired-state");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("big.yaml"), vec![b'#'; 4 * 1024 * 1024 + 1]).unwrap();
    let (files, errors) = read_files(dir.path());
    assert!(files.is_empty());
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].rule, Rule::FileTooLarge);
    assert_eq!(errors[0].pos.file, "desired-state/big.yaml");
}

const EXTRA_GRANT: &str = "desired-state/permissions/extra.yaml";

fn policy_errors(policies: &str) -> Vec<ValidationError> {
    let text = grant("{kind: vendor, name: example-vendor}", &format!("  expires: 2026-06-30\n  inlinePolicies:\n{policies}"));
    errors(&with(fixture(), EXTRA_GRANT, &text))
}

fn only_policy_error(policies: &str) -> ValidationError {
    let errors = policy_errors(policies);
    assert_eq!(errors.len(), 1, "expected one error, got:\n{}", render(&errors));
    errors.into_iter().next().unwrap()
}

#[test]
fn rule_invalid_policy_json_string() {
    let err = only_policy_error(
        "    X: \"{\\\"Statement\\\":[{\\\"Effect\\\":\\\"Allow\\\",\\\"Action\\\":\\\"*\\\",\\\"Resource\\\":\\\"*\\\"}]}\"\n",
    );
    assert_eq!(err.rule, Rule::InvalidPolicy);
    assert_eq!(err.get("problem"), Some("not-a-mapping"));
    assert_eq!(err.get("found"), Some("string"));
    assert_eq!(err.pos.to_string(), format!("{EXTRA_GRANT}:13:8"));
}

#[test]
fn rule_invalid_policy_lower_case_keys() {
    let errors = policy_errors("    X:\n      statement:\n        - {Effect: Allow, Action: \"*\", Resource: \"*\"}\n");
    let problems: Vec<Option<&str>> = errors.iter().map(|e| e.get("problem")).collect();
    assert_eq!(problems, vec![Some("statement-missing"), Some("unknown-key")], "{}", render(&errors));
    assert!(errors.iter().all(|e| e.rule == Rule::InvalidPolicy));
    assert_eq!(errors[1].get("key"), Some("statement"));
    assert_eq!(errors[1].pos.to_string(), format!("{EXTRA_GRANT}:14:7"));
}

#[test]
fn rule_invalid_policy_statement_keys() {
    let policy = "    X:\n      Statement:\n        - Effect: Allow\n          action: \"*\"\n          Action: s3:GetObject\n          Resource: \"*\"\n";
    let err = only_policy_error(policy);
    assert_eq!(err.get("problem"), Some("unknown-statement-key"));
    assert_eq!(err.get("key"), Some("action"));
    assert_eq!(err.pos.to_string(), format!("{EXTRA_GRANT}:16:11"));
}

#[test]
fn rule_invalid_policy_effect() {
    let policy = "    X:\n      Statement: {Effect: allow, Action: s3:GetObject, Resource: \"*\"}\n";
    let err = only_policy_error(policy);
    assert_eq!(err.get("problem"), Some("effect"));
    assert_eq!(err.pos.to_string(), format!("{EXTRA_GRANT}:14:27"));
}

#[test]
fn rule_invalid_policy_action_type() {
    let policy = "    X:\n      Statement: {Effect: Allow, Action: [s3:GetObject, {a: b}], Resource: \"*\"}\n";
    let err = only_policy_error(policy);
    assert_eq!(err.get("problem"), Some("string-or-list"));
    assert_eq!(err.get("key"), Some("Action"));
    assert_eq!(err.pos.to_string(), format!("{EXTRA_GRANT}:14:57"));
}

#[test]
fn rule_invalid_policy_statement_missing() {
    let err = only_policy_error("    X:\n      Version: \"2012-10-17\"\n");
    assert_eq!(err.get("problem"), Some("statement-missing"));
    assert_eq!(err.pos.to_string(), format!("{EXTRA_GRANT}:14:7"));
}

#[test]
fn rule_invalid_policy_required_elements() {
    let errors = policy_errors("    X:\n      Statement: [{Sid: A}]\n");
    let keys: Vec<&str> = errors.iter().filter_map(|e| e.get("key")).collect();
    assert_eq!(keys, vec!["Action / NotAction", "Effect", "Resource / NotResource"]);
    assert!(errors.iter().all(|e| e.get("problem") == Some("statement-key-missing")));
}

#[test]
fn rule_invalid_policy_messages() {
    let problems = [
        "not-a-mapping",
        "unknown-key",
        "version",
        "not-a-string",
        "statement-missing",
        "statement-type",
        "unknown-statement-key",
        "statement-key-missing",
        "effect",
        "string-or-list",
        "principal",
        "condition",
    ];
    for problem in problems {
        let err = ValidationError::new(Default::default(), Rule::InvalidPolicy).problem(problem);
        for lang in [Lang::En, Lang::Ja] {
            assert!(!err.message(lang).starts_with("validation."), "{problem} has no {} message", lang.code());
        }
    }
}

#[test]
fn rule_invalid_account_name() {
    let bad = [
        "jumin..asp",
        "jumin~asp",
        "jumin asp",
        "jumin.lock",
        "",
        "../../heads/main",
        "jumin/asp",
        "jumin\\nasp",
        "Jumin",
        "-jumin",
        "jumin-",
    ];
    for name in bad {
        let text = env(&format!("{OPS}{}", ASP.replace("name: jumin-asp", &format!("name: \"{name}\""))));
        let errors = errors(&with(fixture(), ENV, &text));
        let err = errors.iter().find(|e| e.rule == Rule::InvalidAccountName);
        assert!(err.is_some(), "{name:?} passed:\n{}", render(&errors));
        assert_eq!(err.map(|e| e.pos.to_string()), Some(format!("{ENV}:9:34")), "{name:?}");
    }
}

#[test]
fn account_name_valid_forms() {
    assert!(super::validate::is_valid_account_name("jumin-asp"));
    assert!(super::validate::is_valid_account_name("a"));
    assert!(super::validate::is_valid_account_name(&"a".repeat(63)));
    assert!(!super::validate::is_valid_account_name(&"a".repeat(64)));
}

#[test]
fn rule_invalid_id() {
    for id in ["\"b c\"", "\"../b\"", "\"-b\"", "\"b/c\"", "\"b\\nc\""] {
        let err = only(&with(fixture(), BUDGET, &budget(BUDGET_SPEC).replace("id: b", &format!("id: {id}"))));
        assert_eq!(err.rule, Rule::InvalidId, "{id}");
        assert_eq!(err.pos.to_string(), format!("{BUDGET}:3:5"), "{id}");
    }
    assert!(errors(&with(fixture(), BUDGET, &budget(BUDGET_SPEC).replace("id: b", "id: B_1.x-y"))).is_empty());
}

const ALARMS: &str = "desired-state/monitoring/alarms.yaml";

#[test]
fn rule_invalid_number() {
    let cases = [
        (ALARMS, "threshold: 1", "threshold: .nan", "not-finite", "threshold"),
        (ALARMS, "threshold: 1", "threshold: 1e400", "not-finite", "threshold"),
        (ALARMS, "period: 300", "period: -5", "not-positive", "period"),
        (ALARMS, "period: 300", "period: 45", "period", "period"),
        (ALARMS, "evaluationPeriods: 1", "evaluationPeriods: 0", "not-positive", "evaluationPeriods"),
        (BUDGET, "monthlyAmount: 10", "monthlyAmount: -900", "not-positive", "monthlyAmount"),
        (BUDGET, "monthlyAmount: 10", "monthlyAmount: 0", "not-positive", "monthlyAmount"),
        (BUDGET, "monthlyAmount: 10", "monthlyAmount: .inf", "not-finite", "monthlyAmount"),
        (BUDGET, "thresholds: [80]", "thresholds: [80, 0]", "threshold-percent", "thresholds"),
        (BUDGET, "thresholds: [80]", "thresholds: [80, 1001]", "threshold-percent", "thresholds"),
        (BUDGET, "thresholds: [80]", "thresholds: [80, .nan]", "not-finite", "thresholds"),
    ];
    for (path, from, to, problem, field) in cases {
        let base = if path == BUDGET { budget(BUDGET_SPEC) } else { fixture_text(path) };
        assert!(base.contains(from), "{from}");
        let err = only(&with(fixture(), path, &base.replace(from, to)));
        assert_eq!(err.rule, Rule::InvalidNumber, "{to}");
        assert_eq!(err.get("problem"), Some(problem), "{to}");
        assert_eq!(err.get("field"), Some(field), "{to}");
        let line = base.lines().position(|l| l.contains(from)).unwrap() as u64 + 1;
        assert_eq!(err.pos.line, line, "{to}");
    }
}

#[test]
fn rule_invalid_number_positions() {
    let err = only(&with(fixture(), BUDGET, &budget(&BUDGET_SPEC.replace("thresholds: [80]", "thresholds: [80, 1001]"))));
    assert_eq!(err.pos.to_string(), format!("{BUDGET}:8:20"));
    let err = only(&with(fixture(), BUDGET, &budget(&BUDGET_SPEC.replace("monthlyAmount: 10", "monthlyAmount: -900"))));
    assert_eq!(err.pos.to_string(), format!("{BUDGET}:7:18"));
}

#[test]
fn rule_accounts_empty() {
    let cases = [
        (GRANTS, "accounts: [jumin-asp]"),
        (ALARMS, "accounts: [shared-ops]"),
        (TEMPLATES, "accounts: [shared-ops, jumin-asp]"),
        (ALARMS, "accounts: [shared-ops, jumin-asp]"),
    ];
    for (path, from) in cases {
        let text = fixture_text(path);
        assert!(text.contains(from), "{path}: {from}");
        let line = text.lines().position(|l| l.contains(from)).unwrap() as u64 + 1;
        let err = only(&with(fixture(), path, &text.replacen(from, "accounts: []", 1)));
        assert_eq!(err.rule, Rule::AccountsEmpty, "{path}");
        assert_eq!(err.pos.to_string(), format!("{path}:{line}:13"), "{path}");
    }
}

#[test]
fn budget_accounts_empty_means_all() {
    let files = with(
        fixture(),
        BUDGET,
        &budget(&BUDGET_SPEC.replace("system: resident-records", "system: resident-records\n  accounts: []")),
    );
    assert!(errors(&files).is_empty());
}

#[test]
fn rule_too_many_subscribers_budget() {
    let addresses: Vec<String> = (0..11).map(|i| format!("a{i}@example.com")).collect();
    let spec = BUDGET_SPEC.replace("[a@example.com]", &format!("[{}]", addresses.join(", ")));
    let err = only(&with(fixture(), BUDGET, &budget(&spec)));
    assert_eq!(err.rule, Rule::TooManySubscribers);
    assert_eq!(err.get("limit"), Some("10"));
    assert_eq!(err.pos.to_string(), format!("{BUDGET}:9:14"));
    assert!(err.render(Lang::En).contains("AWS Budgets"));
    let ten = BUDGET_SPEC.replace("[a@example.com]", &format!("[{}]", addresses[..10].join(", ")));
    assert!(errors(&with(fixture(), BUDGET, &budget(&ten))).is_empty());
}

#[test]
fn rule_too_many_subscribers_alarm() {
    let one = "      - protocol: email\n        endpoint: ops@example.com\n";
    let many: String = (0..101).map(|i| format!("      - {{protocol: email, endpoint: a{i}@example.com}}\n")).collect();
    let changed = fixture_text(ALARMS).replace(one, &many);
    let err = only(&with(fixture(), ALARMS, &changed));
    assert_eq!(err.rule, Rule::TooManySubscribers);
    assert_eq!(err.get("limit"), Some("100"));
}

#[test]
fn rule_exception_expired() {
    let text = fixture_text(EXCEPTIONS).replace("expires: 2026-06-30", "expires: 2026-01-14");
    let err = only(&with(fixture(), EXCEPTIONS, &text));
    assert_eq!(err.rule, Rule::ExceptionExpired);
    assert_eq!(err.pos.to_string(), format!("{EXCEPTIONS}:11:12"));
    assert_eq!(err.get("today"), Some("2026-01-15"));
}

#[test]
fn rule_exception_expires_today_valid() {
    let text = fixture_text(EXCEPTIONS).replace("expires: 2026-06-30", "expires: 2026-01-15");
    assert!(errors(&with(fixture(), EXCEPTIONS, &text)).is_empty());
}

#[test]
fn rule_exception_expiry_too_far() {
    let text = fixture_text(EXCEPTIONS).replace("expires: 2026-06-30", "expires: 2027-01-16");
    let err = only(&with(fixture(), EXCEPTIONS, &text));
    assert_eq!(err.rule, Rule::ExceptionExpiryTooFar);
    assert_eq!(err.pos.to_string(), format!("{EXCEPTIONS}:11:12"));
    assert_eq!(err.get("limit"), Some("2027-01-15"));
    let at_limit = fixture_text(EXCEPTIONS).replace("expires: 2026-06-30", "expires: 2027-01-15");
    assert!(errors(&with(fixture(), EXCEPTIONS, &at_limit)).is_empty());
}

#[test]
fn rule_exception_expiry_setting() {
    let text = fixture_text(EXCEPTIONS).replace("expires: 2026-06-30", "expires: 2027-06-30");
    let mut environment = fixture_text(ENV);
    environment.push_str("  guardrails:\n    maxExceptionMonths: 18\n");
    let files = with(with(fixture(), EXCEPTIONS, &text), ENV, &environment);
    assert!(errors(&files).is_empty(), "{}", render(&errors(&files)));
}
