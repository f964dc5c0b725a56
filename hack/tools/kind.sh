#!/usr/bin/env bash
# Builds kind from the Go module proxy (`go install sigs.k8s.io/kind@VERSION`) into a cache directory
# outside the clone, keyed by version, and prints the binary's path on stdout; progress goes to stderr. A
# cached binary that reports the pinned version is reused without building. kind itself needs a Docker
# engine to create clusters (hack/kind/e2e.sh).
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

version=${KIND_VERSION:-v0.33.0}
cache_root=${TOOLS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/auditpipeline-operator/tools}
dest="$cache_root/kind-${version}"

cached_ok() {
  [ -x "$dest/kind" ] || return 1
  local out
  out=$("$dest/kind" version 2>/dev/null) || return 1
  [[ "$out" == "kind ${version} "* ]]
}

install_tool kind "sigs.k8s.io/kind@${version}" "-s -w"
