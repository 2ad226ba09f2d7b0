//! A live environment built from a desired state, for the demo and the
//! integration tests against moto.
//!
//! This module plays the part of the people and pipelines that created the
//! live accounts: it writes to AWS directly and owns no reconcile logic. The
//! reconcile pass never calls it.

use std::sync::Arc;

use aws_config::{Region, SdkConfig};

use crate::live::{AwsSettings, ClientFactory};

use crate::desired::model::{AlarmRule, Budget, ConfigRule, DesiredState, PermissionGrant, TemplateAssignment};

/// Role name assumed in member accounts. moto accepts any role, real AWS
/// needs one that trusts the caller.
pub const DEVENV_ROLE: &str = "OrganizationAccountAccessRole";

/// Errors of building the environment; each names account, service and operation.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("account {account}: {service} {operation} failed")]
    Aws {
        account: String,
        service: &'static str,
        operation: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("account {account}: no account named {name} in the environment")]
    UnknownAccount { account: String, name: String },
}

type Result<T, E = Error> = std::result::Result<T, E>;

fn aws_err<E: std::error::Error + Send + Sync + 'static>(
    account: &str,
    service: &'static str,
    operation: &'static str,
) -> impl FnOnce(E) -> Error {
    let account = account.to_string();
    move |e| Error::Aws { account, service, operation, source: Box::new(e) }
}

/// Acts in member accounts through the same client factory as the reader.
pub struct DevEnv {
    factory: Arc<ClientFactory>,
}

impl DevEnv {
    /// Uses the standard environment (`AWS_ENDPOINT_URL`, `AWS_ACCESS_KEY_ID`, ...)
    /// and assumes [`DEVENV_ROLE`] in member accounts.
    pub async fn from_env() -> DevEnv {
        let settings = AwsSettings { role_name: DEVENV_ROLE.to_string(), max_attempts: 2, ..AwsSettings::default() };
        DevEnv::new(Arc::new(ClientFactory::new(settings).await))
    }

    pub fn new(factory: Arc<ClientFactory>) -> DevEnv {
        DevEnv { factory }
    }

    /// Configuration acting as `account_id` in `region`.
    pub async fn config_for(&self, account_id: &str, region: &str) -> Result<SdkConfig> {
        let conf = self.factory.account_config(account_id).await.map_err(aws_err(account_id, "sts", "AssumeRole"))?;
        Ok(conf.to_builder().region(Region::new(region.to_string())).build())
    }

    /// Creates every resource the desired state names, in every target
    /// account, as a freshly provisioned environment would have them.
    pub async fn seed(&self, desired: &DesiredState) -> Result<()> {
        for doc in &desired.templates {
            self.seed_stack(desired, &doc.spec).await?;
        }
        for doc in &desired.grants {
            for id in account_ids(desired, &doc.spec.accounts)? {
                self.seed_grant(&id, &doc.spec).await?;
            }
        }
        for doc in &desired.alarms {
            let region = doc.spec.region.clone().unwrap_or_else(|| desired.home_region().to_string());
            for id in account_ids(desired, &doc.spec.accounts)? {
                self.seed_alarm(&id, &region, &doc.spec).await?;
            }
        }
        for doc in &desired.budgets {
            for id in budget_account_ids(desired, &doc.spec) {
                self.seed_budget(&id, &doc.spec).await?;
            }
        }
        for doc in &desired.config_rules {
            let region = doc.spec.region.clone().unwrap_or_else(|| desired.home_region().to_string());
            for id in account_ids(desired, &doc.spec.accounts)? {
                self.seed_config_rule(&id, &region, &doc.spec).await?;
            }
        }
        Ok(())
    }

