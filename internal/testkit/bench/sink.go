package bench

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
	"github.com/auditpipeline/auditpipeline-operator/internal/render/vector"
	"github.com/auditpipeline/auditpipeline-operator/internal/testkit/sinkhttp"
	"github.com/auditpipeline/auditpipeline-operator/migrations"
)

// SinkBatches are events encoded as the aggregator's clickhouse sink sends them (internal/testkit/sinkhttp:
// JSONEachRow, gzip), cut into its batches.
type SinkBatches struct {
	Bodies [][]byte
	Rows   int
	// Bytes is what the bodies carry (gzip), JSON the uncompressed text.
	Bytes, JSON int64
	// Encode is the time it took to encode them.
	Encode time.Duration
}

// SinkEncoder encodes rows as the aggregator's sink would, cutting a batch as Vector does: full at
// the sink's max_events, or when the next event would take it past max_bytes. Vector counts an event's
// size in memory, about twice its JSON; the JSON stands for it here, so with a max_bytes that cuts
// batches early this cuts them later than Vector would.
type SinkEncoder struct {
	in     sinkhttp.Insert
	limits vector.Batch
	values func(*Row) map[string]any
	text   []byte
	events int
	out    SinkBatches
}

// NewSinkEncoder is an encoder for the aggregator's sink with the default spec.
func NewSinkEncoder() (*SinkEncoder, error) {
	s := AggregatorSink("audit")
	in, err := sinkhttp.For(s, nil)
	if err != nil {
		return nil, err
	}
	return &SinkEncoder{in: in, limits: *s.Batch, values: (*Row).Values}, nil
}

// NewBaselineSinkEncoder is an encoder of the baseline table's rows (baseline.go) with the same sink,
// pointed at that table: the plain design's insert the aggregator's way.
func NewBaselineSinkEncoder() (*SinkEncoder, error) {
	s := baselineSink("audit")
	in, err := sinkhttp.For(s, nil)
	if err != nil {
		return nil, err
	}
	return &SinkEncoder{in: in, limits: *s.Batch, values: baselineValues}, nil
}

// baselineSink is AggregatorSink inserting into the baseline table.
func baselineSink(database string) *vector.ClickHouseSink {
	s := AggregatorSink(database)
	s.Table = baselineTable
	return s
}

// Add encodes r into the current batch, after closing that batch when r does not fit in it.
func (e *SinkEncoder) Add(r *Row) error {
	start := time.Now()
	defer func() { e.out.Encode += time.Since(start) }()
	line, err := e.in.Line(e.values(r))
	if err != nil {
		return err
	}
	if e.events > 0 && (int64(e.events) >= e.limits.MaxEvents || int64(len(e.text)+len(line)) > e.limits.MaxBytes) {
		if err := e.flush(); err != nil {
			return err
		}
	}
	e.text = append(e.text, line...)
	e.events++
	return nil
}

func (e *SinkEncoder) flush() error {
	if e.events == 0 {
		return nil
	}
	body, err := e.in.Encode(e.text)
	if err != nil {
		return err
	}
	e.out.Bodies = append(e.out.Bodies, body)
	e.out.Rows += e.events
	e.out.Bytes += int64(len(body))
	e.out.JSON += int64(len(e.text))
	e.text, e.events = e.text[:0], 0
	return nil
}

// Finish encodes the last batch and returns them all.
func (e *SinkEncoder) Finish() (*SinkBatches, error) {
	start := time.Now()
	err := e.flush()
	e.out.Encode += time.Since(start)
	e.text = nil
	return &e.out, err
}

// SinkStats is what inserting took the aggregator's way (LoadSink).
type SinkStats struct {
	InFlight, Rows, Batches int
	// Bytes is what the requests carried (gzip), JSON the uncompressed text.
	Bytes, JSON int64
	// Elapsed is from the first request to the last answer.
	Elapsed time.Duration
}

