//! OU placement on real components: moto's Organizations, with the example
//! rewritten to the account ids moto assigns, and the drift pull request
//! that moves an account's `ou` back to where it is live.

mod support;

use std::path::Path;
use std::sync::Arc;

use aws_sdk_organizations::Client as Organizations;
use gcops::config::{FileConfig, Settings};
use gcops::diff::model::{Change, Coverage, ResourceType};
use gcops::reconcile::{Context, PullAction};
use support::moto::MotoGateway;

/// Creates `/GC/<path...>` below `parent`, returning the id of the last OU.
async fn ou_path(org: &Organizations, root: &str, path: &[&str], known: &mut Vec<(String, String)>) -> String {
    let mut parent = root.to_string();
    let mut full = String::new();
    for name in path {
        full.push('/');
        full.push_str(name);
        if let Some((_, id)) = known.iter().find(|(p, _)| *p == full) {
            parent = id.clone();
            continue;
        }
        let created = org.create_organizational_unit().parent_id(&parent).name(*name).send().await.unwrap();
        parent = created.organizational_unit().unwrap().id().unwrap().to_string();
        known.push((full.clone(), parent.clone()));
    }
    parent
}

#[tokio::test(flavor = "multi_thread")]
async fn account_in_wrong_ou_is_drift_and_adopted() {
    let moto = MotoGateway::start();
    let org = Organizations::from_conf(
        aws_sdk_organizations::config::Builder::from(&moto.sdk_config().await)
            .region(aws_config::Region::from_static("us-east-1"))
            .build(),
    );
    org.create_organization().feature_set(aws_sdk_organizations::types::OrganizationFeatureSet::All).send().await.unwrap();
    let root = org.list_roots().send().await.unwrap().roots()[0].id().unwrap().to_string();

    // The example's three accounts, created in moto, which picks their ids.
    let mut ous = Vec::new();
    let mut ids = Vec::new();
    for (name, path) in [
        ("ops-shared", &["GC", "Operations"][..]),
        ("jumin-asp", &["GC", "ASP", "resident-records"]),
        ("zeimu-asp", &["GC", "ASP", "tax"]),
    ] {
        let ou = ou_path(&org, &root, path, &mut ous).await;
        let created = org.create_account().account_name(name).email(format!("{name}@example.jp")).send().await.unwrap();
        let id = created.create_account_status().unwrap().account_id().unwrap().to_string();
        org.move_account().account_id(&id).source_parent_id(&root).destination_parent_id(&ou).send().await.unwrap();
        ids.push(id);
    }

    let tmp = tempfile::tempdir().unwrap();
    let repo = support::repo::example_copy(tmp.path(), "sample-city");
    let env_file = repo.join("desired-state/environment.yaml");
    let mut text = std::fs::read_to_string(&env_file).unwrap();
    for (example_id, id) in ["111111111111", "222222222222", "333333333333"].iter().zip(&ids) {
        text = text.replace(&format!("\"{example_id}\""), &format!("\"{id}\""));
    }
    std::fs::write(&env_file, text).unwrap();
    support::repo::git(&repo, &["init", "-q", "-b", "main"]);
    support::repo::git(&repo, &["add", "-A"]);
    support::repo::git(&repo, &["commit", "-qm", "Desired state with moto's account ids"]);

    let desired = gcops::desired::load_dir(&repo, chrono::Utc::now().date_naive()).expect("rewritten example validates");
    gcops::devenv::DevEnv::new(Arc::new(moto.client_factory().await)).seed(&desired).await.unwrap();
    let config = format!("repository:\n  url: {}\n", repo.display());
    let mut settings = Settings::from_file(FileConfig::parse(&config, Path::new("gcops.yaml")).unwrap(), |_| None).unwrap();
    settings.aws = moto.settings();
    let ctx = Context::with_factory(settings, moto.client_factory().await).unwrap();

    // Every account is in the OU the environment names: checked and in sync.
    let plan = gcops::reconcile::plan(&ctx).await.unwrap();
    assert!(plan.drift.items.is_empty(), "{:#?}", plan.drift.items);
    let placement = |id: &str| {
        plan.drift.coverage.iter().find(|e| e.resource_type == ResourceType::Account && e.resource_id == id).map(|e| e.state)
    };
    for id in &ids {
        assert_eq!(placement(id), Some(Coverage::InSync), "OU placement of {id} is compared");
    }
    // The management account is in the organization but not in the environment.
    assert_eq!(placement("123456789012"), Some(Coverage::NotChecked));

    // Someone moves jumin-asp into the tax OU.
    let resident = ous.iter().find(|(p, _)| p == "/GC/ASP/resident-records").unwrap().1.clone();
    let tax = ous.iter().find(|(p, _)| p == "/GC/ASP/tax").unwrap().1.clone();
    org.move_account().account_id(&ids[1]).source_parent_id(&resident).destination_parent_id(&tax).send().await.unwrap();

    let plan = gcops::reconcile::plan(&ctx).await.unwrap();
    assert_eq!(plan.drift.items.len(), 1, "{:#?}", plan.drift.items);
    let item = &plan.drift.items[0];
    assert_eq!(item.resource_type, ResourceType::Account);
    assert_eq!(item.change, Change::Modified);
    assert_eq!(item.path, "accounts.1.ou");
    assert_eq!(item.desired, serde_json::json!("/GC/ASP/resident-records"));
    assert_eq!(item.live, serde_json::json!("/GC/ASP/tax"));

    // The drift pull request adopts the live OU, changing only that line.
    let pass = gcops::reconcile::run_once(&ctx).await.unwrap();
    let jumin = pass.pulls.iter().find(|p| p.account == "jumin-asp").unwrap();
    assert_eq!(jumin.action, PullAction::Opened);
    let diff = std::process::Command::new("git")
        .arg("-C")
        .arg(&repo)
        .args(["diff", "--unified=0", "main", "gcops/drift/jumin-asp", "--", "desired-state/environment.yaml"])
        .output()
        .unwrap();
    let diff = String::from_utf8_lossy(&diff.stdout);
    let changed: Vec<&str> = diff
        .lines()
        .filter(|l| (l.starts_with('+') || l.starts_with('-')) && !l.starts_with("+++") && !l.starts_with("---"))
        .collect();
    assert_eq!(changed, vec!["-      ou: /GC/ASP/resident-records", "+      ou: /GC/ASP/tax"], "{diff}");
}
