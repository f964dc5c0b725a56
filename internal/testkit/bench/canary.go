package bench

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"time"

	"github.com/google/uuid"

	"github.com/auditpipeline/auditpipeline-operator/internal/canary"
)

// CanaryResult is the cost of the canary's two queries (internal/canary) on the bench's tables: what
// the operator asks ClickHouse at most every 10 s per pipeline (issue 24: bounded, measured).
type CanaryResult struct {
	// Seen is the median time of canary.Seen looking for the audit IDs of the five newest events, as the
	// operator looks for its pending canaries; Freshness that of canary.ReadFreshness (the cluster's
	// last hour).
	Seen, Freshness time.Duration
	// Asked and Found are how many IDs Seen looked for and found (all: they are events of the table).
	Asked, Found int
	// Recent is the freshness read: events of the last 5 minutes.
	Recent uint64
}

// MeasureCanary times the canary's queries at p.Now, runs times each, on the events of bench.Cluster.
func MeasureCanary(ctx context.Context, db *sql.DB, database string, p Params, runs int) (CanaryResult, error) {
	var res CanaryResult
	rows, err := db.QueryContext(ctx, "SELECT toString(audit_id), event_time FROM "+database+".events ORDER BY event_time DESC LIMIT 5")
	if err != nil {
		return res, fmt.Errorf("canary measure: %w", err)
	}
	var ids []uuid.UUID
	from := p.Now
	for rows.Next() {
		var s string
		var at time.Time
		if err := rows.Scan(&s, &at); err != nil {
			_ = rows.Close()
			return res, err
		}
		ids = append(ids, uuid.MustParse(s))
		from = at.Add(-time.Minute)
	}
	_ = rows.Close()
	res.Asked = len(ids)
	var seen, fresh []time.Duration
	for range max(runs, 1) {
		start := time.Now()
		found, err := canary.Seen(ctx, db, database, Cluster, from, ids)
		if err != nil {
			return res, err
		}
		seen = append(seen, time.Since(start))
		res.Found = len(found)
		start = time.Now()
		f, err := canary.ReadFreshness(ctx, db, database, Cluster, p.Now)
		if err != nil {
			return res, err
		}
		fresh = append(fresh, time.Since(start))
		res.Recent = f.Recent
	}
	res.Seen, res.Freshness = medianDuration(seen), medianDuration(fresh)
	return res, nil
}

// PrintCanary prints r.
func PrintCanary(w io.Writer, r CanaryResult) {
	fmt.Fprintf(w, "\nthe canary's queries (issue 24), at most every 10 s per pipeline: %d audit IDs of the newest events %.2f ms (%d found);\n",
		r.Asked, ms(r.Seen), r.Found)
	fmt.Fprintf(w, "the cluster's freshness (last hour) %.2f ms (%d events in the last 5 minutes)\n", ms(r.Freshness), r.Recent)
}
