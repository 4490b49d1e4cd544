//! Failure classes through the real binary: a failing `python -m unittest` step is
//! permanent and `pipeline errors` and the progress view name the class and the first
//! diagnostic (file:line message) instead of the attempt log's footer; a missing Python
//! module is permanent (not a DNS failure) and is not retried.

use serde_json::Value;

use crate::support::Test;

const CALC: &str = "def add(a, b):\n    return a - b\n";
const TEST_CALC: &str = "import unittest\n\nfrom calc import add\n\n\nclass CalcTest(unittest.TestCase):\n    def test_add(self):\n        self.assertEqual(add(2, 2), 4)\n\n    def test_add_zero(self):\n        self.assertEqual(add(3, 0), 3)\n";

fn attempts(t: &Test, run: &str, step: &str) -> usize {
    t.events(run, step, "attempt_started").len()
}

#[test]
fn a_failing_unittest_step_shows_its_class_and_first_diagnostic() {
    let t = Test::new();
    t.commit_file("calc.py", CALC);
    t.commit_file("test_calc.py", TEST_CALC);
    let ws = t.workstream(
        "calc.json",
        r#"{"id": "calc", "command": "python3 -m unittest -v"}"#,
    );
    let run = t.run(&ws, "unit", 1).assert_code(1);
    // Progress lines go to stderr (plain lines without a terminal), the run summary to stdout.
    let progress = run.stderr();
    let failed = progress
        .lines()
        .find(|line| line.contains("failed    calc"))
        .unwrap_or_else(|| panic!("no failed line in the progress output:\n{progress}"));
    assert!(
        failed.contains("(attempt 1): permanent: 1 unittest failure(s); first: ")
            && failed
                .contains("test_calc.py:8: test_calc.CalcTest.test_add: AssertionError: 0 != 4"),
        "{failed}"
    );
    assert!(!progress.contains("[pipeline] output:"), "{progress}");
    let summary = run.stdout();
    assert!(
        summary.contains("\n  1 unittest failure(s); first: ")
            && summary.contains("(class permanent; "),
        "{summary}"
    );
    assert_eq!(
        attempts(&t, "unit", "calc"),
        1,
        "a permanent failure is not retried"
    );

    let errors = t.pipeline(&["errors", "unit"]).assert_ok().stdout();
    assert!(!errors.contains("[pipeline]"), "{errors}");
    let mut lines = errors.lines();
    let header = lines.next().unwrap_or_default();
    assert!(
        header.starts_with("calc  permanent  x1  (attempt 1, plugin unittest"),
        "{errors}"
    );
    let summary = lines.next().unwrap_or_default();
    assert!(
        summary.contains("1 unittest failure(s); first: ")
            && summary
                .contains("test_calc.py:8: test_calc.CalcTest.test_add: AssertionError: 0 != 4"),
        "{errors}"
    );

    let json: Value = serde_json::from_str(
        &t.pipeline(&["errors", "unit", "--json"])
            .assert_ok()
            .stdout(),
    )
    .expect("errors --json is JSON");
    let diagnostic = &json["errors"][0]["report"]["diagnostics"][0];
    assert_eq!(diagnostic["line"], 8, "{json:#}");
    assert_eq!(diagnostic["code"], "AssertionError", "{json:#}");
    assert!(
        diagnostic["file"]
            .as_str()
            .is_some_and(|file| file.ends_with("test_calc.py")),
        "{json:#}"
    );
}

#[test]
fn a_missing_python_module_is_permanent_and_not_retried() {
    let t = Test::new();
    t.commit_file("app.py", "import pipeline_missing_module\n");
    let ws = t.workstream("app.json", r#"{"id": "app", "command": "python3 app.py"}"#);
    t.run(&ws, "missing", 1).assert_code(1);
    assert_eq!(
        attempts(&t, "missing", "app"),
        1,
        "ModuleNotFoundError used to be classified as DNS and retried"
    );
    let json: Value = serde_json::from_str(
        &t.pipeline(&["errors", "missing", "--json"])
            .assert_ok()
            .stdout(),
    )
    .expect("errors --json is JSON");
    let error = &json["errors"][0];
    assert_eq!(error["class"], "permanent", "{json:#}");
    assert_eq!(error["plugin"], "not-found", "{json:#}");
    assert!(
        error["summary"]
            .as_str()
            .is_some_and(|s| s.starts_with("module or package `pipeline_missing_module` not found")),
        "{json:#}"
    );
}
