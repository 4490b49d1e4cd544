#!/usr/bin/env bash
# Builds pipeline and runs an example workstream against a scratch git repository.
#   scripts/demo.sh [EXAMPLE.json]   (default: workstreams/examples/parallel-report.json)
# The scratch repository is a copy of this repository's tracked files with one commit, so
# the example has real content to work on; it is left in place for inspection.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
example=${1:-$root/workstreams/examples/parallel-report.json}
example=$(cd "$(dirname "$example")" && pwd)/$(basename "$example")

cargo build --release --quiet --manifest-path "$root/Cargo.toml" -p pipeline
bin=$root/target/release/pipeline

scratch=$(mktemp -d "${TMPDIR:-/tmp}/pipeline-demo.XXXXXX")
git -C "$root" ls-files -z | (cd "$root" && xargs -0 tar cf -) | tar xf - -C "$scratch"
git -C "$scratch" init -q
git -C "$scratch" add -A
git -C "$scratch" -c user.name=pipeline-demo -c user.email=demo@localhost commit -qm "scratch copy for the pipeline demo"

echo "scratch repository: $scratch"
"$bin" plan "$example" --repo "$scratch"
echo
"$bin" run "$example" --repo "$scratch" --jobs 2
echo
"$bin" status --repo "$scratch"
