// The step panel (`#step-panel`): one step of a run in detail, opened by the route
// #/runs/<run>/steps/<step>. Tabs: definition (from the run's plan), attempts (with the
// error engine's diagnostics), log (any attempt, followed live while the step works),
// diff (the result commit), tests; the usage line sums tokens and cost. A step awaiting
// approval shows Approve and Reject (with a comment; rejecting asks first). The panel
// re-reads GET …/steps/{step} when the step's state changes.

import { getJson, postJson, report, request, stepPath, ApiError } from "../api.mjs";
import { confirmAction } from "../dialogs.mjs";
import { h, replace } from "../dom.mjs";
import { count, duration, instant, sumUsage, tokens, usd } from "../format.mjs";
import { ACTIVE, GLYPHS, statusLabel } from "../step-state.mjs";
import { parseDiff, renderDiff } from "./diff.mjs";
import { LogFollower } from "./log-follower.mjs";

const TABS = [
  ["definition", "Definition"],
  ["attempts", "Attempts"],
  ["log", "Log"],
  ["diff", "Diff"],
  ["tests", "Tests"],
];

export class StepPanel {
  /**
   * @param {HTMLElement} root the `<aside id="step-panel">`
   * @param {string} run the run id
   * @param {{step: (id: string) => any, planStep: (id: string) => any,
   *          close: () => void}} context what the run view knows
   */
  constructor(root, run, context) {
    this.root = root;
    this.run = run;
    this.context = context;
    this.stepId = null;
    this.tab = "log";
    this.detail = null;
    this.follower = null;
    this.logAttempt = null; // null: follow the latest attempt
    this.shownAttempt = null;
    this.diffFor = null;
    this.refreshTimer = 0;
    this.loadController = null;
  }

  /** Opens the panel on `stepId` (or keeps it open when it already shows it). */
  open(stepId) {
    if (this.stepId === stepId && !this.root.hidden) return;
    this.stopLog();
    this.stepId = stepId;
    this.detail = null;
    this.logAttempt = null;
    this.shownAttempt = null;
    this.diffFor = null;
    this.build();
    this.root.hidden = false;
    this.root.querySelector(".panel-close").focus({ preventScroll: true });
    this.load();
  }

  /** Closes the panel (the route goes back to the run). */
  close() {
    this.stopLog();
    clearTimeout(this.refreshTimer);
    this.loadController?.abort();
    this.stepId = null;
    this.root.hidden = true;
    this.root.removeAttribute("data-step");
    this.root.removeAttribute("data-status");
    this.root.replaceChildren();
  }

  get isOpen() {
    return this.stepId !== null;
  }

  /** The run view says the step's state changed: header and buttons follow at once,
   * the details shortly after (one read for a burst of events). */
  stepChanged(id) {
    if (id !== this.stepId) return;
    this.renderHeader();
    clearTimeout(this.refreshTimer);
    this.refreshTimer = window.setTimeout(() => this.load(), 300);
  }

  stopLog() {
    this.follower?.stop();
    this.follower = null;
  }

  /** The page's StepState of the open step. */
  state() {
    return this.context.step(this.stepId);
  }

  build() {
    const id = this.stepId;
    const tabs = h("div", { class: "tabs", role: "tablist", "aria-label": "Step details" },
      TABS.map(([key, label]) => h("button", {
        type: "button", role: "tab", id: `tab-${key}`, dataset: { tab: key },
        "aria-controls": `step-${key}`, onclick: () => this.select(key),
        onkeydown: (e) => this.tabKey(e, key),
      }, label)));
    const panes = TABS.map(([key]) => h("section", {
      id: `step-${key}`, class: "pane", role: "tabpanel", "aria-labelledby": `tab-${key}`, tabindex: "0",
    }));
    replace(this.root,
      h("div", { class: "panel-head" },
        h("h2", { id: "step-panel-title", class: "panel-title" }, h("span", { class: "badge", id: "step-badge" }), " ", h("span", { class: "step-name", text: id })),
        h("button", { type: "button", class: "panel-close", "aria-label": "Close the step panel", onclick: () => this.context.close() }, "✕")),
      h("p", { class: "step-meta", id: "step-meta" }),
      h("div", { id: "step-approval", class: "approval" }),
      h("p", { id: "step-usage", class: "usage" }),
      tabs,
      panes);
    this.root.dataset.step = id;
    this.root.setAttribute("aria-labelledby", "step-panel-title");
    this.renderHeader();
    this.select(this.tab);
  }

