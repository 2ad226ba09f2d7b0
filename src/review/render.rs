//! The plan comment (Markdown) and the `gcops/plan` status description, in
//! Japanese or English.
//!
//! Both are functions of the plan alone, with no time stamp, so that an
//! unchanged plan renders to the same text and the forge skips the edit.

use rust_i18n::t;
use serde_json::Value;

use super::{BaseState, ChangeKind, DesiredChange, PullPlan, Unplannable, Verdict};
use crate::desired::ValidationErrors;
use crate::diff::model::{Change, Drift};
use crate::forge::{Annotation, PLAN_MARKER};
use crate::i18n::Lang;

/// GitHub rejects comments over 65536 characters. Rows stop below that,
/// leaving room for the footer.
const MAX_COMMENT_CHARS: usize = 60_000;

/// GitHub rejects a commit status description longer than 140 characters.
const MAX_STATUS_CHARS: usize = 140;

/// Maximum characters of a value in a table cell; longer values are cut.
const MAX_VALUE_CHARS: usize = 80;

/// Maximum number of validation errors named in the status description.
const STATUS_ERRORS: usize = 3;

/// Maximum number of validation errors annotated on lines. GitHub accepts
/// more comments in one review, but a longer list buries the diff; the plan
/// comment lists every error.
pub(super) const MAX_ANNOTATIONS: usize = 50;

/// Characters of a commit id shown in headers.
const SHORT_COMMIT: usize = 12;

/// Renders the plan comment, starting with [`PLAN_MARKER`].
pub fn render_comment(plan: &PullPlan, lang: Lang) -> String {
    let locale = lang.code();
    let mut out = String::new();
    out.push_str(PLAN_MARKER);
    out.push('\n');

    let title_key = match &plan.verdict {
        Verdict::Valid { .. } => "review.title_valid",
        Verdict::Invalid(_) => "review.title_invalid",
        Verdict::Unplannable(_) => "review.title_error",
    };
    out.push_str(&format!("### {}\n\n", t!(title_key, locale = locale)));
    let base_commit = plan.base_commit.as_deref().map(short).unwrap_or("-");
    out.push_str(&t!(
        "review.commits",
        locale = locale,
        head = short(&plan.head_commit),
        base = plan.base_branch,
        base_commit = base_commit
    ));
    out.push_str("\n\n");

    match &plan.verdict {
        Verdict::Valid { changes, base, drift } => {
            push_changes(&mut out, plan, changes, base, lang);
            push_drift(&mut out, drift.as_ref(), lang);
        }
        Verdict::Invalid(errors) => push_errors(&mut out, errors, lang),
        Verdict::Unplannable(reason) => {
            out.push_str(&unplannable_text(plan, reason, lang));
            out.push('\n');
        }
    }

    out.push_str("\n---\n");
    out.push_str(&t!("review.footer", locale = locale));
    out.push('\n');
    out
}

/// Renders the commit status description: the counts when valid, the first
/// errors with file:line and rule when not, the reason when gcops could not plan.
pub fn render_status(plan: &PullPlan, lang: Lang) -> String {
    let locale = lang.code();
    let text = match &plan.verdict {
        Verdict::Valid { changes, drift, .. } => {
            let accounts: std::collections::BTreeSet<&str> = changes.iter().map(|c| c.account.as_str()).collect();
            let mut text =
                t!("review.status_valid", locale = locale, changes = changes.len(), accounts = accounts.len()).into_owned();
            if let Some(drift) = drift {
                text.push_str(&t!("review.status_live", locale = locale, count = drift.items.len()));
                let unknown = drift.counts().unknown;
                if unknown > 0 {
                    text.push_str(&t!("review.status_unknown", locale = locale, count = unknown));
                }
            }
            text
        }
        Verdict::Invalid(errors) => {
            let mut text = t!("review.status_invalid", locale = locale, count = errors.len()).into_owned();
            let first_errors: Vec<String> =
                errors.iter().take(STATUS_ERRORS).map(|e| format!("{}:{} [{}]", e.pos.file, e.pos.line, e.rule)).collect();
            text.push_str(&first_errors.join("; "));
            text
        }
        Verdict::Unplannable(Unplannable::HeadMissing) => {
            t!("review.status_head_missing", locale = locale, commit = short(&plan.head_commit)).into_owned()
        }
        Verdict::Unplannable(Unplannable::HeadUnreadable { .. }) => {
            t!("review.status_head_unreadable", locale = locale, commit = short(&plan.head_commit)).into_owned()
        }
    };
    cut(&text, MAX_STATUS_CHARS)
}

