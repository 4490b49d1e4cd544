#!/usr/bin/env bash
# Installs the pinned OpenSpec CLI (the reference implementation the oracle tests of
# pipeline-specs compare against) into <repo>/.tools/npm.
#
# Idempotent: does nothing when the pinned version is already installed.
# Usage: scripts/install-openspec.sh        (then: cargo test -p pipeline-specs --test oracle)
set -euo pipefail

OPENSPEC_VERSION="1.13.2"
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
prefix="$repo_root/.tools/npm"
bin="$prefix/node_modules/.bin/openspec"

if ! command -v npm >/dev/null 2>&1; then
    echo "install-openspec: npm not found; install Node.js >= 20.19 (it ships npm) and rerun" >&2
    exit 2
fi

if [ -x "$bin" ] && [ "$("$bin" --version 2>/dev/null)" = "$OPENSPEC_VERSION" ]; then
    exit 0
fi

mkdir -p "$prefix"
npm install --prefix "$prefix" --no-audit --no-fund --loglevel=error --save-exact \
    "@fission-ai/openspec@$OPENSPEC_VERSION" >/dev/null

if [ "$("$bin" --version 2>/dev/null)" != "$OPENSPEC_VERSION" ]; then
    echo "install-openspec: $bin does not report version $OPENSPEC_VERSION after install" >&2
    exit 3
fi
echo "openspec $OPENSPEC_VERSION installed at $bin"
