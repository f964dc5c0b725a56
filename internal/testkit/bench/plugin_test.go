package bench

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/auditpipeline/auditpipeline-operator/internal/query"
	"github.com/auditpipeline/auditpipeline-operator/internal/testkit/chtest"
)

// TestPluginPath runs issue 23's measures on a small data set: the plugin's path (query.Compile,
// query.Client, the table) and the raw SQL must both give the events computed in Go from the generated
// rows, and a raw SQL with another answer, or the same events in another order, must be refused.
func TestPluginPath(t *testing.T) {
	database, conn := chtest.NewDatabase(t)
	db := chtest.Shared(t).OpenDB(database)
	t.Cleanup(func() { _ = db.Close() })
	ctx := context.Background()
	// Two days, so that the tenant's last hour holds events too.
	rep, err := Run(ctx, db, conn, database, Options{Gen: GenOptions{Seed: 4, N: 5_000, Span: 48 * time.Hour}, Runs: 3, Keep: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Plugin) != len(PluginQueries) {
		t.Fatalf("%d plugin results for %d measures", len(rep.Plugin), len(PluginQueries))
	}
	for i, r := range rep.Plugin {
		if r.Query.ID != PluginQueries[i].ID || r.Runs != 3 || r.Plugin <= 0 || r.Raw <= 0 || r.Run <= 0 || r.Returned == 0 ||
			r.ReadPlugin == 0 || r.ReadRaw == 0 || r.ServerPlugin <= 0 || r.ServerRaw <= 0 || r.Over != r.Plugin-r.Raw {
			t.Errorf("result %d: %+v", i, r)
		}
		if (r.Compile > 0) == r.Query.History {
			t.Errorf("%s: compile %s; a list compiles its filter, a history has none", r.Query.ID, r.Compile)
		}
	}
	var out bytes.Buffer
	if err := rep.Print(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"the plugin's path", "plugin - raw", "Q1P (", "Q2P (", "Q3P (", "<= +2"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}

	// The answers, from the generated rows: Q1's and Q3's, and the newest 1,000 writes of Q2's object,
	// oldest first.
	byID := map[string]Query{}
	for _, q := range Queries {
		byID[q.ID] = q
	}
	history := byID["Q2"]
	history.Less, history.Limit = newestFirst, 1000
	want := map[string][]uuid.UUID{}
	want["Q1P"], _ = byID["Q1"].Expected(rep.Params, rep.Rows)
	want["Q3P"], _ = byID["Q3"].Expected(rep.Params, rep.Rows)
	want["Q2P"], _ = history.Expected(rep.Params, rep.Rows)
	slices.Reverse(want["Q2P"])
	client := &query.Client{Conn: conn, Database: database}
	for _, q := range PluginQueries {
		if len(want[q.ID]) == 0 {
			t.Fatalf("%s: the parameters %+v select nothing: the test proves little", q.ID, rep.Params)
		}
		var table bytes.Buffer
		run, err := q.runPlugin(ctx, client, rep.Params, &table)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := q.runRaw(ctx, conn, database, rep.Params)
		if err != nil {
			t.Fatal(err)
		}
		var pluginIDs, rawIDs []uuid.UUID
		for _, e := range run.events {
			pluginIDs = append(pluginIDs, uuid.MustParse(e.AuditID))
		}
		for _, e := range raw {
			rawIDs = append(rawIDs, e.AuditID)
		}
		if diff := cmp.Diff(want[q.ID], pluginIDs); diff != "" {
			t.Errorf("%s by the plugin (-want +got):\n%s", q.ID, diff)
		}
		if diff := cmp.Diff(want[q.ID], rawIDs); diff != "" {
			t.Errorf("%s by the raw SQL (-want +got):\n%s", q.ID, diff)
		}
		// The table: a header and a line per event.
		if lines := strings.Count(table.String(), "\n"); lines != len(want[q.ID])+1 || !strings.HasPrefix(table.String(), "TIMESTAMP ") {
			t.Errorf("%s: the table has %d lines for %d events:\n%s", q.ID, lines, len(want[q.ID]), table.String())
		}
	}

	// Another answer is refused: one event fewer, or the same events oldest first.
	for name, edit := range map[string]func(string) string{
		"one event fewer": func(s string) string { return strings.Replace(s, "LIMIT 100", "LIMIT 100 OFFSET 1", 1) },
		"another order":   func(s string) string { return "SELECT * FROM (" + s + ") ORDER BY event_time ASC" },
	} {
		bad := PluginQueries[0]
		bad.RawSQL = edit(bad.RawSQL)
		if bad.RawSQL == PluginQueries[0].RawSQL {
			t.Fatalf("%s: the edit changed nothing", name)
		}
		if _, err := measurePlugin(ctx, conn, database, rep.Params, 1, nil, []PluginQuery{bad}); err == nil || !strings.Contains(err.Error(), "not the same answer") {
			t.Errorf("%s: %v, want the answers refused as not the same", name, err)
		}
	}
	if _, err := MeasurePlugin(ctx, conn, database, rep.Params, 0, nil); err == nil {
		t.Error("MeasurePlugin with 0 runs: no error")
	}
}
