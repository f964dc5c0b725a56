#!/usr/bin/env bash
# Builds promtool, Prometheus's rule checker and rule unit-test runner, from the Go module proxy
# (`go install github.com/prometheus/prometheus/cmd/promtool@VERSION`) into a cache directory outside the
# clone, keyed by version, and prints the binary's path on stdout; progress goes to stderr. A cached binary
# that reports the pinned version is reused without building. test/chart evaluates the chart's alerts with
# it (`promtool test rules`).
set -euo pipefail

# The Go module version of Prometheus: v0.316.0 is the module of the Prometheus 3.16 release.
version=${PROMTOOL_VERSION:-v0.316.0}
cache_root=${TOOLS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/auditpipeline-operator/tools}
dest="$cache_root/promtool-${version}"
# go install stamps no version into promtool; the ldflags give it the module version, which cached_ok reads.
ldflags="-s -w -X github.com/prometheus/common/version.Version=${version#v}"

# cached_ok checks the version the binary reports. The output is captured first: a `| grep -q` under
# pipefail fails at random when grep exits before promtool has written everything (SIGPIPE).
cached_ok() {
  [ -x "$dest/promtool" ] || return 1
  local out
  out=$("$dest/promtool" --version 2>&1) || return 1
  [[ "$out" == "promtool, version ${version#v} "* ]]
}

if cached_ok; then
  echo "$dest/promtool"
  exit 0
fi

echo "hack/tools/promtool.sh: building promtool ${version} into $dest (cold: about 7 minutes on 2 cores; a warm build cache relinks in seconds)" >&2
tmp="$dest.tmp.$$"
rm -rf "$tmp"
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
GOBIN="$tmp" CGO_ENABLED=0 GOFLAGS='' go install -trimpath -ldflags "$ldflags" \
  "github.com/prometheus/prometheus/cmd/promtool@${version}"

# Swap the new binary in with renames, so a concurrent reader never finds the directory half-written.
if [ -d "$dest" ]; then mv "$dest" "$dest.old.$$"; fi
mv "$tmp" "$dest"
rm -rf "$dest.old.$$"
trap - EXIT
if ! cached_ok; then
  echo "hack/tools/promtool.sh: the built promtool does not report ${version}:" >&2
  "$dest/promtool" --version >&2 || true
  exit 1
fi
echo "$dest/promtool"