/// Renders the first [`MAX_ANNOTATIONS`] validation errors as line
/// annotations (`[rule] message`). An error without a line (line 0) is
/// left out, because no forge can place it.
pub(super) fn render_annotations(errors: &ValidationErrors, lang: Lang) -> Vec<Annotation> {
    errors
        .iter()
        .filter(|e| e.pos.line >= 1)
        .take(MAX_ANNOTATIONS)
        .map(|e| Annotation { path: e.pos.file.clone(), line: e.pos.line, message: format!("[{}] {}", e.rule, e.message(lang)) })
        .collect()
}

/// Renders the text above the annotations: the error count, and how many
/// are annotated when not all of them are.
pub(super) fn render_annotation_summary(plan: &PullPlan, errors: usize, annotated: usize, lang: Lang) -> String {
    let locale = lang.code();
    let mut text =
        t!("review.annotations_summary", locale = locale, count = errors, commit = short(&plan.head_commit)).into_owned();
    if annotated < errors {
        text.push(' ');
        text.push_str(&t!("review.annotations_left_out", locale = locale, shown = annotated));
    }
    text
}

fn push_changes(out: &mut String, plan: &PullPlan, changes: &[DesiredChange], base: &BaseState, lang: Lang) {
    let locale = lang.code();
    out.push_str(&format!("#### {}\n\n", t!("review.changes_header", locale = locale, count = changes.len())));
    match base {
        BaseState::Loaded => {}
        BaseState::Missing => {
            out.push_str(&t!("review.base_missing", locale = locale, branch = plan.base_branch));
            out.push_str("\n\n");
            return;
        }
        BaseState::Invalid { errors } => {
            out.push_str(&t!("review.base_invalid", locale = locale, branch = plan.base_branch, count = errors));
            out.push_str("\n\n");
            return;
        }
        BaseState::Unreadable { detail } => {
            out.push_str(&t!("review.base_unreadable", locale = locale, branch = plan.base_branch, detail = detail));
            out.push_str("\n\n");
            return;
        }
    }
    if changes.is_empty() {
        out.push_str(&t!("review.no_changes", locale = locale));
        out.push_str("\n\n");
        return;
    }
    out.push_str(&t!("review.changes_table", locale = locale));
    out.push_str("\n| --- | --- | --- | --- | --- |\n");
    let rows = changes.iter().map(|c| {
        let account = match &c.account_id {
            Some(id) => format!("{} (`{id}`)", cell(&c.account)),
            None => cell(&c.account),
        };
        let change = match c.change {
            ChangeKind::Added => t!("review.change_added", locale = locale),
            ChangeKind::Removed => t!("review.change_removed", locale = locale),
            ChangeKind::Modified => t!("review.change_modified", locale = locale),
        };
        let fields: Vec<String> =
            c.fields.iter().map(|f| format!("`{}`: {} → {}", f.field, value(&f.before, lang), value(&f.after, lang))).collect();
        format!("| {account} | {change} | {} | `{}` | {} |\n", c.kind.as_str(), cell(&c.id), fields.join("<br>"))
    });
    push_rows(out, rows, changes.len(), lang);
    out.push('\n');
}

fn push_drift(out: &mut String, drift: Option<&Drift>, lang: Lang) {
    let locale = lang.code();
    let Some(drift) = drift else {
        out.push_str(&t!("review.live_not_read", locale = locale));
        out.push('\n');
        return;
    };
    out.push_str(&format!("#### {}\n\n", t!("review.live_header", locale = locale, count = drift.items.len())));
    let counts = drift.counts();
    if drift.items.is_empty() {
        // A match is claimed only when every read succeeded.
        let key = if counts.unknown == 0 { "review.live_none" } else { "review.live_none_readable" };
        out.push_str(&t!(key, locale = locale));
        out.push_str("\n\n");
    } else {
        out.push_str(&t!("review.live_table", locale = locale));
        out.push_str("\n| --- | --- | --- | --- | --- |\n");
        let rows = drift.items.iter().map(|item| {
            let region = item.region.clone().unwrap_or_else(|| t!("review.region_global", locale = locale).into_owned());
            let path = if item.path.is_empty() { "-".to_string() } else { format!("`{}`", cell(&item.path)) };
            let change = match item.change {
                Change::Missing => t!("review.live_create", locale = locale),
                Change::Modified => t!("review.live_update", locale = locale),
                Change::Unexpected => t!("review.live_unexpected", locale = locale),
            };
            format!(
                "| {} (`{}`) | {} `{}` | {} | {} | {} |\n",
                cell(&item.account_name),
                item.account_id,
                item.resource_type.as_str(),
                cell(&item.resource_id),
                region,
                path,
                change
            )
        });
        push_rows(out, rows, drift.items.len(), lang);
        out.push('\n');
    }
    out.push_str(&t!(
        "review.live_counts",
        locale = locale,
        checked = counts.checked,
        in_sync = counts.in_sync,
        drifted = counts.drifted,
        not_checked = counts.not_checked,
        unknown = counts.unknown
    ));
    out.push('\n');
}

