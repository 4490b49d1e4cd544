#!/usr/bin/env bash
# Regenerates the error engine's test fixtures (error/tests/fixtures/) by running the REAL
# tools on deliberately broken code in a scratch directory and saving what they print.
#
# Each case writes two files:
#   <tool>/<case>.txt   stdout and stderr merged (2>&1), as the executor's output tail sees them
#   <tool>/<case>.exit  the exit status (a number)
# and VERSIONS.txt records the version of every tool used, so the plugins' doc comments can
# say which version a rule was written against.
#
# The scratch directory has a fixed path (/tmp/pipeline-error-fixtures) so that paths inside
# the outputs stay the same from one regeneration to the next.
#
# What it installs by itself (registries only, nothing else from the network):
#   - a Python venv with pytest, ruff, mypy and openai (PyPI)
#   - eslint and typescript with `npm install --prefix` (npm registry)
#   - Debian's golang-go with apt-get when `go` is missing
# cargo and git must already be present.
#
# Usage: scripts/capture-error-fixtures.sh [FIXTURE_DIR]   (default: error/tests/fixtures)
set -uo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
fixtures="${1:-$repo_root/error/tests/fixtures}"
work=/tmp/pipeline-error-fixtures
tools_dir="${PIPELINE_FIXTURE_TOOLS:-/tmp/pipeline-error-fixture-tools}"

rm -rf "$work"
mkdir -p "$work" "$fixtures" "$tools_dir"
versions="$fixtures/VERSIONS.txt"
echo "# Versions of the tools that produced these fixtures (scripts/capture-error-fixtures.sh)" >"$versions"
echo "# captured: $(date -u +%Y-%m-%dT%H:%M:%SZ)" >>"$versions"

# capture TOOL CASE COMMAND...: runs COMMAND in the current directory and saves its output.
capture() {
    local tool="$1" case="$2"
    shift 2
    mkdir -p "$fixtures/$tool"
    "$@" >"$fixtures/$tool/$case.txt" 2>&1
    echo "$?" >"$fixtures/$tool/$case.exit"
    echo "captured $tool/$case (exit $(cat "$fixtures/$tool/$case.exit"))"
}

die() {
    echo "capture-error-fixtures: $*" >&2
    exit 1
}

# ---------------------------------------------------------------- tool installation
command -v cargo >/dev/null || die "cargo is required (install Rust with rustup)"
command -v git >/dev/null || die "git is required"

venv="$tools_dir/venv"
if [ ! -x "$venv/bin/pytest" ] || [ ! -x "$venv/bin/ruff" ] || [ ! -x "$venv/bin/mypy" ] \
    || ! "$venv/bin/python" -c 'import openai' 2>/dev/null; then
    python3 -m venv "$venv" || die "python3 -m venv failed (install python3-venv)"
    "$venv/bin/pip" install --quiet pytest ruff mypy openai || die "pip install failed"
fi

node_tools="$tools_dir/node"
if [ ! -x "$node_tools/node_modules/.bin/eslint" ] || [ ! -x "$node_tools/node_modules/.bin/tsc" ]; then
    command -v npm >/dev/null || die "npm is required (apt-get install npm)"
    npm install --silent --no-audit --no-fund --prefix "$node_tools" eslint typescript \
        || die "npm install failed"
fi

if ! command -v go >/dev/null; then
    if [ -x /usr/lib/go/bin/go ]; then
        export PATH="/usr/lib/go/bin:$PATH"
    else
        apt-get update -qq && apt-get install -y -qq golang-go >/dev/null \
            || die "apt-get install golang-go failed"
    fi
fi

