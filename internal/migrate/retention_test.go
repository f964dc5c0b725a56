package migrate

import (
	"context"
	"errors"
	"testing"

	"github.com/auditpipeline/auditpipeline-operator/internal/testkit/chtest"
)

// The TTL of a database has one owner: a second pipeline is refused, and runs nothing, until it is
// asked to take over from the owner by its ID.
func TestRetentionHasOneOwner(t *testing.T) {
	srv := chtest.Shared(t)
	db := openDB(t, srv)
	ctx := context.Background()
	name := newDatabaseName(t, srv)
	m := newMigrator(t, db, embedded(t, nil), Options{Database: name, Owner: "test"})
	if _, err := m.Up(ctx, "latest"); err != nil {
		t.Fatal(err)
	}
	if o, err := m.RetentionOwner(ctx); err != nil || o.ID != "" {
		t.Fatalf("owner of a new database = %+v, %v; want nobody", o, err)
	}
	a := RetentionOwner{ID: "cluster-1/audit/a", PipelineUID: "uid-a"}
	b := RetentionOwner{ID: "cluster-2/audit/a", PipelineUID: "uid-b"}
	runs := map[string]int{}
	claim := func(who RetentionOwner, replaces string) error {
		return m.ClaimRetention(ctx, who, replaces, func(context.Context) error { runs[who.ID]++; return nil })
	}

	if err := claim(a, ""); err != nil {
		t.Fatal(err)
	}
	if err := claim(a, ""); err != nil {
		t.Fatal(err)
	}
	owner, err := m.RetentionOwner(ctx)
	if err != nil || owner.ID != a.ID || owner.PipelineUID != a.PipelineUID || owner.Since.IsZero() {
		t.Fatalf("owner after a's claims = %+v, %v", owner, err)
	}
	var owned *RetentionOwnedError
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
	if owner, _ := m.RetentionOwner(ctx); owner.ID != b.ID || runs[b.ID] != 1 {
		t.Fatalf("after b took over: owner %+v, runs %v", owner, runs)
	}

	// An apply that fails is the claim's error; the claim stays.
	boom := errors.New("boom")
	if err := m.ClaimRetention(ctx, b, "", func(context.Context) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("claim with a failing apply = %v, want boom", err)
	}
}
