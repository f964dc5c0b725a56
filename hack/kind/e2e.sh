#!/usr/bin/env bash
# End-to-end test on kind: a cluster whose kube-apiserver sends audit events to the pipeline
# (hack/kind/cluster.yaml), the Altinity clickhouse-operator, NATS with JetStream and NACK (their Helm
# charts), this operator (image built from the Dockerfile, installed with charts/auditpipeline-operator),
# the AuditPipeline config/samples/auditpipeline_kind.yaml; then API traffic (ConfigMaps created and
# deleted) whose audit events must show up in ClickHouse.
#
# Needs a Docker engine, git, network access to GitHub (the dependencies' charts) and to the images they
# pull, and memory for ClickHouse, NATS, Vector and the control plane on one node (several GB). Run it from
# anywhere: `make test-e2e` or `bash hack/kind/e2e.sh`.
#
# Environment:
#   KEEP_CLUSTER=1        keep the cluster afterwards (it is deleted otherwise, also on failure after the
#                         diagnostics are printed); a kept cluster is reused by the next run
#   CLUSTER_NAME          kind cluster name (auditpipeline-e2e)
#   KIND_NODE_IMAGE       node image (kind v0.33.0's default, Kubernetes v1.37.0)
#   KUBECTL               kubectl binary (default: the one hack/envtest/install.sh builds, v1.37.2)
#   ALTINITY_GIT, ALTINITY_REF   Git repository and ref of the Altinity clickhouse-operator chart
#                         (its GitHub repository, release-0.25.6: the version of the CRDs the tests use)
#   NATS_K8S_GIT, NATS_K8S_REF   Git repository and ref of the nats and nack charts (nats-io/k8s on GitHub,
#                         main; a tag of that repository pins them)
#   E2E_EVENTS_TABLE      database.table the aggregator inserts into (audit.events)
#
# What it relies on: the operator renders a Service named <pipeline>-collector in the pipeline's namespace with
# the webhook on port 8080, and the events table has the columns `verb`, `resource` and `name`
# (internal/eventrow Columns).
#
# How kube-apiserver reaches the collector: on a kind node, kube-apiserver uses the node's resolver, which
# does not know cluster DNS names, so the operator's URL http://<pipeline>-collector.<ns>.svc:8080/events
# cannot be used there. kube-proxy does route Service cluster IPs from the node itself, so
# hack/kind/audit/webhook.yaml points at a fixed cluster IP (from the service range's static band) and this
# script creates a Service with that clusterIP and the collector Service's selector. On a real cluster, use
# the operator's webhook file (docs/install.md) with a resolvable name.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"

cluster=${CLUSTER_NAME:-auditpipeline-e2e}
node_image=${KIND_NODE_IMAGE:-kindest/node:v1.37.0@sha256:a1ed56cfb0e7b93589bdf97c8cd566405a265939e3620fc4f5de89adff580ae5}
image=auditpipeline-operator:e2e
sample=config/samples/auditpipeline_kind.yaml
pipeline="kind-audit"
ns=audit
events_table=${E2E_EVENTS_TABLE:-audit.events}
work="$root/.tmp/kind"
started=$(date +%s)

log() { printf '[e2e %4ds] %s\n' "$(($(date +%s) - started))" "$*" >&2; }
fail() { log "FAIL: $*"; exit 1; }

# Preflight: a Docker engine first, so that machines without one fail at once and say why.
command -v docker >/dev/null || fail "docker is not installed: the kind end-to-end test needs a Docker engine"
if ! docker info >/dev/null 2>&1; then
  fail "no Docker engine answers (docker info failed): the kind end-to-end test cannot run on this machine"
fi
command -v git >/dev/null || fail "git is missing: the dependencies' charts are cloned from their repositories"
command -v curl >/dev/null || fail "curl is missing: the test sends the API server a request with a method of its own"
kind=$(bash hack/tools/kind.sh)
helm=$(bash hack/tools/helm.sh)
kubectl=${KUBECTL:-$(bash hack/envtest/install.sh)/kubectl}
mkdir -p "$work"
export KUBECONFIG="$work/kubeconfig"
# A helm of its own: configuration and cache in the work directory, the user's helm setup untouched.
export HELM_CONFIG_HOME="$work/helm/config" HELM_CACHE_HOME="$work/helm/cache" HELM_DATA_HOME="$work/helm/data"

