package retention

import (
	"context"
	"errors"
	"testing"

	ch "github.com/ClickHouse/clickhouse-go/v2"

	"github.com/auditpipeline/auditpipeline-operator/internal/migrate"
	"github.com/auditpipeline/auditpipeline-operator/internal/testkit/chtest"
	"github.com/auditpipeline/auditpipeline-operator/internal/testkit/golden"
	"github.com/auditpipeline/auditpipeline-operator/migrations"
)

// The TTL of a database has one owner: a second pipeline is refused, and runs nothing, until it is
// asked to take over from the owner by its ID.
func TestRetentionHasOneOwner(t *testing.T) {
	srv := chtest.New(t, chtest.Options{})
	db := srv.OpenDB("")
	t.Cleanup(func() { _ = db.Close() })
	ctx := context.Background()
	ms, err := migrate.Load(migrations.FS)
	if err != nil {
		t.Fatal(err)
	}
	m, err := migrate.New(db, ms, migrate.Options{Database: "audit_owner", Owner: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Up(ctx, "latest"); err != nil {
		t.Fatal(err)
	}
	if o, err := ReadOwner(ctx, m); err != nil || o.ID != "" {
		t.Fatalf("owner of a new database = %+v, %v; want nobody", o, err)
	}
	a := Owner{ID: "cluster-1/audit/a", PipelineUID: "uid-a"}
	b := Owner{ID: "cluster-2/audit/a", PipelineUID: "uid-b"}
	runs := map[string]int{}
	claim := func(who Owner, replaces string) error {
		return Claim(ctx, m, who, replaces, func(context.Context) error { runs[who.ID]++; return nil })
	}

	if err := claim(a, ""); err != nil {
		t.Fatal(err)
	}
	if err := claim(a, ""); err != nil {
		t.Fatal(err)
	}
	owner, err := ReadOwner(ctx, m)
	if err != nil || owner.ID != a.ID || owner.PipelineUID != a.PipelineUID || owner.Since.IsZero() {
		t.Fatalf("owner after a's claims = %+v, %v", owner, err)
	}
	var owned *OwnedError
	for _, replaces := range []string{"", "cluster-3/audit/a"} {
		if err := claim(b, replaces); !errors.As(err, &owned) || owned.Owner.ID != a.ID {
			t.Fatalf("b's claim replacing %q = %v, want a RetentionOwnedError naming a", replaces, err)
		}
	}
	if runs[a.ID] != 2 || runs[b.ID] != 0 {
		t.Fatalf("apply ran %v times, want twice for a and never for b", runs)
	}
	if err := claim(b, a.ID); err != nil {
		t.Fatal(err)
	}
	if err := claim(a, ""); !errors.As(err, &owned) || owned.Owner.ID != b.ID {
		t.Fatalf("a's claim after b took over = %v, want a RetentionOwnedError naming b", err)
	}
	if owner, _ := ReadOwner(ctx, m); owner.ID != b.ID || runs[b.ID] != 1 {
		t.Fatalf("after b took over: owner %+v, runs %v", owner, runs)
	}

	// An apply that fails is the claim's error; the claim stays.
	boom := errors.New("boom")
	if err := Claim(ctx, m, b, "", func(context.Context) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("claim with a failing apply = %v, want boom", err)
	}
}

// TestRenderedOwnerTable checks the owner table's DDL for each topology, as golden files (the test
// server cannot replicate).
func TestRenderedOwnerTable(t *testing.T) {
	ms, err := migrate.Load(migrations.FS)
	if err != nil {
		t.Fatal(err)
	}
	for file, opts := range map[string]migrate.Options{
		"owner_single_node.sql":         {Database: "audit"},
		"owner_on_cluster.sql":          {Database: "audit", Cluster: "audit-prod"},
		"owner_replicated_database.sql": {Database: "audit", Cluster: "audit", Replicated: true},
	} {
		t.Run(file, func(t *testing.T) {
			m, err := migrate.New(ch.OpenDB(&ch.Options{Addr: []string{"127.0.0.1:9"}}), ms, opts) // never used
			if err != nil {
				t.Fatal(err)
			}
			stmt, err := m.Render(createOwnerTable)
			if err != nil {
				t.Fatal(err)
			}
			golden.Assert(t, file, []byte(stmt+";\n"))
		})
	}
}
