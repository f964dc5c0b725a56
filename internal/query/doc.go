// Package query reads audit events back from the pipeline's ClickHouse: a CEL filter over the audit
// event's fields, parsed and type-checked (cel.go) and translated into ClickHouse SQL whose every value
// is a query parameter, never text spliced into the statement; the shortcut filters, time range and
// stable paging of a list (query.go); one object's history (history.go) and the diff between its states
// (diff.go); and running them on a server (client.go). The kubectl plugin (cmd/kubectl-auditpipeline)
// and, later, an API server use it, so both apply the same rules.
package query
