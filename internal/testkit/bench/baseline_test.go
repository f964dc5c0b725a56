package bench

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/auditpipeline/auditpipeline-operator/internal/testkit/chtest"
)

// TestBaselineMeasure loads a small run with the baseline: the plain table holds every event, both schemas
// give the same answers to Q1-Q5 (MeasureBaseline fails otherwise), and the report prints the ratios.
func TestBaselineMeasure(t *testing.T) {
	srv := chtest.Shared(t)
	database, conn := srv.NewDatabase(t)
	db := srv.OpenDB("")
	t.Cleanup(func() { _ = db.Close() })
	rep, err := Run(context.Background(), db, conn, database, Options{Gen: GenOptions{Seed: 5, N: 5_000, Span: 48 * time.Hour}, Runs: 1, Baseline: true,
		Sink: &SinkOptions{Addr: srv.HTTPAddr, N: 2_000, InFlight: []int{1, 2}}})
	if err != nil {
		t.Fatal(err)
	}
	b := rep.Baseline
	if b.Rows != 5_000 || b.Bytes == 0 || b.Load.Rows != 5_000 || len(b.Queries) != len(baselineQueries) {
		t.Fatalf("baseline %+v", b)
	}
	for _, q := range b.Queries {
		if q.Returned == 0 || q.Ours <= 0 || q.Baseline <= 0 {
			t.Errorf("%s: %+v", q.ID, q)
		}
	}
	var out strings.Builder
	PrintBaseline(&out, rep.Storage, rep.Load, rep.Sink, b)
	if len(b.Sink) != 2 || b.Sink[0].Rows != 2_000 || b.Sink[1].Elapsed <= 0 {
		t.Errorf("the baseline's sink loads: %+v", b.Sink)
	}
	if !strings.Contains(out.String(), "insert rows/s as the aggregator's sink, 2 in flight") ||
		!strings.Contains(out.String(), "bytes/row on disk") || !strings.Contains(out.String(), "Q5 ms, whole events (") {
		t.Errorf("printed:\n%s", out.String())
	}
}
