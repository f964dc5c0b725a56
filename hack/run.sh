#!/usr/bin/env bash
# `make run`: with a reachable cluster in the kubeconfig, install the CRDs there and run the operator
# against it; otherwise start a local control plane (hack/localrun) and run everything on this machine.
# LOCAL=1 forces the local control plane.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

kubeconfig=${KUBECONFIG:-$HOME/.kube/config}
if [ -z "${LOCAL:-}" ] && [ -f "${kubeconfig%%:*}" ]; then
  assets=$(bash hack/envtest/install.sh)
  if "$assets/kubectl" --request-timeout=5s version >/dev/null 2>&1; then
    echo "Using the cluster of $kubeconfig ($("$assets/kubectl" config current-context))."
    "$assets/kubectl" apply --server-side -k config/crd
    echo "CRDs installed. Apply an AuditPipeline (see config/samples/) in another terminal."
    exec go run ./cmd --metrics-bind-address=:8080 --metrics-secure=false --health-probe-bind-address=:8081
  fi
  echo "The cluster of $kubeconfig does not answer: using a local control plane instead."
fi
exec go run ./hack/localrun "$@"
