//! IAM reader: roles and users of one account from one paginated
//! GetAccountAuthorizationDetails listing.

use std::collections::BTreeMap;

use aws_sdk_iam::types::{EntityType, RoleDetail};

use super::error::{CallSite, Error, Result};
use super::model::{Iam, LiveRole};

const SERVICE: &str = "iam";

/// Reads every role (trust policy, inline and attached policies, boundary,
/// tags) and every user name of the account.
///
/// Policy documents are kept exactly as IAM returns them; the diff engine
/// decodes and normalises them. Real IAM percent-encodes every document in
/// this response. moto 5.2.6 differs (checked on the wire and in the live
/// reader tests): inline role policies come percent-encoded, but the trust
/// policy (`AssumeRolePolicyDocument`) comes as plain JSON. So a document may
/// arrive either way.
pub async fn read_iam(client: &aws_sdk_iam::Client, account: &str) -> Result<Iam> {
    let site =
        CallSite { account: account.to_string(), region: None, service: SERVICE, operation: "GetAccountAuthorizationDetails" };

    let mut pages =
        client.get_account_authorization_details().filter(EntityType::Role).filter(EntityType::User).into_paginator().send();

    let mut iam = Iam::default();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|error| Error::call(site.clone(), error))?;
        for role in page.role_detail_list() {
            iam.roles.push(live_role(role, &site)?);
        }
        for user in page.user_detail_list() {
            if let Some(name) = user.user_name() {
                iam.users.push(name.to_string());
            }
        }
    }

    iam.roles.sort_by(|a, b| a.name.cmp(&b.name));
    iam.users.sort();
    Ok(iam)
}

fn live_role(role: &RoleDetail, site: &CallSite) -> Result<LiveRole> {
    let name = role.role_name().ok_or_else(|| Error::InvalidResponse {
        site: site.clone(),
        field: "RoleDetailList.RoleName",
        detail: "missing".to_string(),
    })?;

    let inline_policies = role
        .role_policy_list()
        .iter()
        .filter_map(|policy| {
            let policy_name = policy.policy_name()?;
            Some((policy_name.to_string(), policy.policy_document().unwrap_or_default().to_string()))
        })
        .collect::<BTreeMap<_, _>>();

    let mut managed_policy_arns: Vec<String> =
        role.attached_managed_policies().iter().filter_map(|policy| policy.policy_arn().map(str::to_string)).collect();
    managed_policy_arns.sort();

    let tags = role.tags().iter().map(|tag| (tag.key().to_string(), tag.value().to_string())).collect();

    Ok(LiveRole {
        name: name.to_string(),
        arn: role.arn().unwrap_or_default().to_string(),
        path: role.path().unwrap_or("/").to_string(),
        trust_policy: role.assume_role_policy_document().unwrap_or_default().to_string(),
        inline_policies,
        managed_policy_arns,
        permission_boundary: role
            .permissions_boundary()
            .and_then(|boundary| boundary.permissions_boundary_arn())
            .map(str::to_string),
        tags,
    })
}
