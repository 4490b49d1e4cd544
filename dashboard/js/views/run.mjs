// One run (#/runs/<run>): its header with cancel and resume, the DAG, the step list
// with search, and the step panel. The first picture comes from GET /api/runs/{run}
// (the status document) and GET /api/runs/{run}/plan (edges, definitions); the run's
// event stream (GET /api/runs/{run}/events, from the run's first entry) then moves it
// forward. Changes are applied to the model at once and drawn once per animation frame,
// so a burst of entries (the replay on connect, a wave of steps) costs one redraw.

import { getJson, postJson, report, runPath } from "../api.mjs";
import { track } from "../connection.mjs";
import { confirmAction } from "../dialogs.mjs";
import { h, replace } from "../dom.mjs";
import { EventStream } from "../event-stream.mjs";
import { count, duration, elapsed, instant, basename, sumUsage, tokens, usd } from "../format.mjs";
import { criticalPath } from "../critical-path.mjs";
import { go, runHash } from "../router.mjs";
import { ACTIVE, GLYPHS, applyEvent, applyHistory, snapshotInstant, statusLabel, stepElapsed, stepFromStatus } from "../step-state.mjs";
import { createDag } from "./dag.mjs";
import { StepPanel } from "./step-panel.mjs";

/** Entries recorded longer ago than this are history (the replay): no flash. */
const NEWS_MS = 10_000;

export class RunView {
  /**
   * @param {HTMLElement} main `#view`
   * @param {string} runId
   */
  constructor(main, runId) {
    this.main = main;
    this.runId = runId;
    this.model = { status: "running", finished_at: null, steps: new Map(), usage: new Map() };
    this.status = null; // the status document
    this.plan = null;
    this.edges = [];
    this.dag = null;
    this.stream = null;
    this.connection = null;
    this.pending = { steps: new Map(), added: false, run: false };
    this.frame = 0;
    this.ticker = 0;
    this.criticalTimer = 0;
    this.statusTimer = 0;
    this.destroyed = false;
    this.routeStep = null;
    this.snapshotAt = -Infinity;
    this.onKey = (e) => this.key(e);
  }

  /** Loads the run and draws the view; `step` is the step to open (or null). */
  async start(step) {
    this.routeStep = step;
    replace(this.main, h("p", { class: "muted", text: `Loading run ${this.runId}…` }));
    let status;
    try {
      [status, this.plan] = await Promise.all([
        getJson(runPath(this.runId)),
        getJson(`${runPath(this.runId)}/plan`).catch(() => null),
      ]);
    } catch (e) {
      if (this.destroyed) return;
      replace(this.main,
        h("h1", { text: `Run ${this.runId}` }),
        h("p", { class: "error-text", text: e.message }),
        h("p", {}, h("a", { href: "#/runs", text: "Back to the runs" })));
      report(e);
      return;
    }
    if (this.destroyed) return;
    if (status.run_id && status.run_id !== this.runId) {
      // `latest` (or another alias): show the run under its own id from now on.
      this.runId = status.run_id;
      history.replaceState(null, "", runHash(this.runId, step));
      document.title = `${this.runId} · pipeline`;
    }
    this.status = status;
    this.snapshotAt = snapshotInstant(status);
    this.model.status = status.status;
    this.model.finished_at = status.finished_at;
    for (const s of status.steps) this.model.steps.set(s.id, stepFromStatus(s));
    const planned = new Map((this.plan?.steps ?? []).map((s) => [s.id, s]));
    for (const step of this.model.steps.values()) {
      const def = planned.get(step.id);
      if (def) step.tool = def.tool ?? (def.command !== undefined ? "shell" : def.capability ?? null);
    }
    this.planned = planned;
    this.edges = this.edgesOf();
    this.render();
    this.dag = createDag(this.main.querySelector("#dag"), this.model.steps, this.edges, (id) => go(runHash(this.runId, id)));
    this.updateCritical();
    this.route(this.routeStep);
    document.addEventListener("keydown", this.onKey);
    this.ticker = window.setInterval(() => this.tick(), 1000);
    this.connection = track();
    this.stream = new EventStream(`${runPath(this.runId)}/events`, {
      onEvent: (e) => this.onEvent(e.data),
      onState: this.connection.onState,
      onOpen: () => this.refreshStatus(),
    }).start();
  }

