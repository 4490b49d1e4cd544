//! Tool registry at run time: capability routing with fallback past missing tools,
//! `max_concurrent` and `requests_per_minute` enforced across the steps of a run.

use serde_json::Value;

use crate::handshake::{await_file, wait_for_file};
use crate::support::{Test, interrupt, step_state};

#[test]
fn a_capability_falls_back_past_a_tool_that_is_not_installed() {
    let t = Test::new();
    t.config(
        "tools:\n  fancy:\n    kind: custom\n    command: definitely-not-installed-tool\n    capabilities: [code_generation]\n    priority: 10\n  plain:\n    kind: custom\n    command: sh\n    args: [\"-c\", \"echo plain > plain.txt\"]\n    capabilities: [code_generation]\n    priority: 1\n",
    );
    let ws = t.workstream(
        "ws.json",
        r#"{"id": "gen", "capability": "code_generation", "tasks": ["generate"]}"#,
    );
    t.run(&ws, "cap", 1).assert_ok();
    let sel = t.events("cap", "gen", "tool_selected");
    assert_eq!(sel[0]["tool"], "plain", "{sel:?}");
    let skipped: Vec<&str> = sel[0]["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        skipped.contains(&"fancy: `definitely-not-installed-tool` is not installed"),
        "{sel:?}"
    );
    assert!(t.show("pipeline/cap", "plain.txt").is_some());
}

#[test]
fn max_concurrent_one_never_overlaps() {
    let t = Test::new();
    // The tool announces itself and holds until the test releases its step.
    let started = t.out_path("$PIPELINE_STEP_ID.started");
    let hold = await_file(&t.out_path("$PIPELINE_STEP_ID.release"));
    t.config(&format!(
        "tools:\n  solo:\n    kind: custom\n    command: sh\n    args: [\"-c\", \"touch {started}; {hold}\"]\n    max_concurrent: 1\n"
    ));
    let ws = t.workstream("ws.json", r#"[{"id": "a", "tool": "solo", "tasks": ["x"]}, {"id": "b", "tool": "solo", "tasks": ["x"]}, {"id": "c", "tool": "solo", "tasks": ["x"]}]"#);
    let mut child = t.spawn(&[
        "run",
        ws.to_str().unwrap(),
        "--run-id",
        "solo",
        "--jobs",
        "3",
    ]);
    let count = |v: &Value, state: &str| {
        ["a", "b", "c"]
            .iter()
            .filter(|s| step_state(v, s) == state)
            .count()
    };
    // Three job slots, one tool slot: while one tool holds, the other steps wait for the
    // tool and their tools never start. Released one by one, the steps take turns.
    for done in 0..3 {
        let v = t.wait_for_status(
            "solo",
            &format!("{done} completed, one running, the rest waiting"),
            |v| {
                count(v, "completed") == done
                    && count(v, "running") == 1
                    && count(v, "waiting") == 2 - done
            },
        );
        let holder = ["a", "b", "c"]
            .into_iter()
            .find(|s| step_state(&v, s) == "running")
            .expect("a running step");
        for waiting in ["a", "b", "c"]
            .into_iter()
            .filter(|s| step_state(&v, s) == "waiting")
        {
            let error = v["steps"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["id"] == waiting)
                .and_then(|s| s["error"].as_str())
                .unwrap_or_default()
                .to_string();
            assert!(error.contains("max_concurrent (1)"), "{v:#}");
        }
        wait_for_file(&t.out.join(format!("{holder}.started")));
        let announced: Vec<String> = std::fs::read_dir(&t.out)
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.ends_with(".started"))
            .collect();
        assert_eq!(announced.len(), done + 1, "tools started: {announced:?}");
        std::fs::write(t.out.join(format!("{holder}.release")), "go").unwrap();
    }
    assert_eq!(child.wait().unwrap().code(), Some(0));
    assert_eq!(t.status("solo")["status"], "completed");
}

#[test]
fn requests_per_minute_makes_the_extra_step_wait() {
    let t = Test::new();
    t.config("tools:\n  metered:\n    kind: custom\n    command: sh\n    args: [\"-c\", \"true\"]\n    requests_per_minute: 2\n");
    let ws = t.workstream("ws.json", r#"[{"id": "a", "tool": "metered", "tasks": ["x"]}, {"id": "b", "tool": "metered", "tasks": ["x"]}, {"id": "c", "tool": "metered", "tasks": ["x"]}]"#);
    let mut child = t.spawn(&[
        "run",
        ws.to_str().unwrap(),
        "--run-id",
        "rpm",
        "--jobs",
        "3",
    ]);
    // Two steps complete at once; the third waits for the one-minute window.
    let v = t.wait_for_status("rpm", "two completed and the third waiting", |v| {
        let steps = v["steps"].as_array().into_iter().flatten();
        let completed = steps.clone().filter(|s| s["status"] == "completed").count();
        let waiting = steps.filter(|s| s["status"] == "waiting").count();
        completed == 2 && waiting == 1
    });
    let waiting = v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["status"] == "waiting")
        .unwrap();
    assert!(
        waiting["error"]
            .as_str()
            .unwrap()
            .contains("requests_per_minute (2)"),
        "{v:#}"
    );
    assert_eq!(waiting["attempts"], 0, "no attempt before the window opens");
    assert_eq!(interrupt(&mut child), Some(130));
}
