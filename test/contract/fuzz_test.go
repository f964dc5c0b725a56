package contract

import (
	"context"
	"encoding/json"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/auditpipeline/auditpipeline-operator/internal/eventrow"
	"github.com/auditpipeline/auditpipeline-operator/internal/render/vector"
	"github.com/auditpipeline/auditpipeline-operator/internal/render/vector/vrl"
)

// FuzzEventsComeBackWhole checks the split without loss on any event the aggregator can receive: its
// row (eventrow.FromEvent, the remap's twin) goes in as the sink sends it, and events_json gives the
// event back, member for member. The only differences allowed are the documented additions:
// `kind` and `apiVersion` when the event has none, `stageTimestamp` (the time of insert) when it has
// none, and `requestReceivedTimestamp` (the stage time) when it has none. Numbers compare as doubles,
// within a relative 1e-15 (sameJSON).
//
// The event is body (a JSON object; {} when it is not one the aggregator receives) with each non-empty
// field of fields set as a string at its path (fieldPaths) and code, when not 0, as
// responseStatus.code: the fuzzer reaches every typed column directly. `go test` runs the seeds;
// `go test -run '^$' -fuzz FuzzEventsComeBackWhole ./test/contract` searches further.
func FuzzEventsComeBackWhole(f *testing.F) {
	none := make([]string, len(fieldPaths))
	add := func(body string, code int64, fields ...string) {
		fs := append(fields, none[len(fields):]...)
		f.Add(body, code, fs[0], fs[1], fs[2], fs[3], fs[4], fs[5], fs[6], fs[7], fs[8], fs[9], fs[10], fs[11], fs[12])
	}
	for _, c := range cases {
		add(c.json, 0)
	}
	for _, seed := range []string{
		`{}`,
		`{"auditID":"","stageTimestamp":"yesterday","user":{"username":7},"responseStatus":{"code":"200"}}`,
		`{"kind":"Other","apiVersion":"v2","stage":"ResponseComplete","verb":"patch",` +
			`"requestObject":{"metadata":{"creationTimestamp":null},"data":{"k":"\u0000\u2028<>&\\\"/"}},"objectRef":{"name":""}}`,
		`{"stageTimestamp":"2026-03-01T10:00:00.1234567Z","requestReceivedTimestamp":"2026-03-01T12:00:00+02:00","responseStatus":{"code":200.0}}`,
		`{"stageTimestamp":"2026-03-01T10:00:00.000001Z","requestReceivedTimestamp":"2026-03-01T10:00:00.000002Z"}`,
		`{"user":{"username":"ü 名前","uid":"","extra":{"k":["v"]}},"objectRef":{"resource":"pods","subresource":"exec"},"responseStatus":{"code":70000}}`,
		`{"requestObject":[1,-0,1.5e300,-2.25e-300,12345678901234567890123,true,null,{},[]],"annotations":{"a":""}}`,
		`{"user":"alice","objectRef":[],"responseStatus":null,"level":null,"verb":"","auditID":"7C1F0E6A-4B7E-4A43-9F61-0C5C7D2F1A10"}`,
		// Bodies Vector's JSON decoder refuses, which the agent keeps as text.
		`{"verb":"patch","user":{"username":"bob"},"requestObject":{"metadata":{},"n":1e400},"responseObject":{"d":` +
			strings.Repeat("[", 130) + strings.Repeat("]", 130) + `}}`,
	} {
		add(seed, 0)
	}
	// The typed columns' fields, in the order of fieldPaths.
	add(`{"requestURI":"/api/v1/namespaces/shop/pods/web/exec?command=sh"}`, 101,
		"0b4a9f3e-55aa-4e11-9c22-7d8e9f0a1b2c", "ResponseComplete", "Request", "create", "alice\t\"x\"\u0001",
		"uid-1", "apps", "pods", "exec", "shop", "web-0", "2026-03-01T10:00:00.5Z", "2026-03-01T09:59:59.999999Z")
	add(`{"objectRef":{"apiVersion":"v1"}}`, 65535,
		"not-a-uuid", "Panic", "", "", "", "", "", "", "", "", "", "1969-12-31T23:59:59.999999Z", "0001-01-01T00:00:00Z")

	srv, db, database := migratedDatabase(f)
	p := pipeline(database)
	remap, sink := remapSource(f, p), vector.AggregatorClickHouseSink(p)
	// The fields the nats source adds and the remap deletes: an audit event has none of them.
	var natsFields []string
	for _, m := range vectorFieldsRE.FindAllStringSubmatch(remap, -1) {
		natsFields = append(natsFields, m[1])
	}
	now := time.Date(2026, 3, 1, 10, 0, 0, 123456789, time.UTC)
	ctx := context.Background()

	f.Fuzz(func(t *testing.T, body string, code int64, auditID, stage, level, verb, user, uid, group, resource, sub, ns, name, stageAt, receivedAt string) {
		ev, ok := deliverable(body)
		if !ok {
			// As the agent makes it: a member serde_json refuses becomes a JSON string of its text.
			events, dropped, err := vrl.SplitEventList([]byte(`{"kind":"EventList","items":[` + body + `]}`))
			if ev = map[string]any{}; err == nil && dropped == 0 && len(events) == 1 {
				ev = events[0]
			}
		}
		for i, v := range []string{auditID, stage, level, verb, user, uid, group, resource, sub, ns, name, stageAt, receivedAt} {
			if v != "" && !setPath(ev, fieldPaths[i], v) {
				t.Skip("a field's parent is not an object")
			}
		}
		if code != 0 && !setPath(ev, []string{"responseStatus", "code"}, json.Number(strconv.FormatInt(code, 10))) {
			t.Skip("responseStatus is not an object")
		}
		in, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		if ev, ok = deliverable(string(in)); !ok {
			t.Skip("not an event Vector's JSON decoder delivers")
		}
		for _, k := range natsFields {
			delete(ev, k)
		}
		want := withAdditions(ev, now)
		if _, err := db.ExecContext(ctx, "TRUNCATE TABLE "+database+"."+sink.Table); err != nil {
			t.Fatal(err)
		}
		sent := clone(vrl.WithSubjectVerb(ev)) // as the agent publishes it
		sent["source_type"], sent["subject"], sent["timestamp"] = "nats", "audit.events.cluster-audit", now.Format(time.RFC3339Nano)
		insert(t, srv.HTTPAddr, sink, []map[string]any{row(t, p, remap, sent, now)})

		var out string
		if err := db.QueryRowContext(ctx, "SELECT event FROM "+database+".events_json").Scan(&out); err != nil {
			t.Fatalf("read the event back: %v\nevent: %s", err, in)
		}
		got, ok := deliverable(out)
		if !ok {
			t.Fatalf("events_json gave back JSON that does not decode to an object: %s", out)
		}
		if !sameJSON(got, want) {
			w, _ := json.Marshal(want)
			t.Errorf("event\n %s\ncame back as\n %s\nwant\n %s", in, out, w)
		}
		// The readers' Go twin of the view gives the same event.
		var r eventrow.Row
		if err := db.QueryRowContext(ctx, "SELECT "+eventrow.ColumnNames()+" FROM "+database+".events").Scan(r.Fields()...); err != nil {
			t.Fatalf("read the row back: %v", err)
		}
		rebuilt, err := r.Event()
		if err != nil {
			t.Fatalf("Row.Event: %v\nrest: %s\nevent: %s", err, r.Rest, in)
		}
		if got, ok := deliverable(string(rebuilt)); !ok || !sameJSON(got, want) {
			w, _ := json.Marshal(want)
			t.Errorf("event\n %s\ncame back from Row.Event as\n %s\nwant\n %s", in, rebuilt, w)
		}
	})
}

