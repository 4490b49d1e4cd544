//! The unittest, Jest/Vitest, go-build and npm-install plugins on real captured output
//! (`fixtures/capture-corpus.sh`): diagnostics with file, line, test name and message.

use pipeline_error::{Diagnostic, ErrorClass, ErrorReport, PluginManager, shipped_plugins_dir};

use crate::support::fixture;

fn classify(path: &str, command: &str) -> ErrorReport {
    let manager = PluginManager::load(&[shipped_plugins_dir()]).expect("shipped plugins load");
    manager.classify(&fixture(path, "shell", command))
}

fn located(d: &Diagnostic) -> (Option<&str>, Option<u32>, Option<u32>, Option<&str>) {
    (
        d.file.as_deref().map(|f| f.rsplit('/').next().unwrap_or(f)),
        d.line,
        d.column,
        d.code.as_deref(),
    )
}

#[test]
fn unittest_failures_name_the_test_the_raising_frame_and_the_exception() {
    let report = classify("unittest/failures", "python -m unittest");
    assert_eq!(report.plugin, "unittest");
    assert_eq!(report.class, ErrorClass::Permanent);
    assert_eq!(report.diagnostics.len(), 2, "{:#?}", report.diagnostics);
    let error = &report.diagnostics[0];
    assert_eq!(
        located(error),
        (Some("calc.py"), Some(6), None, Some("ZeroDivisionError"))
    );
    assert_eq!(
        error.message,
        "test_calc.CalcTest.test_divide_by_zero: ZeroDivisionError: division by zero"
    );
    let failure = &report.diagnostics[1];
    assert_eq!(
        located(failure),
        (Some("test_calc.py"), Some(8), None, Some("AssertionError"))
    );
    assert_eq!(
        failure.message,
        "test_calc.CalcTest.test_add: AssertionError: 0 != 4"
    );
    assert!(
        report.summary.starts_with("2 unittest failure(s); first: /tmp/pipeline-error-corpus/unittest/calc.py:6: test_calc.CalcTest.test_divide_by_zero"),
        "{}",
        report.summary
    );
    // -v prints the same sections: the same signature.
    let verbose = classify("unittest/verbose", "python -m unittest -v");
    assert_eq!(verbose.signature, report.signature);
}

#[test]
fn unittest_import_failure_names_the_module_and_the_import_line() {
    let report = classify("unittest/import-error", "python -m unittest");
    assert_eq!(report.plugin, "unittest");
    let first = &report.diagnostics[0];
    assert_eq!(
        located(first),
        (
            Some("test_client.py"),
            Some(3),
            None,
            Some("ModuleNotFoundError")
        )
    );
    assert_eq!(
        first.message,
        "import test_client: ModuleNotFoundError: No module named 'requests'"
    );
}

#[test]
fn unittest_near_misses_are_test_failures_not_network_errors() {
    let report = classify("unittest/near-miss-network-names", "python -m unittest -v");
    assert_eq!(report.class, ErrorClass::Permanent);
    let tests: Vec<&str> = report
        .diagnostics
        .iter()
        .map(|d| d.message.split(':').next().unwrap_or(""))
        .collect();
    assert_eq!(
        tests,
        [
            "test_network.NetworkMessagesTest.test_dns",
            "test_network.NetworkMessagesTest.test_rate_limit_429_waits"
        ]
    );
}

#[test]
fn jest_failures_and_suite_errors_are_located() {
    let report = classify("jest/failures", "npx jest --ci");
    assert_eq!(report.plugin, "jest");
    assert_eq!(report.class, ErrorClass::Permanent);
    assert_eq!(report.diagnostics.len(), 2, "{:#?}", report.diagnostics);
    assert_eq!(
        located(&report.diagnostics[0]),
        (Some("sum.test.js"), Some(4), Some(21), Some("test-failed"))
    );
    assert_eq!(
        report.diagnostics[0].message,
        "adds 1 + 2 to equal 3: expect(received).toBe(expected) // Object.is equality (expected 3, received -1)"
    );
    assert_eq!(
        located(&report.diagnostics[1]),
        (Some("sum.test.js"), Some(9), Some(52), Some("test-failed"))
    );
    assert!(
        report.diagnostics[1]
            .message
            .starts_with("retries › handles ECONNRESET from the API: expect(received).toEqual"),
        "{}",
        report.diagnostics[1].message
    );
    let suite = classify("jest/module-not-found", "npx jest --ci");
    assert_eq!(
        located(&suite.diagnostics[0]),
        (
            Some("missing.test.js"),
            Some(1),
            Some(16),
            Some("suite-failed")
        )
    );
    assert_eq!(
        suite.diagnostics[0].message,
        "missing.test.js: Cannot find module './config/loader' from 'missing.test.js'"
    );
}

#[test]
fn vitest_failures_and_suite_errors_are_located() {
    let report = classify("vitest/failures", "npx vitest run");
    assert_eq!(report.plugin, "jest");
    assert_eq!(report.diagnostics.len(), 1, "{:#?}", report.diagnostics);
    assert_eq!(
        located(&report.diagnostics[0]),
        (Some("sum.test.js"), Some(5), Some(21), Some("test-failed"))
    );
    assert_eq!(
        report.diagnostics[0].message,
        "adds 1 + 2 to equal 3: AssertionError: expected -1 to be 3 // Object.is equality"
    );
    let suite = classify("vitest/module-not-found", "npx vitest run");
    assert_eq!(
        located(&suite.diagnostics[0]),
        (
            Some("missing.test.js"),
            Some(2),
            Some(1),
            Some("suite-failed")
        )
    );
    assert!(
        suite.diagnostics[0]
            .message
            .starts_with("missing.test.js: Error: Cannot find module './config/loader.js'"),
        "{}",
        suite.diagnostics[0].message
    );
}

