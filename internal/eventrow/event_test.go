package eventrow

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// TestParseObject: members in order with their text as it is, nested values and strings with escapes
// skipped whole, and malformed text refused.
func TestParseObject(t *testing.T) {
	o, err := parseObject([]byte(` { "a" : 1 , "b":{"c":[1,{"d":"}]\"\\"}]},"e\u00e9":"x,}","f":null,"g":-1.5e3,"h":[] } `))
	if err != nil {
		t.Fatal(err)
	}
	want := object{{"a", json.RawMessage(`1`)}, {"b", json.RawMessage(`{"c":[1,{"d":"}]\"\\"}]}`)},
		{"eé", json.RawMessage(`"x,}"`)}, {"f", json.RawMessage(`null`)}, {"g", json.RawMessage(`-1.5e3`)}, {"h", json.RawMessage(`[]`)}}
	if !reflect.DeepEqual(o, want) {
		t.Errorf("got %q\nwant %q", o, want)
	}
	for _, bad := range []string{``, `[]`, `{`, `{"a"}`, `{"a":}`, `{"a":1`, `{"a":"x}`, `{"a":1}x`, `{a:1}`, `{"a":{"b":1}`} {
		if _, err := parseObject([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// TestEventMergesRest: rest wins over a column's member, objects merge member by member, and members
// the columns do not hold keep their text.
func TestEventMergesRest(t *testing.T) {
	r := Row{EventTime: time.Date(2026, 12, 1, 10, 0, 0, 123456000, time.UTC), LatencyUS: 1500,
		AuditID: uuid.MustParse("8f1d2c3b-0000-4000-8000-000000000001"), Stage: "ResponseComplete", Verb: "update",
		User: "alice", Resource: "configmaps", Namespace: "team-a", Name: "web", ResponseCode: 200,
		Rest: `{"user":{"groups":["g"]},"objectRef":{"apiVersion":"v1"},"responseStatus":{"metadata":{}},"stageTimestamp":"2026-12-01T11:00:00.123456+01:00","requestObject":{"n":1.10}}`}
	b, err := r.Event()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"8f1d2c3b-0000-4000-8000-000000000001","stage":"ResponseComplete","verb":"update",` +
		`"user":{"username":"alice","groups":["g"]},"objectRef":{"resource":"configmaps","namespace":"team-a","name":"web","apiVersion":"v1"},` +
		`"responseStatus":{"code":200,"metadata":{}},"requestReceivedTimestamp":"2026-12-01T10:00:00.121956Z",` +
		`"stageTimestamp":"2026-12-01T11:00:00.123456+01:00","requestObject":{"n":1.10}}`
	if string(b) != want {
		t.Errorf("got\n %s\nwant\n %s", b, want)
	}
}

func BenchmarkEvent(b *testing.B) {
	body := `{"metadata":{"name":"web","namespace":"team-a","managedFields":[{"manager":"kubectl","operation":"Update","fieldsV1":{"f:data":{"f:a":{}}}}]},"data":{"a":"` + strings.Repeat("v", 2000) + `"}}`
	r := Row{EventTime: time.Now(), AuditID: uuid.New(), Verb: "update", User: "alice", Resource: "configmaps", Name: "web",
		Rest: `{"annotations":{"authorization.k8s.io/decision":"allow"},"user":{"groups":["system:authenticated"]},"objectRef":{"apiVersion":"v1"},"requestObject":` + body + `}`}
	for b.Loop() {
		if _, err := r.Event(); err != nil {
			b.Fatal(err)
		}
	}
}
