// A fast left-to-right layered layout for big DAGs, used instead of dagre above
// dagre-big steps: dagre's crossing minimisation takes many seconds for 1,000 steps,
// this takes milliseconds. Same idea, less work: each step's rank is its longest
// distance from a root (the plan's waves), steps within a rank are ordered by the
// barycentre of their neighbours in the previous, then the next rank (four sweeps), and
// placed in a column; columns are centred vertically. O(sweeps × (steps + edges)).

/**
 * @param {string[]} ids
 * @param {{from: string, to: string}[]} edges dependency first
 * @param {{width: number, height: number, rankSep: number, nodeSep: number}} size
 * @returns {Map<string, {x: number, y: number}>} node centres
 */
export function layeredPositions(ids, edges, size) {
  const preds = new Map(ids.map((id) => [id, []]));
  const succs = new Map(ids.map((id) => [id, []]));
  const indegree = new Map(ids.map((id) => [id, 0]));
  for (const { from, to } of edges) {
    if (!preds.has(from) || !preds.has(to)) continue;
    preds.get(to).push(from);
    succs.get(from).push(to);
    indegree.set(to, indegree.get(to) + 1);
  }
  const rank = new Map();
  const queue = ids.filter((id) => indegree.get(id) === 0);
  for (const id of queue) rank.set(id, 0);
  for (let i = 0; i < queue.length; i++) {
    const id = queue[i];
    for (const next of succs.get(id)) {
      rank.set(next, Math.max(rank.get(next) ?? 0, rank.get(id) + 1));
      indegree.set(next, indegree.get(next) - 1);
      if (indegree.get(next) === 0) queue.push(next);
    }
  }
  // Steps on a cycle (the API never gives one) go to the last column rather than vanish.
  const last = Math.max(0, ...rank.values());
  for (const id of ids) if (!rank.has(id)) rank.set(id, last + 1);
  const columns = [];
  for (const id of ids) {
    const r = rank.get(id);
    (columns[r] ??= []).push(id);
  }
  const index = new Map();
  const renumber = (column) => column.forEach((id, i) => index.set(id, i));
  columns.forEach((c) => c && renumber(c));
  const sweep = (column, neighbours) => {
    const key = new Map(column.map((id) => {
      const ns = neighbours.get(id).filter((n) => index.has(n));
      const bary = ns.length === 0 ? index.get(id) : ns.reduce((a, n) => a + index.get(n), 0) / ns.length;
      return [id, bary];
    }));
    column.sort((a, b) => key.get(a) - key.get(b));
    renumber(column);
  };
  for (let pass = 0; pass < 4; pass++) {
    if (pass % 2 === 0) for (let r = 1; r < columns.length; r++) columns[r] && sweep(columns[r], preds);
    else for (let r = columns.length - 2; r >= 0; r--) columns[r] && sweep(columns[r], succs);
  }
  const positions = new Map();
  const rowStep = size.height + size.nodeSep;
  const tallest = Math.max(...columns.map((c) => (c ? c.length : 0)));
  columns.forEach((column, r) => {
    if (!column) return;
    const offset = ((tallest - column.length) * rowStep) / 2;
    column.forEach((id, i) => {
      positions.set(id, { x: r * (size.width + size.rankSep), y: offset + i * rowStep });
    });
  });
  return positions;
}
