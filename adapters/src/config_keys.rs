//! Every key of a repository's `.pipeline/config.yaml`, in one table.
//!
//! The file is read by several readers (`tools:` by the tool registry, `secrets:` by
//! [`crate::SecretSettings`], `scope_overlap` by [`crate::ProjectSettings`], `prices:` by
//! [`crate::PriceTable`], `webhooks:`,
//! `notify:` and `webhook_delivery:` by [`crate::WebhookSettings`], `engine:` and
//! `temporal:` by [`crate::EngineSettings`]); each of
//! them first checks the whole document against [`CONFIG_KEYS`] (see `config_check`),
//! so that a key no reader knows is an error with a "did you mean" instead of being
//! silently ignored (issue #11, point 1). `docs/CONFIG.md` is checked against this table
//! by a unit test, and the `PIPELINE_TOOL_<NAME>_<FIELD>` variables take their `FIELD`
//! names from [`ConfigKey::env_field`].
//!
//! A key path is dotted; the segment `<name>` stands for any tool profile name. A key
//! with rows below it in the table is a section whose own keys are checked; any other
//! key is a value (a map value such as `tools.<name>.env` holds names of the user's
//! choosing and is not checked here). Types, ranges and the consistency of a profile
//! are checked afterwards by the reader of each section.

/// The path segment standing for any tool profile name (`tools.<name>.command`).
pub const NAME_SEGMENT: &str = "<name>";

/// One key of `.pipeline/config.yaml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfigKey {
    /// Dotted path, e.g. `tools.<name>.timeout_sec`.
    pub path: &'static str,
    /// The value's type as written in YAML, e.g. `integer (seconds, > 0)`.
    pub value_type: &'static str,
    /// The value used when the key is absent.
    pub default: &'static str,
    /// A short YAML example of the key with a value.
    pub example: &'static str,
    /// What the key does, in one line.
    pub description: &'static str,
    /// For tool profile fields that `PIPELINE_TOOL_<NAME>_<FIELD>` can override: `FIELD`.
    pub env_field: Option<&'static str>,
}

const fn key(
    path: &'static str,
    value_type: &'static str,
    default: &'static str,
    example: &'static str,
    description: &'static str,
) -> ConfigKey {
    ConfigKey {
        path,
        value_type,
        default,
        example,
        description,
        env_field: None,
    }
}

const fn env_key(
    path: &'static str,
    value_type: &'static str,
    default: &'static str,
    example: &'static str,
    description: &'static str,
    env_field: &'static str,
) -> ConfigKey {
    ConfigKey {
        env_field: Some(env_field),
        ..key(path, value_type, default, example, description)
    }
}