  tabKey(event, key) {
    const index = TABS.findIndex(([k]) => k === key);
    let next = null;
    if (event.key === "ArrowRight") next = TABS[(index + 1) % TABS.length][0];
    if (event.key === "ArrowLeft") next = TABS[(index + TABS.length - 1) % TABS.length][0];
    if (next) {
      event.preventDefault();
      this.select(next);
      this.root.querySelector(`button[data-tab="${next}"]`).focus();
    }
  }

  /** Shows the tab `key` and loads what it needs. */
  select(key) {
    this.tab = key;
    for (const button of this.root.querySelectorAll("button[data-tab]")) {
      const on = button.dataset.tab === key;
      button.setAttribute("aria-selected", String(on));
      button.tabIndex = on ? 0 : -1;
    }
    for (const [k] of TABS) {
      const pane = this.root.querySelector(`#step-${k}`);
      if (pane) pane.hidden = k !== key;
    }
    this.renderTab();
  }

  /** Status, badge, times and the approval controls from the page's StepState. */
  renderHeader() {
    const step = this.state();
    if (!step) return;
    this.root.dataset.status = step.status;
    const badge = this.root.querySelector("#step-badge");
    badge.className = `badge st-${step.status}`;
    badge.textContent = `${GLYPHS[step.status] ?? ""} ${statusLabel(step.status)}`;
    const meta = this.root.querySelector("#step-meta");
    replace(meta,
      `attempts ${step.attempts}`,
      step.tool ? ` · tool ${step.tool}` : "",
      step.started_at ? ` · started ${instant(step.started_at)}` : "",
      step.note ? ` · ${step.note}` : "",
      step.cached_from ? ` · taken from the step cache: run ${step.cached_from.run}, step ${step.cached_from.step}` : "",
      step.error && !ACTIVE.has(step.status) ? h("span", { class: "step-error" }, ` · ${step.error}`) : "");
    this.renderApproval(step);
  }

  renderApproval(step) {
    const box = this.root.querySelector("#step-approval");
    const awaiting = step.status === "awaiting_approval";
    if (!awaiting) {
      box.replaceChildren();
      box.hidden = true;
      return;
    }
    if (box.querySelector("#approve")) return;
    box.hidden = false;
    const comment = h("textarea", { id: "reject-comment", rows: "2", placeholder: "Why (required to reject; optional to approve)" });
    replace(box,
      h("p", { class: "approval-note" }, "This step's result awaits your decision; its dependents wait for it."),
      h("label", { for: "reject-comment", text: "Comment" }),
      comment,
      h("div", { class: "buttons" },
        h("button", { type: "button", id: "approve", class: "primary", onclick: () => this.decide("approve", comment) }, "Approve"),
        h("button", { type: "button", id: "reject", class: "danger", onclick: () => this.decide("reject", comment) }, "Reject…")));
  }

  async decide(verdict, textarea) {
    const comment = textarea.value.trim();
    const step = this.stepId;
    if (verdict === "reject") {
      if (!comment) {
        report(new Error("Write why you reject the step in the comment: its tool gets it as the fix prompt, or the step fails with it."));
        textarea.focus();
        return;
      }
      const ok = await confirmAction("Reject this step?",
        `Reject ${step}: with fix attempts left its tool runs again with your comment; otherwise the step fails and its dependents are skipped.`,
        "Reject");
      if (!ok) return;
    }
    const buttons = this.root.querySelectorAll("#approve, #reject");
    for (const b of buttons) b.disabled = true;
    try {
      const body = comment ? { comment } : {};
      const decision = await postJson(`${stepPath(this.run, step)}/${verdict}`, body);
      if (!decision.driver_live) {
        report(new Error(`Decision recorded; no process drives run ${this.run} now: resume the run to apply it.`));
      }
    } catch (e) {
      report(e);
    } finally {
      for (const b of buttons) b.disabled = false;
    }
  }

  /** Reads GET …/steps/{step} and redraws. */
  async load() {
    const id = this.stepId;
    if (id === null) return;
    this.loadController?.abort();
    this.loadController = new AbortController();
    try {
      const detail = await getJson(stepPath(this.run, id), { signal: this.loadController.signal });
      if (id !== this.stepId) return;
      this.detail = detail;
      this.renderUsage();
      this.renderTab();
    } catch (e) {
      report(e);
    }
  }

  renderUsage() {
    const usage = sumUsage((this.detail?.attempts ?? []).map((a) => a.usage));
    const el = this.root.querySelector("#step-usage");
    const t = tokens(usage);
    replace(el,
      h("span", {}, `tokens ${count(t)}`),
      usage.input_tokens !== null ? h("span", { class: "muted" }, ` (in ${count(usage.input_tokens)}, out ${count(usage.output_tokens)})`) : "",
      ` · cost ${usd(usage.cost_usd)}`);
  }

