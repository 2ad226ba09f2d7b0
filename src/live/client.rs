//! The one place that builds AWS clients: endpoint override, regions,
//! assume-role into member accounts, retries and timeouts.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use aws_config::identity::IdentityCache;
use aws_config::retry::RetryConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::SharedCredentialsProvider;

use super::error::{Error, Result};

/// Region of the global services that gcops reads (Budgets, Organizations, IAM).
pub const GLOBAL_REGION: &str = "us-east-1";

/// Session name on every assumed role, so CloudTrail shows gcops' reads.
const SESSION_NAME: &str = "gcops";

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Bound on one HTTP attempt; a listing page that takes longer is retried.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);
/// Bound on one operation including its retries.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(120);

/// How gcops reaches AWS; the daemon's settings file maps into this.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AwsSettings {
    /// Regions read in every member account, e.g. `ap-northeast-1`.
    pub regions: Vec<String>,
    /// Role assumed in each member account (`arn:aws:iam::<id>:role/<role_name>`).
    pub role_name: String,
    /// Endpoint for every service, overriding `AWS_ENDPOINT_URL` (moto in tests).
    pub endpoint_url: Option<String>,
    /// Attempts per call, including the first; 1 disables retries.
    pub max_attempts: u32,
    /// Whether to assume `role_name` in member accounts; without it the base
    /// credentials read every account (one account, or tests).
    pub assume_role: bool,
}

impl Default for AwsSettings {
    fn default() -> Self {
        AwsSettings {
            regions: vec!["ap-northeast-1".to_string()],
            role_name: "GcopsReadOnly".to_string(),
            endpoint_url: None,
            max_attempts: 5,
            assume_role: true,
        }
    }
}

/// Builds and caches AWS clients: base credentials for the management
/// account, assumed-role credentials per member account.
///
/// Cheap to share behind an `Arc`; clients are cached per (account, region)
/// and credentials per account, so many readers reuse one STS session.
#[derive(Debug)]
pub struct ClientFactory {
    settings: AwsSettings,
    base: SdkConfig,
    /// Added to every service client, e.g. the request counter of the metrics.
    interceptors: Vec<aws_smithy_runtime_api::client::interceptors::SharedInterceptor>,
    accounts: Mutex<HashMap<String, SdkConfig>>,
    clients: Mutex<HashMap<(String, String), RegionClients>>,
}

/// Clients for one account in one region.
#[derive(Clone, Debug)]
pub struct RegionClients {
    pub cloudformation: aws_sdk_cloudformation::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub sns: aws_sdk_sns::Client,
    pub config: aws_sdk_config::Client,
}

impl ClientFactory {
    /// Loads the base configuration from the standard credential chain and
    /// environment (`AWS_PROFILE`, `AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_<SERVICE>`...).
    pub async fn new(settings: AwsSettings) -> ClientFactory {
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(url) = &settings.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        let base = loader.load().await;
        ClientFactory::with_base_config(settings, base)
    }

