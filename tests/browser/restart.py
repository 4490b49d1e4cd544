"""The page recovers by itself after the server restarts mid-run.

Fixture (tests/e2e/dashboard.rs, `browser_recovers_after_the_server_restarts_mid_run`):
the run `run`, driven by a `pipeline run` in another process (so stopping the server does
not stop it), of the workstream `restart`: `restart/hold` waits for OUT/hold.release,
`restart/next` and `restart/last` follow it in a chain.

While the server is down the step is released and the run finishes; the Rust side, asked
to start the server again, waits for the CLI to end first, so every later state change of
the run happened while the page had no server: it must catch up from the last event id.
"""

from harness import (
    FIXTURE,
    assert_not_reloaded,
    ask,
    dashboard,
    log,
    main,
    mark_page,
    node_data,
    release,
    wait_attr,
    wait_dag,
    wait_node_status,
)

RUN = FIXTURE["run"]
HOLD, NEXT, LAST = "restart/hold", "restart/next", "restart/last"

# While the server is down Chromium reports each refused request as a console error; the
# page's retries are expected then, nothing else is.
EXPECTED = [r"net::ERR_CONNECTION_REFUSED", r"net::ERR_EMPTY_RESPONSE", r"net::ERR_INCOMPLETE_CHUNKED_ENCODING"]


def scenario():
    with dashboard(expected_errors=EXPECTED) as session:
        page = session.goto(f"#/runs/{RUN}")
        mark_page(page)
        wait_dag(page, 3)
        wait_node_status(page, HOLD, "running")
        wait_attr(page, "#connection", "data-state", "live")
        ask("stop_server")
        wait_attr(page, "#connection", "data-state", "reconnecting")
        release("hold")
        ask("start_server")
        log("server started again on the same port")
        wait_attr(page, "#connection", "data-state", "live", timeout=60_000)
        wait_node_status(page, HOLD, "completed")
        wait_node_status(page, NEXT, "completed")
        wait_node_status(page, LAST, "completed")
        wait_attr(page, "#run-header", "data-status", "completed")
        assert node_data(page, HOLD, "attempts") == 1
        assert_not_reloaded(page)


if __name__ == "__main__":
    main(scenario)
