#!/usr/bin/env bash
# Installs the pinned Schemathesis CLI (PyPI `schemathesis`), the property-based API fuzzer
# the end-to-end test tests/e2e/api_fuzz.rs drives against a real `pipeline serve` from its
# OpenAPI document, into a virtual environment at <repo>/.tools/venv-schemathesis
# (git-ignored). The test finds it at .tools/venv-schemathesis/bin/schemathesis, or at
# $PIPELINE_TEST_SCHEMATHESIS_BIN.
#
# Idempotent: does nothing when the pinned version is already installed.
# Needs Python >= 3.9 with the venv module; set PYTHON to choose the interpreter.
# Usage: scripts/install-schemathesis.sh   (then: cargo nextest run -p pipeline --test e2e -E 'test(/api_fuzz/)')
set -euo pipefail

SCHEMATHESIS_VERSION="4.32.5"
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$repo_root/.tools/venv-schemathesis"
bin="$venv/bin/schemathesis"
python="${PYTHON:-python3}"

installed_version() {
    # `schemathesis --version` prints "Schemathesis v4.32.5"; it does not contact the network.
    "$bin" --version 2>/dev/null | awk '{print $NF}' | sed 's/^v//'
}

if [ -x "$bin" ] && [ "$(installed_version)" = "$SCHEMATHESIS_VERSION" ]; then
    exit 0
fi

if ! command -v "$python" >/dev/null 2>&1; then
    echo "install-schemathesis: $python not found; install Python >= 3.9 (with venv) or set PYTHON" >&2
    exit 2
fi

mkdir -p "$repo_root/.tools"
if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
    "schemathesis==$SCHEMATHESIS_VERSION"

if [ "$(installed_version)" != "$SCHEMATHESIS_VERSION" ]; then
    echo "install-schemathesis: $bin does not report version $SCHEMATHESIS_VERSION after install" >&2
    exit 3
fi
echo "schemathesis $SCHEMATHESIS_VERSION installed at $bin"
