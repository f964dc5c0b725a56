// Package vector renders the pipeline's Vector components from an AuditPipeline, with no client: the
// agent (a DaemonSet receiving kube-apiserver's audit webhook and publishing each event to JetStream)
// and the aggregator (a StatefulSet pulling the stream and inserting into ClickHouse), their
// configuration as typed structs marshalled to YAML, the kubeconfig-format audit webhook file for
// kube-apiserver, and CheckTopology, which checks a configuration's topology as Vector would. The
// package's tests check every rendered option against Vector's own option reference.
package vector
