#!/usr/bin/env bash
# `make run`: with a reachable cluster in the kubeconfig, install the CRDs there and run the operator
# against it; otherwise start a local control plane (hack/localrun) and run everything on this machine.
# LOCAL=1 forces the local control plane. Either program is built into .tmp/ and run without `go run`,
# which turns a clean stop on Ctrl-C into exit status 1.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# run_in_foreground runs a command so that stopping it with Ctrl-C ends `make run` with its status, 0
# after a clean stop. In the terminal's foreground the command is a job of its own (set -m): Ctrl-C
# reaches it alone, not make, which would otherwise die of the signal (status 130) once the command has
# stopped. Ctrl-Z stops make as well, and `fg` resumes both. Elsewhere, the command replaces this shell.
run_in_foreground() {
  local own foreground status
  own=$(ps -o pgid= -p $$ 2>/dev/null | tr -d ' ') || own=
  foreground=$(ps -o tpgid= -p $$ 2>/dev/null | tr -d ' ') || foreground=
  if [ ! -t 0 ] || [ -z "$own" ] || [ "$own" != "$foreground" ]; then
    exec "$@"
  fi
  set +e -m
  "$@"
  status=$?
  while [ -n "$(jobs -sp)" ]; do # stopped by Ctrl-Z
    kill -TSTP 0
    fg >/dev/null
    status=$?
  done
  exit "$status"
}

kubeconfig=${KUBECONFIG:-$HOME/.kube/config}
if [ -z "${LOCAL:-}" ] && [ -f "${kubeconfig%%:*}" ]; then
  assets=$(bash hack/envtest/install.sh)
  if "$assets/kubectl" --request-timeout=5s version >/dev/null 2>&1; then
    echo "Using the cluster of $kubeconfig ($("$assets/kubectl" config current-context))."
    "$assets/kubectl" apply --server-side -k config/crd
    go build -o .tmp/run/manager ./cmd
    echo "CRDs installed. Apply an AuditPipeline (see config/samples/) in another terminal."
    run_in_foreground .tmp/run/manager --metrics-bind-address=:8080 --metrics-secure=false --health-probe-bind-address=:8081
  fi
  echo "The cluster of $kubeconfig does not answer: using a local control plane instead."
fi
go build -o .tmp/localrun/localrun ./hack/localrun
run_in_foreground .tmp/localrun/localrun "$@"
