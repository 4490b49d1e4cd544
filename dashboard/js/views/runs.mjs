// The runs list (#/runs): GET /api/runs, newest first, kept current by the journal of
// every run (GET /api/events): run-level entries re-read the list (debounced), step
// entries re-read it at most every 2 s so done/failed counts follow. Above it, the form
// that starts a run from one of the repository's workstream files: POST /api/validate
// first (its diagnostics listed with file, path and message), then POST /api/runs and
// on to the new run.

import { getJson, postJson, report, ApiError } from "../api.mjs";
import { h, replace } from "../dom.mjs";
import { basename, count, duration, elapsed, instant, tokens, usd } from "../format.mjs";
import { go, runHash } from "../router.mjs";
import { GLYPHS, statusLabel } from "../step-state.mjs";

const RUN_EVENTS = new Set(["run_started", "run_finished", "run_interrupted"]);
const PAGE = 50;

export class RunsView {
  /**
   * @param {HTMLElement} main `#view`
   * @param {{subscribe: (fn: (e: any) => void) => () => void}} live every run's events
   */
  constructor(main, live) {
    this.main = main;
    this.live = live;
    this.runs = [];
    this.more = false;
    this.timer = 0;
    this.ticker = 0;
    this.lastRead = 0;
    this.destroyed = false;
    this.unsubscribe = null;
  }

  start() {
    this.render();
    this.load();
    this.loadWorkstreams();
    this.unsubscribe = this.live.subscribe((e) => this.onEvent(e));
    this.ticker = window.setInterval(() => this.tickDurations(), 1000);
  }

  destroy() {
    this.destroyed = true;
    this.unsubscribe?.();
    clearTimeout(this.timer);
    clearInterval(this.ticker);
  }

  onEvent(e) {
    if (e === "open") return this.reload(0);
    if (RUN_EVENTS.has(e.event)) return this.reload(250);
    if (e.event === "step_completed" || e.event === "step_failed" || e.event === "step_skipped" || e.event === "approval_requested") {
      this.reload(Math.max(250, 2000 - (Date.now() - this.lastRead)));
    }
  }

  reload(delay) {
    if (this.timer) return;
    this.timer = window.setTimeout(() => {
      this.timer = 0;
      this.load();
    }, delay);
  }

  render() {
    const select = h("select", { id: "workstream-file", "aria-describedby": "start-help" },
      h("option", { value: "", text: "Loading…" }));
    replace(this.main,
      h("h1", { text: "Runs" }),
      h("form", { class: "start-run", "aria-labelledby": "start-title", onsubmit: (e) => { e.preventDefault(); this.startRun(); } },
        h("h2", { id: "start-title", text: "Start a run" }),
        h("div", { class: "field-row" },
          h("label", { for: "workstream-file", text: "Workstream file" }),
          select,
          h("button", { type: "submit", id: "start-run", class: "primary" }, "Validate and start")),
        h("p", { id: "start-help", class: "muted small", text: "The file is validated first; a valid one starts a run in the server." }),
        h("ul", { id: "start-errors", class: "errors", "aria-live": "polite" })),
      h("div", { class: "table-scroll" },
        h("table", { id: "runs", class: "runs" },
          h("caption", { class: "visually-hidden", text: "Runs, newest first" }),
          h("thead", {}, h("tr", {}, ["Status", "Run", "Workstreams", "Started", "Duration", "Steps done/failed/total", "Tokens", "Cost"]
            .map((c) => h("th", { scope: "col", text: c })))),
          h("tbody", {}, h("tr", {}, h("td", { colspan: "8", class: "muted", text: "Loading…" }))))),
      h("p", { class: "more" }, h("button", { type: "button", id: "more-runs", hidden: true, onclick: () => this.loadMore() }, "Older runs")));
  }

  async load() {
    this.lastRead = Date.now();
    try {
      const limit = Math.max(PAGE, this.runs.length);
      const runs = await getJson(`/api/runs?limit=${Math.min(limit, 500)}`);
      if (this.destroyed) return;
      this.runs = runs;
      this.more = runs.length >= Math.min(limit, 500);
      this.renderRows();
    } catch (e) {
      report(e);
    }
  }

  async loadMore() {
    const last = this.runs[this.runs.length - 1];
    if (!last) return;
    try {
      const older = await getJson(`/api/runs?limit=${PAGE}&before=${encodeURIComponent(last.run_id)}`);
      if (this.destroyed) return;
      this.runs = this.runs.concat(older);
      this.more = older.length >= PAGE;
      this.renderRows();
    } catch (e) {
      report(e);
    }
  }