// fieldPaths are where FuzzEventsComeBackWhole sets its string fields: those of the typed columns and
// the two timestamps.
var fieldPaths = [][]string{
	{"auditID"}, {"stage"}, {"level"}, {"verb"}, {"user", "username"}, {"user", "uid"},
	{"objectRef", "apiGroup"}, {"objectRef", "resource"}, {"objectRef", "subresource"},
	{"objectRef", "namespace"}, {"objectRef", "name"}, {"stageTimestamp"}, {"requestReceivedTimestamp"},
}

// setPath sets v at path in obj, creating the objects on the way; false when a value on the way is
// not an object.
func setPath(obj map[string]any, path []string, v any) bool {
	for _, k := range path[:len(path)-1] {
		next, ok := obj[k]
		if !ok {
			next = map[string]any{}
			obj[k] = next
		}
		if obj, ok = next.(map[string]any); !ok {
			return false
		}
	}
	obj[path[len(path)-1]] = v
	return true
}

// deliverable decodes s as the aggregator's nats source would, numbers kept as text, and says whether
// it is an event that source delivers: a JSON object whose numbers are finite doubles, nested at most
// 100 levels. Vector's decoder (serde_json) refuses the others; the agent publishes none, since it keeps
// a member it cannot decode as a JSON string of its text (vrl.SplitEventList, README, Known limitations).
func deliverable(s string) (map[string]any, bool) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil || dec.More() {
		return nil, false
	}
	obj, ok := v.(map[string]any)
	return obj, ok && decodable(v, 1)
}

