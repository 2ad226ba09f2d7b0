//! Live state read from AWS: one reader per service, all built from one
//! [`ClientFactory`], gathered by [`AwsReader`] into a [`LiveState`].
//!
//! Every read ends as `Read::Ok`, `Read::Unknown` (the call or a listing
//! failed part-way: never an empty list in its place) or `Read::NotChecked`
//! (Organizations is not available to the credentials).

pub mod budgets;
pub mod client;
pub mod cloudformation;
pub mod cloudwatch;
pub mod config;
pub mod error;
pub mod iam;
pub mod model;
pub mod organizations;
pub mod sns;

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::StreamExt;

pub use client::{AwsSettings, ClientFactory, RegionClients};
pub use error::{Error, ErrorClass};

use model::{AccountLive, LiveState, Organization, Read, RegionLive};
use organizations::OrganizationFailure;

/// Scope of a read: regions, stack templates and the organization.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReadScope {
    /// Regions read in every account.
    pub regions: Vec<String>,
    /// Stacks whose template is read (GetTemplate); gcops reads templates
    /// only of the stacks it manages.
    pub stack_names: Vec<String>,
    /// Whether [`AwsReader::read_all`] also reads the organization.
    pub organization: bool,
}

/// Reads live state with clients from one [`ClientFactory`].
#[derive(Clone, Debug)]
pub struct AwsReader {
    factory: Arc<ClientFactory>,
}

impl AwsReader {
    pub fn new(factory: Arc<ClientFactory>) -> AwsReader {
        AwsReader { factory }
    }

    pub fn factory(&self) -> &Arc<ClientFactory> {
        &self.factory
    }

    /// Reads the OU tree and SCP attachments with the base credentials.
    ///
    /// Access denied and "not in an organization" give `NotChecked`; any
    /// other failure gives `Unknown`.
    pub async fn read_organization(&self) -> Read<Organization> {
        let caller = self.caller_account().await;
        let client = self.factory.organizations();
        match organizations::read_organization(&client, &caller).await {
            Ok(organization) => Read::ok(organization),
            Err(OrganizationFailure::NotAvailable(error)) => {
                tracing::debug!(error = %error.reason(), "organizations not available, not checked");
                Read::NotChecked { reason: error.reason() }
            }
            Err(OrganizationFailure::Failed(error)) => unknown(error),
        }
    }

    /// Reads every service of one member account; the reads run concurrently,
    /// and each fails on its own.
    pub async fn read_account(&self, account_id: &str, scope: &ReadScope) -> AccountLive {
        let iam = async {
            match self.factory.iam(account_id).await {
                Ok(client) => into_read(iam::read_iam(&client, account_id).await),
                Err(error) => unknown(error),
            }
        };
        let budgets = async {
            match self.factory.budgets(account_id).await {
                Ok(client) => into_read(budgets::read_budgets(&client, account_id).await),
                Err(error) => unknown(error),
            }
        };
        let regions = futures::future::join_all(
            scope.regions.iter().map(|region| async move { (region.clone(), self.read_region(account_id, region, scope).await) }),
        );

        let (iam, budgets, regions) = futures::join!(iam, budgets, regions);
        AccountLive { account_id: account_id.to_string(), iam, budgets, regions: regions.into_iter().collect() }
    }

    /// Reads many accounts, at most `concurrency` at a time. An account that
    /// is slow or fails occupies only one slot, and the others go on.
    pub async fn read_all(&self, accounts: &[String], scope: &ReadScope, concurrency: usize) -> LiveState {
        let organization = async { if scope.organization { Some(self.read_organization().await) } else { None } };
        let accounts = futures::stream::iter(accounts)
            .map(|account_id| async move { (account_id.clone(), self.read_account(account_id, scope).await) })
            .buffer_unordered(concurrency.max(1))
            .collect::<BTreeMap<String, AccountLive>>();

        let (organization, accounts) = futures::join!(organization, accounts);
        LiveState { organization, accounts }
    }

    async fn read_region(&self, account_id: &str, region: &str, scope: &ReadScope) -> RegionLive {
        let clients = match self.factory.region_clients(account_id, region).await {
            Ok(clients) => clients,
            Err(error) => {
                let reason = error.reason();
                return RegionLive {
                    stacks: Read::Unknown { reason: reason.clone() },
                    alarms: Read::Unknown { reason: reason.clone() },
                    topics: Read::Unknown { reason: reason.clone() },
                    config_rules: Read::Unknown { reason },
                };
            }
        };

        let (stacks, alarms, topics, config_rules) = futures::join!(
            cloudformation::read_stacks(&clients.cloudformation, account_id, region, &scope.stack_names),
            cloudwatch::read_alarms(&clients.cloudwatch, account_id, region),
            sns::read_topics(&clients.sns, account_id, region),
            config::read_config_rules(&clients.config, account_id, region),
        );
        RegionLive {
            stacks: into_read(stacks),
            alarms: into_read(alarms),
            topics: into_read(topics),
            config_rules: into_read(config_rules),
        }
    }

    /// Account id of the base credentials, for naming it in reasons; a label
    /// when STS cannot tell.
    async fn caller_account(&self) -> String {
        match self.factory.sts().get_caller_identity().send().await {
            Ok(identity) => identity.account().unwrap_or("base credentials").to_string(),
            Err(error) => {
                tracing::warn!(
                    error = %aws_smithy_types::error::display::DisplayErrorContext(&error),
                    "sts GetCallerIdentity failed with the base credentials"
                );
                "base credentials".to_string()
            }
        }
    }
}

fn into_read<T>(result: error::Result<T>) -> Read<T> {
    match result {
        Ok(value) => Read::ok(value),
        Err(error) => unknown(error),
    }
}

fn unknown<T>(error: Error) -> Read<T> {
    let reason = error.reason();
    tracing::warn!(class = %error.class(), error = %reason, "live read failed");
    Read::Unknown { reason }
}
