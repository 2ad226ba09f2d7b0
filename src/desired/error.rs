//! Validation errors: one per problem, each with its position, a stable rule
//! code and a message in the operator's language.

use std::fmt;

use crate::i18n::Lang;

use super::model::SourcePos;

/// Stable codes of validation rules. The code appears in every rendered
/// error so that operators can search for it and tests can match on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Rule {
    ReadFailed,
    YamlSyntax,
    NotUtf8,
    NotAMapping,
    UnknownApiVersion,
    UnknownKind,
    UnknownField,
    MissingField,
    DuplicateField,
    WrongType,
    UnknownValue,
    UnsupportedTag,
    InvalidValue,
    EmptyId,
    EnvironmentMissing,
    EnvironmentDuplicate,
    DuplicateId,
    DuplicateAccount,
    AccountIdFormat,
    VendorMissing,
    RegionNotAllowed,
    UnknownAccount,
    UnknownVendor,
    UnknownTemplate,
    UnknownParameter,
    ParameterMissing,
    UnknownSystem,
    GrantExpiryMissing,
    GrantExpired,
    VendorWildcard,
    ExceptionIncomplete,
    TemplateFileMissing,
    TemplateSyntax,
    TemplateInvalid,
    ProvenanceMissing,
    ProvenanceInvalid,
    DigestMismatch,
    GuardrailVendorAccount,
    GuardrailDeniedAction,
    GuardrailAssumeRoleAny,
    GuardrailBoundaryRequired,
    GuardrailExpiryTooFar,
    GuardrailTrustWildcard,
    GuardrailTrustPrincipal,
    GuardrailDeniedManagedPolicy,
    YamlTooManyNodes,
    YamlTooDeep,
    FileTooLarge,
    InvalidPolicy,
    InvalidAccountName,
    InvalidId,
    InvalidNumber,
    AccountsEmpty,
    TooManySubscribers,
    ExceptionExpired,
    ExceptionExpiryTooFar,
}

impl Rule {
    /// Every rule, for tests that check each one has a message.
    pub const ALL: [Rule; 56] = [
        Rule::ReadFailed,
        Rule::YamlSyntax,
        Rule::NotUtf8,
        Rule::NotAMapping,
        Rule::UnknownApiVersion,
        Rule::UnknownKind,
        Rule::UnknownField,
        Rule::MissingField,
        Rule::DuplicateField,
        Rule::WrongType,
        Rule::UnknownValue,
        Rule::UnsupportedTag,
        Rule::InvalidValue,
        Rule::EmptyId,
        Rule::EnvironmentMissing,
        Rule::EnvironmentDuplicate,
        Rule::DuplicateId,
        Rule::DuplicateAccount,
        Rule::AccountIdFormat,
        Rule::VendorMissing,
        Rule::RegionNotAllowed,
        Rule::UnknownAccount,
        Rule::UnknownVendor,
        Rule::UnknownTemplate,
        Rule::UnknownParameter,
        Rule::ParameterMissing,
        Rule::UnknownSystem,
        Rule::GrantExpiryMissing,
        Rule::GrantExpired,
        Rule::VendorWildcard,
        Rule::ExceptionIncomplete,
        Rule::TemplateFileMissing,
        Rule::TemplateSyntax,
        Rule::TemplateInvalid,
        Rule::ProvenanceMissing,
        Rule::ProvenanceInvalid,
        Rule::DigestMismatch,
        Rule::GuardrailVendorAccount,
        Rule::GuardrailDeniedAction,
        Rule::GuardrailAssumeRoleAny,
        Rule::GuardrailBoundaryRequired,
        Rule::GuardrailExpiryTooFar,
        Rule::GuardrailTrustWildcard,
        Rule::GuardrailTrustPrincipal,
        Rule::GuardrailDeniedManagedPolicy,
        Rule::YamlTooManyNodes,
        Rule::YamlTooDeep,
        Rule::FileTooLarge,
        Rule::InvalidPolicy,
        Rule::InvalidAccountName,
        Rule::InvalidId,
        Rule::InvalidNumber,
        Rule::AccountsEmpty,
        Rule::TooManySubscribers,
        Rule::ExceptionExpired,
        Rule::ExceptionExpiryTooFar,
    ];

