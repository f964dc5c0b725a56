package bench

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/uuid"

	"github.com/auditpipeline/auditpipeline-operator/internal/query"
)

// PluginTarget is issue 23's bound: what the kubectl plugin's path may cost over the same answer asked
// by hand-written SQL.
const PluginTarget = 2 * time.Millisecond

// PluginQuery is Q1, Q2 or Q3 asked the way `kubectl auditpipeline` asks it (issue 23), end to end: the
// CEL filter compiled (query.Compile), translated to SQL (query.ListSQL, query.HistorySQL), run by
// query.Client, which scans every row into a query.Event (without the whole event, which a table does
// not show), and the events printed as the plugin prints them (a table; a history's table for history).
// RawSQL asks for the same events by hand: the columns of query.Event from the same view, the filters of
// the bench's query, the bench's parameters (Params.parameters), no paging.
type PluginQuery struct {
	// ID names the measure, Base the bench query it asks again (Queries), Title says how the plugin is run.
	ID, Base, Title string
	// Filter is the plugin's --filter (a CEL expression) for the parameters; nil for a history.
	Filter func(Params) string
	// Window is the plugin's --since: the list covers [Now-Window, Now].
	Window time.Duration
	// Limit is the plugin's --limit.
	Limit int
	// History asks for the history of Params' object (Q2's) instead of a list.
	History bool
	// RawSQL returns rawColumns; newest first (a history's events are put oldest first, as the plugin
	// shows them).
	RawSQL string
}

// rawColumns are query.Event's columns as a person selects them from the events or changes table for a
// table: not the whole event, which no table shows (the plugin asks for it only with -o json|yaml or --diff).
const rawColumns = "event_time, audit_id, stage, level, verb, user, api_group, resource, subresource, namespace, name, response_code, tenant_type, tenant, cluster"

func tenantCEL(p Params) string {
	return "tenantType == " + query.Quote(p.TenantType) + " && tenant == " + query.Quote(p.Tenant)
}

// PluginQueries are issue 23's measures: Q1, Q2 and Q3 by the plugin. Q2P is the plugin's history of
// Q2's object: its newest 1,000 writes, oldest first (Q2 asks for the oldest 1,000).
var PluginQueries = []PluginQuery{
	{
		ID: "Q1P", Base: "Q1", Title: "Q1 by the plugin: query --filter tenant, user --since 168h",
		Filter: func(p Params) string { return tenantCEL(p) + " && user.username == " + query.Quote(p.User) },
		Window: 7 * 24 * time.Hour, Limit: 100,
		RawSQL: `SELECT ` + rawColumns + ` FROM {db:Identifier}.events
			WHERE ` + tenantFilter + ` AND user = {user:String}
			  AND event_time >= {now:DateTime64(6, 'UTC')} - INTERVAL 7 DAY AND event_time <= {now:DateTime64(6, 'UTC')}
			ORDER BY event_time DESC LIMIT 100`,
	},
	{
		ID: "Q2P", Base: "Q2", Title: "Q2's object by the plugin: history --tenant --limit 1000",
		Limit: 1000, History: true,
		RawSQL: `SELECT ` + rawColumns + ` FROM {db:Identifier}.changes
			WHERE ` + tenantFilter + ` AND resource = {resource:String}
			  AND namespace = {namespace:String} AND name = {name:String}
			ORDER BY event_time DESC LIMIT 1000`,
	},
	{
		ID: "Q3P", Base: "Q3", Title: "Q3 by the plugin: query --filter tenant --since 1h",
		Filter: tenantCEL, Window: time.Hour, Limit: 100,
		RawSQL: `SELECT ` + rawColumns + ` FROM {db:Identifier}.events
			WHERE ` + tenantFilter + `
			  AND event_time >= {now:DateTime64(6, 'UTC')} - INTERVAL 1 HOUR AND event_time <= {now:DateTime64(6, 'UTC')}
			ORDER BY event_time DESC LIMIT 100`,
	},
}

