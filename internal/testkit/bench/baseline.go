package bench

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/auditpipeline/auditpipeline-operator/internal/eventrow"
)

// The baseline (issue 22): the plain design a user would write first, measured on the same events in the
// same run. One row per event, the event's JSON as it came in a String column with ZSTD(3), LowCardinality
// columns for the verb and resource, the response code, sorted by (tenant, user, event_time), monthly
// partitions, no projection and no second table.
const baselineTable = "baseline_events"

func baselineDDL(database string) string {
	return `CREATE TABLE ` + database + `.` + baselineTable + ` (
    tenant        LowCardinality(String),
    user          String,
    event_time    DateTime64(6, 'UTC'),
    verb          LowCardinality(String),
    resource      LowCardinality(String),
    response_code UInt16,
    event         String CODEC(ZSTD(3))
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(event_time)
ORDER BY (tenant, user, event_time)`
}

// baselineValues is r as a row of the baseline table, for the sink's JSONEachRow.
func baselineValues(r *Row) map[string]any {
	return map[string]any{"tenant": r.Tenant, "user": r.User, "event_time": r.EventTime.Format("2006-01-02 15:04:05.000000"),
		"verb": r.Verb, "resource": r.Resource, "response_code": r.ResponseCode, "event": r.EventJSON}
}

// baselineQuery is one query asked of both schemas for whole events (Q4: counts). Ours is asked twice:
// as our readers ask it (the plugin, the audit API: the row's columns, put back together in Go by
// eventrow.Row.Event, timed with the query), and from the views that put the event back together in SQL
// (OursView); the baseline from its JSON column. All return the audit ID first (Q4: the verb) and must
// return the same answer.
type baselineQuery struct {
	ID, Title             string
	Ours, OursView, Plain string
}

// oursWhole is a query of whole events as our readers make it: every column of table (events or
// changes), for eventrow.Row.Event, where and order by the view query's own.
func oursWhole(view string) string {
	table := strings.Replace(view, "_json WHERE", " WHERE", 1)
	return strings.Replace(table, "SELECT toString(audit_id), event FROM", "SELECT "+eventrow.ColumnNames()+" FROM", 1)
}

// writes are the verbs changes holds.
const writesIn = "('create', 'update', 'patch', 'delete', 'deletecollection')"

