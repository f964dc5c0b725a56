// Package tiering turns the AuditPipeline's storage spec into ClickHouse configuration: the storage.xml
// that defines the hot volume on the local disk and the cold volume on an S3 disk (credentials through
// environment variables, never in the file), and the TTL clauses that recompress in merges, move data to
// the cold volume and delete it after the retention age. It is pure: no client-go, no controller-runtime.
package tiering
