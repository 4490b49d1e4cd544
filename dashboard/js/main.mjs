// The dashboard's entry point: wires the dialogs, follows every run's journal
// (GET /api/events) for the views that list runs, and shows the view the hash route
// names (router.mjs). Views are objects with start() and destroy(); moving between a
// run and one of its steps keeps the run view and only opens or closes the step panel.

import { track } from "./connection.mjs";
import { setUpDialogs } from "./dialogs.mjs";
import { EventStream } from "./event-stream.mjs";
import { parseRoute } from "./router.mjs";
import { hideToast } from "./toast.mjs";
import { RunView } from "./views/run.mjs";
import { RunsView } from "./views/runs.mjs";
import { SpecsView } from "./views/specs.mjs";
import { ToolsView } from "./views/tools.mjs";

const main = /** @type {HTMLElement} */ (document.getElementById("view"));

/** Every run's journal, shared by the views that need it. Subscribers get each entry,
 * and the string "open" each time the stream (re)connects (entries may have been
 * missed before the first one was seen: re-read what you show). */
const live = (() => {
  const subscribers = new Set();
  const connection = track();
  new EventStream("/api/events", {
    onEvent: (e) => {
      for (const fn of subscribers) fn(e.data);
    },
    onState: connection.onState,
    onOpen: () => {
      for (const fn of subscribers) fn("open");
    },
  }).start();
  return {
    subscribe(fn) {
      subscribers.add(fn);
      return () => subscribers.delete(fn);
    },
  };
})();

let current = null;
let currentKey = "";

function show() {
  const route = parseRoute(location.hash);
  const key = route.view === "run" ? `run:${route.run}` : route.view;
  for (const link of document.querySelectorAll("nav a")) {
    const active = link.getAttribute("href") === `#/${route.view === "run" ? "runs" : route.view}`;
    if (active) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  // A run view opened as `latest` renames itself to the run's id.
  if (current instanceof RunView) currentKey = `run:${current.runId}`;
  if (key === currentKey && current) {
    if (route.view === "run") current.route(route.step);
    return;
  }
  const focusMain = currentKey !== "";
  current?.destroy();
  currentKey = key;
  document.body.dataset.view = route.view;
  if (route.view === "run") {
    document.title = `${route.run} · pipeline`;
    current = new RunView(main, route.run);
    current.start(route.step);
  } else if (route.view === "tools") {
    document.title = "Tools · pipeline";
    current = new ToolsView(main);
    current.start();
  } else if (route.view === "specs") {
    document.title = "OpenSpec · pipeline";
    current = new SpecsView(main);
    current.start();
  } else {
    document.title = "Runs · pipeline";
    current = new RunsView(main, live);
    current.start();
  }
  if (focusMain) main.focus({ preventScroll: true });
}

setUpDialogs();
// The skip link must not change the hash (that is the route): it moves the focus only.
document.querySelector(".skip-link").addEventListener("click", (e) => {
  e.preventDefault();
  main.focus();
});
document.getElementById("toast-close").addEventListener("click", hideToast);
window.addEventListener("hashchange", show);
show();