    async fn seed_stack(&self, desired: &DesiredState, spec: &TemplateAssignment) -> Result<()> {
        let key = (spec.template.clone(), spec.version.clone());
        let Some(version) = desired.template_versions.get(&key) else {
            return Ok(());
        };
        let regions = if spec.regions.is_empty() { vec![desired.home_region().to_string()] } else { spec.regions.clone() };
        let stack_name = spec.stack_name.clone().unwrap_or_else(|| format!("gcops-{}", spec.template));
        for id in account_ids(desired, &spec.accounts)? {
            for region in &regions {
                let cfn = aws_sdk_cloudformation::Client::new(&self.config_for(&id, region).await?);
                let mut req = cfn.create_stack().stack_name(&stack_name).template_body(&version.body);
                for (k, v) in &spec.parameters {
                    req = req.parameters(
                        aws_sdk_cloudformation::types::Parameter::builder().parameter_key(k).parameter_value(v).build(),
                    );
                }
                req = req.capabilities(aws_sdk_cloudformation::types::Capability::CapabilityNamedIam).tags(
                    aws_sdk_cloudformation::types::Tag::builder().key("gcops:template-version").value(&spec.version).build(),
                );
                req.send().await.map_err(aws_err(&id, "cloudformation", "CreateStack"))?;
            }
        }
        Ok(())
    }

    async fn seed_grant(&self, account_id: &str, grant: &PermissionGrant) -> Result<()> {
        let iam = aws_sdk_iam::Client::new(&self.config_for(account_id, "ap-northeast-1").await?);
        let mut req = iam
            .create_role()
            .role_name(&grant.role_name)
            .assume_role_policy_document(crate::diff::policy::trust_policy(&grant.trust).to_string())
            .tags(
                aws_sdk_iam::types::Tag::builder().key("gcops:managed-by").value("gcops").build().expect("key and value are set"),
            );
        if let Some(boundary) = &grant.permission_boundary {
            req = req.permissions_boundary(boundary);
        }
        req.send().await.map_err(aws_err(account_id, "iam", "CreateRole"))?;
        for (name, doc) in &grant.inline_policies {
            iam.put_role_policy()
                .role_name(&grant.role_name)
                .policy_name(name)
                .policy_document(doc.to_string())
                .send()
                .await
                .map_err(aws_err(account_id, "iam", "PutRolePolicy"))?;
        }
        for arn in &grant.managed_policies {
            iam.attach_role_policy().role_name(&grant.role_name).policy_arn(arn).send().await.map_err(aws_err(
                account_id,
                "iam",
                "AttachRolePolicy",
            ))?;
        }
        Ok(())
    }

    async fn seed_alarm(&self, account_id: &str, region: &str, rule: &AlarmRule) -> Result<()> {
        let conf = self.config_for(account_id, region).await?;
        let sns = aws_sdk_sns::Client::new(&conf);
        let topic =
            sns.create_topic().name(&rule.notify.topic_name).send().await.map_err(aws_err(account_id, "sns", "CreateTopic"))?;
        let topic_arn = topic.topic_arn().unwrap_or_default().to_string();
        let existing = sns.list_subscriptions_by_topic().topic_arn(&topic_arn).send().await.map_err(aws_err(
            account_id,
            "sns",
            "ListSubscriptionsByTopic",
        ))?;
        for sub in &rule.notify.subscriptions {
            let present = existing
                .subscriptions()
                .iter()
                .any(|s| s.protocol() == Some(sub.protocol.as_str()) && s.endpoint() == Some(sub.endpoint.as_str()));
            if !present {
                sns.subscribe()
                    .topic_arn(&topic_arn)
                    .protocol(&sub.protocol)
                    .endpoint(&sub.endpoint)
                    .send()
                    .await
                    .map_err(aws_err(account_id, "sns", "Subscribe"))?;
            }
        }
        put_alarm(&aws_sdk_cloudwatch::Client::new(&conf), account_id, rule, &topic_arn, rule.threshold).await
    }

