// Package vector renders the pipeline's Vector components from an AuditPipeline, with no client: the
// collector (a DaemonSet receiving kube-apiserver's audit webhook and publishing each event to
// JetStream) and the aggregator (a StatefulSet pulling the stream and inserting into ClickHouse).
//
// One file per role and aspect: collector_config.go and collector_workload.go, aggregator_config.go and
// aggregator_workload.go; nats_client.go holds the NATS client both roles configure, config.go and
// components.go the configuration's types and what both configurations share, workload.go what both
// workloads share. apiserver.go renders the kubeconfig-format audit webhook file for kube-apiserver,
// topology.go checks a configuration's topology as Vector would (CheckTopology), unittests.go renders
// the Vector unit tests both configurations carry, which hold each VRL program to its Go twin on vrl's
// samples, and validationjob.go the Job that runs `vector validate` and `vector test` on a new
// configuration. The VRL programs the configurations run, their Go twins and the samples are in package
// vrl. The package's tests check every rendered option, and the unit tests, against Vector's own
// reference.
//
// The collector is what Vector's documentation calls an agent (a Vector instance on each node). This
// package, like all of internal/render, calls it the collector, in identifiers and comments alike: that
// is the API's word (spec.collector, status.collector, the CollectorReady condition), the rendered
// objects' (<pipeline>-collector, the app.kubernetes.io/component label "collector") and the
// controller's, none of which can change without changing the API or renaming live objects, so "agent"
// would be a second name for the same DaemonSet.
package vector
