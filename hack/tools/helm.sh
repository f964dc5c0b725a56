#!/usr/bin/env bash
# Builds helm from the Go module proxy (`go install helm.sh/helm/v3/cmd/helm@VERSION`) into a cache
# directory outside the clone, keyed by version, and prints the binary's path on stdout; progress goes to
# stderr. A cached binary that reports the pinned version and was built by the current recipe is reused
# without building.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

version=${HELM_VERSION:-v3.22.0}
cache_root=${TOOLS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/auditpipeline-operator/tools}
dest="$cache_root/helm-${version}"

# The ldflags of helm's own release build: its version, and the Kubernetes version that `helm template` and
# `helm lint` assume (derived, as helm's Makefile does, from the client-go it requires; without them helm
# assumes Kubernetes v1.20). The file `recipe` beside the binary holds the revision of this recipe: bump
# `recipe` below when the flags change, and cached binaries built the old way are rebuilt.
recipe=2
ldflags_for() {
  local gomod client_go major minor
  gomod=$(cd "${TMPDIR:-/tmp}" && GOFLAGS='' go mod download -json "helm.sh/helm/v3@${version}" |
    awk -F'"' '$2 == "GoMod" {print $4}')
  client_go=$(awk '$1 == "k8s.io/client-go" {print $2; exit}' "$gomod")
  if [[ ! "$client_go" =~ ^v0\.([0-9]+)\. ]]; then
    echo "hack/tools/helm.sh: cannot read the client-go version of helm ${version} from $gomod" >&2
    return 1
  fi
  major=1 minor=${BASH_REMATCH[1]}
  local v=helm.sh/helm/v3
  echo "-s -w -X $v/internal/version.version=${version}" \
    "-X $v/pkg/chartutil.k8sVersionMajor=${major} -X $v/pkg/chartutil.k8sVersionMinor=${minor}" \
    "-X $v/pkg/lint/rules.k8sVersionMajor=${major} -X $v/pkg/lint/rules.k8sVersionMinor=${minor}"
}

# cached_ok checks the binary's reported version and the flags it was built with. Outputs are captured
# first: `helm version | grep -q` under pipefail fails at random when grep exits before helm has written
# everything (SIGPIPE).
cached_ok() {
  [ -x "$dest/helm" ] && [ -f "$dest/recipe" ] || return 1
  local out
  out=$("$dest/helm" version --template '{{.Version}}' 2>/dev/null) || return 1
  [[ "$out" == "$version" ]] || return 1
  out=$(<"$dest/recipe")
  [[ "$out" == "$recipe" ]]
}

stamp_build() { echo "$recipe" >"$1/recipe"; }

# ldflags_for asks the module proxy for helm's go.mod: only when a build is needed.
if cached_ok; then
  echo "$dest/helm"
  exit 0
fi
ldflags=$(ldflags_for)
install_tool helm "helm.sh/helm/v3/cmd/helm@${version}" "$ldflags" \
  "cold: 3 to 8 minutes on 2 cores; a warm build cache relinks in seconds"