/// Every key of `.pipeline/config.yaml`, sections before their keys.
///
/// The tool profile fields mirror `ProfileLayer` (`profile_layer.rs`), the `retry` and
/// `circuit_breaker` keys mirror `RetrySettings` and `BreakerSettings` of
/// `pipeline-error` (tests compare both), `secrets` mirrors `secret_settings.rs`,
/// `scope_overlap` mirrors `project_settings.rs`, `cache` mirrors `cache_settings.rs`, `prices` mirrors `price_table.rs`,
/// `webhooks`, `notify` and `webhook_delivery` mirror `webhook_settings.rs`, and `engine`
/// and `temporal` mirror `engine_settings.rs`. The keys of a list section
/// (`webhooks.url`) are those of each of its elements.
pub const CONFIG_KEYS: &[ConfigKey] = &[
    key(
        "tools",
        "map of profile name to tool profile",
        "built-in `aider`, `codex`, `claude`, `shell`",
        "`tools: {lint: {command: cargo}}`",
        "Tool profiles; fields given here replace those of the built-in profile of the same name one by one.",
    ),
    key(
        "tools.<name>",
        "map (a tool profile)",
        "-",
        "`my-agent: {command: ./agent.sh}`",
        "One tool profile; the name uses letters, digits, `-` and `_`.",
    ),
    key(
        "tools.<name>.kind",
        "`custom` | `aider` | `codex` | `claude`",
        "`custom`",
        "`kind: aider`",
        "Which driver runs the tool.",
    ),
    env_key(
        "tools.<name>.command",
        "string (program name or path)",
        "the CLI's usual name; required for `custom`",
        "`command: ./scripts/agent.sh`",
        "Program to run; a bare name is looked up on `PATH`, `./x` is taken from the step's worktree.",
        "COMMAND",
    ),
    key(
        "tools.<name>.args",
        "list of strings (argument templates)",
        "`[]`",
        "`args: [\"--prompt-file\", \"{prompt_file}\"]`",
        "Arguments with `{prompt}`, `{prompt_file}`, `{worktree}`, `{step_id}`, `{files}`, `{model}`, `{api_base}`; `{{`/`}}` are literal braces.",
    ),
    key(
        "tools.<name>.env",
        "map of variable name to string, number or boolean",
        "`{}`",
        "`env: {DEBUG: 1}`",
        "Variables added to the tool's environment (a step's `env` wins); merged variable by variable across layers.",
    ),
    env_key(
        "tools.<name>.model",
        "string",
        "none",
        "`model: gpt-4.1`",
        "Model name, for drivers and the `{model}` placeholder.",
        "MODEL",
    ),
    env_key(
        "tools.<name>.api_base",
        "string (URL)",
        "none",
        "`api_base: http://localhost:8080/v1`",
        "Base URL of the model API, for drivers and the `{api_base}` placeholder.",
        "API_BASE",
    ),
    key(
        "tools.<name>.api_key_env",
        "string (variable name)",
        "none",
        "`api_key_env: OPENAI_API_KEY`",
        "Name of the variable holding the API key (never the key itself); its value is redacted.",
    ),
    env_key(
        "tools.<name>.timeout_sec",
        "integer (seconds, > 0)",
        "none (no timeout)",
        "`timeout_sec: 1800`",
        "Timeout of one attempt when the step gives none.",
        "TIMEOUT_SEC",
    ),
    key(
        "tools.<name>.stall_timeout_sec",
        "integer (seconds, >= 0)",
        "300 for kinds aider, codex, claude; none for custom",
        "`stall_timeout_sec: 120`",
        "Stop the tool (class `stalled`, retried like `transient`) when it prints nothing and uses no CPU for this long; 0 turns stall detection off. A step's `stall_timeout_sec` wins.",
    ),
    key(
        "tools.<name>.success_exit_codes",
        "list of integers (not empty)",
        "`[0]`",
        "`success_exit_codes: [0, 3]`",
        "Exit codes that mean success.",
    ),
    key(
        "tools.<name>.capabilities",
        "list of strings",
        "`[]`",
        "`capabilities: [code_generation]`",
        "What the tool is for; a step's `capability` is routed to a tool listing it.",
    ),
    key(
        "tools.<name>.priority",
        "integer",
        "`0`",
        "`priority: 10`",
        "Preference among tools with the same capability, higher first.",
    ),
    key(
        "tools.<name>.max_concurrent",
        "integer (> 0)",
        "none (only `--jobs` limits)",
        "`max_concurrent: 2`",
        "At most this many steps use the tool at once.",
    ),
    key(
        "tools.<name>.requests_per_minute",
        "integer (> 0)",
        "none (unlimited)",
        "`requests_per_minute: 20`",
        "Rate limit of invocations of the tool.",
    ),
    key(
        "tools.<name>.fallback",
        "list of profile names",
        "`[]`",
        "`fallback: [claude]`",
        "Profiles to escalate to, in order, when this one fails permanently; must be known and acyclic.",
    ),
    key(
        "tools.<name>.secret_env",
        "list of variable names",
        "`[]`",
        "`secret_env: [BOT_TOKEN]`",
        "Variables whose values are secrets: passed to the tool, redacted from all output.",
    ),
    key(
        "tools.<name>.retry",
        "map",
        "the defaults of each key below",
        "`retry: {max_attempts: 5}`",
        "Retry settings of steps using the tool; a workstream's and a step's `retry` win (docs/ERRORS.md).",
    ),
    key(
        "tools.<name>.retry.enabled",
        "boolean",
        "`true`",
        "`enabled: false`",
        "Retries on or off.",
    ),
    key(
        "tools.<name>.retry.max_attempts",
        "integer (attempts, first included, >= 1)",
        "`3`",
        "`max_attempts: 5`",
        "Total attempts of a step.",
    ),
    key(
        "tools.<name>.retry.initial_delay",
        "number (seconds, >= 0)",
        "`1`",
        "`initial_delay: 2.5`",
        "First backoff delay.",
    ),
    key(
        "tools.<name>.retry.max_delay",
        "number (seconds, >= `initial_delay`)",
        "`60`",
        "`max_delay: 120`",
        "Cap of the backoff delay before jitter.",
    ),
    key(
        "tools.<name>.retry.multiplier",
        "number (>= 1; 1 = fixed delay)",
        "`2`",
        "`multiplier: 1.5`",
        "Growth factor between delays.",
    ),
    key(
        "tools.<name>.retry.jitter",
        "boolean",
        "`true`",
        "`jitter: false`",
        "Add random jitter (up to the delay again) to each delay.",
    ),
    key(
        "tools.<name>.retry.max_error_repeats",
        "integer (occurrences, 0 = off)",
        "`3`",
        "`max_error_repeats: 2`",
        "Stop when the same error signature has occurred this many times.",
    ),
    key(
        "tools.<name>.retry.oscillation_threshold",
        "integer (occurrences, 0 = off)",
        "`2`",
        "`oscillation_threshold: 3`",
        "Stop when an error fingerprint recurs this many times within the window.",
    ),
    key(
        "tools.<name>.retry.oscillation_window",
        "integer (attempts, >= 2)",
        "`4`",
        "`oscillation_window: 6`",
        "How many of the latest attempts oscillation detection looks at.",
    ),
    key(
        "tools.<name>.circuit_breaker",
        "map",
        "the defaults of each key below",
        "`circuit_breaker: {failure_threshold: 3}`",
        "The tool's circuit breaker (closed, open, half-open), shared by all steps using it.",
    ),
    key(
        "tools.<name>.circuit_breaker.failure_threshold",
        "integer (>= 1)",
        "`5`",
        "`failure_threshold: 3`",
        "Consecutive counting failures that open the breaker.",
    ),
    key(
        "tools.<name>.circuit_breaker.cooldown",
        "number (seconds, >= 0)",
        "`30`",
        "`cooldown: 600`",
        "How long the breaker stays open before a half-open trial.",
    ),
    key(
        "tools.<name>.circuit_breaker.half_open_trials",
        "integer (>= 1)",
        "`1`",
        "`half_open_trials: 2`",
        "Trial attempts let through when half-open, and successes needed to close.",
    ),
    key(
        "tools.<name>.sandbox",
        "`on` | `none`",
        "`on`",
        "`sandbox: none`",
        "Whether the tool runs under the write sandbox (docs/SECURITY.md).",
    ),
    key(
        "tools.<name>.writable_paths",
        "list of paths",
        "`[]`",
        "`writable_paths: [~/.cache/agent]`",
        "More paths the sandboxed tool may write below: absolute, `~/`-relative or repository-relative.",
    ),
    key(
        "tools.<name>.approval",
        "`required` | `none`",
        "`none`",
        "`approval: required`",
        "Whether steps using the tool wait for `pipeline approve` before completing, unless the step or its workstream says otherwise (docs/APPROVALS.md).",
    ),
    key(
        "secrets",
        "map",
        "the defaults of each key below",
        "`secrets: {extra_env: [DATABASE_URL]}`",
        "Which environment variables hold secrets that a run redacts from every stream.",
    ),
    key(
        "secrets.env_patterns",
        "list of name patterns (`*` = any characters, case-insensitive)",
        "`[\"*_API_KEY\", \"*_TOKEN\", \"*_SECRET\", \"*PASSWORD*\"]`",
        "`env_patterns: [\"MY_*\"]`",
        "Replaces the default patterns; `[]` turns matching by name off.",
    ),
    key(
        "secrets.extra_env",
        "list of variable names",
        "`[]`",
        "`extra_env: [DATABASE_URL]`",
        "More secret variables, by exact name.",
    ),
    key(
        "scope_overlap",
        "`serialize` | `error`",
        "`serialize`",
        "`scope_overlap: error`",
        "Steps with overlapping `files_scope` and no path between them: `serialize` orders them (an implicit edge, the later-declared one starting from the earlier one's result); `error` fails validation naming both.",
    ),
    key(
        "cache",
        "map",
        "the defaults of each key below",
        "`cache: {remote: origin}`",
        "The cross-run step cache (docs/CACHE.md).",
    ),
    key(
        "cache.remote",
        "string (a git remote name of the repository)",
        "none (no shared cache)",
        "`remote: origin`",
        "Shared cache: completed steps' entries are pushed to `refs/pipeline-cache/<key>` on this remote and fetched from it on a local miss; push and fetch failures only warn.",
    ),
    key(
        "prices",
        "map of model name to prices",
        "the built-in table `config/prices.yaml`",
        "`prices: {gpt-5.5: {input: 5.0, cached_input: 0.5, output: 30.0}}`",
        "Model prices for the estimated cost of attempts whose tool reports tokens but no cost; a model given here replaces the built-in entry as a whole (docs/COSTS.md).",
    ),
    key(
        "prices.<name>",
        "map (one model's prices)",
        "-",
        "`my-model: {input: 1.0, output: 4.0}`",
        "Prices of one model, as its tool reports its name (matched also without a `provider/` prefix or date suffix).",
    ),
    key(
        "prices.<name>.input",
        "number (US dollars per million tokens, >= 0)",
        "required",
        "`input: 5.0`",
        "Price of an uncached input token.",
    ),
    key(
        "prices.<name>.cached_input",
        "number (US dollars per million tokens, >= 0)",
        "the `input` price",
        "`cached_input: 0.5`",
        "Price of an input token read from the provider's prompt cache.",
    ),
    key(
        "prices.<name>.output",
        "number (US dollars per million tokens, >= 0)",
        "required",
        "`output: 30.0`",
        "Price of an output token (reasoning tokens included).",
    ),
    key(
        "prices.<name>.source",
        "string (URL)",
        "none",
        "`source: https://openai.com/api/pricing/`",
        "Where the price was read; informational.",
    ),
    key(
        "prices.<name>.date",
        "string (`YYYY-MM-DD`)",
        "none",
        "`date: 2026-12-06`",
        "When the price was read; informational.",
    ),
    key(
        "webhooks",
        "list of maps (webhook endpoints)",
        "`[]`",
        "`webhooks: [{url: https://hooks.example.com/p, events: [run_finished], secret_env: HOOK_SECRET}]`",
        "Endpoints that receive journal events as signed HTTP POSTs (Standard Webhooks; docs/WEBHOOKS.md).",
    ),
    key(
        "webhooks.url",
        "string (`http://` or `https://` URL)",
        "required",
        "`url: https://hooks.example.com/pipeline`",
        "Where events are POSTed; only scheme, host and path are ever printed.",
    ),
    key(
        "webhooks.events",
        "list of event kinds, or `[\"*\"]`",
        "required",
        "`events: [run_finished, step_failed]`",
        "Which journal events are delivered (kinds of docs/EVENTS.md; `*` = all).",
    ),
    key(
        "webhooks.secret_env",
        "string (variable name)",
        "required",
        "`secret_env: PIPELINE_WEBHOOK_SECRET`",
        "Name of the variable holding the signing secret (a `whsec_` value is base64); a run refuses to start when it is not set.",
    ),
    key(
        "notify",
        "list of maps (notify commands)",
        "`[]`",
        "`notify: [{command: notify-send pipeline, events: [run_finished]}]`",
        "Local commands run with `sh -c`, the event JSON on stdin (docs/WEBHOOKS.md).",
    ),
    key(
        "notify.command",
        "string (shell command line)",
        "required",
        "`command: notify-send pipeline \"$PIPELINE_EVENT_KIND\"`",
        "Run in the repository; exit 0 = delivered; its output goes to `.pipeline/logs/notify.log`.",
    ),
    key(
        "notify.events",
        "list of event kinds, or `[\"*\"]`",
        "required",
        "`events: [\"*\"]`",
        "Which journal events run the command.",
    ),
    key(
        "webhook_delivery",
        "map",
        "the defaults of each key below",
        "`webhook_delivery: {give_up_after_sec: 3600}`",
        "Timeouts, backoff and giving up, for every webhook and notify command.",
    ),
    key(
        "webhook_delivery.give_up_after_sec",
        "integer (seconds, > 0)",
        "`86400`",
        "`give_up_after_sec: 3600`",
        "A delivery still failing this long after its event is recorded `failed` with its last error.",
    ),
    key(
        "webhook_delivery.timeout_sec",
        "integer (seconds, > 0)",
        "`10`",
        "`timeout_sec: 30`",
        "Time one HTTP request or notify command may take.",
    ),
    key(
        "webhook_delivery.drain_sec",
        "integer (seconds)",
        "`10`",
        "`drain_sec: 0`",
        "How long `pipeline run`/`resume` keeps delivering after the run ended; the rest waits for a later run, resume or `serve`.",
    ),
    key(
        "webhook_delivery.max_backoff_sec",
        "integer (seconds, > 0)",
        "`600`",
        "`max_backoff_sec: 60`",
        "Cap of the exponential backoff (with jitter) between attempts; a `Retry-After` answer waits longer.",
    ),
    key(
        "engine",
        "`local` | `temporal`",
        "`local`",
        "`engine: temporal`",
        "Where `pipeline run` runs the steps when `--engine` is not given: on this machine, or on the workers of the Temporal cluster of `temporal.address` (docs/SCALING.md).",
    ),
    key(
        "temporal",
        "map",
        "the defaults of each key below",
        "`temporal: {address: localhost:7233}`",
        "How `pipeline run --engine temporal` and `pipeline worker` reach the Temporal cluster; flags and `PIPELINE_TEMPORAL_ADDRESS` win over these keys (docs/SCALING.md).",
    ),
    key(
        "temporal.address",
        "string (`HOST:PORT`, or an `http://`/`https://` URL)",
        "none (`--temporal` or `PIPELINE_TEMPORAL_ADDRESS` must give it)",
        "`address: localhost:7233`",
        "The cluster's frontend. With `tls` or `api_key_env` the connection uses TLS (`http://` becomes `https://`).",
    ),
    key(
        "temporal.namespace",
        "string",
        "`default`",
        "`namespace: pipeline.a1b2c`",
        "Temporal namespace of the runs (on Temporal Cloud `<namespace>.<account>`). Overridden by `--namespace`.",
    ),
    key(
        "temporal.task_queue",
        "string (no spaces or `@`)",
        "`pipeline`",
        "`task_queue: pipeline-ci`",
        "Main task queue; a step with capability `C` goes to `<queue>@C`. Submitter and workers must agree. Overridden by `--task-queue`.",
    ),
    key(
        "temporal.remote",
        "string (a git remote name of the repository)",
        "`origin`",
        "`remote: shared`",
        "The git remote shared by the submitter and the workers (bases, step results, result branches). Overridden by `--remote`.",
    ),
    key(
        "temporal.heartbeat_timeout_sec",
        "integer (seconds, 1 to 86400)",
        "`10`",
        "`heartbeat_timeout_sec: 60`",
        "Seconds without a heartbeat from a step's worker before the step runs again on another worker. Overridden by `--heartbeat-timeout`.",
    ),
    key(
        "temporal.tls",
        "map",
        "none (plain TCP)",
        "`tls: {ca_cert: certs/ca.pem}`",
        "Connect with TLS; an empty map uses the system's trusted roots. Each key is overridden by its `--tls-*` flag.",
    ),
    key(
        "temporal.tls.ca_cert",
        "string (path of a PEM file, relative to the repository root)",
        "none (the system's trusted roots)",
        "`ca_cert: certs/ca.pem`",
        "CA certificate that signed the server's certificate (a self-hosted cluster's own CA).",
    ),
    key(
        "temporal.tls.client_cert",
        "string (path of a PEM file, relative to the repository root)",
        "none (no client certificate)",
        "`client_cert: certs/client.pem`",
        "This client's certificate for mTLS (Temporal Cloud, or a cluster requiring client certificates); needs `client_key`.",
    ),
    key(
        "temporal.tls.client_key",
        "string (path of a PEM file, relative to the repository root)",
        "none",
        "`client_key: certs/client.key`",
        "The private key of `client_cert`; keep the file out of git and readable only by its user.",
    ),
    key(
        "temporal.tls.server_name",
        "string (host name)",
        "the address's host",
        "`server_name: temporal.internal`",
        "Name the server's certificate must carry, when it differs from the address's host.",
    ),
    key(
        "temporal.api_key_env",
        "string (variable name)",
        "none (no API key)",
        "`api_key_env: TEMPORAL_API_KEY`",
        "Name of the variable holding a Temporal Cloud API key (never the key itself); sent as a bearer token over TLS, never logged or stored.",
    ),
];

