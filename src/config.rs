//! The daemon's own settings: `gcops.yaml`, then environment overrides, then
//! validation into [`Settings`], which is all the rest of the program reads.
//!
//! Phase one ([`FileConfig`]) mirrors the file and rejects unknown keys;
//! phase two ([`Settings::from_file`]) fills defaults, applies `GCOPS_*`
//! environment variables and checks values.

use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::i18n::Lang;

/// File name looked up in the working directory when `--config` is not given.
pub const DEFAULT_CONFIG_FILE: &str = "gcops.yaml";

/// `gcops.yaml` as written by the operator.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FileConfig {
    /// The git repository of desired state.
    #[serde(default)]
    pub repository: RepositoryConfig,
    /// Forge on which pull requests are opened.
    #[serde(default)]
    pub forge: ForgeConfig,
    /// Access to the AWS accounts.
    #[serde(default)]
    pub aws: AwsConfig,
    /// Language of pull request bodies and reports: `ja` (default) or `en`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<Lang>,
    /// Timing and endpoints of `gcops run`.
    #[serde(default)]
    pub daemon: DaemonConfig,
}

/// `daemon:` section: how `gcops run` schedules passes and serves HTTP.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DaemonConfig {
    /// Address of `/metrics`, `/healthz`, `/readyz` and the webhook.
    /// Default `127.0.0.1:9464` (loopback only). Environment: `GCOPS_LISTEN`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    /// Seconds between checks of the branch head; a new commit starts a
    /// pass. Default 300.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_interval_seconds: Option<u64>,
    /// Seconds between full passes that read live state even when git did
    /// not change. Default 1800.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live_interval_seconds: Option<u64>,
    /// `/readyz` turns not-ready when the last successful pass is older than
    /// this many seconds. Default: twice the live interval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_max_age_seconds: Option<u64>,
    /// On SIGTERM or SIGINT, seconds to let the pass in flight finish
    /// before exiting. Default 60.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shutdown_deadline_seconds: Option<u64>,
    /// Watch a local repository's folder and start a pass soon after a
    /// change (debounced). Default true; ignored for remote repositories.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watch_local_repository: Option<bool>,
    /// File holding the GitHub webhook secret; without it the webhook
    /// endpoint is not served and polling finds every change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_secret_file: Option<PathBuf>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RepositoryConfig {
    /// Local path of a repository, or a remote URL (`https://`, `ssh://`,
    /// `git@host:path`, `file://`). Default: the current directory.
    /// Environment: `GCOPS_REPOSITORY`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Branch that holds the desired state. Default `main`. Environment: `GCOPS_BRANCH`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// Folder for clones of remote repositories. Default `.gcops-cache`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_dir: Option<PathBuf>,
    /// Name of the environment variable that holds the https token. The
    /// token itself never goes in this file. Default: `forge.github.tokenEnv`
    /// when the GitHub forge uses one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_env: Option<String>,
    /// Private key file for ssh URLs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh_key: Option<PathBuf>,
}

/// Forge kinds gcops can open pull requests on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ForgeKind {
    /// Pull requests recorded under `refs/gcops/pulls/` of the repository itself.
    #[default]
    Local,
    /// github.com or GitHub Enterprise Server; needs the `github:` section.
    Github,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ForgeConfig {
    /// `local` (default) or `github`.
    #[serde(default)]
    pub kind: ForgeKind,
    /// Required when `kind: github`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub github: Option<GithubConfig>,
}

/// `forge.github:` section.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GithubConfig {
    /// API root. Default `https://api.github.com`; for GitHub Enterprise
    /// Server `https://HOST/api/v3`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_base_url: Option<String>,
    /// Owner (user or organization) of the desired-state repository.
    pub owner: String,
    /// Name of the desired-state repository.
    pub repo: String,
    /// Environment variable holding a personal access token. One of
    /// `tokenEnv`, `tokenFile` or `app` is required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_env: Option<String>,
    /// File holding a personal access token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_file: Option<PathBuf>,
    /// GitHub App installation instead of a token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<GithubAppConfig>,
    /// Labels added to every pull request, after `gcops`, `drift` and the account name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    /// Users asked to review every drift pull request.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reviewers: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GithubAppConfig {
    /// Numeric id of the GitHub App.
    pub app_id: u64,
    /// Id of the app's installation on the repository's owner.
    pub installation_id: u64,
    /// PEM file of the app's private key.
    pub private_key_file: PathBuf,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AwsConfig {
    /// Role assumed in each member account. Default `GCOpsReadOnly`.
    /// Environment: `GCOPS_AWS_ROLE_NAME`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_name: Option<String>,
    /// Assume `roleName` in member accounts (default true). Set false when
    /// the credentials already belong to the single account being read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assume_role: Option<bool>,
    /// Regions to read; default: the regions of the Environment document.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regions: Vec<String>,
    /// Endpoint override for every AWS service (tests and the demo point it
    /// at moto). The standard `AWS_ENDPOINT_URL` variable works too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_url: Option<String>,
    /// Attempts per request, including the first, with adaptive retry. Default 3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<u32>,
    /// Accounts read at the same time. Default 16.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<usize>,
}

