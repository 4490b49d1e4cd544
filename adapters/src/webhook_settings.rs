//! The `webhooks:`, `notify:` and `webhook_delivery:` sections of a repository's
//! `.pipeline/config.yaml`: where journal events are delivered and how hard to try.
//!
//! ```yaml
//! webhooks:
//!   - url: https://hooks.example.com/pipeline
//!     events: [run_finished, step_failed, approval_requested]
//!     secret_env: PIPELINE_WEBHOOK_SECRET     # the variable's name, never the secret
//! notify:
//!   - command: notify-send pipeline "$PIPELINE_EVENT_KIND"
//!     events: ["*"]
//! webhook_delivery:
//!   give_up_after_sec: 86400
//!   timeout_sec: 10
//!   drain_sec: 10
//!   max_backoff_sec: 600
//! ```
//!
//! This module only reads and checks the sections (issue #12, "Webhooks and
//! notifications"); the outbox and delivery live in `pipeline-core` and
//! `pipeline-webhooks`, and `docs/WEBHOOKS.md` is the user's reference. The event kinds a
//! subscription may name are the caller's (`pipeline-core` knows the journal), so
//! [`WebhookSettings::load`] takes them as a list. The signing secret is read from the
//! environment by [`WebhookSettings::signing_secrets`], only when deliveries are made.

use std::path::Path;

use serde::Deserialize;

use crate::config_check::{closest, read_checked};
use crate::config_error::ConfigError;

/// `events: ["*"]`: every kind of event.
pub const ALL_EVENTS: &str = "*";

/// One `webhooks:` entry: events POSTed to `url`, signed (Standard Webhooks) with the
/// secret held by the environment variable `secret_env`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookEndpoint {
    /// `http://` or `https://` URL; may carry a token in its query (never printed).
    pub url: String,
    /// Event kinds delivered (`event` of the journal entry), or `"*"` for all.
    pub events: Vec<String>,
    /// Name of the environment variable holding the signing secret.
    pub secret_env: String,
}

/// One `notify:` entry: a local command run with `sh -c`, the event JSON on its stdin.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyCommand {
    /// Shell command line (`sh -c`), run in the repository's working directory.
    pub command: String,
    /// Event kinds delivered, or `"*"` for all.
    pub events: Vec<String>,
}

/// `webhook_delivery:`: timeouts, backoff and when to give up, for every endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeliverySettings {
    /// A delivery still failing this many seconds after its event was recorded is given
    /// up and recorded `failed` (default 86,400: one day).
    pub give_up_after_sec: u64,
    /// Seconds one HTTP request or notify command may take (default 10).
    pub timeout_sec: u64,
    /// Seconds `pipeline run`/`resume` keeps delivering after the run ended (default
    /// 10); what is still pending then is delivered by a later run, resume or `serve`.
    pub drain_sec: u64,
    /// Cap of the exponential backoff between attempts, in seconds, before jitter
    /// (default 600).
    pub max_backoff_sec: u64,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        DeliverySettings {
            give_up_after_sec: 86_400,
            timeout_sec: 10,
            drain_sec: 10,
            max_backoff_sec: 600,
        }
    }
}

/// The webhook and notify settings of one configuration file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookSettings {
    /// `webhooks:` in file order.
    pub webhooks: Vec<WebhookEndpoint>,
    /// `notify:` in file order.
    pub notify: Vec<NotifyCommand>,
    /// `webhook_delivery:`.
    pub delivery: DeliverySettings,
}

/// The three sections as written (their fields are rows of `CONFIG_KEYS`; a test
/// compares them).
#[derive(Deserialize)]
struct Document {
    #[serde(default)]
    webhooks: Option<Vec<WebhookEndpoint>>,
    #[serde(default)]
    notify: Option<Vec<NotifyCommand>>,
    #[serde(default)]
    webhook_delivery: Option<DeliverySettings>,
}

impl WebhookSettings {
    /// The settings of the configuration file at `path` (none when it does not exist),
    /// checked: every URL is `http://` or `https://` with a host, every `events` list is
    /// non-empty and names `"*"` or kinds of `known_kinds`, every `secret_env` is a
    /// variable name, every command is non-empty, `timeout_sec` and `give_up_after_sec`
    /// are above 0.
    ///
    /// # Errors
    /// [`ConfigError::Read`], [`ConfigError::UnknownKey`] (any key of the file, with "did
    /// you mean"), [`ConfigError::Parse`] (invalid YAML, a wrong type, a missing field),
    /// [`ConfigError::InvalidValue`] naming the key (`webhooks[0].events`) and the fix.
    pub fn load(path: &Path, known_kinds: &[&str]) -> Result<WebhookSettings, ConfigError> {
        let document: Option<Document> = read_checked(path)?;
        let settings = match document {
            Some(d) => WebhookSettings {
                webhooks: d.webhooks.unwrap_or_default(),
                notify: d.notify.unwrap_or_default(),
                delivery: d.webhook_delivery.unwrap_or_default(),
            },
            None => WebhookSettings::default(),
        };
        settings.check(&path.display().to_string(), known_kinds)?;
        Ok(settings)
    }

