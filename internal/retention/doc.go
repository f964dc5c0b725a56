// Package retention keeps the TTL of the live audit tables: it compares the TTL in force with the one the
// spec asks for (tiering.TTL renders it) and changes it with a diff-guarded ALTER TABLE ... MODIFY TTL,
// materialized only when a rule gets shorter (never for the recompression in merges); and it records which pipeline owns a database's TTL
// (OwnerTable), claimed under the schema lock, so that two pipelines writing into one database never
// fight over it. The controller's retention step (internal/controller/auditpipeline_retention.go) drives it.
package retention
