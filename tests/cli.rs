//! The `gcops` binary as an operator runs it: exit codes, messages with
//! file:line:column, JSON output.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn gcops() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gcops"));
    cmd.env_remove("GCOPS_CONFIG").env("LANG", "C.UTF-8").env("GCOPS_LOG", "error");
    cmd
}

fn example_copy(dir: &Path) -> PathBuf {
    support::repo::example_copy(dir, "repo")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn validate_example_passes() {
    let out = gcops().arg("validate").arg(env!("CARGO_MANIFEST_DIR")).output().unwrap();
    assert!(out.status.success(), "example must validate: {}", stderr(&out));
}

/// Each kind of bad input fails with the file and position of the mistake.
#[test]
fn validate_bad_input_names_position() {
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            "malformed YAML",
            "desired-state/budgets/individual-tax.yaml",
            "spec:\n  system: [unclosed\n",
            "desired-state/budgets/individual-tax.yaml:",
        ),
        (
            "wrong type",
            "desired-state/budgets/individual-tax.yaml",
            "apiVersion: gcops/v1\nkind: Budget\nid: b\nspec:\n  system: individual-tax\n  budgetName: x\n  monthlyAmount: lots\n  thresholds: [80]\n  addresses: [a@example.jp]\n",
            "desired-state/budgets/individual-tax.yaml:7:18",
        ),
        (
            "unknown kind",
            "desired-state/budgets/individual-tax.yaml",
            "apiVersion: gcops/v1\nkind: Bucket\nid: b\nspec: {}\n",
            "desired-state/budgets/individual-tax.yaml:2:7",
        ),
        (
            "duplicate id",
            "desired-state/budgets/individual-tax.yaml",
            "apiVersion: gcops/v1\nkind: Budget\nid: resident-records-monthly\nspec:\n  system: individual-tax\n  budgetName: x\n  monthlyAmount: 1\n  thresholds: [80]\n  addresses: [a@example.jp]\n",
            // Either copy of the id may carry the error; both are at 3:5.
            ".yaml:3:5: [duplicate-id]",
        ),
        (
            "template that is not CloudFormation",
            "templates/gc-notification/1.0.0/template.yaml",
            "AWSTemplateFormatVersion: \"2010-09-09\"\nOutputs: {}\n",
            "templates/gc-notification/1.0.0/template.yaml:",
        ),
    ];
    for (name, file, text, expected) in cases {
        let tmp = tempfile::tempdir().unwrap();
        let repo = example_copy(tmp.path());
        std::fs::write(repo.join(file), text).unwrap();
        let before = std::fs::read(repo.join(file)).unwrap();
        let out = gcops().arg("validate").arg(&repo).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{name}: exit code");
        assert!(stderr(&out).contains(expected), "{name}: expected {expected} in:\n{}", stderr(&out));
        assert_eq!(std::fs::read(repo.join(file)).unwrap(), before, "{name}: validate must not change files");
    }
}

#[test]
fn validate_messages_follow_lang() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = example_copy(tmp.path());
    std::fs::write(
        repo.join("desired-state/budgets/individual-tax.yaml"),
        "apiVersion: gcops/v1\nkind: Bucket\nid: b\nspec: {}\n",
    )
    .unwrap();
    let ja = gcops().arg("validate").arg(&repo).env("LANG", "ja_JP.UTF-8").output().unwrap();
    let en = gcops().args(["--lang", "en", "validate"]).arg(&repo).output().unwrap();
    assert_ne!(stderr(&ja), stderr(&en));
    assert!(stderr(&ja).chars().any(|c| ('\u{3040}'..='\u{30ff}').contains(&c)), "Japanese output: {}", stderr(&ja));
}

#[test]
fn plan_unreachable_repository_names_url() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("gcops.yaml");
    let url = "file:///nonexistent/gcops-test/city.git";
    let token = tmp.path().join("token");
    std::fs::write(&token, "t").unwrap();
    std::fs::write(
        &config,
        format!(
            "repository:\n  url: {url}\n  cacheDir: {}\nforge:\n  kind: github\n  github:\n    owner: city\n    repo: gc\n    tokenFile: {}\n    apiBaseUrl: http://127.0.0.1:9\n",
            tmp.path().join("cache").display(),
            token.display()
        ),
    )
    .unwrap();
    let out = gcops().arg("--config").arg(&config).args(["--lang", "en", "plan"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains(url), "error names the URL: {}", stderr(&out));
}

#[test]
fn config_unknown_key_fails_with_position() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("gcops.yaml");
    std::fs::write(&config, "repository:\n  url: .\nforge:\n  knd: local\n").unwrap();
    let out = gcops().arg("--config").arg(&config).args(["--lang", "en", "plan"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains(":4:"), "error names line 4: {}", stderr(&out));
}

#[test]
fn plan_json_against_moto() {
    let moto = support::moto::MotoGateway::start();
    let tmp = tempfile::tempdir().unwrap();
    let repo = example_copy(tmp.path());
    for args in [
        &["init", "-q", "-b", "main"][..],
        &["add", "-A"],
        &["-c", "user.name=t", "-c", "user.email=t@example.jp", "commit", "-qm", "init"],
    ] {
        assert!(Command::new("git").arg("-C").arg(&repo).args(args).status().unwrap().success());
    }
    let config = tmp.path().join("gcops.yaml");
    std::fs::write(&config, format!("repository:\n  url: {}\naws:\n  maxAttempts: 1\n", repo.display())).unwrap();
    let aws_env = [
        ("AWS_ENDPOINT_URL", moto.endpoint_url()),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_REGION", "ap-northeast-1"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ];

    let seed = Command::new(env!("CARGO_BIN_EXE_gcops-devenv")).arg("seed").arg(&repo).envs(aws_env).output().unwrap();
    assert!(seed.status.success(), "seed: {}", stderr(&seed));

    let out = gcops().arg("--config").arg(&config).args(["plan", "--format", "json"]).envs(aws_env).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "no drift: {}", stderr(&out));
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).expect("plan is JSON");
    assert_eq!(plan["kind"], "Plan");
    assert_eq!(plan["items"].as_array().unwrap().len(), 0);
    assert_eq!(plan["counts"]["unknown"], 0);
    assert!(plan["counts"]["checked"].as_u64().unwrap() > 0);

    let hand = Command::new(env!("CARGO_BIN_EXE_gcops-devenv")).arg("hand-changes").arg(&repo).envs(aws_env).output().unwrap();
    assert!(hand.status.success(), "hand changes: {}", stderr(&hand));
    let out = gcops().arg("--config").arg(&config).args(["plan", "--format", "json"]).envs(aws_env).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "drift: {}", stderr(&out));
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).expect("plan is JSON");
    assert_eq!(plan["items"].as_array().unwrap().len(), 3);
    assert_eq!(plan["counts"]["drifted"], 3);
}