k() { "$kubectl" "$@"; }

# The webhook's cluster IP, from the file kube-apiserver reads (hack/kind/audit/webhook.yaml).
webhook_server=$(awk '$1 == "server:" {print $2; exit}' hack/kind/audit/webhook.yaml)
webhook_ip=${webhook_server#http://}
webhook_ip=${webhook_ip%%:*}
[[ "$webhook_ip" =~ ^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$ ]] ||
  fail "cannot read the webhook's cluster IP from hack/kind/audit/webhook.yaml (server: $webhook_server)"

diagnostics() {
  log "diagnostics"
  k get nodes -o wide || true
  k get pods -A -o wide || true
  k -n "$ns" get auditpipelines -o yaml || true
  k -n "$ns" get events --sort-by=.lastTimestamp | tail -n 40 || true
  k -n auditpipeline-system logs deployment/auditpipeline-operator --tail=100 || true
}

cleanup() {
  local rc=$?
  if [ "$rc" -ne 0 ] && [ -s "$KUBECONFIG" ]; then diagnostics; fi
  if [ "${KEEP_CLUSTER:-}" = 1 ]; then
    log "keeping cluster $cluster (KUBECONFIG=$KUBECONFIG)"
  else
    "$kind" delete cluster --name "$cluster" --kubeconfig "$KUBECONFIG" >/dev/null 2>&1 || true
  fi
  exit "$rc"
}
trap cleanup EXIT

# 1. The cluster, with the audit flags of hack/kind/cluster.yaml (its hostPath is relative to the root).
clusters=$("$kind" get clusters 2>/dev/null || true) # captured: `| grep -q` under pipefail can die of SIGPIPE
if grep -qx "$cluster" <<<"$clusters"; then
  log "reusing cluster $cluster"
  "$kind" export kubeconfig --name "$cluster" --kubeconfig "$KUBECONFIG"
else
  log "creating cluster $cluster ($node_image)"
  "$kind" create cluster --name "$cluster" --config hack/kind/cluster.yaml --image "$node_image" \
    --kubeconfig "$KUBECONFIG" --wait 180s
fi
k -n kube-system get pod -l component=kube-apiserver \
  -o jsonpath='{.items[0].spec.containers[0].command}' >"$work/apiserver-command.json"
for flag in --audit-policy-file --audit-webhook-config-file --audit-webhook-batch-max-wait; do
  [[ "$(<"$work/apiserver-command.json")" == *"$flag="* ]] || fail "kube-apiserver runs without $flag"
done

# 2. Dependencies: Altinity clickhouse-operator, NATS with JetStream, NACK. Installed before this operator,
# which watches their kinds only when their CRDs exist at its start. Their charts come from the projects'
# Git repositories, at the refs below (shallow clones cached in .tmp/kind/src).
checkout() { # checkout NAME URL REF: prints the directory of a shallow clone of URL at REF
  local dir="$work/src/$1@$3"
  if [ ! -d "$dir/.git" ]; then
    rm -rf "$dir"
    git clone --quiet --depth 1 --branch "$3" "$2" "$dir" >&2
  fi
  echo "$dir"
}
altinity=$(checkout clickhouse-operator "${ALTINITY_GIT:-https://github.com/Altinity/clickhouse-operator}" \
  "${ALTINITY_REF:-release-0.25.6}") # the version of the CRDs the tests use (../shared/crds/altinity)
natsk8s=$(checkout nats-k8s "${NATS_K8S_GIT:-https://github.com/nats-io/k8s}" "${NATS_K8S_REF:-main}")
log "installing the Altinity clickhouse-operator"
"$helm" upgrade --install clickhouse-operator "$altinity/deploy/helm/clickhouse-operator" \
  --namespace clickhouse-operator --create-namespace --wait --timeout 10m
log "installing NATS with JetStream"
"$helm" upgrade --install nats "$natsk8s/helm/charts/nats" \
  --namespace nats --create-namespace \
  --set config.jetstream.enabled=true \
  --set config.jetstream.fileStore.pvc.size=2Gi \
  --wait --timeout 10m
log "installing NACK"
"$helm" upgrade --install nack "$natsk8s/helm/charts/nack" \
  --namespace nats \
  --set jetstream.nats.url=nats://nats.nats.svc:4222 \
  --wait --timeout 10m

# 3. This operator: the image from the Dockerfile, loaded into the node, installed with the chart.
log "building $image"
docker build -t "$image" .
"$kind" load docker-image "$image" --name "$cluster"
log "installing the operator with charts/auditpipeline-operator"
"$helm" upgrade --install auditpipeline-operator charts/auditpipeline-operator \
  --namespace auditpipeline-system --create-namespace \
  --set image.repository="${image%:*}" --set image.tag="${image#*:}" --set image.pullPolicy=Never \
  --set manager.logLevel=debug --set manager.waitInterval=5s \
  --wait --timeout 5m

# 4. The pipeline: its password Secret (random, never in a file), then the sample.
k create namespace "$ns" --dry-run=client -o yaml | k apply -f -
password=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
k -n "$ns" create secret generic clickhouse-audit --from-literal=password="$password" \
  --dry-run=client -o yaml | k apply -f -
log "applying $sample"
k apply -f "$sample"

# 5. The webhook's fixed address: a Service with that clusterIP in front of the collector pods, using the
# selector and target port of the collector Service the operator renders.
log "waiting for Service $pipeline-collector"
for _ in $(seq 1 120); do
  k -n "$ns" get service "$pipeline-collector" >/dev/null 2>&1 && break
  sleep 5
done
selector=$(k -n "$ns" get service "$pipeline-collector" -o jsonpath='{.spec.selector}') ||
  fail "the operator rendered no Service $pipeline-collector in namespace $ns"
target=$(k -n "$ns" get service "$pipeline-collector" -o jsonpath='{.spec.ports[?(@.port==8080)].targetPort}')
if [ -z "$selector" ] || [ -z "$target" ]; then
  fail "Service $pipeline-collector has no selector or no port 8080"
fi
k apply -f - <<EOF
apiVersion: v1
kind: Service
metadata:
  name: $pipeline-collector-apiserver
  namespace: $ns
  labels:
    app.kubernetes.io/part-of: auditpipeline-e2e
spec:
  clusterIP: $webhook_ip
  selector: $selector
  ports:
    - name: webhook
      port: 8080
      targetPort: $target
EOF

# 6. The whole pipeline Ready: ClickHouse, schema, stream, collector, aggregator.
log "waiting for AuditPipeline $ns/$pipeline to be Ready"
k -n "$ns" wait --for=condition=Ready "auditpipeline/$pipeline" --timeout=20m
k -n "$ns" get auditpipeline "$pipeline"

# 7. API traffic: ConfigMaps created and deleted, each one create and one delete event.
run=$(date +%s)
count=20
log "creating and deleting $count ConfigMaps e2e-$run-N"
k create namespace e2e-traffic --dry-run=client -o yaml | k apply -f -
for i in $(seq 1 "$count"); do
  k -n e2e-traffic create configmap "e2e-$run-$i" --from-literal=n="$i" >/dev/null
done
for i in $(seq 1 "$count"); do
  k -n e2e-traffic delete configmap "e2e-$run-$i" >/dev/null
done
# A watch of a few seconds: kube-apiserver sends a ResponseStarted and a ResponseComplete event with one
# auditID, and the ResponseComplete must reach ClickHouse (the agent's message id holds the stage).
log "watching the ConfigMaps of e2e-traffic for 5s"
timeout 5 "$kubectl" -n e2e-traffic get configmaps --watch >/dev/null 2>&1 || true
# A patch whose body nests 131 levels deep, which Vector's JSON decoder refuses: the API server records the
# body as sent (writes of ServiceAccounts at RequestResponse), and the agent must keep it as text, and the
# rest of the batch as usual, rather than refuse the batch.
deep="$(printf '[%.0s' $(seq 1 131))$(printf ']%.0s' $(seq 1 131))"
log "patching ServiceAccount e2e-$run-patched with a body nested 131 levels deep"
k -n e2e-traffic create serviceaccount "e2e-$run-patched" >/dev/null
k -n e2e-traffic patch serviceaccount "e2e-$run-patched" --type merge \
  -p "{\"metadata\":{\"labels\":{\"e2e\":\"deep\"}},\"e2eDeep\":$deep}" >/dev/null 2>&1 || true

# A request with a method the API server does not know, without credentials: it is audited with the verb
# "e2e..probe", which is no valid subject token as it is; the agent must publish it all the same.
apiserver=$(k config view --minify -o jsonpath='{.clusters[0].cluster.server}')
log "sending $apiserver an anonymous request with the method E2E..PROBE"
curl -sk -o /dev/null -X 'E2E..PROBE' "$apiserver/e2e-not-an-api-$run" || true

# 8. The events in ClickHouse: batches of the API server (5s), of the aggregator (10s), retries; allow 5 min.
chpod=$(k -n "$ns" get pods -l "clickhouse.altinity.com/chi=$pipeline" -o jsonpath='{.items[0].metadata.name}')
[ -n "$chpod" ] || fail "no ClickHouse pod of installation $pipeline"
# count_until QUERY WANT prints the count QUERY returns once it reaches WANT, or its last answer after 5 min.
count_until() {
  local got=0
  for _ in $(seq 1 60); do
    got=$(k -n "$ns" exec "$chpod" -c clickhouse -- \
      clickhouse-client --user audit --password "$password" --query "$1" 2>/dev/null || true)
    [[ "$got" =~ ^[0-9]+$ ]] || got=0
    [ "$got" -ge "$2" ] && break
    sleep 5
  done
  echo "$got"
}
query="SELECT count() FROM $events_table WHERE resource = 'configmaps' AND name LIKE 'e2e-$run-%' AND verb IN ('create', 'delete')"
want=$((2 * count))
log "waiting for $want audit events in $events_table (pod $chpod)"
got=$(count_until "$query" "$want")
[ "$got" -ge "$want" ] || fail "ClickHouse holds $got of the $want audit events of the ConfigMaps e2e-$run-*"
# The tenant (namespace tenancy) and the cluster the agent names (status.clusterName) lead the row.
cluster=$(k -n "$ns" get ap "$pipeline" -o jsonpath='{.status.clusterName}')
[ -n "$cluster" ] || fail "AuditPipeline $pipeline has no status.clusterName"
watches=$(count_until "SELECT count() FROM $events_table WHERE tenant_type = '' AND tenant = 'e2e-traffic'
  AND cluster = '$cluster' AND resource = 'configmaps'
  AND verb = 'watch' AND stage = 'ResponseComplete' AND event_time >= toDateTime64($run, 6)" 1)
[ "$watches" -ge 1 ] || fail "ClickHouse holds no ResponseComplete event of the watch of e2e-traffic's ConfigMaps under tenant e2e-traffic and cluster $cluster"
patched=$(count_until "SELECT count() FROM $events_table WHERE namespace = 'e2e-traffic' AND resource = 'serviceaccounts'
  AND name = 'e2e-$run-patched' AND verb = 'patch' AND JSONType(rest, 'requestObject') = 'String'" 1)
[ "$patched" -ge 1 ] || fail "ClickHouse holds no patch event of e2e-$run-patched with its body kept as text"
probes=$(count_until "SELECT count() FROM $events_table WHERE verb = 'e2e..probe' AND event_time >= toDateTime64($run, 6)" 1)
[ "$probes" -ge 1 ] || fail "ClickHouse holds no event of the request with the method E2E..PROBE"
k -n "$ns" exec "$chpod" -c clickhouse -- clickhouse-client --user audit --password "$password" \
  --query "SELECT verb, count() FROM $events_table WHERE name LIKE 'e2e-$run-%' GROUP BY verb ORDER BY verb FORMAT PrettyCompact"
log "PASS: $got audit events of the e2e ConfigMaps, the watch's ResponseComplete, the deep patch and the E2E..PROBE request reached ClickHouse"