/// Location of the desired-state repository.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RepoLocation {
    /// A repository on this machine, read and written in place.
    Local(PathBuf),
    /// A remote, cloned into `cache_dir`.
    Remote { url: String, cache_dir: PathBuf },
}

/// Validated settings; nothing after start-up reads raw configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    pub repository: RepoLocation,
    pub branch: String,
    /// Environment variable holding the https token (the value is read when needed).
    pub token_env: Option<String>,
    pub ssh_key: Option<PathBuf>,
    pub forge: ForgeKind,
    pub aws: crate::live::AwsSettings,
    /// Regions from the file; empty means "the Environment's regions".
    pub regions_override: Vec<String>,
    pub concurrency: usize,
    pub language: Lang,
    /// Set when `forge.kind` is `github`.
    pub github: Option<crate::forge::github::GithubSettings>,
    pub daemon: DaemonSettings,
}

/// Validated `daemon:` section.
#[derive(Clone, Debug, PartialEq)]
pub struct DaemonSettings {
    pub listen: std::net::SocketAddr,
    pub git_interval: std::time::Duration,
    pub live_interval: std::time::Duration,
    pub ready_max_age: std::time::Duration,
    pub shutdown_deadline: std::time::Duration,
    pub watch_local_repository: bool,
    pub webhook_secret_file: Option<PathBuf>,
}

/// Errors of loading `gcops.yaml`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be read.
    #[error("cannot read config file {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid YAML or has unknown keys or wrong types.
    #[error("invalid config file {path}:{line}:{column}: {message}")]
    Parse { path: PathBuf, line: u64, column: u64, message: String },
    /// A value parsed but is not allowed.
    #[error("invalid setting {key} in {origin}: {message}")]
    Invalid { key: String, origin: String, message: String },
}

impl FileConfig {
    /// Parses the text of a config file; `path` is only used in errors.
    pub fn parse(text: &str, path: &Path) -> Result<FileConfig, Error> {
        serde_saphyr::from_str(text).map_err(|e| {
            let (line, column) = e.location().map(|l| (l.line(), l.column())).unwrap_or((1, 1));
            Error::Parse { path: path.to_path_buf(), line, column, message: first_line(&e.to_string()) }
        })
    }

    /// Reads `path`; a missing default file gives the built-in defaults.
    pub fn load(path: Option<&Path>) -> Result<FileConfig, Error> {
        let (path, explicit) = match path {
            Some(p) => (p.to_path_buf(), true),
            None => (PathBuf::from(DEFAULT_CONFIG_FILE), false),
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => FileConfig::parse(&text, &path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => Ok(FileConfig::default()),
            Err(source) => Err(Error::Read { path, source }),
        }
    }
}

/// serde-saphyr appends a source snippet after the first line; the position
/// is reported separately, so only the message line is kept.
fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or_default().to_string()
}

