#!/usr/bin/env bash
# Counts the fsyncs `pipeline run` makes per step, at `--durability normal` and `full`
# (issue 10, point 6; docs/SECURITY.md "Durability"). A fresh repository gets a workstream
# of N independent worktree steps (each commits one file); the run is traced with
#   strace -f -y -e trace=fsync,fdatasync,sync_file_range
# and every sync call is attributed to the file it names: the state database's WAL
# (`state.db-wal`), anything under the repository's `.git`, or other (e.g. `state.db`
# itself at a checkpoint).
#
# Output: a table, then one line per level for scripts and tests:
#   fsyncs level=<normal|full> steps=<N> wal=<n> git=<n> other=<n>
# Expected: full has at least one fsync under .git per step (objects, refs) and about
# one of the WAL per step; normal has none under .git and (almost) none of the WAL.
#
# Usage: scripts/fsync-count.sh [--steps N] [--keep]
#   --steps N   steps in the workstream (default 10)
#   --keep      keep the scratch directory (printed) and the strace logs
# Environment: PIPELINE_BIN (the binary to trace; default: `cargo build -p pipeline` is
#              run and target/debug/pipeline traced).
# Needs strace (apt-get install strace) and a kernel that allows ptrace of children.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STEPS=10
KEEP=0
while [[ $# -gt 0 ]]; do
    case "$1" in
        --steps) STEPS=${2:-}; shift ;;
        --keep) KEEP=1 ;;
        -h|--help) sed -n '2,/^[^#]/{/^#/p}' "$0"; exit 0 ;;
        *) echo "fsync-count: unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
[[ $STEPS =~ ^[1-9][0-9]*$ ]] || { echo "fsync-count: --steps needs a positive integer, got '$STEPS'" >&2; exit 2; }
command -v strace >/dev/null || { echo "fsync-count: strace is not installed (apt-get install strace)" >&2; exit 3; }

if [[ -z ${PIPELINE_BIN:-} ]]; then
    (cd "$ROOT" && cargo build --quiet -p pipeline)
    PIPELINE_BIN="$ROOT/target/debug/pipeline"
fi
[[ -x $PIPELINE_BIN ]] || { echo "fsync-count: no executable at PIPELINE_BIN=$PIPELINE_BIN" >&2; exit 3; }

SCRATCH=$(mktemp -d)
if [[ $KEEP == 1 ]]; then
    echo "scratch directory: $SCRATCH" >&2
else
    trap 'rm -rf "$SCRATCH"' EXIT
fi

# The workstream: N independent steps, each committing one file in its worktree.
{
    echo '['
    for ((i = 1; i <= STEPS; i++)); do
        sep=','; [[ $i == "$STEPS" ]] && sep=''
        echo "  {\"id\": \"s$i\", \"command\": \"echo $i > s$i.txt\"}$sep"
    done
    echo ']'
} >"$SCRATCH/ws.json"

# One level: a fresh repository, a traced run, the counts.
measure() {
    local level=$1
    local repo="$SCRATCH/repo-$level" log="$SCRATCH/strace-$level.log"
    mkdir -p "$repo"
    git -C "$repo" init -q -b main
    git -C "$repo" config user.name "fsync count"
    git -C "$repo" config user.email "fsync@localhost"
    echo "fsync count" >"$repo/README.md"
    git -C "$repo" add -A
    git -C "$repo" commit -q -m initial
    if ! (cd "$repo" && strace -f -y -qq -e trace=fsync,fdatasync,sync_file_range -o "$log" \
        "$PIPELINE_BIN" run "$SCRATCH/ws.json" --durability "$level" --run-id "$level" --jobs 1 \
        >"$SCRATCH/run-$level.out" 2>&1); then
        echo "fsync-count: pipeline run --durability $level failed:" >&2
        cat "$SCRATCH/run-$level.out" >&2
        exit 1
    fi
    # strace -y prints each descriptor with its path: `fsync(7</path/to/file>) = 0`.
    awk -v level="$level" -v steps="$STEPS" '
        /(fsync|fdatasync|sync_file_range)\(/ {
            path = $0
            sub(/^[^<]*</, "", path)
            sub(/>.*$/, "", path)
            if (path ~ /state\.db-wal$/) wal++
            else if (path ~ /\/\.git(\/|$)/) git++
            else other++
        }
        END { printf "fsyncs level=%s steps=%d wal=%d git=%d other=%d\n", level, steps, wal, git, other }
    ' "$log"
}

results=$(measure normal; measure full)
printf '%-8s %6s %10s %10s %10s %14s %14s\n' level steps state.wal .git other "wal per step" ".git per step"
while read -r _ level steps wal git other; do
    level=${level#level=}; steps=${steps#steps=}; wal=${wal#wal=}; git=${git#git=}; other=${other#other=}
    printf '%-8s %6d %10d %10d %10d %14.1f %14.1f\n' "$level" "$steps" "$wal" "$git" "$other" \
        "$(echo "$wal / $steps" | bc -l)" "$(echo "$git / $steps" | bc -l)"
done <<<"$results"
echo "$results"
