#!/usr/bin/env python3
"""Runs a `pipeline ... --json` command and timestamps each NDJSON event as it arrives.

this reader stamps each line with the monotonic time
since just before the child was spawned (the reader's own start-up is not counted). The
child's stdout is a pipe; pipeline flushes after every event line, so a stamp lags the
event by one pipe read.

Usage:
  timed_events.py [--step ID] [--events FILE] -- COMMAND ARGS...
Prints one JSON object on stdout:
  {"exit": CODE, "wall_s": total seconds, "step_started_s": seconds to the first
   attempt_started of --step (null if none), "first_step_started_s": seconds to the first
   attempt_started of any step, "events": count}
With --events FILE, writes every event as `{"t": seconds, "e": <event>}` per line.
"""

import argparse
import json
import subprocess
import sys
import time


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--step")
    p.add_argument("--events")
    p.add_argument("cmd", nargs=argparse.REMAINDER)
    a = p.parse_args()
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd
    if not cmd:
        p.error("missing command")

    out = open(a.events, "w", encoding="utf-8") if a.events else None
    step_t = None
    first_t = None
    n = 0
    t0 = time.monotonic()
    child = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, bufsize=1)
    assert child.stdout is not None
    for line in child.stdout:
        t = time.monotonic() - t0
        line = line.strip()
        if not line:
            continue
        try:
            ev = json.loads(line)
        except json.JSONDecodeError:
            continue
        n += 1
        if ev.get("event") == "attempt_started":
            if first_t is None:
                first_t = t
            if step_t is None and a.step is not None and ev.get("step") == a.step:
                step_t = t
        if out:
            out.write(json.dumps({"t": round(t, 6), "e": ev}, separators=(",", ":")) + "\n")
    code = child.wait()
    wall = time.monotonic() - t0
    if out:
        out.close()
    print(json.dumps({"exit": code, "wall_s": wall, "step_started_s": step_t, "first_step_started_s": first_t, "events": n}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
