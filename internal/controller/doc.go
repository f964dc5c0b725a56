// Package controller holds the AuditPipeline reconciler. Reconcile (auditpipeline_controller.go) is one
// skeleton: fetch, a deferred single status patch, the deletion branch, the finalizer, suspend, then an
// ordered list of component steps, one file each. Condition bookkeeping that makes no API calls lives in
// auditpipeline_status.go.
package controller
