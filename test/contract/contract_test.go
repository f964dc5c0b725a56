// Package contract checks, on a real ClickHouse, that the rows the Vector aggregator inserts fit the events
// table the migrations create: the row of each audit event is computed by eventrow.FromEvent, the Go twin
// of the rendered remap (remap_test.go), and sent the way the rendered clickhouse sink sends it
// (sink_test.go); the view events_json must give every event back.
package contract

import (
	"context"
	"database/sql"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
	"github.com/auditpipeline/auditpipeline-operator/internal/eventrow"
	"github.com/auditpipeline/auditpipeline-operator/internal/render/vector"
	"github.com/auditpipeline/auditpipeline-operator/internal/testkit/chtest"
	"github.com/auditpipeline/auditpipeline-operator/internal/testkit/schematest"
)

func TestMain(m *testing.M) { chtest.Main(m) }

// pipeline is an AuditPipeline whose aggregator writes to database.
func pipeline(database string) *v1alpha1.AuditPipeline {
	p := &v1alpha1.AuditPipeline{}
	p.Name, p.Namespace = "cluster-audit", "audit-system"
	p.Spec.ClickHouse.Database = database
	return p
}

// remapSource is the VRL of the aggregator's remap into rows.
func remapSource(t testing.TB, p *v1alpha1.AuditPipeline) string {
	t.Helper()
	for _, c := range vector.AggregatorConfig(p).Transforms {
		if r, ok := c.(*vector.RemapTransform); ok {
			return r.Source
		}
	}
	t.Fatal("the aggregator has no remap")
	return ""
}

// want is what the events table must hold for one event.
type want struct {
	eventTime, received, auditID, stage, level, verb, user, uid string
	group, resource, sub, ns, name                              string
	latency                                                     uint64
	code                                                        uint16
}

