// Command migrate-local tries the schema migrations on a local ClickHouse: it starts the test
// ClickHouse of internal/testkit/chtest (libchdb, with Keeper, so the migration lock is the KeeperMap one, and
// with the operator's hot_cold storage policy as a managed single-node installation has it), applies
// the migrations embedded in this checkout with internal/migrate, prints the schema status, runs Up a
// second time to show that nothing is left to apply, and stops the server. With -keep the server keeps
// running until Ctrl-C, and the command says how to connect to it. `make migrate-local` calls it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
	"github.com/auditpipeline/auditpipeline-operator/internal/migrate"
	"github.com/auditpipeline/auditpipeline-operator/internal/testkit/chtest"
	"github.com/auditpipeline/auditpipeline-operator/internal/tiering"
	"github.com/auditpipeline/auditpipeline-operator/migrations"
)

type options struct {
	database      string
	target        string
	storagePolicy string
	keep          bool
}

func main() {
	var opts options
	flag.StringVar(&opts.database, "database", "audit", "The database to migrate.")
	flag.StringVar(&opts.target, "target", migrate.LatestTarget, `The version to migrate to: "latest" or a number.`)
	flag.StringVar(&opts.storagePolicy, "storage-policy", tiering.PolicyName,
		`The storage policy the tables get ("" for the server's default).`)
	flag.BoolVar(&opts.keep, "keep", false, "Keep ClickHouse running after migrating, until Ctrl-C, and print how to connect.")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, opts, os.Stdout); err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, "migrate-local:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, opts options, out io.Writer) (retErr error) {
	ms, err := migrate.Load(migrations.FS)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%d embedded migrations, %s to %s.\n", len(ms), ms[0].Name, ms[len(ms)-1].Name)
	storage, err := tiering.StorageXML(&v1alpha1.ClickHouseSpec{})
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "Starting a local ClickHouse with Keeper (the first run downloads it, ~20 s)...")
	srv, err := chtest.Start(chtest.Options{Keeper: true, ConfigXML: string(storage)})
	if err != nil {
		return err
	}
	defer func() {
		fmt.Fprintln(out, "Stopping the local ClickHouse.")
		if err := srv.Stop(); err != nil && retErr == nil {
			retErr = fmt.Errorf("stop ClickHouse: %w", err)
		}
	}()
	fmt.Fprintf(out, "ClickHouse serves the native protocol on %s and HTTP on %s.\n", srv.Addr, srv.HTTPAddr)

	db := srv.OpenDB("")
	defer func() { _ = db.Close() }()
	host, _ := os.Hostname()
	applied := 0
	m, err := migrate.New(db, ms, migrate.Options{
		Database: opts.database, StoragePolicy: opts.storagePolicy, Owner: "migrate-local@" + host,
		OnApplied: func(a migrate.Applied) {
			applied++
			fmt.Fprintf(out, "  applied %s (%s) in %s\n", a.Name, a.Checksum, a.Duration.Round(time.Millisecond))
		},
	})
	if err != nil {
		return err
	}

	fmt.Fprintf(out, "\nUp %s on database %s:\n", opts.target, opts.database)
	rep, err := m.Up(ctx, opts.target)
	if rep != nil {
		printReport(out, rep)
	}
	if err != nil {
		return fmt.Errorf("up: %w", err)
	}

	fmt.Fprintln(out, "\nUp again (applies nothing, takes no lock):")
	applied = 0
	again, err := m.Up(ctx, opts.target)
	if err != nil {
		return fmt.Errorf("second up: %w", err)
	}
	if applied != 0 || len(again.Pending) != 0 {
		return fmt.Errorf("the second Up applied %d migrations and left %d pending, want none", applied, len(again.Pending))
	}
	fmt.Fprintf(out, "  nothing to apply: schema at version %d, target %d.\n", again.Current, again.Target)

	if opts.keep {
		printConnect(out, srv, opts.database)
		<-ctx.Done()
		fmt.Fprintln(out)
	}
	return nil
}

// printReport prints the applied versions as a table, then the pending ones.
func printReport(out io.Writer, rep *migrate.Report) {
	fmt.Fprintf(out, "\nSchema %d/%d (current/target)\n", rep.Current, rep.Target)
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tNAME\tCHECKSUM\tAPPLIED AT\tDURATION")
	for _, a := range rep.Applied {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", a.Version, a.Name, a.Checksum,
			a.AppliedAt.UTC().Format(time.RFC3339), a.Duration.Round(time.Millisecond))
	}
	if len(rep.Applied) == 0 {
		fmt.Fprintln(tw, "-\t(none applied)\t\t\t")
	}
	_ = tw.Flush()
	if len(rep.Pending) == 0 {
		fmt.Fprintln(out, "Pending: none")
		return
	}
	fmt.Fprintln(out, "Pending:")
	for _, p := range rep.Pending {
		fmt.Fprintf(out, "  %d\t%s\n", p.Version, p.Name)
	}
}

// printConnect says how to reach the server while -keep holds it.
func printConnect(out io.Writer, srv *chtest.Server, database string) {
	host, port, _ := net.SplitHostPort(srv.Addr)
	fmt.Fprintf(out, "\nClickHouse keeps running until Ctrl-C (user default, no password; data in %s, removed when it stops):\n", srv.DataDir)
	fmt.Fprintf(out, "  clickhouse client --host %s --port %s --user default --database %s\n", host, port, database)
	fmt.Fprintf(out, "  curl 'http://%s/?database=%s' --data-binary 'SELECT * FROM schema_migrations_checksums FORMAT Vertical'\n",
		srv.HTTPAddr, database)
	fmt.Fprintln(out, "Never log in with a password: this test server stops on a failed login.")
}