    async fn seed_budget(&self, account_id: &str, budget: &Budget) -> Result<()> {
        use aws_sdk_budgets::types::{
            Budget as AwsBudget, BudgetType, ComparisonOperator, Notification, NotificationType, NotificationWithSubscribers,
            Spend, Subscriber, SubscriptionType, ThresholdType, TimeUnit,
        };
        let client = aws_sdk_budgets::Client::new(&self.config_for(account_id, "us-east-1").await?);
        let limit = Spend::builder()
            .amount(format_amount(budget.monthly_amount))
            .unit(budget.unit.clone().unwrap_or_else(|| "USD".to_string()))
            .build()
            .expect("amount and unit are set");
        let aws_budget = AwsBudget::builder()
            .budget_name(&budget.budget_name)
            .budget_type(BudgetType::Cost)
            .time_unit(TimeUnit::Monthly)
            .budget_limit(limit)
            .build()
            .expect("name, type and time unit are set");
        let mut req = client.create_budget().account_id(account_id).budget(aws_budget);
        for threshold in &budget.thresholds {
            let notification = Notification::builder()
                .notification_type(NotificationType::Actual)
                .comparison_operator(ComparisonOperator::GreaterThan)
                .threshold(*threshold)
                .threshold_type(ThresholdType::Percentage)
                .build()
                .expect("type, operator and threshold are set");
            let subscribers = budget
                .addresses
                .iter()
                .map(|a| {
                    Subscriber::builder()
                        .subscription_type(SubscriptionType::Email)
                        .address(a)
                        .build()
                        .expect("type and address are set")
                })
                .collect::<Vec<_>>();
            req = req.notifications_with_subscribers(
                NotificationWithSubscribers::builder()
                    .notification(notification)
                    .set_subscribers(Some(subscribers))
                    .build()
                    .expect("notification and subscribers are set"),
            );
        }
        req.send().await.map_err(aws_err(account_id, "budgets", "CreateBudget"))?;
        Ok(())
    }

    async fn seed_config_rule(&self, account_id: &str, region: &str, rule: &ConfigRule) -> Result<()> {
        use aws_sdk_config::types::{ConfigRule as AwsRule, MaximumExecutionFrequency, Owner, Source};
        let client = aws_sdk_config::Client::new(&self.config_for(account_id, region).await?);
        let source = Source::builder()
            .owner(Owner::from(rule.source.owner.as_str()))
            .source_identifier(&rule.source.identifier)
            .build()
            .expect("owner is set");
        let mut builder = AwsRule::builder().config_rule_name(&rule.rule_name).source(source);
        if let Some(d) = &rule.description {
            builder = builder.description(d);
        }
        if !rule.input_parameters.is_empty() {
            builder = builder.input_parameters(serde_json::to_string(&rule.input_parameters).expect("a string map serialises"));
        }
        if let Some(f) = &rule.maximum_execution_frequency {
            builder = builder.maximum_execution_frequency(MaximumExecutionFrequency::from(f.as_str()));
        }
        client.put_config_rule().config_rule(builder.build()).send().await.map_err(aws_err(
            account_id,
            "config",
            "PutConfigRule",
        ))?;
        Ok(())
    }
}

async fn put_alarm(
    cw: &aws_sdk_cloudwatch::Client,
    account_id: &str,
    rule: &AlarmRule,
    topic_arn: &str,
    threshold: f64,
) -> Result<()> {
    use aws_sdk_cloudwatch::types::{ComparisonOperator, Dimension, Statistic};
    let mut req = cw
        .put_metric_alarm()
        .alarm_name(&rule.alarm_name)
        .namespace(&rule.namespace)
        .metric_name(&rule.metric_name)
        .statistic(Statistic::from(rule.statistic.as_str()))
        .period(rule.period)
        .evaluation_periods(rule.evaluation_periods)
        .threshold(threshold)
        .comparison_operator(ComparisonOperator::from(rule.comparison_operator.as_str()))
        .alarm_actions(topic_arn);
    if let Some(d) = &rule.description {
        req = req.alarm_description(d);
    }
    if let Some(t) = &rule.treat_missing_data {
        req = req.treat_missing_data(t);
    }
    for (name, value) in &rule.dimensions {
        req = req.dimensions(Dimension::builder().name(name).value(value).build());
    }
    req.send().await.map_err(aws_err(account_id, "cloudwatch", "PutMetricAlarm"))?;
    Ok(())
}

/// Budgets takes amounts as decimal strings.
fn format_amount(amount: f64) -> String {
    format!("{amount:.1}")
}

fn account_ids(desired: &DesiredState, names: &[String]) -> Result<Vec<String>> {
    names
        .iter()
        .map(|n| {
            desired
                .account_by_name(n)
                .map(|a| a.id.clone())
                .ok_or_else(|| Error::UnknownAccount { account: "-".to_string(), name: n.clone() })
        })
        .collect()
}

