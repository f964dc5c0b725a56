package migrate

import (
	"database/sql"
	"fmt"
	"strings"
	"testing"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/auditpipeline/auditpipeline-operator/internal/testkit/golden"
	"github.com/auditpipeline/auditpipeline-operator/migrations"
)

// TestRenderedSQL checks, as golden files, every statement the engine runs for each topology: the
// test server cannot replicate, so the ON CLUSTER and Replicated variants are checked as text here and
// run for real on kind. Run with -update to rewrite testdata/ and review the diff.
func TestRenderedSQL(t *testing.T) {
	ms, err := Load(migrations.FS)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		file string
		opts Options
	}{
		{"single_node.sql", Options{Database: "audit"}},
		{"single_node_hot_cold.sql", Options{Database: "audit", StoragePolicy: "hot_cold"}},
		{"on_cluster.sql", Options{Database: "audit", Cluster: "audit-prod", StoragePolicy: "hot_cold"}},
		{"replicated_database.sql", Options{Database: "audit", Cluster: "audit", Replicated: true, StoragePolicy: "hot_cold"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			m, err := New(dbStub(), ms, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			golden.Assert(t, tt.file, []byte(script(m)))
		})
	}
}

// script renders every statement m runs on a fresh database, in order, as one SQL text.
func script(m *Migrator) string {
	var b strings.Builder
	fmt.Fprintf(&b, "-- Options: database %s, cluster %q, replicated database %v, storage policy %q\n",
		m.opts.Database, m.opts.Cluster, m.opts.Replicated, m.opts.StoragePolicy)
	if m.data.Replicated {
		fmt.Fprintf(&b, "-- DDL runs with distributed_ddl_task_timeout = %d\n", int(m.opts.ReplicaTimeout.Seconds()))
	}
	stmt := func(comment, sql string) { fmt.Fprintf(&b, "\n-- %s\n%s;\n", comment, sql) }
	stmt("the database", createDatabase(m.opts))
	stmt("the lock, with Keeper", ddl(createKeeperLockTable, m.data))
	if !m.data.Replicated {
		stmt("the lock, without Keeper", ddl(createLocalLockTable, m.data))
	}
	stmt("checksum records", ddl(createChecksumTable, m.data))
	stmt("migration runs", ddl(createAttemptTable, m.data))
	stmt("goose's version table", ddl(createVersionTable, m.data))
	if m.data.Replicated {
		stmt("before reading the state", syncReplica(m.opts.Database, VersionTable))
		stmt("before reading the state", syncReplica(m.opts.Database, ChecksumTable))
	}
	for _, mig := range m.migrations {
		for i, s := range m.statements[mig.Version] {
			stmt(fmt.Sprintf("%s, statement %d", mig.Name, i+1), s)
		}
	}
	return b.String()
}

// dbStub is a pool that is never used: rendering needs no server.
func dbStub() *sql.DB {
	return ch.OpenDB(&ch.Options{Addr: []string{"127.0.0.1:9"}})
}
