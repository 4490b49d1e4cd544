// The OpenSpec view (#/specs): the project's specs and active change proposals
// (GET /api/specs?kind=specs and ?kind=changes, the `pipeline spec list --json`
// documents): each spec with its requirement count, each change with its status and
// task progress. A repository without an openspec/ directory says so.

import { getJson, report, ApiError } from "../api.mjs";
import { h, replace } from "../dom.mjs";
import { instant } from "../format.mjs";

export class SpecsView {
  constructor(main) {
    this.main = main;
    this.destroyed = false;
  }

  start() {
    replace(this.main,
      h("h1", { text: "OpenSpec" }),
      h("section", { "aria-labelledby": "specs-title" },
        h("h2", { id: "specs-title", text: "Specs" }),
        h("ul", { id: "specs", class: "cards" }, h("li", { class: "muted", text: "Loading…" }))),
      h("section", { "aria-labelledby": "changes-title" },
        h("h2", { id: "changes-title", text: "Active changes" }),
        h("ul", { id: "changes", class: "cards" }, h("li", { class: "muted", text: "Loading…" }))));
    this.load();
  }

  destroy() {
    this.destroyed = true;
  }

  async load() {
    const specsList = this.main.querySelector("#specs");
    const changesList = this.main.querySelector("#changes");
    try {
      const [specs, changes] = await Promise.all([
        getJson("/api/specs?kind=specs"),
        getJson("/api/specs?kind=changes"),
      ]);
      if (this.destroyed) return;
      const s = specs.specs ?? [];
      const c = changes.changes ?? [];
      replace(specsList, s.length === 0 ? h("li", { class: "muted", text: "No spec yet." }) : s.map((spec) =>
        h("li", { dataset: { spec: spec.id } },
          h("strong", { text: spec.id }),
          h("span", { class: "muted" }, ` · ${spec.requirementCount ?? 0} requirement${spec.requirementCount === 1 ? "" : "s"}`))));
      replace(changesList, c.length === 0 ? h("li", { class: "muted", text: "No active change." }) : c.map((change) => {
        const done = change.completedTasks ?? 0;
        const total = change.totalTasks ?? 0;
        return h("li", { dataset: { change: change.name, status: change.status ?? "" } },
          h("strong", { text: change.name }),
          h("span", { class: `badge change-${change.status ?? "unknown"}` }, String(change.status ?? "unknown").replaceAll("-", " ")),
          h("span", { class: "tasks" }, `tasks ${done}/${total}`),
          h("progress", { max: String(Math.max(total, 1)), value: String(done), "aria-label": `${change.name}: ${done} of ${total} tasks done` }),
          change.lastModified ? h("span", { class: "muted small" }, ` · changed ${instant(change.lastModified)}`) : null);
      }));
    } catch (e) {
      if (this.destroyed) return;
      if (e instanceof ApiError && e.code === "no_openspec") {
        const note = h("li", { class: "muted", text: "No OpenSpec project in this repository (no openspec/ directory)." });
        replace(specsList, note);
        replace(changesList, note.cloneNode(true));
        return;
      }
      report(e);
    }
  }
}
