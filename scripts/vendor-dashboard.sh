#!/usr/bin/env bash
# Re-vendors the dashboard's third-party JavaScript from the npm registry at the pinned
# versions below, and rewrites docs/THIRD_PARTY.lock (SHA-256 of every vendored file).
# Run by hand when a version changes, then update docs/THIRD_PARTY.md; the tests compare
# the files against the lock (src/serve/dashboard/tests.rs). Nothing at build or run time
# fetches anything: the files are committed.
#   scripts/vendor-dashboard.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

# package@version  file in the package  destination  licence
vendored=(
  "cytoscape@3.35.0 package/dist/cytoscape.esm.min.mjs dashboard/vendor/cytoscape.esm.min.mjs MIT"
  "cytoscape@3.35.0 package/LICENSE dashboard/vendor/licenses/cytoscape.txt MIT"
  "cytoscape-dagre@4.0.1 package/dist/cytoscape-dagre.min.mjs dashboard/vendor/cytoscape-dagre.min.mjs MIT"
  "cytoscape-dagre@4.0.1 package/LICENSE dashboard/vendor/licenses/cytoscape-dagre.txt MIT"
  "@dagrejs/dagre@3.1.4 package/LICENSE dashboard/vendor/licenses/dagre.txt MIT"
  "axe-core@4.14.1 package/axe.min.js tests/browser/vendor/axe.min.js MPL-2.0"
  "axe-core@4.14.1 package/LICENSE tests/browser/vendor/axe-core-LICENSE.txt MPL-2.0"
)

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
lock="$root/docs/THIRD_PARTY.lock"
{
  echo "# SHA-256  path  package@version  licence: every vendored third-party file."
  echo "# Written by scripts/vendor-dashboard.sh; checked by src/serve/dashboard/tests.rs."
} >"$lock.new"
for entry in "${vendored[@]}"; do
  read -r package member destination licence <<<"$entry"
  unpacked="$scratch/${package//\//_}"
  if [ ! -d "$unpacked" ]; then
    mkdir -p "$unpacked"
    # npm pack checks the tarball against the registry's integrity hash.
    tarball=$(cd "$unpacked" && npm pack --silent "$package")
    tar xzf "$unpacked/$tarball" -C "$unpacked"
  fi
  mkdir -p "$(dirname "$destination")"
  cp "$unpacked/$member" "$destination"
  echo "$(sha256sum "$destination" | cut -d' ' -f1)  $destination  $package  $licence" >>"$lock.new"
done
mv "$lock.new" "$lock"
echo "vendored ${#vendored[@]} files; docs/THIRD_PARTY.lock rewritten"
