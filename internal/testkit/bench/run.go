package bench

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Targets of issue 7.
const (
	TargetBytesPerRow   = 100.0
	TargetRowsPerSecond = 100_000.0
)

// Options of a whole run.
type Options struct {
	Gen GenOptions
	// Runs is how often each query runs (20 when zero).
	Runs int
	// Settings are query-level settings for the measured queries (to try, e.g., lazy materialization).
	Settings clickhouse.Settings
	// Keep keeps the generated rows in Report.Rows (tests compute expected answers from them).
	Keep bool
	// Sink, when set, loads the first events again the aggregator's way, after the queries (LoadSink).
	Sink *SinkOptions
	// Baseline loads the events again into the plain schema of issue 22 and measures it beside ours.
	Baseline bool
}

// SinkOptions are the loads of Options.Sink: the first N events (all of them when N is 0 or more
// than there are), once for each number of requests in flight, each into a database of its own
// (the run's database name, _sink and the number in flight), dropped afterwards.
type SinkOptions struct {
	// Addr is the ClickHouse HTTP interface (host:port).
	Addr     string
	N        int
	InFlight []int
}

// Report is what a run measured.
type Report struct {
	N        int
	Load     LoadStats
	Optimize time.Duration
	Storage  Storage
	Params   Params
	Results  []Result
	// Reference is the median time of ReferenceSQL, which reads no table: the machine's speed during
	// the queries, to compare runs by.
	Reference time.Duration
	Rows      []Row
	// Sink are the loads of Options.Sink, in its order; SinkEncode is the time their batches took to
	// encode (once for all, before them).
	Sink       []SinkStats
	SinkEncode time.Duration
	// Plugin are the measures of PluginQueries (issue 23), taken after the queries.
	Plugin []PluginResult
	// Canary is the cost of the canary's queries (issue 24).
	Canary CanaryResult
	// Realism is what the generated events look like, next to the targets of issue 22.
	Realism Realism
	// Baseline is the plain schema measured beside ours (issue 22), with Options.Baseline.
	Baseline BaselineResult
}

