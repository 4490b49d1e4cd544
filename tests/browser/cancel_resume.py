"""Cancelling a run from the page (after a confirmation) and resuming it.

Fixture (tests/e2e/dashboard.rs, `browser_cancels_and_resumes_a_run_from_the_page`): the
run `run`, driven by a `pipeline run` in another process, of the workstream `stop`:
`stop/hold` waits for OUT/stop.release, `stop/after` follows it. The Rust side checks that
the CLI stopped as on SIGTERM (143).
"""

from harness import (
    FIXTURE,
    api,
    assert_not_reloaded,
    dashboard,
    main,
    mark_page,
    release,
    wait_attr,
    wait_dag,
    wait_node_status,
)

RUN = FIXTURE["run"]
HOLD, AFTER = "stop/hold", "stop/after"


def scenario():
    with dashboard() as session:
        page = session.goto(f"#/runs/{RUN}")
        mark_page(page)
        wait_dag(page, 2)
        wait_node_status(page, HOLD, "running")
        page.wait_for_selector("button#cancel-run:enabled")
        assert page.is_disabled("button#resume-run")

        # Destructive: asks first; "cancel" in the dialog keeps the run going.
        page.click("button#cancel-run")
        page.wait_for_selector("dialog#confirm[open]")
        page.click("button#confirm-cancel")
        page.wait_for_selector("dialog#confirm", state="hidden")
        assert api(f"/api/runs/{RUN}")["status"] == "running"
        page.click("button#cancel-run")
        page.wait_for_selector("dialog#confirm[open]")
        page.click("button#confirm-ok")
        wait_attr(page, "#run-header", "data-status", "interrupted")
        wait_node_status(page, HOLD, "interrupted")

        # Interrupted and no longer driven: resume is offered, cancel is not.
        page.wait_for_selector("button#resume-run:enabled")
        assert page.is_disabled("button#cancel-run")
        release("stop")
        page.click("button#resume-run")
        wait_node_status(page, HOLD, "completed")
        wait_node_status(page, AFTER, "completed")
        wait_attr(page, "#run-header", "data-status", "completed")
        assert_not_reloaded(page)


if __name__ == "__main__":
    main(scenario)