var baselineQueries = withViews([]baselineSQL{
	{"Q1", "tenant + user, last 7 days, newest 100",
		`SELECT toString(audit_id), event FROM {db:Identifier}.events_json WHERE ` + tenantFilter + ` AND user = {user:String}
			AND event_time >= {now:DateTime64(6, 'UTC')} - INTERVAL 7 DAY AND event_time <= {now:DateTime64(6, 'UTC')}
			ORDER BY event_time DESC LIMIT 100`,
		`SELECT JSONExtractString(event, 'auditID'), event FROM {db:Identifier}.` + baselineTable + ` WHERE tenant = {tenant:String} AND user = {user:String}
			AND event_time >= {now:DateTime64(6, 'UTC')} - INTERVAL 7 DAY AND event_time <= {now:DateTime64(6, 'UTC')}
			ORDER BY event_time DESC LIMIT 100`},
	{"Q2", "an object's writes, oldest 1,000",
		`SELECT toString(audit_id), event FROM {db:Identifier}.changes_json WHERE ` + tenantFilter + ` AND resource = {resource:String}
			AND namespace = {namespace:String} AND name = {name:String} ORDER BY event_time LIMIT 1000`,
		`SELECT JSONExtractString(event, 'auditID'), event FROM {db:Identifier}.` + baselineTable + ` WHERE tenant = {tenant:String}
			AND resource = {resource:String} AND verb IN ` + writesIn + `
			AND JSONExtractString(event, 'objectRef', 'namespace') = {namespace:String} AND JSONExtractString(event, 'objectRef', 'name') = {name:String}
			ORDER BY event_time LIMIT 1000`},
	{"Q3", "tenant, last hour, newest 100",
		`SELECT toString(audit_id), event FROM {db:Identifier}.events_json WHERE ` + tenantFilter + `
			AND event_time >= {now:DateTime64(6, 'UTC')} - INTERVAL 1 HOUR AND event_time <= {now:DateTime64(6, 'UTC')}
			ORDER BY event_time DESC LIMIT 100`,
		`SELECT JSONExtractString(event, 'auditID'), event FROM {db:Identifier}.` + baselineTable + ` WHERE tenant = {tenant:String}
			AND event_time >= {now:DateTime64(6, 'UTC')} - INTERVAL 1 HOUR AND event_time <= {now:DateTime64(6, 'UTC')}
			ORDER BY event_time DESC LIMIT 100`},
	{"Q4", "all tenants, count by verb, last 24 h",
		`SELECT toString(verb), toString(count()) FROM {db:Identifier}.events
			WHERE event_time >= {now:DateTime64(6, 'UTC')} - INTERVAL 1 DAY AND event_time <= {now:DateTime64(6, 'UTC')} GROUP BY verb ORDER BY verb`,
		`SELECT toString(verb), toString(count()) FROM {db:Identifier}.` + baselineTable + `
			WHERE event_time >= {now:DateTime64(6, 'UTC')} - INTERVAL 1 DAY AND event_time <= {now:DateTime64(6, 'UTC')} GROUP BY verb ORDER BY verb`},
	{"Q5", "tenant, status >= 400 on writes, last 30 days, newest 100",
		`SELECT toString(audit_id), event FROM {db:Identifier}.events_json WHERE ` + tenantFilter + ` AND response_code >= 400
			AND verb IN ('create', 'update', 'patch', 'delete')
			AND event_time >= {now:DateTime64(6, 'UTC')} - INTERVAL 30 DAY AND event_time <= {now:DateTime64(6, 'UTC')}
			ORDER BY event_time DESC LIMIT 100`,
		`SELECT JSONExtractString(event, 'auditID'), event FROM {db:Identifier}.` + baselineTable + ` WHERE tenant = {tenant:String} AND response_code >= 400
			AND verb IN ('create', 'update', 'patch', 'delete')
			AND event_time >= {now:DateTime64(6, 'UTC')} - INTERVAL 30 DAY AND event_time <= {now:DateTime64(6, 'UTC')}
			ORDER BY event_time DESC LIMIT 100`},
})

// withViews makes each query of whole events asked of our views (Ours as written) into the readers' query
// of our tables (oursWhole), keeping the view's as OursView.
func withViews(qs []baselineSQL) []baselineQuery {
	out := make([]baselineQuery, len(qs))
	for i, q := range qs {
		out[i] = baselineQuery{ID: q.ID, Title: q.Title, Ours: q.Ours, Plain: q.Plain}
		if strings.Contains(q.Ours, "_json WHERE") {
			out[i].OursView, out[i].Ours = q.Ours, oursWhole(q.Ours)
		}
	}
	return out
}

// baselineSQL is a query as written: ours from the views.
type baselineSQL struct{ ID, Title, Ours, Plain string }

// BaselineQueryResult is one query on both schemas: median times, and the rows each returned.
type BaselineQueryResult struct {
	ID, Title      string
	Ours, Baseline time.Duration
	// OursView is ours from the views (event_json in SQL); 0 for Q4.
	OursView time.Duration
	Returned int
}

// BaselineResult is the baseline schema measured beside ours.
type BaselineResult struct {
	// Bytes and Rows of the baseline table (active parts), after OPTIMIZE FINAL as ours.
	Bytes, Rows uint64
	// Load is the baseline's insert through clickhouse-go, as Load measures ours; Sink its inserts the
	// aggregator's way, as Report.Sink measures ours (with Options.Sink).
	Load    LoadStats
	Sink    []SinkStats
	Queries []BaselineQueryResult
}

