// The run's DAG drawn with cytoscape.js and the dagre layout, left to right.
//
// Nodes are steps (id = step id; data `status`, `attempts`, `tool`, `label`), edges are
// dependencies (dependency first). Colours come from the page's CSS variables
// (`--st-<status>-bg`, `--st-<status>-line`, app.css) so both colour schemes apply, and
// the stylesheet is rebuilt when the system scheme changes. A status change updates
// node data in place (with a short flash when it is live news); only added steps cause
// a new layout.
//
// Big graphs are kept fast: dagre ranks with `longest-path` instead of network simplex
// above SIMPLEX_MAX steps, and above DAGRE_MAX steps layered-layout.mjs places the
// nodes instead of dagre (whose ordering phase takes many seconds for 1,000 steps);
// above BIG, straight "haystack" edges, labels hidden when zoomed out, and a texture
// drawn while panning or zooming. `#dag` carries `data-nodes`,
// `data-edges` and `data-layout-ms` (the last layout's duration) once laid out, and
// `window.pipelineDag` is the cytoscape instance.

import cytoscape from "/ui/vendor/cytoscape.esm.min.mjs";
import dagre from "/ui/vendor/cytoscape-dagre.min.mjs";
import { duration } from "../format.mjs";
import { layeredPositions } from "./layered-layout.mjs";
import { GLYPHS, STEP_STATUSES, statusLabel, stepElapsed, waitLeft, ACTIVE } from "../step-state.mjs";

cytoscape.use(dagre);

/** Above this many steps the graph uses the fast settings described above. */
const BIG = 300;
/** Up to this many steps dagre ranks with network simplex (tighter, slower). */
const SIMPLEX_MAX = 150;
/** Above this many steps layered-layout.mjs replaces dagre (too slow there). */
const DAGRE_MAX = 400;
const NODE = { width: 210, height: 46, rankSep: 60, nodeSep: 14 };

/** The label of a step's node: glyph and id, then tool, attempt count and time. */
export function nodeLabel(step, now = Date.now()) {
  const parts = [step.tool ?? "—", step.cached_from ? "cached" : `×${step.attempts}`];
  const left = waitLeft(step, now);
  if (left !== null) parts.push(`${duration(left)} left`);
  else {
    const ms = stepElapsed(step, now);
    if (ms !== null) parts.push(duration(ms));
  }
  return `${GLYPHS[step.status] ?? "?"} ${step.id}\n${statusLabel(step.status)} · ${parts.join(" · ")}`;
}

function cssVar(styles, name, fallback) {
  const value = styles.getPropertyValue(name).trim();
  return value || fallback;
}

/** The cytoscape stylesheet from the current CSS variables. */
function stylesheet(big) {
  const css = getComputedStyle(document.documentElement);
  const text = cssVar(css, "--fg", "#111");
  const edge = cssVar(css, "--dag-edge", "#888");
  const critical = cssVar(css, "--dag-critical", "#c2410c");
  const selected = cssVar(css, "--focus", "#2563eb");
  const style = [
    {
      selector: "node",
      style: {
        shape: "round-rectangle",
        width: NODE.width,
        height: NODE.height,
        "background-color": cssVar(css, "--surface", "#fff"),
        "border-width": 2,
        "border-color": edge,
        label: "data(label)",
        color: text,
        "font-size": 11,
        "font-family": "system-ui, sans-serif",
        "text-wrap": "wrap",
        "text-max-width": 200,
        "text-valign": "center",
        "text-halign": "center",
        "min-zoomed-font-size": big ? 9 : 0,
      },
    },
    {
      selector: "edge",
      style: big
        ? { width: 1, "line-color": edge, "curve-style": "haystack", "haystack-radius": 0 }
        : {
            width: 1.5, "line-color": edge, "target-arrow-color": edge,
            "target-arrow-shape": "triangle", "curve-style": "bezier", "arrow-scale": 0.8,
          },
    },
    { selector: "edge.critical", style: { "line-color": critical, "target-arrow-color": critical, width: big ? 2 : 3 } },
    { selector: "node.critical", style: { "border-width": 4, "border-style": "double" } },
    { selector: "node:selected", style: { "overlay-color": selected, "overlay-opacity": 0.25, "overlay-padding": 6 } },
    { selector: "node.flash", style: { "overlay-color": selected, "overlay-opacity": 0.35, "overlay-padding": 10 } },
  ];
  for (const status of STEP_STATUSES) {
    style.push({
      selector: `node[status = "${status}"]`,
      style: {
        "background-color": cssVar(css, `--st-${status}-bg`, "#eee"),
        "border-color": cssVar(css, `--st-${status}-line`, "#888"),
      },
    });
  }
  if (!big) {
    style.push({
      selector: "node",
      style: { "transition-property": "background-color, border-color", "transition-duration": 400 },
    });
  }
  return style;
}

/**
 * Draws the DAG of `steps` (Map<id, StepState>) and `edges` in `container` (`#dag`).
 * `onSelect(id)` is called when a node is clicked or tapped.
 * @returns the controller used by the run view.
 */
