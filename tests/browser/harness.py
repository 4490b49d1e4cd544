"""What every browser scenario of the dashboard shares.

tests/e2e/dashboard.rs builds a fixture repository, starts the real `pipeline serve`
and runs one scenario script of this directory (`python tests/browser/NAME.py`) with:

- PIPELINE_DASHBOARD_URL: the server's base URL (`http://127.0.0.1:PORT`);
- PIPELINE_BROWSER: the Chromium executable (Debian's /usr/bin/chromium);
- PIPELINE_SCREENSHOTS: the directory screenshots go to;
- PIPELINE_TEST_OUT: the fixture's side-effect directory (release files go there);
- PIPELINE_TEST_FIXTURE: a JSON object of what the scenario needs (run ids, step ids);
- PIPELINE_TEST_TOKEN: the server's token, when it has one (for the script's own API
  reads; the page must ask for it).

The script asks the Rust side for what only it can do (stop and start the server) over a
line protocol: a line `@@ {"ask": ...}` on stdout, answered by one JSON line on stdin.
Everything else the script prints goes to stderr.

Every page is watched: a console message of type error, or an uncaught exception
(`pageerror`), fails the scenario at its end unless it matches one of the patterns the
scenario declared expected (a 401 before the token is given, refused connections while
the server is down). A Content-Security-Policy violation (an inline style or script) is
such a console error. The page is only driven through the selectors and routes of the
dashboard's contract (ids, data-* attributes, `window.pipelineDag`).
"""

import json
import os
import re
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

HERE = Path(__file__).resolve().parent
AXE = HERE / "vendor" / "axe.min.js"

BASE = os.environ["PIPELINE_DASHBOARD_URL"].rstrip("/")
BROWSER = os.environ.get("PIPELINE_BROWSER", "/usr/bin/chromium")
SCREENSHOTS = Path(
    os.environ.get("PIPELINE_SCREENSHOTS", Path(tempfile.gettempdir()) / "dashboard-screenshots")
)
OUT = Path(os.environ.get("PIPELINE_TEST_OUT", "."))
FIXTURE = json.loads(os.environ.get("PIPELINE_TEST_FIXTURE", "{}"))
TOKEN = os.environ.get("PIPELINE_TEST_TOKEN")

# The flags of the dashboard's contract: no sandbox (containers run as root), no GPU, no
# network of the browser's own (updates, sync, QUIC probes).
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# How long a wait for the page may take, in milliseconds. Generous: two cores shared with
# other test processes; a wait that succeeds returns at once.
WAIT_MS = 30_000

DESKTOP = {"width": 1280, "height": 720}
PHONE = {"width": 390, "height": 844}


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def ask(what, **args):
    """Asks the Rust side to do `what` (e.g. "stop_server"); returns its JSON answer."""
    print("@@ " + json.dumps({"ask": what, **args}), flush=True)
    line = sys.stdin.readline()
    if not line:
        raise AssertionError(f"the test harness closed the channel while asked {what!r}")
    answer = json.loads(line)
    if answer.get("error"):
        raise AssertionError(f"{what}: {answer['error']}")
    return answer


def api(path, token=TOKEN):
    """GET `path` of the server's API (with the token when there is one) as JSON."""
    request = urllib.request.Request(BASE + path)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def api_text(path, token=TOKEN):
    """GET `path` of the server's API as text (logs, diffs)."""
    request = urllib.request.Request(BASE + path)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.read().decode("utf-8", "replace")


def release(name):
    """Writes the release file a held step of the fixture waits for (`OUT/NAME.release`)."""
    (OUT / f"{name}.release").write_text("go\n")


