// How times, durations, counts and money read on the page. Units: milliseconds in,
// text out; instants are RFC 3339 strings as the API gives them.

/** "1.2 s", "3 min 04 s", "2 h 05 min" for `ms` milliseconds; "—" when unknown. */
export function duration(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(ms) || ms < 0) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  const total = Math.floor(s);
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = total % 60;
  if (hours > 0) return `${hours} h ${String(minutes).padStart(2, "0")} min`;
  return `${minutes} min ${String(seconds).padStart(2, "0")} s`;
}

/** Milliseconds between two instants (`to` defaults to now); null when `from` is unknown. */
export function elapsed(from, to) {
  if (!from) return null;
  const start = Date.parse(from);
  const end = to ? Date.parse(to) : Date.now();
  if (Number.isNaN(start) || Number.isNaN(end)) return null;
  return Math.max(0, end - start);
}

/** A local date and time for an RFC 3339 instant ("—" when absent). */
export function instant(at) {
  if (!at) return "—";
  const d = new Date(at);
  if (Number.isNaN(d.getTime())) return String(at);
  return d.toLocaleString(undefined, {
    year: "numeric", month: "short", day: "numeric",
    hour: "2-digit", minute: "2-digit", second: "2-digit",
  });
}

/** "12,345" tokens, "—" when unknown. */
export function count(n) {
  return n === null || n === undefined ? "—" : Number(n).toLocaleString();
}

/** "$0.0123" for US dollars, "—" when unknown. */
export function usd(n) {
  if (n === null || n === undefined) return "—";
  return `$${Number(n).toFixed(n < 1 ? 4 : 2)}`;
}

/** The file name of a path ("workstreams/a.json" -> "a.json"). */
export function basename(path) {
  return String(path).split("/").filter(Boolean).pop() ?? String(path);
}

/** Sums AI usage records (`input_tokens`, `cached_input_tokens`, `output_tokens`,
 * `cost_usd`, each optional) into one; fields stay null when no record had them. */
export function sumUsage(records) {
  const total = { input_tokens: null, output_tokens: null, cached_input_tokens: null, cost_usd: null };
  for (const usage of records) {
    if (!usage) continue;
    for (const key of Object.keys(total)) {
      if (typeof usage[key] === "number") total[key] = (total[key] ?? 0) + usage[key];
    }
  }
  return total;
}

/** Total tokens (input + output) of a usage sum, null when neither is known. */
export function tokens(usage) {
  if (!usage || (usage.input_tokens === null && usage.output_tokens === null)) return null;
  return (usage.input_tokens ?? 0) + (usage.output_tokens ?? 0);
}
