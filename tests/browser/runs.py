"""The runs list, starting a run from the page, the tools and specs views.

Fixture (tests/e2e/dashboard.rs, `browser_runs_list_starts_runs_and_shows_tools_and_specs`):
two finished runs recorded by the CLI (`done`: completed, `failed`: failed, which also
opened the breaker of the tool `breaker_tool`), the committed workstream files `held`
(one step waiting for OUT/runs-held.release) and `broken` (invalid), and the OpenSpec
project `notes` with the change `add-export`.
"""

from urllib.parse import quote

from harness import (
    BASE,
    FIXTURE,
    api,
    assert_fits,
    assert_no_horizontal_overflow,
    assert_not_reloaded,
    axe,
    body_background,
    dashboard,
    log,
    main,
    mark_page,
    release,
    screenshot,
    wait_attr,
    wait_until,
)


def runs_list(page):
    """The runs table matches GET /api/runs: same runs, same order, same statuses."""
    expected = api("/api/runs")
    page.wait_for_selector(f'table#runs tbody tr[data-run="{expected[0]["run_id"]}"]')
    rows = page.query_selector_all("table#runs tbody tr[data-run]")
    got = [(r.get_attribute("data-run"), r.get_attribute("data-status")) for r in rows]
    want = [(r["run_id"], r["status"]) for r in expected]
    assert got == want, f"runs table {got} != GET /api/runs {want} (newest first)"
    for run in expected:
        row = page.query_selector(f'table#runs tbody tr[data-run="{run["run_id"]}"]')
        link = row.query_selector(f'a[href="#/runs/{run["run_id"]}"]')
        assert link is not None, f"row {run['run_id']} has no link to #/runs/{run['run_id']}"
        text = row.inner_text()
        total = str(run["steps"]["total"])
        assert total in text, f"row {run['run_id']} does not show its {total} steps: {text!r}"
        workstream = run["workstream"].rsplit("/", 1)[-1].removesuffix(".json")
        assert workstream in text, f"row {run['run_id']} does not name {workstream}: {text!r}"
    headers = page.inner_text("table#runs thead").lower()
    for column in ["status", "workstream", "started", "duration", "steps", "tokens", "cost"]:
        assert column in headers, f"the runs table has no column {column!r}: {headers!r}"


def start_invalid(page):
    """An invalid workstream file is validated first; its errors name file and path."""
    options = page.eval_on_selector_all("select#workstream-file option", "os => os.map(o => o.value)")
    files = [f["path"] for f in api("/api/workstreams")["workstreams"]]
    assert sorted(o for o in options if o) == sorted(files), f"options {options} != {files}"
    runs_before = len(api("/api/runs"))
    page.select_option("select#workstream-file", FIXTURE["broken"])
    page.click("button#start-run")
    page.wait_for_selector("#start-errors li")
    errors = page.eval_on_selector_all("#start-errors li", "ls => ls.map(l => l.textContent)")
    assert len(errors) == 2, f"two diagnostics expected: {errors}"
    for error in errors:
        assert FIXTURE["broken"] in error, f"the error does not name the file: {error!r}"
        assert "/steps/0" in error or "broken/s" in error, f"no path or step: {error!r}"
    assert any("names no tool" in e for e in errors), errors
    assert len(api("/api/runs")) == runs_before, "an invalid file started a run"


def start_held(page):
    """A valid file starts a run; the page goes to it; back on the list, its row turns
    from running to completed without a reload."""
    page.select_option("select#workstream-file", FIXTURE["held"])
    page.click("button#start-run")
    page.wait_for_url("**/#/runs/*")
    run = page.url.split("#/runs/", 1)[1].split("/")[0]
    known = {r["run_id"] for r in api("/api/runs")}
    assert run in known, f"the page went to #/runs/{run}, which GET /api/runs does not list"
    assert run not in FIXTURE["runs"].values()
    wait_attr(page, "#run-header", "data-status", "running")
    page.click('nav a[href="#/runs"]')
    row = f'table#runs tbody tr[data-run="{run}"]'
    page.wait_for_selector(row)
    wait_attr(page, row, "data-status", "running")
    release("runs-held")
    wait_attr(page, row, "data-status", "completed")
    first = page.get_attribute("table#runs tbody tr[data-run]", "data-run")
    assert first == run, f"the newest run {run} is not first ({first})"
    return run