func decodable(v any, depth int) bool {
	switch v := v.(type) {
	case json.Number:
		_, err := strconv.ParseFloat(string(v), 64)
		return err == nil
	case map[string]any:
		if depth > 100 {
			return false
		}
		for _, e := range v {
			if !decodable(e, depth+1) {
				return false
			}
		}
	case []any:
		if depth > 100 {
			return false
		}
		for _, e := range v {
			if !decodable(e, depth+1) {
				return false
			}
		}
	}
	return true
}

// withAdditions is ev as events_json must give it back: with kind, apiVersion, stageTimestamp and
// requestReceivedTimestamp added where ev has none (docs/schema.md).
func withAdditions(ev map[string]any, now time.Time) map[string]any {
	out := clone(ev)
	const microTime = "2006-01-02T15:04:05.000000Z"
	stage := now.UTC().Truncate(time.Microsecond)
	if s, ok := ev["stageTimestamp"].(string); ok {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			stage = t.UTC().Truncate(time.Microsecond)
		}
	}
	for k, v := range map[string]string{
		"kind": "Event", "apiVersion": "audit.k8s.io/v1",
		"stageTimestamp": stage.Format(microTime), "requestReceivedTimestamp": stage.Format(microTime),
	} {
		if _, ok := out[k]; !ok {
			out[k] = v
		}
	}
	return out
}

// sameJSON says whether a and b, decoded with numbers as text, are the same JSON value, numbers
// compared as doubles within a relative 1e-15: ClickHouse's JSON parser (in events_json) does not
// always read a decimal as its nearest double (docs/schema.md).
func sameJSON(a, b any) bool {
	switch a := a.(type) {
	case json.Number:
		b, ok := b.(json.Number)
		if !ok {
			return false
		}
		x, errX := strconv.ParseFloat(string(a), 64)
		y, errY := strconv.ParseFloat(string(b), 64)
		return errX == nil && errY == nil && math.Abs(x-y) <= 1e-15*math.Max(math.Abs(x), math.Abs(y))
	case map[string]any:
		b, ok := b.(map[string]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for k, e := range a {
			if f, ok := b[k]; !ok || !sameJSON(e, f) {
				return false
			}
		}
		return true
	case []any:
		b, ok := b.([]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for i := range a {
			if !sameJSON(a[i], b[i]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}
