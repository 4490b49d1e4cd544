#!/usr/bin/env python3
"""One measurement of scripts/bench.sh section 7 (`serve`): a run started through the REST
API of a fresh `pipeline serve`, followed live by N server-sent-event clients (or none).

Steps: starts `pipeline serve --repo REPO --bind 127.0.0.1:0` (the port is read from its
output), `POST /api/runs {"workstreams": [WS], "run_id": RUN, "jobs": JOBS}`; with
--clients N > 0 runs the `sse-load` binary (N clients of `GET /api/runs/RUN/events`, which
creates the GATE file once every client has received its first event: the run's first
step waits for that file, so the whole run is streamed live to all clients); with 0 creates
GATE itself right away. Waits for the end of the run (`GET /api/runs/RUN`), reads the
server's peak RSS (VmHWM) and CPU time from /proc, stops it (SIGTERM), and checks the
run's journal: every step completed, and with clients, the ids every client received
(`sse-load --ids-out`) are exactly the run's journal ids.

Prints `key value` lines (bench.sh's results format), keys prefixed by --prefix:
  .wall       the run's wall time from the gate step's `step_completed` to `run_finished`
              (journal timestamps, milliseconds), in seconds
  .rss_kib    the server's peak RSS (VmHWM), KiB
  .cpu        the server's CPU time (user + system, its threads), seconds
  .events     events in the run's journal
  .clients    clients that received every event, once, in order (0 without clients)
Exit 1 with a message when anything fails.

Usage: serve_run.py --bin PIPELINE --load-bin SSE_LOAD --repo REPO --workstream WS
                    --run RUN --gate FILE --clients N --prefix KEY [--jobs 2] [--scratch DIR]
"""

import argparse
import datetime
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request

LIMIT_S = 600


def die(msg):
    print(f"serve_run: {msg}", file=sys.stderr)
    sys.exit(1)


def request(method, url, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    # No proxy: the server is on this machine.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(req, timeout=30) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def proc_status(pid):
    """VmHWM (KiB) and CPU seconds (utime + stime) of a live process."""
    hwm = None
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                hwm = int(line.split()[1])
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks  # utime, stime (fields 14, 15)
    return hwm, cpu


def at(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for a in ("--bin", "--load-bin", "--repo", "--workstream", "--run", "--gate", "--prefix"):
        p.add_argument(a, required=True)
    p.add_argument("--clients", type=int, required=True)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--scratch", default=None, help="directory for the server's output and the ids file")
    a = p.parse_args()
    scratch = a.scratch or os.path.dirname(a.gate)
    out_path = os.path.join(scratch, f"{a.run}.serve.out")
    env = dict(os.environ, NO_COLOR="1")
    env.pop("PIPELINE_SERVE_TOKEN", None)
    with open(out_path, "w") as out:
        server = subprocess.Popen([a.bin, "serve", "--repo", a.repo, "--bind", "127.0.0.1:0"],
                                  stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
    try:
        base = None
        deadline = time.monotonic() + 60
        while base is None:
            if server.poll() is not None:
                die(f"pipeline serve exited {server.returncode}: {open(out_path).read()[-2000:]}")
            m = re.search(r"127\.0\.0\.1:([1-9][0-9]*)", open(out_path).read())
            if m:
                base = f"http://127.0.0.1:{m.group(1)}"
            elif time.monotonic() > deadline:
                die(f"pipeline serve printed no address: {open(out_path).read()[-2000:]}")
            else:
                time.sleep(0.02)
        while True:
            try:
                if request("GET", base + "/healthz")[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                die("GET /healthz never answered 200")
            time.sleep(0.02)

        if a.clients == 0:
            open(a.gate, "w").write("go\n")
        code, body = request("POST", base + "/api/runs",
                             {"workstreams": [a.workstream], "run_id": a.run, "jobs": a.jobs})
        if code != 202:
            die(f"POST /api/runs answered {code}: {body}")
        ids_path = os.path.join(scratch, f"{a.run}.ids")
        load = None
        if a.clients > 0:
            deadline = time.monotonic() + 60
            while request("GET", f"{base}/api/runs/{a.run}")[0] != 200:
                if time.monotonic() > deadline:
                    die(f"GET /api/runs/{a.run} never answered 200")
                time.sleep(0.02)
            load = subprocess.run([a.load_bin, f"{base}/api/runs/{a.run}/events", "--clients", str(a.clients),
                                   "--gate", a.gate, "--ids-out", ids_path, "--timeout", str(LIMIT_S)],
                                  capture_output=True, text=True)
            if load.returncode != 0:
                die(f"sse-load failed ({load.returncode}): {load.stderr.strip()[-2000:]}")
        deadline = time.monotonic() + LIMIT_S
        while True:
            code, body = request("GET", f"{base}/api/runs/{a.run}")
            if code == 200 and json.loads(body).get("status") not in ("running", "pending", None):
                break
            if time.monotonic() > deadline:
                die(f"the run did not finish: {body[:500]}")
            time.sleep(0.05)
        hwm, cpu = proc_status(server.pid)
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()

    db = sqlite3.connect(os.path.join(a.repo, ".pipeline", "state.db"))
    rows = db.execute("SELECT id, step_id, at, kind, data FROM events WHERE run_id = ? ORDER BY id", (a.run,)).fetchall()
    if not rows or rows[-1][3] != "run_finished":
        die(f"the journal of {a.run} does not end with run_finished")
    finished = json.loads(rows[-1][4])
    if finished.get("status") != "completed" or finished.get("failed") or finished.get("skipped"):
        die(f"the run did not complete every step: {rows[-1][4]}")
    gate_done = [r for r in rows if r[1] == "gate" and r[3] == "step_completed"]
    if not gate_done:
        die("no step_completed of the gate step in the journal")
    wall = (at(rows[-1][2]) - at(gate_done[0][2])).total_seconds()
    clients_ok = 0
    if load is not None:
        got = [int(x) for x in open(ids_path).read().split()]
        want = [r[0] for r in rows]
        if got != want:
            die(f"the clients received {len(got)} events, the journal has {len(want)}")
        clients_ok = json.loads(load.stdout)["clients"]
    print(f"{a.prefix}.wall {wall:.3f}")
    print(f"{a.prefix}.rss_kib {hwm}")
    print(f"{a.prefix}.cpu {cpu:.2f}")
    print(f"{a.prefix}.events {len(rows)}")
    print(f"{a.prefix}.clients {clients_ok}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
