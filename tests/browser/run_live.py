"""A run's DAG while it executes: nodes and edges as planned, states changing live, a
step's log followed live then its diff, the step list and search reachable by keyboard.

Fixture (tests/e2e/dashboard.rs, `browser_run_dag_follows_the_run_live_with_logs_and_diffs`):
the run `run`, driven by a `pipeline run` in another process, of the workstream `live`:
`live/write` prints "log line one", waits for OUT/write.release, prints "log line two" and
writes feature.txt; `live/check` depends on it; `live/docs` writes docs.txt at once;
`live/ship` depends on `live/check` and `live/docs`.
"""

from urllib.parse import quote

from harness import (
    FIXTURE,
    api,
    api_text,
    assert_fits,
    assert_not_reloaded,
    axe,
    click_node,
    dag_graph,
    dashboard,
    log,
    main,
    mark_page,
    node_data,
    open_step_panel,
    release,
    screenshot,
    show_tab,
    wait_attr,
    wait_dag,
    wait_node_status,
)

RUN = FIXTURE["run"]
WRITE, CHECK, DOCS, SHIP = "live/write", "live/check", "live/docs", "live/ship"


def dag_matches_plan(page):
    plan = api(f"/api/runs/{RUN}/plan")
    steps = {s["id"] for s in plan["steps"]}
    edges = {(e["from"], e["to"]) for e in plan["edges"]}
    count, edge_count, layout_ms = wait_dag(page, len(steps))
    log(f"DAG: {count} nodes, {edge_count} edges, layout {layout_ms} ms")
    nodes, drawn, critical = dag_graph(page)
    assert nodes == steps, f"nodes {sorted(nodes)} != plan steps {sorted(steps)}"
    assert drawn == edges, f"edges {sorted(drawn)} != plan edges {sorted(edges)}"
    assert edge_count == len(edges)
    assert critical == set(plan["critical_path"]), (
        f"critical nodes {sorted(critical)} != plan critical path {plan['critical_path']}"
    )
    listed = page.eval_on_selector_all("ul#step-list li[data-step]", "ls => ls.map(l => l.dataset.step)")
    assert sorted(listed) == sorted(steps), f"step list {listed} != {sorted(steps)}"
    for step in steps:
        assert node_data(page, step, "tool"), f"node {step} has no tool"


def controls_while_running(page):
    wait_attr(page, "#run-header", "data-status", "running")
    assert page.is_enabled("button#cancel-run"), "cancel is disabled while the run runs"
    assert page.is_disabled("button#resume-run"), "resume is enabled while a process drives the run"


def log_then_diff(session, page):
    """Clicking the running node shows its log, which follows the step live; once the
    step is done its diff shows the file it wrote."""
    click_node(page, WRITE)
    open_step_panel(page, WRITE)
    wait_attr(page, "#step-panel", "data-status", "running")
    show_tab(page, "log")
    page.wait_for_selector("#step-log pre", state="attached")
    # The running attempt's log is written as the output arrives: its first line is in
    # the page while the step still waits (the header's command line also names both
    # lines, so whole output lines are compared).
    page.wait_for_function(
        "() => document.querySelector('#step-log pre').textContent.split('\\n').includes('log line one')"
    )
    running_log = api_text(f"/api/runs/{RUN}/steps/{quote(WRITE, safe='')}/logs")
    assert "log line one" in running_log.splitlines(), running_log
    assert "log line two" not in page.inner_text("#step-log pre").splitlines()
    release("write")
    # The open log follows the attempt: the rest arrives without reopening anything.
    page.wait_for_function(
        """() => {
            const lines = document.querySelector('#step-log pre').textContent.split('\\n');
            return lines.includes('log line one') && lines.includes('log line two');
        }"""
    )
    paths = (f"/steps/{quote(WRITE, safe='')}/logs", f"/steps/{WRITE}/logs")
    logs = [r for r in session.requests if r.url.split("?")[0].endswith(paths)]
    ranged = [r for r in logs if r.headers.get("range", "").startswith("bytes=")]
    log(f"{len(logs)} log requests, {len(ranged)} with a Range header")
    assert len(logs) >= 2 and ranged, "the log is not followed (a tail, then Range requests)"
    wait_node_status(page, WRITE, "completed")
    wait_attr(page, "#step-panel", "data-status", "completed")
    assert node_data(page, WRITE, "attempts") == 1
    show_tab(page, "attempts")
    page.wait_for_selector("#step-attempts tr")
    show_tab(page, "definition")
    page.wait_for_function(
        "() => document.querySelector('#step-definition').textContent.includes('feature.txt')"
    )
    show_tab(page, "diff")
    page.wait_for_selector('#step-diff .diff-file[data-path="feature.txt"]')
    added = page.inner_text('#step-diff .diff-file[data-path="feature.txt"] .diff-add')
    assert "the feature" in added, f"the added line is not shown: {added!r}"
    files = page.eval_on_selector_all("#step-diff .diff-file", "fs => fs.map(f => f.dataset.path)")
    assert files == ["feature.txt"], files
    assert "+1" in page.inner_text("#step-diff").replace(" ", ""), "no +1 count"
    assert page.query_selector("#step-usage") is not None


def keyboard_to_step(page):
    """Tab reaches a button of the step list, Enter opens its step."""
    page.focus("body")
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    for _ in range(200):
        page.keyboard.press("Tab")
        step = page.evaluate(
            """() => {
                const a = document.activeElement;
                const li = a && a.tagName === 'BUTTON' && a.closest('ul#step-list li[data-step]');
                return li ? li.dataset.step : null;
            }"""
        )
        if step:
            break
    else:
        raise AssertionError("200 Tabs never reached a button of #step-list")
    page.keyboard.press("Enter")
    open_step_panel(page, step)
    log(f"keyboard opened {step}")


def search_step(page):
    page.fill("input#step-search", DOCS)
    page.press("input#step-search", "Enter")
    open_step_panel(page, DOCS)
    selected = page.evaluate("() => window.pipelineDag.$(':selected').map((n) => n.id())")
    assert selected == [DOCS], f"search selected {selected}"


def scenario():
    with dashboard() as session:
        page = session.goto(f"#/runs/{RUN}")
        mark_page(page)
        dag_matches_plan(page)
        wait_node_status(page, WRITE, "running")
        wait_node_status(page, DOCS, "completed")
        assert node_data(page, SHIP, "status") == "pending"
        controls_while_running(page)
        axe(page, "run view")
        screenshot(page, "dashboard-dag")
        assert_fits(session, f"#/runs/{RUN}", "#dag[data-layout-ms]", "run view")
        assert_fits(
            session, f"#/runs/{RUN}/steps/{quote(WRITE, safe='')}", "#step-panel", "step panel"
        )
        log_then_diff(session, page)
        axe(page, "step panel")
        screenshot(page, "dashboard-step-diff")
        wait_node_status(page, CHECK, "completed")
        wait_node_status(page, SHIP, "completed")
        wait_attr(page, "#run-header", "data-status", "completed")
        assert page.is_disabled("button#cancel-run"), "cancel is enabled on a finished run"
        assert page.is_disabled("button#resume-run"), "resume is enabled on a completed run"
        keyboard_to_step(page)
        search_step(page)
        assert_not_reloaded(page)


if __name__ == "__main__":
    main(scenario)
