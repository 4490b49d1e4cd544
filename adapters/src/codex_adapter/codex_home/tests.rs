//! Unit tests of `codex_home`.

use std::path::Path;

use super::{codex_home_for, config_toml, quote};
use crate::tool_profile::{ToolKind, ToolProfile};

fn codex_profile() -> ToolProfile {
    let mut profile = ToolProfile::custom("codex", Vec::new());
    profile.kind = ToolKind::Codex;
    profile
}

#[test]
fn home_sits_next_to_the_attempt_log() {
    assert_eq!(
        codex_home_for(Path::new("/repo/.pipeline/logs/r1/build/2.log")),
        Path::new("/repo/.pipeline/logs/r1/build/2.codex-home")
    );
}

#[test]
fn provider_points_at_api_base_with_the_key_variable_and_no_retries() {
    let mut profile = codex_profile();
    profile.api_base = Some("http://127.0.0.1:4000/v1".to_owned());
    profile.api_key_env = Some("FAKE_KEY".to_owned());
    let toml = config_toml("codex", &profile, "ws/step", 1);
    for line in [
        "model_provider = \"pipeline\"",
        "[model_providers.pipeline]",
        "base_url = \"http://127.0.0.1:4000/v1\"",
        "env_key = \"FAKE_KEY\"",
        "wire_api = \"responses\"",
        "request_max_retries = 0",
        "stream_max_retries = 0",
        "check_for_update_on_startup = false",
        "web_search = \"disabled\"",
        "[analytics]\nenabled = false",
        "exporter = \"none\"",
    ] {
        assert!(toml.contains(line), "missing {line:?} in\n{toml}");
    }
}

#[test]
fn default_provider_is_openai_and_env_key_is_omitted_without_api_key_env() {
    let toml = config_toml("codex", &codex_profile(), "s", 1);
    assert!(
        toml.contains("base_url = \"https://api.openai.com/v1\""),
        "{toml}"
    );
    assert!(!toml.contains("env_key"), "{toml}");
}

#[test]
fn quoting_escapes_what_toml_forbids() {
    assert_eq!(quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
    assert_eq!(quote("l1\nl2\u{7f}\u{1}"), "\"l1\\nl2\\u007F\\u0001\"");
    assert_eq!(quote("tab\tok é"), "\"tab\tok é\"");
}
