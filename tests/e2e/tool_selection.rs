//! Tool registry at run time: capability routing with fallback past missing tools,
//! `max_concurrent` and `requests_per_minute` enforced across the steps of a run.

use crate::support::Test;

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
    let spans = t.out.clone();
    t.config(&format!(
        "tools:\n  solo:\n    kind: custom\n    command: sh\n    args: [\"-c\", \"date +%s%N > {0}/$PIPELINE_STEP_ID.start; sleep 0.5; date +%s%N > {0}/$PIPELINE_STEP_ID.end\"]\n    max_concurrent: 1\n",
        spans.display()
    ));
    let ws = t.workstream("ws.json", r#"[{"id": "a", "tool": "solo", "tasks": ["x"]}, {"id": "b", "tool": "solo", "tasks": ["x"]}, {"id": "c", "tool": "solo", "tasks": ["x"]}]"#);
    t.run(&ws, "solo", 3).assert_ok();
    let span = |n: &str| -> (u128, u128) {
        let r = |s: &str| t.out_lines(&format!("{n}.{s}"))[0].parse::<u128>().unwrap();
        (r("start"), r("end"))
    };
    let mut all = vec![span("a"), span("b"), span("c")];
    all.sort();
    for w in all.windows(2) {
        assert!(w[0].1 <= w[1].0, "overlap: {all:?}");
    }
}

#[test]
fn requests_per_minute_makes_the_extra_step_wait() {
    let t = Test::new();
    t.config("tools:\n  metered:\n    kind: custom\n    command: sh\n    args: [\"-c\", \"true\"]\n    requests_per_minute: 2\n");
    let ws = t.workstream("ws.json", r#"[{"id": "a", "tool": "metered", "tasks": ["x"]}, {"id": "b", "tool": "metered", "tasks": ["x"]}, {"id": "c", "tool": "metered", "tasks": ["x"]}]"#);
    let bin = assert_cmd::cargo::cargo_bin("pipeline");
    let mut child = std::process::Command::new(bin)
        .args([
            "run",
            ws.to_str().unwrap(),
            "--run-id",
            "rpm",
            "--jobs",
            "3",
        ])
        .current_dir(&t.repo)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Two steps complete at once; the third waits for the one-minute window.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let out = t.cmd().args(["status", "rpm", "--json"]).output().unwrap();
        if out.status.success() {
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            let steps = v["steps"].as_array().unwrap();
            let completed = steps.iter().filter(|s| s["status"] == "completed").count();
            let waiting: Vec<_> = steps.iter().filter(|s| s["status"] == "waiting").collect();
            if completed == 2 && waiting.len() == 1 {
                assert!(
                    waiting[0]["error"]
                        .as_str()
                        .unwrap()
                        .contains("requests_per_minute (2)"),
                    "{v:#}"
                );
                assert_eq!(
                    waiting[0]["attempts"], 0,
                    "no attempt before the window opens"
                );
                break;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the third step never waited"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(
        std::process::Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    assert_eq!(child.wait().unwrap().code(), Some(130));
}
