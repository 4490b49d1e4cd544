"""Approving and rejecting steps from the page.

Fixture (tests/e2e/dashboard.rs, `browser_approves_and_rejects_steps_from_the_page`): the
run `run`, driven by a `pipeline run` in another process, of the workstream `gate`:
`gate/review` (approval required) writes review.txt, `gate/after` depends on it;
`gate/deny` (approval required) writes deny.txt, `gate/late` depends on it. The Rust side
checks afterwards that the rejection comment is the one typed here.
"""

from harness import (
    FIXTURE,
    api,
    assert_not_reloaded,
    axe,
    click_node,
    dashboard,
    main,
    mark_page,
    open_step_panel,
    screenshot,
    show_tab,
    wait_attr,
    wait_dag,
    wait_node_status,
)

RUN = FIXTURE["run"]
COMMENT = FIXTURE["comment"]
REVIEW, AFTER, DENY, LATE = "gate/review", "gate/after", "gate/deny", "gate/late"


def open_step(page, step):
    page.click(f'ul#step-list li[data-step="{step}"] button')
    open_step_panel(page, step)


def approve(page):
    wait_node_status(page, REVIEW, "awaiting_approval")
    assert page.evaluate(
        f"() => window.pipelineDag.getElementById('{AFTER}').data('status')"
    ) == "pending", "the dependent started before the approval"
    click_node(page, REVIEW)
    open_step_panel(page, REVIEW)
    wait_attr(page, "#step-panel", "data-status", "awaiting_approval")
    page.wait_for_selector("button#approve", state="visible")
    assert page.is_visible("button#reject") and page.is_visible("textarea#reject-comment")
    # The result to review is there before deciding.
    show_tab(page, "diff")
    page.wait_for_selector('#step-diff .diff-file[data-path="review.txt"]')
    axe(page, "approval prompt")
    screenshot(page, "dashboard-approval")
    page.click("button#approve")
    wait_node_status(page, REVIEW, "completed")
    wait_node_status(page, AFTER, "completed")
    # What the API no longer allows is not offered.
    wait_attr(page, "#step-panel", "data-status", "completed")
    assert page.query_selector("button#approve") is None, "approve offered on a completed step"
    assert page.query_selector("button#reject") is None, "reject offered on a completed step"


def reject(page):
    wait_node_status(page, DENY, "awaiting_approval")
    open_step(page, DENY)
    page.wait_for_selector("textarea#reject-comment", state="visible")
    page.fill("textarea#reject-comment", COMMENT)
    # Destructive: confirmation first; cancelling leaves the step waiting.
    page.click("button#reject")
    page.wait_for_selector("dialog#confirm[open]")
    page.click("button#confirm-cancel")
    page.wait_for_selector("dialog#confirm", state="hidden")
    assert step_status(DENY) == "awaiting_approval", "cancelled rejection was applied"
    page.click("button#reject")
    page.wait_for_selector("dialog#confirm[open]")
    page.click("button#confirm-ok")
    wait_node_status(page, DENY, "failed")
    wait_node_status(page, LATE, "skipped")
    wait_attr(page, "#run-header", "data-status", "failed")
    # A failed run whose driver has ended can be resumed, not cancelled.
    page.wait_for_selector("button#resume-run:enabled")
    assert page.is_disabled("button#cancel-run"), "cancel is enabled on a failed run"


def step_status(step):
    for s in api(f"/api/runs/{RUN}")["steps"]:
        if s["id"] == step:
            return s["status"]
    return None


def scenario():
    with dashboard() as session:
        page = session.goto(f"#/runs/{RUN}")
        mark_page(page)
        wait_dag(page, 4)
        approve(page)
        reject(page)
        assert_not_reloaded(page)


if __name__ == "__main__":
    main(scenario)
