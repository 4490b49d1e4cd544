//! What a `codex exec --json` run reported, read from its JSONL event stream.
//!
//! Codex prints one JSON object per stdout line, tagged by `type` (schema:
//! openai/codex `codex-rs/exec/src/exec_events.rs`, `ThreadEvent`, as of 0.169):
//! `thread.started {thread_id}`, `turn.started`, `item.started` / `item.updated` /
//! `item.completed {item}`, `turn.completed {usage}`, `turn.failed {error: {message}}` and
//! `error {message}`. Items carry a `type`: `agent_message {text}`, `reasoning {text}`,
//! `command_execution {command, aggregated_output, exit_code, status}`,
//! `file_change {changes: [{path, kind}], status}`, `error {message}` (non-fatal, e.g.
//! "Model metadata for `x` not found"), and a few more this log only counts.
//!
//! [`CodexEventLog`] is fed line by line while the tool runs (stderr lines and anything
//! that is not a JSON event are ignored) and then answers the adapter's questions: did a
//! turn complete, did one fail and why, how many tokens were used. A line cut short by
//! the supervisor's 4096-byte line limit is not valid JSON; it can only be a long item
//! (a command's output or a long message), never the short `turn.*` or `error` events
//! that decide success, so losing it costs only detail.

use serde_json::Value;

use crate::invocation::Usage;

/// Prefix of the notices Codex prints as `error` events while it retries a dropped
/// stream by itself ("Reconnecting... 2/5"); they are progress, not failures (the
/// `codex` error plugin of `pipeline-error` makes the same exception).
const RECONNECTING_PREFIX: &str = "Reconnecting...";

/// Longest text, in characters, kept of an agent message or shown in a progress line.
const EXCERPT_CHARS: usize = 200;

/// The facts gathered from one run's event stream.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct CodexEventLog {
    /// `thread.started`'s id (to find the session under the attempt's `CODEX_HOME`).
    pub(crate) thread_id: Option<String>,
    /// Number of `turn.completed` events.
    pub(crate) turns_completed: u32,
    /// Message of the last `turn.failed` event.
    pub(crate) turn_failed: Option<String>,
    /// Message of the last fatal top-level `error` event.
    pub(crate) fatal_error: Option<String>,
    /// Token counts summed over every `turn.completed` (`None` before the first).
    pub(crate) usage: Option<TurnUsage>,
    /// Commands Codex ran (`command_execution` items completed or failed).
    pub(crate) commands_run: u32,
    /// Commands that ended with a non-zero exit code or `failed` / `declined` status.
    pub(crate) commands_failed: u32,
    /// Paths of completed `file_change` items, in order, without repeats.
    pub(crate) files_changed: Vec<String>,
    /// `file_change` items whose patch failed to apply.
    pub(crate) patches_failed: u32,
    /// The last agent message (at most [`EXCERPT_CHARS`] characters).
    pub(crate) last_message: Option<String>,
    /// Messages of non-fatal `error` items, in order.
    pub(crate) warnings: Vec<String>,
}

/// Token counts of `turn.completed` (Codex's `Usage`: `input_tokens`,
/// `cached_input_tokens`, `output_tokens`; newer versions add
/// `reasoning_output_tokens`, kept apart because `output_tokens` already includes them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct TurnUsage {
    pub(crate) input_tokens: u64,
    pub(crate) cached_input_tokens: u64,
    pub(crate) output_tokens: u64,
}

/// What a line of output was, for the live progress line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LineMeaning {
    /// Not a Codex event (stderr, a banner): show it as it is.
    Raw,
    /// An event worth showing, in words.
    Progress(String),
    /// An event with nothing to show (`turn.started`, item updates).
    Quiet,
}