    /// Uses `base` for credentials and endpoints (tests pass static
    /// credentials for moto). Retry, timeouts, a missing region and an
    /// explicit endpoint come from `settings`.
    pub fn with_base_config(settings: AwsSettings, base: SdkConfig) -> ClientFactory {
        let has_region = base.region().is_some();
        let mut builder = base.into_builder();
        builder.set_retry_config(Some(RetryConfig::adaptive().with_max_attempts(settings.max_attempts.max(1))));
        builder.set_timeout_config(Some(
            TimeoutConfig::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                .operation_timeout(OPERATION_TIMEOUT)
                .build(),
        ));
        if let Some(url) = &settings.endpoint_url {
            builder.set_endpoint_url(Some(url.clone()));
        }
        if !has_region {
            let region = settings.regions.first().map(String::as_str).unwrap_or(GLOBAL_REGION);
            builder.set_region(Some(Region::new(region.to_string())));
        }
        ClientFactory {
            settings,
            base: builder.build(),
            interceptors: Vec::new(),
            accounts: Mutex::new(HashMap::new()),
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// Adds `interceptor` to every client built from now on.
    pub fn with_interceptor(
        mut self,
        interceptor: impl aws_smithy_runtime_api::client::interceptors::Intercept + 'static,
    ) -> ClientFactory {
        self.interceptors.push(aws_smithy_runtime_api::client::interceptors::SharedInterceptor::new(interceptor));
        self
    }

    pub fn settings(&self) -> &AwsSettings {
        &self.settings
    }

    /// The configuration with the base credentials (management account).
    pub fn base_config(&self) -> &SdkConfig {
        &self.base
    }

    /// Organizations client with the base credentials, in the global region.
    pub fn organizations(&self) -> aws_sdk_organizations::Client {
        let mut builder = aws_sdk_organizations::config::Builder::from(&self.base).region(Region::from_static(GLOBAL_REGION));
        self.interceptors.iter().for_each(|i| _ = builder.push_interceptor(i.clone()));
        aws_sdk_organizations::Client::from_conf(builder.build())
    }

    /// STS client with the base credentials.
    pub fn sts(&self) -> aws_sdk_sts::Client {
        let mut builder = aws_sdk_sts::config::Builder::from(&self.base);
        self.interceptors.iter().for_each(|i| _ = builder.push_interceptor(i.clone()));
        aws_sdk_sts::Client::from_conf(builder.build())
    }

    /// The configuration for one member account: assumed-role credentials
    /// (when `assume_role` is set), cached so that every client of the
    /// account shares one STS session until it expires.
    ///
    /// Assuming the role is lazy: a role that cannot be assumed fails the
    /// first call made with these credentials, not this function.
    pub async fn account_config(&self, account_id: &str) -> Result<SdkConfig> {
        validate_account_id(account_id)?;
        if !self.settings.assume_role {
            return Ok(self.base.clone());
        }
        if let Some(config) = self.lock_accounts().get(account_id) {
            return Ok(config.clone());
        }

        let role_arn = format!("arn:aws:iam::{account_id}:role/{}", self.settings.role_name);
        let provider = AssumeRoleProvider::builder(role_arn).session_name(SESSION_NAME).configure(&self.base).build().await;
        let config = self
            .base
            .clone()
            .into_builder()
            .credentials_provider(SharedCredentialsProvider::new(provider))
            .identity_cache(IdentityCache::lazy().build())
            .build();

        // Two tasks may race to build the same account; the first one kept wins,
        // so every client of the account shares one credentials cache.
        let mut accounts = self.lock_accounts();
        Ok(accounts.entry(account_id.to_string()).or_insert(config).clone())
    }

    /// Regional clients of one member account.
    pub async fn region_clients(&self, account_id: &str, region: &str) -> Result<RegionClients> {
        let key = (account_id.to_string(), region.to_string());
        if let Some(clients) = self.lock_clients().get(&key) {
            return Ok(clients.clone());
        }

        let config = self.account_config(account_id).await?;
        let region = Region::new(region.to_string());
        let mut cloudformation = aws_sdk_cloudformation::config::Builder::from(&config).region(region.clone());
        let mut cloudwatch = aws_sdk_cloudwatch::config::Builder::from(&config).region(region.clone());
        let mut sns = aws_sdk_sns::config::Builder::from(&config).region(region.clone());
        let mut config_service = aws_sdk_config::config::Builder::from(&config).region(region);
        for interceptor in &self.interceptors {
            cloudformation.push_interceptor(interceptor.clone());
            cloudwatch.push_interceptor(interceptor.clone());
            sns.push_interceptor(interceptor.clone());
            config_service.push_interceptor(interceptor.clone());
        }
        let clients = RegionClients {
            cloudformation: aws_sdk_cloudformation::Client::from_conf(cloudformation.build()),
            cloudwatch: aws_sdk_cloudwatch::Client::from_conf(cloudwatch.build()),
            sns: aws_sdk_sns::Client::from_conf(sns.build()),
            config: aws_sdk_config::Client::from_conf(config_service.build()),
        };
        Ok(self.lock_clients().entry(key).or_insert(clients).clone())
    }

    /// IAM client of one member account (IAM is global).
    pub async fn iam(&self, account_id: &str) -> Result<aws_sdk_iam::Client> {
        let config = self.account_config(account_id).await?;
        let mut builder = aws_sdk_iam::config::Builder::from(&config).region(Region::from_static(GLOBAL_REGION));
        self.interceptors.iter().for_each(|i| _ = builder.push_interceptor(i.clone()));
        Ok(aws_sdk_iam::Client::from_conf(builder.build()))
    }

    /// Budgets client of one member account (Budgets is global).
    pub async fn budgets(&self, account_id: &str) -> Result<aws_sdk_budgets::Client> {
        let config = self.account_config(account_id).await?;
        let mut builder = aws_sdk_budgets::config::Builder::from(&config).region(Region::from_static(GLOBAL_REGION));
        self.interceptors.iter().for_each(|i| _ = builder.push_interceptor(i.clone()));
        Ok(aws_sdk_budgets::Client::from_conf(builder.build()))
    }

    fn lock_accounts(&self) -> std::sync::MutexGuard<'_, HashMap<String, SdkConfig>> {
        // A panic while holding the lock cannot leave the map half-written
        // (single insert), so a poisoned lock is still usable.
        self.accounts.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn lock_clients(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), RegionClients>> {
        self.clients.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Checks that an account id is 12 ASCII digits, as AWS issues them.
pub fn validate_account_id(account_id: &str) -> Result<()> {
    if account_id.len() == 12 && account_id.bytes().all(|byte| byte.is_ascii_digit()) {
        Ok(())
    } else {
        Err(Error::InvalidAccountId { account: account_id.to_string() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_id_twelve_digits() {
        assert!(validate_account_id("111111111111").is_ok());
    }

    #[test]
    fn account_id_rejects_short() {
        assert!(validate_account_id("11111").is_err());
    }

    #[test]
    fn account_id_rejects_letters() {
        assert!(validate_account_id("11111111111a").is_err());
    }
}
