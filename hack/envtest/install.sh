#!/usr/bin/env bash
# Builds kube-apiserver, kubectl (k8s.io/kubernetes) and etcd (go.etcd.io/etcd/server/v3) from the Go
# module proxy, because setup-envtest's download cannot work on machines without general internet access.
# The binaries are cached outside the clone, keyed by version, and a cached set is reused when every
# binary reports the expected version. Prints the directory to use as KUBEBUILDER_ASSETS on stdout;
# progress goes to stderr.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
k8s_version=$(awk '$1 == "k8s.io/kubernetes" {print $2}' "$here/kubernetes/go.mod" | head -n1)
[ -n "$k8s_version" ] || k8s_version=$(awk '/^require k8s.io\/kubernetes/ {print $3}' "$here/kubernetes/go.mod")
etcd_version=$(awk '/^require go.etcd.io\/etcd\/server\/v3/ {print $3}' "$here/etcd/go.mod")
if [ -z "$k8s_version" ] || [ -z "$etcd_version" ]; then
  echo "hack/envtest: cannot read the pinned versions from the nested go.mod files" >&2
  exit 1
fi

cache_root=${ENVTEST_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/auditpipeline-operator/envtest}
dest="$cache_root/k8s-${k8s_version}-etcd-${etcd_version}-$(go env GOOS)-$(go env GOARCH)"

# Each version is read whole before grep looks at it: `cmd | grep -q` under pipefail fails at random when
# grep exits early and cmd dies of SIGPIPE, which made cached binaries look wrong and rebuilt them.
cached_ok() {
  [ -x "$dest/kube-apiserver" ] && [ -x "$dest/kubectl" ] && [ -x "$dest/etcd" ] || return 1
  grep -qx "Kubernetes ${k8s_version}" <<<"$("$dest/kube-apiserver" --version 2>/dev/null)" || return 1
  grep -q "Client Version: ${k8s_version}" <<<"$("$dest/kubectl" version --client 2>/dev/null)" || return 1
  grep -q "etcd Version: ${etcd_version#v}" <<<"$("$dest/etcd" --version 2>/dev/null)" || return 1
}

if cached_ok; then
  echo "$dest"
  exit 0
fi

echo "hack/envtest: building kube-apiserver, kubectl ${k8s_version} and etcd ${etcd_version} into $dest (cold build: about 6 minutes on 2 cores)" >&2
tmp="$dest.tmp.$$"
rm -rf "$tmp"
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT

minor=${k8s_version#v}; major=${minor%%.*}; minor=${minor#*.}; minor=${minor%%.*}
build_date=$(date -u -d @0 +%Y-%m-%dT%H:%M:%SZ)
pkg=k8s.io/component-base/version
ldflags="-s -w -X $pkg.gitVersion=${k8s_version} -X $pkg.gitMajor=${major} -X $pkg.gitMinor=${minor}"
ldflags="$ldflags -X $pkg.gitTreeState=clean -X $pkg.buildDate=${build_date}"
ldflags="$ldflags -X $pkg/base.gitVersion=${k8s_version} -X $pkg/base.gitMajor=${major} -X $pkg/base.gitMinor=${minor}"

export CGO_ENABLED=0 GOFLAGS=-mod=mod
(cd "$here/kubernetes" && go build -trimpath -ldflags "$ldflags" -o "$tmp/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver)
(cd "$here/kubernetes" && go build -trimpath -ldflags "$ldflags" -o "$tmp/kubectl" k8s.io/kubernetes/cmd/kubectl)
(cd "$here/etcd" && go build -trimpath -ldflags "-s -w" -o "$tmp/etcd" go.etcd.io/etcd/server/v3)

rm -rf "$dest"
mv "$tmp" "$dest"
trap - EXIT
if ! cached_ok; then
  echo "hack/envtest: the built binaries do not report the expected versions:" >&2
  "$dest/kube-apiserver" --version >&2 || true
  "$dest/kubectl" version --client >&2 || true
  "$dest/etcd" --version >&2 || true
  exit 1
fi
echo "$dest"
