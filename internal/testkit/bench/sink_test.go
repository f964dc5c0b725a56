package bench

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"testing"

	"github.com/auditpipeline/auditpipeline-operator/internal/testkit/chtest"
	"github.com/auditpipeline/auditpipeline-operator/migrations"
)

// encode encodes rows as the aggregator's sink, with batches of at most maxEvents events and maxBytes
// of JSON instead of the sink's.
func encode(t *testing.T, rows []Row, maxEvents, maxBytes int64) *SinkBatches {
	t.Helper()
	e, err := NewSinkEncoder()
	if err != nil {
		t.Fatal(err)
	}
	if e.limits.MaxEvents != BatchSize {
		t.Errorf("the sink's max_events is %d, want %d (DESIGN.md)", e.limits.MaxEvents, BatchSize)
	}
	e.limits.MaxEvents, e.limits.MaxBytes = maxEvents, maxBytes
	for i := range rows {
		if err := e.Add(&rows[i]); err != nil {
			t.Fatal(err)
		}
	}
	b, err := e.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSinkBatches checks that the encoder cuts batches at max_events and at max_bytes of JSON, as
// Vector does, and loses no row.
func TestSinkBatches(t *testing.T) {
	rows := generate(t, GenOptions{Seed: 11, N: 2_500})
	// With the sink's defaults max_events decides for these events: max_bytes holds max_events of them
	// at twice their JSON, about what Vector counts for them in memory.
	e, err := NewSinkEncoder()
	if err != nil {
		t.Fatal(err)
	}
	all := encode(t, rows, e.limits.MaxEvents, e.limits.MaxBytes)
	if perEvent := all.JSON / int64(all.Rows); e.limits.MaxBytes < 2*perEvent*e.limits.MaxEvents {
		t.Errorf("max_bytes %d holds fewer than max_events (%d) events of %d bytes of JSON at twice that", e.limits.MaxBytes, e.limits.MaxEvents, perEvent)
	}
	for _, c := range []struct {
		name      string
		maxEvents int64
		maxBytes  int64
	}{
		{"events", 1_000, 10_000_000},
		{"bytes", 10_000, 200_000},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := encode(t, rows, c.maxEvents, c.maxBytes)
			var plains [][]byte
			for i, body := range b.Bodies {
				zr, err := gzip.NewReader(bytes.NewReader(body))
				if err != nil {
					t.Fatalf("batch %d is not gzip: %v", i, err)
				}
				plain, err := io.ReadAll(zr)
				if err != nil {
					t.Fatal(err)
				}
				plains = append(plains, plain)
			}
			total := 0
			var text int64
			for i, plain := range plains {
				lines := bytes.Count(plain, []byte("\n"))
				total += lines
				text += int64(len(plain))
				if int64(lines) > c.maxEvents || int64(len(plain)) > c.maxBytes {
					t.Errorf("batch %d: %d events, %d bytes of JSON; limits %d and %d", i, lines, len(plain), c.maxEvents, c.maxBytes)
				}
				// A batch is cut when it is full or the next event would not fit, not earlier.
				if i < len(plains)-1 {
					next := bytes.IndexByte(plains[i+1], '\n') + 1
					if int64(lines) < c.maxEvents && int64(len(plain)+next) <= c.maxBytes {
						t.Errorf("batch %d cut early: %d events, %d bytes, the next event %d bytes", i, lines, len(plain), next)
					}
				}
			}
			if total != len(rows) || b.Rows != len(rows) || text != b.JSON {
				t.Errorf("%d events in %d batches (counted %d, %d bytes of JSON, counted %d); want %d", total, len(b.Bodies), b.Rows, text, b.JSON, len(rows))
			}
		})
	}
}

// TestLoadSink sends events as the aggregator's sink does, two requests at a time, and reads them back
// whole; the same batches again (a redelivery) collapse.
func TestLoadSink(t *testing.T) {
	srv := chtest.Shared(t)
	database, conn := srv.NewDatabase(t)
	db := srv.OpenDB("default")
	t.Cleanup(func() { _ = db.Close() })
	rows := generate(t, GenOptions{Seed: 12, N: 3_000})
	b := encode(t, rows, 500, 10_000_000)
	ctx := context.Background()
	for range 2 {
		st, err := LoadSink(ctx, db, srv.HTTPAddr, database, b, 2)
		if err != nil {
			t.Fatal(err)
		}
		if st.Rows != len(rows) || st.Batches != 6 || st.Elapsed <= 0 || st.RowsPerSecond() <= 0 {
			t.Errorf("stats %+v: want %d rows in 6 batches", st, len(rows))
		}
	}
	if _, err := Optimize(ctx, conn, database); err != nil {
		t.Fatal(err)
	}
	checkEventsComeBack(t, conn, database, rows)
	// With the settings the operator gives the aggregator's user (in the URL here).
	checkInsertSettings(t, conn, migrations.InsertSettings, "has(tables, ?) AND query LIKE '%FORMAT JSONEachRow%'", database+".events")
	if _, err := LoadSink(ctx, db, srv.HTTPAddr, database, b, 0); err == nil {
		t.Error("LoadSink with 0 requests in flight: no error")
	}
}
