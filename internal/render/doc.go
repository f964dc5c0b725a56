// Package render holds pure builders: from an AuditPipeline's spec to the objects and configuration the
// operator applies (the NACK Stream, Consumer and Account in nats.go). Builders take no client and make no
// API calls, so they are tested with golden files (testdata/, regenerated with `go test -update`).
package render
