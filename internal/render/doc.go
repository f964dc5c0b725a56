// Package render holds the pure builders of the objects an AuditPipeline becomes: spec in, object or
// configuration text out, no client. The reconciler applies what they return.
package render
