package contract

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/auditpipeline/auditpipeline-operator/internal/eventrow"
	"github.com/auditpipeline/auditpipeline-operator/internal/render/vector"
)

// TestRandomEventsComeBackWhole is FuzzEventsComeBackWhole for many events at once: it generates
// audit events with every field sometimes well-formed, sometimes of another type or odd text
// (quotes, backslashes, control characters, non-ASCII), request and response bodies of random JSON,
// inserts them in one batch as the sink does, and checks that events_json gives back each, and
// changes_json each write, with the documented additions only. CONTRACT_SEED picks other events (the
// seed is logged).
func TestRandomEventsComeBackWhole(t *testing.T) {
	seed := uint64(1)
	if s := os.Getenv("CONTRACT_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("CONTRACT_SEED=%q: %v", s, err)
		}
	}
	t.Logf("CONTRACT_SEED=%d", seed)
	const n = 3000
	g := generator{rand.New(rand.NewPCG(seed, 7))}

	srv, db, database := migratedDatabase(t)
	p := pipeline(database)
	remap, sink := remapSource(t, p), vector.AggregatorClickHouseSink(p)
	start := time.Date(2026, 3, 1, 10, 0, 0, 123456789, time.UTC)

	// want and writes: every event as events_json must give it back, and those changes_json must
	// (the writes: a verb changes_mv copies), by the id in their requestURI.
	want, writes := map[string]map[string]any{}, map[string]map[string]any{}
	var rows []map[string]any
	for i := range n {
		// The aggregator's now() differs from event to event: events without a stage time that
		// parses, and without a UUID auditID, would otherwise share a sorting key and collapse into
		// one row (ReplacingMergeTree; docs/schema.md).
		now := start.Add(time.Duration(i) * time.Microsecond)
		text, err := json.Marshal(g.event(i))
		if err != nil {
			t.Fatal(err)
		}
		ev, ok := deliverable(string(text))
		if !ok {
			t.Fatalf("the generator made an event Vector would not deliver: %s", text)
		}
		want[fmt.Sprint(i)] = withAdditions(ev, now)
		if verb, _ := ev["verb"].(string); slices.Contains([]string{"create", "update", "patch", "delete", "deletecollection"}, verb) {
			writes[fmt.Sprint(i)] = want[fmt.Sprint(i)]
		}
		sent := clone(ev)
		sent["source_type"], sent["subject"], sent["timestamp"] = "nats", "audit.events.cluster-audit", now.Format(time.RFC3339Nano)
		rows = append(rows, row(t, p, remap, sent, now))
	}
	insert(t, srv.HTTPAddr, sink, rows)
	if len(writes) == 0 || len(writes) == n {
		t.Fatalf("%d of %d events are writes: the generator should make both kinds", len(writes), n)
	}
	checkRebuilt(t, db, database+".events", want)
	checkRebuilt(t, db, database+".changes", writes)
	checkView(t, db, database+".events_json", want)
	checkView(t, db, database+".changes_json", writes)
}

// checkRebuilt checks that the Go twin of the views' event (eventrow.Row.Event), on each row of table,
// gives back each event of want, and no other, with sameJSON. It does not consume want.
func checkRebuilt(t *testing.T, db *sql.DB, table string, want map[string]map[string]any) {
	t.Helper()
	rs, err := db.QueryContext(context.Background(), "SELECT "+eventrow.ColumnNames()+" FROM "+table)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rs.Close() }()
	seen, failed := map[string]bool{}, 0
	for rs.Next() {
		var r eventrow.Row
		if err := rs.Scan(r.Fields()...); err != nil {
			t.Fatal(err)
		}
		out, err := r.Event()
		if err != nil {
			t.Fatalf("%s: rebuild a row: %v\nrest: %s", table, err, r.Rest)
		}
		got, ok := deliverable(string(out))
		if !ok {
			t.Fatalf("%s: Row.Event gave JSON that does not decode to an object: %s", table, out)
		}
		uri, _ := got["requestURI"].(string)
		id := strings.TrimPrefix(uri, "/random/")
		w, ok := want[id]
		if !ok || seen[id] {
			t.Fatalf("%s: Row.Event gave back an event it should not have, or twice: %s", table, out)
		}
		seen[id] = true
		if !sameJSON(got, w) && failed < 10 {
			failed++
			text, _ := json.Marshal(w)
			t.Errorf("%s: event\n %s\ncame back from Row.Event as\n %s", table, text, out)
		}
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	if len(seen) != len(want) {
		t.Errorf("%s: Row.Event gave back %d events, want %d", table, len(seen), len(want))
	}
}

