#!/usr/bin/env bash
# Installs what the dashboard's browser tests (tests/e2e/dashboard.rs, which runs the
# Playwright scripts of tests/browser/) need:
#   - Debian's Chromium at /usr/bin/chromium (apt-get; sudo when not root), the browser
#     the tests drive through Playwright's `executable_path`;
#   - Playwright for Python (PyPI `playwright`, pinned) in a virtual environment at
#     <repo>/.tools/venv-browser (git-ignored). The test finds its interpreter at
#     .tools/venv-browser/bin/python, or at $PIPELINE_TEST_BROWSER_PYTHON.
# Playwright's own browser download (`playwright install`) is never run: the tests use
# the distribution's Chromium only, so nothing is fetched from outside the package
# registries.
#
# Idempotent: does nothing when Chromium and the pinned Playwright are already installed.
# Needs Python >= 3.9 with the venv module; set PYTHON to choose the interpreter.
# Usage: scripts/install-browser-tests.sh   (then: cargo nextest run -p pipeline --test e2e -E 'test(/dashboard/)')
set -euo pipefail

PLAYWRIGHT_VERSION="1.65.3"
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$repo_root/.tools/venv-browser"
python="${PYTHON:-python3}"

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

if [ ! -x /usr/bin/chromium ]; then
    echo "install-browser-tests: apt-get install -y chromium"
    # The package lists may be missing on a fresh machine; an update failure is reported
    # by the install that follows.
    as_root apt-get update -qq || true
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
fi
if [ ! -x /usr/bin/chromium ]; then
    echo "install-browser-tests: /usr/bin/chromium is still missing after apt-get install chromium" >&2
    exit 3
fi

installed_version() {
    # Reads the package metadata only: importing playwright does not start its driver.
    "$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("playwright"))' 2>/dev/null
}

if [ -x "$venv/bin/python" ] && [ "$(installed_version)" = "$PLAYWRIGHT_VERSION" ]; then
    exit 0
fi

if ! command -v "$python" >/dev/null 2>&1; then
    echo "install-browser-tests: $python not found; install Python >= 3.9 (with venv) or set PYTHON" >&2
    exit 2
fi

mkdir -p "$repo_root/.tools"
if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
    "playwright==$PLAYWRIGHT_VERSION"

if [ "$(installed_version)" != "$PLAYWRIGHT_VERSION" ]; then
    echo "install-browser-tests: $venv does not hold playwright $PLAYWRIGHT_VERSION after install" >&2
    exit 3
fi
echo "playwright $PLAYWRIGHT_VERSION installed in $venv (browser: /usr/bin/chromium)"
