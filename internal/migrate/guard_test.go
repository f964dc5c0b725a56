package migrate

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/auditpipeline/auditpipeline-operator/internal/testkit/chtest"
	"github.com/auditpipeline/auditpipeline-operator/migrations"
)

// A database whose engine cannot hold the schema is refused before anything is written into it.
func TestUpRefusesUnsupportedDatabaseEngine(t *testing.T) {
	srv := chtest.Shared(t)
	db := openDB(t, srv)
	name := newDatabaseName(t, srv)
	if _, err := db.Exec("CREATE DATABASE " + name + " ENGINE = Memory"); err != nil {
		t.Fatal(err)
	}
	m := newMigrator(t, db, migrations.FS, Options{Database: name, Owner: "test"})
	_, err := m.Up(context.Background(), "latest")
	var engine *DatabaseEngineError
	if !errors.As(err, &engine) || engine.Engine != "Memory" || engine.Database != name {
		t.Fatalf("Up = %v, want a DatabaseEngineError for engine Memory", err)
	}
	if tables := queryStrings(t, db, "SELECT name FROM system.tables WHERE database = ?", name); len(tables) != 0 {
		t.Errorf("tables %v were created in the Memory database", tables)
	}
}

// A table of a pending migration's name that someone else created is never written into: the
// migration stops with a ConflictError and the table keeps its columns and rows.
func TestUpRefusesForeignTable(t *testing.T) {
	srv := chtest.Shared(t)
	db := openDB(t, srv)
	name := newDatabaseName(t, srv)
	for _, stmt := range []string{
		"CREATE DATABASE " + name,
		"CREATE TABLE " + name + ".changes (note String) ENGINE = MergeTree ORDER BY note",
		"INSERT INTO " + name + ".changes VALUES ('theirs')",
	} {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatal(err)
		}
	}
	m := newMigrator(t, db, migrations.FS, Options{Database: name, Owner: "test"})
	rep, err := m.Up(context.Background(), "latest")
	var conflict *ConflictError
	if !errors.As(err, &conflict) || !slices.Equal(conflict.Objects, []string{"changes"}) || conflict.Version != 1 {
		t.Fatalf("Up = %v, want a ConflictError naming changes, of version 1", err)
	}
	if len(rep.Applied) != 0 || rep.Current != 0 {
		t.Errorf("report = %+v, want nothing applied", rep)
	}
	if cols := queryStrings(t, db, "SELECT name FROM system.columns WHERE database = ? AND table = 'changes'", name); !slices.Equal(cols, []string{"note"}) {
		t.Errorf("changes has columns %v, want its own [note]", cols)
	}
	if rows := queryStrings(t, db, "SELECT note FROM "+name+".changes"); !slices.Equal(rows, []string{"theirs"}) {
		t.Errorf("changes holds %v, want its own row", rows)
	}
	for _, ours := range []string{"events", "changes_mv", "events_json"} {
		if n := queryStrings(t, db, "SELECT name FROM system.tables WHERE database = ? AND name = ?", name, ours); len(n) != 0 {
			t.Errorf("%s was created although its migration conflicts", ours)
		}
	}
}

