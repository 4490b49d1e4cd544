#!/usr/bin/env bash
# Installs the pinned Claude Code CLI (npm @anthropic-ai/claude-code), which the end-to-end
# tests of the claude adapter drive against the fake model server, into
# <repo>/.tools/npm-claude (git-ignored).
#
# Since 2.x the npm package ships a native executable per platform (an optional dependency
# such as @anthropic-ai/claude-code-linux-x64); Node.js is only needed to run npm.
#
# Idempotent: does nothing when the pinned version is already installed.
# Usage: scripts/install-claude.sh        (then: cargo test --test e2e ai_claude)
set -euo pipefail

CLAUDE_VERSION="2.1.329"
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
prefix="$repo_root/.tools/npm-claude"
bin="$prefix/node_modules/.bin/claude"

installed_version() {
    # `claude --version` prints "2.1.329 (Claude Code)"; keep the auto-updater and
    # telemetry quiet and the user's configuration untouched while asking.
    DISABLE_AUTOUPDATER=1 CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 \
        CLAUDE_CONFIG_DIR="$prefix/.version-check" \
        "$bin" --version 2>/dev/null | awk '{print $1}'
}

if ! command -v npm >/dev/null 2>&1; then
    echo "install-claude: npm not found; install Node.js (it ships npm) and rerun" >&2
    exit 2
fi

if [ -x "$bin" ] && [ "$(installed_version)" = "$CLAUDE_VERSION" ]; then
    exit 0
fi

mkdir -p "$prefix"
npm install --prefix "$prefix" --no-audit --no-fund --loglevel=error --save-exact \
    "@anthropic-ai/claude-code@$CLAUDE_VERSION" >/dev/null

if [ "$(installed_version)" != "$CLAUDE_VERSION" ]; then
    echo "install-claude: $bin does not report version $CLAUDE_VERSION after install" >&2
    echo "install-claude: is there a native build for $(uname -s) $(uname -m)?" >&2
    exit 3
fi
echo "claude $CLAUDE_VERSION installed at $bin"
