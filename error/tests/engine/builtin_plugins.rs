//! Each built-in plugin on the real output of its tool.

use pipeline_error::{
    AttemptFailure, Diagnostic, ErrorClass, PluginManager, Severity, Termination,
};
use std::time::Duration;

use crate::support::{fixture, t0};

fn classify(failure: &AttemptFailure) -> pipeline_error::ErrorReport {
    PluginManager::builtin().classify(failure)
}

fn located(d: &Diagnostic) -> (Option<&str>, Option<u32>, Option<u32>, Option<&str>) {
    (d.file.as_deref(), d.line, d.column, d.code.as_deref())
}

#[test]
fn cargo_json_message_format_gives_errors_with_codes_and_spans() {
    let report = classify(&fixture(
        "cargo/build-json",
        "cargo",
        "cargo build --message-format=json",
    ));
    assert_eq!(report.plugin, "cargo");
    assert_eq!(report.class, ErrorClass::Permanent);
    let errors: Vec<_> = report.errors().collect();
    assert_eq!(errors.len(), 2, "{:#?}", report.diagnostics);
    assert_eq!(
        located(errors[0]),
        (Some("src/main.rs"), Some(8), Some(20), Some("E0425"))
    );
    assert_eq!(errors[0].message, "cannot find value `totl` in this scope");
    assert_eq!(
        located(errors[1]),
        (Some("src/main.rs"), Some(7), Some(29), Some("E0308"))
    );
    assert_eq!(errors[1].message, "mismatched types");
    // rustc's closing "aborting due to" error and its failure notes are not diagnostics.
    assert_eq!(report.diagnostics.len(), 2, "{:#?}", report.diagnostics);
    assert!(
        report.summary.contains("2 Rust compile error(s)"),
        "{}",
        report.summary
    );
}

