//! CloudFormation reader: every stack of a region, and the original template
//! of the stacks gcops manages.

use std::collections::BTreeMap;

use aws_sdk_cloudformation::types::{Stack, TemplateStage};
use futures::future::try_join_all;

use super::error::{CallSite, Error, Result};
use super::model::LiveStack;

const SERVICE: &str = "cloudformation";

/// Reads all stacks of the region (DescribeStacks, paginated) and, for the
/// stacks named in `template_stacks` that exist, their template as submitted
/// (GetTemplate, `Original` stage, so YAML short-form tags survive).
pub async fn read_stacks(
    client: &aws_sdk_cloudformation::Client,
    account: &str,
    region: &str,
    template_stacks: &[String],
) -> Result<Vec<LiveStack>> {
    let site =
        |operation| CallSite { account: account.to_string(), region: Some(region.to_string()), service: SERVICE, operation };

    let mut stacks = Vec::new();
    let mut pages = client.describe_stacks().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|error| Error::call(site("DescribeStacks"), error))?;
        for stack in page.stacks() {
            stacks.push(live_stack(stack, &site("DescribeStacks"))?);
        }
    }

    let templates = stacks.iter_mut().filter(|stack| template_stacks.contains(&stack.name)).map(|stack| async {
        let output = client
            .get_template()
            .stack_name(&stack.stack_id)
            .template_stage(TemplateStage::Original)
            .send()
            .await
            .map_err(|error| Error::call(site("GetTemplate"), error))?;
        stack.template_body = output.template_body().map(str::to_string);
        Ok::<_, Error>(())
    });
    try_join_all(templates).await?;

    stacks.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(stacks)
}

fn live_stack(stack: &Stack, site: &CallSite) -> Result<LiveStack> {
    let name = stack.stack_name().ok_or_else(|| Error::InvalidResponse {
        site: site.clone(),
        field: "Stacks.StackName",
        detail: "missing".to_string(),
    })?;

    let parameters = stack
        .parameters()
        .iter()
        .filter_map(|parameter| {
            Some((parameter.parameter_key()?.to_string(), parameter.parameter_value().unwrap_or_default().to_string()))
        })
        .collect::<BTreeMap<_, _>>();

    let tags = stack
        .tags()
        .iter()
        .filter_map(|tag| Some((tag.key()?.to_string(), tag.value().unwrap_or_default().to_string())))
        .collect::<BTreeMap<_, _>>();

    Ok(LiveStack {
        name: name.to_string(),
        stack_id: stack.stack_id().unwrap_or(name).to_string(),
        status: stack.stack_status().map(|status| status.as_str().to_string()).unwrap_or_default(),
        parameters,
        tags,
        template_body: None,
    })
}