{
    echo "cargo: $(cargo --version)"
    echo "rustc: $(rustc --version)"
    echo "pytest: $("$venv/bin/pytest" --version 2>&1 | head -1)"
    echo "ruff: $("$venv/bin/ruff" --version)"
    echo "mypy: $("$venv/bin/mypy" --version)"
    echo "openai (python): $("$venv/bin/python" -c 'import openai; print(openai.__version__)')"
    echo "eslint: $("$node_tools/node_modules/.bin/eslint" --version)"
    echo "tsc: $("$node_tools/node_modules/.bin/tsc" --version)"
    echo "go: $(go version)"
    echo "git: $(git --version)"
    echo "python: $("$venv/bin/python" --version)"
    echo "curl: $(curl --version | head -1)"
    echo "npm: $(npm --version)"
} >>"$versions"

# ---------------------------------------------------------------- cargo / rustc
mkdir -p "$work/cargo-build/src"
cd "$work/cargo-build" || die "cd failed"
cat >Cargo.toml <<'EOF'
[package]
name = "broken"
version = "0.1.0"
edition = "2021"

[workspace]
EOF
cat >src/main.rs <<'EOF'
fn add(a: i32, b: i32) -> i32 {
    a + b
}

fn main() {
    let unused = 5;
    let total: i32 = add(1, "two");
    println!("{}", totl);
}
EOF
export CARGO_TARGET_DIR="$work/cargo-target"
capture cargo build-json cargo build --message-format=json
capture cargo build-human cargo build --color never

mkdir -p "$work/cargo-test/src"
cd "$work/cargo-test" || die "cd failed"
cat >Cargo.toml <<'EOF'
[package]
name = "failing"
version = "0.1.0"
edition = "2021"

[workspace]
EOF
cat >src/lib.rs <<'EOF'
pub fn add(a: i32, b: i32) -> i32 {
    a - b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_two_numbers() {
        assert_eq!(add(2, 2), 4);
    }

    #[test]
    fn adds_zero() {
        assert_eq!(add(3, 0), 3);
    }
}
EOF
capture cargo test-failure cargo test --color never
unset CARGO_TARGET_DIR

# ---------------------------------------------------------------- pytest
mkdir -p "$work/pytest-failures"
cd "$work/pytest-failures" || die "cd failed"
cat >calc.py <<'EOF'
def add(a, b):
    return a - b


def divide(a, b):
    return a / b
EOF
cat >test_calc.py <<'EOF'
from calc import add, divide


def test_add():
    assert add(2, 2) == 4


def test_divide_by_zero():
    assert divide(1, 0) == 0


def test_add_zero():
    assert add(3, 0) == 3
EOF
capture pytest failures "$venv/bin/pytest" -p no:cacheprovider --color=no

mkdir -p "$work/pytest-collection"
cd "$work/pytest-collection" || die "cd failed"
cat >test_imports.py <<'EOF'
from missing_module import helper


def test_helper():
    assert helper() == 1
EOF
capture pytest collection-error "$venv/bin/pytest" -p no:cacheprovider --color=no

# ---------------------------------------------------------------- ruff (JSON)
mkdir -p "$work/ruff"
cd "$work/ruff" || die "cd failed"
cat >lint_me.py <<'EOF'
import os
import sys


def greet(name):
    message = "hello " + nme
    return None
EOF
capture ruff check-json "$venv/bin/ruff" check --no-cache --output-format=json .

# ---------------------------------------------------------------- mypy
mkdir -p "$work/mypy"
cd "$work/mypy" || die "cd failed"
cat >typed.py <<'EOF'
def double(x: int) -> int:
    return x * 2


count: int = "three"
result: str = double(2)
double("4")
EOF
capture mypy default "$venv/bin/mypy" --no-incremental --no-color-output typed.py
capture mypy columns "$venv/bin/mypy" --no-incremental --no-color-output --show-column-numbers --show-error-codes typed.py