impl CodexEventLog {
    /// Takes one line of the tool's output into account and says how to show it.
    pub(crate) fn observe(&mut self, line: &str) -> LineMeaning {
        let trimmed = line.trim();
        if !trimmed.starts_with('{') {
            return LineMeaning::Raw;
        }
        let Ok(event) = serde_json::from_str::<Value>(trimmed) else {
            return LineMeaning::Raw;
        };
        let Some(kind) = event.get("type").and_then(Value::as_str) else {
            return LineMeaning::Raw;
        };
        match kind {
            "thread.started" => {
                self.thread_id = text(&event, "thread_id").map(str::to_owned);
                LineMeaning::Quiet
            }
            "turn.completed" => {
                self.turns_completed += 1;
                let usage = event.get("usage");
                let count = |key: &str| {
                    usage
                        .and_then(|u| u.get(key))
                        .and_then(Value::as_u64)
                        .unwrap_or(0)
                };
                let total = self.usage.get_or_insert_with(TurnUsage::default);
                total.input_tokens += count("input_tokens");
                total.cached_input_tokens += count("cached_input_tokens");
                total.output_tokens += count("output_tokens");
                LineMeaning::Progress(format!(
                    "codex: turn completed ({} tokens in, {} out)",
                    count("input_tokens"),
                    count("output_tokens")
                ))
            }
            "turn.failed" => {
                let message = event
                    .get("error")
                    .and_then(|error| text(error, "message"))
                    .unwrap_or("turn failed without a message")
                    .to_owned();
                let shown = format!("codex: turn failed: {}", excerpt(&message));
                self.turn_failed = Some(message);
                LineMeaning::Progress(shown)
            }
            "error" => {
                let message = text(&event, "message").unwrap_or("error without a message");
                let shown = format!("codex: {}", excerpt(message));
                if !message.starts_with(RECONNECTING_PREFIX) {
                    self.fatal_error = Some(message.to_owned());
                }
                LineMeaning::Progress(shown)
            }
            "item.started" => match event.get("item") {
                Some(item) if text(item, "type") == Some("command_execution") => {
                    LineMeaning::Progress(format!(
                        "codex: $ {}",
                        excerpt(text(item, "command").unwrap_or(""))
                    ))
                }
                _ => LineMeaning::Quiet,
            },
            "item.completed" => match event.get("item") {
                Some(item) => self.item_completed(item),
                None => LineMeaning::Quiet,
            },
            _ => LineMeaning::Quiet,
        }
    }

    fn item_completed(&mut self, item: &Value) -> LineMeaning {
        match text(item, "type") {
            Some("agent_message") => {
                let message = excerpt(text(item, "text").unwrap_or(""));
                let shown = format!("codex: {message}");
                self.last_message = Some(message);
                LineMeaning::Progress(shown)
            }
            Some("command_execution") => {
                self.commands_run += 1;
                let exit_code = item.get("exit_code").and_then(Value::as_i64);
                let status = text(item, "status").unwrap_or("");
                let failed =
                    matches!(status, "failed" | "declined") || exit_code.is_some_and(|c| c != 0);
                if failed {
                    self.commands_failed += 1;
                }
                LineMeaning::Progress(match exit_code {
                    Some(code) => format!("codex: command exited with {code}"),
                    None => format!("codex: command {status}"),
                })
            }
            Some("file_change") => {
                let paths: Vec<&str> = item
                    .get("changes")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|change| text(change, "path"))
                    .collect();
                if text(item, "status") == Some("failed") {
                    self.patches_failed += 1;
                    return LineMeaning::Progress(format!(
                        "codex: patch failed: {}",
                        paths.join(", ")
                    ));
                }
                for path in &paths {
                    if !self.files_changed.iter().any(|known| known == path) {
                        self.files_changed.push((*path).to_owned());
                    }
                }
                LineMeaning::Progress(format!("codex: edited {}", paths.join(", ")))
            }
            Some("error") => {
                let message = text(item, "message").unwrap_or("").to_owned();
                let shown = format!("codex warning: {}", excerpt(&message));
                self.warnings.push(message);
                LineMeaning::Progress(shown)
            }
            _ => LineMeaning::Quiet,
        }
    }

    /// Why the run failed, judged from the events alone: a `turn.failed`, else a fatal
    /// `error`, else no `turn.completed` at all. `None` when a turn completed cleanly.
    pub(crate) fn failure(&self) -> Option<String> {
        if let Some(message) = &self.turn_failed {
            return Some(format!("turn.failed: {message}"));
        }
        if let Some(message) = &self.fatal_error {
            return Some(format!("error: {message}"));
        }
        if self.turns_completed == 0 {
            return Some("no turn.completed event".to_owned());
        }
        None
    }

    /// The usage to record, with `model` as the model asked for (Codex's events do not
    /// name it); `None` when no turn completed.
    pub(crate) fn usage(&self, model: Option<&str>) -> Option<Usage> {
        self.usage.map(|usage| Usage {
            model: model.map(str::to_owned),
            input_tokens: Some(usage.input_tokens),
            cached_input_tokens: Some(usage.cached_input_tokens),
            output_tokens: Some(usage.output_tokens),
            cost_usd: None,
            requests: None,
        })
    }
}