fn push_errors(out: &mut String, errors: &ValidationErrors, lang: Lang) {
    let locale = lang.code();
    out.push_str(&format!("#### {}\n\n", t!("review.errors_header", locale = locale, count = errors.len())));
    let rows = errors.iter().map(|e| format!("- `{}` [{}] {}\n", e.pos, e.rule, e.message(lang)));
    push_rows(out, rows, errors.len(), lang);
}

/// Appends rows while the comment stays under [`MAX_COMMENT_CHARS`], then
/// one line that counts the rows left out.
fn push_rows(out: &mut String, rows: impl Iterator<Item = String>, total: usize, lang: Lang) {
    let mut rows_shown = 0;
    for row in rows {
        if out.len() + row.len() > MAX_COMMENT_CHARS {
            break;
        }
        out.push_str(&row);
        rows_shown += 1;
    }
    if rows_shown < total {
        out.push_str(&t!("review.rows_left_out", locale = lang.code(), count = total - rows_shown));
        out.push('\n');
    }
}

fn unplannable_text(plan: &PullPlan, reason: &Unplannable, lang: Lang) -> String {
    let locale = lang.code();
    match reason {
        Unplannable::HeadMissing => {
            t!("review.head_missing", locale = locale, commit = plan.head_commit, number = plan.number).into_owned()
        }
        Unplannable::HeadUnreadable { detail } => {
            t!("review.head_unreadable", locale = locale, commit = plan.head_commit, detail = detail).into_owned()
        }
    }
}

fn short(commit: &str) -> &str {
    commit.get(..SHORT_COMMIT).unwrap_or(commit)
}

/// `value` as compact JSON (a string without quotes), cut for a table cell.
fn value(value: &Value, lang: Lang) -> String {
    let text = match value {
        Value::Null => t!("review.absent", locale = lang.code()).into_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    format!("`{}`", cell(&cut(&text, MAX_VALUE_CHARS)).replace('`', "'"))
}

/// Text safe inside a Markdown table cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace(['\n', '\r'], " ")
}

