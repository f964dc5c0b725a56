package query

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
	"github.com/auditpipeline/auditpipeline-operator/internal/eventrow"
	"github.com/auditpipeline/auditpipeline-operator/internal/render/vector"
	"github.com/auditpipeline/auditpipeline-operator/internal/render/vector/vrl"
	"github.com/auditpipeline/auditpipeline-operator/internal/testkit/chtest"
	"github.com/auditpipeline/auditpipeline-operator/internal/testkit/schematest"
	"github.com/auditpipeline/auditpipeline-operator/internal/testkit/sinkhttp"
)

func TestMain(m *testing.M) { chtest.Main(m) }

// testCluster is the cluster name the collector gives every event loadEvents inserts.
const testCluster = "c1"

// insertTime is the time of insert loadEvents passes to the row twin: the stage time of an event
// without one.
var insertTime = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// loadEvents migrates a new database of the shared server and inserts events into it as the
// aggregator does: each through the collector's twin (cluster testCluster), the row twin with
// namespace tenancy (eventrow), and the rendered clickhouse sink's request (internal/testkit/sinkhttp).
// It returns a pool whose current database is the server's default, and the database.
func loadEvents(t testing.TB, events []map[string]any) (*sql.DB, string) {
	t.Helper()
	srv := chtest.Shared(t)
	db, database := schematest.Migrated(t, srv)
	if len(events) == 0 {
		return db, database
	}
	rows := make([]map[string]any, 0, len(events))
	for _, ev := range events {
		row := eventrow.Tenancy{}.FromEvent(vrl.WithCluster(asDecoded(t, ev), testCluster), insertTime)
		rows = append(rows, row.Values())
	}
	p := &v1alpha1.AuditPipeline{}
	p.Name, p.Namespace = "cluster-audit", "audit-system"
	p.Spec.ClickHouse.Database = database
	in, err := sinkhttp.For(vector.AggregatorClickHouseSink(p), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, err := in.Body(rows)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 60 * time.Second}
	if err := in.Send(context.Background(), client, srv.HTTPAddr, body); err != nil {
		t.Fatal(err)
	}
	var n uint64
	if err := db.QueryRow("SELECT count() FROM " + database + ".events").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != uint64(len(events)) {
		t.Fatalf("the events table has %d rows after inserting %d events", n, len(events))
	}
	return db, database
}

// asDecoded is ev as the aggregator's nats source decodes it: JSON, numbers as json.Number.
func asDecoded(t testing.TB, ev map[string]any) map[string]any {
	t.Helper()
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return decodeEvent(t, b)
}

// decodeEvent decodes one JSON event, numbers as json.Number.
func decodeEvent(t testing.TB, b []byte) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var ev map[string]any
	if err := dec.Decode(&ev); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return ev
}

// runSQL runs `SELECT toString(audit_id) FROM database.table WHERE where` with the parameters of p and
// returns the audit IDs, sorted.
func runSQL(ctx context.Context, db *sql.DB, database, table, where string, p *Params) ([]string, error) {
	ctx = clickhouse.Context(ctx, clickhouse.WithParameters(p.Values()))
	rs, err := db.QueryContext(ctx, "SELECT toString(audit_id) FROM "+database+"."+table+" WHERE "+where)
	if err != nil {
		return nil, err
	}
	defer func() { _ = rs.Close() }()
	ids := []string{}
	for rs.Next() {
		var id string
		if err := rs.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	if err := rs.Err(); err != nil {
		return nil, err
	}
	slices.Sort(ids)
	return ids, nil
}

// runFilter translates f with now and runs it on database.table (events or changes): the audit IDs of
// the rows it selects, sorted.
func runFilter(t testing.TB, db *sql.DB, database, table string, f *Filter, now time.Time) []string {
	t.Helper()
	p := &Params{}
	where, err := f.SQL(p, now)
	if err != nil {
		t.Fatalf("%s: SQL: %v", f, err)
	}
	ids, err := runSQL(context.Background(), db, database, table, where, p)
	if err != nil {
		t.Fatalf("%s: %v\nSQL: %s\nparameters: %q", f, err, where, p.Values())
	}
	return ids
}