// MeasureBaseline creates the baseline table in database, inserts the events of gen again (the generator
// is deterministic: the same events as ours; generating them is outside the timed part) through the same
// client path as Load, optimizes it, and asks both schemas each query runs times in
// turns; it fails unless both give the same answer.
func MeasureBaseline(ctx context.Context, conn driver.Conn, database string, gen GenOptions, p Params, runs int) (BaselineResult, error) {
	var res BaselineResult
	if err := conn.Exec(ctx, baselineDDL(database)); err != nil {
		return res, fmt.Errorf("create the baseline table: %w", err)
	}
	// The same client path as ours (insert): the aggregator's insert settings with the harness's
	// (LowCardinality sent as plain strings), column by column.
	ictx := clickhouse.Context(ctx, clickhouse.WithSettings(insertSettings))
	g := NewGenerator(gen)
	var rows []Row
	var tenant, user, verb, resource, event []string
	var times []time.Time
	var codes []uint16
	for n := 0; n < gen.N; {
		rows = rows[:0]
		for ; n < gen.N && len(rows) < BatchSize; n++ {
			r, err := RowOf(g.Next())
			if err != nil {
				return res, err
			}
			rows = append(rows, r)
		}
		b, err := conn.PrepareBatch(ictx, "INSERT INTO "+database+"."+baselineTable+" (tenant, user, event_time, verb, resource, response_code, event)")
		if err != nil {
			return res, err
		}
		runtime.GC()
		gc := debug.SetGCPercent(-1)
		start := time.Now()
		tenant, user, verb, resource, event, times, codes = tenant[:0], user[:0], verb[:0], resource[:0], event[:0], times[:0], codes[:0]
		for i := range rows {
			r := &rows[i]
			tenant, user, times = append(tenant, r.Tenant), append(user, r.User), append(times, r.EventTime)
			verb, resource, codes, event = append(verb, r.Verb), append(resource, r.Resource), append(codes, r.ResponseCode), append(event, r.EventJSON)
		}
		for i, col := range []any{tenant, user, times, verb, resource, codes, event} {
			if err := b.Column(i).Append(col); err != nil {
				debug.SetGCPercent(gc)
				_ = b.Abort()
				return res, err
			}
		}
		sendStart := time.Now()
		err = b.Send()
		res.Load.Send += time.Since(sendStart)
		res.Load.Insert += time.Since(start)
		debug.SetGCPercent(gc)
		if err != nil {
			return res, fmt.Errorf("insert into the baseline table: %w", err)
		}
		res.Load.Rows += len(rows)
	}
	if err := conn.Exec(ctx, "OPTIMIZE TABLE "+database+"."+baselineTable+" FINAL"); err != nil {
		return res, err
	}
	if err := conn.QueryRow(ctx, `SELECT toUInt64(sum(rows)), toUInt64(sum(bytes_on_disk)) FROM system.parts
		WHERE active AND database = ? AND table = ?`, database, baselineTable).Scan(&res.Rows, &res.Bytes); err != nil {
		return res, err
	}
	qctx := clickhouse.Context(ctx, clickhouse.WithParameters(p.parameters(database)))
	// ask runs sql and returns its rows as pairs, timed with the work of reading them: two strings, or for
	// a query of eventrow's columns the audit ID and the event put back together, as our readers do.
	ask := func(sql string) ([][2]string, time.Duration, error) {
		whole := strings.Contains(sql, eventrow.ColumnNames())
		start := time.Now()
		rows, err := conn.Query(qctx, sql)
		if err != nil {
			return nil, 0, err
		}
		defer rows.Close()
		var out [][2]string
		for rows.Next() {
			var pair [2]string
			if whole {
				var r eventrow.Row
				if err := rows.Scan(r.Fields()...); err != nil {
					return nil, 0, err
				}
				ev, err := r.Event()
				if err != nil {
					return nil, 0, err
				}
				pair = [2]string{r.AuditID.String(), string(ev)}
			} else if err := rows.Scan(&pair[0], &pair[1]); err != nil {
				return nil, 0, err
			}
			out = append(out, pair)
		}
		return out, time.Since(start), rows.Err()
	}
	for _, q := range baselineQueries {
		var ours, plain []time.Duration
		r := BaselineQueryResult{ID: q.ID, Title: q.Title}
		var views []time.Duration
		for round := -1; round < max(runs, 1); round++ {
			// The ways in turns: each goes first, second (and third) as often.
			type way struct {
				sql, name string
				times     *[]time.Duration
				got       [][2]string
			}
			ways := []*way{{q.Ours, "ours", &ours, nil}, {q.Plain, "baseline", &plain, nil}}
			if q.OursView != "" {
				ways = append(ways, &way{q.OursView, "ours from the views", &views, nil})
			}
			shift := (round + 1) % len(ways)
			for i := range ways {
				wy := ways[(i+shift)%len(ways)]
				got, took, err := ask(wy.sql)
				if err != nil {
					return res, fmt.Errorf("%s %s: %w", q.ID, wy.name, err)
				}
				wy.got = got
				if round >= 0 {
					*wy.times = append(*wy.times, took)
				}
			}
			for _, wy := range ways[1:] {
				if !slices.EqualFunc(ways[0].got, wy.got, func(x, y [2]string) bool { return x[0] == y[0] && (q.ID != "Q4" || x[1] == y[1]) }) {
					return res, fmt.Errorf("%s: our schema returned %d rows, %s %d, not the same events", q.ID, len(ways[0].got), wy.name, len(wy.got))
				}
			}
			r.Returned = len(ways[0].got)
		}
		r.Ours, r.Baseline = medianDuration(ours), medianDuration(plain)
		if len(views) > 0 {
			r.OursView = medianDuration(views)
		}
		res.Queries = append(res.Queries, r)
	}
	return res, nil
}