// checkView checks that view gives back each event of want, and no other, with sameJSON.
func checkView(t *testing.T, db *sql.DB, view string, want map[string]map[string]any) {
	t.Helper()
	rs, err := db.QueryContext(context.Background(), "SELECT event FROM "+view)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rs.Close() }()
	seen, failed, n := 0, 0, len(want)
	for rs.Next() {
		var out string
		if err := rs.Scan(&out); err != nil {
			t.Fatal(err)
		}
		got, ok := deliverable(out)
		if !ok {
			t.Fatalf("%s gave back JSON that does not decode to an object: %s", view, out)
		}
		uri, _ := got["requestURI"].(string)
		id := strings.TrimPrefix(uri, "/random/")
		w, ok := want[id]
		if !ok {
			t.Fatalf("%s gave back an event it should not have, or twice: %s", view, out)
		}
		delete(want, id)
		seen++
		if !sameJSON(got, w) && failed < 10 {
			failed++
			text, _ := json.Marshal(w)
			t.Errorf("%s: event\n %s\ncame back as\n %s", view, text, out)
		}
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	if seen != n {
		t.Errorf("%s gave back %d events, want %d", view, seen, n)
	}
}

// generator makes random audit events. Each field is, most of the time, what the API server sends, and
// otherwise something the remap must leave in rest as it came.
type generator struct{ r *rand.Rand }

func (g generator) chance(p float64) bool { return g.r.Float64() < p }