export function createDag(container, steps, edges, onSelect) {
  const big = steps.size > BIG;
  // No flashes or animated panning for users who asked for reduced motion.
  const still = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  const elements = [];
  for (const step of steps.values()) elements.push(nodeElement(step));
  for (const e of edges) {
    if (steps.has(e.from) && steps.has(e.to)) elements.push(edgeElement(e));
  }
  const cy = cytoscape({
    container,
    elements,
    style: stylesheet(big),
    layout: { name: "preset" },
    minZoom: 0.02,
    maxZoom: 3,
    boxSelectionEnabled: false,
    autoungrabify: true,
    textureOnViewport: big,
    hideEdgesOnViewport: big,
    motionBlur: false,
    pixelRatio: big ? 1 : "auto",
  });
  window.pipelineDag = cy;
  cy.on("tap", "node", (event) => onSelect(event.target.id()));

  const scheme = window.matchMedia("(prefers-color-scheme: dark)");
  const restyle = () => cy.style(stylesheet(cy.nodes().length > BIG));
  scheme.addEventListener("change", restyle);

  function layout() {
    const count = cy.nodes().length;
    const t0 = performance.now();
    if (count > DAGRE_MAX) {
      const edgeList = cy.edges().map((e) => ({ from: e.source().id(), to: e.target().id() }));
      const positions = layeredPositions(cy.nodes().map((n) => n.id()), edgeList, NODE);
      cy.layout({ name: "preset", positions: (node) => positions.get(node.id()), fit: true, padding: 24, animate: false }).run();
    } else {
      cy.layout({
        name: "dagre",
        rankDir: "LR",
        ranker: count > SIMPLEX_MAX ? "longest-path" : "network-simplex",
        nodeSep: NODE.nodeSep,
        rankSep: NODE.rankSep,
        edgeSep: 6,
        animate: false,
        fit: true,
        padding: 24,
      }).run();
    }
    const ms = Math.round(performance.now() - t0);
    container.dataset.nodes = String(count);
    container.dataset.edges = String(cy.edges().length);
    container.dataset.layoutMs = String(ms);
  }
  layout();

  return {
    cy,
    /** Updates the node of `step` after a state change; `flash` marks live news. */
    update(step, flash) {
      const node = cy.getElementById(step.id);
      if (node.empty()) return;
      node.data({ status: step.status, attempts: step.attempts, tool: step.tool ?? "", label: nodeLabel(step) });
      if (flash && !big && !still) node.flashClass("flash", 700);
    },
    /** Adds steps (and their edges) the graph does not have yet, then lays it out again. */
    add(newSteps, allEdges) {
      cy.batch(() => {
        for (const step of newSteps) {
          if (cy.getElementById(step.id).empty()) cy.add(nodeElement(step));
        }
        for (const e of allEdges) {
          if (cy.getElementById(edgeId(e)).empty() && !cy.getElementById(e.from).empty() && !cy.getElementById(e.to).empty()) {
            cy.add(edgeElement(e));
          }
        }
      });
      layout();
    },
    /** Refreshes the labels of active steps (elapsed time and time left tick). */
    tick(allSteps) {
      const now = Date.now();
      cy.batch(() => {
        for (const step of allSteps.values()) {
          if (ACTIVE.has(step.status)) cy.getElementById(step.id).data("label", nodeLabel(step, now));
        }
      });
    },
    /** Marks the critical path ({steps, edges} of critical-path.mjs). */
    setCritical(path) {
      cy.batch(() => {
        cy.elements().removeClass("critical");
        for (const id of path.steps) cy.getElementById(id).addClass("critical");
        for (const key of path.edges) {
          const [from, to] = key.split("\u0000");
          cy.getElementById(edgeId({ from, to })).addClass("critical");
        }
      });
    },
    /** Selects a step's node and centres it in the part of the graph `coveredRight`
     * pixels (the step panel over its right side) leave visible. */
    focus(id, coveredRight = 0) {
      const node = cy.getElementById(id);
      if (node.empty()) return false;
      cy.nodes(":selected").unselect();
      node.select();
      const zoom = Math.max(cy.zoom(), 0.8);
      const visible = Math.max(cy.width() - coveredRight, cy.width() / 3);
      const p = node.position();
      const pan = { x: visible / 2 - p.x * zoom, y: cy.height() / 2 - p.y * zoom };
      if (big || still) cy.viewport({ zoom, pan });
      else cy.animate({ zoom, pan }, { duration: 250 });
      return true;
    },
    /** Unselects every node. */
    clearSelection() {
      cy.nodes(":selected").unselect();
    },
    /** Fits the whole graph in view. */
    fit() {
      cy.fit(undefined, 24);
    },
    destroy() {
      scheme.removeEventListener("change", restyle);
      if (window.pipelineDag === cy) window.pipelineDag = undefined;
      cy.destroy();
    },
  };
}

function edgeId(e) {
  return `${e.from}\u0000${e.to}`;
}

function nodeElement(step) {
  return {
    group: "nodes",
    data: { id: step.id, status: step.status, attempts: step.attempts, tool: step.tool ?? "", label: nodeLabel(step) },
  };
}

function edgeElement(e) {
  return { group: "edges", data: { id: edgeId(e), source: e.from, target: e.to } };
}