// PrintBaseline prints our figures over the baseline's.
func PrintBaseline(w io.Writer, ours Storage, oursLoad LoadStats, oursSink []SinkStats, b BaselineResult) {
	if b.Rows == 0 {
		return
	}
	fmt.Fprintf(w, "\nthe baseline schema (issue 22): one row per event, its JSON in a String ZSTD(3), LowCardinality verb and resource,\n")
	fmt.Fprintf(w, "the code, ORDER BY (tenant, user, event_time), monthly partitions, no projection; the same events; ours / baseline:\n")
	oursBPR := float64(ours.Bytes) / float64(max(ours.Rows, 1))
	baseBPR := float64(b.Bytes) / float64(b.Rows)
	fmt.Fprintf(w, "%-58s %10s %10s %8s\n", "measure", "ours", "baseline", "ratio")
	fmt.Fprintf(w, "%-58s %10.1f %10.1f %8.2f\n", "bytes/row on disk (ours: events, changes, projection)", oursBPR, baseBPR, oursBPR/baseBPR)
	fmt.Fprintf(w, "%-58s %10.0f %10.0f %8.2f\n", "insert rows/s through clickhouse-go", oursLoad.RowsPerSecond(), b.Load.RowsPerSecond(),
		oursLoad.RowsPerSecond()/b.Load.RowsPerSecond())
	for i, s := range b.Sink {
		if i < len(oursSink) && oursSink[i].InFlight == s.InFlight {
			fmt.Fprintf(w, "%-58s %10.0f %10.0f %8.2f\n", fmt.Sprintf("insert rows/s as the aggregator's sink, %d in flight", s.InFlight),
				oursSink[i].RowsPerSecond(), s.RowsPerSecond(), oursSink[i].RowsPerSecond()/s.RowsPerSecond())
		}
	}
	for _, q := range b.Queries {
		fmt.Fprintf(w, "%-58s %10.2f %10.2f %8.2f  %s\n", fmt.Sprintf("%s ms, whole events (%d rows)", q.ID, q.Returned),
			ms(q.Ours), ms(q.Baseline), float64(q.Ours)/float64(q.Baseline), q.Title)
	}
	fmt.Fprintf(w, "ours: the columns, put back together in Go as the plugin and the audit API do (eventrow.Row.Event), timed with\n")
	fmt.Fprintf(w, "the query; from the views (event_json in SQL) instead:")
	for _, q := range b.Queries {
		if q.OursView > 0 {
			fmt.Fprintf(w, " %s %.2f (%.2f)", q.ID, ms(q.OursView), float64(q.OursView)/float64(q.Baseline))
		}
	}
	fmt.Fprintln(w)
}
