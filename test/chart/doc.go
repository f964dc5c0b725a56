// Package chart holds the tests of the Helm chart in charts/auditpipeline-operator and of the Flux samples
// in config/samples/flux: the chart is rendered with the pinned helm (hack/tools/helm.sh) and every object is
// applied to a real kube-apiserver (internal/testkit/testenv) with the CRDs of the Prometheus operator installed,
// installed and uninstalled with `helm install`, the manager's ServiceAccount is checked against the API
// server's RBAC, as are the audit API's ServiceAccount and reader roles (auditapi_test.go), the manager's
// certificate rotator runs with the chart's rights, the rendered manager and audit API arguments are parsed
// by the real manager binary, and the rendered alerts are evaluated on example series by Prometheus's rule
// engine (promtool, hack/tools/promtool.sh). The package has no code of its own.
package chart
