package migrate

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
	"github.com/auditpipeline/auditpipeline-operator/internal/testkit/chtest"
	"github.com/auditpipeline/auditpipeline-operator/internal/tiering"
	"github.com/auditpipeline/auditpipeline-operator/migrations"
)

// TestMain shares one server: with Keeper (the KeeperMap lock) and the operator's hot_cold storage
// policy (hot volume only), as a managed single-node installation has it.
func TestMain(m *testing.M) {
	storage, err := tiering.StorageXML(&v1alpha1.ClickHouseSpec{})
	if err != nil {
		panic(err)
	}
	chtest.MainWithOptions(m, chtest.Options{Keeper: true, ConfigXML: string(storage)})
}

var databaseSeq atomic.Int64

// newDatabaseName returns a database name of the test's own, which does not exist yet (Up creates it),
// and drops the database when the test ends.
func newDatabaseName(t *testing.T, srv *chtest.Server) string {
	t.Helper()
	name := fmt.Sprintf("migrate_%d_%d", time.Now().UnixNano()%1e6, databaseSeq.Add(1))
	t.Cleanup(func() {
		db := srv.OpenDB("")
		defer func() { _ = db.Close() }()
		if _, err := db.Exec("DROP DATABASE IF EXISTS " + name + " SYNC"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	return name
}

// openDB returns a database/sql pool to srv, closed when the test ends.
func openDB(t *testing.T, srv *chtest.Server) *sql.DB {
	t.Helper()
	db := srv.OpenDB("")
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// newMigrator loads fsys and returns a migrator over db for database.
func newMigrator(t *testing.T, db *sql.DB, fsys fs.FS, opts Options) *Migrator {
	t.Helper()
	ms, err := Load(fsys)
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(db, ms, opts)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// embedded returns a copy of the embedded migrations with extra files added or replaced (an empty
// text removes the file).
func embedded(t *testing.T, extra map[string]string) fstest.MapFS {
	t.Helper()
	fsys := fstest.MapFS{}
	entries, err := fs.ReadDir(migrations.FS, ".")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := fs.ReadFile(migrations.FS, e.Name())
		if err != nil {
			t.Fatal(err)
		}
		fsys[e.Name()] = &fstest.MapFile{Data: data}
	}
	for name, text := range extra {
		if text == "" {
			delete(fsys, name)
			continue
		}
		fsys[name] = &fstest.MapFile{Data: []byte(text)}
	}
	return fsys
}

// queryStrings runs a query that returns one string column.
func queryStrings(t *testing.T, db *sql.DB, query string, args ...any) []string {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), query, args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer func() { _ = rows.Close() }()
	out := []string{}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// versionsOf lists the versions of a report's applied and pending migrations.
func versionsOf(r *Report) (applied, pending []int64) {
	applied, pending = []int64{}, []int64{}
	for _, a := range r.Applied {
		applied = append(applied, a.Version)
	}
	for _, p := range r.Pending {
		pending = append(pending, p.Version)
	}
	return applied, pending
}