// Run migrates database, loads the generated events, optimizes, measures the storage and the queries.
func Run(ctx context.Context, db *sql.DB, conn driver.Conn, database string, o Options) (*Report, error) {
	if o.Runs == 0 {
		o.Runs = 20
	}
	if o.Runs < 0 || o.Gen.N < 1 {
		return nil, fmt.Errorf("%d events and %d runs of each query: both must be at least 1", o.Gen.N, o.Runs)
	}
	sinkN := 0
	if o.Sink != nil {
		if o.Sink.N < 0 {
			return nil, fmt.Errorf("%d events for the sink's loads: 0 (all) or more", o.Sink.N)
		}
		sinkN = o.Sink.N
		if sinkN == 0 || sinkN > o.Gen.N {
			sinkN = o.Gen.N
		}
		for _, k := range o.Sink.InFlight {
			if k < 1 {
				return nil, fmt.Errorf("%d requests in flight: at least 1", k)
			}
		}
	}
	if err := Migrate(ctx, db, database); err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	rep := &Report{N: o.Gen.N}
	// The sink's loads send the first events again: they are encoded as they are generated (outside
	// the timed part of the first load) and kept as gzip bodies, which the collections between the
	// first load's batches need not scan.
	var sink, baseSink *SinkEncoder
	if o.Sink != nil {
		var err error
		if sink, err = NewSinkEncoder(); err != nil {
			return nil, err
		}
		if o.Baseline {
			if baseSink, err = NewBaselineSinkEncoder(); err != nil {
				return nil, err
			}
		}
	}
	g := NewGenerator(o.Gen)
	tr := NewTracker()
	realism := NewRealismTracker()
	n := 0
	next := func() (Row, bool, error) {
		if n == o.Gen.N {
			return Row{}, false, nil
		}
		n++
		ev := g.Next()
		r, err := RowOf(ev)
		realism.Add(ev, len(r.EventJSON))
		if err != nil {
			return r, false, err
		}
		tr.Add(&r)
		if n <= sinkN {
			if err := sink.Add(&r); err != nil {
				return r, false, fmt.Errorf("encode for the sink's loads: %w", err)
			}
			if baseSink != nil {
				if err := baseSink.Add(&r); err != nil {
					return r, false, fmt.Errorf("encode for the baseline's sink loads: %w", err)
				}
			}
		}
		if o.Keep {
			rep.Rows = append(rep.Rows, r)
		}
		return r, true, nil
	}
	var err error
	if rep.Load, err = Load(ctx, conn, database, next); err != nil {
		return nil, err
	}
	if rep.Optimize, err = Optimize(ctx, conn, database); err != nil {
		return nil, err
	}
	if rep.Storage, err = MeasureStorage(ctx, conn, database); err != nil {
		return nil, err
	}
	rep.Params = tr.Params()
	rep.Realism = realism.Realism()
	floor := FloorDatabase(database)
	if err := BuildFloor(ctx, db, conn, database, floor, rep.Params); err != nil {
		return nil, fmt.Errorf("floor: %w", err)
	}
	rep.Results, rep.Reference, err = Measure(ctx, conn, database, floor, rep.Params, o.Runs, o.Settings)
	if _, dropErr := db.ExecContext(context.WithoutCancel(ctx), "DROP DATABASE IF EXISTS "+floor+" SYNC"); dropErr != nil && err == nil {
		err = dropErr
	}
	if err != nil {
		return nil, err
	}
	if rep.Plugin, err = MeasurePlugin(ctx, conn, database, rep.Params, o.Runs, o.Settings); err != nil {
		return nil, fmt.Errorf("the plugin's path: %w", err)
	}
	if rep.Canary, err = MeasureCanary(ctx, db, database, rep.Params, o.Runs); err != nil {
		return nil, fmt.Errorf("the canary's queries: %w", err)
	}
	if o.Baseline {
		if rep.Baseline, err = MeasureBaseline(ctx, conn, database, o.Gen, rep.Params, o.Runs); err != nil {
			return nil, fmt.Errorf("the baseline schema: %w", err)
		}
	}
	if o.Sink != nil {
		b, err := sink.Finish()
		if err != nil {
			return nil, fmt.Errorf("encode %d events as the aggregator's sink: %w", sinkN, err)
		}
		rep.SinkEncode = b.Encode
		for _, k := range o.Sink.InFlight {
			st, err := loadSinkOnce(ctx, db, o.Sink.Addr, fmt.Sprintf("%s_sink%d", database, k), b, k)
			if err != nil {
				return nil, fmt.Errorf("insert %d events as the aggregator's sink, %d in flight: %w", sinkN, k, err)
			}
			rep.Sink = append(rep.Sink, st)
		}
		if baseSink != nil {
			b, err := baseSink.Finish()
			if err != nil {
				return nil, fmt.Errorf("encode %d events as the baseline's sink: %w", sinkN, err)
			}
			for _, k := range o.Sink.InFlight {
				name := fmt.Sprintf("%s_base_sink%d", database, k)
				st, err := LoadBaselineSink(ctx, db, o.Sink.Addr, name, b, k)
				if _, dropErr := db.ExecContext(context.WithoutCancel(ctx), "DROP DATABASE IF EXISTS "+name+" SYNC"); dropErr != nil && err == nil {
					err = dropErr
				}
				if err != nil {
					return nil, fmt.Errorf("insert %d events into the baseline as the aggregator's sink, %d in flight: %w", sinkN, k, err)
				}
				rep.Baseline.Sink = append(rep.Baseline.Sink, st)
			}
		}
	}
	return rep, nil
}

// loadSinkOnce is LoadSink into a new database, which it drops afterwards.
func loadSinkOnce(ctx context.Context, db *sql.DB, addr, database string, b *SinkBatches, inFlight int) (SinkStats, error) {
	if _, err := db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+database+" SYNC"); err != nil {
		return SinkStats{}, err
	}
	st, err := LoadSink(ctx, db, addr, database, b, inFlight)
	if _, dropErr := db.ExecContext(context.WithoutCancel(ctx), "DROP DATABASE IF EXISTS "+database+" SYNC"); dropErr != nil && err == nil {
		err = dropErr
	}
	return st, err
}

func perRow(bytes, rows uint64) float64 {
	if rows == 0 {
		return 0
	}
	return float64(bytes) / float64(rows)
}

func mark(ok bool) string {
	if ok {
		return "ok"
	}
	return "MISSED"
}

