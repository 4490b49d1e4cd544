"""With a token configured, the page asks for it once, keeps it for the session
(sessionStorage `pipeline.token`), sends it as `Authorization: Bearer` and never in a URL.

Fixture (tests/e2e/dashboard.rs, `browser_asks_for_the_token_once_and_never_puts_it_in_a_url`):
a server started with `--token-file`, and the finished run `run` with the step `step`.
"""

from harness import (
    BASE,
    FIXTURE,
    TOKEN,
    dashboard,
    log,
    main,
    open_step_panel,
    show_tab,
    wait_dag,
)

RUN = FIXTURE["run"]
STEP = FIXTURE["step"]

# Chromium logs each 401 answer as a console error: expected until the token is given.
EXPECTED = [r"status of 401"]

# Counts how often the page opens the token dialog (a DevTools init script, so the page's
# CSP does not apply to it).
COUNT_ASKS = """
(() => {
    window.__tokenAsks = 0;
    for (const name of ['showModal', 'show']) {
        const original = HTMLDialogElement.prototype[name];
        HTMLDialogElement.prototype[name] = function (...args) {
            if (this.id === 'token-dialog') window.__tokenAsks += 1;
            return original.apply(this, args);
        };
    }
})();
"""


def scenario():
    assert TOKEN, "the fixture gives the server a token"
    with dashboard(expected_errors=EXPECTED) as session:
        session.context.add_init_script(COUNT_ASKS)
        page = session.goto("#/runs")
        page.wait_for_selector("dialog#token-dialog[open]")
        assert page.get_attribute("input#token-input", "type") == "password"
        page.fill("input#token-input", TOKEN)
        page.click("button#token-submit")
        page.wait_for_selector(f'table#runs tbody tr[data-run="{RUN}"]')
        assert page.evaluate("() => sessionStorage.getItem('pipeline.token')") == TOKEN
        # The whole page works with it: a run, a step's log, the tools.
        page.click(f'table#runs a[href="#/runs/{RUN}"]')
        wait_dag(page, FIXTURE["steps"])
        page.click(f'ul#step-list li[data-step="{STEP}"] button')
        open_step_panel(page, STEP)
        show_tab(page, "log")
        page.wait_for_function(
            "() => document.querySelector('#step-log pre').textContent.includes('token run output')"
        )
        page.click('nav a[href="#/tools"]')
        page.wait_for_selector('table#tools tr[data-tool="shell"]')
        asks = page.evaluate("() => window.__tokenAsks")
        assert asks == 1, f"the page asked for the token {asks} times"
        assert not page.is_visible("dialog#token-dialog")

        # A reload in the same tab keeps it: not asked again.
        page.reload()
        page.wait_for_selector('table#tools tr[data-tool="shell"]')
        asks = page.evaluate("() => window.__tokenAsks")
        assert asks == 0, f"asked again after a reload ({asks})"

        api_requests = [r for r in session.requests if r.url.startswith(BASE + "/api/")]
        assert api_requests, "no API request seen"
        leaked = [r.url for r in session.requests if TOKEN in r.url]
        assert not leaked, f"the token is in requested URLs: {leaked}"
        authorised = [
            r for r in api_requests if r.headers.get("authorization") == f"Bearer {TOKEN}"
        ]
        log(f"{len(api_requests)} API requests, {len(authorised)} with the token")
        assert authorised, "no API request carried Authorization: Bearer <token>"


if __name__ == "__main__":
    main(scenario)
