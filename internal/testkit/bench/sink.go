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
	return &SinkEncoder{in: in, limits: *s.Batch}, nil
}

// Add encodes r into the current batch, after closing that batch when r does not fit in it.
func (e *SinkEncoder) Add(r *Row) error {
	start := time.Now()
	defer func() { e.out.Encode += time.Since(start) }()
	line, err := e.in.Line(r.Values())
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
	st.Elapsed = time.Since(start)
	close(errs)
	if err := <-errs; err != nil {
		return st, fmt.Errorf("insert: %w", err)
	}
	return st, ctx.Err()
}