# ---------------------------------------------------------------- ESLint (JSON)
mkdir -p "$work/eslint"
cd "$work/eslint" || die "cd failed"
cat >eslint.config.js <<'EOF'
module.exports = [
  {
    files: ["**/*.js"],
    ignores: ["eslint.config.js"],
    languageOptions: { ecmaVersion: 2022, sourceType: "script" },
    rules: {
      "no-unused-vars": "error",
      "no-undef": "error",
      "eqeqeq": "warn",
    },
  },
];
EOF
cat >app.js <<'EOF'
function total(items) {
  var unused = 1;
  if (items.length == 0) {
    return missingValue;
  }
  return items.length;
}
total([]);
EOF
cat >broken.js <<'EOF'
function broken( {
  return 1;
}
EOF
capture eslint json "$node_tools/node_modules/.bin/eslint" -f json app.js broken.js

# ---------------------------------------------------------------- TypeScript tsc
mkdir -p "$work/tsc/src"
cd "$work/tsc" || die "cd failed"
cat >tsconfig.json <<'EOF'
{
  "compilerOptions": { "strict": true, "noEmit": true, "target": "es2020" },
  "include": ["src"]
}
EOF
cat >src/index.ts <<'EOF'
const count: number = "three";

function greet(name: string): string {
  return "hello " + name;
}

greet(42);
console.log(undefinedName);
EOF
capture tsc plain "$node_tools/node_modules/.bin/tsc" -p . --pretty false
capture tsc pretty "$node_tools/node_modules/.bin/tsc" -p . --pretty true

# ---------------------------------------------------------------- go test
export GOFLAGS=-mod=mod GOTOOLCHAIN=local GOPATH="$tools_dir/gopath" GOCACHE="$tools_dir/gocache"
mkdir -p "$work/go-test"
cd "$work/go-test" || die "cd failed"
cat >go.mod <<'EOF'
module example.com/calc

go 1.19
EOF
cat >calc.go <<'EOF'
package calc

func Add(a, b int) int {
	return a - b
}
EOF
cat >calc_test.go <<'EOF'
package calc

import "testing"

func TestAdd(t *testing.T) {
	if got := Add(2, 2); got != 4 {
		t.Errorf("Add(2, 2) = %d; want 4", got)
	}
}

func TestAddZero(t *testing.T) {
	if got := Add(3, 0); got != 3 {
		t.Fatalf("Add(3, 0) = %d; want 3", got)
	}
}

func TestPanics(t *testing.T) {
	var m map[string]int
	m["x"] = 1
}
EOF
capture go test-failure go test ./...

mkdir -p "$work/go-build"
cd "$work/go-build" || die "cd failed"
cat >go.mod <<'EOF'
module example.com/broken

go 1.19
EOF
cat >broken.go <<'EOF'
package broken

func Value() int {
	var s string = 5
	return undefinedThing
}
EOF
cat >broken_test.go <<'EOF'
package broken

import "testing"

func TestValue(t *testing.T) {
	if Value() != 1 {
		t.Fatal("wrong")
	}
}
EOF
capture go build-failure go test ./...

# ---------------------------------------------------------------- git merge conflict
mkdir -p "$work/git"
cd "$work/git" || die "cd failed"
git init -q -b main .
git config user.email fixtures@example.com
git config user.name fixtures
echo "one" >file.txt
git add file.txt && git commit -q -m base
git checkout -q -b other
echo "two" >file.txt
git commit -q -am other
git checkout -q main
echo "three" >file.txt
git commit -q -am main
capture git merge-conflict git merge --no-edit other

# ---------------------------------------------------------------- network and API errors
# A small HTTP server on 127.0.0.1 answers each path with a fixed status, so the real
# clients (curl, Python's urllib, the openai SDK) print their real error messages.
mkdir -p "$work/net"
cd "$work/net" || die "cd failed"
cat >server.py <<'EOF'
import http.server
import json
import sys

ROUTES = {
    "/429": (429, {"Retry-After": "20"}, {"error": {"message": "Rate limit reached for requests", "type": "requests", "code": "rate_limit_exceeded"}}),
    "/quota": (429, {}, {"error": {"message": "You exceeded your current quota, please check your plan and billing details.", "type": "insufficient_quota", "code": "insufficient_quota"}}),
    "/401": (401, {}, {"error": {"message": "Incorrect API key provided: sk-abc123. You can find your API key at https://platform.openai.com/account/api-keys.", "type": "invalid_request_error", "code": "invalid_api_key"}}),
    "/403": (403, {}, {"error": {"message": "Forbidden", "type": "permission_error"}}),
    "/404model": (404, {}, {"error": {"message": "The model `gpt-nonexistent` does not exist or you do not have access to it.", "type": "invalid_request_error", "code": "model_not_found"}}),
    "/500": (500, {}, {"error": {"message": "The server had an error while processing your request.", "type": "server_error"}}),
    "/503": (503, {}, {"error": {"message": "The engine is currently overloaded, please try again later", "type": "server_error"}}),
}


class Handler(http.server.BaseHTTPRequestHandler):
    def _answer(self):
        route = self.headers.get("X-Route") or self.path.split("?")[0]
        for prefix, answer in ROUTES.items():
            if route.startswith(prefix):
                status, headers, body = answer
                break
        else:
            status, headers, body = 404, {}, {"error": {"message": "no such route"}}
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    do_GET = _answer
    do_POST = _answer

    def log_message(self, *args):
        pass


server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
sys.stdout.close()
server.serve_forever()
EOF
"$venv/bin/python" server.py >port.txt &
server_pid=$!
for _ in $(seq 1 50); do
    [ -s port.txt ] && break
    sleep 0.1
done
port="$(cat port.txt)"
[ -n "$port" ] || die "the local HTTP server did not start"
base="http://127.0.0.1:$port"

capture network curl-429 curl -sS --fail-with-body -i "$base/429"
capture network curl-503 curl -sS --fail-with-body "$base/503"
capture network curl-refused curl -sS --max-time 5 http://127.0.0.1:9/
capture network curl-dns curl -sS --max-time 5 http://pipeline-fixture.invalid/
capture network urllib-refused "$venv/bin/python" -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9/')"

cat >openai_call.py <<'EOF'
import sys

from openai import OpenAI

route, model = sys.argv[1], sys.argv[2]
client = OpenAI(base_url=sys.argv[3] + "/v1", api_key="sk-abc123", max_retries=0, default_headers={"X-Route": route})
client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])
EOF
capture network openai-429 "$venv/bin/python" openai_call.py /429 gpt-4o "$base"
capture network openai-quota "$venv/bin/python" openai_call.py /quota gpt-4o "$base"
capture network openai-401 "$venv/bin/python" openai_call.py /401 gpt-4o "$base"
capture network openai-404-model "$venv/bin/python" openai_call.py /404model gpt-nonexistent "$base"
capture network openai-500 "$venv/bin/python" openai_call.py /500 gpt-4o "$base"
capture network openai-refused "$venv/bin/python" openai_call.py /none gpt-4o http://127.0.0.1:9