  destroy() {
    this.destroyed = true;
    this.stream?.stop();
    this.connection?.untrack();
    cancelAnimationFrame(this.frame);
    clearInterval(this.ticker);
    clearTimeout(this.criticalTimer);
    clearTimeout(this.statusTimer);
    document.removeEventListener("keydown", this.onKey);
    this.panel?.close();
    this.dag?.destroy();
  }

  /** The plan's edges, plus those of steps the plan does not know (from `depends_on`). */
  edgesOf() {
    const edges = [];
    const seen = new Set();
    const add = (from, to) => {
      const key = `${from}\u0000${to}`;
      if (seen.has(key)) return;
      seen.add(key);
      edges.push({ from, to });
    };
    for (const e of this.plan?.edges ?? []) add(e.from, e.to);
    for (const step of this.model.steps.values()) {
      if (this.planned.has(step.id) && this.plan) continue;
      for (const d of step.depends_on) add(d, step.id);
    }
    return edges;
  }

  /** Routes #/runs/<run>[/steps/<step>]: opens or closes the step panel. */
  route(step) {
    this.routeStep = step;
    if (!this.dag) return;
    if (step === null) {
      if (this.panel.isOpen) {
        const id = this.panel.stepId;
        this.panel.close();
        this.dag.clearSelection();
        this.main.querySelector(`#step-list li[data-step="${CSS.escape(id)}"] button`)?.focus({ preventScroll: true });
      }
      return;
    }
    if (!this.model.steps.has(step)) {
      report(new Error(`run ${this.runId} has no step \`${step}\``));
      go(runHash(this.runId));
      return;
    }
    this.panel.open(step);
    const dagBox = this.main.querySelector("#dag").getBoundingClientRect();
    const panelBox = this.main.querySelector("#step-panel").getBoundingClientRect();
    this.dag.focus(step, Math.max(0, Math.min(dagBox.right - panelBox.left, dagBox.width)));
    for (const li of this.main.querySelectorAll("#step-list li[aria-current]")) li.removeAttribute("aria-current");
    const item = this.main.querySelector(`#step-list li[data-step="${CSS.escape(step)}"]`);
    item?.setAttribute("aria-current", "true");
    item?.scrollIntoView({ block: "nearest" });
  }

  key(event) {
    if (event.key !== "Escape" || document.querySelector("dialog[open]")) return;
    if (this.panel?.isOpen) {
      event.preventDefault();
      go(runHash(this.runId));
    }
  }

  render() {
    const search = h("input", {
      id: "step-search", type: "search", list: "step-ids", autocomplete: "off",
      placeholder: "step id, then Enter", "aria-describedby": "step-search-note",
      onkeydown: (e) => {
        if (e.key === "Enter") {
          e.preventDefault();
          this.search(search.value);
        }
      },
    });
    replace(this.main,
      h("div", { id: "run-header", class: "run-header" }),
      h("div", { class: "run-body" },
        h("section", { class: "steps-side", "aria-label": "Steps" },
          h("label", { for: "step-search", text: "Find a step" }),
          search,
          h("datalist", { id: "step-ids" }),
          h("p", { id: "step-search-note", class: "muted small", "aria-live": "polite" }),
          h("ul", { id: "step-list", class: "step-list" })),
        h("section", { class: "dag-wrap", "aria-label": "DAG of the run" },
          h("div", { class: "dag-bar" },
            h("button", { type: "button", class: "small-button", onclick: () => this.dag?.fit() }, "Fit"),
            h("span", { class: "legend muted small" }, "critical path: ", h("span", { class: "legend-critical", "aria-hidden": "true" }), " thick border and edges")),
          h("div", { id: "dag", class: "dag", role: "img", "aria-label": `DAG of run ${this.runId}; the step list gives every step` }))),
      h("aside", { id: "step-panel", class: "step-panel", hidden: true, "aria-label": "Step" }));
    this.panel = new StepPanel(this.main.querySelector("#step-panel"), this.runId, {
      step: (id) => this.model.steps.get(id),
      planStep: (id) => this.planned.get(id),
      close: () => go(runHash(this.runId)),
    });
    this.renderHeader();
    this.renderList();
  }