impl Settings {
    /// Validates `file` with overrides from `env` (a lookup such as
    /// `|k| std::env::var(k).ok()`), so tests can pass their own.
    pub fn from_file(file: FileConfig, env: impl Fn(&str) -> Option<String>) -> Result<Settings, Error> {
        let url = env("GCOPS_REPOSITORY").or(file.repository.url).unwrap_or_else(|| ".".to_string());
        let cache_dir = file.repository.cache_dir.unwrap_or_else(|| PathBuf::from(".gcops-cache"));
        let repository =
            if is_remote_url(&url) { RepoLocation::Remote { url, cache_dir } } else { RepoLocation::Local(PathBuf::from(url)) };

        let branch = env("GCOPS_BRANCH").or(file.repository.branch).unwrap_or_else(|| "main".to_string());
        if branch.is_empty() || branch.starts_with("gcops/") {
            return Err(invalid("repository.branch", "must name the desired-state branch, not a gcops branch"));
        }

        let language = match env("GCOPS_LANGUAGE") {
            Some(v) => Lang::parse(&v).ok_or_else(|| invalid("GCOPS_LANGUAGE", "use ja or en"))?,
            None => file.language.unwrap_or_default(),
        };

        for region in &file.aws.regions {
            if !crate::desired::model::GC_REGIONS.contains(&region.as_str()) {
                return Err(invalid(
                    "aws.regions",
                    &format!("{region} is not a Government Cloud region (ap-northeast-1, ap-northeast-3)"),
                ));
            }
        }
        let max_attempts = file.aws.max_attempts.unwrap_or(3);
        if max_attempts == 0 {
            return Err(invalid("aws.maxAttempts", "must be at least 1"));
        }
        let concurrency = file.aws.concurrency.unwrap_or(16);
        if concurrency == 0 {
            return Err(invalid("aws.concurrency", "must be at least 1"));
        }

        let aws = crate::live::AwsSettings {
            regions: file.aws.regions.clone(),
            role_name: env("GCOPS_AWS_ROLE_NAME").or(file.aws.role_name).unwrap_or_else(|| "GCOpsReadOnly".to_string()),
            endpoint_url: file.aws.endpoint_url,
            max_attempts,
            assume_role: file.aws.assume_role.unwrap_or(true),
        };

        // The local forge records pull requests in the repository itself; a
        // cached clone of a remote would keep them where no one looks.
        if file.forge.kind == ForgeKind::Local && matches!(repository, RepoLocation::Remote { .. }) {
            return Err(invalid(
                "forge.kind",
                "the local forge needs repository.url to be a local path; use forge.kind github for a remote repository",
            ));
        }
        let github = match file.forge.kind {
            ForgeKind::Local => None,
            ForgeKind::Github => Some(github_settings(file.forge.github)?),
        };
        let daemon = daemon_settings(file.daemon, &env)?;

        // git pushes over https with the same token as the GitHub API unless
        // the repository names its own.
        let token_env = file.repository.token_env.or_else(|| match github.as_ref().map(|g| &g.auth) {
            Some(crate::forge::github::GithubAuth::Token(crate::forge::github::TokenSource::Env(var))) => Some(var.clone()),
            _ => None,
        });

        Ok(Settings {
            github,
            daemon,
            repository,
            branch,
            token_env,
            ssh_key: file.repository.ssh_key,
            forge: file.forge.kind,
            aws,
            regions_override: file.aws.regions,
            concurrency,
            language,
        })
    }
}

fn github_settings(config: Option<GithubConfig>) -> Result<crate::forge::github::GithubSettings, Error> {
    use crate::forge::github::{GithubAuth, GithubSettings, TokenSource};
    let config = config.ok_or_else(|| invalid("forge.github", "is required when forge.kind is github"))?;
    let auth = match (config.token_env, config.token_file, config.app) {
        (Some(var), None, None) => GithubAuth::Token(TokenSource::Env(var)),
        (None, Some(path), None) => GithubAuth::Token(TokenSource::File(path)),
        (None, None, Some(app)) => {
            GithubAuth::App { app_id: app.app_id, private_key_path: app.private_key_file, installation_id: app.installation_id }
        }
        _ => return Err(invalid("forge.github", "set exactly one of tokenEnv, tokenFile or app")),
    };
    let mut settings = GithubSettings::new(config.owner, config.repo, auth);
    if let Some(url) = config.api_base_url {
        settings.api_base_url = url;
    }
    settings.labels = config.labels;
    settings.reviewers = config.reviewers;
    Ok(settings)
}

fn daemon_settings(config: DaemonConfig, env: &impl Fn(&str) -> Option<String>) -> Result<DaemonSettings, Error> {
    use std::time::Duration;
    let listen_text = env("GCOPS_LISTEN").or(config.listen).unwrap_or_else(|| "127.0.0.1:9464".to_string());
    let listen = listen_text
        .parse()
        .map_err(|_| invalid("daemon.listen", &format!("{listen_text} is not an address:port such as 127.0.0.1:9464")))?;
    let seconds = |key: &str, value: Option<u64>, default: u64| -> Result<Duration, Error> {
        match value.unwrap_or(default) {
            0 => Err(invalid(key, "must be at least 1 second")),
            n => Ok(Duration::from_secs(n)),
        }
    };
    let git_interval = seconds("daemon.gitIntervalSeconds", config.git_interval_seconds, 300)?;
    let live_interval = seconds("daemon.liveIntervalSeconds", config.live_interval_seconds, 1800)?;
    let ready_default = 2 * live_interval.as_secs();
    Ok(DaemonSettings {
        listen,
        git_interval,
        live_interval,
        ready_max_age: seconds("daemon.readyMaxAgeSeconds", config.ready_max_age_seconds, ready_default)?,
        shutdown_deadline: seconds("daemon.shutdownDeadlineSeconds", config.shutdown_deadline_seconds, 60)?,
        watch_local_repository: config.watch_local_repository.unwrap_or(true),
        webhook_secret_file: config.webhook_secret_file,
    })
}

