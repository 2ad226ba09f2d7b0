//! Live readers against the moto gateway: resources are created in member
//! accounts through assumed roles, then read back with `AwsReader`.

mod support;

use std::sync::Arc;

use aws_config::SdkConfig;
use gcops::live::model::{AccountLive, Read};
use gcops::live::{AwsReader, AwsSettings, ClientFactory, ReadScope};
use support::moto::{MotoGateway, REGION};

const ACCOUNT_A: &str = "111111111111";
const ACCOUNT_B: &str = "222222222222";

const TRUST_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRole"}]}"#;
const INLINE_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;

fn scope() -> ReadScope {
    ReadScope { regions: vec![REGION.to_string()], stack_names: Vec::new(), organization: false }
}

async fn reader(gateway: &MotoGateway) -> AwsReader {
    AwsReader::new(Arc::new(gateway.client_factory().await))
}

async fn read(gateway: &MotoGateway, account: &str, scope: &ReadScope) -> AccountLive {
    reader(gateway).await.read_account(account, scope).await
}

fn ok<T: std::fmt::Debug>(read: &Read<T>) -> &T {
    match read {
        Read::Ok { value } => value,
        other => panic!("expected Read::Ok, got {other:?}"),
    }
}

fn region_of(account: &AccountLive) -> &gcops::live::model::RegionLive {
    account.regions.get(REGION).expect("region read")
}

