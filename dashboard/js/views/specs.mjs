// The OpenSpec view (#/specs): the project's specs and active change proposals
// (GET /api/specs?kind=specs and ?kind=changes, the `pipeline spec list --json`
// documents), each with its validation status (GET /api/openspec: `pipeline spec
// validate --all --json`): each spec with its requirement count, each change with its
// status and task progress. A repository without an openspec/ directory says so (GET
// /api/openspec answers it without an error, so the console stays clean).

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
      const project = await getJson("/api/openspec");
      if (this.destroyed) return;
      if (!project.project) {
        const note = h("li", { class: "muted", text: "No OpenSpec project in this repository (no openspec/ directory)." });
        replace(specsList, note);
        replace(changesList, note.cloneNode(true));
        return;
      }
      const [specs, changes] = await Promise.all([
        getJson("/api/specs?kind=specs"),
        getJson("/api/specs?kind=changes"),
      ]);
      if (this.destroyed) return;
      const verdicts = new Map((project.validation?.items ?? []).map((item) => [`${item.type}/${item.id}`, item]));
      const verdict = (type, id) => validity(verdicts.get(`${type}/${id}`));
      const s = specs.specs ?? [];
      const c = changes.changes ?? [];
      replace(specsList, s.length === 0 ? h("li", { class: "muted", text: "No spec yet." }) : s.map((spec) =>
        h("li", { dataset: { spec: spec.id } },
          h("strong", { text: spec.id }),
          verdict("spec", spec.id),
          h("span", { class: "muted" }, ` · ${spec.requirementCount ?? 0} requirement${spec.requirementCount === 1 ? "" : "s"}`))));
      replace(changesList, c.length === 0 ? h("li", { class: "muted", text: "No active change." }) : c.map((change) => {
        const done = change.completedTasks ?? 0;
        const total = change.totalTasks ?? 0;
        return h("li", { dataset: { change: change.name, status: change.status ?? "" } },
          h("strong", { text: change.name }),
          verdict("change", change.name),
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

/** A badge saying whether an item validates (`valid`, or its error and warning counts,
 * the first issue in its title); nothing when the validation does not list it. */
function validity(item) {
  if (!item) return null;
  if (item.valid && item.issues.length === 0) {
    return h("span", { class: "badge valid", dataset: { valid: "true" } }, "✔ valid");
  }
  const errors = item.issues.filter((i) => i.level === "ERROR").length;
  const warnings = item.issues.length - errors;
  const parts = [];
  if (errors) parts.push(`${errors} error${errors === 1 ? "" : "s"}`);
  if (warnings) parts.push(`${warnings} warning${warnings === 1 ? "" : "s"}`);
  const first = item.issues[0];
  return h("span", {
    class: `badge ${item.valid ? "warned" : "invalid"}`,
    dataset: { valid: String(item.valid) },
    title: first ? `${first.path ? `${first.path}: ` : ""}${first.message}` : "",
  }, `${item.valid ? "⚠" : "✖"} ${parts.join(", ")}`);
}