fn text<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str)
}

/// The first line of `text`, at most [`EXCERPT_CHARS`] characters.
fn excerpt(text: &str) -> String {
    let first_line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    let mut short: String = first_line.chars().take(EXCERPT_CHARS).collect();
    if first_line.chars().count() > EXCERPT_CHARS || text.trim().lines().count() > 1 {
        short.push_str(" …");
    }
    short
}

#[cfg(test)]
mod tests {
    use super::{CodexEventLog, LineMeaning, TurnUsage};

    /// Output of a real `codex exec --json` run (codex-cli 0.169.0 against the fake
    /// model server: a shell call, an apply_patch, a final message), stderr included.
    const SUCCESSFUL_RUN: &str = r#"WARNING: proceeding, even though we could not create PATH aliases: Refusing to create helper binaries under temporary dir "/tmp" (codex_home: AbsolutePathBuf("/tmp/cx/home"))
Reading additional input from stdin...
{"type":"thread.started","thread_id":"01a1fcaf-333f-7701-b8aa-39f29b78200d"}
{"type":"turn.started"}
{"type":"item.started","item":{"id":"item_0","type":"command_execution","command":"/bin/bash -lc 'echo shell-was-here > from_shell.txt && ls'","aggregated_output":"","exit_code":null,"status":"in_progress"}}
{"type":"item.completed","item":{"id":"item_0","type":"command_execution","command":"/bin/bash -lc 'echo shell-was-here > from_shell.txt && ls'","aggregated_output":"a.txt\nfrom_shell.txt\n","exit_code":0,"status":"completed"}}
{"type":"item.started","item":{"id":"item_1","type":"file_change","changes":[{"path":"/tmp/cx/wt/a.txt","kind":"update"},{"path":"/tmp/cx/wt/hello.txt","kind":"add"}],"status":"in_progress"}}
{"type":"item.completed","item":{"id":"item_1","type":"file_change","changes":[{"path":"/tmp/cx/wt/a.txt","kind":"update"},{"path":"/tmp/cx/wt/hello.txt","kind":"add"}],"status":"completed"}}
{"type":"item.completed","item":{"id":"item_2","type":"agent_message","text":"Done."}}
{"type":"turn.completed","usage":{"input_tokens":300,"cached_input_tokens":60,"cache_write_input_tokens":0,"output_tokens":21,"reasoning_output_tokens":0}}"#;

    /// A real run answered with HTTP 401 (codex-cli 0.169.0, provider retries off).
    const UNAUTHORIZED_RUN: &str = r#"{"type":"thread.started","thread_id":"01a1fcaf-6698-7103-9df2-3f524b66a44f"}
{"type":"turn.started"}
{"type":"error","message":"unexpected status 401 Unauthorized: Incorrect API key provided: sk-te****st., url: http://127.0.0.1:18765/v1/responses"}
{"type":"turn.failed","error":{"message":"unexpected status 401 Unauthorized: Incorrect API key provided: sk-te****st., url: http://127.0.0.1:18765/v1/responses"}}"#;

    fn feed(output: &str) -> CodexEventLog {
        let mut log = CodexEventLog::default();
        for line in output.lines() {
            log.observe(line);
        }
        log
    }

    #[test]
    fn successful_run_gives_usage_files_and_no_failure() {
        let log = feed(SUCCESSFUL_RUN);
        assert_eq!(log.failure(), None);
        assert_eq!(log.turns_completed, 1);
        assert_eq!(
            log.thread_id.as_deref(),
            Some("01a1fcaf-333f-7701-b8aa-39f29b78200d")
        );
        assert_eq!(
            log.usage,
            Some(TurnUsage {
                input_tokens: 300,
                cached_input_tokens: 60,
                output_tokens: 21
            })
        );
        assert_eq!(log.commands_run, 1);
        assert_eq!(log.commands_failed, 0);
        assert_eq!(
            log.files_changed,
            ["/tmp/cx/wt/a.txt", "/tmp/cx/wt/hello.txt"]
        );
        assert_eq!(log.last_message.as_deref(), Some("Done."));
        let usage = log.usage(Some("gpt-5.5")).unwrap();
        assert_eq!(usage.model.as_deref(), Some("gpt-5.5"));
        assert_eq!(usage.input_tokens, Some(300));
        assert_eq!(usage.cached_input_tokens, Some(60));
        assert_eq!(usage.output_tokens, Some(21));
        assert_eq!(usage.cost_usd, None);
    }