  renderHeader() {
    const header = this.main.querySelector("#run-header");
    const status = this.model.status;
    header.dataset.status = status;
    const steps = [...this.model.steps.values()];
    const by = (s) => steps.filter((x) => x.status === s).length;
    const usage = sumUsage(this.model.usage.values());
    const driver = this.status?.driver ?? null;
    const canCancel = status === "running" && driver === "live";
    const canResume = status === "interrupted" || status === "failed" || (status === "running" && driver === "gone");
    const files = (this.status?.workstream ?? "").split("\n").filter(Boolean);
    let cancel = header.querySelector("#cancel-run");
    let resume = header.querySelector("#resume-run");
    if (!cancel) {
      cancel = h("button", { type: "button", id: "cancel-run", class: "danger", onclick: () => this.cancel() }, "Cancel run…");
      resume = h("button", { type: "button", id: "resume-run", onclick: () => this.resume() }, "Resume run");
      replace(header,
        h("div", { class: "run-title" },
          h("h1", {}, h("span", { class: "visually-hidden", text: "Run " }), h("span", { class: "run-id", text: this.runId })),
          h("span", { id: "run-badge", class: "badge", role: "status", "aria-live": "polite" })),
        h("p", { id: "run-meta", class: "run-meta" }),
        h("div", { class: "buttons" }, cancel, resume));
    }
    const badge = header.querySelector("#run-badge");
    badge.className = `badge st-${status}`;
    badge.textContent = `${GLYPHS[status] ?? (status === "running" ? GLYPHS.running : "")} ${statusLabel(status)}`;
    const ms = this.model.finished_at && status !== "running"
      ? elapsed(this.status?.started_at, this.model.finished_at)
      : elapsed(this.status?.started_at);
    replace(header.querySelector("#run-meta"),
      h("span", {}, files.map(basename).join(", ") || "—"),
      ` · started ${instant(this.status?.started_at)}`,
      ` · ${duration(ms)}`,
      ` · ${by("completed")} done, ${by("failed")} failed, ${steps.length} steps`,
      ` · tokens ${count(tokens(usage))} · cost ${usd(usage.cost_usd)}`,
      driver === "gone" ? h("span", { class: "warn" }, " · its process stopped: resume it") : "");
    cancel.disabled = !canCancel;
    resume.disabled = !canResume;
    cancel.title = canCancel ? "Stop the run (its unfinished steps are recorded interrupted)" : "Only a running run driven by a live process can be cancelled";
    resume.title = canResume ? "Continue the run in this server" : "Only an interrupted or failed run can be resumed";
  }

  renderList() {
    const list = this.main.querySelector("#step-list");
    const datalist = this.main.querySelector("#step-ids");
    const ids = [...this.model.steps.keys()];
    replace(list, ids.map((id) => this.listItem(this.model.steps.get(id))));
    replace(datalist, ids.length <= 2000 ? ids.map((id) => h("option", { value: id })) : []);
  }

  listItem(step) {
    return h("li", { dataset: { step: step.id, status: step.status } },
      h("button", { type: "button", class: "step-button", onclick: () => go(runHash(this.runId, step.id)) },
        h("span", { class: `glyph st-${step.status}`, "aria-hidden": "true", text: GLYPHS[step.status] ?? "?" }),
        h("span", { class: "step-id", text: step.id }),
        h("span", { class: "step-status", text: statusLabel(step.status) })));
  }

