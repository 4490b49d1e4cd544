#!/usr/bin/env bash
# Checks that the README's two commands work in a fresh clone with nothing beside it (no
# `../shared`, no `.tools/`, no `target/`): clones this repository's HEAD commit with
# `git clone --no-local` into a new, empty temporary directory and runs there, in order,
# the commands of the code block of README.md's "Two commands" section. The commands are
# read from the README, so the check cannot drift from what a new user is told to run.
# CI runs this through .ci/run.
#
#   scripts/check-fresh-clone.sh [--first N]
#
#   --first N   run only the first N commands of the block (e.g. 1: clone + demo)
#
# Uncommitted changes are not part of the clone (a warning says so). The environment is
# passed through (`CI=true` keeps its meaning for scripts/test.sh: missing CLIs fail their
# tests), except CARGO_TARGET_DIR, unset so the clone builds in its own target/ as on a
# fresh machine. On success the temporary directory is removed; on failure it is kept and
# named. Exit codes: 0 all commands passed, 1 a command failed (its own code is printed),
# 2 bad usage or a README without the block.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

first=
while [ $# -gt 0 ]; do
  case $1 in
    --first)
      first=${2:-}
      if ! [[ $first =~ ^[1-9][0-9]*$ ]]; then
        echo "check-fresh-clone: --first needs a positive number, got '${first}'" >&2
        exit 2
      fi
      shift 2
      ;;
    -h | --help)
      sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "check-fresh-clone: unknown argument '$1' (usage: scripts/check-fresh-clone.sh [--first N])" >&2
      exit 2
      ;;
  esac
done

# The commands: the lines of the first fenced block after the "## Two commands" heading,
# up to that section's end, with trailing `# comments` and blank lines removed.
readme=$root/README.md
if [ ! -f "$readme" ]; then
  echo "check-fresh-clone: $readme not found" >&2
  exit 2
fi
mapfile -t commands < <(awk '
  /^## / { in_section = ($0 == "## Two commands"); if (!in_section && done_block) exit; next }
  !in_section || done_block { next }
  /^```/ { if (in_block) { done_block = 1; in_block = 0 } else { in_block = 1 } next }
  in_block {
    sub(/[ \t]+#.*$/, ""); sub(/^[ \t]+/, ""); sub(/[ \t]+$/, "")
    if ($0 != "" && $0 !~ /^#/) print
  }
' "$readme")
if [ ${#commands[@]} -eq 0 ]; then
  echo "check-fresh-clone: $readme has no code block with commands under a '## Two commands' heading;" >&2
  echo "  the check runs the commands of that block: restore the section (see README.md history)" >&2
  exit 2
fi
if [ -n "$first" ] && [ "$first" -lt ${#commands[@]} ]; then
  commands=("${commands[@]:0:$first}")
fi

head=$(git -C "$root" rev-parse HEAD)
if [ -n "$(git -C "$root" status --porcelain --untracked-files=no)" ]; then
  echo "check-fresh-clone: warning: uncommitted changes in $root are not part of the check (it clones $head)" >&2
fi

parent=$(mktemp -d "${TMPDIR:-/tmp}/pipeline-fresh-clone.XXXXXX")
clone=$parent/pipeline
echo "==> git clone --no-local $root $clone (HEAD $head)"
git clone --quiet --no-local "$root" "$clone"
git -C "$clone" checkout --quiet --detach "$head"
# Nothing beside the clone: a test reading `../shared` or any other sibling fails here.
if [ "$(ls -A "$parent")" != "pipeline" ]; then
  echo "check-fresh-clone: $parent holds more than the clone" >&2
  exit 1
fi

unset CARGO_TARGET_DIR
cd "$clone"
start=$SECONDS
for cmd in "${commands[@]}"; do
  echo "==> [fresh clone] $cmd"
  step_start=$SECONDS
  set +e
  bash -c "$cmd"
  code=$?
  set -e
  if [ $code -ne 0 ]; then
    echo "check-fresh-clone: FAILED: '$cmd' exited with $code after $((SECONDS - step_start)) s in $clone (kept for inspection)" >&2
    exit 1
  fi
  echo "==> [fresh clone] '$cmd' passed in $((SECONDS - step_start)) s"
done
cd /
rm -rf "$parent"
echo "check-fresh-clone: ${#commands[@]} README command(s) passed in a fresh clone of $head in $((SECONDS - start)) s"