/// `text` cut to at most `max` characters, ending with `…` when cut.
fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max - 1).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desired::model::{Kind, SourcePos};
    use crate::desired::{Rule, ValidationError};
    use crate::review::FieldChange;

    fn plan(verdict: Verdict) -> PullPlan {
        PullPlan {
            number: 7,
            head_commit: "0123456789abcdef0123456789abcdef01234567".to_string(),
            base_branch: "main".to_string(),
            base_commit: Some("fedcba9876543210fedcba9876543210fedcba98".to_string()),
            verdict,
        }
    }

    fn wildcard_error(line: u64) -> ValidationError {
        let pos = SourcePos { file: "desired-state/permissions/alpha.yaml".to_string(), line, column: 11 };
        ValidationError::new(pos, Rule::VendorWildcard).arg("policy", "All")
    }

    fn grant_added() -> DesiredChange {
        DesiredChange {
            account: "zeimu-asp".to_string(),
            account_id: Some("333333333333".to_string()),
            kind: Kind::PermissionGrant,
            id: "alpha-operator".to_string(),
            change: ChangeKind::Added,
            fields: Vec::new(),
        }
    }

    #[test]
    fn comment_starts_with_marker() {
        let text = render_comment(&plan(Verdict::Invalid(ValidationErrors(vec![wildcard_error(12)]))), Lang::Ja);
        assert!(text.starts_with(PLAN_MARKER), "{text}");
    }

    #[test]
    fn comment_lists_every_error() {
        let errors = ValidationErrors(vec![wildcard_error(12), wildcard_error(30)]);
        let text = render_comment(&plan(Verdict::Invalid(errors)), Lang::En);
        assert!(text.contains("desired-state/permissions/alpha.yaml:12:11` [vendor-wildcard]"), "{text}");
        assert!(text.contains("desired-state/permissions/alpha.yaml:30:11` [vendor-wildcard]"), "{text}");
    }

    #[test]
    fn comment_lists_account_change() {
        let verdict = Verdict::Valid { changes: vec![grant_added()], base: BaseState::Loaded, drift: None };
        let text = render_comment(&plan(verdict), Lang::En);
        assert!(text.contains("| zeimu-asp (`333333333333`) |"), "{text}");
        assert!(text.contains("PermissionGrant | `alpha-operator`"), "{text}");
    }

    #[test]
    fn comment_shows_field_values() {
        let mut change = grant_added();
        change.change = ChangeKind::Modified;
        change.fields = vec![FieldChange { field: "version".to_string(), before: "1.0.0".into(), after: "1.1.0".into() }];
        let verdict = Verdict::Valid { changes: vec![change], base: BaseState::Loaded, drift: None };
        let text = render_comment(&plan(verdict), Lang::En);
        assert!(text.contains("`version`: `1.0.0` → `1.1.0`"), "{text}");
    }

    #[test]
    fn comment_is_stable() {
        let verdict = || Verdict::Valid { changes: vec![grant_added()], base: BaseState::Loaded, drift: Some(Drift::default()) };
        assert_eq!(render_comment(&plan(verdict()), Lang::Ja), render_comment(&plan(verdict()), Lang::Ja));
    }

    #[test]
    fn comment_caps_long_error_lists() {
        let errors = ValidationErrors((1..=5000).map(wildcard_error).collect());
        let text = render_comment(&plan(Verdict::Invalid(errors)), Lang::En);
        assert!(text.len() < 65_536, "{} characters", text.len());
        assert!(text.contains("more not shown"), "the cut must be stated");
    }

    #[test]
    fn annotations_name_rule_and_line() {
        let annotations = render_annotations(&ValidationErrors(vec![wildcard_error(12)]), Lang::En);
        assert_eq!(annotations.len(), 1);
        assert_eq!(annotations[0].path, "desired-state/permissions/alpha.yaml");
        assert_eq!(annotations[0].line, 12);
        assert!(annotations[0].message.starts_with("[vendor-wildcard] "), "{}", annotations[0].message);
    }

    #[test]
    fn annotations_are_capped() {
        let errors = ValidationErrors((1..=60).map(wildcard_error).collect());
        let annotations = render_annotations(&errors, Lang::En);
        assert_eq!(annotations.len(), MAX_ANNOTATIONS);
        let summary = render_annotation_summary(&plan(Verdict::Invalid(errors)), 60, annotations.len(), Lang::En);
        assert!(summary.contains("60 validation errors"), "{summary}");
        assert!(summary.contains("50 of them are shown here"), "{summary}");
    }

    #[test]
    fn annotations_skip_errors_without_line() {
        let annotations = render_annotations(&ValidationErrors(vec![wildcard_error(0), wildcard_error(3)]), Lang::En);
        let lines: Vec<u64> = annotations.iter().map(|a| a.line).collect();
        assert_eq!(lines, [3]);
    }

    #[test]
    fn annotation_summary_in_japanese() {
        let errors = ValidationErrors(vec![wildcard_error(12)]);
        let summary = render_annotation_summary(&plan(Verdict::Invalid(errors)), 1, 1, Lang::Ja);
        assert!(summary.contains("検証エラーが 1 件"), "{summary}");
        assert!(!summary.contains("表示しています"), "nothing is left out: {summary}");
    }

    #[test]
    fn status_names_first_errors() {
        let errors = ValidationErrors(vec![wildcard_error(12)]);
        let text = render_status(&plan(Verdict::Invalid(errors)), Lang::En);
        assert!(text.contains("desired-state/permissions/alpha.yaml:12 [vendor-wildcard]"), "{text}");
    }

    #[test]
    fn status_fits_github_limit() {
        let errors = ValidationErrors((1..=50).map(wildcard_error).collect());
        for lang in [Lang::Ja, Lang::En] {
            let text = render_status(&plan(Verdict::Invalid(errors.clone())), lang);
            assert!(text.chars().count() <= MAX_STATUS_CHARS, "{lang:?}: {text}");
        }
    }

    #[test]
    fn status_counts_changes() {
        let verdict = Verdict::Valid { changes: vec![grant_added()], base: BaseState::Loaded, drift: Some(Drift::default()) };
        let text = render_status(&plan(verdict), Lang::En);
        assert_eq!(text, "valid: 1 change(s) in 1 account(s); 0 difference(s) from live");
    }

    #[test]
    fn status_head_missing_names_commit() {
        let text = render_status(&plan(Verdict::Unplannable(Unplannable::HeadMissing)), Lang::En);
        assert!(text.contains("0123456789ab"), "{text}");
    }
}