async fn member(gateway: &MotoGateway, account: &str) -> SdkConfig {
    gateway.account_sdk_config(account).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iam_role_details() {
    let gateway = MotoGateway::start();
    let iam = aws_sdk_iam::Client::new(&member(&gateway, ACCOUNT_A).await);

    let boundary = iam.create_policy().policy_name("Boundary").policy_document(INLINE_POLICY).send().await.unwrap();
    let boundary_arn = boundary.policy().unwrap().arn().unwrap().to_string();
    iam.create_role()
        .role_name("vendor-operator")
        .path("/gc/")
        .assume_role_policy_document(TRUST_POLICY)
        .permissions_boundary(&boundary_arn)
        .tags(aws_sdk_iam::types::Tag::builder().key("owner").value("gcops").build().unwrap())
        .send()
        .await
        .unwrap();
    iam.put_role_policy()
        .role_name("vendor-operator")
        .policy_name("ReadObjects")
        .policy_document(INLINE_POLICY)
        .send()
        .await
        .unwrap();
    iam.attach_role_policy()
        .role_name("vendor-operator")
        .policy_arn("arn:aws:iam::aws:policy/ReadOnlyAccess")
        .send()
        .await
        .unwrap();
    iam.create_user().user_name("auditor").send().await.unwrap();

    let live = read(&gateway, ACCOUNT_A, &scope()).await;
    let iam_live = ok(&live.iam);
    let role = iam_live.roles.iter().find(|role| role.name == "vendor-operator").expect("role read");

    assert_eq!(role.path, "/gc/");
    assert_eq!(role.arn, "arn:aws:iam::111111111111:role/gc/vendor-operator");
    assert_eq!(role.permission_boundary.as_deref(), Some(boundary_arn.as_str()));
    assert_eq!(role.managed_policy_arns, vec!["arn:aws:iam::aws:policy/ReadOnlyAccess".to_string()]);
    assert_eq!(role.tags.get("owner").map(String::as_str), Some("gcops"));
    assert_eq!(iam_live.users, vec!["auditor".to_string()]);

    // moto 5.2.6 returns the trust policy as plain JSON but percent-encodes
    // inline policies in GetAccountAuthorizationDetails; real IAM encodes
    // both. The reader keeps either as returned.
    assert_eq!(role.trust_policy, TRUST_POLICY);
    let inline = role.inline_policies.get("ReadObjects").expect("inline policy read");
    let decoded_inline = percent_encoding::percent_decode_str(inline).decode_utf8().unwrap();
    assert_eq!(decoded_inline, INLINE_POLICY);
    assert!(inline.starts_with("%7B"), "inline policy: {inline}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iam_accounts_kept_apart() {
    let gateway = MotoGateway::start();
    let iam = aws_sdk_iam::Client::new(&member(&gateway, ACCOUNT_A).await);
    iam.create_role().role_name("only-in-a").assume_role_policy_document(TRUST_POLICY).send().await.unwrap();

    let live_b = read(&gateway, ACCOUNT_B, &scope()).await;

    assert!(ok(&live_b.iam).roles.iter().all(|role| role.name != "only-in-a"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stacks_paginated_with_templates() {
    let gateway = MotoGateway::start();
    let cloudformation = aws_sdk_cloudformation::Client::new(&member(&gateway, ACCOUNT_A).await);
    let template = "Parameters:\n  Env:\n    Type: String\nResources:\n  Topic:\n    Type: AWS::SNS::Topic\n    Properties:\n      TopicName: !Sub '${Env}-alerts'\n";

    // moto returns 50 stacks per DescribeStacks page.
    for index in 0..52 {
        cloudformation
            .create_stack()
            .stack_name(format!("stack-{index:02}"))
            .template_body(template)
            .parameters(
                aws_sdk_cloudformation::types::Parameter::builder()
                    .parameter_key("Env")
                    .parameter_value(format!("env{index}"))
                    .build(),
            )
            .tags(aws_sdk_cloudformation::types::Tag::builder().key("gcops:commit").value("abc123").build())
            .send()
            .await
            .unwrap();
    }

    let scope = ReadScope { stack_names: vec!["stack-07".to_string()], ..scope() };
    let live = read(&gateway, ACCOUNT_A, &scope).await;
    let stacks = ok(&region_of(&live).stacks);
    let stack = stacks.iter().find(|stack| stack.name == "stack-07").expect("stack read");
    let other = stacks.iter().find(|stack| stack.name == "stack-08").expect("stack read");

    assert_eq!(stacks.len(), 52);
    assert_eq!(stack.status, "CREATE_COMPLETE");
    assert_eq!(stack.parameters.get("Env").map(String::as_str), Some("env7"));
    assert_eq!(stack.tags.get("gcops:commit").map(String::as_str), Some("abc123"));
    assert_eq!(stack.template_body.as_deref(), Some(template));
    assert_eq!(other.template_body, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alarms_through_cbor_bridge() {
    let gateway = MotoGateway::start();
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&member(&gateway, ACCOUNT_A).await);
    cloudwatch
        .put_metric_alarm()
        .alarm_name("cpu-high")
        .alarm_description("CPU above 80%")
        .namespace("AWS/EC2")
        .metric_name("CPUUtilization")
        .dimensions(aws_sdk_cloudwatch::types::Dimension::builder().name("InstanceId").value("i-0123").build())
        .statistic(aws_sdk_cloudwatch::types::Statistic::Average)
        .period(300)
        .evaluation_periods(2)
        .threshold(80.0)
        .comparison_operator(aws_sdk_cloudwatch::types::ComparisonOperator::GreaterThanThreshold)
        .treat_missing_data("breaching")
        .alarm_actions("arn:aws:sns:ap-northeast-1:111111111111:alerts")
        .send()
        .await
        .unwrap();

    let live_a = read(&gateway, ACCOUNT_A, &scope()).await;
    let live_b = read(&gateway, ACCOUNT_B, &scope()).await;
    let alarms = ok(&region_of(&live_a).alarms);
    let alarm = &alarms[0];

    assert_eq!(alarms.len(), 1);
    assert_eq!(alarm.name, "cpu-high");
    assert_eq!(alarm.description.as_deref(), Some("CPU above 80%"));
    assert_eq!(alarm.namespace.as_deref(), Some("AWS/EC2"));
    assert_eq!(alarm.metric_name.as_deref(), Some("CPUUtilization"));
    assert_eq!(alarm.dimensions.get("InstanceId").map(String::as_str), Some("i-0123"));
    assert_eq!(alarm.statistic.as_deref(), Some("Average"));
    assert_eq!(alarm.period, Some(300));
    assert_eq!(alarm.evaluation_periods, Some(2));
    assert_eq!(alarm.threshold, Some(80.0));
    assert_eq!(alarm.comparison_operator.as_deref(), Some("GreaterThanThreshold"));
    assert_eq!(alarm.treat_missing_data.as_deref(), Some("breaching"));
    assert_eq!(alarm.alarm_actions, vec!["arn:aws:sns:ap-northeast-1:111111111111:alerts".to_string()]);
    assert!(ok(&region_of(&live_b).alarms).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topics_paginated_with_subscriptions() {
    let gateway = MotoGateway::start();
    let sns = aws_sdk_sns::Client::new(&member(&gateway, ACCOUNT_A).await);

    // moto returns 100 topics, and 100 subscriptions, per page.
    let mut arns = Vec::new();
    for index in 0..101 {
        let topic = sns.create_topic().name(format!("topic-{index:03}")).send().await.unwrap();
        arns.push(topic.topic_arn().unwrap().to_string());
    }
    for index in 0..101 {
        sns.subscribe()
            .topic_arn(&arns[0])
            .protocol("email")
            .endpoint(format!("ops{index:03}@example.com"))
            .send()
            .await
            .unwrap();
    }
    sns.subscribe().topic_arn(&arns[1]).protocol("email").endpoint("duty@example.com").send().await.unwrap();

    let live = read(&gateway, ACCOUNT_A, &scope()).await;
    let topics = ok(&region_of(&live).topics);
    let first = topics.iter().find(|topic| topic.name == "topic-000").expect("topic read");
    let second = topics.iter().find(|topic| topic.name == "topic-001").expect("topic read");

    assert_eq!(topics.len(), 101);
    assert_eq!(first.arn, arns[0]);
    assert_eq!(first.subscriptions.len(), 101);
    assert_eq!(second.subscriptions, vec![("email".to_string(), "duty@example.com".to_string())]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn budgets_with_subscribers() {
    let gateway = MotoGateway::start();
    let budgets = aws_sdk_budgets::Client::new(&member(&gateway, ACCOUNT_A).await);
    let notification = aws_sdk_budgets::types::Notification::builder()
        .notification_type(aws_sdk_budgets::types::NotificationType::Actual)
        .comparison_operator(aws_sdk_budgets::types::ComparisonOperator::GreaterThan)
        .threshold(80.0)
        .threshold_type(aws_sdk_budgets::types::ThresholdType::Percentage)
        .build()
        .unwrap();
    budgets
        .create_budget()
        .account_id(ACCOUNT_A)
        .budget(
            aws_sdk_budgets::types::Budget::builder()
                .budget_name("jumin-monthly")
                .budget_type(aws_sdk_budgets::types::BudgetType::Cost)
                .time_unit(aws_sdk_budgets::types::TimeUnit::Monthly)
                .budget_limit(aws_sdk_budgets::types::Spend::builder().amount("1000").unit("USD").build().unwrap())
                .build()
                .unwrap(),
        )
        .notifications_with_subscribers(
            aws_sdk_budgets::types::NotificationWithSubscribers::builder()
                .notification(notification)
                .subscribers(
                    aws_sdk_budgets::types::Subscriber::builder()
                        .subscription_type(aws_sdk_budgets::types::SubscriptionType::Email)
                        .address("finance@example.com")
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();

    let live = read(&gateway, ACCOUNT_A, &scope()).await;
    let budgets = ok(&live.budgets);
    let budget = &budgets[0];
    let notification = &budget.notifications[0];

    assert_eq!(budgets.len(), 1);
    assert_eq!(budget.name, "jumin-monthly");
    assert_eq!(budget.budget_type, "COST");
    assert_eq!(budget.time_unit, "MONTHLY");
    assert_eq!(budget.limit_amount.as_deref().map(|amount| amount.parse::<f64>().unwrap()), Some(1000.0));
    assert_eq!(budget.limit_unit.as_deref(), Some("USD"));
    assert_eq!(notification.notification_type, "ACTUAL");
    assert_eq!(notification.comparison_operator, "GREATER_THAN");
    assert_eq!(notification.threshold, 80.0);
    assert_eq!(notification.threshold_type, "PERCENTAGE");
    assert_eq!(notification.addresses, vec!["finance@example.com".to_string()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_rules_paginated() {
    let gateway = MotoGateway::start();
    let config = aws_sdk_config::Client::new(&member(&gateway, ACCOUNT_A).await);

    // moto returns 25 rules per DescribeConfigRules page.
    for index in 0..27 {
        config
            .put_config_rule()
            .config_rule(
                aws_sdk_config::types::ConfigRule::builder()
                    .config_rule_name(format!("password-policy-{index:02}"))
                    .description("IAM password policy")
                    .source(
                        aws_sdk_config::types::Source::builder()
                            .owner(aws_sdk_config::types::Owner::Aws)
                            .source_identifier("IAM_PASSWORD_POLICY")
                            .build()
                            .unwrap(),
                    )
                    .input_parameters(r#"{"MinimumPasswordLength":"14"}"#)
                    .maximum_execution_frequency(aws_sdk_config::types::MaximumExecutionFrequency::TwentyFourHours)
                    .build(),
            )
            .send()
            .await
            .unwrap();
    }

    let live = read(&gateway, ACCOUNT_A, &scope()).await;
    let rules = ok(&region_of(&live).config_rules);
    let rule = &rules[0];

    assert_eq!(rules.len(), 27);
    assert_eq!(rule.name, "password-policy-00");
    assert_eq!(rule.owner, "AWS");
    assert_eq!(rule.identifier, "IAM_PASSWORD_POLICY");
    assert_eq!(rule.input_parameters.get("MinimumPasswordLength").map(String::as_str), Some("14"));
    assert_eq!(rule.maximum_execution_frequency.as_deref(), Some("TwentyFour_Hours"));
    assert_eq!(rule.state.as_deref(), Some("ACTIVE"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn organization_tree_and_policies() {
    let gateway = MotoGateway::start();
    let organizations = aws_sdk_organizations::Client::from_conf(
        aws_sdk_organizations::config::Builder::from(&gateway.sdk_config().await)
            .region(aws_config::Region::from_static("us-east-1"))
            .build(),
    );
    organizations
        .create_organization()
        .feature_set(aws_sdk_organizations::types::OrganizationFeatureSet::All)
        .send()
        .await
        .unwrap();
    let roots = organizations.list_roots().send().await.unwrap();
    let root_id = roots.roots()[0].id().unwrap().to_string();
    let gc = organizations.create_organizational_unit().parent_id(&root_id).name("GC").send().await.unwrap();
    let gc_id = gc.organizational_unit().unwrap().id().unwrap().to_string();
    let asp = organizations.create_organizational_unit().parent_id(&gc_id).name("ASP").send().await.unwrap();
    let asp_id = asp.organizational_unit().unwrap().id().unwrap().to_string();
    let created = organizations.create_account().account_name("jumin").email("jumin@example.com").send().await.unwrap();
    let account_id = created.create_account_status().unwrap().account_id().unwrap().to_string();
    organizations
        .move_account()
        .account_id(&account_id)
        .source_parent_id(&root_id)
        .destination_parent_id(&asp_id)
        .send()
        .await
        .unwrap();
    let policy = organizations
        .create_policy()
        .name("DenyRegions")
        .description("deny other regions")
        .content(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}"#)
        .r#type(aws_sdk_organizations::types::PolicyType::ServiceControlPolicy)
        .send()
        .await
        .unwrap();
    let policy_id = policy.policy().unwrap().policy_summary().unwrap().id().unwrap().to_string();
    organizations.attach_policy().policy_id(&policy_id).target_id(&gc_id).send().await.unwrap();
    organizations.attach_policy().policy_id(&policy_id).target_id(&account_id).send().await.unwrap();

    let read = reader(&gateway).await.read_organization().await;
    let organization = ok(&read);

    assert_eq!(organization.account_ous.get(&account_id).map(String::as_str), Some("/GC/ASP"));
    assert_eq!(organization.account_ous.get("123456789012").map(String::as_str), Some("/"));
    assert!(organization.ou_policies["/GC"].contains(&"DenyRegions".to_string()));
    assert!(!organization.ou_policies["/GC/ASP"].contains(&"DenyRegions".to_string()));
    assert!(organization.account_policies[&account_id].contains(&"DenyRegions".to_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn organization_not_in_use() {
    let gateway = MotoGateway::start();

    let read = reader(&gateway).await.read_organization().await;

    let Read::NotChecked { reason } = read else {
        panic!("expected NotChecked, got {read:?}");
    };
    assert!(reason.contains("ListRoots"), "reason: {reason}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_endpoint_unknown() {
    // A port that was free a moment ago: nothing listens there.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let settings = AwsSettings {
        regions: vec![REGION.to_string()],
        role_name: "GcopsReadOnly".to_string(),
        endpoint_url: Some(endpoint.clone()),
        max_attempts: 1,
        assume_role: false,
    };
    let base = support::moto::sdk_config(&endpoint, REGION).await;
    let reader = AwsReader::new(Arc::new(ClientFactory::with_base_config(settings, base)));

    let live = reader.read_account(ACCOUNT_A, &scope()).await;

    let Read::Unknown { reason } = &live.iam else {
        panic!("expected Unknown, got {:?}", live.iam);
    };
    assert!(reason.contains("account 111111111111"), "reason: {reason}");
    assert!(reason.contains("iam GetAccountAuthorizationDetails"), "reason: {reason}");
    assert!(reason.contains("endpoint unreachable"), "reason: {reason}");
    assert!(!reason.contains("testing"), "reason must not contain credentials: {reason}");
    assert!(matches!(region_of(&live).alarms, Read::Unknown { .. }));
    assert!(matches!(region_of(&live).topics, Read::Unknown { .. }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_all_many_accounts() {
    let gateway = MotoGateway::start();
    for account in [ACCOUNT_A, ACCOUNT_B] {
        let sns = aws_sdk_sns::Client::new(&member(&gateway, account).await);
        sns.create_topic().name(format!("alerts-{account}")).send().await.unwrap();
    }
    let accounts = vec![ACCOUNT_A.to_string(), ACCOUNT_B.to_string(), "not-an-account".to_string()];
    let scope = ReadScope { organization: true, ..scope() };

    let state = reader(&gateway).await.read_all(&accounts, &scope, 2).await;

    let topics_b = ok(&region_of(&state.accounts[ACCOUNT_B]).topics);
    assert_eq!(state.accounts.len(), 3);
    assert_eq!(topics_b.len(), 1);
    assert_eq!(topics_b[0].name, "alerts-222222222222");
    assert!(matches!(state.accounts["not-an-account"].iam, Read::Unknown { .. }));
    assert!(matches!(state.organization, Some(Read::NotChecked { .. })));
}
