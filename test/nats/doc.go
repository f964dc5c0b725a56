// Package nats holds the end-to-end test of the NATS step on real components: a control plane
// (envtest) with the operator's and NACK's CRDs, an embedded JetStream server on loopback, NACK's own
// JetStream controller and the operator's reconciler. The package has no code outside its tests.
package nats