fn budget_account_ids(desired: &DesiredState, budget: &Budget) -> Vec<String> {
    desired
        .accounts()
        .iter()
        .filter(|a| {
            if budget.accounts.is_empty() {
                a.system.as_deref() == Some(budget.system.as_str())
            } else {
                budget.accounts.contains(&a.name)
            }
        })
        .map(|a| a.id.clone())
        .collect()
}

/// Out-of-band changes the demo makes, as an operator or vendor would by
/// hand in the console.
#[derive(Clone, Debug, PartialEq)]
pub struct HandChange {
    pub account_id: String,
    pub description: String,
}

impl DevEnv {
    /// Makes the demo's out-of-band changes: an inline policy added by hand
    /// to the first vendor grant's role, the first multi-account alarm's
    /// threshold raised in one account, and a parameter of a mandatory
    /// template's stack changed in one account.
    pub async fn make_hand_changes(&self, desired: &DesiredState) -> Result<Vec<HandChange>> {
        let mut changes = Vec::new();

        if let Some(grant) = desired.grants.iter().find(|g| g.spec.principal.kind == crate::desired::model::PrincipalKind::Vendor)
        {
            let id = account_ids(desired, &grant.spec.accounts[..1])?.remove(0);
            let iam = aws_sdk_iam::Client::new(&self.config_for(&id, "ap-northeast-1").await?);
            let policy = serde_json::json!({
                "Version": "2012-10-17",
                "Statement": [{ "Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": "*" }]
            });
            iam.put_role_policy()
                .role_name(&grant.spec.role_name)
                .policy_name("HandAddedS3Read")
                .policy_document(policy.to_string())
                .send()
                .await
                .map_err(aws_err(&id, "iam", "PutRolePolicy"))?;
            changes.push(HandChange {
                account_id: id,
                description: format!("inline policy HandAddedS3Read added to role {}", grant.spec.role_name),
            });
        }

        if let Some(alarm) = desired.alarms.iter().find(|a| a.spec.accounts.len() > 1).or(desired.alarms.first()) {
            let id = account_ids(desired, &alarm.spec.accounts[..1])?.remove(0);
            let region = alarm.spec.region.clone().unwrap_or_else(|| desired.home_region().to_string());
            let conf = self.config_for(&id, &region).await?;
            let topic_arn = format!("arn:aws:sns:{region}:{id}:{}", alarm.spec.notify.topic_name);
            let raised = alarm.spec.threshold + 15.0;
            put_alarm(&aws_sdk_cloudwatch::Client::new(&conf), &id, &alarm.spec, &topic_arn, raised).await?;
            changes.push(HandChange {
                account_id: id,
                description: format!("alarm {} threshold {} -> {raised}", alarm.spec.alarm_name, alarm.spec.threshold),
            });
        }

        if let Some(assignment) = desired.templates.iter().find(|t| !t.spec.parameters.is_empty()) {
            let spec = &assignment.spec;
            let name = spec.accounts.last().cloned().unwrap_or_default();
            let id = account_ids(desired, &[name])?.remove(0);
            let region = spec.regions.first().cloned().unwrap_or_else(|| desired.home_region().to_string());
            let stack_name = spec.stack_name.clone().unwrap_or_else(|| format!("gcops-{}", spec.template));
            let cfn = aws_sdk_cloudformation::Client::new(&self.config_for(&id, &region).await?);
            let (changed_key, _) = spec.parameters.iter().next().expect("checked non-empty above");
            let mut req = cfn.update_stack().stack_name(&stack_name).use_previous_template(true);
            for (k, v) in &spec.parameters {
                let value = if k == changed_key { format!("changed-by-hand-{v}") } else { v.clone() };
                req = req.parameters(
                    aws_sdk_cloudformation::types::Parameter::builder().parameter_key(k).parameter_value(value).build(),
                );
            }
            req.capabilities(aws_sdk_cloudformation::types::Capability::CapabilityNamedIam).send().await.map_err(aws_err(
                &id,
                "cloudformation",
                "UpdateStack",
            ))?;
            changes
                .push(HandChange { account_id: id, description: format!("stack {stack_name} parameter {changed_key} changed") });
        }

        Ok(changes)
    }
}
