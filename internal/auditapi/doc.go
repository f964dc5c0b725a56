// Package auditapi is the audit API server: audit.auditpipeline.io/v1alpha1 (api/audit/v1alpha1), an
// aggregated API that kube-apiserver proxies to, so that Kubernetes authentication and RBAC decide who
// reads which audit events (docs/auditapi.md).
//
// Every answer is scoped from the caller's request, never from what the caller sends: a list or query in
// namespace N returns the events whose objectRef.namespace is N, of the pipeline's cluster; a
// cluster-wide list or a ClusterAuditEventQuery returns every event of the cluster and needs the right to
// list auditevents cluster-wide. Field selectors and CEL filters narrow that scope and are ANDed with it
// in SQL, as parameters (internal/query), so no filter can widen it.
package auditapi