// pieces are what random text is made of: plain words and the characters JSON and SQL escape.
var pieces = []string{"a", "Z", "shop", "system:", "-", "_", ".", "/", " ", "0", "9", `"`, `\`, "'", "\t", "\n",
	"\x00", "\x01", "\x1f", "\x7f", "<", ">", "&", "\u2028", "\u00e9", "\u540d", "\U0001F600", "\uFFFD", "{", "}", "[", ":", ",", "%", "$"}

func (g generator) text() string {
	var b strings.Builder
	for range g.r.IntN(8) {
		b.WriteString(pieces[g.r.IntN(len(pieces))])
	}
	return b.String()
}

// scalar is a random JSON scalar: text, a number of any magnitude a double holds, a bool or null.
func (g generator) scalar() any {
	switch g.r.IntN(8) {
	case 0, 1, 2:
		return g.text()
	case 3:
		return json.Number(strconv.FormatInt(g.r.Int64N(2000001)-1000000, 10))
	case 4:
		return json.Number(strconv.FormatFloat(g.r.NormFloat64()*1e6, 'g', -1, 64))
	case 5:
		return json.Number(fmt.Sprintf("%de%d", g.r.IntN(100), g.r.IntN(600)-300))
	case 6:
		return g.chance(0.5)
	}
	return nil
}

// value is a random JSON value nested at most depth levels.
func (g generator) value(depth int) any {
	if depth == 0 || g.chance(0.4) {
		return g.scalar()
	}
	if g.chance(0.5) {
		a := make([]any, g.r.IntN(4))
		for i := range a {
			a[i] = g.value(depth - 1)
		}
		return a
	}
	o := map[string]any{}
	for range g.r.IntN(5) {
		o[g.text()] = g.value(depth - 1)
	}
	return o
}

// field is usually good, else any other value.
func (g generator) field(good func() any) any {
	if g.chance(0.85) {
		return good()
	}
	return g.value(2)
}

func (g generator) pick(s ...string) func() any {
	return func() any {
		if g.chance(0.1) {
			return g.text()
		}
		return s[g.r.IntN(len(s))]
	}
}

// timestamp is the API server's MicroTime, or one of the forms that stay in rest.
func (g generator) timestamp() any {
	t := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC).Add(time.Duration(g.r.Int64N(int64(90 * 24 * time.Hour))))
	switch g.r.IntN(10) {
	case 0:
		return t.Format(time.RFC3339Nano)
	case 1:
		return t.In(time.FixedZone("", 2*3600)).Format("2006-01-02T15:04:05.000000-07:00")
	case 2:
		return t.Format("2006-01-02T15:04:05Z")
	case 3:
		return g.text()
	}
	return t.Format("2006-01-02T15:04:05.000000Z")
}

func (g generator) uuid() any {
	b := make([]byte, 16)
	for i := range b {
		b[i] = byte(g.r.UintN(256))
	}
	s := fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
	switch g.r.IntN(8) {
	case 0:
		return strings.ToUpper(s)
	case 1:
		return g.text()
	}
	return s
}

// event is audit event i: its requestURI, which no column takes, names it.
func (g generator) event(i int) map[string]any {
	ev := map[string]any{"requestURI": fmt.Sprintf("/random/%d", i)}
	set := func(k string, p float64, v func() any) {
		if g.chance(p) {
			ev[k] = v()
		}
	}
	set("kind", 0.9, g.pick("Event"))
	set("apiVersion", 0.9, g.pick("audit.k8s.io/v1"))
	set("level", 0.9, func() any { return g.field(g.pick("Metadata", "Request", "RequestResponse")) })
	set("auditID", 0.9, func() any { return g.field(g.uuid) })
	set("stage", 0.9, func() any { return g.field(g.pick("ResponseComplete", "ResponseStarted", "Panic")) })
	set("verb", 0.9, func() any { return g.field(g.pick("get", "list", "create", "update", "patch", "delete")) })
	set("stageTimestamp", 0.9, func() any { return g.field(g.timestamp) })
	set("requestReceivedTimestamp", 0.8, func() any { return g.field(g.timestamp) })
	set("user", 0.9, func() any {
		return g.field(func() any {
			u := map[string]any{}
			if g.chance(0.9) {
				u["username"] = g.field(g.pick("alice", "system:serviceaccount:shop:app", ""))
			}
			if g.chance(0.5) {
				u["uid"] = g.field(g.uuid)
			}
			if g.chance(0.5) {
				u["groups"] = []any{g.text(), "system:authenticated"}
			}
			return u
		})
	})
	set("objectRef", 0.8, func() any {
		return g.field(func() any {
			o := map[string]any{}
			for k, v := range map[string]func() any{
				"apiGroup": g.pick("apps", "", "rbac.authorization.k8s.io"), "resource": g.pick("pods", "deployments", ""),
				"subresource": g.pick("exec", "status", ""), "namespace": g.pick("shop", "kube-system", ""),
				"name": g.pick("web", "web-7d9f", ""), "apiVersion": g.pick("v1"), "resourceVersion": g.pick("1001"),
			} {
				if g.chance(0.6) {
					o[k] = g.field(v)
				}
			}
			return o
		})
	})
	set("responseStatus", 0.8, func() any {
		return g.field(func() any {
			s := map[string]any{"metadata": map[string]any{}}
			if g.chance(0.9) {
				s["code"] = g.field(func() any {
					return json.Number(strconv.Itoa([]int{200, 201, 403, 404, 409, 422, 500, 0, -1, 65535, 65536}[g.r.IntN(11)]))
				})
			}
			if g.chance(0.3) {
				s["message"] = g.text()
			}
			return s
		})
	})
	set("sourceIPs", 0.8, func() any { return []any{g.pick("10.0.0.1", "2001:db8::1")()} })
	set("userAgent", 0.7, func() any { return g.text() })
	set("annotations", 0.4, func() any {
		return map[string]any{"authorization.k8s.io/decision": g.pick("allow", "forbid")(), g.text(): g.text()}
	})
	set("requestObject", 0.3, func() any { return g.value(5) })
	set("responseObject", 0.3, func() any { return g.value(5) })
	return ev
}
