package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/auditpipeline/auditpipeline-operator/internal/eventrow"
	"github.com/auditpipeline/auditpipeline-operator/internal/testkit/chtest"
	"github.com/auditpipeline/auditpipeline-operator/migrations"
)

func TestMain(m *testing.M) { chtest.MainWithOptions(m, chtest.Options{ConfigXML: QueryLogConfig}) }

func generate(t *testing.T, o GenOptions) []Row {
	t.Helper()
	g := NewGenerator(o)
	rows := make([]Row, 0, o.N)
	for range o.N {
		r, err := RowOf(g.Next())
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, r)
	}
	return rows
}

func TestGeneratorIsDeterministicAndRealistic(t *testing.T) {
	o := GenOptions{Seed: 7, N: 20_000}
	a, b := generate(t, o), generate(t, o)
	if !slices.EqualFunc(a, b, func(x, y Row) bool { return x.EventJSON == y.EventJSON }) {
		t.Fatal("the same seed gave different events")
	}
	if c := generate(t, GenOptions{Seed: 8, N: 10}); c[0].EventJSON == a[0].EventJSON {
		t.Error("another seed gave the same first event")
	}
	verbs, levels, codes, ids := map[string]int{}, map[string]int{}, map[uint16]int{}, map[string]bool{}
	tenants, types := map[string]int{}, map[string]string{}
	generated := map[string]Tenant{}
	for _, tn := range NewGenerator(o).Tenants() {
		generated[tn.Name] = tn
	}
	for i, r := range a {
		if i > 0 && !r.EventTime.After(a[i-1].EventTime) {
			t.Fatalf("event %d at %s is not after event %d at %s", i, r.EventTime, i-1, a[i-1].EventTime)
		}
		verbs[r.Verb]++
		levels[r.Level]++
		codes[r.ResponseCode]++
		// The tenant comes from the scope annotations, which stay in rest, and the cluster from the collector.
		tn, ok := generated[r.Tenant]
		if !ok || r.TenantType != tn.Type || r.Namespace != tn.Namespace || r.Cluster != Cluster {
			t.Fatalf("event %d: tenant %q/%q in namespace %q, cluster %q; want a generated tenant in its namespace, cluster %q",
				i, r.TenantType, r.Tenant, r.Namespace, r.Cluster, Cluster)
		}
		if !strings.Contains(r.Rest, `"`+ScopeTypeAnnotation+`":"`+tn.Type+`"`) || !strings.Contains(r.Rest, `"`+ScopeNameAnnotation+`":"`+tn.Name+`"`) ||
			!strings.Contains(r.Rest, `"authorization.k8s.io/decision"`) {
			t.Fatalf("event %d: rest lacks the scope or authorization annotations: %s", i, r.Rest)
		}
		tenants[r.Tenant]++
		types[r.Tenant] = r.TenantType
		ids[r.AuditID.String()] = true
		if r.LatencyUS == 0 || r.LatencyUS > 60_000_000 {
			t.Fatalf("event %d took %d µs from receipt to its stage", i, r.LatencyUS)
		}
		// The API server's audit ID and timestamps have columns that give them back exactly: rest
		// must not store them again.
		var top map[string]json.RawMessage // rest's own fields, not those of its bodies
		if err := json.Unmarshal([]byte(r.Rest), &top); err != nil {
			t.Fatal(err)
		}
		for _, field := range []string{"auditID", "stageTimestamp", "requestReceivedTimestamp", "verb"} {
			if _, ok := top[field]; ok {
				t.Fatalf("event %d: rest keeps %s: %s", i, field, r.Rest)
			}
		}
		var e map[string]any
		if err := json.Unmarshal([]byte(r.EventJSON), &e); err != nil {
			t.Fatal(err)
		}
		if e["auditID"] != r.AuditID.String() || e["verb"] != r.Verb || e["kind"] != "Event" || e["apiVersion"] != "audit.k8s.io/v1" {
			t.Fatalf("row and JSON disagree: %+v vs %s", r, r.EventJSON)
		}
		if r.Level == "RequestResponse" && !strings.Contains(r.EventJSON, `"requestObject"`) {
			t.Fatalf("RequestResponse event without a request body: %s", r.EventJSON)
		}
	}
	if span := a[len(a)-1].EventTime.Sub(a[0].EventTime); span < 89*24*time.Hour || a[len(a)-1].EventTime.After(DefaultEnd) {
		t.Errorf("events span %s ending %s, want ~90 days ending by %s", span, a[len(a)-1].EventTime, DefaultEnd)
	}
	if len(ids) != len(a) {
		t.Errorf("%d distinct audit IDs for %d events", len(ids), len(a))
	}
	reads := verbs["get"] + verbs["list"] + verbs["watch"]
	if reads < len(a)/2 || verbs["delete"] == 0 || verbs["create"] == 0 {
		t.Errorf("verbs %v: reads should dominate and every write verb occur", verbs)
	}
	if levels["Metadata"] < len(a)*3/4 || levels["RequestResponse"] == 0 {
		t.Errorf("levels %v: Metadata mostly, some RequestResponse", levels)
	}
	if codes[200]+codes[201] < len(a)*9/10 || codes[403] == 0 || codes[404] == 0 || codes[409] == 0 {
		t.Errorf("response codes %v", codes)
	}
	if len(generated) != 150 || len(tenants) != 150 {
		t.Errorf("%d tenants generated, %d of them touched; want 150, all touched", len(generated), len(tenants))
	}
	// The skew (tenantSkew): the busiest tenant has about 14% of the events, and it is the first.
	busiest := ""
	for name, n := range tenants {
		if n > tenants[busiest] {
			busiest = name
		}
	}
	if share := float64(tenants[busiest]) / float64(len(a)); share < 0.12 || share > 0.16 || busiest != NewGenerator(o).Tenants()[0].Name {
		t.Errorf("the busiest tenant %s has %.1f%% of the events; want the first tenant, with 12-16%%", busiest, 100*share)
	}
	orgs := 0
	for _, typ := range types {
		if typ == ScopeOrganization {
			orgs++
		} else if typ != ScopeProject {
			t.Errorf("tenant type %q", typ)
		}
	}
	if orgs != 15 {
		t.Errorf("%d Organizations among the tenants, want 15 (every tenth)", orgs)
	}
}

