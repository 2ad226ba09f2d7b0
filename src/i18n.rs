//! The operator's language. Messages live in `locales/*.yml` (one file per
//! area, each with `en` and `ja` for every key) and are looked up with
//! `rust_i18n::t!(key, locale = lang.code())`.

use serde::{Deserialize, Serialize};

/// Language of messages, reports and pull request bodies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// Japanese, the default for reports and pull request bodies.
    #[default]
    Ja,
    /// English.
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Ja => "ja",
            Lang::En => "en",
        }
    }

    /// Parses `ja`, `en`, or a POSIX locale such as `ja_JP.UTF-8`.
    pub fn parse(s: &str) -> Option<Lang> {
        let lower = s.trim().to_ascii_lowercase();
        if lower.starts_with("ja") {
            Some(Lang::Ja)
        } else if lower.starts_with("en") || lower == "c" || lower == "posix" || lower.starts_with("c.") {
            Some(Lang::En)
        } else {
            None
        }
    }

    /// Language of the process locale (`LC_ALL`, then `LC_MESSAGES`, then
    /// `LANG`); English when none is set, because a terminal without a
    /// Japanese locale may not display Japanese.
    pub fn from_env() -> Lang {
        ["LC_ALL", "LC_MESSAGES", "LANG"]
            .iter()
            .filter_map(|v| std::env::var(v).ok())
            .find(|v| !v.is_empty())
            .and_then(|v| Lang::parse(&v))
            .unwrap_or(Lang::En)
    }
}

impl std::str::FromStr for Lang {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Lang::parse(s).ok_or_else(|| format!("unknown language {s:?}: use ja or en"))
    }
}

/// Looks up `key` in the message catalogue; for callers outside this crate,
/// such as the `gcops` binary, where the `t!` macro is not set up.
pub fn text(key: &str, lang: Lang) -> String {
    rust_i18n::t!(key, locale = lang.code()).into_owned()
}