/// Keys people write at the top level that are set elsewhere: the key and where it
/// belongs, for the hint of the unknown-key error.
pub(crate) const MISPLACED_KEYS: &[(&str, &str)] = &[
    (
        "jobs",
        "the number of steps run at once is set with `pipeline run --jobs N`",
    ),
    (
        "timeout",
        "timeouts are set per tool (`tools.<name>.timeout_sec`) or per step (`timeout_sec` in the workstream)",
    ),
    (
        "db",
        "the state database is chosen with `--db PATH` (default `.pipeline/state.db`)",
    ),
];

/// The key at `path` (a pattern such as `tools.<name>.kind`), if there is one.
pub fn config_key(path: &str) -> Option<&'static ConfigKey> {
    CONFIG_KEYS.iter().find(|key| key.path == path)
}

/// The keys directly below the pattern `parent` (`""` for the top level), in table order.
pub(crate) fn child_keys(parent: &str) -> impl Iterator<Item = &'static ConfigKey> + '_ {
    CONFIG_KEYS
        .iter()
        .filter(move |key| parent_of(key.path) == parent)
}

/// The last segment of a key path (`command` for `tools.<name>.command`).
pub(crate) fn last_segment(path: &str) -> &str {
    path.rsplit_once('.').map_or(path, |(_, last)| last)
}

fn parent_of(path: &str) -> &str {
    path.rsplit_once('.').map_or("", |(parent, _)| parent)
}

/// The `FIELD` names of `PIPELINE_TOOL_<NAME>_<FIELD>`, in table order (the tests of
/// `env_override` compare its list with this one).
#[cfg(test)]
pub(crate) fn env_fields() -> impl Iterator<Item = &'static str> {
    CONFIG_KEYS.iter().filter_map(|key| key.env_field)
}

#[cfg(test)]
mod tests;
