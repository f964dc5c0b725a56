// Command bench measures the audit events table on a local ClickHouse (internal/testkit/chtest): it loads N
// generated audit events, optimizes, and prints bytes per row, insert throughput and the latency of
// the five queries of issue 7 next to their targets, then what the kubectl plugin's path adds to three of
// them (issue 23). `make bench` runs it; BENCH_N sets -n.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/auditpipeline/auditpipeline-operator/internal/testkit/bench"
	"github.com/auditpipeline/auditpipeline-operator/internal/testkit/chtest"
)

// config is what the flags set.
type config struct {
	n, runs, tenants int
	seed             uint64
	settings         clickhouse.Settings
	// sinkN events are loaded again as the aggregator's sink sends them, once for each of inFlight.
	sinkN    int
	inFlight []int
	baseline bool
}

func main() {
	c := config{settings: clickhouse.Settings{}, inFlight: []int{1, 2}}
	flag.IntVar(&c.n, "n", 2_000_000, "number of audit events to load")
	flag.Uint64Var(&c.seed, "seed", 1, "seed of the generator")
	flag.IntVar(&c.runs, "runs", 20, "runs of each query")
	flag.IntVar(&c.tenants, "tenants", 150, "tenants (each with a namespace), in the events' scope annotations")
	flag.Func("setting", "a query setting name=value for the measured queries (repeatable)", func(s string) error {
		k, v, ok := strings.Cut(s, "=")
		if !ok {
			return fmt.Errorf("%q is not name=value", s)
		}
		c.settings[k] = v
		return nil
	})
	flag.BoolVar(&c.baseline, "baseline", true, "load the events again into the plain schema of issue 22 and print ours / baseline")
	flag.IntVar(&c.sinkN, "sink-n", 500_000, "events (of the first) loaded again as the aggregator's sink sends them, JSONEachRow over HTTP; 0 for none")
	flag.Func("sink-in-flight", "requests in flight for those loads, one load each (default 1,2)", func(s string) error {
		c.inFlight = nil
		for _, f := range strings.Split(s, ",") {
			k, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || k < 1 {
				return fmt.Errorf("%q: want numbers of at least 1, comma-separated", s)
			}
			c.inFlight = append(c.inFlight, k)
		}
		return nil
	})
	flag.Parse()
	if c.sinkN < 0 {
		fmt.Fprintln(os.Stderr, "bench: -sink-n must be 0 (none) or more")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Stdout, c); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer, c config) (err error) {
	fmt.Fprintln(out, "Starting a local ClickHouse...")
	srv, err := chtest.Start(chtest.Options{ConfigXML: bench.QueryLogConfig})
	if err != nil {
		return err
	}
	defer func() {
		if stopErr := srv.Stop(); stopErr != nil && err == nil {
			err = stopErr
		}
	}()
	const database = "audit"
	db := srv.OpenDB("default")
	defer db.Close()
	conn, err := srv.Conn("default")
	if err != nil {
		return err
	}
	defer conn.Close()
	o := bench.Options{
		Gen:      bench.GenOptions{Seed: c.seed, N: c.n, Tenants: c.tenants},
		Runs:     c.runs,
		Settings: c.settings,
		Baseline: c.baseline,
	}
	if c.sinkN > 0 && len(c.inFlight) > 0 {
		o.Sink = &bench.SinkOptions{Addr: srv.HTTPAddr, N: min(c.sinkN, c.n), InFlight: c.inFlight}
	}
	fmt.Fprintf(out, "Loading %d events in batches of %d...\n", c.n, bench.BatchSize)
	rep, err := bench.Run(ctx, db, conn, database, o)
	if err != nil {
		return err
	}
	return rep.Print(out)
}