    #[test]
    fn turn_failed_decides_and_gives_no_usage() {
        let log = feed(UNAUTHORIZED_RUN);
        let failure = log.failure().unwrap();
        assert!(
            failure.starts_with("turn.failed: unexpected status 401 Unauthorized"),
            "{failure}"
        );
        assert_eq!(log.usage(None), None);
    }

    #[test]
    fn fatal_error_without_turn_failed_is_a_failure_but_reconnecting_is_not() {
        let log = feed(
            r#"{"type":"error","message":"Reconnecting... 1/5"}
{"type":"turn.completed","usage":{"input_tokens":1,"cached_input_tokens":0,"output_tokens":1}}"#,
        );
        assert_eq!(log.failure(), None);
        let log = feed(
            r#"{"type":"turn.completed","usage":{"input_tokens":1,"cached_input_tokens":0,"output_tokens":1}}
{"type":"error","message":"Missing environment variable: `OPENAI_API_KEY`."}"#,
        );
        assert_eq!(
            log.failure().as_deref(),
            Some("error: Missing environment variable: `OPENAI_API_KEY`.")
        );
    }

    #[test]
    fn no_turn_completed_is_a_failure() {
        let log =
            feed("{\"type\":\"thread.started\",\"thread_id\":\"t\"}\n{\"type\":\"turn.started\"}");
        assert_eq!(log.failure().as_deref(), Some("no turn.completed event"));
    }

    #[test]
    fn failed_commands_patches_and_warning_items_are_counted() {
        let log = feed(
            r#"{"type":"item.completed","item":{"id":"i0","type":"command_execution","command":"false","aggregated_output":"","exit_code":1,"status":"failed"}}
{"type":"item.completed","item":{"id":"i1","type":"file_change","changes":[{"path":"x.txt","kind":"update"}],"status":"failed"}}
{"type":"item.completed","item":{"id":"i2","type":"error","message":"Model metadata for `m` not found."}}"#,
        );
        assert_eq!((log.commands_run, log.commands_failed), (1, 1));
        assert_eq!(log.patches_failed, 1);
        assert!(log.files_changed.is_empty());
        assert_eq!(log.warnings, ["Model metadata for `m` not found."]);
    }

    #[test]
    fn usage_is_summed_over_turns() {
        let log = feed(
            r#"{"type":"turn.completed","usage":{"input_tokens":10,"cached_input_tokens":1,"output_tokens":2}}
{"type":"turn.completed","usage":{"input_tokens":5,"cached_input_tokens":0,"output_tokens":3}}"#,
        );
        assert_eq!(
            log.usage,
            Some(TurnUsage {
                input_tokens: 15,
                cached_input_tokens: 1,
                output_tokens: 5
            })
        );
    }

    #[test]
    fn progress_lines_describe_events_in_words() {
        let mut log = CodexEventLog::default();
        assert_eq!(
            log.observe("Reading additional input from stdin..."),
            LineMeaning::Raw
        );
        assert_eq!(
            log.observe("{\"type\":\"turn.started\"}"),
            LineMeaning::Quiet
        );
        assert_eq!(
            log.observe(r#"{"type":"item.started","item":{"id":"i","type":"command_execution","command":"cargo test","aggregated_output":"","exit_code":null,"status":"in_progress"}}"#),
            LineMeaning::Progress("codex: $ cargo test".to_owned())
        );
        // A line cut by the supervisor's line limit is shown raw and changes nothing.
        assert_eq!(
            log.observe(r#"{"type":"item.completed","item":{"id":"i","type":"agent_message","text":"very lo"#),
            LineMeaning::Raw
        );
        assert_eq!(log, {
            let mut expected = CodexEventLog::default();
            expected.observe("{\"type\":\"turn.started\"}");
            expected
        });
    }
}
