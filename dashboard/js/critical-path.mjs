// The critical path of a run's DAG: the chain of dependent steps that takes longest.
// A step weighs its duration in milliseconds where it is known (finished, or elapsed so
// far while it runs); a step without one weighs the mean of the known durations, and
// when no duration is known at all every step weighs 1, so the path is the longest by
// step count (as `pipeline plan` computes it). Ties keep the first path found in
// topological order. O(steps + edges).

/**
 * @param {string[]} ids the steps
 * @param {{from: string, to: string}[]} edges dependency first
 * @param {(id: string) => number|null} durationOf milliseconds, or null when unknown
 * @returns {{steps: Set<string>, edges: Set<string>}} edges as "from\u0000to"
 */
export function criticalPath(ids, edges, durationOf) {
  const known = ids.map(durationOf).filter((d) => typeof d === "number" && d >= 0);
  const fallback = known.length > 0 ? known.reduce((a, b) => a + b, 0) / known.length : 1;
  const weight = new Map(ids.map((id) => {
    const d = durationOf(id);
    return [id, typeof d === "number" && d >= 0 ? Math.max(d, 1) : fallback];
  }));
  const out = new Map(ids.map((id) => [id, []]));
  const indegree = new Map(ids.map((id) => [id, 0]));
  for (const { from, to } of edges) {
    if (!out.has(from) || !out.has(to)) continue;
    out.get(from).push(to);
    indegree.set(to, indegree.get(to) + 1);
  }
  // Kahn's order; `best` is the heaviest chain ending at each step, `prev` its predecessor.
  const queue = ids.filter((id) => indegree.get(id) === 0);
  const best = new Map(queue.map((id) => [id, weight.get(id)]));
  const prev = new Map();
  for (let i = 0; i < queue.length; i++) {
    const id = queue[i];
    for (const next of out.get(id)) {
      const through = best.get(id) + weight.get(next);
      if (!best.has(next) || through > best.get(next)) {
        best.set(next, through);
        prev.set(next, id);
      }
      indegree.set(next, indegree.get(next) - 1);
      if (indegree.get(next) === 0) queue.push(next);
    }
  }
  let end = null;
  for (const id of queue) {
    if (end === null || best.get(id) > best.get(end)) end = id;
  }
  const steps = new Set();
  const pathEdges = new Set();
  for (let id = end; id !== null && id !== undefined; id = prev.get(id)) {
    steps.add(id);
    const p = prev.get(id);
    if (p !== undefined) pathEdges.add(`${p}\u0000${id}`);
  }
  return { steps, edges: pathEdges };
}
