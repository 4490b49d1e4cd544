// A run as the page holds it, and how each journal entry changes it (docs/EVENTS.md,
// "status change" columns). The status document (GET /api/runs/{run}) gives the first
// picture; entries of the run's event stream then move it forward, exactly as
// pipeline's own replay does, so the page never reloads to stay current.

/** Every step status, in the order the legend shows them. */
export const STEP_STATUSES = [
  "pending", "running", "validating", "retrying", "waiting", "awaiting_approval",
  "completed", "failed", "skipped", "cancelled", "interrupted",
];

/** A text glyph per status (nodes, lists and badges show it next to the colour, so the
 * status does not depend on colour alone). All are in common fonts (DejaVu, system UI
 * fonts): no emoji, which a machine without an emoji font draws as empty boxes. */
export const GLYPHS = {
  pending: "○", running: "▶", validating: "◎", retrying: "↻", waiting: "◷",
  awaiting_approval: "⚑", completed: "✔", failed: "✖", skipped: "↷", cancelled: "⊘",
  interrupted: "■",
};

/** Statuses in which a step is doing (or about to do) work: its elapsed time ticks and
 * its log is followed. */
export const ACTIVE = new Set(["running", "validating", "retrying", "waiting"]);

/** "awaiting approval" for `awaiting_approval`. */
export function statusLabel(status) {
  return String(status).replaceAll("_", " ");
}

/**
 * @typedef {object} StepState
 * @property {string} id
 * @property {string} workstream
 * @property {string} status
 * @property {number} attempts
 * @property {string|null} tool       the tool of the latest attempt, or the planned one
 * @property {string|null} started_at RFC 3339
 * @property {string|null} finished_at
 * @property {string[]} depends_on
 * @property {string|null} commit
 * @property {string|null} error
 * @property {string|null} until      when a retry or wait ends (RFC 3339), when known
 * @property {string|null} note       why it waits, in words
 * @property {{run: string, step: string}|null} cached_from  the earlier run's step whose
 *           result the step took from the step cache (docs/CACHE.md)
 */

/** A StepState from an entry of the status document's `steps`. */
export function stepFromStatus(s) {
  return {
    id: s.id,
    workstream: s.workstream,
    status: s.status,
    attempts: s.attempts ?? 0,
    tool: null,
    started_at: s.started_at ?? null,
    finished_at: s.finished_at ?? null,
    depends_on: s.depends_on ?? [],
    commit: s.commit ?? null,
    error: s.error ?? null,
    until: null,
    note: null,
    cached_from: s.cached_from ?? null,
  };
}

/** A pending StepState for a `step_added` entry. */
function addedStep(e) {
  return {
    id: e.step, workstream: e.workstream ?? "", status: "pending", attempts: 0, tool: null,
    started_at: null, finished_at: null, depends_on: e.depends_on ?? [], commit: null,
    error: null, until: null, note: null, cached_from: null,
  };
}

/**
 * Applies one journal entry to `run` ({status, steps: Map<id, StepState>, usage: Map}).
 * Returns what changed: `step` (the id whose state changed, or null), `added` (a step
 * the page did not know: the DAG needs a new layout), `run` (the run's status changed).
 * Kinds and fields it does not know are ignored (docs/EVENTS.md, "Compatibility").
 */
