# AuditPipeline operator. `make help` lists the targets.

SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec

CONTROLLER_GEN := go tool controller-gen
GO_TEST_FLAGS ?= -count=1 -timeout=30m
IMG ?= auditpipeline-operator:latest
CHART := charts/auditpipeline-operator

.PHONY: help
help: ## Show the targets.
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z_-]+:.*##/ {printf "  %-18s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: ## Generate the CRDs and RBAC from the API types and markers, and copy them into the Helm chart.
	@# api/audit is the aggregated audit API (internal/auditapi), not custom resources: no CRDs from it.
	$(CONTROLLER_GEN) crd paths="./api/v1alpha1/..." output:crd:artifacts:config=config/crd/bases
	$(CONTROLLER_GEN) rbac:roleName=manager-role paths="./cmd/..." paths="./internal/controller/..." \
		output:rbac:artifacts:config=config/rbac
	@# The chart cannot reach outside its folder: it gets byte-identical copies (test/chart checks them).
	rm -f $(CHART)/crds/*.yaml
	cp config/crd/bases/*.yaml $(CHART)/crds/
	cp config/rbac/role.yaml $(CHART)/files/manager-role.yaml
	go run ./hack/api-docs -crd config/crd/bases/auditpipeline.io_auditpipelines.yaml -out docs/api.md

.PHONY: generate
generate: ## Generate the DeepCopy methods of the API types and the audit API's OpenAPI models.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./api/..." paths="./internal/altinity/..."
	@# The audit API server's OpenAPI models (server-side apply and kubectl need them), with the meta types it uses.
	go tool openapi-gen --output-dir internal/auditapi/openapi --output-file zz_generated.openapi.go \
		--output-model-name-file zz_generated.model_name.go \
		--output-pkg github.com/auditpipeline/auditpipeline-operator/internal/auditapi/openapi \
		--go-header-file hack/boilerplate.go.txt --report-filename /dev/null \
		--readonly-pkg k8s.io/apimachinery/pkg/apis/meta/v1 --readonly-pkg k8s.io/apimachinery/pkg/runtime --readonly-pkg k8s.io/apimachinery/pkg/version \
		k8s.io/apimachinery/pkg/apis/meta/v1 k8s.io/apimachinery/pkg/runtime k8s.io/apimachinery/pkg/version ./api/audit/v1alpha1

.PHONY: api-docs
api-docs: ## Write docs/api.md, the API reference, from the CRD (`make manifests` does it too; a test fails when it is stale).
	go run ./hack/api-docs -crd config/crd/bases/auditpipeline.io_auditpipelines.yaml -out docs/api.md

.PHONY: fmt
fmt: ## Format the Go code.
	gofmt -w $$(git ls-files '*.go')

.PHONY: vet
vet: ## Run go vet.
	go vet ./...

.PHONY: lint
lint: ## Fail on unformatted code, vet findings, or generated files that are out of date.
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change: $$unformatted"; exit 1; fi
	go vet ./...
	$(MAKE) --no-print-directory lint-scripts
	$(MAKE) --no-print-directory verify-generated

.PHONY: lint-scripts
lint-scripts: ## Check the shell scripts with bash -n and shellcheck (apt-get install shellcheck).
	@command -v shellcheck >/dev/null || { echo "shellcheck is missing: apt-get install shellcheck"; exit 1; }
	scripts=$$(git ls-files --cached --others --exclude-standard '*.sh' .ci/run); \
	for s in $$scripts; do bash -n "$$s"; done; \
	shellcheck --external-sources --severity=warning $$scripts

.PHONY: verify-generated
verify-generated: manifests generate ## Fail when `make manifests generate` changes tracked files.
	@git diff --exit-code --stat -- api config $(CHART) docs/api.md || \
		{ echo "generated files are out of date: run 'make manifests generate' and commit the result"; exit 1; }

.PHONY: migration-new
migration-new: ## Create migrations/NNNNN_<NAME>.sql, the next schema migration, from a commented template.
	@if [ -z "$(NAME)" ]; then echo "usage: make migration-new NAME=some_name (lower-case letters, digits, _)"; exit 2; fi
	go run ./hack/migration-new -dir migrations '$(NAME)'

.PHONY: migrate-local
migrate-local: ## Apply the embedded migrations to a local ClickHouse and show the schema status (ARGS=-keep keeps it running).
	go run ./hack/migrate-local $(ARGS)

BENCH_N ?= 2000000
FUZZTIME ?= 5m
.PHONY: bench
bench: ## Measure the events table on a local ClickHouse: bytes/row, insert rows/s, query latencies (BENCH_N events).
	@# madvdontneed=0: memory the harness's Go runtime returns to the kernel between batches stays mapped, so
	@# the next batch does not page-fault it in again (a third of the client's time, measured; docs/bench.md).
	GODEBUG=madvdontneed=0 go run ./hack/bench -n $(BENCH_N)

.PHONY: fuzz
fuzz: ## Search for audit events that do not come back whole from the events table (FUZZTIME; test/contract).
	go test ./test/contract/ -run '^$$' -fuzz FuzzEventsComeBackWhole -fuzztime $(FUZZTIME)

.PHONY: envtest
envtest: ## Build (or reuse) the control-plane binaries (cached outside the clone) and print their directory.
	@bash hack/envtest/install.sh

.PHONY: test
test: manifests generate vet helm-check ## Run every test against a real kube-apiserver, etcd and ClickHouse.
	@if [ -n "$$CI" ]; then $(MAKE) --no-print-directory verify-generated; fi
	assets=$$(bash hack/envtest/install.sh); chdb=$$(bash hack/clickhouse/install.sh); helm=$$(bash hack/tools/helm.sh); \
	promtool=$$(bash hack/tools/promtool.sh); \
	KUBEBUILDER_ASSETS="$$assets" CHDB_LIB="$$chdb" HELM="$$helm" PROMTOOL="$$promtool" go test $(GO_TEST_FLAGS) ./...

.PHONY: helm
helm: ## Build (or reuse) helm (cached outside the clone) and print its path.
	@bash hack/tools/helm.sh

.PHONY: promtool
promtool: ## Build (or reuse) promtool (cached outside the clone) and print its path; test/chart evaluates the alerts with it.
	@bash hack/tools/promtool.sh

.PHONY: helm-check
helm-check: ## Lint the Helm chart and render it, with default values and with the monitoring objects and dashboard on.
	helm=$$(bash hack/tools/helm.sh); \
	monitoring=(--set serviceMonitor.enabled=true --set prometheusRule.enabled=true --set dashboard.enabled=true); \
	"$$helm" lint --strict $(CHART); \
	"$$helm" lint --strict $(CHART) "$${monitoring[@]}"; \
	"$$helm" template auditpipeline-operator $(CHART) --namespace auditpipeline-system --include-crds >/dev/null; \
	"$$helm" template auditpipeline-operator $(CHART) --namespace auditpipeline-system "$${monitoring[@]}" >/dev/null

.PHONY: test-e2e
test-e2e: ## Run the end-to-end test on a kind cluster (hack/kind/e2e.sh); fails at once without a Docker engine.
	bash hack/kind/e2e.sh

##@ Run

.PHONY: run
run: manifests ## Run the operator: against a local control plane, or the cluster of your kubeconfig.
	bash hack/run.sh

.PHONY: sample-events
sample-events: ## Load recorded audit events into the ClickHouse of a running local `make run`, the newest at now (ARGS: hack/sample-events -h).
	@# localrun points the AuditPipeline default/local at its ClickHouse: its spec names the HTTP port.
	@kubectl="$$(bash hack/envtest/install.sh)/kubectl"; \
	ch=$$("$$kubectl" --kubeconfig .tmp/localrun/kubeconfig --request-timeout=5s get auditpipeline -n default local \
		-o jsonpath='{.spec.clickhouse.external.hosts[0]}:{.spec.clickhouse.external.httpPort} {.spec.clickhouse.database}') || \
		{ echo "no local control plane answers at .tmp/localrun/kubeconfig: run 'make run' (LOCAL=1 if you have a cluster) first"; exit 1; }; \
	read -r addr database <<<"$$ch"; \
	go run ./hack/sample-events -clickhouse "http://$$addr" -database "$$database" $(ARGS)

.PHONY: build
build: generate ## Build the manager binary into bin/manager.
	CGO_ENABLED=0 go build -trimpath -o bin/manager ./cmd

.PHONY: plugin
plugin: ## Build the kubectl plugin into bin/kubectl-auditpipeline (put bin/ on your PATH: `kubectl auditpipeline ...`).
	CGO_ENABLED=0 go build -trimpath -o bin/kubectl-auditpipeline ./cmd/kubectl-auditpipeline

.PHONY: docker-build
docker-build: ## Build the operator image (needs a Docker engine).
	docker build -t $(IMG) .

##@ Deployment (needs a cluster)

.PHONY: install
install: manifests ## Install the CRDs into the cluster of your kubeconfig.
	kubectl apply --server-side -k config/crd

.PHONY: uninstall
uninstall: ## Remove the CRDs (and with them every AuditPipeline) from the cluster.
	kubectl delete -k config/crd

.PHONY: deploy
deploy: manifests ## Deploy the operator with kustomize (config/default).
	kubectl apply --server-side -k config/default
