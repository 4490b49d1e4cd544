#!/usr/bin/env python3
"""Summarises a timestamped NDJSON event file written by timed_events.py: where a run's
wall time goes, seen from outside the process.

Prints `key value` lines (the bench results format), keys prefixed with --prefix
(default `s1.events`):
  startup_s      spawn -> first attempt_started (start-up, load, plan, state setup)
  span_s         first attempt_started -> last step reaching a final status
  tail_s         last final status -> run_finished (result branch, closing the run)
  per_step_ms    span / steps: the throughput cost of one step
  latency_ms_p50 / latency_ms_p95 / latency_ms_mean
                 attempt_started -> its step_completed (or step_failed), per step
  slot_busy      sum of latencies / (jobs x span): 1.0 means the --jobs slots were always
                 occupied by a started step, lower means time between steps (scheduling,
                 state writes before attempt_started)
  steps          number of steps started
"""

import argparse
import json
import statistics
import sys

# Journal events that end a step (docs/EVENTS.md).
FINAL = {"step_completed", "step_failed", "step_skipped"}


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("events")
    p.add_argument("--prefix", default="s1.events")
    a = p.parse_args()
    started = {}
    finished = {}
    run_finished = None
    jobs = 1
    for line in open(a.events, encoding="utf-8"):
        rec = json.loads(line)
        t, e = rec["t"], rec["e"]
        kind = e.get("event")
        if kind == "run_started":
            jobs = int(e.get("jobs") or 1)
        elif kind == "attempt_started":
            started.setdefault(e["step"], t)
        elif kind in FINAL:
            finished[e["step"]] = t
        elif kind == "run_finished":
            run_finished = t
    if not started:
        sys.exit(f"no attempt_started events in {a.events}")
    lat = [finished[s] - t for s, t in started.items() if s in finished]
    first = min(started.values())
    last = max(finished.values()) if finished else first
    span = max(last - first, 1e-9)
    out = {
        "steps": len(started),
        "startup_s": f"{first:.3f}",
        "span_s": f"{span:.3f}",
        "tail_s": f"{(run_finished - last):.3f}" if run_finished is not None else "unknown",
        "per_step_ms": f"{span / len(started) * 1000:.2f}",
        "latency_ms_mean": f"{statistics.fmean(lat) * 1000:.2f}" if lat else "unknown",
        "latency_ms_p50": f"{statistics.median(lat) * 1000:.2f}" if lat else "unknown",
        "latency_ms_p95": f"{statistics.quantiles(lat, n=20)[-1] * 1000:.2f}" if len(lat) >= 20 else "unknown",
        "slot_busy": f"{sum(lat) / (jobs * span):.2f}" if lat else "unknown",
    }
    for k, v in out.items():
        print(f"{a.prefix}.{k} {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