// A migration that died half-way is run again over the objects its first run created: they are ours,
// journaled in AttemptTable.
func TestUpResumesAHalfAppliedMigration(t *testing.T) {
	srv := chtest.Shared(t)
	db := openDB(t, srv)
	name := newDatabaseName(t, srv)
	ctx := context.Background()
	failing := "-- +goose Up\nCREATE TABLE IF NOT EXISTS {{.Database}}.a (id UInt64) ENGINE = MergeTree ORDER BY id;\nSELECT throwIf(1, 'stop here');\n"
	m := newMigrator(t, db, embedded(t, map[string]string{"00002_a.sql": failing}), Options{Database: name, Owner: "test"})
	var failed *MigrationError
	if _, err := m.Up(ctx, "latest"); !errors.As(err, &failed) || failed.Version != 2 {
		t.Fatalf("first Up = %v, want migration 2 to fail", err)
	}
	fixed := "-- +goose Up\nCREATE TABLE IF NOT EXISTS {{.Database}}.a (id UInt64) ENGINE = MergeTree ORDER BY id;\nCREATE TABLE IF NOT EXISTS {{.Database}}.b (id UInt64) ENGINE = MergeTree ORDER BY id;\n"
	m = newMigrator(t, db, embedded(t, map[string]string{"00002_a.sql": fixed}), Options{Database: name, Owner: "test"})
	rep, err := m.Up(ctx, "latest")
	if err != nil || rep.Current != 2 {
		t.Fatalf("second Up = %+v, %v; want version 2 applied over the table its first run created", rep, err)
	}
	if runs := queryStrings(t, db, "SELECT toString(count()) FROM "+name+"."+AttemptTable+" WHERE version = 2"); !slices.Equal(runs, []string{"2"}) {
		t.Errorf("runs of version 2 journaled = %v, want 2", runs)
	}
}

func TestCreatedObjects(t *testing.T) {
	stmts := []string{
		"CREATE TABLE IF NOT EXISTS audit.events ON CLUSTER c (id UInt64) ENGINE = MergeTree ORDER BY id",
		"create materialized view if not exists audit.changes_mv TO audit.changes AS SELECT 1",
		"CREATE VIEW audit.events_json AS SELECT 1",
		"CREATE OR REPLACE DICTIONARY `audit`.`users` (id UInt64) PRIMARY KEY id",
		"ALTER TABLE audit.events ADD COLUMN x UInt8",
		"CREATE TABLE other.t (id UInt64) ENGINE = Memory",
	}
	if got, want := objectsOf(stmts, "audit"), []string{"events", "changes_mv", "events_json", "users"}; !slices.Equal(got, want) {
		t.Errorf("objectsOf = %v, want %v", got, want)
	}
}

// A database an engine before the journal migrated, whose next migration died half-way, is migrated on:
// the first pending migration's objects are taken as ours. A later migration's foreign object is not.
func TestUpResumesAMigrationAnOlderEngineLeftHalfApplied(t *testing.T) {
	srv := chtest.Shared(t)
	db := openDB(t, srv)
	name := newDatabaseName(t, srv)
	ctx := context.Background()
	two := "-- +goose Up\nCREATE TABLE IF NOT EXISTS {{.Database}}.a (id UInt64) ENGINE = MergeTree ORDER BY id;\nCREATE TABLE IF NOT EXISTS {{.Database}}.b (id UInt64) ENGINE = MergeTree ORDER BY id;\n"
	three := "-- +goose Up\nCREATE TABLE IF NOT EXISTS {{.Database}}.c (id UInt64) ENGINE = MergeTree ORDER BY id;\n"
	if _, err := newMigrator(t, db, migrations.FS, Options{Database: name, Owner: "old"}).Up(ctx, "latest"); err != nil {
		t.Fatal(err)
	}
	// The older engine had no journal, and died in migration 2 after its first statement; someone else
	// created c.
	for _, stmt := range []string{"DROP TABLE " + name + "." + AttemptTable,
		"CREATE TABLE " + name + ".a (id UInt64) ENGINE = MergeTree ORDER BY id",
		"CREATE TABLE " + name + ".c (note String) ENGINE = MergeTree ORDER BY note"} {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatal(err)
		}
	}
	m := newMigrator(t, db, embedded(t, map[string]string{"00002_a.sql": two, "00003_c.sql": three}), Options{Database: name, Owner: "new"})
	rep, err := m.Up(ctx, "latest")
	var conflict *ConflictError
	if !errors.As(err, &conflict) || conflict.Version != 3 || rep.Current != 2 {
		t.Fatalf("Up = %+v, %v; want version 2 applied over its half, and version 3 refused for c", rep, err)
	}
}