export function applyEvent(run, e) {
  const result = { step: null, added: false, run: false };
  switch (e.event) {
    case "run_started":
      run.status = "running";
      result.run = true;
      return result;
    case "run_interrupted":
      run.status = "interrupted";
      result.run = true;
      return result;
    case "run_finished":
      run.status = e.status ?? run.status;
      run.finished_at = e.at;
      result.run = true;
      return result;
    default:
      break;
  }
  if (!e.step) return result;
  let step = run.steps.get(e.step);
  if (!step) {
    if (e.event !== "step_added") return result;
    step = addedStep(e);
    run.steps.set(step.id, step);
    result.added = true;
  }
  result.step = step.id;
  const set = (status) => {
    step.status = status;
    if (status !== "retrying" && status !== "waiting") {
      step.until = null;
      step.note = null;
    }
  };
  switch (e.event) {
    case "step_added":
      step.depends_on = e.depends_on ?? step.depends_on;
      break;
    case "step_reused":
      set("completed");
      step.commit = e.commit ?? step.commit;
      break;
    case "step_reset":
      set("pending");
      step.commit = null;
      step.finished_at = null;
      step.error = null;
      break;
    case "tool_selected":
      step.tool = e.tool ?? step.tool;
      break;
    case "step_waiting":
      set(e.wait === "backoff" ? "retrying" : "waiting");
      step.until = e.until ?? (e.delay_ms ? new Date(Date.parse(e.at) + e.delay_ms).toISOString() : null);
      step.note = e.reason ?? null;
      break;
    case "attempt_started":
      set("running");
      step.attempts = Math.max(step.attempts, e.attempt ?? 0);
      if (e.tool) step.tool = e.tool;
      if (!step.started_at) step.started_at = e.at;
      step.finished_at = null;
      break;
    case "test_started":
      set("validating");
      break;
    case "attempt_finished":
      if (e.usage) run.usage.set(`${step.id}#${e.attempt}`, e.usage);
      break;
    case "fix_requested":
    case "escalated":
      set("retrying");
      break;
    case "step_cached":
      step.cached_from = { run: e.from_run, step: e.from_step };
      break;
    case "step_completed":
      set("completed");
      step.commit = e.commit ?? step.commit;
      step.finished_at = e.at;
      break;
    case "approval_requested":
      set("awaiting_approval");
      step.commit = e.commit ?? step.commit;
      step.finished_at = e.at;
      break;
    case "step_failed":
      set("failed");
      step.error = e.error ?? step.error;
      step.finished_at = e.at;
      break;
    case "step_skipped":
      set("skipped");
      step.error = e.reason ?? step.error;
      break;
    case "step_interrupted":
      set("interrupted");
      step.finished_at = e.at;
      break;
    case "step_cancelled":
      set("cancelled");
      step.finished_at = e.at;
      break;
    default:
      result.step = null;
  }
  return result;
}

/**
 * Applies what an entry the status document already reflects still tells: AI usage,
 * the tool of an attempt, and when a current wait ends (the document has no such
 * field). Statuses are left alone, so replaying a run's history over its status
 * document does not show old states again.
 */
export function applyHistory(run, e) {
  const step = e.step ? run.steps.get(e.step) : null;
  if (!step) return { step: null, added: false, run: false };
  if (e.event === "attempt_finished" && e.usage) run.usage.set(`${step.id}#${e.attempt}`, e.usage);
  if ((e.event === "attempt_started" || e.event === "tool_selected") && e.tool) step.tool = e.tool;
  if (e.event === "step_waiting" && (step.status === "retrying" || step.status === "waiting")) {
    step.until = e.until ?? (e.delay_ms ? new Date(Date.parse(e.at) + e.delay_ms).toISOString() : null);
    step.note = e.reason ?? null;
  }
  return { step: step.id, added: false, run: false };
}

/** The latest instant a status document records (run and step starts and ends), in
 * milliseconds since the epoch. Every journal entry recorded at or before it was
 * committed before the document was read, so the document already reflects it. */
export function snapshotInstant(status) {
  let latest = -Infinity;
  const consider = (at) => {
    const t = at ? Date.parse(at) : NaN;
    if (!Number.isNaN(t) && t > latest) latest = t;
  };
  consider(status.started_at);
  consider(status.finished_at);
  for (const s of status.steps ?? []) {
    consider(s.started_at);
    consider(s.finished_at);
  }
  return latest;
}

/** Milliseconds the step has taken (ticking while it is active), or null. */
export function stepElapsed(step, now = Date.now()) {
  if (!step.started_at) return null;
  const start = Date.parse(step.started_at);
  const end = step.finished_at && !ACTIVE.has(step.status) ? Date.parse(step.finished_at) : now;
  return Number.isNaN(start) || Number.isNaN(end) ? null : Math.max(0, end - start);
}

/** Milliseconds left of a retry or wait, or null when unknown or not waiting. */
export function waitLeft(step, now = Date.now()) {
  if (!step.until || (step.status !== "retrying" && step.status !== "waiting")) return null;
  const until = Date.parse(step.until);
  return Number.isNaN(until) ? null : Math.max(0, until - now);
}
