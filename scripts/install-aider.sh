#!/usr/bin/env bash
# Installs the pinned Aider CLI (PyPI `aider-chat`), which the end-to-end tests of the
# aider adapter drive for real against the fake model server, into a virtual
# environment at <repo>/.tools/venv-aider (git-ignored). The tests find it at
# .tools/venv-aider/bin/aider, or at $PIPELINE_TEST_AIDER_BIN.
#
# Idempotent: does nothing when the pinned version is already installed.
# Needs Python >= 3.10 with the venv module (Aider 0.86 supports 3.10 to 3.12); set
# PYTHON to choose the interpreter.
# Usage: scripts/install-aider.sh        (then: cargo test --test e2e ai_aider)
set -euo pipefail

AIDER_VERSION="0.86.2"
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$repo_root/.tools/venv-aider"
bin="$venv/bin/aider"
python="${PYTHON:-python3}"

installed_version() {
    # `aider --version` prints "aider 0.86.2"; it does not contact the network.
    "$bin" --version 2>/dev/null | awk '{print $NF}'
}

if [ -x "$bin" ] && [ "$(installed_version)" = "$AIDER_VERSION" ]; then
    exit 0
fi

if ! command -v "$python" >/dev/null 2>&1; then
    echo "install-aider: $python not found; install Python 3.10-3.12 (with venv) or set PYTHON" >&2
    exit 2
fi

mkdir -p "$repo_root/.tools"
if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
    "aider-chat==$AIDER_VERSION"

if [ "$(installed_version)" != "$AIDER_VERSION" ]; then
    echo "install-aider: $bin does not report version $AIDER_VERSION after install" >&2
    exit 3
fi
echo "aider $AIDER_VERSION installed at $bin"
