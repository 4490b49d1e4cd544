#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: installs what the tests need, then runs
# every test of the workspace. CI runs this through .ci/run.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

# Tools the integration tests drive for real (the openspec, aider, codex and claude CLIs,
# pinned; each installer is idempotent and installs under .tools/).
for installer in scripts/install-*.sh; do
  [ -e "$installer" ] || continue
  echo "==> $installer"
  bash "$installer"
done

# git identity for the repositories tests create (commits need one).
git config --global user.name >/dev/null 2>&1 || git config --global user.name "pipeline tests"
git config --global user.email >/dev/null 2>&1 || git config --global user.email "tests@localhost"

if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast "$@"
  # nextest does not run doctests.
  cargo test --workspace --doc --quiet
else
  cargo test --workspace --no-fail-fast "$@"
fi
