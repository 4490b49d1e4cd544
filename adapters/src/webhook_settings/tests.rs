//! Tests of the `webhooks:`, `notify:` and `webhook_delivery:` sections.

use super::*;

const KINDS: &[&str] = &["run_started", "run_finished", "step_failed"];

fn load(yaml: &str) -> Result<WebhookSettings, ConfigError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.yaml");
    std::fs::write(&path, yaml).unwrap();
    WebhookSettings::load(&path, KINDS)
}

fn error(yaml: &str) -> String {
    load(yaml).unwrap_err().to_string()
}

#[test]
fn a_full_configuration_loads_with_its_defaults() {
    let settings = load(
        "webhooks:\n  - url: https://u:p@hooks.example.com/p?token=abc\n    events: [run_finished, step_failed]\n    secret_env: HOOK_SECRET\nnotify:\n  - command: cat > /tmp/x\n    events: ['*']\nwebhook_delivery:\n  timeout_sec: 3\n",
    )
    .unwrap();
    assert_eq!(settings.webhooks.len(), 1);
    assert_eq!(settings.webhooks[0].secret_env, "HOOK_SECRET");
    assert_eq!(settings.notify[0].events, ["*"]);
    assert_eq!(settings.delivery.timeout_sec, 3);
    assert_eq!(settings.delivery.give_up_after_sec, 86_400);
    assert!(!settings.is_empty());
}

#[test]
fn a_missing_file_or_section_means_no_endpoints() {
    let dir = tempfile::tempdir().unwrap();
    let settings = WebhookSettings::load(&dir.path().join("none.yaml"), KINDS).unwrap();
    assert!(settings.is_empty());
    assert!(load("scope_overlap: error\n").unwrap().is_empty());
}

#[test]
fn an_unknown_key_inside_a_webhook_is_named_with_its_position_and_a_suggestion() {
    let message = error(
        "webhooks:\n  - url: http://127.0.0.1:1/\n    events: ['*']\n    secret_env: S\n  - url: http://127.0.0.1:1/\n    event: ['*']\n    secret_env: S\n",
    );
    assert!(
        message.contains("unknown key `webhooks[1].event`"),
        "{message}"
    );
    assert!(
        message.contains("did you mean `webhooks[1].events`"),
        "{message}"
    );
    assert!(message.contains("line 6"), "line of the key: {message}");
}

#[test]
fn an_unknown_event_kind_is_an_error_with_the_closest_kind() {
    let message = error("notify:\n  - command: 'true'\n    events: [run_finishd]\n");
    assert!(message.contains("`notify[0].events`"), "{message}");
    assert!(
        message.contains("unknown event kind `run_finishd`"),
        "{message}"
    );
    assert!(message.contains("did you mean `run_finished`"), "{message}");
}

#[test]
fn bad_values_are_errors_naming_their_key() {
    for (yaml, key, words) in [
        (
            "webhooks: [{url: ftp://h/x, events: ['*'], secret_env: S}]",
            "webhooks[0].url",
            "scheme `ftp`",
        ),
        (
            "webhooks: [{url: 'https://', events: ['*'], secret_env: S}]",
            "webhooks[0].url",
            "no host",
        ),
        (
            "webhooks: [{url: 'http://h/', events: [], secret_env: S}]",
            "webhooks[0].events",
            "no event kinds",
        ),
        (
            "webhooks: [{url: 'http://h/', events: ['*'], secret_env: 'whsec_abc='}]",
            "webhooks[0].secret_env",
            "never the secret itself",
        ),
        (
            "notify: [{command: '  ', events: ['*']}]",
            "notify[0].command",
            "empty",
        ),
        (
            "webhook_delivery: {timeout_sec: 0}",
            "webhook_delivery.timeout_sec",
            "at least 1",
        ),
    ] {
        let message = error(yaml);
        assert!(message.contains(&format!("`{key}`")), "{yaml}: {message}");
        assert!(message.contains(words), "{yaml}: {message}");
    }
}

#[test]
fn a_missing_field_is_a_parse_error() {
    let message = error("webhooks: [{url: 'http://h/', events: ['*']}]");
    assert!(message.contains("secret_env"), "{message}");
}

#[test]
fn signing_secrets_come_from_the_environment_and_a_missing_one_is_named() {
    let settings = load(
        "webhooks:\n  - url: https://hooks.example.com/p?token=abc\n    events: ['*']\n    secret_env: HOOK_SECRET\n",
    )
    .unwrap();
    let secrets = settings
        .signing_secrets(|name| (name == "HOOK_SECRET").then(|| "s3cret".to_owned()))
        .unwrap();
    assert_eq!(secrets, ["s3cret"]);
    let message = settings.signing_secrets(|_| None).unwrap_err().to_string();
    assert!(message.contains("`webhooks[0].secret_env`"), "{message}");
    assert!(message.contains("HOOK_SECRET is not set"), "{message}");
    assert!(
        message.contains("https://hooks.example.com/p)"),
        "{message}"
    );
    assert!(!message.contains("token=abc"), "{message}");
    let empty = settings.signing_secrets(|_| Some(String::new()));
    assert!(empty.is_err());
}

#[test]
fn redacted_urls_keep_scheme_host_and_path_only() {
    assert_eq!(
        redacted_url("HTTPS://user:pw@hooks.example.com:8443/a/b?token=x#frag"),
        "https://hooks.example.com:8443/a/b"
    );
    assert_eq!(redacted_url("http://127.0.0.1:9/"), "http://127.0.0.1:9/");
    assert_eq!(redacted_url("http://h?k=v"), "http://h");
    assert_eq!(redacted_url("not a url"), "<invalid URL>");
}
