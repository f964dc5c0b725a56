// Package schematest gives tests a database of the test ClickHouse with the audit schema applied, as the
// operator applies it (internal/migrate over migrations/).
package schematest

import (
	"context"
	"database/sql"
	"testing"

	"github.com/auditpipeline/auditpipeline-operator/internal/migrate"
	"github.com/auditpipeline/auditpipeline-operator/internal/testkit/chtest"
	"github.com/auditpipeline/auditpipeline-operator/migrations"
)

// Migrated creates a new database on srv, applies every migration to it, and returns it with a pool
// whose current database is the server's default (closed when the test ends).
func Migrated(t testing.TB, srv *chtest.Server) (*sql.DB, string) {
	t.Helper()
	database, _ := srv.NewDatabase(t)
	db := srv.OpenDB("")
	t.Cleanup(func() { _ = db.Close() })
	ms, err := migrate.Load(migrations.FS)
	if err != nil {
		t.Fatal(err)
	}
	m, err := migrate.New(db, ms, migrate.Options{Database: database})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Up(context.Background(), "latest"); err != nil {
		t.Fatal(err)
	}
	return db, database
}