  renderTab() {
    if (this.stepId === null) return;
    const render = {
      definition: () => this.renderDefinition(),
      attempts: () => this.renderAttempts(),
      log: () => this.renderLog(),
      diff: () => this.renderDiffTab(),
      tests: () => this.renderTests(),
    }[this.tab];
    render?.();
  }

  renderDefinition() {
    const pane = this.root.querySelector("#step-definition");
    const def = this.context.planStep(this.stepId);
    const step = this.state();
    if (!def) {
      replace(pane, h("p", { class: "muted", text: "The run's workstream files no longer plan this step; its recorded state is shown above." }),
        step ? dl([["depends on", list(step.depends_on)]]) : null);
      return;
    }
    const tool = def.tool ? `tool ${def.tool}` : def.command !== undefined ? "shell command" : def.capability ? `capability ${def.capability}` : "acceptance tests";
    replace(pane, dl([
      ["workstream", def.workstream],
      ["tool", tool],
      def.command !== undefined ? ["command", h("pre", { class: "code", text: def.command })] : null,
      def.tasks ? ["tasks", list(def.tasks)] : null,
      def.prompt ? ["prompt", h("pre", { class: "code", text: def.prompt })] : null,
      ["depends on", list(def.depends_on)],
      ["files scope", list(def.files_scope)],
      ["acceptance tests", list(def.acceptance_tests, true)],
      ["isolation", def.isolation],
      def.conflict_group ? ["conflict group", def.conflict_group] : null,
      ["wave", String(def.wave)],
    ]));
  }

  renderAttempts() {
    const pane = this.root.querySelector("#step-attempts");
    if (!this.detail) return replace(pane, h("p", { class: "muted", text: "Loading…" }));
    const attempts = this.detail.attempts ?? [];
    const diagnostics = [];
    for (const record of this.detail.errors ?? []) {
      for (const d of record.report?.diagnostics ?? []) diagnostics.push(d);
    }
    replace(pane,
      attempts.length === 0 ? h("p", { class: "muted", text: "No attempt yet." }) : h("div", { class: "table-scroll" },
        h("table", { class: "attempts" },
          h("caption", { class: "visually-hidden", text: "Attempts" }),
          h("thead", {}, h("tr", {}, ["#", "tool", "outcome", "class", "exit", "duration", "started"].map((c) => h("th", { scope: "col", text: c })))),
          h("tbody", {}, attempts.map((a) => h("tr", { dataset: { attempt: String(a.attempt) } },
            h("td", { text: String(a.attempt) }),
            h("td", { text: a.tool ?? "—" }),
            h("td", { class: `outcome-${a.outcome ?? "running"}`, text: a.outcome ?? "running" }),
            h("td", { text: a.classified?.class ?? "—", title: a.classified?.summary ?? null }),
            h("td", { text: a.exit_code ?? "—" }),
            h("td", { text: duration(a.duration_ms) }),
            h("td", { text: instant(a.started_at) })))))),
      attempts.filter((a) => a.error || a.classified?.summary).map((a) =>
        h("p", { class: "attempt-error" }, h("strong", {}, `Attempt ${a.attempt}: `), a.classified?.summary ?? a.error)),
      diagnostics.length > 0 ? h("h3", { text: "Diagnostics" }) : null,
      diagnostics.length > 0 ? h("ul", { class: "diagnostics" }, diagnostics.map((d) =>
        h("li", {}, h("code", {}, `${d.file ?? "?"}${d.line ? `:${d.line}` : ""}${d.column ? `:${d.column}` : ""}`), " ",
          d.code ? h("span", { class: "muted" }, `${d.code} `) : null, d.message))) : null);
  }

  renderLog() {
    const pane = this.root.querySelector("#step-log");
    const step = this.state();
    const attempts = Math.max(step?.attempts ?? 0, this.detail?.attempts?.length ?? 0);
    if (!pane.querySelector("pre")) {
      const select = h("select", { id: "log-attempt", onchange: () => {
        this.logAttempt = select.value === "latest" ? null : Number(select.value);
        this.startLog();
      } });
      replace(pane,
        h("div", { class: "log-bar" }, h("label", { for: "log-attempt", text: "Attempt" }), select,
          h("span", { class: "log-state muted", "aria-live": "polite" })),
        h("pre", { class: "log", tabindex: "0", "aria-label": "Log" }));
    }
    const select = /** @type {HTMLSelectElement} */ (pane.querySelector("#log-attempt"));
    const want = this.logAttempt === null ? "latest" : String(this.logAttempt);
    const options = [["latest", "latest"], ...Array.from({ length: attempts }, (_, i) => [String(i + 1), `#${i + 1}`])];
    if (select.options.length !== options.length) {
      replace(select, options.map(([value, label]) => h("option", { value, text: label })));
    }
    select.value = want;
    if (attempts === 0) {
      this.stopLog();
      const pre = pane.querySelector("pre");
      pre.textContent = "";
      pre.dataset.empty = "no attempt yet";
      return;
    }
    // Follow the latest attempt: a new attempt replaces the one shown.
    const target = this.logAttempt ?? attempts;
    if (!this.follower || this.shownAttempt !== target) this.startLog();
    else this.follower.poke();
  }

