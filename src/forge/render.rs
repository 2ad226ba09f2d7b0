//! Titles, bodies and comments of drift pull requests, in Japanese or English.
//!
//! A body ends with a hidden `<!-- gcops:fingerprint=<hex> -->` marker, which
//! [`read_fingerprint`] reads back so that a later pass can tell whether the
//! drift changed without parsing the rest of the text.

use rust_i18n::t;

use crate::desired::model::Account;
use crate::diff::model::{Change, DriftItem, ResourceType, Source};
use crate::i18n::Lang;

const FINGERPRINT_PREFIX: &str = "<!-- gcops:fingerprint=";
const FINGERPRINT_SUFFIX: &str = " -->";

/// Renders the title and Markdown body of the drift pull request of `account`.
/// `commit` is the desired-state commit the drift was computed from, and
/// `fingerprint` a hex digest of the drift items, kept hidden in the body.
pub fn render_drift_pull(
    account: &Account,
    items: &[&DriftItem],
    commit: &str,
    lang: Lang,
    fingerprint: &str,
) -> (String, String) {
    let locale = lang.code();
    let count = items.len().to_string();
    let title = t!("forge.title", locale = locale, account = account.name, count = count).to_string();

    let mut body = String::new();
    body.push_str(&t!("forge.intro", locale = locale, account = account.name, account_id = account.id, count = count));
    body.push_str("\n\n");
    push_summary(&mut body, items, lang);

    body.push('\n');
    body.push_str(&t!("forge.merge_header", locale = locale));
    body.push_str("\n\n");
    if items.iter().any(|i| !is_exception(i)) {
        body.push_str(&format!("- {}\n", t!("forge.merge_adopt", locale = locale)));
    }
    if items.iter().any(|i| is_exception(i)) {
        body.push_str(&format!("- {}\n", t!("forge.merge_exception", locale = locale)));
    }

    body.push('\n');
    body.push_str(&t!("forge.details_header", locale = locale));
    body.push_str("\n\n");
    for (n, item) in items.iter().enumerate() {
        push_item(&mut body, n + 1, item, lang);
    }

    body.push_str("---\n\n");
    body.push_str(&t!("forge.commit_line", locale = locale, commit = commit));
    body.push_str(&format!("\n\n{FINGERPRINT_PREFIX}{fingerprint}{FINGERPRINT_SUFFIX}\n"));
    (title, body)
}

/// Renders the comment that closes a drift pull request whose drift is gone.
pub fn render_closing_comment(account: &Account, lang: Lang) -> String {
    t!("forge.closing_comment", locale = lang.code(), account = account.name).to_string()
}

/// Reads the fingerprint that [`render_drift_pull`] hid in `body`.
pub fn read_fingerprint(body: &str) -> Option<&str> {
    let start = body.rfind(FINGERPRINT_PREFIX)? + FINGERPRINT_PREFIX.len();
    let rest = &body[start..];
    let end = rest.find(FINGERPRINT_SUFFIX)?;
    let value = &rest[..end];
    value.chars().all(|c| c.is_ascii_hexdigit()).then_some(value)
}

/// Checks whether merging records an exception instead of adopting the live
/// state: resources of mandatory-template stacks belong to the template.
fn is_exception(item: &DriftItem) -> bool {
    item.resource_type == ResourceType::Stack
}

fn push_summary(body: &mut String, items: &[&DriftItem], lang: Lang) {
    body.push_str(&t!("forge.summary_header", locale = lang.code()));
    body.push_str("\n| --- | --- | --- | --- | --- | --- |\n");
    for (n, item) in items.iter().enumerate() {
        body.push_str(&format!(
            "| {} | {} `{}` | {} | {} | {} | {} |\n",
            n + 1,
            item.resource_type.as_str(),
            escape_cell(&item.resource_id),
            region(item, lang),
            property(item, lang),
            change_label(item.change, lang),
            source_label(item.source),
        ));
    }
}

fn push_item(body: &mut String, n: usize, item: &DriftItem, lang: Lang) {
    let locale = lang.code();
    body.push_str(&format!("### {n}. {} `{}`\n\n", item.resource_type.as_str(), item.resource_id));
    body.push_str(&format!("- {}: {}\n", t!("forge.label_region", locale = locale), region(item, lang)));
    body.push_str(&format!("- {}: {}\n", t!("forge.label_property", locale = locale), property(item, lang)));
    body.push_str(&format!("- {}: {}\n", t!("forge.label_change", locale = locale), change_label(item.change, lang)));
    body.push_str(&format!("- {}: {}\n", t!("forge.label_source", locale = locale), source_label(item.source)));
    if let Some(doc) = &item.doc {
        body.push_str(&format!(
            "- {}: `{}` ({} `{}`)\n",
            t!("forge.label_declared", locale = locale),
            doc.file,
            doc.kind.as_str(),
            doc.id
        ));
    }
    body.push('\n');
    body.push_str(&format!("{}:\n\n{}\n", t!("forge.desired_label", locale = locale), value_block(&item.desired, lang)));
    body.push_str(&format!("{}:\n\n{}\n", t!("forge.live_label", locale = locale), value_block(&item.live, lang)));
    let effect = if is_exception(item) { "forge.item_exception" } else { "forge.item_adopt" };
    body.push_str(&format!("{}\n\n", t!(effect, locale = locale)));
}