    /// Returns the rule code as printed, e.g. `unknown-account`.
    pub fn code(self) -> &'static str {
        match self {
            Rule::ReadFailed => "read-failed",
            Rule::YamlSyntax => "yaml-syntax",
            Rule::NotUtf8 => "not-utf8",
            Rule::NotAMapping => "not-a-mapping",
            Rule::UnknownApiVersion => "unknown-api-version",
            Rule::UnknownKind => "unknown-kind",
            Rule::UnknownField => "unknown-field",
            Rule::MissingField => "missing-field",
            Rule::DuplicateField => "duplicate-field",
            Rule::WrongType => "wrong-type",
            Rule::UnknownValue => "unknown-value",
            Rule::UnsupportedTag => "unsupported-tag",
            Rule::InvalidValue => "invalid-value",
            Rule::EmptyId => "empty-id",
            Rule::EnvironmentMissing => "environment-missing",
            Rule::EnvironmentDuplicate => "environment-duplicate",
            Rule::DuplicateId => "duplicate-id",
            Rule::DuplicateAccount => "duplicate-account",
            Rule::AccountIdFormat => "account-id-format",
            Rule::VendorMissing => "vendor-missing",
            Rule::RegionNotAllowed => "region-not-allowed",
            Rule::UnknownAccount => "unknown-account",
            Rule::UnknownVendor => "unknown-vendor",
            Rule::UnknownTemplate => "unknown-template",
            Rule::UnknownParameter => "unknown-parameter",
            Rule::ParameterMissing => "parameter-missing",
            Rule::UnknownSystem => "unknown-system",
            Rule::GrantExpiryMissing => "grant-expiry-missing",
            Rule::GrantExpired => "grant-expired",
            Rule::VendorWildcard => "vendor-wildcard",
            Rule::ExceptionIncomplete => "exception-incomplete",
            Rule::TemplateFileMissing => "template-file-missing",
            Rule::TemplateSyntax => "template-syntax",
            Rule::TemplateInvalid => "template-invalid",
            Rule::ProvenanceMissing => "provenance-missing",
            Rule::ProvenanceInvalid => "provenance-invalid",
            Rule::DigestMismatch => "digest-mismatch",
            Rule::GuardrailVendorAccount => "guardrail-vendor-account",
            Rule::GuardrailDeniedAction => "guardrail-denied-action",
            Rule::GuardrailAssumeRoleAny => "guardrail-assume-role-any",
            Rule::GuardrailBoundaryRequired => "guardrail-boundary-required",
            Rule::GuardrailExpiryTooFar => "guardrail-expiry-too-far",
            Rule::GuardrailTrustWildcard => "guardrail-trust-wildcard",
            Rule::GuardrailTrustPrincipal => "guardrail-trust-principal",
            Rule::GuardrailDeniedManagedPolicy => "guardrail-denied-managed-policy",
            Rule::YamlTooManyNodes => "yaml-too-many-nodes",
            Rule::YamlTooDeep => "yaml-too-deep",
            Rule::FileTooLarge => "file-too-large",
            Rule::InvalidPolicy => "invalid-policy",
            Rule::InvalidAccountName => "invalid-account-name",
            Rule::InvalidId => "invalid-id",
            Rule::InvalidNumber => "invalid-number",
            Rule::AccountsEmpty => "accounts-empty",
            Rule::TooManySubscribers => "too-many-subscribers",
            Rule::ExceptionExpired => "exception-expired",
            Rule::ExceptionExpiryTooFar => "exception-expiry-too-far",
        }
    }

    /// Key of the rule's message in `locales/validation.yml`.
    fn message_key(self) -> String {
        format!("validation.{}", self.code())
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// One problem in the repository.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ValidationError {
    pub pos: SourcePos,
    pub rule: Rule,
    /// Values for the `%{name}` placeholders of the rule's message.
    pub args: Vec<(&'static str, String)>,
}

impl ValidationError {
    pub fn new(pos: SourcePos, rule: Rule) -> Self {
        ValidationError { pos, rule, args: Vec::new() }
    }

    /// Adds a placeholder value for the message.
    pub fn arg(mut self, name: &'static str, value: impl fmt::Display) -> Self {
        self.args.push((name, value.to_string()));
        self
    }

    /// The value given for placeholder `name`, if any.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.args.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }

    /// Picks the message variant `validation.<rule>.<problem>` for rules
    /// that cover several problems, such as `invalid-policy`.
    pub fn problem(self, problem: &'static str) -> Self {
        self.arg("problem", problem)
    }

    /// The message in `lang`, saying what is wrong and what to change.
    pub fn message(&self, lang: Lang) -> String {
        let key = match self.get("problem") {
            Some(problem) => format!("{}.{problem}", self.rule.message_key()),
            None => self.rule.message_key(),
        };
        let template = rust_i18n::t!(&key, locale = lang.code());
        let mut text = template.into_owned();
        for (name, value) in &self.args {
            let shown = match (self.rule, &**name) {
                (Rule::WrongType, "expected") => type_name(value, lang),
                _ => value.clone(),
            };
            text = text.replace(&format!("%{{{name}}}"), &shown);
        }
        text
    }

    /// `file:line:col: [rule] message`.
    pub fn render(&self, lang: Lang) -> String {
        format!("{}: [{}] {}", self.pos, self.rule, self.message(lang))
    }
}

/// Names the type serde expected in the operator's words: serde reports Rust
/// types (`f64`, `u32`) or its own phrases (`a sequence`).
fn type_name(expected: &str, lang: Lang) -> String {
    let code = match expected {
        "f32" | "f64" => "number",
        "i8" | "i16" | "i32" | "i64" | "u8" | "u16" | "u32" | "u64" | "usize" | "isize" => "integer",
        "a boolean" => "boolean",
        "a string" => "string",
        "a sequence" => "list",
        "a map" => "mapping",
        _ => return expected.to_string(),
    };
    rust_i18n::t!(format!("validation.type.{code}"), locale = lang.code()).into_owned()
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(Lang::En))
    }
}

impl std::error::Error for ValidationError {}

/// Every problem found in one run, sorted by file, line and column.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ValidationErrors(pub Vec<ValidationError>);

impl ValidationErrors {
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> std::slice::Iter<'_, ValidationError> {
        self.0.iter()
    }

    /// One rendered line per error.
    pub fn render(&self, lang: Lang) -> String {
        self.0.iter().map(|e| e.render(lang)).collect::<Vec<_>>().join("\n")
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "desired state is invalid ({} errors):\n{}", self.0.len(), self.render(Lang::En))
    }
}

impl std::error::Error for ValidationErrors {}

impl IntoIterator for ValidationErrors {
    type Item = ValidationError;
    type IntoIter = std::vec::IntoIter<ValidationError>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}
