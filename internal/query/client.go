package query

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/uuid"

	"github.com/auditpipeline/auditpipeline-operator/internal/eventrow"
)

// Client runs queries on the database of a pipeline's ClickHouse.
type Client struct {
	Conn     driver.Conn
	Database string
	// Settings are ClickHouse settings of every query (e.g. max_execution_time), or nil.
	Settings clickhouse.Settings
}

// List returns one page of r.
func (c *Client) List(ctx context.Context, r Request) (Page, error) {
	sql, p, err := ListSQL(c.Database, r)
	if err != nil {
		return Page{}, err
	}
	events, err := c.events(ctx, sql, p)
	if err != nil {
		return Page{}, err
	}
	return r.page(events)
}

// events runs a statement that selects eventColumns.
func (c *Client) events(ctx context.Context, sql string, p *Params) ([]Event, error) {
	opts := []clickhouse.QueryOption{clickhouse.WithParameters(p.Values())}
	if c.Settings != nil {
		opts = append(opts, clickhouse.WithSettings(c.Settings))
	}
	ctx = clickhouse.Context(ctx, opts...)
	rows, err := c.Conn.Query(ctx, sql)
	if err != nil {
		return nil, fmt.Errorf("query ClickHouse: %w", err)
	}
	defer func() { _ = rows.Close() }()
	var out []Event
	for rows.Next() {
		var e Event
		var r eventrow.Row
		if err := rows.Scan(&e.Time, &e.AuditID, &e.Stage, &e.Level, &e.Verb, &e.User, &e.APIGroup, &e.Resource,
			&e.Subresource, &e.Namespace, &e.Name, &e.Code, &e.TenantType, &e.Tenant, &e.Cluster,
			&r.LatencyUS, &r.UserUID, &r.Rest); err != nil {
			return nil, fmt.Errorf("read an event: %w", err)
		}
		e.Time = e.Time.UTC()
		if r.Rest != "" { // the whole event was asked for
			if e.JSON, err = whole(e, r); err != nil {
				return nil, err
			}
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query ClickHouse: %w", err)
	}
	return out, nil
}

// whole is the whole audit event of e, whose row has r's latency_us, user_uid and rest.
func whole(e Event, r eventrow.Row) (string, error) {
	id, err := uuid.Parse(e.AuditID)
	if err != nil {
		return "", fmt.Errorf("event %s: audit_id: %w", e.AuditID, err)
	}
	r.TenantType, r.Tenant, r.Cluster, r.EventTime, r.AuditID = e.TenantType, e.Tenant, e.Cluster, e.Time, id
	r.Stage, r.Level, r.Verb, r.User = e.Stage, e.Level, e.Verb, e.User
	r.APIGroup, r.Resource, r.Subresource, r.Namespace, r.Name, r.ResponseCode = e.APIGroup, e.Resource, e.Subresource, e.Namespace, e.Name, e.Code
	b, err := r.Event()
	return string(b), err
}

// Reader reads the audit trail: *Client on the database; the plugin's reader through the audit API.
type Reader interface {
	Lister
	History(ctx context.Context, h HistoryRequest) ([]Event, error)
}

// Lister lists one page of a Request: *Client on the database, or the plugin's reader through the
// audit API.
type Lister interface {
	List(ctx context.Context, r Request) (Page, error)
}

// Follow lists with l, every interval until ctx ends, the events of r (its Filter and shortcuts; not its
// range or paging) newer than those seen, oldest first, and hands each to emit. It starts with the
// events of the last since. An event that reaches ClickHouse later than events newer than it (a slow
// batch) is still shown: each round looks back lookBack before the newest event seen or the round before,
// whichever is later (never before the start), and skips the events it has shown; so a quiet filter's
// window follows the clock instead of growing. A round reads at most MaxLimit events, the newest; warn is
// told when there were more.
func Follow(ctx context.Context, l Lister, r Request, since, interval time.Duration, emit func(Event) error, warn func(string)) error {
	const lookBack = 30 * time.Second
	seen := map[string]time.Time{} // event key -> event time, pruned past the look-back window
	start := time.Now().Add(-since)
	from, newest := start, start
	for {
		now := time.Now()
		q := r
		q.Continue, q.From, q.To, q.Now, q.Limit = "", from, now.Add(time.Minute), now, MaxLimit
		page, err := l.List(ctx, q)
		if err != nil {
			return err
		}
		events := page.Events
		if page.Continue != "" {
			warn(fmt.Sprintf("more than %d events since %s: showing the newest %d; narrow the filters", MaxLimit,
				from.UTC().Format(time.RFC3339), MaxLimit))
		}
		for i := len(events) - 1; i >= 0; i-- { // oldest first
			e := events[i]
			if e.Time.Before(q.From) { // a Lister may answer a wider range (the API's whole seconds)
				continue
			}
			key := e.Time.Format(time.RFC3339Nano) + "/" + e.TenantType + "/" + e.Tenant + "/" + e.AuditID + "/" + e.Stage
			if e.Time.After(newest) {
				newest = e.Time
			}
			if _, ok := seen[key]; ok {
				continue
			}
			seen[key] = e.Time
			if err := emit(e); err != nil {
				return err
			}
		}
		// The next round starts lookBack before the newest event or this round, not before the start.
		from = newest
		if now.After(from) {
			from = now
		}
		from = from.Add(-lookBack)
		if from.Before(start) {
			from = start
		}
		for k, t := range seen {
			if t.Before(from) {
				delete(seen, k)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(interval):
		}
	}
}