#[test]
fn go_build_and_vet_errors_have_file_line_and_column() {
    let build = classify("go/build-errors", "go build ./...");
    assert_eq!(build.plugin, "go-build");
    assert_eq!(build.class, ErrorClass::Permanent);
    let errors: Vec<_> = build.diagnostics.iter().map(located).collect();
    assert_eq!(
        errors,
        [
            (Some("main.go"), Some(6), Some(18), Some("compile")),
            (Some("main.go"), Some(7), Some(21), Some("compile")),
        ]
    );
    assert_eq!(build.diagnostics[1].message, "undefined: total");
    assert!(
        build
            .summary
            .starts_with("go build: 2 error(s); first: main.go:6:18: cannot use"),
        "{}",
        build.summary
    );
    let vet = classify("go/vet", "go vet ./...");
    assert_eq!(vet.plugin, "go-build");
    assert_eq!(
        located(&vet.diagnostics[0]),
        (Some("main.go"), Some(7), Some(2), Some("vet"))
    );
    assert_eq!(
        vet.diagnostics[0].message,
        "fmt.Printf format %d has arg name of wrong type string"
    );
    let missing = classify("go/no-required-module", "go build ./...");
    assert_eq!(
        located(&missing.diagnostics[0]),
        (Some("main.go"), Some(6), Some(2), Some("missing-package"))
    );
    assert_eq!(
        missing.diagnostics[0].message,
        "no required module provides package github.com/pipeline-corpus/missing"
    );
}

#[test]
fn npm_and_pnpm_install_errors_carry_the_code_and_message() {
    let cases = [
        (
            "npm/install-e404",
            "npm install x",
            "E404",
            "permanent",
            "404 Not Found - GET https://registry.npmjs.org/pipeline-no-such-package-4e1f",
        ),
        (
            "npm/install-etarget",
            "npm install left-pad@99.0.0",
            "ETARGET",
            "permanent",
            "No matching version found for left-pad@99.0.0.",
        ),
        (
            "npm/install-dns",
            "npm install left-pad",
            "ENOTFOUND",
            "transient",
            "request to http://pipeline-corpus.invalid/left-pad failed, reason: getaddrinfo ENOTFOUND pipeline-corpus.invalid",
        ),
        (
            "pnpm/add-404",
            "pnpm add x",
            "ERR_PNPM_FETCH_404",
            "permanent",
            "GET https://registry.npmjs.org/pipeline-no-such-package-4e1f: Not Found - 404",
        ),
        (
            "pnpm/add-no-version",
            "pnpm add left-pad@99.0.0",
            "ERR_PNPM_NO_MATCHING_VERSION",
            "permanent",
            "No matching version found for left-pad@99.0.0 while fetching it from https://registry.npmjs.org/",
        ),
        (
            "pnpm/add-refused",
            "pnpm add left-pad",
            "ERR_PNPM_META_FETCH_FAIL",
            "transient",
            "GET http://127.0.0.1:9/left-pad: request to http://127.0.0.1:9/left-pad failed, reason: connect ECONNREFUSED 127.0.0.1:9",
        ),
    ];
    let mut wrong = Vec::new();
    for (path, command, code, class, message) in cases {
        let report = classify(path, command);
        // The shipped `npm` plugin adds its own diagnostic for the code line.
        let found = report
            .diagnostics
            .iter()
            .any(|d| d.code.as_deref() == Some(code) && d.message == message);
        if report.class.name() != class || !found {
            wrong.push(format!(
                "{path}: {} by {}, diagnostics {:?}",
                report.class.name(),
                report.plugin,
                report.diagnostics
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    let script = classify("corpus/npm-run-no-package-json", "npm run build");
    assert_eq!(script.plugin, "npm-install");
    assert_eq!(
        script.diagnostics[0].file.as_deref(),
        Some("/tmp/pipeline-error-corpus/npm-missing-json/package.json")
    );
}

#[test]
fn a_log_footer_never_becomes_the_summary() {
    // What the supervisor writes around a command's output (pipeline-process).
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("1.log");
    std::fs::write(
        &log,
        "[pipeline] command: sh -c 'exit 1'\n[pipeline] cwd: /w\n[pipeline] started: 2026-11-21T05:00:00Z\n[pipeline] timeout: none\n----- output (stdout and stderr) -----\nerror: 2 files failed the format check\n----- end of output -----\n[pipeline] result: exited with status 1\n[pipeline] duration: 0.010 s\n[pipeline] output: 39 bytes, 39 written to this log\n",
    )
    .expect("write log");
    let mut failure = fixture("corpus/bash-silent-false", "shell", "sh -c 'exit 1'");
    failure.log_path = Some(log);
    let report = PluginManager::builtin().classify(&failure);
    assert_eq!(report.plugin, "exit-status");
    assert!(
        report
            .summary
            .ends_with("exited with status 1: error: 2 files failed the format check"),
        "{}",
        report.summary
    );
}