// cases are audit.k8s.io/v1 events as the API server's webhook backend sends them, each with a distinct
// stageTimestamp, and what their rows must hold.
var cases = []struct {
	name string
	json string
	want want
	// added is what the table's event column adds to the event, as JSON members ("" for nothing).
	added string
}{
	{"create", `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"RequestResponse","auditID":"7c1f0e6a-4b7e-4a43-9f61-0c5c7d2f1a10",` +
		`"stage":"ResponseComplete","requestURI":"/apis/apps/v1/namespaces/shop/deployments?fieldManager=kubectl-client-side-apply","verb":"create",` +
		`"user":{"username":"alice@example.com","uid":"4a2e8c1d-0000-4000-8000-000000000001","groups":["devs","system:authenticated"],"extra":{"scopes":["openid"]}},` +
		`"sourceIPs":["203.0.113.7","10.0.0.1"],"userAgent":"kubectl/v1.37.2 (linux/amd64) kubernetes/abcdef0",` +
		`"objectRef":{"resource":"deployments","namespace":"shop","name":"web","apiGroup":"apps","apiVersion":"v1"},` +
		`"responseStatus":{"metadata":{},"code":201},` +
		`"requestObject":{"kind":"Deployment","apiVersion":"apps/v1","metadata":{"name":"web","namespace":"shop","labels":{"app":"web"}},"spec":{"replicas":2}},` +
		`"responseObject":{"kind":"Deployment","apiVersion":"apps/v1","metadata":{"name":"web","namespace":"shop","uid":"9d1e3b6a-1111-4c2b-8d3e-222233334444","resourceVersion":"1001"}},` +
		`"requestReceivedTimestamp":"2026-03-01T10:00:00.100200Z","stageTimestamp":"2026-03-01T10:00:00.123456Z",` +
		`"annotations":{"authorization.k8s.io/decision":"allow","authorization.k8s.io/reason":"RBAC: allowed by RoleBinding \"devs/shop\""}}`,
		want{eventTime: "2026-03-01 10:00:00.123456", received: "2026-03-01 10:00:00.100200", latency: 23256,
			auditID: "7c1f0e6a-4b7e-4a43-9f61-0c5c7d2f1a10", stage: "ResponseComplete", level: "RequestResponse", verb: "create",
			user: "alice@example.com", uid: "4a2e8c1d-0000-4000-8000-000000000001",
			group: "apps", resource: "deployments", ns: "shop", name: "web", code: 201}, ""},
	{"update from IPv6", `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"0b4a9f3e-55aa-4e11-9c22-7d8e9f0a1b2c",` +
		`"stage":"ResponseComplete","requestURI":"/api/v1/namespaces/shop/configmaps/web-config","verb":"update",` +
		`"user":{"username":"system:serviceaccount:shop:deployer","uid":"5b3f-sa","groups":["system:serviceaccounts","system:serviceaccounts:shop","system:authenticated"]},` +
		`"sourceIPs":["2001:db8:0:0::1a"],"userAgent":"argocd-application-controller/v0.0.0",` +
		`"objectRef":{"resource":"configmaps","namespace":"shop","name":"web-config","apiVersion":"v1","resourceVersion":"1002"},` +
		`"responseStatus":{"metadata":{},"code":200},` +
		`"requestReceivedTimestamp":"2026-03-01T10:00:01.000001Z","stageTimestamp":"2026-03-01T10:00:01.002999Z"}`,
		want{eventTime: "2026-03-01 10:00:01.002999", received: "2026-03-01 10:00:01.000001", latency: 2998,
			auditID: "0b4a9f3e-55aa-4e11-9c22-7d8e9f0a1b2c", stage: "ResponseComplete", level: "Metadata", verb: "update",
			user: "system:serviceaccount:shop:deployer", uid: "5b3f-sa",
			resource: "configmaps", ns: "shop", name: "web-config", code: 200}, ""},
	{"delete with subresource, impersonated", `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Request","auditID":"E3B0C442-98FC-1C14-9AFB-F4C8996FB924",` +
		`"stage":"ResponseComplete","requestURI":"/api/v1/namespaces/shop/pods/web-7d9f/ephemeralcontainers","verb":"delete",` +
		`"user":{"username":"admin","groups":["system:masters","system:authenticated"]},` +
		`"impersonatedUser":{"username":"bob@example.com","groups":["devs"]},` +
		`"sourceIPs":["198.51.100.20"],"userAgent":"kubectl/v1.37.2",` +
		`"objectRef":{"resource":"pods","namespace":"shop","name":"web-7d9f","apiVersion":"v1","subresource":"ephemeralcontainers"},` +
		`"responseStatus":{"metadata":{},"status":"Success","code":200},` +
		`"requestReceivedTimestamp":"2026-03-01T10:00:02Z","stageTimestamp":"2026-03-01T10:00:02.5Z"}`,
		want{eventTime: "2026-03-01 10:00:02.500000", received: "2026-03-01 10:00:02.000000", latency: 500000,
			auditID: "e3b0c442-98fc-1c14-9afb-f4c8996fb924", stage: "ResponseComplete", level: "Request", verb: "delete", user: "admin",
			resource: "pods", sub: "ephemeralcontainers", ns: "shop", name: "web-7d9f", code: 200}, ""},
	{"get without namespace, forbidden", `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d",` +
		`"stage":"ResponseComplete","requestURI":"/api/v1/nodes/node-1","verb":"get",` +
		`"user":{"username":"mallory","groups":["system:authenticated"]},"sourceIPs":["192.0.2.66"],"userAgent":"curl/8.11.0",` +
		`"objectRef":{"resource":"nodes","name":"node-1","apiVersion":"v1"},` +
		`"responseStatus":{"metadata":{},"status":"Failure","message":"nodes \"node-1\" is forbidden: User \"mallory\" cannot get resource \"nodes\"","reason":"Forbidden","details":{"name":"node-1","kind":"nodes"},"code":403},` +
		`"requestReceivedTimestamp":"2026-03-01T10:00:03.000000Z","stageTimestamp":"2026-03-01T10:00:03.000700Z",` +
		`"annotations":{"authorization.k8s.io/decision":"forbid","authorization.k8s.io/reason":""}}`,
		want{eventTime: "2026-03-01 10:00:03.000700", received: "2026-03-01 10:00:03.000000", latency: 700,
			auditID: "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d", stage: "ResponseComplete", level: "Metadata", verb: "get",
			user: "mallory", resource: "nodes", name: "node-1", code: 403}, ""},
	{"non-resource request, minimal", `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"5f0c6d7e-8a9b-4c1d-9e2f-3a4b5c6d7e8f",` +
		`"stage":"ResponseComplete","requestURI":"/healthz","verb":"get","user":{"username":"system:anonymous"},` +
		`"stageTimestamp":"2026-03-01T10:00:04.250000Z"}`,
		want{eventTime: "2026-03-01 10:00:04.250000", received: "2026-03-01 10:00:04.250000",
			auditID: "5f0c6d7e-8a9b-4c1d-9e2f-3a4b5c6d7e8f", stage: "ResponseComplete", level: "Metadata", verb: "get",
			user: "system:anonymous"},
		// An event without requestReceivedTimestamp comes back with its stage time there (docs/schema.md).
		`"requestReceivedTimestamp":"2026-03-01T10:00:04.250000Z"`},
	{"client-chosen audit ID, junk source IP", `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"my-trace-42",` +
		`"stage":"ResponseComplete","requestURI":"/api/v1/namespaces/shop/secrets","verb":"list",` +
		`"user":{"username":"carol","groups":["devs"]},"sourceIPs":["not-an-ip"],` +
		`"objectRef":{"resource":"secrets","namespace":"shop","apiVersion":"v1"},"responseStatus":{"metadata":{},"code":200},` +
		`"requestReceivedTimestamp":"2026-03-01T10:00:05.100000Z","stageTimestamp":"2026-03-01T10:00:05.200000Z"}`,
		want{eventTime: "2026-03-01 10:00:05.200000", received: "2026-03-01 10:00:05.100000", latency: 100000,
			auditID: eventrow.NilUUID, stage: "ResponseComplete", level: "Metadata", verb: "list",
			user: "carol", resource: "secrets", ns: "shop", code: 200}, ""},
}