fn invalid(key: &str, message: &str) -> Error {
    Error::Invalid { key: key.to_string(), origin: "gcops.yaml".to_string(), message: message.to_string() }
}

/// True for URLs that must be cloned; anything else is a local path.
fn is_remote_url(s: &str) -> bool {
    s.contains("://") || (s.contains('@') && s.contains(':') && !Path::new(s).exists())
}

/// Generates the configuration reference in Markdown from the doc comments
/// of [`FileConfig`] and its sections (committed as `docs/configuration.md`).
pub fn reference_markdown() -> String {
    let schema = serde_json::to_value(schemars::schema_for!(FileConfig)).expect("schema serialises");
    let mut out = String::from(
        "# gcops.yaml reference\n\nGenerated from the documentation of the settings types \
         (`GCOPS_UPDATE_DOCS=1 cargo test --lib config` regenerates it). Unknown keys are errors.\n\n\
         | key | type | meaning |\n| --- | --- | --- |\n",
    );
    let defs = schema.get("$defs").cloned().unwrap_or_default();
    describe_properties(&schema, &defs, "", &mut out);
    out
}

fn describe_properties(schema: &serde_json::Value, defs: &serde_json::Value, prefix: &str, out: &mut String) {
    let Some(properties) = schema.get("properties").and_then(|p| p.as_object()) else { return };
    for (key, property) in properties {
        let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
        let (resolved, type_name) = resolve_schema(property, defs);
        let description = property
            .get("description")
            .or_else(|| resolved.get("description"))
            .and_then(|d| d.as_str())
            .unwrap_or("")
            .replace('\n', " ");
        out.push_str(&format!("| `{path}` | {type_name} | {description} |\n"));
        if resolved.get("properties").is_some() {
            describe_properties(&resolved, defs, &path, out);
        }
    }
}