# npm against a registry on 127.0.0.1: nothing listening (ECONNREFUSED), and the local
# server answering 404 and 429 (the shipped external plugin error/plugins/npm is tested on these).
mkdir -p "$work/npm"
cd "$work/npm" || die "cd failed"
npm_install() {
    npm install --no-audit --no-fund --fetch-retries=0 --cache "$work/npm/cache" --registry "$1" left-pad
}
capture npm econnrefused npm_install http://127.0.0.1:9/
capture npm e404 npm_install "$base/404model/"
capture npm e429 npm_install "$base/429/"
cd "$work/net" || die "cd failed"

kill "$server_pid" 2>/dev/null
wait "$server_pid" 2>/dev/null

# ---------------------------------------------------------------- generic exit status / signal
cd "$work" || die "cd failed"
capture generic command-not-found sh -c 'definitely-not-a-real-command-xyz --help'
# /dev/full makes every write fail with ENOSPC: the real message of a full disk.
capture generic no-space dd if=/dev/zero of=/dev/full bs=1k count=1

rm -rf "$work"
echo "fixtures written to $fixtures"

# The classification corpus and the unittest/Jest/Vitest/go-build/npm-install fixtures
# (it adds its section to VERSIONS.txt, which this script rewrote above).
"$repo_root/error/tests/fixtures/capture-corpus.sh" "$fixtures" || die "capture-corpus.sh failed"