#[test]
fn cargo_human_format_gives_the_same_errors_as_json() {
    let human = classify(&fixture("cargo/build-human", "cargo", "cargo build"));
    let json = classify(&fixture(
        "cargo/build-json",
        "cargo",
        "cargo build --message-format=json",
    ));
    let locations = |report: &pipeline_error::ErrorReport| {
        report
            .errors()
            .map(|d| {
                (
                    d.file.clone(),
                    d.line,
                    d.column,
                    d.code.clone(),
                    d.message.clone(),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(locations(&human), locations(&json));
    assert!(
        !human
            .diagnostics
            .iter()
            .any(|d| d.message.starts_with("could not compile"))
    );
}

#[test]
fn cargo_test_failure_names_the_test_and_panic_location() {
    let report = classify(&fixture("cargo/test-failure", "cargo-test", "cargo test"));
    assert_eq!(report.plugin, "cargo");
    assert_eq!(report.class, ErrorClass::Permanent);
    let errors: Vec<_> = report.errors().collect();
    assert_eq!(errors.len(), 1, "{:#?}", report.diagnostics);
    assert_eq!(
        located(errors[0]),
        (Some("src/lib.rs"), Some(11), Some(9), Some("test-failure"))
    );
    assert!(
        errors[0]
            .message
            .starts_with("test tests::adds_two_numbers failed: assertion `left == right` failed"),
        "{}",
        errors[0].message
    );
}

#[test]
fn pytest_failures_are_listed_with_exception_and_location() {
    let report = classify(&fixture("pytest/failures", "pytest", "pytest"));
    assert_eq!(report.plugin, "pytest");
    assert_eq!(report.class, ErrorClass::Permanent);
    assert_eq!(report.diagnostics.len(), 2, "{:#?}", report.diagnostics);
    let first = &report.diagnostics[0];
    assert_eq!(
        located(first),
        (Some("test_calc.py"), Some(5), None, Some("AssertionError"))
    );
    assert_eq!(first.message, "test_calc.py::test_add: assert 0 == 4");
    let second = &report.diagnostics[1];
    assert_eq!(
        located(second),
        (Some("calc.py"), Some(6), None, Some("ZeroDivisionError"))
    );
    assert!(
        second
            .message
            .contains("ZeroDivisionError: division by zero")
    );
}

#[test]
fn pytest_collection_error_is_reported() {
    let report = classify(&fixture("pytest/collection-error", "pytest", "pytest"));
    assert_eq!(report.plugin, "pytest");
    assert_eq!(report.diagnostics.len(), 1, "{:#?}", report.diagnostics);
    let diagnostic = &report.diagnostics[0];
    assert_eq!(diagnostic.code.as_deref(), Some("ModuleNotFoundError"));
    assert_eq!(diagnostic.file.as_deref(), Some("test_imports.py"));
    assert!(
        diagnostic
            .message
            .contains("No module named 'missing_module'"),
        "{}",
        diagnostic.message
    );
}

#[test]
fn ruff_json_findings_keep_codes_and_positions() {
    let report = classify(&fixture(
        "ruff/check-json",
        "ruff",
        "ruff check --output-format=json .",
    ));
    assert_eq!(report.plugin, "ruff");
    assert_eq!(report.class, ErrorClass::Permanent);
    let codes: Vec<_> = report
        .diagnostics
        .iter()
        .filter_map(|d| d.code.as_deref())
        .collect();
    assert_eq!(codes, ["F401", "F401", "F841", "F821", "RET501", "PLR1711"]);
    let undefined = &report.diagnostics[3];
    assert_eq!(undefined.line, Some(6));
    assert_eq!(undefined.column, Some(26));
    assert_eq!(undefined.message, "Undefined name `nme`");
    assert!(
        undefined
            .file
            .as_deref()
            .is_some_and(|f| f.ends_with("lint_me.py"))
    );
}

#[test]
fn mypy_default_and_column_formats() {
    for (case, columns) in [
        ("mypy/default", [None, None, None]),
        ("mypy/columns", [Some(14), Some(15), Some(8)]),
    ] {
        let report = classify(&fixture(case, "mypy", "mypy typed.py"));
        assert_eq!(report.plugin, "mypy", "{case}");
        let got: Vec<_> = report
            .diagnostics
            .iter()
            .map(|d| (d.line, d.column, d.code.clone()))
            .collect();
        assert_eq!(
            got,
            [
                (Some(5), columns[0], Some("assignment".to_string())),
                (Some(6), columns[1], Some("assignment".to_string())),
                (Some(7), columns[2], Some("arg-type".to_string())),
            ],
            "{case}"
        );
        assert_eq!(
            report.diagnostics[2].message,
            "Argument 1 to \"double\" has incompatible type \"str\"; expected \"int\""
        );
    }
}

#[test]
fn eslint_json_separates_errors_warnings_and_parse_errors() {
    let report = classify(&fixture(
        "eslint/json",
        "eslint",
        "eslint -f json app.js broken.js",
    ));
    assert_eq!(report.plugin, "eslint");
    assert_eq!(report.class, ErrorClass::Permanent);
    let summary: Vec<_> = report
        .diagnostics
        .iter()
        .map(|d| (d.code.clone().unwrap_or_default(), d.severity, d.line))
        .collect();
    assert!(
        summary.contains(&("no-unused-vars".into(), Severity::Error, Some(2))),
        "{summary:?}"
    );
    assert!(
        summary.contains(&("eqeqeq".into(), Severity::Warning, Some(3))),
        "{summary:?}"
    );
    assert!(
        summary.contains(&("no-undef".into(), Severity::Error, Some(4))),
        "{summary:?}"
    );
    let parse = report
        .diagnostics
        .iter()
        .find(|d| d.code.as_deref() == Some("parse-error"))
        .expect("parse error of broken.js");
    assert!(
        parse
            .file
            .as_deref()
            .is_some_and(|f| f.ends_with("broken.js"))
    );
    assert_eq!(parse.severity, Severity::Error);
}

#[test]
fn tsc_plain_and_pretty_formats_agree() {
    let plain = classify(&fixture("tsc/plain", "tsc", "tsc -p . --pretty false"));
    let pretty = classify(&fixture("tsc/pretty", "tsc", "tsc -p . --pretty true"));
    assert_eq!(plain.plugin, "tsc");
    assert_eq!(plain.diagnostics, pretty.diagnostics);
    let got: Vec<_> = plain
        .diagnostics
        .iter()
        .map(|d| (d.line, d.column, d.code.clone()))
        .collect();
    assert_eq!(
        got,
        [
            (Some(1), Some(7), Some("TS2322".to_string())),
            (Some(7), Some(7), Some("TS2345".to_string())),
            (Some(8), Some(13), Some("TS2552".to_string())),
        ]
    );
    assert_eq!(plain.diagnostics[0].file.as_deref(), Some("src/index.ts"));
    assert_eq!(plain.signature, pretty.signature);
}

#[test]
fn go_test_failures_and_panic() {
    let report = classify(&fixture("go/test-failure", "go", "go test ./..."));
    assert_eq!(report.plugin, "go-test");
    assert_eq!(report.class, ErrorClass::Permanent);
    let first = &report.diagnostics[0];
    assert_eq!(
        located(first),
        (Some("calc_test.go"), Some(7), None, Some("TestAdd"))
    );
    assert_eq!(first.message, "TestAdd: Add(2, 2) = 0; want 4");
    assert!(
        report
            .diagnostics
            .iter()
            .any(|d| d.code.as_deref() == Some("TestPanics")
                && d.message.contains("panic: assignment to entry in nil map")),
        "{:#?}",
        report.diagnostics
    );
}

#[test]
fn go_build_failure_gives_compile_errors() {
    let report = classify(&fixture("go/build-failure", "go", "go test ./..."));
    assert_eq!(report.plugin, "go-test");
    let got: Vec<_> = report
        .diagnostics
        .iter()
        .map(|d| (d.file.clone(), d.line, d.column))
        .collect();
    assert_eq!(
        got,
        [
            (Some("broken.go".to_string()), Some(4), Some(17)),
            (Some("broken.go".to_string()), Some(5), Some(9))
        ]
    );
    assert_eq!(report.diagnostics[1].message, "undefined: undefinedThing");
}

#[test]
fn git_merge_conflict_is_a_conflict() {
    let report = classify(&fixture(
        "git/merge-conflict",
        "git",
        "git merge --no-edit other",
    ));
    assert_eq!(report.plugin, "git-conflict");
    assert_eq!(report.class, ErrorClass::Conflict);
    assert_eq!(report.diagnostics.len(), 1);
    assert_eq!(report.diagnostics[0].file.as_deref(), Some("file.txt"));
    assert_eq!(report.diagnostics[0].code.as_deref(), Some("content"));
}

#[test]
fn http_429_with_retry_after_is_rate_limited_until_the_reset() {
    let report = classify(&fixture(
        "network/curl-429",
        "api",
        "curl -sS --fail-with-body -i URL",
    ));
    assert_eq!(report.plugin, "network-api");
    assert_eq!(
        report.class,
        ErrorClass::RateLimited {
            reset_at: Some(t0() + Duration::from_secs(20)),
            retry_after: Some(Duration::from_secs(20))
        }
    );
}

#[test]
fn network_and_api_errors_from_real_clients() {
    let cases: [(&str, ErrorClass); 10] = [
        ("network/curl-503", ErrorClass::Transient),
        ("network/curl-refused", ErrorClass::Transient),
        ("network/curl-dns", ErrorClass::Transient),
        ("network/urllib-refused", ErrorClass::Transient),
        ("network/openai-refused", ErrorClass::Transient),
        ("network/openai-500", ErrorClass::Transient),
        ("network/openai-401", ErrorClass::Permanent),
        ("network/openai-404-model", ErrorClass::Permanent),
        ("network/openai-quota", ErrorClass::rate_limited()),
        ("network/openai-429", ErrorClass::rate_limited()),
    ];
    for (case, class) in cases {
        let report = classify(&fixture(case, "api-client", "python client.py"));
        assert_eq!(report.plugin, "network-api", "{case}: {}", report.summary);
        assert_eq!(report.class, class, "{case}: {}", report.summary);
    }
    let model = classify(&fixture(
        "network/openai-404-model",
        "api-client",
        "python client.py",
    ));
    assert!(model.summary.contains("model"), "{}", model.summary);
}

#[test]
fn disk_full_is_infrastructure() {
    let report = classify(&fixture(
        "generic/no-space",
        "dd",
        "dd if=/dev/zero of=/dev/full",
    ));
    assert_eq!(report.plugin, "infrastructure");
    assert_eq!(report.class, ErrorClass::Infrastructure);
}

#[test]
fn exit_status_fallback() {
    let missing = classify(&fixture(
        "generic/command-not-found",
        "shell",
        "sh -c definitely-not-a-real-command-xyz",
    ));
    // dash's "not found" names the command: the `not-found` plugin decides.
    assert_eq!(missing.plugin, "not-found");
    assert_eq!(missing.class, ErrorClass::Permanent);
    assert!(
        missing
            .summary
            .starts_with("command `definitely-not-a-real-command-xyz` not found"),
        "{}",
        missing.summary
    );
    // Exit 127 without a message is left to the fallback.
    let silent = classify(&AttemptFailure::new(
        "shell",
        "sh -c tool",
        Termination::Exited(127),
        "",
    ));
    assert_eq!(silent.plugin, "exit-status");
    assert!(
        silent.summary.contains("command not found"),
        "{}",
        silent.summary
    );

    let manager = PluginManager::builtin();
    let cases = [
        (Termination::TimedOut, ErrorClass::Timeout),
        (Termination::Signaled(9), ErrorClass::Infrastructure),
        (Termination::Exited(137), ErrorClass::Infrastructure),
        (Termination::Signaled(15), ErrorClass::Transient),
        (Termination::Signaled(11), ErrorClass::Permanent),
        (Termination::Exited(3), ErrorClass::Permanent),
    ];
    for (termination, class) in cases {
        let report = manager.classify(&AttemptFailure::new(
            "tool",
            "./run.sh",
            termination,
            "working...\n",
        ));
        assert_eq!(report.plugin, "exit-status", "{termination:?}");
        assert_eq!(report.class, class, "{termination:?}");
    }
}

#[test]
fn aider_failures_behind_exit_zero() {
    let manager = PluginManager::builtin();
    let rate = manager
        .detect(&fixture(
            "aider/rate-limit",
            "aider",
            "aider --yes --message-file prompt.md",
        ))
        .expect("a failure");
    assert_eq!(rate.plugin, "aider");
    assert_eq!(
        rate.class,
        ErrorClass::RateLimited {
            reset_at: Some(t0() + Duration::from_secs(20)),
            retry_after: Some(Duration::from_secs(20))
        }
    );
    let auth = manager
        .detect(&fixture("aider/auth", "aider", "aider --yes"))
        .expect("a failure");
    assert_eq!(
        (auth.plugin.as_str(), auth.class.clone()),
        ("aider", ErrorClass::Permanent)
    );
    let model = manager
        .detect(&fixture("aider/unknown-model", "aider", "aider --yes"))
        .expect("a failure");
    assert_eq!(model.class, ErrorClass::Permanent);
    assert!(model.summary.contains("NotFoundError"), "{}", model.summary);
    let no_edits = manager
        .detect(&fixture("aider/no-edits", "aider", "aider --yes"))
        .expect("a failure");
    assert_eq!(no_edits.class, ErrorClass::Transient);
    assert!(
        no_edits
            .diagnostics
            .iter()
            .any(|d| d.file.as_deref() == Some("src/app.py")
                && d.code.as_deref() == Some("aider-search-replace"))
    );
    // A successful run that talks about rate limits is still a success.
    assert_eq!(
        manager.detect(&fixture("aider/success", "aider", "aider --yes")),
        None
    );
}

#[test]
fn codex_jsonl_turn_failed_and_error_events() {
    let manager = PluginManager::builtin();
    let cases = [
        ("codex/rate-limit", ErrorClass::rate_limited()),
        ("codex/unauthorized", ErrorClass::Permanent),
        ("codex/stream-disconnected", ErrorClass::Transient),
        ("codex/usage-limit", ErrorClass::rate_limited()),
        ("codex/response-failed", ErrorClass::Transient),
    ];
    for (case, class) in cases {
        let report = manager.classify(&fixture(case, "codex", "codex exec --json"));
        assert_eq!(report.plugin, "codex", "{case}");
        assert_eq!(report.class, class, "{case}: {}", report.summary);
    }
    let stream = manager.classify(&fixture(
        "codex/stream-disconnected",
        "codex",
        "codex exec --json",
    ));
    assert!(stream.diagnostics.iter().any(
        |d| d.severity == Severity::Warning && d.message == "command timed out after 10000 ms"
    ));
    assert_eq!(
        manager.detect(&fixture("codex/success", "codex", "codex exec --json")),
        None
    );
}

#[test]
fn codex_events_given_by_the_adapter_take_precedence_over_output() {
    let events = vec![
        serde_json::json!({"type": "turn.failed", "error": {"message": "Quota exceeded. Check your plan and billing details."}}),
    ];
    let failure = AttemptFailure::new(
        "codex",
        "codex exec --json",
        Termination::Exited(1),
        "plain text without events",
    )
    .with_kind("codex")
    .with_events(events);
    let report = PluginManager::builtin().classify(&failure);
    assert_eq!(report.plugin, "codex");
    assert_eq!(report.class, ErrorClass::rate_limited());
}

#[test]
fn the_full_log_is_preferred_over_the_tail() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = dir.path().join("1.log");
    let text = std::fs::read_to_string(crate::support::fixtures_dir().join("pytest/failures.txt"))
        .expect("fixture");
    std::fs::write(&log, text).expect("write log");
    let mut failure = AttemptFailure::new(
        "pytest",
        "pytest",
        Termination::Exited(1),
        "...tail without the report",
    );
    failure.log_path = Some(log);
    let report = PluginManager::builtin().classify(&failure);
    assert_eq!(report.plugin, "pytest");
    assert_eq!(report.diagnostics.len(), 2);

    failure.log_path = Some(dir.path().join("missing.log"));
    let report = PluginManager::builtin().classify(&failure);
    assert_eq!(report.plugin, "exit-status");
    assert_eq!(report.plugin_failures.len(), 1);
    assert!(report.plugin_failures[0].message.contains("missing.log"));
}

#[test]
fn reports_serialise_with_class_names_and_rfc3339_resets() {
    let report = classify(&fixture("network/curl-429", "api", "curl"));
    let json = serde_json::to_value(&report).expect("serialise");
    assert_eq!(json["class"]["kind"], "rate_limited");
    assert_eq!(json["class"]["retry_after"], 20.0);
    assert_eq!(json["class"]["reset_at"], "2026-11-21T05:00:20.000Z");
    let back: pipeline_error::ErrorReport = serde_json::from_value(json).expect("deserialise");
    assert_eq!(back, report);
}

#[test]
fn rate_limit_reset_forms() {
    // Hand-written lines in the shapes providers use (HTTP-date Retry-After per RFC 9110,
    // OpenAI's x-ratelimit-reset-* durations, retry_after_ms fields, epoch resets).
    let manager = PluginManager::builtin();
    let reset_of = |text: &str| {
        let failure =
            AttemptFailure::new("api", "client", Termination::Exited(1), text).finished_at(t0());
        match manager.classify(&failure).class {
            ErrorClass::RateLimited {
                reset_at,
                retry_after,
            } => (reset_at, retry_after),
            other => panic!("{text:?} gave {other}"),
        }
    };
    assert_eq!(
        reset_of("HTTP/1.1 429 Too Many Requests\nRetry-After: Sat, 21 Nov 2026 05:10:00 GMT\n"),
        (Some(t0() + Duration::from_secs(600)), None)
    );
    assert_eq!(
        reset_of("error: 429 Too Many Requests\nx-ratelimit-reset-requests: 1m30s\n"),
        (
            Some(t0() + Duration::from_secs(90)),
            Some(Duration::from_secs(90))
        )
    );
    assert_eq!(
        reset_of(r#"{"error":{"type":"rate_limit_error","retry_after_ms":1500}}"#),
        (
            Some(t0() + Duration::from_millis(1500)),
            Some(Duration::from_millis(1500))
        )
    );
    assert_eq!(
        reset_of("status: 429\nx-ratelimit-reset: 1795237260\n"),
        (Some(t0() + Duration::from_secs(60)), None)
    );
    assert_eq!(
        reset_of("Rate limit reached. Please try again later."),
        (None, None)
    );
}

#[test]
fn plugin_list_is_ordered_by_specificity() {
    let plugins = PluginManager::builtin().plugins();
    let ids: Vec<&str> = plugins.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids.first(), Some(&"aider"));
    assert_eq!(
        &ids[ids.len() - 4..],
        ["infrastructure", "not-found", "network-api", "exit-status"]
    );
    assert!(
        plugins
            .windows(2)
            .all(|pair| pair[0].specificity <= pair[1].specificity)
    );
    assert_eq!(plugins[0].position, 1);
    let json = serde_json::to_value(&plugins[0]).expect("serialise");
    assert_eq!(json["origin"]["kind"], "built_in");
    assert_eq!(json["inspects_successful_exits"], true);
}

/// A Claude Code attempt log fixture, as the `claude` adapter reports it.
fn claude_fixture(case: &str) -> AttemptFailure {
    fixture(
        &format!("claude/{case}"),
        "claude",
        "claude -p --output-format stream-json --verbose",
    )
    .with_kind("claude")
}

/// A Claude Code failure whose output is the given stream-json lines.
fn claude_output(code: i32, lines: &[serde_json::Value]) -> AttemptFailure {
    let output: String = lines.iter().map(|line| format!("{line}\n")).collect();
    AttemptFailure::new(
        "claude",
        "claude -p --output-format stream-json --verbose",
        Termination::Exited(code),
        output,
    )
    .with_kind("claude")
    .finished_at(t0())
}

#[test]
fn claude_result_events_of_real_failures() {
    let manager = PluginManager::builtin();
    let cases = [
        (
            "rate-limit",
            ErrorClass::rate_limited(),
            "rate_limit_error",
            "Claude Code: API Error: Request rejected (429) · Number of request tokens has exceeded your per-minute rate limit",
        ),
        (
            "unauthorized",
            ErrorClass::Permanent,
            "authentication_error",
            "Claude Code: Invalid API key · Fix external API key",
        ),
        (
            "overloaded",
            ErrorClass::Transient,
            "overloaded_error",
            "Claude Code: API Error: 529 Overloaded. This is a server-side issue, usually temporary — try again in a moment. If it persists, check your inference gateway (127.0.0.1:42007).",
        ),
        (
            "not-logged-in",
            ErrorClass::Permanent,
            "authentication_failed",
            "Claude Code: Not logged in · Please run /login",
        ),
    ];
    for (case, class, code, summary) in cases {
        let report = manager.classify(&claude_fixture(case));
        assert_eq!(report.plugin, "claude", "{case}: {}", report.summary);
        assert_eq!(report.class, class, "{case}: {}", report.summary);
        assert_eq!(report.summary, summary, "{case}");
        assert_eq!(
            report
                .errors()
                .map(|d| d.code.as_deref())
                .collect::<Vec<_>>(),
            [Some(code)],
            "{case}: {:#?}",
            report.diagnostics
        );
        // `detect` (used for every attempt) agrees for these non-zero exits.
        assert_eq!(
            manager.detect(&claude_fixture(case)),
            Some(report),
            "{case}"
        );
    }
}

#[test]
fn claude_success_gives_no_verdict() {
    let manager = PluginManager::builtin();
    assert_eq!(manager.detect(&claude_fixture("success")), None);
    // Even with a non-zero exit, `is_error:false` is not a Claude failure: a later
    // plugin (here the exit-status fallback) decides.
    let mut failure = claude_fixture("success");
    failure.termination = Termination::Exited(2);
    let report = manager.classify(&failure);
    assert_eq!(report.plugin, "exit-status", "{}", report.summary);
}

#[test]
fn claude_is_recognised_by_its_init_event_without_the_kind() {
    let failure = fixture("claude/overloaded", "agent", "./run-agent.sh");
    assert_eq!(failure.tool_kind, "custom");
    let report = classify(&failure);
    assert_eq!(report.plugin, "claude", "{}", report.summary);
    assert_eq!(report.class, ErrorClass::Transient);
}

#[test]
fn claude_runs_before_network_api() {
    let builtin = PluginManager::builtin();
    let ids: Vec<String> = builtin.plugins().into_iter().map(|p| p.id).collect();
    let position = |id: &str| ids.iter().position(|other| other == id);
    assert!(
        position("claude") < position("network-api") && position("claude").is_some(),
        "{ids:?}"
    );
    // Without the claude plugin, network-api would take the same output (its "429").
    let without_claude = PluginManager::with_plugins(
        pipeline_error::builtin::builtin_plugins()
            .into_iter()
            .filter(|plugin| plugin.id() != "claude")
            .collect(),
    )
    .expect("built-ins order");
    let failure = claude_fixture("rate-limit");
    assert_eq!(without_claude.classify(&failure).plugin, "network-api");
    let report = builtin.classify(&failure);
    assert_eq!(report.plugin, "claude");
    assert!(!report.summary.contains('{'), "{}", report.summary);
}

#[test]
fn claude_retry_delay_becomes_the_rate_limit_wait() {
    // Hand-written lines in the shapes of Claude Code 2.1.329's api_retry and result events.
    let failure = claude_output(
        1,
        &[
            serde_json::json!({"type": "system", "subtype": "api_retry", "attempt": 1, "max_retries": 2, "retry_delay_ms": 1200, "error_status": 429}),
            serde_json::json!({"type": "system", "subtype": "api_retry", "attempt": 2, "max_retries": 2, "retry_delay_ms": 2500, "error_status": 429}),
            serde_json::json!({"type": "result", "subtype": "success", "is_error": true, "terminal_reason": "api_error", "api_error_status": 429, "result": "API Error: Request rejected (429)"}),
        ],
    );
    let report = classify(&failure);
    assert_eq!(report.plugin, "claude");
    assert_eq!(
        report.class,
        ErrorClass::RateLimited {
            reset_at: Some(t0() + Duration::from_millis(2500)),
            retry_after: Some(Duration::from_millis(2500)),
        }
    );
}

#[test]
fn claude_result_fields_and_subtypes() {
    use serde_json::json;
    let result = |fields: serde_json::Value| {
        let mut event =
            json!({"type": "result", "subtype": "success", "is_error": true, "num_turns": 1});
        if let (Some(event), Some(fields)) = (event.as_object_mut(), fields.as_object()) {
            event.extend(fields.clone());
        }
        event
    };
    let cases = [
        (
            result(
                json!({"api_error": "connection_failed", "result": "API Error: Connection error."}),
            ),
            ErrorClass::Transient,
        ),
        (
            result(json!({"api_error_status": 503, "result": "API Error: 503"})),
            ErrorClass::Transient,
        ),
        (
            result(
                json!({"api_error_status": 403, "api_error_type": "permission_error", "result": "API Error: 403"}),
            ),
            ErrorClass::Permanent,
        ),
        (
            result(
                json!({"api_error_status": 404, "api_error_type": "not_found_error", "result": "API Error: 404 model: claude-nope"}),
            ),
            ErrorClass::Permanent,
        ),
        (
            result(
                json!({"api_error_status": 400, "api_error_type": "invalid_request_error", "result": "API Error: 400"}),
            ),
            ErrorClass::Permanent,
        ),
        (
            result(json!({"subtype": "error_max_turns", "result": null})),
            ErrorClass::Permanent,
        ),
        (
            result(json!({"subtype": "error_max_budget_usd"})),
            ErrorClass::Permanent,
        ),
        (
            result(json!({"subtype": "error_during_execution", "errors": ["tool crashed"]})),
            ErrorClass::Transient,
        ),
    ];
    for (event, class) in cases {
        let report = classify(&claude_output(1, std::slice::from_ref(&event)));
        assert_eq!(report.plugin, "claude", "{event}");
        assert_eq!(report.class, class, "{event}: {}", report.summary);
    }
    let turns = classify(&claude_output(
        1,
        &[result(json!({"subtype": "error_max_turns"}))],
    ));
    assert_eq!(
        turns.summary,
        "Claude Code: session ended with error_max_turns"
    );
    let crashed = classify(&claude_output(
        1,
        &[result(
            json!({"subtype": "error_during_execution", "errors": ["tool crashed"]}),
        )],
    ));
    assert_eq!(crashed.summary, "Claude Code: tool crashed");
    // Only the LAST result event counts.
    let last = classify(&claude_output(
        1,
        &[
            result(json!({"api_error_status": 529, "result": "API Error: 529 Overloaded"})),
            result(json!({"api_error_status": 401, "result": "Invalid API key"})),
        ],
    ));
    assert_eq!(last.class, ErrorClass::Permanent, "{}", last.summary);
    // A failure hidden behind exit 0 is still found.
    let hidden = PluginManager::builtin()
        .detect(&claude_output(
            0,
            &[result(
                json!({"api_error_status": 529, "result": "Overloaded"}),
            )],
        ))
        .expect("a failure");
    assert_eq!(hidden.plugin, "claude");
    assert_eq!(hidden.class, ErrorClass::Transient);
}

#[test]
fn claude_plain_text_refusals_and_the_log_header() {
    let root = AttemptFailure::new(
        "claude",
        "claude -p --dangerously-skip-permissions",
        Termination::Exited(1),
        "--dangerously-skip-permissions cannot be used with root/sudo privileges for security reasons\n",
    )
    .with_kind("claude");
    let report = classify(&root);
    assert_eq!(report.plugin, "claude");
    assert_eq!(report.class, ErrorClass::Permanent);
    assert!(report.summary.contains("root/sudo"), "{}", report.summary);

    // No result event and nothing Claude-specific: later plugins decide.
    let crashed = AttemptFailure::new(
        "claude",
        "claude -p",
        Termination::Exited(1),
        "Error: connect ECONNREFUSED 127.0.0.1:443\n",
    )
    .with_kind("claude");
    let report = classify(&crashed);
    assert_eq!(report.plugin, "network-api", "{}", report.summary);

    // A result event quoted in the prompt of the log header is not Claude's output.
    let text = std::fs::read_to_string(crate::support::fixtures_dir().join("claude/success.txt"))
        .expect("fixture");
    let quoted = r#"{"type":"result","subtype":"success","is_error":true,"api_error_status":401,"result":"Invalid API key"}"#;
    let log = text.replacen("Tasks:\n", &format!("Tasks:\n{quoted}\n"), 1);
    assert!(log.contains(quoted));
    let mut failure = claude_fixture("success");
    failure.output = log;
    assert_eq!(PluginManager::builtin().detect(&failure), None);
}
