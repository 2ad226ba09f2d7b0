//! Organizations reader: the OU tree, where each account sits in it, and the
//! SCPs attached to OUs and accounts. Uses the base (management or delegated
//! administrator) credentials.

use aws_sdk_organizations::error::ProvideErrorMetadata;
use aws_sdk_organizations::types::PolicyType;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use futures::{StreamExt, TryStreamExt, stream};

use super::error::{CallSite, Error, ErrorClass};
use super::model::Organization;

const SERVICE: &str = "organizations";

/// Calls in flight at once; Organizations allows only a few requests per
/// second per account, so more would mostly be throttled.
const CONCURRENCY: usize = 4;

/// Error code of an account that is not in an organization.
const NOT_IN_USE_CODE: &str = "AWSOrganizationsNotInUseException";

/// Why the organization could not be read.
#[derive(Debug)]
pub enum OrganizationFailure {
    /// The caller has no Organizations access, or there is no organization:
    /// gcops reports this as not checked.
    NotAvailable(Error),
    /// A call failed otherwise: the state is unknown.
    Failed(Error),
}

/// One parent (the root or an OU) and its path from the root.
struct Parent {
    id: String,
    path: String,
}

/// What one parent contains.
struct ParentContents {
    path: String,
    child_ous: Vec<Parent>,
    account_ids: Vec<String>,
    policies: Vec<String>,
}

/// Reads the whole OU tree from the root down, breadth first.
pub async fn read_organization(
    client: &aws_sdk_organizations::Client,
    caller_account: &str,
) -> std::result::Result<Organization, OrganizationFailure> {
    let reader = OrganizationReader { client, caller_account };

    let mut organization = Organization::default();
    let mut level = reader.roots().await?;
    let mut account_ids = Vec::new();

    while !level.is_empty() {
        let contents: Vec<ParentContents> =
            stream::iter(level).map(|parent| reader.contents(parent)).buffered(CONCURRENCY).try_collect().await?;

        level = Vec::new();
        for content in contents {
            for account_id in content.account_ids {
                organization.account_ous.insert(account_id.clone(), content.path.clone());
                account_ids.push(account_id);
            }
            organization.ou_policies.insert(content.path, content.policies);
            level.extend(content.child_ous);
        }
    }

    let account_policies: Vec<(String, Vec<String>)> = stream::iter(account_ids)
        .map(|account_id| async {
            let policies = reader.policies(&account_id).await?;
            Ok::<_, OrganizationFailure>((account_id, policies))
        })
        .buffered(CONCURRENCY)
        .try_collect()
        .await?;
    organization.account_policies.extend(account_policies);

    Ok(organization)
}

struct OrganizationReader<'a> {
    client: &'a aws_sdk_organizations::Client,
    caller_account: &'a str,
}

impl OrganizationReader<'_> {
    fn site(&self, operation: &'static str) -> CallSite {
        CallSite { account: self.caller_account.to_string(), region: None, service: SERVICE, operation }
    }

    /// Wraps a failed call; access denied and "no organization" mean the
    /// organization is not available to gcops rather than unknown.
    fn failure<E>(&self, operation: &'static str, error: SdkError<E, HttpResponse>) -> OrganizationFailure
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let not_in_use = error.code() == Some(NOT_IN_USE_CODE);
        let error = Error::call(self.site(operation), error);
        if not_in_use || error.class() == ErrorClass::AccessDenied {
            OrganizationFailure::NotAvailable(error)
        } else {
            OrganizationFailure::Failed(error)
        }
    }

    async fn roots(&self) -> std::result::Result<Vec<Parent>, OrganizationFailure> {
        let mut roots = Vec::new();
        let mut pages = self.client.list_roots().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|error| self.failure("ListRoots", error))?;
            for root in page.roots() {
                roots.push(Parent { id: self.required(root.id(), "ListRoots", "Roots.Id")?, path: "/".to_string() });
            }
        }
        Ok(roots)
    }

    async fn contents(&self, parent: Parent) -> std::result::Result<ParentContents, OrganizationFailure> {
        let (child_ous, account_ids, policies) =
            futures::try_join!(self.child_ous(&parent), self.accounts(&parent.id), self.policies(&parent.id),)?;
        Ok(ParentContents { path: parent.path, child_ous, account_ids, policies })
    }

    async fn child_ous(&self, parent: &Parent) -> std::result::Result<Vec<Parent>, OrganizationFailure> {
        const OPERATION: &str = "ListOrganizationalUnitsForParent";
        let mut children = Vec::new();
        let mut pages = self.client.list_organizational_units_for_parent().parent_id(&parent.id).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|error| self.failure(OPERATION, error))?;
            for unit in page.organizational_units() {
                let name = self.required(unit.name(), OPERATION, "OrganizationalUnits.Name")?;
                children.push(Parent {
                    id: self.required(unit.id(), OPERATION, "OrganizationalUnits.Id")?,
                    path: child_path(&parent.path, &name),
                });
            }
        }
        Ok(children)
    }

    async fn accounts(&self, parent_id: &str) -> std::result::Result<Vec<String>, OrganizationFailure> {
        const OPERATION: &str = "ListAccountsForParent";
        let mut accounts = Vec::new();
        let mut pages = self.client.list_accounts_for_parent().parent_id(parent_id).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|error| self.failure(OPERATION, error))?;
            for account in page.accounts() {
                accounts.push(self.required(account.id(), OPERATION, "Accounts.Id")?);
            }
        }
        Ok(accounts)
    }

    /// SCP names attached directly to a root, OU or account.
    async fn policies(&self, target_id: &str) -> std::result::Result<Vec<String>, OrganizationFailure> {
        const OPERATION: &str = "ListPoliciesForTarget";
        let mut names = Vec::new();
        let mut pages = self
            .client
            .list_policies_for_target()
            .target_id(target_id)
            .filter(PolicyType::ServiceControlPolicy)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|error| self.failure(OPERATION, error))?;
            names.extend(page.policies().iter().filter_map(|policy| policy.name().map(str::to_string)));
        }
        names.sort();
        Ok(names)
    }

    fn required(
        &self,
        value: Option<&str>,
        operation: &'static str,
        field: &'static str,
    ) -> std::result::Result<String, OrganizationFailure> {
        value.map(str::to_string).ok_or_else(|| {
            OrganizationFailure::Failed(Error::InvalidResponse {
                site: self.site(operation),
                field,
                detail: "missing".to_string(),
            })
        })
    }
}

/// Path of an OU named `name` under `parent` (`/` is the root).
fn child_path(parent: &str, name: &str) -> String {
    if parent == "/" { format!("/{name}") } else { format!("{parent}/{name}") }
}

impl From<OrganizationFailure> for Error {
    fn from(failure: OrganizationFailure) -> Error {
        match failure {
            OrganizationFailure::NotAvailable(error) | OrganizationFailure::Failed(error) => error,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn child_path_under_root() {
        assert_eq!(child_path("/", "GC"), "/GC");
    }

    #[test]
    fn child_path_nested() {
        assert_eq!(child_path("/GC", "ASP"), "/GC/ASP");
    }
}