  startLog() {
    this.stopLog();
    const pre = this.root.querySelector("#step-log pre");
    const step = this.state();
    const attempts = Math.max(step?.attempts ?? 0, this.detail?.attempts?.length ?? 0);
    this.shownAttempt = this.logAttempt ?? attempts;
    const isLatest = this.shownAttempt === attempts;
    this.follower = new LogFollower(
      `${stepPath(this.run, this.stepId)}/logs`,
      this.shownAttempt,
      pre,
      () => isLatest && ACTIVE.has(this.state()?.status),
      () => {},
    ).start();
  }

  async renderDiffTab() {
    const pane = this.root.querySelector("#step-diff");
    const step = this.state();
    const commit = step?.commit ?? this.detail?.checkpoint?.commit ?? null;
    if (!commit) {
      this.diffFor = null;
      replace(pane, h("p", { class: "muted", text: "No result yet: the diff shows once the step has committed its result." }));
      return;
    }
    if (this.diffFor === commit) return;
    this.diffFor = commit;
    replace(pane, h("p", { class: "muted", text: "Loading the diff…" }));
    try {
      const response = await request(`${stepPath(this.run, this.stepId)}/diff`, { accept: [404] });
      if (response.status === 404) {
        const body = await response.json().catch(() => null);
        const code = body?.error?.code;
        if (code !== "no_result") throw new ApiError(404, code ?? "not_found", body?.error?.message ?? "not found", body);
        replace(pane, h("p", { class: "muted", text: "No result yet." }));
        this.diffFor = null;
        return;
      }
      const text = await response.text();
      if (this.diffFor !== commit) return;
      const from = response.headers.get("X-Pipeline-From");
      const to = response.headers.get("X-Pipeline-To");
      replace(pane,
        from && to ? h("p", { class: "muted diff-range" }, h("code", {}, from.slice(0, 10)), " → ", h("code", {}, to.slice(0, 10))) : null,
        renderDiff(parseDiff(text)));
    } catch (e) {
      this.diffFor = null;
      replace(pane, h("p", { class: "muted", text: "The diff could not be read." }));
      report(e);
    }
  }

  renderTests() {
    const pane = this.root.querySelector("#step-tests");
    const tests = this.detail?.step?.tests ?? [];
    if (!this.detail) return replace(pane, h("p", { class: "muted", text: "Loading…" }));
    if (tests.length === 0) {
      const planned = this.context.planStep(this.stepId)?.acceptance_tests ?? [];
      return replace(pane, h("p", { class: "muted", text: planned.length ? "No test has run yet." : "This step has no acceptance tests." }));
    }
    replace(pane, h("div", { class: "table-scroll" }, h("table", { class: "tests" },
      h("caption", { class: "visually-hidden", text: "Acceptance tests" }),
      h("thead", {}, h("tr", {}, ["result", "test", "attempt", "duration", "outcome"].map((c) => h("th", { scope: "col", text: c })))),
      h("tbody", {}, tests.map((t) => h("tr", { class: t.passed ? "passed" : "failed", dataset: { passed: String(t.passed) } },
        h("td", { class: t.passed ? "pass" : "fail", text: t.passed ? "✔ pass" : "✖ fail" }),
        h("td", {}, h("span", { text: t.name }), t.name !== t.command ? h("code", { class: "test-command", text: t.command }) : null),
        h("td", { text: String(t.attempt) }),
        h("td", { text: duration(t.duration_ms) }),
        h("td", { text: t.outcome ?? "" })))))));
  }
}

function list(items, code = false) {
  if (!items || items.length === 0) return h("span", { class: "muted", text: "none" });
  return h("ul", { class: "plain" }, items.map((i) => h("li", {}, code ? h("code", { text: i }) : i)));
}

function dl(rows) {
  return h("dl", { class: "definition" }, rows.filter(Boolean).map(([k, v]) => [h("dt", { text: k }), h("dd", {}, v)]));
}
