#!/usr/bin/env bash
# Installs the pinned OpenAI Codex CLI (npm `@openai/codex`), which the end-to-end tests
# of the codex adapter drive against the fake model server, into <repo>/.tools/npm-codex.
#
# Idempotent: does nothing when the pinned version is already installed.
# Usage: scripts/install-codex.sh        (then: cargo test --test e2e ai_codex)
# The tests find the CLI at $PIPELINE_TEST_CODEX_BIN, else at
# .tools/npm-codex/node_modules/.bin/codex.
set -euo pipefail

# 0.169.0 is the newest 0.169.x published on npm (checked when this was pinned).
CODEX_VERSION="0.169.0"
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
prefix="$repo_root/.tools/npm-codex"
bin="$prefix/node_modules/.bin/codex"

if ! command -v npm >/dev/null 2>&1; then
    echo "install-codex: npm not found; install Node.js >= 20 (it ships npm) and rerun" >&2
    exit 2
fi

installed_version() {
    # `codex --version` prints `codex-cli 0.169.0`.
    "$bin" --version 2>/dev/null | awk '{print $NF}'
}

if [ -x "$bin" ] && [ "$(installed_version)" = "$CODEX_VERSION" ]; then
    exit 0
fi

mkdir -p "$prefix"
# The package's own dependency is an optional platform package (the native binary);
# npm picks the one for this machine.
npm install --prefix "$prefix" --no-audit --no-fund --loglevel=error --save-exact \
    "@openai/codex@$CODEX_VERSION" >/dev/null

if [ "$(installed_version)" != "$CODEX_VERSION" ]; then
    echo "install-codex: $bin does not report version $CODEX_VERSION after install" >&2
    exit 3
fi
echo "codex $CODEX_VERSION installed at $bin"