fn value_block(value: &serde_json::Value, lang: Lang) -> String {
    if value.is_null() {
        return format!("{}\n", t!("forge.absent", locale = lang.code()));
    }
    let text = serde_json::to_string_pretty(value).expect("a JSON value always serialises");
    // A longer fence than any backtick run inside keeps the block closed.
    let fence = "`".repeat(longest_backtick_run(&text).max(2) + 1);
    format!("{fence}json\n{text}\n{fence}\n")
}

fn longest_backtick_run(text: &str) -> usize {
    text.split(|c| c != '`').map(str::len).max().unwrap_or(0)
}

fn escape_cell(text: &str) -> String {
    text.replace('|', "\\|")
}

fn region(item: &DriftItem, lang: Lang) -> String {
    match &item.region {
        Some(region) => region.clone(),
        None => t!("forge.region_global", locale = lang.code()).to_string(),
    }
}

fn property(item: &DriftItem, lang: Lang) -> String {
    if item.path.is_empty() {
        t!("forge.whole_resource", locale = lang.code()).to_string()
    } else {
        format!("`{}`", escape_cell(&item.path))
    }
}

fn change_label(change: Change, lang: Lang) -> String {
    let key = match change {
        Change::Modified => "forge.change_modified",
        Change::Missing => "forge.change_missing",
        Change::Unexpected => "forge.change_unexpected",
    };
    t!(key, locale = lang.code()).to_string()
}

/// Service names are product names, the same in both languages.
fn source_label(source: Source) -> &'static str {
    match source {
        Source::Organizations => "Organizations",
        Source::CloudFormation => "CloudFormation",
        Source::Iam => "IAM",
        Source::CloudWatch => "CloudWatch",
        Source::Sns => "SNS",
        Source::Budgets => "Budgets",
        Source::Config => "Config",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desired::model::{Area, DocRef, Kind};

    fn account() -> Account {
        Account {
            id: "123456789012".to_string(),
            name: "jumin-asp".to_string(),
            area: Area::Asp,
            ou: "/GC/ASP".to_string(),
            system: None,
            vendor: None,
        }
    }

    fn item(resource_type: ResourceType, path: &str) -> DriftItem {
        DriftItem {
            account_id: "123456789012".to_string(),
            account_name: "jumin-asp".to_string(),
            region: None,
            resource_type,
            resource_id: "vendor-role".to_string(),
            change: Change::Modified,
            path: path.to_string(),
            desired: serde_json::json!(1),
            live: serde_json::json!({"Version": "2012-10-17"}),
            source: Source::Iam,
            doc: Some(DocRef {
                file: "desired-state/permissions/a.yaml".to_string(),
                kind: Kind::PermissionGrant,
                id: "grant-a".to_string(),
                ..DocRef::default()
            }),
        }
    }

    #[test]
    fn title_japanese_default() {
        let drift = item(ResourceType::Role, "inlinePolicies.HandAdded");
        let (title, _) = render_drift_pull(&account(), &[&drift], "abc123", Lang::default(), "ff00");
        assert_eq!(title, "[gcops] ドリフト: jumin-asp (1件)");
    }

    #[test]
    fn body_english_lists_item() {
        let drift = item(ResourceType::Role, "inlinePolicies.HandAdded");
        let (title, body) = render_drift_pull(&account(), &[&drift], "abc123", Lang::En, "ff00");
        assert_eq!(title, "[gcops] Drift: jumin-asp (items: 1)");
        assert!(body.contains("AWS::IAM::Role `vendor-role`"), "{body}");
        assert!(body.contains("`inlinePolicies.HandAdded`"), "{body}");
        assert!(body.contains("\"Version\": \"2012-10-17\""), "{body}");
        assert!(body.contains("| global |"), "{body}");
        assert!(body.contains("IAM"), "{body}");
        assert!(body.contains("`abc123`"), "{body}");
        assert!(body.contains("adopts the live value"), "{body}");
        assert!(!body.contains("exceptions.yaml"), "{body}");
    }

    #[test]
    fn body_stack_mentions_exception() {
        let drift = item(ResourceType::Stack, "");
        let (_, body) = render_drift_pull(&account(), &[&drift], "abc123", Lang::Ja, "ff00");
        assert!(body.contains("exceptions.yaml"), "{body}");
        assert!(body.contains("(リソース全体)"), "{body}");
    }

    #[test]
    fn fingerprint_round_trip() {
        let drift = item(ResourceType::Role, "x");
        let (_, body) = render_drift_pull(&account(), &[&drift], "c", Lang::Ja, "0123abcd");
        assert!(body.contains("<!-- gcops:fingerprint=0123abcd -->"));
        assert_eq!(read_fingerprint(&body), Some("0123abcd"));
        assert_eq!(read_fingerprint("no marker"), None);
    }

    #[test]
    fn closing_comment_both_languages() {
        assert!(render_closing_comment(&account(), Lang::Ja).contains("解消"));
        assert!(render_closing_comment(&account(), Lang::En).contains("is gone"));
    }
}
