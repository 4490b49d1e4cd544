//! Why deliveries cannot start.

/// An error of the delivery setup (the loop itself records delivery failures in the
/// outbox and never returns them).
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// `.pipeline/config.yaml` is wrong, or a signing secret variable is not set.
    #[error(transparent)]
    Config(#[from] pipeline_adapters::ConfigError),
    /// A signing secret's value cannot be used.
    #[error("`{key}`: the value of {variable} {message}")]
    Secret {
        /// `webhooks[i].secret_env`.
        key: String,
        /// The variable's name.
        variable: String,
        /// What is wrong (never the value).
        message: String,
    },
    /// The state database cannot be opened or read.
    #[error(transparent)]
    State(#[from] pipeline_core::state::StateError),
    /// The HTTP client cannot be built (TLS setup).
    #[error("cannot build the webhook HTTP client: {0}")]
    Client(String),
}
