//! Parses public, real-world CloudFormation templates, IAM and SCP policy
//! documents and landing-zone configurations with the template parser.
//!
//! The files are read in place from `GCOPS_REAL_INPUTS` (default
//! `<crate>/../shared/real-inputs`) and never copied into this repository.
//! When the folder is absent the tests print that they were skipped.

use std::path::{Path, PathBuf};

use gcops::desired::validate::wildcard_statements;
use gcops::templates::parse_template;

/// Files that are YAML or JSON but not CloudFormation templates: a CfCT
/// manifest, Landing Zone Accelerator configs and an org-formation task
/// file. They must parse, but are not checked for `Resources`.
const NOT_TEMPLATES: [&str; 5] = [
    "cfct/example-configuration/manifest.yaml",
    "lza-universal-configuration/iam-config.yaml",
    "lza-universal-configuration/organization-config.yaml",
    "lza-universal-configuration/security-config.yaml",
    "org-formation/organization-tasks.yml",
];

/// Files that use org-formation's `!Include` tag, which CloudFormation does
/// not define, so parsing them must produce a warning.
const ORG_FORMATION_INCLUDE: [&str; 2] =
    ["org-formation/templates/budget-alarms.yml", "org-formation/templates/cross-account-role-with-alarm.yml"];

fn root() -> Option<PathBuf> {
    let path = std::env::var_os("GCOPS_REAL_INPUTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/real-inputs"));
    if path.is_dir() {
        Some(path)
    } else {
        println!(
            "skipped: real inputs folder {} does not exist (set GCOPS_REAL_INPUTS to a copy of the real-inputs folder)",
            path.display()
        );
        None
    }
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            files_under(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/")
}

fn is_template_name(name: &str) -> bool {
    [".yaml", ".yml", ".json", ".template"].iter().any(|ext| name.ends_with(ext))
}

/// Policy documents have a top-level `Statement`; parameter files and tag
/// policies do not.
fn is_policy(value: &serde_json::Value) -> bool {
    value.get("Statement").is_some()
}

#[test]
fn real_inputs_parse() {
    let Some(root) = root() else { return };
    let mut paths = Vec::new();
    files_under(&root, &mut paths);

    let mut templates = 0;
    let mut others = 0;
    let mut policies = 0;
    for path in paths {
        let name = relative(&root, &path);
        if !is_template_name(&name) {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let (parsed, warnings) = parse_template(&text).unwrap_or_else(|e| panic!("{name}: {e}"));

        if NOT_TEMPLATES.contains(&name.as_str()) {
            assert!(parsed.is_object(), "{name}: expected a mapping");
            others += 1;
        } else if is_policy(&parsed) {
            // Policies are checked with the same helper that guards vendor
            // grants; it must run on every shape real policies use.
            let _ = wildcard_statements(&parsed);
            policies += 1;
        } else if parsed.get("Resources").is_some() {
            let resources = parsed["Resources"].as_object().unwrap_or_else(|| panic!("{name}: Resources is not a mapping"));
            for (id, resource) in resources {
                if id.starts_with("Fn::ForEach::") {
                    continue;
                }
                assert!(resource["Type"].is_string(), "{name}: resource {id} has no string Type");
            }
            if ORG_FORMATION_INCLUDE.contains(&name.as_str()) {
                assert!(warnings.iter().any(|w| w.contains("!Include")), "{name}: no warning for !Include");
            } else {
                assert!(warnings.is_empty(), "{name}: unexpected warnings {warnings:?}");
            }
            templates += 1;
        } else {
            // Parameter files (CfCT) and tag policies are JSON data only.
            others += 1;
        }
    }
    println!("parsed {templates} templates, {policies} policies, {others} other files");
    assert!(templates >= 20, "expected at least 20 CloudFormation templates, found {templates}");
    assert!(policies >= 5, "expected at least 5 policy documents, found {policies}");
}

#[test]
fn org_formation_include_warns() {
    let Some(root) = root() else { return };
    for name in ORG_FORMATION_INCLUDE {
        let text = std::fs::read_to_string(root.join(name)).unwrap();
        let (parsed, warnings) = parse_template(&text).unwrap();
        assert_eq!(warnings.len(), 1, "{name}: {warnings:?}");
        assert!(warnings[0].contains("!Include"), "{name}: {warnings:?}");
        assert_eq!(parsed["Organization"], serde_json::json!({"Fn::Include": "../organization.yml"}));
    }
}

#[test]
fn org_formation_getatt_three_parts() {
    let Some(root) = root() else { return };
    let text = std::fs::read_to_string(root.join("org-formation/templates/budget-alarms.yml")).unwrap();
    let (parsed, _) = parse_template(&text).unwrap();
    let rendered = parsed.to_string();
    assert!(rendered.contains(r#"{"Fn::GetAtt":["AWSAccount","Tags."#), "{rendered}");
}

#[test]
fn cfn_lint_getatt_dotted() {
    let Some(root) = root() else { return };
    let text = std::fs::read_to_string(root.join("cfn-lint/good/functions/getatt.yaml")).unwrap();
    let (parsed, warnings) = parse_template(&text).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert!(!parsed.to_string().contains("\"!GetAtt"));
}

#[test]
fn unquoted_version_stays_string() {
    let Some(root) = root() else { return };
    // This template writes `Version: 2012-10-17` without quotes.
    let text = std::fs::read_to_string(root.join("cfct/customizations-for-aws-control-tower.template")).unwrap();
    let (parsed, _) = parse_template(&text).unwrap();
    let rendered = parsed.to_string();
    assert!(rendered.contains(r#""Version":"2012-10-17""#));
    assert!(!rendered.contains(r#""Version":2012"#));
}
