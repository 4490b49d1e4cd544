#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: installs what the tests need, checks
# formatting and lints, then runs every test of the workspace. CI runs this through
# .ci/run.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

# Format and lints first: a finding fails the script before anything is installed or
# tested. The lints are the workspace's [workspace.lints] (Cargo.toml); warnings count as
# errors here. rustfmt and clippy come with the toolchain; missing ones are added.
installed_components=$(rustup component list --installed 2>/dev/null || true)
for component in rustfmt clippy; do
  if ! grep -q "^$component" <<<"$installed_components"; then
    echo "==> rustup component add $component"
    rustup component add "$component"
  fi
done
echo "==> cargo fmt --all --check"
cargo fmt --all --check
echo "==> cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

# Tools the integration tests drive for real (the openspec, aider, codex and claude CLIs,
# pinned; each installer is idempotent and installs under .tools/).
for installer in scripts/install-*.sh; do
  [ -e "$installer" ] || continue
  echo "==> $installer"
  bash "$installer"
done

# strace, for the fsync counts of `--durability` (tests/e2e/durability.rs runs
# scripts/fsync-count.sh; it fails under CI=true when strace is missing).
if ! command -v strace >/dev/null 2>&1; then
  echo "==> apt-get install -y strace"
  if [ "$(id -u)" = 0 ]; then apt-get install -y strace; else sudo apt-get install -y strace; fi
fi

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
