//! The files under deploy/ parse, and the IAM policies grant what gcops
//! needs and nothing more.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

fn deploy(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy").join(relative)
}

fn files_with_extension(dir: &Path, extension: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(files_with_extension(&path, extension));
        } else if path.extension().is_some_and(|e| e == extension) {
            found.push(path);
        }
    }
    found
}

fn policy(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(deploy(&format!("iam/{name}"))).unwrap()).unwrap()
}

/// Actions of the statements with the given effect.
fn actions(policy: &Value, effect: &str) -> Vec<String> {
    let mut all = Vec::new();
    for statement in policy["Statement"].as_array().unwrap() {
        if statement["Effect"] == effect {
            for action in statement["Action"].as_array().expect("statements list actions") {
                all.push(action.as_str().unwrap().to_string());
            }
        }
    }
    all
}

#[test]
fn deploy_yaml_files_parse() {
    let files = files_with_extension(&deploy(""), "yaml");
    assert!(files.len() >= 8, "found {files:?}");
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for document in serde_yaml_ng::Deserializer::from_str(&text) {
            let value = serde_yaml_ng::Value::deserialize(document);
            assert!(value.is_ok(), "{}: {}", file.display(), value.unwrap_err());
        }
    }
}

#[test]
fn deploy_json_files_parse() {
    let files = files_with_extension(&deploy(""), "json");
    assert_eq!(files.len(), 3, "found {files:?}");
    for file in files {
        let parsed: Result<Value, _> = serde_json::from_str(&std::fs::read_to_string(&file).unwrap());
        assert!(parsed.is_ok(), "{}: {}", file.display(), parsed.unwrap_err());
    }
}

#[test]
fn kubernetes_manifests_have_kind() {
    for file in files_with_extension(&deploy("kubernetes"), "yaml") {
        let value: serde_yaml_ng::Value = serde_yaml_ng::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        assert!(value.get("apiVersion").is_some(), "{} has no apiVersion", file.display());
        assert!(value.get("kind").is_some(), "{} has no kind", file.display());
    }
}

#[test]
fn readonly_policy_allows_only_reads() {
    let allowed = actions(&policy("gcops-readonly-policy.json"), "Allow");
    let read_verbs = ["List", "Describe", "Get", "View"];
    for action in &allowed {
        let (_, verb) = action.split_once(':').unwrap();
        let is_read = read_verbs.iter().any(|v| verb.starts_with(v));
        assert!(is_read || action == "sts:AssumeRole", "read-only policy allows {action}");
    }
    for needed in ["iam:GetAccountAuthorizationDetails", "cloudformation:GetTemplate", "budgets:ViewBudget"] {
        assert!(allowed.iter().any(|a| a == needed), "read-only policy lacks {needed}");
    }
}

#[test]
fn apply_policy_never_writes_organizations() {
    let apply = policy("gcops-apply-policy.json");
    for action in actions(&apply, "Allow").iter().filter(|a| a.starts_with("organizations:")) {
        let (_, verb) = action.split_once(':').unwrap();
        assert!(verb.starts_with("List") || verb.starts_with("Describe"), "apply policy allows {action}");
    }
    let denied = actions(&apply, "Deny");
    for write in ["organizations:Create*", "organizations:Move*", "organizations:Attach*", "organizations:Delete*"] {
        assert!(denied.iter().any(|a| a == write), "apply policy does not deny {write}");
    }
}

#[test]
fn apply_policy_limits_role_writes_to_owned_roles() {
    let apply = policy("gcops-apply-policy.json");
    for statement in apply["Statement"].as_array().unwrap() {
        let writes_roles = statement["Effect"] == "Allow"
            && statement["Action"].as_array().unwrap().iter().any(|a| {
                let a = a.as_str().unwrap();
                a.starts_with("iam:") && a != "iam:GetAccountAuthorizationDetails" && a != "iam:PassRole"
            });
        if writes_roles {
            assert_eq!(statement["Resource"], "arn:aws:iam::*:role/gcops/*", "{statement}");
            let condition = statement["Condition"]["StringEquals"].as_object().expect("role writes carry a tag condition");
            assert!(condition.keys().any(|k| k.ends_with("Tag/gcops:managed-by")), "{statement}");
        }
    }
}

/// `systemd-analyze verify` needs the binary named by ExecStart to exist, so
/// the unit is checked as a copy that starts /bin/true instead.
#[test]
fn systemd_unit_verifies() {
    let Ok(version) = std::process::Command::new("systemd-analyze").arg("--version").output() else {
        panic!("systemd-analyze is missing: install Debian package systemd to check deploy/systemd/gcops.service");
    };
    assert!(version.status.success());
    let unit = std::fs::read_to_string(deploy("systemd/gcops.service")).unwrap();
    let exec = unit.lines().find(|l| l.starts_with("ExecStart=")).expect("the unit has ExecStart");
    let binary = exec.trim_start_matches("ExecStart=").split_whitespace().next().unwrap().to_string();
    let tmp = tempfile::tempdir().unwrap();
    let copy = tmp.path().join("gcops.service");
    std::fs::write(&copy, unit.replace(&binary, "/bin/true")).unwrap();
    let out = std::process::Command::new("systemd-analyze").arg("verify").arg(&copy).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "systemd-analyze verify failed:\n{stderr}");
    assert!(!stderr.contains("gcops.service:"), "warnings about the unit:\n{stderr}");
}