/// Follows `$ref` and `anyOf: [X, null]` to the schema that describes a value.
fn resolve_schema(schema: &serde_json::Value, defs: &serde_json::Value) -> (serde_json::Value, String) {
    if let Some(reference) = schema.get("$ref").and_then(|r| r.as_str()) {
        let name = reference.rsplit('/').next().unwrap_or_default();
        let target = defs.get(name).cloned().unwrap_or_default();
        // Enums appear as `enum: [..]`, or as `oneOf` of `const` values when
        // their variants carry doc comments.
        let values: Vec<String> = match (target.get("enum"), target.get("oneOf")) {
            (Some(serde_json::Value::Array(values)), _) => values.iter().filter_map(|v| v.as_str().map(str::to_string)).collect(),
            (_, Some(serde_json::Value::Array(options))) => {
                options.iter().filter_map(|o| o.get("const").and_then(|c| c.as_str()).map(str::to_string)).collect()
            }
            _ => Vec::new(),
        };
        let type_name = if values.is_empty() { "section".to_string() } else { values.join(" \\| ") };
        return (target, type_name);
    }
    if let Some(options) = schema.get("anyOf").and_then(|a| a.as_array())
        && let Some(inner) = options.iter().find(|o| o.get("type").and_then(|t| t.as_str()) != Some("null"))
    {
        return resolve_schema(inner, defs);
    }
    let type_name = match schema.get("type") {
        Some(serde_json::Value::String(t)) => t.clone(),
        Some(serde_json::Value::Array(ts)) => {
            ts.iter().filter_map(|t| t.as_str()).filter(|t| *t != "null").collect::<Vec<_>>().join(", ")
        }
        _ => "value".to_string(),
    };
    let type_name = match (type_name.as_str(), schema.get("items").and_then(|i| i.get("type")).and_then(|t| t.as_str())) {
        ("array", Some(item)) => format!("list of {item}"),
        _ => type_name,
    };
    (schema.clone(), type_name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn config_unknown_key_is_rejected_with_position() {
        let err = FileConfig::parse("repository:\n  url: .\n  brnch: main\n", Path::new("gcops.yaml")).unwrap_err();
        let Error::Parse { line, .. } = err else { panic!("expected a parse error, got {err:?}") };
        assert_eq!(line, 3);
    }

    #[test]
    fn config_defaults_fill_in() {
        let s = Settings::from_file(FileConfig::default(), no_env).unwrap();
        assert_eq!(s.branch, "main");
        assert_eq!(s.language, Lang::Ja);
        assert_eq!(s.aws.role_name, "GCOpsReadOnly");
        assert_eq!(s.repository, RepoLocation::Local(PathBuf::from(".")));
    }

    #[test]
    fn config_env_overrides_file() {
        let file = FileConfig::parse("repository:\n  branch: main\nlanguage: ja\n", Path::new("x")).unwrap();
        let env = |k: &str| match k {
            "GCOPS_BRANCH" => Some("desired".to_string()),
            "GCOPS_LANGUAGE" => Some("en".to_string()),
            _ => None,
        };
        let s = Settings::from_file(file, env).unwrap();
        assert_eq!(s.branch, "desired");
        assert_eq!(s.language, Lang::En);
    }

    #[test]
    fn config_region_outside_gc_is_rejected() {
        let file = FileConfig::parse("aws:\n  regions: [us-east-1]\n", Path::new("x")).unwrap();
        assert!(matches!(Settings::from_file(file, no_env), Err(Error::Invalid { .. })));
    }

    #[test]
    fn config_daemon_defaults_and_listen() {
        let s = Settings::from_file(FileConfig::default(), no_env).unwrap();
        assert_eq!(s.daemon.listen.to_string(), "127.0.0.1:9464");
        assert_eq!(s.daemon.git_interval.as_secs(), 300);
        assert_eq!(s.daemon.live_interval.as_secs(), 1800);
        let file = FileConfig::parse("daemon:\n  listen: nowhere\n", Path::new("x")).unwrap();
        assert!(matches!(Settings::from_file(file, no_env), Err(Error::Invalid { .. })));
    }

    #[test]
    fn config_github_needs_one_auth() {
        let both = "forge:\n  kind: github\n  github:\n    owner: city\n    repo: gc\n    tokenEnv: T\n    tokenFile: /t\n";
        let file = FileConfig::parse(both, Path::new("x")).unwrap();
        assert!(matches!(Settings::from_file(file, no_env), Err(Error::Invalid { .. })));
        let token = "forge:\n  kind: github\n  github:\n    owner: city\n    repo: gc\n    tokenEnv: T\n";
        let s = Settings::from_file(FileConfig::parse(token, Path::new("x")).unwrap(), no_env).unwrap();
        assert_eq!(s.github.unwrap().owner, "city");
    }

    #[test]
    fn config_reference_is_current() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/configuration.md");
        let generated = reference_markdown();
        if std::env::var_os("GCOPS_UPDATE_DOCS").is_some() {
            std::fs::write(&path, &generated).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(committed == generated, "docs/configuration.md is stale: run GCOPS_UPDATE_DOCS=1 cargo test --lib config");
    }

    #[test]
    fn config_remote_url_is_detected() {
        let text = "repository:\n  url: https://git.example.jp/city/gc.git\nforge:\n  kind: github\n  github:\n    owner: city\n    repo: gc\n    tokenEnv: T\n";
        let s = Settings::from_file(FileConfig::parse(text, Path::new("x")).unwrap(), no_env).unwrap();
        assert!(matches!(s.repository, RepoLocation::Remote { .. }));
    }

    #[test]
    fn config_git_token_defaults_to_github_token() {
        let text = "repository:\n  url: https://github.com/city/gc.git\nforge:\n  kind: github\n  github:\n    owner: city\n    repo: gc\n    tokenEnv: GH_TOKEN\n";
        let s = Settings::from_file(FileConfig::parse(text, Path::new("x")).unwrap(), no_env).unwrap();
        assert_eq!(s.token_env.as_deref(), Some("GH_TOKEN"));
    }

    #[test]
    fn config_local_forge_rejects_remote_repository() {
        let file = FileConfig::parse("repository:\n  url: https://git.example.jp/city/gc.git\n", Path::new("x")).unwrap();
        assert!(matches!(Settings::from_file(file, no_env), Err(Error::Invalid { .. })));
    }
}