// RowsPerSecond is the insert throughput.
func (s SinkStats) RowsPerSecond() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Rows) / s.Elapsed.Seconds()
}

// AggregatorSink is the clickhouse sink the operator renders for the aggregator of a pipeline writing
// to database with the default spec.
func AggregatorSink(database string) *vector.ClickHouseSink {
	p := &v1alpha1.AuditPipeline{}
	p.Name, p.Namespace = "bench", "audit-system"
	p.Spec.ClickHouse.Database = database
	return vector.AggregatorClickHouseSink(p)
}

// LoadSink migrates database and sends it the batches as the aggregator's sink does, over HTTP at
// addr, inFlight requests at a time (the aggregator has two replicas at least, each sending its own
// batches), with the settings the operator gives the aggregator's user (migrations.InsertSettings),
// sent with each request as the user's profile would apply them. The batches were encoded before
// the clock started: encoding is Vector's work, not the server's, and Vector is not this Go
// program. So the figure is what the server takes in by that path on this machine, both tables
// included.
func LoadSink(ctx context.Context, db *sql.DB, addr, database string, b *SinkBatches, inFlight int) (SinkStats, error) {
	st := SinkStats{InFlight: inFlight, Rows: b.Rows, Batches: len(b.Bodies), Bytes: b.Bytes, JSON: b.JSON}
	if inFlight < 1 {
		return st, fmt.Errorf("%d requests in flight: at least 1", inFlight)
	}
	if err := Migrate(ctx, db, database); err != nil {
		return st, fmt.Errorf("migrate: %w", err)
	}
	in, err := sinkhttp.For(AggregatorSink(database), migrations.InsertSettings)
	if err != nil {
		return st, err
	}
	st.Elapsed, err = sendBatches(ctx, in, addr, b, inFlight)
	return st, err
}

// LoadBaselineSink is LoadSink into the baseline table of a new database (batches of
// NewBaselineSinkEncoder), with the same insert settings.
func LoadBaselineSink(ctx context.Context, db *sql.DB, addr, database string, b *SinkBatches, inFlight int) (SinkStats, error) {
	st := SinkStats{InFlight: inFlight, Rows: b.Rows, Batches: len(b.Bodies), Bytes: b.Bytes, JSON: b.JSON}
	if inFlight < 1 {
		return st, fmt.Errorf("%d requests in flight: at least 1", inFlight)
	}
	for _, stmt := range []string{"CREATE DATABASE IF NOT EXISTS " + database, baselineDDL(database)} {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			return st, err
		}
	}
	in, err := sinkhttp.For(baselineSink(database), migrations.InsertSettings)
	if err != nil {
		return st, err
	}
	if st.Elapsed, err = sendBatches(ctx, in, addr, b, inFlight); err != nil {
		return st, err
	}
	var n int
	if err := db.QueryRowContext(ctx, "SELECT count() FROM "+database+"."+baselineTable).Scan(&n); err != nil || n != b.Rows {
		return st, fmt.Errorf("the baseline table holds %d rows after inserting %d (%v)", n, b.Rows, err)
	}
	return st, nil
}

// sendBatches sends b's bodies with in, inFlight requests at a time, and returns the time from the first
// request to the last answer.
func sendBatches(ctx context.Context, in sinkhttp.Insert, addr string, b *SinkBatches, inFlight int) (time.Duration, error) {
	client := &http.Client{Timeout: 5 * time.Minute}
	work := make(chan []byte)
	errs := make(chan error, inFlight)
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := time.Now()
	for range inFlight {
		wg.Go(func() {
			for body := range work {
				if err := in.Send(ctx, client, addr, body); err != nil {
					errs <- err
					cancel()
					return
				}
			}
		})
	}
feed:
	for _, body := range b.Bodies {
		select {
		case work <- body:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	if err := <-errs; err != nil {
		return elapsed, fmt.Errorf("insert: %w", err)
	}
	return elapsed, ctx.Err()
}