  updateListItem(step) {
    const li = this.main.querySelector(`#step-list li[data-step="${CSS.escape(step.id)}"]`);
    if (!li) return;
    li.dataset.status = step.status;
    const glyph = li.querySelector(".glyph");
    glyph.className = `glyph st-${step.status}`;
    glyph.textContent = GLYPHS[step.status] ?? "?";
    li.querySelector(".step-status").textContent = statusLabel(step.status);
  }

  search(text) {
    const query = text.trim();
    const note = this.main.querySelector("#step-search-note");
    if (!query) return;
    const ids = [...this.model.steps.keys()];
    const lower = query.toLowerCase();
    let match = ids.find((id) => id === query);
    if (!match) {
      const candidates = ids.filter((id) => id.toLowerCase() === lower || id.toLowerCase().endsWith(`/${lower}`));
      const partial = candidates.length > 0 ? candidates : ids.filter((id) => id.toLowerCase().includes(lower));
      if (partial.length === 1) match = partial[0];
      else {
        note.textContent = partial.length === 0 ? `No step matches “${query}”.` : `${partial.length} steps match “${query}”; type more of the id.`;
        return;
      }
    }
    note.textContent = "";
    go(runHash(this.runId, match));
    this.route(match);
  }

  onEvent(e) {
    if (!e || (e.run_id && e.run_id !== this.runId)) return;
    // The stream starts at the run's first entry; the status document already shows
    // what entries up to its latest instant did (step_state.snapshotInstant).
    const change = Date.parse(e.at) <= this.snapshotAt ? applyHistory(this.model, e) : applyEvent(this.model, e);
    const news = Date.now() - Date.parse(e.at) < NEWS_MS;
    if (change.step) this.pending.steps.set(change.step, this.pending.steps.get(change.step) || news);
    if (change.added) this.pending.added = true;
    if (change.run) this.pending.run = true;
    if (!this.frame) this.frame = requestAnimationFrame(() => this.flush());
  }

  /** Draws what the entries since the last frame changed. */
  flush() {
    this.frame = 0;
    if (this.destroyed || !this.dag) return;
    const { steps, added, run } = this.pending;
    this.pending = { steps: new Map(), added: false, run: false };
    if (added) {
      this.edges = this.edgesOf();
      this.dag.add([...this.model.steps.values()], this.edges);
      this.renderList();
    }
    let finished = false;
    for (const [id, news] of steps) {
      const step = this.model.steps.get(id);
      if (!step) continue;
      this.dag.update(step, news);
      this.updateListItem(step);
      this.panel.stepChanged(id);
      if (!ACTIVE.has(step.status)) finished = true;
    }
    if (run) {
      clearTimeout(this.statusTimer);
      this.statusTimer = window.setTimeout(() => this.refreshStatus(), 300);
    }
    if (finished || added) {
      clearTimeout(this.criticalTimer);
      this.criticalTimer = window.setTimeout(() => this.updateCritical(), 500);
    }
    if (steps.size > 0 || run) this.renderHeader();
  }

  /** Re-reads the status document for what events do not carry (the driver). */
  async refreshStatus() {
    try {
      const status = await getJson(runPath(this.runId));
      if (this.destroyed) return;
      this.status = status;
      this.renderHeader();
    } catch (e) {
      report(e);
    }
  }

  updateCritical() {
    if (!this.dag) return;
    const path = criticalPath([...this.model.steps.keys()], this.edges, (id) => {
      const step = this.model.steps.get(id);
      return step ? stepElapsed(step) : null;
    });
    this.dag.setCritical(path);
  }

  tick() {
    this.dag?.tick(this.model.steps);
    if (this.model.status === "running") this.renderHeader();
  }

  async cancel() {
    const ok = await confirmAction("Cancel this run?",
      `Stop run ${this.runId}: its unfinished steps are recorded interrupted; it can be resumed later.`,
      "Cancel run");
    if (!ok) return;
    try {
      await postJson(`${runPath(this.runId)}/cancel`);
    } catch (e) {
      report(e);
    }
    this.refreshStatus();
  }

  async resume() {
    try {
      await postJson(`${runPath(this.runId)}/resume`);
    } catch (e) {
      report(e);
    }
    this.refreshStatus();
  }
}