// pluginRun is one run of the plugin's path, by phase.
type pluginRun struct {
	// compile is query.Compile; query the client's List or History (the SQL, ClickHouse, the scan into
	// query.Event); output the printing (for a history query.HistoryChanges without a diff, and
	// query.WriteHistory).
	compile, query, output time.Duration
	events                 []query.Event
}

// runPlugin runs q's plugin path once, printing into w.
func (q PluginQuery) runPlugin(ctx context.Context, c *query.Client, p Params, w io.Writer) (pluginRun, error) {
	var r pluginRun
	if q.History {
		start := time.Now()
		events, err := c.History(ctx, query.HistoryRequest{Resource: p.Resource, Namespace: p.Namespace, Name: p.Name,
			Tenant: p.Tenant, TenantType: p.TenantType, Limit: q.Limit})
		if err != nil {
			return r, fmt.Errorf("%s: %w", q.ID, err)
		}
		r.query = time.Since(start)
		start = time.Now()
		if err := query.WriteHistory(w, query.HistoryChanges(events, false), query.DiffOptions{}); err != nil {
			return r, err
		}
		r.output, r.events = time.Since(start), events
		return r, nil
	}
	start := time.Now()
	f, err := query.Compile(q.Filter(p))
	if err != nil {
		return r, fmt.Errorf("%s: %w", q.ID, err)
	}
	r.compile = time.Since(start)
	start = time.Now()
	page, err := c.List(ctx, query.Request{Filter: f, Now: p.Now, From: p.Now.Add(-q.Window), To: p.Now, Limit: q.Limit})
	if err != nil {
		return r, fmt.Errorf("%s: %w", q.ID, err)
	}
	r.query = time.Since(start)
	start = time.Now()
	if err := printTable(w, page.Events); err != nil {
		return r, err
	}
	r.output, r.events = time.Since(start), page.Events
	return r, nil
}

