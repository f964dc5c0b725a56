#!/usr/bin/env bash
# Builds kind from the Go module proxy (`go install sigs.k8s.io/kind@VERSION`) into a cache directory
# outside the clone, keyed by version, and prints the binary's path on stdout; progress goes to stderr. A
# cached binary that reports the pinned version is reused without building. kind itself needs a Docker
# engine to create clusters (hack/kind/e2e.sh).
set -euo pipefail

version=${KIND_VERSION:-v0.33.0}
cache_root=${TOOLS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/auditpipeline-operator/tools}
dest="$cache_root/kind-${version}"

# cached_ok checks the binary's reported version; its output is captured first (no `| grep -q` under
# pipefail, which fails at random through SIGPIPE).
cached_ok() {
  [ -x "$dest/kind" ] || return 1
  local out
  out=$("$dest/kind" version 2>/dev/null) || return 1
  [[ "$out" == "kind ${version} "* ]]
}

if cached_ok; then
  echo "$dest/kind"
  exit 0
fi

echo "hack/tools/kind.sh: building kind ${version} into $dest" >&2
tmp="$dest.tmp.$$"
rm -rf "$tmp"
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
GOBIN="$tmp" CGO_ENABLED=0 GOFLAGS='' go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kind@${version}"

# Swap the new binary in with renames, so a concurrent reader never finds the directory half-written.
if [ -d "$dest" ]; then mv "$dest" "$dest.old.$$"; fi
mv "$tmp" "$dest"
rm -rf "$dest.old.$$"
trap - EXIT
if ! cached_ok; then
  echo "hack/tools/kind.sh: the built kind does not report ${version}:" >&2
  "$dest/kind" version >&2 || true
  exit 1
fi
echo "$dest/kind"