def wait_until(what, condition, timeout_s=WAIT_MS / 1000):
    """Polls `condition()` every 100 ms until it is truthy; returns its value or fails
    naming `what`."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for: {what}")
        time.sleep(0.1)


class Session:
    """A browser context on the dashboard (and any other opened with `open_page`) with
    everything its pages logged."""

    def __init__(self, browser, expected_errors, **context_args):
        self.browser = browser
        self.expected = [re.compile(p) for p in expected_errors]
        self.errors = []
        self.requests = []
        self.page = self.open_page(**context_args)
        self.context = self.page.context

    def open_page(self, **context_args):
        """A page in a new context (e.g. another viewport or colour scheme), watched like
        the first."""
        context = self.browser.new_context(**context_args)
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        page.on("console", self._console)
        page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        context.on("request", lambda r: self.requests.append(r))
        return page

    def _console(self, message):
        if message.type != "error":
            return
        text = message.text
        if any(p.search(text) for p in self.expected):
            log(f"(expected console error: {text})")
            return
        location = message.location or {}
        self.errors.append(f"console error: {text} at {location.get('url')}:{location.get('lineNumber')}")

    def goto(self, route="#/runs"):
        """Opens the dashboard at the hash `route`."""
        self.page.goto(f"{BASE}/{route}")
        return self.page

    def route(self, route):
        """Changes the hash route without a navigation (as a click on a link does)."""
        self.page.evaluate("(r) => { location.hash = r; }", route)

    def assert_no_errors(self):
        assert not self.errors, "the page logged errors:\n" + "\n".join(self.errors)


@contextmanager
def dashboard(expected_errors=(), **context_args):
    """A Chromium with one context on the dashboard (1280x720 unless `viewport` is
    given); fails at the end if the page logged an unexpected error."""
    context_args.setdefault("viewport", DESKTOP)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=BROWSER, args=CHROMIUM_FLAGS)
        try:
            session = Session(browser, expected_errors, **context_args)
            try:
                yield session
            except BaseException:
                report_failure(session)
                raise
            session.assert_no_errors()
        finally:
            browser.close()


def report_failure(session):
    """On a failure: what the page logged, its screenshot (SCREENSHOTS/failure.png) and
    the markup of its view, for the test's output."""
    for error in session.errors:
        log(error)
    try:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        session.page.screenshot(path=str(SCREENSHOTS / "failure.png"))
        log(f"failure screenshot: {SCREENSHOTS / 'failure.png'} (url {session.page.url})")
        markup = session.page.evaluate("() => document.body.innerHTML")
        log("--- body (first 6000 characters) ---\n" + markup[:6000])
    except Exception as e:  # noqa: BLE001 (best effort: the page may be gone)
        log(f"(no failure screenshot: {e})")


def attr(page: Page, selector, name):
    return page.get_attribute(selector, name)


def wait_attr(page: Page, selector, name, value, timeout=WAIT_MS):
    """Waits until `selector`'s attribute `name` equals `value` (a string, or a callable
    taking the attribute's text)."""
    page.wait_for_function(
        """([selector, name, value]) => {
            const e = document.querySelector(selector);
            return !!e && e.getAttribute(name) === value;
        }""",
        arg=[selector, name, value],
        timeout=timeout,
    )


def node_data(page: Page, step, key):
    """`data(key)` of the DAG node of `step` (None when it has none)."""
    return page.evaluate(
        """([id, key]) => {
            const n = window.pipelineDag && window.pipelineDag.getElementById(id);
            return n && n.length ? (n.data(key) ?? null) : null;
        }""",
        [step, key],
    )


def wait_node_status(page: Page, step, status, timeout=WAIT_MS):
    """Waits until the DAG node of `step` and its entry of the step list both show
    `status`."""
    page.wait_for_function(
        """([id, status]) => {
            const n = window.pipelineDag && window.pipelineDag.getElementById(id);
            const li = [...document.querySelectorAll('#step-list li')].find((e) => e.dataset.step === id);
            return !!n && n.length === 1 && n.data('status') === status
                && !!li && li.dataset.status === status;
        }""",
        arg=[step, status],
        timeout=timeout,
    )


def wait_dag(page: Page, nodes, timeout=WAIT_MS):
    """Waits until the DAG is laid out with `nodes` nodes; returns (nodes, edges, ms)."""
    wait_attr(page, "#dag", "data-nodes", str(nodes), timeout=timeout)
    page.wait_for_function(
        "() => document.querySelector('#dag').hasAttribute('data-layout-ms')", timeout=timeout
    )
    dag = page.query_selector("#dag")
    return (
        int(dag.get_attribute("data-nodes")),
        int(dag.get_attribute("data-edges")),
        float(dag.get_attribute("data-layout-ms")),
    )


