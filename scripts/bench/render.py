#!/usr/bin/env python3
"""Turns the bench results file (`key value` lines, a key repeated once per repetition)
into the summary table printed by scripts/bench.sh and, with --write FILE, into
docs/BENCHMARKS.md. The part of FILE from the line `<!-- analysis -->` on is hand-written
and kept as it is.

Usage: render.py RESULTS [--write docs/BENCHMARKS.md | --only SECTION]
"""

import argparse
import os
import statistics
import sys
import textwrap

MARKER = "<!-- analysis -->"
# Threshold chosen for "per-step isolation cost does not grow with repository size": at
# 10x the files the steady-state cost of a step (one-off per-run costs excluded) may be at
# most 1.5x (noise on a shared 2-core machine).
WT_GROWTH_LIMIT = 1.5


def fmt(x, digits=2):
    return "unknown" if x is None else f"{x:.{digits}f}"


def load(path):
    vals = {}
    for line in open(path, encoding="utf-8"):
        line = line.rstrip("\n")
        if not line.strip():
            continue
        key, _, value = line.partition(" ")
        vals.setdefault(key, []).append(value)
    return vals


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("results")
    p.add_argument("--write")
    p.add_argument("--only", choices=("noop", "worktrees", "plan", "resume", "memory", "large", "serve", "cache", "temporal"),
                   help="print the rows of this section only (not with --write)")
    a = p.parse_args()
    if a.only and a.write:
        p.error("--write needs all sections; it cannot be combined with --only")
    v = load(a.results)

    def one(key, default="unknown"):
        return v.get(key, [default])[-1]

    def num(key):
        try:
            return float(one(key))
        except ValueError:
            return None

    def med(key):
        xs = [x for x in nums(key)]
        return statistics.median(xs) if xs else None

    def nums(key):
        out = []
        for x in v.get(key, []):
            try:
                out.append(float(x))
            except ValueError:
                pass
        return out

    rows = []  # (measure, target, value, verdict)
    tags = []  # the section (a bench.sh --only name) of each row

    def tag(section):
        tags.extend([section] * (len(rows) - len(tags)))

    def verdict(ok):
        return "PASS" if ok else "MISS"

    # 1. no-op DAG vs ninja (and with --durability full, and the CPU beyond the spawn floor)
    nw, pw, fw = nums("s1.ninja.wall"), nums("s1.pipeline.wall"), nums("s1.full.wall")
    nc, pc, fc = nums("s1.ninja.cpu"), nums("s1.pipeline.cpu"), nums("s1.full.cpu")
    floor_c = nums("s1.floor.cpu")
    if nw and pw:
        mn, mp = statistics.median(nw), statistics.median(pw)
        ratio = mp / mn if mn > 0 else float("inf")
        rows.append((f"1,000 no-op steps, `run --jobs 2` vs `ninja -j2` (wall, median of {len(pw)})",
                     "<= 2x ninja", f"{mp:.2f} s vs {mn:.2f} s = **{ratio:.2f}x**", verdict(ratio <= 2.0)))
        if fw:
            mf = statistics.median(fw)
            fratio = mf / mn if mn > 0 else float("inf")
            rows.append((f"  same with `--durability full` (about one fsync per step; median of {len(fw)})",
                         "<= 2.5x ninja", f"{mf:.2f} s vs {mn:.2f} s = **{fratio:.2f}x**", verdict(fratio <= 2.5)))
        cn, cp = statistics.median(nc), statistics.median(pc)
        rows.append(("  same, CPU time (user+sys, incl. children)", "(info)",
                     f"{cp:.2f} s vs {cn:.2f} s = {cp / cn:.2f}x" if cn > 0 else "n/a", ""))
        if floor_c:
            # Run by run: each repetition's pipeline CPU minus the floor measured beside it.
            steps = 1000
            beyond = statistics.median(p - f for p, f in zip(pc, floor_c)) * 1000 / steps  # ms
            rows.append(("  pipeline CPU per step beyond the spawn floor (1,000 `sh -c true`, xargs -P2)",
                         "<= 0.5 ms", f"**{beyond:.2f} ms** (floor {statistics.median(floor_c):.2f} s CPU)",
                         verdict(beyond <= 0.5)))
    tag("noop")
    # 2. worktrees (medians over the repetitions). The target is the steady-state cost of a
    # step; wall / 100 also carries two one-off costs per run that grow with the tree (the
    # start-up's full checkout per job slot, the end's merge and worktree removal).
    s5, s0 = med("s2.5000.per_step_ms"), med("s2.500.per_step_ms")
    n = len(nums("s2.5000.per_step_ms"))
    if s5 and s0:
        rows.append((f"100 worktree steps --jobs 2: steady-state cost per step (first `attempt_started` -> "
                     f"last step done, / 100), median of {n}, 5,000 vs 500 files",
                     f"no growth (<= {WT_GROWTH_LIMIT}x)", f"{s5:.1f} ms vs {s0:.1f} ms = **{s5 / s0:.2f}x**",
                     verdict(s5 / s0 <= WT_GROWTH_LIMIT)))
    elif v.get("s2.5000.wall") or v.get("s2.500.wall"):
        rows.append(("100 worktree steps --jobs 2, steady-state cost per step, 5,000 vs 500 files",
                     f"no growth (<= {WT_GROWTH_LIMIT}x)", "unknown (no step events)", "MISS"))
    w5, w0 = med("s2.5000.wall"), med("s2.500.wall")
    if w5 and w0:
        p5, p0 = w5 / 100 * 1000, w0 / 100 * 1000
        rows.append(("  per step incl. the one-off costs (run wall / 100), 5,000 vs 500 files", "(info)",
                     f"{p5:.0f} ms vs {p0:.0f} ms = {p5 / p0:.2f}x (run wall {w5:.2f} s vs {w0:.2f} s)", ""))
    l5, l0 = med("s2.5000.latency_ms_p50"), med("s2.500.latency_ms_p50")
    if l5 and l0:
        rows.append(("  one step's latency, `attempt_started` -> `completed` (median), 5,000 vs 500 files", "(info)",
                     f"{l5:.1f} ms vs {l0:.1f} ms = {l5 / l0:.2f}x", ""))
    if s5 and s0:
        rows.append(("  one-off per run: start-up incl. one full checkout per job slot (2), 5,000 vs 500 files",
                     "(info)", f"{fmt(med('s2.5000.startup_s'))} s vs {fmt(med('s2.500.startup_s'))} s", ""))
        rows.append(("  one-off per run: end (result merge + removal of the 2 idle worktrees), 5,000 vs 500 files",
                     "(info)", f"{fmt(med('s2.5000.tail_s'))} s vs {fmt(med('s2.500.tail_s'))} s", ""))

    def single(label, desc):
        """An info row for a single run LABEL: steady state vs the 500-file median."""
        st, wall = med(f"s2.{label}.per_step_ms"), med(f"s2.{label}.wall")
        if st is None and wall is None:
            return
        parts = []
        if st is not None:
            parts.append(f"{st:.1f} ms" + (f" = {st / s0:.2f}x the 500-file median" if s0 else ""))
        if wall is not None:
            parts.append(f"run wall / 100 = {wall * 10:.0f} ms")
        parts.append(f"start-up {fmt(med(f's2.{label}.startup_s'))} s, end {fmt(med(f's2.{label}.tail_s'))} s")
        rows.append((f"  {desc}, 1 run: steady-state cost per step", "(info)", "; ".join(parts), ""))

    single("20000", "20,000 files (4x the 5,000)")
    single("5000packed", "5,000 files packed by `git gc`")
    refs = [(lbl, one(f"s2.{key}.git_worktree_add_remove", None))
            for key, lbl in (("5000", "5,000"), ("500", "500"), ("20000", "20,000"))]
    refs = [(lbl, t) for lbl, t in refs if t is not None]
    if refs:
        rows.append((f"  reference: one `git worktree add` + `remove` (full checkout + delete), "
                     f"{' / '.join(l for l, _ in refs)} files", "(info)",
                     " / ".join(f"{t} s" for _, t in refs), ""))
    tag("worktrees")
    # 3. plan
    best = num("s3.plan.best_ms")
    if best is not None:
        rows.append((f"`plan --format json`, 10,000 steps (best of 5, {one('s3.plan.method')})", "< 200 ms",
                     f"**{best:.0f} ms**" + (f" (mean {one('s3.plan.mean_ms')} ms)" if "s3.plan.mean_ms" in v else ""),
                     verdict(best < 200)))
    tag("plan")
    # 4. resume
    rs = num("s4.resume.step_started_s")
    if rs is not None:
        rows.append(("resume 10,000-step run, 1 step left: spawn -> its `attempt_started`", "< 1 s",
                     f"**{rs:.2f} s**", verdict(rs < 1.0)))
        rows.append(("  resume total wall", "(info)", f"{one('s4.resume.wall_s')} s "
                     f"({one('s4.resume.steps_started')} step started, {one('s4.resume.steps_reused')} kept)", ""))
        rows.append(("  spawn -> `run_started` (load, validate, plan, open state)", "(info)",
                     f"{one('s4.resume.run_started_s')} s", ""))
        rows.append(("  first -> last `step_reused` (checkpoint checks)", "(info)",
                     f"{one('s4.resume.reused_span_s')} s ({one('s4.resume.reused_us_each')} us per kept step)", ""))
    tag("resume")
    # 5. memory
    for key, label in (("s5.run.rss_kib", "peak RSS, `run` of 10,000 steps --jobs 2"),
                       ("s5.plan.rss_kib", "peak RSS, `plan` of 10,000 steps"),
                       ("s5.resume.rss_kib", "peak RSS, `resume` of the 10,000-step run")):
        kib = num(key)
        if kib is not None:
            mib = kib / 1024
            rows.append((label, "< 100 MiB", f"**{mib:.1f} MiB**", verdict(mib < 100)))
    if num("s5.run.wall") is not None:
        rows.append(("  10,000-step run wall / CPU (sink fails)", "(info)",
                     f"{one('s5.run.wall')} s / {one('s5.run.cpu')} s", ""))

    tag("memory")
    # 6. plan and validate of 100,000 steps
    for cmd in ("plan", "validate"):
        best, kib = num(f"s6.{cmd}.best_s"), num(f"s6.{cmd}.rss_kib")
        if best is not None:
            rows.append((f"`{cmd}` of 100,000 steps (best of 3)", "< 1 s", f"**{best:.2f} s**", verdict(best < 1.0)))
        if kib is not None:
            mib = kib / 1024
            rows.append((f"peak RSS, `{cmd}` of 100,000 steps", "< 150 MiB",
                         f"**{mib:.1f} MiB** ({kib * 1024 / 100000:.0f} bytes per step)", verdict(mib < 150)))
    if num("s6.python.wall") is not None:
        rows.append(("  Python `json.load` of the same file", "(info)",
                     f"{one('s6.python.wall')} s, {num('s6.python.rss_kib') / 1024:.1f} MiB", ""))
    kib = num("s6.run20k.rss_kib")
    if kib is not None:
        mib = kib / 1024
        rows.append(("peak RSS, `run` of 20,000 no-op steps, --jobs 2", "< 50 MiB",
                     f"**{mib:.1f} MiB** ({kib * 1024 / 20000:.0f} bytes per step; {one('s6.run20k.wall')} s)",
                     verdict(mib < 50)))
    tag("large")
    # 7. pipeline serve: the 1,000-step run with 200 SSE clients and without (medians)
    wc, wn = nums("s7.clients.wall"), nums("s7.none.wall")
    rc, rn = nums("s7.clients.rss_kib"), nums("s7.none.rss_kib")
    cc, cn = nums("s7.clients.cpu"), nums("s7.none.cpu")
    if wc and wn:
        mc, mn = statistics.median(wc), statistics.median(wn)
        rows.append((f"`serve`: 1,000-step run started by `POST /api/runs`, wall (gate -> `run_finished`), "
                     f"200 SSE clients vs none (median of {len(wc)})", "(info)",
                     f"{mc:.2f} s vs {mn:.2f} s = **{mc / mn:.2f}x**" if mn > 0 else "n/a", ""))
    if rc and rn:
        mc, mn = statistics.median(rc), statistics.median(rn)
        rows.append(("  peak RSS of `pipeline serve` (the run executes in it), 200 clients vs none (median)", "(info)",
                     f"{mc / 1024:.1f} MiB vs {mn / 1024:.1f} MiB = **{mc / mn:.2f}x** "
                     f"({(mc - mn) / 200:.0f} KiB per client)", ""))
    if cc and cn:
        mc, mn = statistics.median(cc), statistics.median(cn)
        rows.append(("  CPU time of `pipeline serve` (user+sys, its threads; the steps' processes not included), "
                     "200 clients vs none (median)", "(info)",
                     f"{mc:.2f} s vs {mn:.2f} s = {mc / mn:.2f}x" if mn > 0 else "n/a", ""))
    ok = nums("s7.clients.clients")
    if ok:
        events = nums("s7.clients.events")
        rows.append(("  SSE clients that received every event of the run once, in order (= the journal)",
                     "200 of 200", f"**{min(ok):.0f} of 200** in each of {len(ok)} runs "
                     f"({events[-1]:.0f} events each)", verdict(min(ok) == 200)))
    tag("serve")
    # 8. the step cache: a fully cached 1,000-step run against an uncached one
    uw, cw, cs = nums("s8.uncached.wall"), nums("s8.cached.wall"), nums("s8.cached.steps")
    if uw and cw:
        mu, mc = statistics.median(uw), statistics.median(cw)
        rows.append((f"step cache: 1,000 steps writing a file each, second run of the unchanged workstream "
                     f"(every step cached) vs first run, wall (median of {len(cw)})", "(info)",
                     f"{mc:.2f} s vs {mu:.2f} s = **{mc / mu:.2f}x**" if mu > 0 else "n/a", ""))
    if cs:
        rows.append(("  steps of the second run taken from the cache", "1000 of 1000",
                     f"**{min(cs):.0f} of 1000** in each of {len(cs)} runs", verdict(min(cs) == 1000)))
    tag("cache")
    # 9. Temporal: per-step overhead against a local run; throughput with 1, 2, 4 workers
    lw = nums("s9.noop.local.wall")
    for n in (1, 2):
        tw = nums(f"s9.noop.w{n}.wall")
        if lw and tw:
            ml, mt = statistics.median(lw), statistics.median(tw)
            rows.append((f"Temporal: 100 no-op steps, --jobs 2, {n} worker{'s' if n > 1 else ''} vs a local run, "
                         f"wall (median of {len(tw)})", "(info)",
                         f"{mt:.2f} s vs {ml:.2f} s: **{(mt - ml) * 10:.0f} ms** more per step ({mt / ml:.1f}x)"
                         if ml > 0 else "n/a", ""))
    s1 = nums("s9.sleep.w1.wall")
    for n in (1, 2, 4):
        sw = nums(f"s9.sleep.w{n}.wall")
        if sw and s1:
            m1, mn = statistics.median(s1), statistics.median(sw)
            rows.append((f"  16 steps of `sleep 1` on {n} worker{'s' if n > 1 else ''} (--jobs 1 each): "
                         f"throughput (median of {len(sw)})", f"~{n}x of 1 worker",
                         f"{16 / mn:.2f} steps/s ({mn:.1f} s) = **{m1 / mn:.2f}x**" if mn > 0 else "n/a", ""))
    tag("temporal")
    if a.only:
        rows = [r for r, t in zip(rows, tags) if t == a.only]
        if not rows:
            print(f"no results for section {a.only}")
            return 1

    # Console table.
    w0_, w1_, w2_ = (max(len(r[i].replace("**", "")) for r in rows) for i in range(3))
    print(f"{'measure':<{w0_}}  {'target':<{w1_}}  {'value':<{w2_}}  result")
    for r in rows:
        print(f"{r[0]:<{w0_}}  {r[1]:<{w1_}}  {r[2].replace('**', ''):<{w2_}}  {r[3]}")
    misses = sum(1 for r in rows if r[3] == "MISS")
    print(f"\n{misses} target(s) missed" if misses else "\nall targets met")

    if a.write:
        keep = ""
        if os.path.exists(a.write):
            text = open(a.write, encoding="utf-8").read()
            # The marker on a line of its own; the header mentions it only in words.
            i = text.find("\n" + MARKER + "\n")
            if i >= 0:
                keep = text[i + 1 :]
        if not keep:
            keep = MARKER + "\n\n## Analysis\n\n(none yet)\n"
        write_doc(a.write, v, one, med, rows, keep)
        print(f"wrote {a.write}")
    return 0