// printTable prints events as `kubectl auditpipeline query` does by default (-o table: the printer of
// cmd/kubectl-auditpipeline/print.go, which a package main does not export).
func printTable(w io.Writer, events []query.Event) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if len(events) > 0 {
		fmt.Fprintln(tw, "TIMESTAMP\tVERB\tUSER\tNAMESPACE\tRESOURCE\tNAME\tSTATUS")
	}
	for _, e := range events {
		code := "-"
		if e.Code != 0 {
			code = strconv.Itoa(int(e.Code))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Time.Format("2006-01-02T15:04:05.000Z"), dash(e.Verb), dash(e.User),
			dash(e.Namespace), dash(e.Resource), dash(e.Name), code)
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// rawEvent is a row of RawSQL.
type rawEvent struct {
	Time                                                      time.Time
	AuditID                                                   uuid.UUID
	Stage, Level, Verb, User, APIGroup, Resource, Subresource string
	Namespace, Name                                           string
	Code                                                      uint16
	TenantType, Tenant, Cluster                               string
}

// runRaw runs q's RawSQL once: the events in the order the plugin shows them.
func (q PluginQuery) runRaw(ctx context.Context, conn driver.Conn, database string, p Params) ([]rawEvent, error) {
	rows, err := conn.Query(clickhouse.Context(ctx, clickhouse.WithParameters(p.parameters(database))), q.RawSQL)
	if err != nil {
		return nil, fmt.Errorf("%s raw: %w", q.ID, err)
	}
	defer rows.Close()
	var out []rawEvent
	for rows.Next() {
		var e rawEvent
		if err := rows.Scan(&e.Time, &e.AuditID, &e.Stage, &e.Level, &e.Verb, &e.User, &e.APIGroup, &e.Resource, &e.Subresource,
			&e.Namespace, &e.Name, &e.Code, &e.TenantType, &e.Tenant, &e.Cluster); err != nil {
			return nil, fmt.Errorf("%s raw: %w", q.ID, err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s raw: %w", q.ID, err)
	}
	if q.History {
		slices.Reverse(out)
	}
	return out, nil
}

// sameEvents fails unless the plugin and the raw SQL gave the same events in the same order: the same
// audit IDs, and the same values in every column the table shows.
func sameEvents(id string, plugin []query.Event, raw []rawEvent) error {
	if len(plugin) != len(raw) {
		return fmt.Errorf("%s: the plugin printed %d events, the raw SQL returned %d: not the same answer", id, len(plugin), len(raw))
	}
	for i := range plugin {
		p, r := &plugin[i], &raw[i]
		if p.AuditID != r.AuditID.String() || !p.Time.Equal(r.Time) || p.Verb != r.Verb || p.User != r.User ||
			p.Namespace != r.Namespace || p.Resource != r.Resource || p.Name != r.Name || p.Code != r.Code {
			return fmt.Errorf("%s: event %d is %s by the plugin, %s by the raw SQL (or a column the table shows differs): not the same answer",
				id, i, p.AuditID, r.AuditID)
		}
	}
	return nil
}

// PluginResult is a PluginQuery's measurement: medians over the runs.
type PluginResult struct {
	Query PluginQuery
	Runs  int
	// Plugin and Raw are the medians of the plugin's path and of the raw SQL; Over is Plugin - Raw, and
	// Paired the median of each round's difference.
	Plugin, Raw, Over, Paired time.Duration
	// Compile, Run and Output are the medians of the plugin's phases (pluginRun: compile, query, output).
	Compile, Run, Output time.Duration
	// ServerPlugin and ServerRaw are the server's medians (system.query_log, to the microsecond), and
	// ReadPlugin and ReadRaw the rows each read; zero without a query log.
	ServerPlugin, ServerRaw time.Duration
	ReadPlugin, ReadRaw     uint64
	Returned                int
}

// MeasurePlugin measures PluginQueries: each round runs every query's plugin path and its raw SQL (the
// one and then the other, their order swapped every round), after a round that is not counted, and
// fails unless both give the same events each time. settings, if any, apply to both.
func MeasurePlugin(ctx context.Context, conn driver.Conn, database string, p Params, runs int, settings clickhouse.Settings) ([]PluginResult, error) {
	return measurePlugin(ctx, conn, database, p, runs, settings, PluginQueries)
}

func measurePlugin(ctx context.Context, conn driver.Conn, database string, p Params, runs int, settings clickhouse.Settings, qs []PluginQuery) ([]PluginResult, error) {
	if runs < 1 {
		return nil, fmt.Errorf("runs = %d: each query must run at least once", runs)
	}
	if len(settings) > 0 {
		ctx = clickhouse.Context(ctx, clickhouse.WithSettings(settings))
	}
	client := &query.Client{Conn: conn, Database: database}
	type samples struct{ plugin, raw, paired, compile, query, output []time.Duration }
	all := make([]samples, len(qs))
	results := make([]PluginResult, len(qs))
	prefix := fmt.Sprintf("bench-plugin-%d-", time.Now().UnixNano())
	for round := -1; round < runs; round++ {
		for i, q := range qs {
			var pr pluginRun
			var raw []rawEvent
			var tPlugin, tRaw time.Duration
			plugin := func() error {
				ctx := clickhouse.Context(ctx, clickhouse.WithQueryID(fmt.Sprintf("%s%s-plugin-%d", prefix, q.ID, round)))
				start := time.Now()
				var err error
				pr, err = q.runPlugin(ctx, client, p, io.Discard)
				tPlugin = time.Since(start)
				return err
			}
			rawSQL := func() error {
				ctx := clickhouse.Context(ctx, clickhouse.WithQueryID(fmt.Sprintf("%s%s-raw-%d", prefix, q.ID, round)))
				start := time.Now()
				var err error
				raw, err = q.runRaw(ctx, conn, database, p)
				tRaw = time.Since(start)
				return err
			}
			first, second := plugin, rawSQL
			if round%2 != 0 {
				first, second = rawSQL, plugin
			}
			if err := first(); err != nil {
				return nil, err
			}
			if err := second(); err != nil {
				return nil, err
			}
			if err := sameEvents(q.ID, pr.events, raw); err != nil {
				return nil, err
			}
			if round < 0 {
				continue
			}
			s := &all[i]
			s.plugin, s.raw, s.paired = append(s.plugin, tPlugin), append(s.raw, tRaw), append(s.paired, tPlugin-tRaw)
			s.compile, s.query, s.output = append(s.compile, pr.compile), append(s.query, pr.query), append(s.output, pr.output)
			results[i].Returned = len(raw)
		}
	}
	for i, q := range qs {
		s := all[i]
		r := &results[i]
		r.Query, r.Runs = q, runs
		r.Plugin, r.Raw, r.Paired = medianDuration(s.plugin), medianDuration(s.raw), medianDuration(s.paired)
		r.Over = r.Plugin - r.Raw
		r.Compile, r.Run, r.Output = medianDuration(s.compile), medianDuration(s.query), medianDuration(s.output)
	}
	var queryLog uint64
	if err := conn.QueryRow(ctx, `SELECT count() FROM system.tables WHERE database = 'system' AND name = 'query_log'`).Scan(&queryLog); err != nil {
		return nil, err
	}
	if queryLog == 0 {
		return results, nil
	}
	if err := conn.Exec(ctx, "SYSTEM FLUSH LOGS"); err != nil {
		return nil, fmt.Errorf("flush logs: %w", err)
	}
	for i := range results {
		for _, side := range []string{"plugin", "raw"} {
			rows, err := conn.Query(withParams(ctx, clickhouse.Parameters{"prefix": prefix + results[i].Query.ID + "-" + side + "-"}),
				`SELECT read_rows, dateDiff('microsecond', query_start_time_microseconds, event_time_microseconds) FROM system.query_log
				WHERE type = 'QueryFinish' AND startsWith(query_id, {prefix:String}) AND NOT endsWith(query_id, '--1')`)
			if err != nil {
				return nil, fmt.Errorf("read system.query_log: %w", err)
			}
			var reads, micros []uint64
			for rows.Next() {
				var n uint64
				var us int64
				if err := rows.Scan(&n, &us); err != nil {
					rows.Close()
					return nil, err
				}
				reads, micros = append(reads, n), append(micros, uint64(max(us, 0)))
			}
			rows.Close()
			if len(reads) == 0 {
				continue
			}
			read, server := median(reads), time.Duration(median(micros))*time.Microsecond
			if side == "plugin" {
				results[i].ReadPlugin, results[i].ServerPlugin = read, server
			} else {
				results[i].ReadRaw, results[i].ServerRaw = read, server
			}
		}
	}
	return results, nil
}

func medianDuration(xs []time.Duration) time.Duration {
	xs = slices.Clone(xs)
	slices.Sort(xs)
	return xs[len(xs)/2]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// PrintPlugin writes the plugin's measures as a table.
func PrintPlugin(w io.Writer, results []PluginResult) error {
	if len(results) == 0 {
		return nil
	}
	fmt.Fprintf(w, "\nthe plugin's path (issue 23): kubectl auditpipeline's query and history end to end (CEL filter compiled, SQL,\n")
	fmt.Fprintf(w, "rows scanned, table printed into io.Discard) against the same events asked by hand-written SQL of the same view,\n")
	fmt.Fprintf(w, "%d runs each, taking turns; the answers must be the same events in the same order:\n", results[0].Runs)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "measure\tplugin ms\traw ms\tplugin - raw\ttarget\t\tpaired\tcompile ms\tquery ms\toutput ms\tserver ms plugin/raw\trows read plugin/raw\treturned")
	for _, r := range results {
		fmt.Fprintf(tw, "%s (%s)\t%.2f\t%.2f\t%+.2f\t<= +%.0f\t%s\t%+.2f\t%.2f\t%.2f\t%.2f\t%.2f / %.2f\t%d / %d\t%d\n", r.Query.ID, r.Query.Title,
			ms(r.Plugin), ms(r.Raw), ms(r.Over), ms(PluginTarget), mark(r.Over <= PluginTarget), ms(r.Paired),
			ms(r.Compile), ms(r.Run), ms(r.Output), ms(r.ServerPlugin), ms(r.ServerRaw), r.ReadPlugin, r.ReadRaw, r.Returned)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "paired: the median of each round's difference. compile, query (the SQL, ClickHouse and the scan) and output")
	fmt.Fprintln(w, "(printing; for history query.HistoryChanges and query.WriteHistory) are the plugin's phases.")
	return nil
}
