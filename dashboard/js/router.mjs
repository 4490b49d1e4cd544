// Hash routes (the page is one document; the hash says what it shows):
//   #/runs                    the runs list (also the default)
//   #/runs/<run>              one run: its DAG and steps
//   #/runs/<run>/steps/<step> the run with a step's panel open (<step> percent-encoded)
//   #/tools, #/specs          the tools and the OpenSpec views
// Run and step ids are percent-encoded in the hash, so a step id's `/` is `%2F`.

/** @typedef {{view: "runs"} | {view: "run", run: string, step: string|null}
 *   | {view: "tools"} | {view: "specs"}} Route */

/**
 * Parses a location hash ("#/runs/R/steps/ws%2Fa") into a route; unknown hashes are the
 * runs list.
 * @param {string} hash
 * @returns {Route}
 */
export function parseRoute(hash) {
  const parts = hash.replace(/^#\/?/, "").split("/");
  const decode = (s) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  };
  if (parts[0] === "runs" && parts[1]) {
    const step = parts[2] === "steps" && parts.length > 3 ? decode(parts.slice(3).join("/")) : null;
    return { view: "run", run: decode(parts[1]), step };
  }
  if (parts[0] === "tools") return { view: "tools" };
  if (parts[0] === "specs") return { view: "specs" };
  return { view: "runs" };
}

/** The hash of a run, or of one of its steps when `step` is given. */
export function runHash(run, step = null) {
  const base = `#/runs/${encodeURIComponent(run)}`;
  return step === null ? base : `${base}/steps/${encodeURIComponent(step)}`;
}

/** Navigates to `hash` (a no-op when already there). */
export function go(hash) {
  if (location.hash !== hash) location.hash = hash;
}
