#!/usr/bin/env bash
# Builds promtool, Prometheus's rule checker and rule unit-test runner, from the Go module proxy
# (`go install github.com/prometheus/prometheus/cmd/promtool@VERSION`) into a cache directory outside the
# clone, keyed by version, and prints the binary's path on stdout; progress goes to stderr. A cached binary
# that reports the pinned version is reused without building. test/chart evaluates the chart's alerts with
# it (`promtool test rules`).
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# The Go module version of Prometheus: v0.316.0 is the module of the Prometheus 3.16 release.
version=${PROMTOOL_VERSION:-v0.316.0}
cache_root=${TOOLS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/auditpipeline-operator/tools}
dest="$cache_root/promtool-${version}"

cached_ok() {
  [ -x "$dest/promtool" ] || return 1
  local out
  out=$("$dest/promtool" --version 2>&1) || return 1
  [[ "$out" == "promtool, version ${version#v} "* ]]
}

# go install stamps no version into promtool; the ldflags give it the module version, which cached_ok reads.
install_tool promtool "github.com/prometheus/prometheus/cmd/promtool@${version}" \
  "-s -w -X github.com/prometheus/common/version.Version=${version#v}" \
  "cold: about 7 minutes on 2 cores; a warm build cache relinks in seconds"
