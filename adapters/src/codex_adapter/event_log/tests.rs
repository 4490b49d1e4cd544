//! Unit tests of `event_log`.

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
        log.observe(
            r#"{"type":"item.completed","item":{"id":"i","type":"agent_message","text":"very lo"#
        ),
        LineMeaning::Raw
    );
    assert_eq!(log, {
        let mut expected = CodexEventLog::default();
        expected.observe("{\"type\":\"turn.started\"}");
        expected
    });
}
