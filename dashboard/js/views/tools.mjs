// The tools view (#/tools): every tool profile with its availability, version and
// circuit breaker (GET /api/tools and GET /api/breakers); an open or half-open breaker
// can be reset (closed) after confirmation: POST /api/breakers/{tool}/reset.

import { getJson, postJson, report } from "../api.mjs";
import { confirmAction } from "../dialogs.mjs";
import { h, replace } from "../dom.mjs";
import { instant } from "../format.mjs";

export class ToolsView {
  constructor(main) {
    this.main = main;
    this.destroyed = false;
  }

  start() {
    replace(this.main,
      h("h1", { text: "Tools" }),
      h("div", { class: "table-scroll" },
        h("table", { id: "tools", class: "tools" },
          h("caption", { class: "visually-hidden", text: "Tools, their availability and circuit breakers" }),
          h("thead", {}, h("tr", {}, ["Tool", "Kind", "Available", "Version", "Circuit breaker", "Action"].map((c) =>
            h("th", { scope: "col", text: c })))),
          h("tbody", {}, h("tr", {}, h("td", { colspan: "6", class: "muted", text: "Loading…" }))))));
    this.load();
  }

  destroy() {
    this.destroyed = true;
  }

  async load() {
    try {
      const [tools, breakers] = await Promise.all([getJson("/api/tools"), getJson("/api/breakers")]);
      if (this.destroyed) return;
      this.renderRows(tools, breakers.breakers ?? []);
    } catch (e) {
      report(e);
    }
  }

  renderRows(tools, breakers) {
    const byTool = new Map(breakers.map((b) => [b.tool, b]));
    const names = new Set(tools.map((t) => t.name));
    // A breaker of a tool no profile names any more is still shown, so it can be reset.
    const rows = tools.map((t) => ({ tool: t, breaker: byTool.get(t.name) ?? null }));
    for (const b of breakers) if (!names.has(b.tool)) rows.push({ tool: { name: b.tool }, breaker: b });
    replace(this.main.querySelector("#tools tbody"), rows.map(({ tool, breaker }) => {
      const state = breaker?.status ?? tool.breaker ?? "closed";
      const open = state !== "closed";
      return h("tr", { dataset: { tool: tool.name, breaker: state } },
        h("th", { scope: "row", text: tool.name }),
        h("td", { text: tool.profile?.kind ?? "—" }),
        h("td", {}, tool.found
          ? h("span", { class: "ok", title: tool.found }, `✔ ${tool.found}`)
          : h("span", { class: "bad" }, `✖ ${tool.error ?? "not found"}`)),
        h("td", { text: tool.version ?? "—" }),
        h("td", {},
          h("span", { class: `badge breaker-${state}` }, state.replaceAll("_", "-")),
          breaker && open ? h("span", { class: "muted small" },
            ` ${breaker.consecutive_failures} failures`,
            breaker.open_until ? `, until ${instant(breaker.open_until)}` : "",
            breaker.last_error ? ` — ${breaker.last_error}` : "") : null),
        h("td", {}, open ? h("button", {
          type: "button", class: "danger small-button", dataset: { resetBreaker: tool.name },
          onclick: () => this.reset(tool.name),
        }, "Reset…") : null));
    }));
  }

  async reset(tool) {
    const ok = await confirmAction("Reset this circuit breaker?",
      `Close the circuit breaker of ${tool}: steps use the tool again at once, even if it is still failing.`,
      "Reset breaker");
    if (!ok) return;
    try {
      await postJson(`/api/breakers/${encodeURIComponent(tool)}/reset`);
    } catch (e) {
      report(e);
    }
    if (!this.destroyed) this.load();
  }
}