def write_doc(path, v, one, med, rows, keep):
    def events(p, k):
        return fmt(med(f"{p}.{k}"))
    lines = [
        "# Benchmarks",
        "",
        "Measured by `scripts/bench.sh` (issue #2 targets). Generated by `scripts/bench.sh --write`;",
        "everything above the analysis marker (an HTML comment before \"Analysis\") is rewritten",
        "on each run; the analysis below it is hand-written and kept.",
        "",
        "## Machine",
        "",
        f"- {one('machine.nproc')} CPUs ({one('machine.cpu')}), {one('machine.mem')} memory, {one('machine.kernel')}",
        f"- {one('machine.rustc')}; {one('machine.git')}; {one('machine.ninja')}",
        f"- measured {one('machine.date')} at commit {one('machine.commit')}; load average at start "
        f"{one('machine.load')} (the machine is shared: other builds run at the same time, so "
        "wall times are noisy; ratios are taken from measurements interleaved in one run)",
        "",
        "## How to run",
        "",
        "```sh",
        "cargo build --release -p pipeline   # bench.sh runs this first (no-op when up to date)",
        "scripts/bench.sh                    # prints the summary table (4-8 minutes here)",
        "scripts/bench.sh --write            # and rewrites this file",
        "scripts/bench.sh --runs 5 --keep    # more repetitions; keep the scratch directory",
        "scripts/bench.sh --only worktrees   # one section (noop, worktrees, plan, resume, memory, large, serve, cache, temporal),",
        "                                    # its rows printed only (no --write)",
        "```",
        "",
        "It installs `ninja-build`, `time` and `hyperfine` with apt-get when missing. Generators",
        "(Python standard library only) are in `scripts/bench/`; section 7 also builds the SSE load",
        "client `testing/sse-load` (`cargo build --release -p sse-load`).",
        "",
        "## Results",
        "",
        "| measure | target | measured | result |",
        "|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r[0].strip()} | {r[1]} | {r[2]} | {r[3]} |")
    lines += [
        "",
        "## What is measured",
        "",
        "1. **No-op DAG vs ninja.** A seeded layered DAG (`gen_dag.py --layers 20 --width 50",
        "   --seed 1`): 1,000 single-step workstreams running `true` with `isolation: none`; a step of",
        "   layer k depends on 1-3 steps of earlier layers, one of them in layer k-1, so the critical",
        "   path is 20 steps. The same DAG as `build.ninja`, one edge per step with",
        "   `command = : > $out` (one `/bin/sh -c` per step like pipeline's `sh -c true`, and a real",
        "   output file; ninja's log confirms 1,000 commands ran). Each repetition uses a fresh",
        "   repository and state database (pipeline) and a fresh build directory (ninja); the two",
        "   alternate so that load changes hit both. Every state change is committed to SQLite",
        f"   before it is reported (journal mode `{one('s1.journal_mode')}`, the default durability",
        f"   `normal` = `synchronous=NORMAL`: survives a crash or kill -9; `--durability full` also",
        f"   survives power loss); the last run left {one('s1.events_rows')} rows in the events journal.",
        f"   From a further run with `--json` (events timestamped on arrival): start-up to the first",
        f"   `attempt_started` {events('s1.events', 'startup_s')} s; {events('s1.events', 'per_step_ms')} ms of",
        f"   wall per step; a step's `attempt_started` -> `step_completed` takes {events('s1.events', 'latency_ms_p50')} ms",
        f"   (median, p95 {events('s1.events', 'latency_ms_p95')} ms); the two job slots are occupied",
        f"   {events('s1.events', 'slot_busy')} of the time; run end after the last step {events('s1.events', 'tail_s')} s.",
        "2. **Worktree isolation vs repository size.** 100 independent steps (a wide DAG, default",
        "   isolation `worktree`), each running `echo <id> > out-<id>.txt`, `--jobs 2`, on a",
        f"   repository of {one('s2.5000.files')} tracked files (50 directories x 100 files of 1 KiB,",
        f"   committed: loose objects) and on one of {one('s2.500.files')} (5 x 100), runs alternating;",
        "   each run on a fresh copy of its repository. The run commits each step on its branch and",
        "   merges all 100 into the result branch (checked: 100 step files on `pipeline/<run>`).",
        "   The target is the steady-state cost of a step, from the NDJSON events (timestamped on",
        "   arrival): first `attempt_started` to the last step's final status, / 100, median over the",
        "   repetitions; it must not grow with the number of files (at most 1.5x at 10x the files).",
        "   Two costs are paid once per run, not per step, and do grow with the tree, since each",
        "   is a full checkout or a delete of every file: the start-up (spawn to the first",
        "   `attempt_started`: load, state, and one worktree checked out per job slot, i.e. 2, which",
        "   the steps then reuse) and the end (last step done to `run_finished`: the merge of all",
        "   step results into the result branch and the removal of the 2 idle pooled worktrees).",
        "   Run wall / 100 (what a user waits per step in this run) includes both, amortised over",
        "   100 steps, so it is reported as information, with a step's own latency (`attempt_started`",
        "   -> `completed`, median). Once more on the 5,000-file repository after `git gc` (packed",
        "   objects, like a clone; packed before the interleaved runs), and once on a repository of",
        f"   {one('s2.20000.files')} files (200 x 100, 4x the larger repository) to show the curve",
        "   further out; both single runs are compared with the 500-file median. For reference,",
        "   one `git worktree add --detach` + `git worktree remove` of the 5,000- and the",
        "   500-file tree.",
        "3. **Plan.** `pipeline plan --format json` of a 100-layer x 100 DAG (10,000 steps, seed 3),",
        f"   output {one('s3.plan.bytes')} bytes; best of 5 after one warm-up.",
        "4. **Resume.** The same 10,000-step DAG with its sink (the last step of the last layer,",
        "   which nothing depends on) running `false`: the run fails with 9,999 steps completed",
        "   (checked with `pipeline status --json`). The file is rewritten with the sink running",
        "   `true`, then `pipeline resume <run> --jobs 2 --json`; time from spawning the process",
        "   to the sink's `attempt_started` event on stdout, and to exit; checked: 10,000 completed.",
        "5. **Memory.** Max RSS (`/usr/bin/time`, `%M`) of the 10,000-step run of item 4 (it",
        "   executes all 10,000 steps; only the sink fails), of `plan` of it, and of the resume.",
        "6. **Plan and validate of 100,000 steps.** `gen_dag.py --layers 100 --width 1000 --seed 6`:",
        f"   one file of 100,000 single-step workstreams ({one('s6.bytes')} bytes). `pipeline plan` (text)",
        "   and `pipeline validate` of it, 3 runs each: best wall time and largest max RSS. For scale,",
        "   Python's `json.load` of the same file (which only parses it).",
        "7. **Server under 200 SSE clients.** The DAG of item 1 behind one more step, `gate`, that",
        "   every root depends on and that waits for a file, committed in a fresh repository;",
        "   `pipeline serve --bind 127.0.0.1:0` on it, the run started with `POST /api/runs`",
        "   (`\"jobs\": 2`), so it executes in the server's process. With clients: `testing/sse-load`",
        "   opens 200 concurrent `GET /api/runs/<run>/events` streams and creates the gate file once",
        "   every client has received its first event, so the whole run is streamed live; each client",
        "   follows its stream to `run_finished` and checks every event (`id:` = journal id,",
        "   `event:` = kind, `data:` with the same `id` and `event`); all 200 must have received the",
        "   same ids, each once, in order, and those are compared with the run's journal. Without",
        "   clients the gate file exists before the run starts. The run's wall time is from the",
        "   gate's `step_completed` to `run_finished` (journal timestamps, ms), the server's peak RSS",
        "   its VmHWM read from /proc when the run has ended. A fresh repository and server per",
        "   measurement; with and without clients alternate, in alternating order; ratios of the",
        "   medians.",
        "8. **Step cache.** The DAG of item 1 with each step writing its own file in its own",
        "   worktree, run once in a fresh repository (every step runs and records its cache entry),",
        "   then again as a new run of the unchanged workstream (every step taken from the cache):",
        "   the second run's wall time against the first's, and the count of cached steps.",
        "9. **Temporal.** `temporal server start-dev --headless` (the pinned CLI, SQLite store) on",
        "   loopback; per measurement a fresh repository with the workstream committed, a bare",
        "   remote, and each worker `pipeline worker` in its own clone on a task queue of its own,",
        "   started before the run is submitted with `pipeline run --engine temporal` (its wall",
        "   time is measured). Overhead: 100 no-op steps (10 layers x 10, a worktree each) with",
        "   `--jobs 2`, locally against one worker (`--jobs 2`) and two (`--jobs 1` each);",
        "   (Temporal wall - local wall) / 100 is the per-step overhead. Throughput: 16",
        "   independent `sleep 1` steps on 1, 2 and 4 workers (`--jobs 1` each, the run's",
        "   `--jobs 16`); the speed-up against one worker. Interleaved, medians.",
        "",
    ]
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(reflow_items(lines)) + "\n" + keep)


def reflow_items(lines):
    """Re-wraps the numbered list after "## What is measured" (its lines are built from
    pieces of varying length) to 90 columns."""
    start = lines.index("## What is measured") + 2
    items, cur = [], None
    for line in lines[start:]:
        if line[:1].isdigit() and line[1:3] == ". ":
            cur = [line.strip()]
            items.append(cur)
        elif line.strip() and cur is not None:
            cur.append(line.strip())
    out = lines[:start]
    for item in items:
        out += textwrap.wrap(" ".join(item), width=90, subsequent_indent="   ",
                             break_long_words=False, break_on_hyphens=False)
    return out + [""]


if __name__ == "__main__":
    sys.exit(main())
