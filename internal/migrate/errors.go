package migrate

import (
	"errors"
	"fmt"
	"time"
)

// ErrInvalidTarget is wrapped by the error for a target that is neither "latest" nor a version number
// from 1 to the last embedded version. Retrying cannot fix it: the spec must change.
var ErrInvalidTarget = errors.New("invalid target version")

// ChecksumKind says how the applied history and the embedded migrations disagree.
type ChecksumKind string

const (
	// KindChanged: the file of an applied version was changed; Want and Got are the applied and the
	// embedded checksums.
	KindChanged ChecksumKind = "Changed"
	// KindSuperseded: the applied version is an earlier version of the file that changed in place before a
	// release (Options.Superseded); Want is the applied checksum, Got what changed.
	KindSuperseded ChecksumKind = "Superseded"
	// KindRenamed: an applied version number now belongs to a different file (a reused number, or a
	// renamed file); Want and Got are the applied and the embedded file names.
	KindRenamed ChecksumKind = "Renamed"
	// KindRenumbered: the file of an applied version now has another number; Want is the applied file
	// name, Got the embedded file that has the same name or content under another number.
	KindRenumbered ChecksumKind = "Renumbered"
	// KindMissing: an applied version has no embedded file (removed, or an operator older than the
	// schema); Want is the applied file name.
	KindMissing ChecksumKind = "Missing"
	// KindUnrecorded: goose's version table says a version is applied, but there is no checksum record
	// for it, so the file cannot be verified; Got is the embedded checksum.
	KindUnrecorded ChecksumKind = "Unrecorded"
	// KindOutOfOrder: an embedded migration is not applied although a higher version is: migrations
	// must be added after the last applied one. Want is the highest applied file name.
	KindOutOfOrder ChecksumKind = "OutOfOrder"
)

// ChecksumError means the versions applied to the database do not match the embedded migration files.
// Nothing is applied while it stands; a person must decide (see docs/migrations.md). The controller
// reports it as ChecksumMismatch.
type ChecksumError struct {
	// Version is the migration version in question.
	Version int64
	// Name is the file the version was applied from, or the embedded file when the database does not
	// know the name.
	Name string
	// Kind says what disagrees; Want (from the database) and Got (from the embedded files) depend on it.
	Kind ChecksumKind
	Want string
	Got  string
}

// Error describes the mismatch, naming the file.
func (e *ChecksumError) Error() string {
	switch e.Kind {
	case KindChanged:
		return fmt.Sprintf("migration %s (version %d) was changed after it was applied: applied %s, embedded %s", e.Name, e.Version, e.Want, e.Got)
	case KindSuperseded:
		return fmt.Sprintf("migration %s (version %d) was applied from an earlier version of the file (%s), whose tables this operator does not migrate: "+
			"give the pipeline a new database and copy the events over, as docs/migrations.md (A database from an earlier build) says", e.Name, e.Version, e.Got)
	case KindRenamed:
		return fmt.Sprintf("version %d was applied from %s, but the embedded file with that number is %s: an applied number must never be reused or renamed", e.Version, e.Want, e.Got)
	case KindRenumbered:
		return fmt.Sprintf("migration %s (version %d) is applied, but the file now has another number (%s): an applied migration must keep its number", e.Want, e.Version, e.Got)
	case KindMissing:
		if e.Name == "" {
			return fmt.Sprintf("version %d is applied, but no embedded migration has that number (and no record names its file): the file was removed, or this operator is older than the schema", e.Version)
		}
		return fmt.Sprintf("migration %s (version %d) is applied, but no embedded migration has that number: the file was removed, or this operator is older than the schema", e.Name, e.Version)
	case KindUnrecorded:
		return fmt.Sprintf("migration %s (version %d) is applied, but its checksum was never recorded, so the file cannot be verified", e.Name, e.Version)
	case KindOutOfOrder:
		return fmt.Sprintf("migration %s (version %d) is not applied, but a higher version (%s) is: new migrations must be numbered after the last applied one", e.Name, e.Version, e.Want)
	}
	return fmt.Sprintf("migration %s (version %d): %s: want %s, got %s", e.Name, e.Version, e.Kind, e.Want, e.Got)
}

// MigrationError is a migration that failed. It is not recorded as applied; once the cause is fixed
// (the file, or the server), the next Up applies it from its first statement, so statements must be
// idempotent (CREATE TABLE IF NOT EXISTS, ADD COLUMN IF NOT EXISTS, ...).
type MigrationError struct {
	// Version and Name identify the migration.
	Version int64
	Name    string
	// Statement is the rendered statement that failed, and Index its position in the file (from 1).
	Statement string
	Index     int
	// Err is the server's error.
	Err error
}

// maxStatementInError bounds the statement text in Error (the field keeps all of it).
const maxStatementInError = 400

// Error names the file, the statement and the cause.
func (e *MigrationError) Error() string {
	stmt := e.Statement
	if len(stmt) > maxStatementInError {
		stmt = stmt[:maxStatementInError] + "..."
	}
	return fmt.Sprintf("migration %s (version %d) failed at statement %d: %v; statement: %s", e.Name, e.Version, e.Index, e.Err, stmt)
}

// Unwrap returns the server's error.
func (e *MigrationError) Unwrap() error { return e.Err }

// LockedError means another migrator holds the schema lock of the database. Retry after Until (or
// sooner: the holder releases it when done).
type LockedError struct {
	// Owner is the holder's Options.Owner.
	Owner string
	// Until is when the holder's lease expires unless renewed.
	Until time.Time
	// Lost is true when this migrator held the lock and lost it (its lease expired and another
	// migrator took it over); it stopped applying.
	Lost bool
}

// Error names the holder.
func (e *LockedError) Error() string {
	if e.Lost {
		return fmt.Sprintf("lost the schema lock to %s (its lease runs until %s)", e.Owner, e.Until.UTC().Format(time.RFC3339))
	}
	return fmt.Sprintf("schema is locked by %s until %s", e.Owner, e.Until.UTC().Format(time.RFC3339))
}

// DatabaseEngineError means the pipeline's database exists with an engine the schema cannot live in
// (only Atomic, Replicated and Shared can). Nothing is written; retrying cannot fix it.
type DatabaseEngineError struct {
	Database string
	Engine   string
}

// Error names the database and its engine.
func (e *DatabaseEngineError) Error() string {
	return fmt.Sprintf("database %s has engine %s, but the audit schema needs an Atomic, Replicated or Shared (ClickHouse Cloud) database", e.Database, e.Engine)
}

// ConflictError means objects a pending migration creates already exist and were not created by an
// earlier run of that migration: they belong to someone else and are never written into. Nothing of
// the migration is applied; retrying cannot fix it.
type ConflictError struct {
	Database string
	// Objects are the existing names, without the database.
	Objects []string
	// Version and Name identify the migration.
	Version int64
	Name    string
}

// Error names the objects and the migration.
func (e *ConflictError) Error() string {
	return fmt.Sprintf("%s already exists but was not created by this schema's migrations (migration %s, version %d, would create it): the operator never writes into objects it did not create",
		qualifiedList(e.Database, e.Objects), e.Name, e.Version)
}
