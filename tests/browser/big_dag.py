"""A 1,000-step run's DAG renders, is laid out in under 2 s, and stays usable: zoom,
search a step by id.

Fixture (tests/e2e/dashboard.rs, `browser_renders_a_1000_step_dag_within_the_limit`): the
finished run `run` of 1,000 steps in 20 layers of 50 (each step after two of the layer
before).
"""

from harness import (
    FIXTURE,
    api,
    dag_graph,
    dashboard,
    log,
    main,
    node_data,
    open_step_panel,
    wait_dag,
)

RUN = FIXTURE["run"]
LIMIT_MS = 2000


def scenario():
    plan = api(f"/api/runs/{RUN}/plan")
    steps = {s["id"] for s in plan["steps"]}
    edges = {(e["from"], e["to"]) for e in plan["edges"]}
    assert len(steps) == 1000, len(steps)
    with dashboard() as session:
        page = session.goto(f"#/runs/{RUN}")
        nodes, edge_count, layout_ms = wait_dag(page, 1000, timeout=60_000)
        log(f"1,000-step DAG: {nodes} nodes, {edge_count} edges, layout {layout_ms:.0f} ms")
        assert layout_ms < LIMIT_MS, f"layout took {layout_ms} ms (limit {LIMIT_MS})"
        drawn_nodes, drawn_edges, _ = dag_graph(page)
        assert drawn_nodes == steps
        assert drawn_edges == edges, f"{len(drawn_edges)} edges drawn, {len(edges)} planned"
        assert edge_count == len(edges)
        target = sorted(steps)[-1]
        assert node_data(page, target, "status") == "completed"

        # Zoom with the mouse wheel over the graph.
        before = page.evaluate("() => window.pipelineDag.zoom()")
        box = page.query_selector("#dag").bounding_box()
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.mouse.wheel(0, -400)
        page.wait_for_function("(z) => window.pipelineDag.zoom() !== z", arg=before)

        # Search by id: selects, centres and opens the step.
        page.fill("input#step-search", target)
        page.press("input#step-search", "Enter")
        open_step_panel(page, target)
        selected = page.evaluate("() => window.pipelineDag.$(':selected').map((n) => n.id())")
        assert selected == [target], selected
        centred = page.evaluate(
            """(id) => {
                const cy = window.pipelineDag;
                const p = cy.getElementById(id).renderedPosition();
                return p.x >= 0 && p.y >= 0 && p.x <= cy.width() && p.y <= cy.height();
            }""",
            target,
        )
        assert centred, f"{target} is not in view after the search"
        assert page.query_selector_all("ul#step-list li[data-step]").__len__() == 1000


if __name__ == "__main__":
    main(scenario)
