// A step's result as a unified diff (GET …/diff, `text/x-diff` as `git diff` writes it):
// parsed into files with their +/- counts and drawn line by line, each line classed
// `diff-add`, `diff-del`, `diff-hunk`, `diff-meta` or `diff-ctx` for colour.

import { h } from "../dom.mjs";

/** Lines drawn at most (a huge diff is cut, with a note; the counts stay complete). */
const MAX_LINES = 20_000;

/**
 * @typedef {{path: string, oldPath: string|null, added: number, deleted: number,
 *   binary: boolean, lines: {kind: string, text: string}[]}} DiffFile
 */

/**
 * Parses `git diff` output into files. A file starts at `diff --git a/X b/Y`; its path
 * is the `+++ b/` name (the `--- a/` one for a deletion, the header's for renames and
 * mode or binary changes).
 * @param {string} text
 * @returns {DiffFile[]}
 */
export function parseDiff(text) {
  const files = [];
  let file = null;
  let inHunk = false;
  for (const line of text.split("\n")) {
    if (line.startsWith("diff --git ")) {
      const match = /^diff --git a\/(.*) b\/(.*)$/.exec(line);
      file = {
        path: match ? match[2] : line.slice(11),
        oldPath: match ? match[1] : null,
        added: 0, deleted: 0, binary: false, lines: [{ kind: "meta", text: line }],
      };
      files.push(file);
      inHunk = false;
      continue;
    }
    if (!file) continue;
    if (!inHunk || line.startsWith("@@")) {
      if (line.startsWith("@@")) {
        inHunk = true;
        file.lines.push({ kind: "hunk", text: line });
        continue;
      }
      if (line.startsWith("+++ ")) {
        const name = line.slice(4);
        if (name !== "/dev/null") file.path = name.replace(/^b\//, "");
      } else if (line.startsWith("--- ")) {
        const name = line.slice(4);
        if (name !== "/dev/null") file.oldPath = name.replace(/^a\//, "");
      } else if (line.startsWith("Binary files ")) {
        file.binary = true;
      }
      if (line !== "") file.lines.push({ kind: "meta", text: line });
      continue;
    }
    if (line.startsWith("+")) {
      file.added += 1;
      file.lines.push({ kind: "add", text: line });
    } else if (line.startsWith("-")) {
      file.deleted += 1;
      file.lines.push({ kind: "del", text: line });
    } else if (line.startsWith("\\")) {
      file.lines.push({ kind: "meta", text: line });
    } else if (line !== "" || file.lines.length > 0) {
      file.lines.push({ kind: "ctx", text: line });
    }
  }
  for (const f of files) {
    while (f.lines.length > 0 && f.lines[f.lines.length - 1].kind === "ctx" && f.lines[f.lines.length - 1].text === "") {
      f.lines.pop();
    }
  }
  return files;
}

/** The elements showing `files`: a summary list, then one `.diff-file` per file. */
export function renderDiff(files) {
  if (files.length === 0) return [h("p", { class: "muted", text: "The result changes no file." })];
  const added = files.reduce((n, f) => n + f.added, 0);
  const deleted = files.reduce((n, f) => n + f.deleted, 0);
  const summary = h("div", { class: "diff-summary" },
    h("p", {}, `${files.length} file${files.length === 1 ? "" : "s"} changed, `,
      h("span", { class: "count-add", text: `+${added}` }), " ",
      h("span", { class: "count-del", text: `−${deleted}` })),
    h("ul", { class: "diff-files" }, files.map((f, i) =>
      h("li", {},
        h("a", { href: `#diff-file-${i}`, onclick: (e) => { e.preventDefault(); document.getElementById(`diff-file-${i}`)?.scrollIntoView({ block: "start" }); } }, f.path),
        " ", h("span", { class: "count-add", text: `+${f.added}` }),
        " ", h("span", { class: "count-del", text: `−${f.deleted}` })))));
  let budget = MAX_LINES;
  const blocks = files.map((f, i) => {
    const shown = f.lines.slice(0, Math.max(0, budget));
    budget -= shown.length;
    return h("section", { class: "diff-file", id: `diff-file-${i}`, dataset: { path: f.path } },
      h("h4", { class: "diff-file-name" }, f.oldPath && f.oldPath !== f.path ? `${f.oldPath} → ${f.path}` : f.path,
        " ", h("span", { class: "count-add", text: `+${f.added}` }),
        " ", h("span", { class: "count-del", text: `−${f.deleted}` })),
      h("div", { class: "diff-lines", role: "region", "aria-label": `diff of ${f.path}`, tabindex: "0" },
        shown.map((l) => h("div", { class: `diff-line diff-${l.kind}`, text: l.text || " " }))),
      shown.length < f.lines.length ? h("p", { class: "muted", text: `${f.lines.length - shown.length} more lines not shown` }) : null);
  });
  return [summary, ...blocks];
}
