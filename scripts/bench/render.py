#!/usr/bin/env python3
"""Turns the bench results file (`key value` lines, a key repeated once per repetition)
into the summary table printed by scripts/bench.sh and, with --write FILE, into
docs/BENCHMARKS.md. The part of FILE from the line `<!-- analysis -->` on is hand-written
and kept as it is.

Usage: render.py RESULTS [--write docs/BENCHMARKS.md]
"""

import argparse
import os
import statistics
import sys
import textwrap

MARKER = "<!-- analysis -->"
# Threshold chosen for "per-step isolation cost does not grow with repository size":
# 10x the files may cost at most 1.5x per step (noise on a shared 2-core machine).
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
    a = p.parse_args()
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

    def verdict(ok):
        return "PASS" if ok else "MISS"

    # 1. no-op DAG vs ninja
    nw, pw = nums("s1.ninja.wall"), nums("s1.pipeline.wall")
    nc, pc = nums("s1.ninja.cpu"), nums("s1.pipeline.cpu")
    if nw and pw:
        mn, mp = statistics.median(nw), statistics.median(pw)
        ratio = mp / mn if mn > 0 else float("inf")
        rows.append((f"1,000 no-op steps, `run --jobs 2` vs `ninja -j2` (wall, median of {len(pw)})",
                     "<= 3x ninja", f"{mp:.2f} s vs {mn:.2f} s = **{ratio:.2f}x**", verdict(ratio <= 3.0)))
        cn, cp = statistics.median(nc), statistics.median(pc)
        rows.append(("  same, CPU time (user+sys, incl. children)", "(info)",
                     f"{cp:.2f} s vs {cn:.2f} s = {cp / cn:.2f}x" if cn > 0 else "n/a", ""))
    # 2. worktrees (medians over the repetitions)
    w5, w0 = med("s2.5000.wall"), med("s2.500.wall")
    if w5 and w0:
        n = len(v.get("s2.5000.wall", []))
        p5, p0 = w5 / 100 * 1000, w0 / 100 * 1000
        rows.append((f"100 worktree steps, per step (wall / 100, median of {n}), 5,000 vs 500 files",
                     f"no growth (<= {WT_GROWTH_LIMIT}x)", f"{p5:.0f} ms vs {p0:.0f} ms = **{p5 / p0:.2f}x**",
                     verdict(p5 / p0 <= WT_GROWTH_LIMIT)))
        rows.append(("  total wall, 100 steps, 5,000 / 500 files", "(info)", f"{w5:.2f} s / {w0:.2f} s", ""))
        s5, s0 = med("s2.5000.per_step_ms"), med("s2.500.per_step_ms")
        if s5 and s0:
            rows.append(("  steady state: first start -> last step done, / 100", "(info)",
                         f"{s5:.0f} ms vs {s0:.0f} ms = {s5 / s0:.2f}x", ""))
        l5, l0 = med("s2.5000.latency_ms_p50"), med("s2.500.latency_ms_p50")
        if l5 and l0:
            rows.append(("  one step, `step_started` -> `completed` (median)", "(info)",
                         f"{l5:.0f} ms vs {l0:.0f} ms = {l5 / l0:.2f}x", ""))
        rows.append(("  start-up to first `step_started` (2 worktrees made)", "(info)",
                     f"{fmt(med('s2.5000.startup_s'))} s vs {fmt(med('s2.500.startup_s'))} s", ""))
        rows.append(("  last step done -> run finished (result merge)", "(info)",
                     f"{fmt(med('s2.5000.tail_s'))} s vs {fmt(med('s2.500.tail_s'))} s", ""))
        pk = med("s2.5000packed.wall")
        if pk:
            rows.append(("  5,000 files after `git gc` (packed), per step", "(info)",
                         f"{pk * 10:.0f} ms = {pk * 10 / p0:.2f}x the 500-file loose run", ""))
        rows.append(("  `git worktree add` + `remove`, 5,000 / 500 files", "(info)",
                     f"{one('s2.5000.git_worktree_add_remove')} s / {one('s2.500.git_worktree_add_remove')} s", ""))
    # 3. plan
    best = num("s3.plan.best_ms")
    if best is not None:
        rows.append((f"`plan --format json`, 10,000 steps (best of 5, {one('s3.plan.method')})", "< 200 ms",
                     f"**{best:.0f} ms**" + (f" (mean {one('s3.plan.mean_ms')} ms)" if "s3.plan.mean_ms" in v else ""),
                     verdict(best < 200)))
    # 4. resume
    rs = num("s4.resume.step_started_s")
    if rs is not None:
        rows.append(("resume 10,000-step run, 1 step left: spawn -> its `step_started`", "< 1 s",
                     f"**{rs:.2f} s**", verdict(rs < 1.0)))
        rows.append(("  resume total wall", "(info)", f"{one('s4.resume.wall_s')} s "
                     f"({one('s4.resume.steps_started')} step started, {one('s4.resume.steps_reused')} kept)", ""))
        rows.append(("  spawn -> `run_started` (load, validate, plan, open state)", "(info)",
                     f"{one('s4.resume.run_started_s')} s", ""))
        rows.append(("  first -> last `step_reused` (checkpoint checks)", "(info)",
                     f"{one('s4.resume.reused_span_s')} s ({one('s4.resume.reused_us_each')} us per kept step)", ""))
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
        "scripts/bench.sh                    # prints the summary table (3-7 minutes here)",
        "scripts/bench.sh --write            # and rewrites this file",
        "scripts/bench.sh --runs 5 --keep    # more repetitions; keep the scratch directory",
        "```",
        "",
        "It installs `ninja-build`, `time` and `hyperfine` with apt-get when missing. Generators",
        "(Python standard library only) are in `scripts/bench/`.",
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
        f"   `step_started` {events('s1.events', 'startup_s')} s; {events('s1.events', 'per_step_ms')} ms of",
        f"   wall per step; a step's `step_started` -> `completed` takes {events('s1.events', 'latency_ms_p50')} ms",
        f"   (median, p95 {events('s1.events', 'latency_ms_p95')} ms); the two job slots are occupied",
        f"   {events('s1.events', 'slot_busy')} of the time; run end after the last step {events('s1.events', 'tail_s')} s.",
        "2. **Worktree isolation vs repository size.** 100 independent steps (a wide DAG, default",
        "   isolation `worktree`), each running `echo <id> > out-<id>.txt`, `--jobs 2`, on a",
        f"   repository of {one('s2.5000.files')} tracked files (50 directories x 100 files of 1 KiB,",
        f"   committed: loose objects) and on one of {one('s2.500.files')} (5 x 100), runs alternating;",
        "   each run on a fresh copy of its repository. The run commits each step on its branch and",
        "   merges all 100 into the result branch (checked: 100 step files on `pipeline/<run>`).",
        "   Per step = run wall / 100 (what a user waits), with the parts seen from the NDJSON",
        "   events: start-up (load, state, the first worktrees: one is created per job slot and",
        "   then reused), steady state (first `step_started` to the last step's final status, / 100),",
        "   and the end (the merge of all step results into the result branch). Once more on the",
        "   5,000-file repository after `git gc` (packed objects, like a clone). For reference,",
        "   one `git worktree add --detach` + `git worktree remove` of each tree.",
        "3. **Plan.** `pipeline plan --format json` of a 100-layer x 100 DAG (10,000 steps, seed 3),",
        f"   output {one('s3.plan.bytes')} bytes; best of 5 after one warm-up.",
        "4. **Resume.** The same 10,000-step DAG with its sink (the last step of the last layer,",
        "   which nothing depends on) running `false`: the run fails with 9,999 steps completed",
        "   (checked with `pipeline status --json`). The file is rewritten with the sink running",
        "   `true`, then `pipeline resume <run> --jobs 2 --json`; time from spawning the process",
        "   to the sink's `step_started` event on stdout, and to exit; checked: 10,000 completed.",
        "5. **Memory.** Max RSS (`/usr/bin/time`, `%M`) of the 10,000-step run of item 4 (it",
        "   executes all 10,000 steps; only the sink fails), of `plan` of it, and of the resume.",
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
