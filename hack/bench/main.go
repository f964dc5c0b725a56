// Command bench measures the audit events table on a local ClickHouse (internal/chtest): it loads N
// generated audit events, optimizes, and prints bytes per row, insert throughput and the latency of
// the five queries of issue 7 next to their targets. `make bench` runs it; BENCH_N sets -n.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/auditpipeline/auditpipeline-operator/internal/bench"
	"github.com/auditpipeline/auditpipeline-operator/internal/chtest"
)

func main() {
	n := flag.Int("n", 2_000_000, "number of audit events to load")
	seed := flag.Uint64("seed", 1, "seed of the generator")
	runs := flag.Int("runs", 20, "runs of each query")
	tenants := flag.Int("tenants", 200, "tenant namespaces")
	settings := clickhouse.Settings{}
	flag.Func("setting", "a query setting name=value for the measured queries (repeatable)", func(s string) error {
		k, v, ok := strings.Cut(s, "=")
		if !ok {
			return fmt.Errorf("%q is not name=value", s)
		}
		settings[k] = v
		return nil
	})
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Stdout, *n, *seed, *runs, *tenants, settings); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer, n int, seed uint64, runs, tenants int, settings clickhouse.Settings) (err error) {
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
	fmt.Fprintf(out, "Loading %d events in batches of %d...\n", n, bench.BatchSize)
	rep, err := bench.Run(ctx, db, conn, database, bench.Options{
		Gen:      bench.GenOptions{Seed: seed, N: n, Tenants: tenants},
		Runs:     runs,
		Settings: settings,
	})
	if err != nil {
		return err
	}
	return rep.Print(out)
}
