// Package kind holds the tests of the kind setup in hack/kind that run without a Docker engine, most of them
// on kube-apiserver (envtest's) started with the audit flags, policy and webhook file of
// hack/kind/cluster.yaml. It posts the audit events of real requests to a webhook; retries a refused batch
// and then drops and counts it; truncates, or drops and counts, events over the size limit; drops and counts
// what overflows its buffer, which refused batches do not wait in; records a patch's body as sent, which
// the agent's remap (its Go twin) must decode event by event; sends events that share an auditID (a
// watch's two stages, a client's Audit-ID), a client's X-Forwarded-For as the first source IP, and a
// client's unknown HTTP method as the verb, which the agent's message id, the aggregator's filter and the
// agent's subject must allow for; and takes the operator's rendered TLS webhook file. The pinned kind decodes the cluster configuration. The
// package has no code of its own; hack/kind/e2e.sh runs the whole pipeline on kind where Docker exists.
package kind
