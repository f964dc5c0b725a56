// Package migrate applies the embedded audit schema migrations (the migrations package) to ClickHouse
// and reports the result the controller writes into status.schema. It does not import client-go or
// controller-runtime.
//
// Use:
//
//	ms, err := migrate.Load(migrations.FS) // checks names, versions, templates, goose annotations
//	m, err := migrate.New(clickhouse.OpenDB(endpoint), ms, migrate.Options{
//		Database: "audit", Cluster: "", Replicated: false, StoragePolicy: "hot_cold",
//		Owner: podName, OnApplied: func(a migrate.Applied) { /* an Event per version */ },
//	})
//	report, err := m.Up(ctx, spec.Schema.TargetVersion) // or m.Status(ctx, target): read-only
//
// The errors to tell apart (errors.As): *ChecksumError (an applied version disagrees with the embedded
// files: reason ChecksumMismatch, nothing applied, a person must act), *LockedError (another migrator
// holds the lock: reason Locked, retry later), *MigrationError (a statement failed: reason Failed,
// with file and statement; not recorded, retried), and errors.Is(err, ErrInvalidTarget) (the spec
// asks for a version that does not exist). Any other error is a connection or server problem. Check
// *LockedError before *MigrationError: a migrator that loses its lock mid-migration returns a
// MigrationError wrapping a LockedError with Lost set.
//
// How it works:
//
//   - Goose (github.com/pressly/goose/v3, its ClickHouse dialect) orders the migrations, decides what is
//     applied and keeps its version table, goose_db_version, in the pipeline's database. Each embedded
//     file is given to goose as a Go migration that runs the file's rendered statements, so that a
//     failure names its statement and the checksum record is written in the same step.
//   - The checksum record (version, file name, sha256 of the raw file, applied time, duration) goes into
//     schema_migrations_checksums, before goose's version row. Before applying anything, every applied
//     version is checked against the embedded file of that number.
//   - Only an Atomic, Replicated or Shared database is written into (DatabaseEngineError); an object a
//     pending migration creates that already exists without a journaled run of that migration
//     (schema_migrations_attempts) is someone else's: the migration stops (ConflictError).
//   - Files are text/template templates (TemplateData): one file renders for a single node, for ON
//     CLUSTER DDL with Replicated* engines, or for a Replicated database, with or without a storage
//     policy. The checksum covers the raw file, the server runs the rendered text.
//   - One migrator at a time per database: a lock in ClickHouse (schema_migrations_lock), a KeeperMap
//     compare-and-set when the server has Keeper, else a MergeTree insert deduplicated by the epoch
//     (single node only). Leases expire (Options.LockTTL) and are renewed while held.
//   - Waits for other replicas are bounded by Options.ReplicaTimeout.
//
// See docs/migrations.md for how to add a migration and how to recover from a checksum mismatch.
package migrate