def dag_graph(page: Page):
    """The DAG as drawn: ({node id}, {(source, target)}, {critical node ids})."""
    graph = page.evaluate(
        """() => {
            const cy = window.pipelineDag;
            return {
                nodes: cy.nodes().map((n) => n.id()),
                edges: cy.edges().map((e) => [e.source().id(), e.target().id()]),
                critical: cy.nodes('.critical').map((n) => n.id()),
            };
        }"""
    )
    return (
        set(graph["nodes"]),
        {tuple(e) for e in graph["edges"]},
        set(graph["critical"]),
    )


def click_node(page: Page, step):
    """Clicks the DAG node of `step` where it is drawn on the canvas (centring it first
    when it is outside the container)."""
    point = page.evaluate(
        """(id) => {
            const cy = window.pipelineDag;
            const n = cy.getElementById(id);
            const box = cy.container().getBoundingClientRect();
            let p = n.renderedPosition();
            if (p.x < 0 || p.y < 0 || p.x > box.width || p.y > box.height) {
                cy.center(n);
                p = n.renderedPosition();
            }
            return {x: box.left + p.x, y: box.top + p.y};
        }""",
        step,
    )
    page.mouse.click(point["x"], point["y"])


def open_step_panel(page: Page, step):
    """Waits for the step panel of `step`."""
    page.wait_for_selector(f'#step-panel[data-step="{step}"]', state="visible")


def show_tab(page: Page, tab):
    page.click(f'#step-panel button[data-tab="{tab}"]')


def mark_page(page: Page):
    """Sets a marker on the window: it survives only while the page is not reloaded."""
    page.evaluate("() => { window.__dashboardMarker = 'still here'; }")


def assert_not_reloaded(page: Page):
    marker = page.evaluate("() => window.__dashboardMarker || null")
    navigations = page.evaluate("() => performance.getEntriesByType('navigation').length")
    assert marker == "still here", "the page was reloaded (the window marker is gone)"
    assert navigations == 1, f"{navigations} navigations recorded"


def assert_fits(session, route, ready, where):
    """Opens `route` in a fresh page at 390x844 (a phone) and at 1280x720, waits for
    `ready` (a selector) and checks that the body does not overflow horizontally."""
    for size, name in [(PHONE, "390x844"), (DESKTOP, "1280x720")]:
        page = session.open_page(viewport=size)
        page.goto(f"{BASE}/{route}")
        page.wait_for_selector(ready, state="visible")
        assert_no_horizontal_overflow(page, f"{where} at {name}")
        page.context.close()


def assert_no_horizontal_overflow(page: Page, where):
    sizes = page.evaluate(
        "() => [document.scrollingElement.scrollWidth, window.innerWidth]"
    )
    assert sizes[0] <= sizes[1], f"{where}: the body overflows horizontally ({sizes[0]} > {sizes[1]} px)"


def axe(page: Page, where):
    """Runs axe-core (vendored for the tests) on the page; fails on any violation of
    impact "critical" and logs the others. axe is evaluated through the DevTools
    protocol, so the page's CSP (no inline script) stays in force."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE.read_text(encoding="utf-8") + "\n;undefined")
    violations = page.evaluate(
        """async () => {
            const r = await window.axe.run(document, {resultTypes: ['violations']});
            return r.violations.map((v) => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 5).map((n) => n.target.join(' ')),
            }));
        }"""
    )
    for v in violations:
        log(f"axe ({where}): {v['impact']} {v['id']}: {v['help']} {v['nodes']}")
    critical = [v for v in violations if v["impact"] == "critical"]
    assert not critical, f"axe ({where}): critical violations: {json.dumps(critical, indent=1)}"


def screenshot(page: Page, name):
    """Writes SCREENSHOTS/NAME.png of the viewport."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), animations="disabled", caret="hide")
    log(f"screenshot: {path}")
    return path


def body_background(page: Page):
    return page.evaluate("() => getComputedStyle(document.body).backgroundColor")


def main(scenario):
    """Runs `scenario()`; any failure is printed and exits 1."""
    started = time.monotonic()
    try:
        scenario()
    except Exception:  # noqa: BLE001 (the harness reports every failure the same way)
        import traceback

        traceback.print_exc()
        log(f"FAILED after {time.monotonic() - started:.1f} s")
        sys.exit(1)
    log(f"passed in {time.monotonic() - started:.1f} s")