// TestRowsFitTheEventsTable migrates a fresh database, inserts the rows of real-shaped audit events the way
// the aggregator does, and reads every column back.
func TestRowsFitTheEventsTable(t *testing.T) {
	srv, db, database := migratedDatabase(t)
	ctx := context.Background()
	checkColumns(t, db, database)

	p := pipeline(database)
	remap := remapSource(t, p)
	now := time.Now()
	var rows []map[string]any
	for _, c := range cases {
		// The nats source adds these; the remap deletes them.
		ev := decode(t, c.json)
		ev["source_type"], ev["subject"], ev["timestamp"] = "nats", "audit.events.cluster-audit", now.Format(time.RFC3339Nano)
		rows = append(rows, row(t, p, remap, ev, now))
	}
	sink := vector.AggregatorClickHouseSink(p)
	insert(t, srv.HTTPAddr, sink, rows)

	got := readBack(t, db, database)
	if len(got) != len(cases) {
		t.Fatalf("the table has %d rows, want %d", len(got), len(cases))
	}
	for _, c := range cases {
		r, ok := got[c.want.eventTime]
		if !ok {
			t.Errorf("%s: no row with event_time %s", c.name, c.want.eventTime)
			continue
		}
		if !reflect.DeepEqual(r.want, c.want) {
			t.Errorf("%s: row\n %+v\nwant\n %+v", c.name, r.want, c.want)
		}
		// The event column gives the event back: the same JSON value, member for member.
		original := c.json
		if c.added != "" {
			original = strings.TrimSuffix(original, "}") + "," + c.added + "}"
		}
		var in, out any
		if err := json.Unmarshal([]byte(original), &in); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(r.event), &out); err != nil {
			t.Fatalf("%s: event does not parse: %v\n%s", c.name, err, r.event)
		}
		if !reflect.DeepEqual(in, out) {
			t.Errorf("%s: event\n %s\nwant the event\n %s", c.name, r.event, original)
		}
		if len(r.rest) >= len(c.json) {
			t.Errorf("%s: rest (%d bytes) is not smaller than the event (%d bytes): %s", c.name, len(r.rest), len(c.json), r.rest)
		}
	}

	// A redelivery inserts the same batch again: ReplacingMergeTree keeps one row per event.
	insert(t, srv.HTTPAddr, sink, rows)
	if _, err := db.ExecContext(ctx, "OPTIMIZE TABLE "+database+"."+sink.Table+" FINAL"); err != nil {
		t.Fatal(err)
	}
	var n, distinct uint64
	if err := db.QueryRowContext(ctx, "SELECT count(), uniqExact(event_time) FROM "+database+"."+sink.Table).Scan(&n, &distinct); err != nil {
		t.Fatal(err)
	}
	if n != uint64(len(cases)) || distinct != uint64(len(cases)) {
		t.Errorf("after inserting the batch twice and OPTIMIZE FINAL: %d rows (%d distinct), want %d", n, distinct, len(cases))
	}
}

