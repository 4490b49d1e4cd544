#!/usr/bin/env bash
# Installs the pinned official Model Context Protocol Python SDK (PyPI `mcp`), whose
# stdio client the end-to-end tests of `pipeline mcp` drive (tests/e2e/mcp.rs runs
# testing/mcp-client/client.py with it), into a virtual environment at
# <repo>/.tools/venv-mcp (git-ignored). The tests find its interpreter at
# .tools/venv-mcp/bin/python, or at $PIPELINE_TEST_MCP_PYTHON.
#
# Idempotent: does nothing when the pinned version is already installed.
# Needs Python >= 3.10 with the venv module; set PYTHON to choose the interpreter.
# Usage: scripts/install-mcp-client.sh        (then: cargo nextest run --test e2e -E 'test(/mcp/)')
set -euo pipefail

MCP_VERSION="2.3.0"
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$repo_root/.tools/venv-mcp"
python="${PYTHON:-python3}"

installed_version() {
    # The installed distribution's version, read from its metadata (no network).
    "$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("mcp"))' 2>/dev/null
}

if [ -x "$venv/bin/python" ] && [ "$(installed_version)" = "$MCP_VERSION" ]; then
    exit 0
fi

if ! command -v "$python" >/dev/null 2>&1; then
    echo "install-mcp-client: $python not found; install Python >= 3.10 (with venv) or set PYTHON" >&2
    exit 2
fi

mkdir -p "$repo_root/.tools"
if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
    "mcp==$MCP_VERSION"

if [ "$(installed_version)" != "$MCP_VERSION" ]; then
    echo "install-mcp-client: $venv does not have mcp $MCP_VERSION after install" >&2
    exit 3
fi
echo "mcp $MCP_VERSION installed in $venv"