    /// Whether no endpoint is configured (nothing is ever written to the outbox).
    pub fn is_empty(&self) -> bool {
        self.webhooks.is_empty() && self.notify.is_empty()
    }

    /// The signing secret of each webhook, in `webhooks` order, read through `env`
    /// (`std::env::var` in the binary).
    ///
    /// # Errors
    /// [`ConfigError::MissingSecret`] naming the key `webhooks[i].secret_env`, the
    /// variable and the endpoint (redacted URL) for a variable that is not set or empty.
    pub fn signing_secrets(
        &self,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Vec<String>, ConfigError> {
        self.webhooks
            .iter()
            .enumerate()
            .map(|(i, hook)| match env(&hook.secret_env) {
                Some(value) if !value.is_empty() => Ok(value),
                _ => Err(ConfigError::MissingSecret {
                    key: format!("webhooks[{i}].secret_env"),
                    variable: hook.secret_env.clone(),
                    endpoint: redacted_url(&hook.url),
                }),
            })
            .collect()
    }

    fn check(&self, source_name: &str, known_kinds: &[&str]) -> Result<(), ConfigError> {
        let invalid = |key: String, message: String| ConfigError::InvalidValue {
            source_name: source_name.to_owned(),
            key,
            message,
        };
        for (i, hook) in self.webhooks.iter().enumerate() {
            if let Err(message) = check_url(&hook.url) {
                return Err(invalid(format!("webhooks[{i}].url"), message));
            }
            check_events(&hook.events, known_kinds)
                .map_err(|message| invalid(format!("webhooks[{i}].events"), message))?;
            if !is_variable_name(&hook.secret_env) {
                return Err(invalid(
                    format!("webhooks[{i}].secret_env"),
                    format!(
                        "{:?} is not an environment variable name; give the NAME of the variable \
                         holding the signing secret (letters, digits, `_`), never the secret itself",
                        hook.secret_env
                    ),
                ));
            }
        }
        for (i, notify) in self.notify.iter().enumerate() {
            if notify.command.trim().is_empty() {
                return Err(invalid(
                    format!("notify[{i}].command"),
                    "the command is empty; give a shell command line, e.g. `notify-send pipeline`"
                        .to_owned(),
                ));
            }
            check_events(&notify.events, known_kinds)
                .map_err(|message| invalid(format!("notify[{i}].events"), message))?;
        }
        for (key, value) in [
            ("timeout_sec", self.delivery.timeout_sec),
            ("give_up_after_sec", self.delivery.give_up_after_sec),
            ("max_backoff_sec", self.delivery.max_backoff_sec),
        ] {
            if value == 0 {
                return Err(invalid(
                    format!("webhook_delivery.{key}"),
                    "must be at least 1 (seconds)".to_owned(),
                ));
            }
        }
        Ok(())
    }
}

/// `scheme://host[:port]/path` of `url`: no user name or password, no query, no
/// fragment, where tokens are usually carried. What logs, errors and `pipeline webhooks`
/// show of a webhook URL. Text that is not a URL is shown as `<invalid URL>`.
pub fn redacted_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "<invalid URL>".to_owned();
    };
    let end = rest.find(['?', '#']).unwrap_or(rest.len());
    let rest = &rest[..end];
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    format!("{}://{host}{path}", scheme.to_ascii_lowercase())
}

/// `Ok` for an `http://` or `https://` URL with a host; else why not.
fn check_url(url: &str) -> Result<(), String> {
    let shown = redacted_url(url);
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(format!(
            "{shown} is not a URL; write it as http://host/path or https://host/path"
        ));
    };
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return Err(format!(
            "scheme `{scheme}` is not supported; webhook URLs are http:// or https://"
        ));
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    if host.is_empty() || host.starts_with(':') || url.chars().any(char::is_whitespace) {
        return Err(format!(
            "{shown} has no host or contains spaces; write it as {scheme}://host[:port]/path"
        ));
    }
    Ok(())
}

/// `Ok` when `events` is non-empty and each is `"*"` or a known kind; else why not,
/// with the closest known kind for a typo.
fn check_events(events: &[String], known_kinds: &[&str]) -> Result<(), String> {
    if events.is_empty() {
        return Err(
            "no event kinds; list the kinds to deliver (e.g. [run_finished, step_failed]) or [\"*\"] for all"
                .to_owned(),
        );
    }
    for kind in events {
        if kind == ALL_EVENTS || known_kinds.contains(&kind.as_str()) {
            continue;
        }
        let hint = match closest(kind, known_kinds.iter().copied()) {
            Some(near) => format!("did you mean `{near}`? "),
            None => String::new(),
        };
        return Err(format!(
            "unknown event kind `{kind}`; {hint}the kinds are \"*\", {} (docs/EVENTS.md)",
            known_kinds.join(", ")
        ));
    }
    Ok(())
}

fn is_variable_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests;
