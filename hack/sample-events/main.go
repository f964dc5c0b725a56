// Command sample-events loads audit events into the events table of a ClickHouse database, as the
// pipeline's aggregator would: each event of a JSON-lines file (by default the events a real
// kube-apiserver recorded for the query tests, internal/query/testdata/recorded-events.jsonl, which
// test/kind's TestRecordEvents writes) becomes its row through the operator's own row contract
// (the collector's vrl.WithCluster, then eventrow's Tenancy.FromEvent with the default tenancy, the
// namespace), and the rows go in with the INSERT the rendered clickhouse sink makes
// (internal/testkit/sinkhttp), over HTTP as JSONEachRow.
//
// The events' times are shifted so that the newest one happens now, the gaps between them kept, so
// that queries over a recent window (--since 24h) find them. `make sample-events` runs it against the
// ClickHouse of a running `make run`.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
	"github.com/auditpipeline/auditpipeline-operator/internal/eventrow"
	"github.com/auditpipeline/auditpipeline-operator/internal/render/vector"
	"github.com/auditpipeline/auditpipeline-operator/internal/render/vector/vrl"
	"github.com/auditpipeline/auditpipeline-operator/internal/testkit/sinkhttp"
)

// microTime is the layout of the event's timestamps as the API server writes them (Kubernetes'
// MicroTime in UTC): the row contract takes them out of rest only when they are in it.
const microTime = "2006-01-02T15:04:05.000000Z"

type options struct {
	events, clickhouse, database, user, passwordFile, cluster string
}

const usage = `Usage: go run ./hack/sample-events [flags]

Loads the audit events of a JSON-lines file (one audit.k8s.io/v1 event a line) into <database>.events
of a ClickHouse, through the operator's row contract and with the INSERT of the aggregator's sink.

Times: every event's stageTimestamp and requestReceivedTimestamp are shifted by the same amount, so
that the newest event happens now and the gaps between events stay as recorded; a query over a recent
window (kubectl auditpipeline ... --since 24h) finds them. Times inside the events' request and
response bodies (creationTimestamp, managedFields) keep their recorded values. Each run inserts the
events again, at its own times: the copies share their audit IDs but not their event_time.

The database must exist and be migrated: the operator's does once its pipeline is observed.
` + "`make sample-events`" + ` runs this against the ClickHouse of a running ` + "`make run`" + `.

Flags:
`

func main() {
	var opts options
	flag.Usage = func() {
		fmt.Fprint(flag.CommandLine.Output(), usage)
		flag.PrintDefaults()
	}
	flag.StringVar(&opts.events, "events", "internal/query/testdata/recorded-events.jsonl", "The JSON-lines file of audit events.")
	flag.StringVar(&opts.clickhouse, "clickhouse", "http://127.0.0.1:8123", "The ClickHouse HTTP interface.")
	flag.StringVar(&opts.database, "database", "audit", "The database whose events table gets the rows.")
	flag.StringVar(&opts.user, "user", "default", "The ClickHouse user.")
	flag.StringVar(&opts.passwordFile, "password-file", "", "A file holding the user's password (none: no password).")
	flag.StringVar(&opts.cluster, "cluster", "local", "The cluster the events come from: the rows' cluster column.")
	flag.Parse()
	if flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := run(ctx, opts, time.Now(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "sample-events:", err)
		os.Exit(1)
	}
}

// run loads the events of opts.events into the database, the newest at now.
func run(ctx context.Context, opts options, now time.Time, out io.Writer) error {
	password := ""
	if opts.passwordFile != "" {
		data, err := os.ReadFile(opts.passwordFile)
		if err != nil {
			return err
		}
		password = strings.TrimRight(string(data), "\r\n")
	}
	events, err := readEvents(opts.events)
	if err != nil {
		return err
	}
	if len(events) == 0 {
		return fmt.Errorf("%s holds no events", opts.events)
	}
	first, last, err := shift(events, now)
	if err != nil {
		return fmt.Errorf("%s: %w", opts.events, err)
	}
	rows := make([]map[string]any, len(events))
	for i, ev := range events {
		r := eventrow.Tenancy{}.FromEvent(vrl.WithCluster(ev, opts.cluster), now)
		rows[i] = r.Values()
	}
	if err := insert(ctx, opts, password, rows); err != nil {
		return err
	}
	fmt.Fprintf(out, "Inserted %d events into %s.events, from %s to %s (cluster %q).\n", len(rows), opts.database,
		first.Local().Format(time.DateTime), last.Local().Format(time.DateTime), opts.cluster)
	return nil
}

// readEvents decodes every non-empty line of path as an audit event, its numbers as json.Number, as
// Vector's nats source decodes them.
func readEvents(path string) ([]map[string]any, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	var events []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 16<<20)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var ev map[string]any
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.UseNumber()
		if err := dec.Decode(&ev); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		events = append(events, ev)
	}
	return events, sc.Err()
}

// shift moves every event's stageTimestamp and requestReceivedTimestamp by the same amount, so that the
// newest stageTimestamp is now (to the microsecond), and returns the first and last stage times.
func shift(events []map[string]any, now time.Time) (first, last time.Time, err error) {
	var newest time.Time
	for i, ev := range events {
		at, err := eventTime(ev, "stageTimestamp")
		if err != nil {
			return first, last, fmt.Errorf("event %d: %w", i+1, err)
		}
		if at.After(newest) {
			newest = at
		}
	}
	by := now.UTC().Truncate(time.Microsecond).Sub(newest)
	for i, ev := range events {
		for _, field := range []string{"stageTimestamp", "requestReceivedTimestamp"} {
			if _, ok := ev[field]; !ok {
				continue
			}
			at, err := eventTime(ev, field)
			if err != nil {
				return first, last, fmt.Errorf("event %d: %w", i+1, err)
			}
			ev[field] = at.Add(by).Format(microTime)
		}
		at, _ := eventTime(ev, "stageTimestamp")
		if first.IsZero() || at.Before(first) {
			first = at
		}
		if at.After(last) {
			last = at
		}
	}
	return first, last, nil
}

func eventTime(ev map[string]any, field string) (time.Time, error) {
	s, _ := ev[field].(string)
	at, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return at, fmt.Errorf("%s %q: %w", field, s, err)
	}
	return at.UTC(), nil
}

// insert posts rows to the ClickHouse HTTP interface as the aggregator's rendered sink does for a
// pipeline writing to opts.database (its settings, INSERT, format and encoding), with the user's
// credentials.
func insert(ctx context.Context, opts options, password string, rows []map[string]any) error {
	p := &v1alpha1.AuditPipeline{}
	p.Name, p.Namespace = "local", "default"
	p.Spec.ClickHouse.Database = opts.database
	in, err := sinkhttp.For(vector.AggregatorClickHouseSink(p), nil)
	if err != nil {
		return err
	}
	body, err := in.Body(rows)
	if err != nil {
		return err
	}
	base, err := url.Parse(opts.clickhouse)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return fmt.Errorf("-clickhouse %q: want http://host:port", opts.clickhouse)
	}
	base.RawQuery = in.Query
	if base.Path == "" {
		base.Path = "/"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base.String(), bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	if in.Encoding != "" {
		req.Header.Set("Content-Encoding", in.Encoding)
	}
	req.SetBasicAuth(opts.user, password)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return errors.New("ClickHouse refused the insert: " + resp.Status + ": " + string(bytes.TrimSpace(msg)))
	}
	return nil
}