// migratedDatabase is a new database of the shared server with every migration applied, and a pool
// whose current database is the server's default.
func migratedDatabase(t testing.TB) (*chtest.Server, *sql.DB, string) {
	t.Helper()
	srv := chtest.Shared(t)
	db, database := schematest.Migrated(t, srv)
	return srv, db, database
}

// checkColumns checks that the table's stored columns and eventrow.Columns agree: same names in the same
// order, same types, and no column the row leaves to a default. ALIAS columns (event, request_received_at)
// are computed from them.
func checkColumns(t *testing.T, db *sql.DB, database string) {
	t.Helper()
	rs, err := db.Query(`SELECT name, type, default_kind FROM system.columns WHERE database = ? AND table = ? AND default_kind != 'ALIAS' ORDER BY position`,
		database, vector.EventsTable)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rs.Close() }()
	type column struct{ name, typ string }
	var table []column
	row := map[string]bool{}
	for _, c := range eventrow.Columns {
		row[c.Name] = true
	}
	for rs.Next() {
		var name, typ, defaultKind string
		if err := rs.Scan(&name, &typ, &defaultKind); err != nil {
			t.Fatal(err)
		}
		table = append(table, column{name, typ})
		if !row[name] && defaultKind == "" {
			t.Errorf("column %s %s has no default and the row does not fill it", name, typ)
		}
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	var contract []column
	for _, c := range eventrow.Columns {
		contract = append(contract, column{c.Name, c.Type})
	}
	if !reflect.DeepEqual(table, contract) {
		t.Errorf("the events table has columns\n %v\neventrow.Columns has\n %v", table, contract)
	}
}

type readRow struct {
	want
	rest, event string
}

// readBack reads every row of the events table, by event_time.
func readBack(t *testing.T, db *sql.DB, database string) map[string]readRow {
	t.Helper()
	rs, err := db.Query(`SELECT toString(event_time), toString(request_received_at), latency_us, toString(audit_id),
		toString(stage), toString(level), toString(verb), toString(user), user_uid, toString(api_group), toString(resource),
		toString(subresource), toString(namespace), name, response_code, rest, event
		FROM ` + database + `.events_json`)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rs.Close() }()
	out := map[string]readRow{}
	for rs.Next() {
		var r readRow
		w := &r.want
		if err := rs.Scan(&w.eventTime, &w.received, &w.latency, &w.auditID, &w.stage, &w.level, &w.verb, &w.user, &w.uid,
			&w.group, &w.resource, &w.sub, &w.ns, &w.name, &w.code, &r.rest, &r.event); err != nil {
			t.Fatal(err)
		}
		out[w.eventTime] = r
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