def tools_view(session):
    page = session.page
    page.click('nav a[href="#/tools"]')
    page.wait_for_selector('table#tools tr[data-tool="shell"]')
    tool = FIXTURE["breaker_tool"]
    reset = f'button[data-reset-breaker="{tool}"]'
    page.wait_for_selector(reset)
    assert tool in page.inner_text(f'table#tools tr[data-tool="{tool}"]')
    assert page.query_selector('button[data-reset-breaker="shell"]') is None
    # Destructive: asks first; cancelling keeps the breaker open.
    page.click(reset)
    page.wait_for_selector("dialog#confirm[open]")
    page.click("button#confirm-cancel")
    page.wait_for_selector("dialog#confirm", state="hidden")
    assert breaker(tool) == "open"
    page.click(reset)
    page.wait_for_selector("dialog#confirm[open]")
    page.click("button#confirm-ok")
    page.wait_for_selector(reset, state="detached")
    # A reset breaker is closed: GET /api/breakers lists it closed, or no longer at all.
    wait_until(f"the breaker of {tool} closed", lambda: breaker(tool) in ("closed", None))


def breaker(tool):
    for b in api("/api/breakers")["breakers"]:
        if b["tool"] == tool:
            return b["status"]
    return None


def specs_view(page):
    page.click('nav a[href="#/specs"]')
    page.wait_for_selector("#specs")
    page.wait_for_function("() => document.querySelector('#specs').textContent.includes('notes')")
    page.wait_for_function(
        "() => document.querySelector('#changes').textContent.includes('add-export')"
    )
    # The change has one open task of one.
    changes = page.inner_text("#changes")
    assert "0/1" in changes.replace(" ", "") or "0 / 1" in changes, f"task progress: {changes!r}"
    # Each item shows the validation `pipeline spec validate --all` gives it.
    validation = page.evaluate("() => fetch('/api/openspec').then((r) => r.json())")
    assert validation["project"] is True, validation
    verdicts = {(i["type"], i["id"]): i["valid"] for i in validation["validation"]["items"]}
    for kind, attr, item in (("spec", "spec", "notes"), ("change", "change", "add-export")):
        badge = page.get_attribute(f'[data-{attr}="{item}"] .badge[data-valid]', "data-valid")
        assert badge == str(verdicts[(kind, item)]).lower(), f"{kind} {item}: page {badge}, API {verdicts}"


def failed_step(page):
    """The route of a step opens its panel; a failed attempt shows its error class."""
    run, step = FIXTURE["runs"]["failed"], FIXTURE["failed_step"]
    page.goto(f"{BASE}/#/runs/{run}/steps/{quote(step, safe='')}")
    page.wait_for_selector(f'#step-panel[data-step="{step}"][data-status="failed"]')
    wait_attr(page, "#run-header", "data-status", "failed")
    page.click('#step-panel button[data-tab="attempts"]')
    page.wait_for_selector("#step-attempts tr")
    attempts = page.inner_text("#step-attempts")
    assert "transient" in attempts, f"the attempt's error class is not shown: {attempts!r}"
    assert page.query_selector("button#approve") is None


def cached_step(page):
    """A step taken from the step cache says so on its node and in its panel."""
    run, source = FIXTURE["runs"]["cached"], FIXTURE["runs"]["done"]
    step = "quick/one"
    page.goto(f"{BASE}/#/runs/{run}/steps/{quote(step, safe='')}")
    page.wait_for_selector(f'#step-panel[data-step="{step}"][data-status="completed"]')
    page.wait_for_function(
        "(source) => document.querySelector('#step-meta').textContent"
        ".includes(`taken from the step cache: run ${source}, step quick/one`)",
        arg=source,
    )
    label = page.evaluate("(id) => window.pipelineDag.getElementById(id).data('label')", step)
    assert "cached" in label, f"the node of a cached step does not say so: {label!r}"


def color_schemes_and_sizes(session):
    page = session.page
    page.click('nav a[href="#/runs"]')
    page.wait_for_selector("table#runs tbody tr[data-run]")
    backgrounds = {}
    for scheme in ["light", "dark"]:
        page.emulate_media(color_scheme=scheme)
        page.wait_for_selector("table#runs tbody tr[data-run]", state="visible")
        backgrounds[scheme] = body_background(page)
        assert page.is_visible('nav a[href="#/runs"]')
    log(f"body backgrounds: {backgrounds}")
    assert backgrounds["light"] != backgrounds["dark"], (
        f"the page does not follow the colour scheme: {backgrounds}"
    )
    page.emulate_media(color_scheme="light")
    assert_fits(session, "#/runs", "table#runs tbody tr[data-run]", "runs")
    assert_fits(session, "#/tools", "table#tools tr[data-tool]", "tools")
    assert_fits(session, "#/specs", "#specs", "specs")


def scenario():
    with dashboard() as session:
        page = session.goto("#/runs")
        mark_page(page)
        runs_list(page)
        assert_no_horizontal_overflow(page, "runs at 1280x720")
        axe(page, "runs view")
        start_invalid(page)
        run = start_held(page)
        log(f"started {run} from the page")
        screenshot(page, "dashboard-runs")
        tools_view(session)
        specs_view(page)
        failed_step(page)
        cached_step(page)
        color_schemes_and_sizes(session)
        assert_not_reloaded(page)


if __name__ == "__main__":
    main(scenario)
