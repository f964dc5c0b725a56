// Package render holds the pure builders shared by the pipeline's components: functions from an
// AuditPipeline to objects or configuration text, with no client. Component-specific renderers live in
// sub-packages (vector) or files of their own.
package render