  renderRows() {
    const tbody = this.main.querySelector("#runs tbody");
    if (this.runs.length === 0) {
      replace(tbody, h("tr", {}, h("td", { colspan: "8", class: "muted", text: "No run yet: start one above, or with `pipeline run`." })));
    } else {
      replace(tbody, this.runs.map((r) => this.row(r)));
    }
    this.main.querySelector("#more-runs").hidden = !this.more;
  }

  row(r) {
    const files = String(r.workstream ?? "").split("\n").filter(Boolean);
    const usage = r.usage ?? null;
    const s = r.steps ?? {};
    return h("tr", { dataset: { run: r.run_id, status: r.status } },
      h("td", {}, h("span", { class: `badge st-${r.status}` }, `${GLYPHS[r.status] ?? GLYPHS.running} ${statusLabel(r.status)}`),
        r.driver === "gone" ? h("span", { class: "warn small", title: "Its process stopped; resume it" }, " (stopped)") : null),
      h("td", {}, h("a", { href: runHash(r.run_id), class: "run-link", text: r.run_id })),
      h("td", { title: files.join("\n") }, files.map((f) => basename(f).replace(/\.json$/, "")).join(", ")),
      h("td", { text: instant(r.started_at) }),
      h("td", { class: "duration", dataset: { started: r.status === "running" ? r.started_at : "" } },
        r.duration_secs !== null && r.duration_secs !== undefined ? duration(r.duration_secs * 1000) : duration(elapsed(r.started_at))),
      h("td", { class: "num" }, `${s.completed ?? 0}/${s.failed ?? 0}/${s.total ?? 0}`),
      h("td", { class: "num", text: count(usage ? tokens(usage) : null) }),
      h("td", { class: "num", text: usd(usage?.cost_usd ?? null) }));
  }

  tickDurations() {
    for (const cell of this.main.querySelectorAll("#runs td.duration[data-started]")) {
      if (cell.dataset.started) cell.textContent = duration(elapsed(cell.dataset.started));
    }
  }

  async loadWorkstreams() {
    const select = /** @type {HTMLSelectElement} */ (this.main.querySelector("#workstream-file"));
    try {
      const doc = await getJson("/api/workstreams");
      if (this.destroyed) return;
      const files = doc.workstreams ?? [];
      replace(select, files.length === 0
        ? h("option", { value: "", text: `No workstream file in ${doc.directory}/` })
        : files.map((f) => h("option", { value: f.path, text: f.path })));
      if (doc.truncated) select.append(h("option", { value: "", disabled: true, text: "(more files not listed)" }));
    } catch (e) {
      replace(select, h("option", { value: "", text: "Could not list the workstream files" }));
      report(e);
    }
  }

  async startRun() {
    const select = /** @type {HTMLSelectElement} */ (this.main.querySelector("#workstream-file"));
    const button = /** @type {HTMLButtonElement} */ (this.main.querySelector("#start-run"));
    const errors = this.main.querySelector("#start-errors");
    const file = select.value;
    errors.replaceChildren();
    for (const note of this.main.querySelectorAll(".start-note")) note.remove();
    if (!file) return;
    button.disabled = true;
    try {
      const validation = await postJson("/api/validate", { workstreams: [file] });
      if (this.destroyed) return;
      if (!validation.valid) {
        this.showDiagnostics(file, validation.diagnostics ?? []);
        return;
      }
      const started = await postJson("/api/runs", { workstreams: [file] });
      go(runHash(started.run_id));
    } catch (e) {
      if (e instanceof ApiError && e.code === "invalid_workstreams") this.showDiagnostics(file, e.body?.error?.diagnostics ?? e.body?.diagnostics ?? []);
      report(e);
    } finally {
      button.disabled = false;
    }
  }

  showDiagnostics(file, diagnostics) {
    const errors = this.main.querySelector("#start-errors");
    // Errors stop the run; warnings and notes do not (they are counted after the list).
    const shown = diagnostics.filter((d) => d.severity === "error");
    const list = shown.length > 0 ? shown : diagnostics;
    const others = diagnostics.length - list.length;
    if (list.length === 0) {
      replace(errors, h("li", { text: `${file}: the file is not valid` }));
      return;
    }
    replace(errors, list.map((d) => {
      const where = d.file && d.file.endsWith(file) ? file : (d.file ?? file);
      const path = [d.location, d.step ? `step ${d.step}` : null].filter(Boolean).join(", ");
      return h("li", { class: d.severity === "warning" ? "warning" : "error" },
        h("code", { text: where }), path ? ` (${path})` : "", `: ${d.message}`,
        d.hint ? h("span", { class: "hint muted" }, ` — ${d.hint}`) : null);
    }));
    if (others > 0) {
      errors.after(h("p", { class: "muted small start-note", text: `and ${others} warning${others === 1 ? "" : "s"} (\`pipeline validate ${file}\` lists them)` }));
    }
    errors.querySelector("li")?.scrollIntoView({ block: "nearest" });
  }
}