// Print writes the figures and their targets as a table.
func (r *Report) Print(w io.Writer) error {
	if err := r.Realism.Print(w); err != nil {
		return err
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "%d events, %d rows after OPTIMIZE FINAL in %d part(s); optimize took %s\n",
		r.N, r.Storage.Rows, r.Storage.Tables[0].Parts, r.Optimize.Round(time.Millisecond))
	for _, t := range r.Storage.Tables {
		fmt.Fprintf(w, "table %s: %d rows, %d part(s), %.1f bytes per event\n", t.Name, t.Rows, t.Parts, perRow(t.Bytes, r.Storage.Rows))
	}
	fmt.Fprintf(w, "insert: %s for %d rows, of which %s in Send (server side), the rest appending on the client\n",
		r.Load.Insert.Round(time.Millisecond), r.Load.Rows, r.Load.Send.Round(time.Millisecond))
	for _, st := range r.Sink {
		fmt.Fprintf(w, "insert as the aggregator's sink, %d in flight: %s for %d rows in %d requests (JSONEachRow, %.0f bytes of JSON and %.0f of gzip per event; encoded beforehand in %s)\n",
			st.InFlight, st.Elapsed.Round(time.Millisecond), st.Rows, st.Batches, perRow(uint64(st.JSON), uint64(st.Rows)),
			perRow(uint64(st.Bytes), uint64(st.Rows)), r.SinkEncode.Round(time.Millisecond))
	}
	fmt.Fprintf(w, "parameters: now=%s tenant=%s/%s user=%s object=%s/%s/%s (Q2) %s/%s/%s (Q2b) opened=%s %s (Q1O)\n\n",
		r.Params.Now.Format(time.RFC3339), r.Params.TenantType, r.Params.Tenant, r.Params.User,
		r.Params.Resource, r.Params.Namespace, r.Params.Name, r.Params.PolicyResource, r.Params.PolicyNamespace, r.Params.PolicyName,
		r.Params.OpenTime.Format(time.RFC3339Nano), r.Params.OpenID)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "measure\tvalue\ttarget\t\tfloor ms\trows read\tMB read\tserver ms\treturned")
	bpr := r.Storage.BytesPerRow()
	fmt.Fprintf(tw, "bytes/row on disk (all tables)\t%.1f\t<= %.0f\t%s\t\t\t\t\t\n", bpr, TargetBytesPerRow, mark(bpr <= TargetBytesPerRow))
	rps := r.Load.RowsPerSecond()
	fmt.Fprintf(tw, "insert rows/s\t%.0f\t>= %.0f\t%s\t\t\t\t\t\n", rps, TargetRowsPerSecond, mark(rps >= TargetRowsPerSecond))
	for _, st := range r.Sink {
		fmt.Fprintf(tw, "insert rows/s as the aggregator's sink (%d events, %d in flight)\t%.0f\t\t\t\t\t\t\t\n", st.Rows, st.InFlight, st.RowsPerSecond())
	}
	for _, res := range r.Results {
		ms := float64(res.Median.Microseconds()) / 1000
		target, verdict := "-", ""
		if res.Query.Target > 0 {
			target, verdict = fmt.Sprintf("<= %d", res.Query.Target.Milliseconds()), mark(res.Median <= res.Query.Target)
		}
		fmt.Fprintf(tw, "%s median ms (%s, %d runs)\t%.2f\t%s\t%s\t%.2f\t%d\t%.1f\t%d\t%d\n", res.Query.ID, res.Query.Title, res.Runs, ms,
			target, verdict, float64(res.Floor.Microseconds())/1000, res.ReadRows, float64(res.ReadBytes)/1e6, res.ServerMedian.Milliseconds(), res.Returned)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nfloor ms: the same query, with the same answer, asked in the same rounds of tables that hold only the events the")
	fmt.Fprintln(w, "queries return: its cost on this server with these columns and nothing to search. Keys, granules and indexes")
	fmt.Fprintln(w, "can only win the difference, median minus floor.")
	PrintBaseline(w, r.Storage, r.Load, r.Sink, r.Baseline)
	PrintCanary(w, r.Canary)
	if err := PrintPlugin(w, r.Plugin); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nmachine reference (median ms of a query on no table, run in every round; compare runs by it): %.2f\n",
		float64(r.Reference.Microseconds())/1000)
	if r.Storage.Rows == 0 || len(r.Storage.Columns) == 0 || r.Storage.Columns[0].Compressed == 0 {
		_, err := fmt.Fprintln(w, "\n(no per-column sizes: compact parts keep all columns in one file)")
		return err
	}
	fmt.Fprintln(w, "\nevents' columns by compressed size (bytes/row compressed, uncompressed):")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	for _, c := range r.Storage.Columns {
		fmt.Fprintf(tw, "  %s\t%.2f\t%.2f\t\n", c.Name, float64(c.Compressed)/float64(r.Storage.Rows), float64(c.Uncompressed)/float64(r.Storage.Rows))
	}
	return tw.Flush()
}