// TestQueriesReturnTheRightRows loads a small known data set and compares each query's answer with
// the one computed in Go from the generated events.
func TestQueriesReturnTheRightRows(t *testing.T) {
	database, conn := chtest.NewDatabase(t)
	db := chtest.Shared(t).OpenDB(database)
	t.Cleanup(func() { _ = db.Close() })
	ctx := context.Background()
	// Two days, so that the last hour of the busiest tenant holds events too.
	rep, err := Run(ctx, db, conn, database, Options{Gen: GenOptions{Seed: 3, N: 5_000, Span: 48 * time.Hour}, Runs: 3, Keep: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Storage.Rows != 5_000 || rep.Storage.Bytes == 0 || rep.Load.Rows != 5_000 {
		t.Fatalf("storage %+v, load %+v", rep.Storage, rep.Load)
	}
	// The canary's lookup finds the events it looks for; the freshness counts the last 5 minutes' events.
	if c := rep.Canary; c.Asked != 5 || c.Found != 5 || c.Seen <= 0 || c.Freshness <= 0 {
		t.Errorf("canary measure %+v: want 5 of 5 found", c)
	}
	for _, q := range Queries {
		t.Run(q.ID, func(t *testing.T) {
			wantIDs, wantCounts := q.Expected(rep.Params, rep.Rows)
			gotIDs, gotCounts, err := q.Answer(ctx, conn, database, rep.Params, "", nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(wantIDs)+len(wantCounts) == 0 {
				t.Fatalf("the parameters %+v select nothing: the test proves little", rep.Params)
			}
			if diff := cmp.Diff(wantIDs, gotIDs); diff != "" {
				t.Errorf("audit IDs (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(wantCounts, gotCounts); diff != "" {
				t.Errorf("counts by verb (-want +got):\n%s", diff)
			}
		})
	}
	var out bytes.Buffer
	if err := rep.Print(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"bytes/row on disk", "insert rows/s", "Q1 median ms", "Q5 median ms", "floor ms", "machine reference"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	if rep.Reference <= 0 {
		t.Errorf("machine reference %s", rep.Reference)
	}
	if len(rep.Results) != len(Queries) {
		t.Fatalf("%d results for %d queries", len(rep.Results), len(Queries))
	}
	for i, r := range rep.Results {
		if r.Query.ID != Queries[i].ID || r.Runs != 3 || r.ReadRows == 0 || r.Median <= 0 || r.Floor <= 0 {
			t.Errorf("result %d: %s, %d runs, %d rows read in %s, floor %s", i, r.Query.ID, r.Runs, r.ReadRows, r.Median, r.Floor)
		}
	}
	// The floor must give each query's answer: tables without the answer's rows are refused.
	empty := FloorDatabase(database)
	if err := Migrate(ctx, db, empty); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = db.Exec("DROP DATABASE IF EXISTS " + empty + " SYNC") })
	if _, _, err := Measure(ctx, conn, database, empty, rep.Params, 1, nil); err == nil || !strings.Contains(err.Error(), "not the same") {
		t.Errorf("Measure with an empty floor: %v, want the answers refused as not the same", err)
	}
	if _, err := Run(ctx, db, conn, database, Options{Gen: GenOptions{Seed: 3}}); err == nil {
		t.Error("Run with no events: no error")
	}
	if _, _, err := Measure(ctx, conn, database, "", rep.Params, -1, nil); err == nil {
		t.Error("Measure with -1 runs: no error")
	}
}

// TestRedeliveredEventsCollapse inserts some events twice, as a redelivery does, and expects OPTIMIZE
// FINAL to keep one row per audit ID in events, and one per write in changes.
func TestRedeliveredEventsCollapse(t *testing.T) {
	database, conn := chtest.NewDatabase(t)
	db := chtest.Shared(t).OpenDB(database)
	t.Cleanup(func() { _ = db.Close() })
	ctx := context.Background()
	if err := Migrate(ctx, db, database); err != nil {
		t.Fatal(err)
	}
	rows := generate(t, GenOptions{Seed: 5, N: 3_000})
	again := slices.Concat(rows, rows[1_000:2_500])
	i := 0
	if _, err := Load(ctx, conn, database, func() (Row, bool, error) {
		if i == len(again) {
			return Row{}, false, nil
		}
		i++
		return again[i-1], true, nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := Optimize(ctx, conn, database); err != nil {
		t.Fatal(err)
	}
	var n, distinct uint64
	if err := conn.QueryRow(ctx, "SELECT count(), uniqExact(audit_id) FROM "+database+".events").Scan(&n, &distinct); err != nil {
		t.Fatal(err)
	}
	if n != 3_000 || distinct != 3_000 {
		t.Errorf("after OPTIMIZE FINAL: %d rows, %d audit IDs; want 3000 of each", n, distinct)
	}
	// The inserts ran with the settings the operator gives the aggregator, and the client's.
	want := map[string]string{}
	for _, m := range []map[string]string{migrations.InsertSettings, ClientSettings} {
		for k, v := range m {
			want[k] = v
		}
	}
	checkInsertSettings(t, conn, want, "startsWith(query, ?)", insertSQL(database))
	// changes holds each write once too, as changes_mv copied it from every insert.
	writes := 0
	for _, r := range rows {
		if isWrite(r.Verb) || r.Verb == "deletecollection" {
			writes++
		}
	}
	if err := conn.QueryRow(ctx, "SELECT count(), uniqExact(audit_id) FROM "+database+".changes").Scan(&n, &distinct); err != nil {
		t.Fatal(err)
	}
	if writes == 0 || n != uint64(writes) || distinct != uint64(writes) {
		t.Errorf("changes after OPTIMIZE FINAL: %d rows, %d audit IDs; want %d of each (the writes)", n, distinct, writes)
	}
	st, err := MeasureStorage(ctx, conn, database)
	if err != nil {
		t.Fatal(err)
	}
	if st.Rows != 3_000 {
		t.Errorf("system.parts counts %d rows, want 3000", st.Rows)
	}
	checkEventsComeBack(t, conn, database, rows)
}

// checkInsertSettings fails t unless the inserts that match (a condition on system.query_log's columns,
// with args for its placeholders) ran, every one of them, with each setting of want.
func checkInsertSettings(t *testing.T, conn driver.Conn, want map[string]string, match string, args ...any) {
	t.Helper()
	ctx := context.Background()
	if err := conn.Exec(ctx, "SYSTEM FLUSH LOGS"); err != nil {
		t.Fatal(err)
	}
	for name, value := range want {
		// query_log lists the settings that differ from the server's defaults: one set to its default
		// is not there, and the default is what it ran with.
		var inserts, with uint64
		if err := conn.QueryRow(ctx, `SELECT count(), countIf(if(mapContains(Settings, ?), Settings[?],
			(SELECT default FROM system.settings WHERE name = ?)) = ?) FROM system.query_log
			WHERE type = 'QueryFinish' AND query_kind = 'Insert' AND `+match,
			append([]any{name, name, name, value}, args...)...).Scan(&inserts, &with); err != nil {
			t.Fatal(err)
		}
		if inserts == 0 || with != inserts {
			t.Errorf("%d inserts logged, %d of them with %s = %s; want them all", inserts, with, name, value)
		}
	}
}

// TestStorageCountsProjectionsOnce compares the table's measured size with that of a copy without the
// projection, holding the same rows in the same parts: system.parts already counts a part's projections,
// so the copy's size must be the table's less the projections' share, not the table's.
func TestStorageCountsProjectionsOnce(t *testing.T) {
	database, conn := chtest.NewDatabase(t)
	db := chtest.Shared(t).OpenDB(database)
	t.Cleanup(func() { _ = db.Close() })
	ctx := context.Background()
	if _, err := Run(ctx, db, conn, database, Options{Gen: GenOptions{Seed: 7, N: 20_000}, Runs: 1}); err != nil {
		t.Fatal(err)
	}
	st, err := MeasureStorage(ctx, conn, database)
	if err != nil {
		t.Fatal(err)
	}
	if st.ProjectionBytes == 0 {
		t.Fatalf("no projection bytes measured: %+v", st)
	}
	for _, q := range []string{
		"CREATE TABLE {db}.bare AS {db}.events",
		"ALTER TABLE {db}.bare DROP PROJECTION by_time",
		"INSERT INTO {db}.bare SELECT * FROM {db}.events",
		"OPTIMIZE TABLE {db}.bare FINAL",
	} {
		if err := conn.Exec(ctx, strings.ReplaceAll(q, "{db}", database)); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	var bare uint64
	if err := conn.QueryRow(ctx, "SELECT sum(bytes_on_disk) FROM system.parts WHERE active AND database = ? AND table = 'bare'",
		database).Scan(&bare); err != nil {
		t.Fatal(err)
	}
	// The parts differ only by the projection's directory and the lines that list it.
	events := st.Tables[0]
	want := float64(events.Bytes - st.ProjectionBytes)
	if got := float64(bare); got < 0.99*want || got > 1.01*want {
		t.Errorf("the copy without the projection takes %d bytes; the table %d, of which %d the projection: want the copy within 1%% of %.0f",
			bare, events.Bytes, st.ProjectionBytes, want)
	}
	if changes := st.Tables[1]; events.Name != "events" || changes.Name != "changes" || changes.Bytes == 0 ||
		st.Bytes != events.Bytes+changes.Bytes {
		t.Errorf("tables %+v, total %d bytes: want events and changes, the total their sum", st.Tables, st.Bytes)
	}
}

// checkEventsComeBack reads the event column of every row and expects each generated event back, the
// same JSON value member for member.
func checkEventsComeBack(t *testing.T, conn driver.Conn, database string, rows []Row) {
	t.Helper()
	sent := map[uuid.UUID]string{}
	for _, r := range rows {
		sent[r.AuditID] = r.EventJSON
	}
	rs, err := conn.Query(context.Background(), "SELECT audit_id, event FROM "+database+".events_json")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rs.Close() }()
	n := 0
	for rs.Next() {
		var id uuid.UUID
		var event string
		if err := rs.Scan(&id, &event); err != nil {
			t.Fatal(err)
		}
		n++
		var got, want any
		if err := json.Unmarshal([]byte(event), &got); err != nil {
			t.Fatalf("event %s does not parse: %v\n%s", id, err, event)
		}
		if err := json.Unmarshal([]byte(sent[id]), &want); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("event %s came back different (-sent +stored):\n%s", id, diff)
		}
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	if n != len(sent) {
		t.Errorf("read %d events back, sent %d", n, len(sent))
	}
	// The readers' way (eventrow.Row.Event on the columns) gives every event back too.
	rs2, err := conn.Query(context.Background(), "SELECT "+eventrow.ColumnNames()+" FROM "+database+".events")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rs2.Close() }()
	n = 0
	for rs2.Next() {
		var r eventrow.Row
		if err := rs2.Scan(r.Fields()...); err != nil {
			t.Fatal(err)
		}
		n++
		event, err := r.Event()
		if err != nil {
			t.Fatalf("event %s: Row.Event: %v", r.AuditID, err)
		}
		var got, want any
		if err := json.Unmarshal(event, &got); err != nil {
			t.Fatalf("event %s from Row.Event does not parse: %v\n%s", r.AuditID, err, event)
		}
		if err := json.Unmarshal([]byte(sent[r.AuditID]), &want); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("event %s came back different from Row.Event (-sent +rebuilt):\n%s", r.AuditID, diff)
		}
	}
	if err := rs2.Err(); err != nil {
		t.Fatal(err)
	}
	if n != len(sent) {
		t.Errorf("Row.Event: read %d events back, sent %d", n, len(sent))
	}
}

// TestListQueries checks that Q1L and Q3L are Q1 and Q3 with the list's columns, and nothing else.
func TestListQueries(t *testing.T) {
	byID := map[string]Query{}
	for _, q := range Queries {
		byID[q.ID] = q
	}
	for _, id := range []string{"Q1", "Q3"} {
		whole, list := byID[id], byID[id+"L"]
		if !list.List || whole.List || !strings.Contains(list.SQL, "SELECT "+listColumns+" FROM") || strings.Contains(list.SQL, rowColumns) {
			t.Errorf("%sL: %s", id, list.SQL)
		}
		if strings.Replace(list.SQL, listColumns, rowColumns, 1) != whole.SQL || list.Target != whole.Target || list.Limit != whole.Limit {
			t.Errorf("%sL is not %s with the list's columns:\n%s\n%s", id, id, list.SQL, whole.SQL)
		}
	}
}
