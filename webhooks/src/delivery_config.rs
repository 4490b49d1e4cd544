//! The endpoints a process delivers to, resolved from `.pipeline/config.yaml` and the
//! environment: each outbox row's `endpoint_key` maps to a URL with its signing secret,
//! or to a notify command.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use pipeline_adapters::{DeliverySettings, WebhookSettings, redacted_url};
use pipeline_core::state::{EndpointType, endpoint_key, subscribable_kinds};

use crate::DeliveryError;
use crate::signing_secret::SigningSecret;

/// Where one endpoint's deliveries go.
#[derive(Debug, Clone)]
pub(crate) enum Target {
    /// POST to `url` (which may hold a token: never print it; `shown` is printable).
    Webhook {
        url: String,
        shown: String,
        secret: SigningSecret,
    },
    /// Run `command` with `sh -c`.
    Notify { command: String },
}

/// Everything the delivery loop needs besides the database: endpoints by
/// `endpoint_key`, timeouts and backoff, where notify commands run and log.
#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    pub(crate) targets: HashMap<String, Target>,
    /// `webhook_delivery:` of the configuration.
    pub settings: DeliverySettings,
    /// Working directory of notify commands (the repository).
    pub workdir: PathBuf,
    /// File that notify commands' stdout and stderr are appended to.
    pub notify_log: PathBuf,
}

impl DeliveryConfig {
    /// The configuration of the repository at `repo_root` whose state directory (with
    /// `config.yaml` and `logs/`) is `state_dir`, signing secrets read from the process
    /// environment. Notify output goes to `<state_dir>/logs/notify.log`.
    ///
    /// Errors: [`DeliveryError::Config`] for a bad section or a signing secret variable
    /// that is not set, [`DeliveryError::Secret`] for a `whsec_` secret that is not
    /// base64.
    pub fn load(repo_root: &Path, state_dir: &Path) -> Result<DeliveryConfig, DeliveryError> {
        let settings =
            WebhookSettings::load(&state_dir.join("config.yaml"), &subscribable_kinds())?;
        DeliveryConfig::from_settings(
            &settings,
            |name| std::env::var(name).ok(),
            repo_root,
            &state_dir.join("logs").join("notify.log"),
        )
    }

    /// The configuration of `settings`, secrets read through `env`.
    ///
    /// Errors: as [`DeliveryConfig::load`].
    pub fn from_settings(
        settings: &WebhookSettings,
        env: impl Fn(&str) -> Option<String>,
        workdir: &Path,
        notify_log: &Path,
    ) -> Result<DeliveryConfig, DeliveryError> {
        let secrets = settings.signing_secrets(env)?;
        let mut targets = HashMap::new();
        for (i, (hook, secret)) in settings.webhooks.iter().zip(secrets).enumerate() {
            let secret = SigningSecret::from_env_value(&secret).map_err(|message| {
                DeliveryError::Secret {
                    key: format!("webhooks[{i}].secret_env"),
                    variable: hook.secret_env.clone(),
                    message,
                }
            })?;
            targets.insert(
                endpoint_key(EndpointType::Webhook, &hook.url),
                Target::Webhook {
                    url: hook.url.clone(),
                    shown: redacted_url(&hook.url),
                    secret,
                },
            );
        }
        for notify in &settings.notify {
            targets.insert(
                endpoint_key(EndpointType::Notify, &notify.command),
                Target::Notify {
                    command: notify.command.clone(),
                },
            );
        }
        Ok(DeliveryConfig {
            targets,
            settings: settings.delivery,
            workdir: workdir.to_path_buf(),
            notify_log: notify_log.to_path_buf(),
        })
    }

    /// Whether no endpoint is configured.
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }
}
