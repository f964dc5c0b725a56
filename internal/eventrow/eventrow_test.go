package eventrow

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func decode(t *testing.T, s string) map[string]any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var ev map[string]any
	if err := dec.Decode(&ev); err != nil {
		t.Fatalf("decode %s: %v", s, err)
	}
	return ev
}

// TestFromEvent checks which fields leave rest, and what the columns hold, on events at the edges of the
// contract.
func TestFromEvent(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 987654321, time.UTC)
	cases := []struct {
		name, event string
		check       func(t *testing.T, r Row)
		rest        string
	}{
		{
			name: "as the API server writes it: only what has no column stays",
			event: `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"7c1f0e6a-4b7e-4a43-9f61-0c5c7d2f1a10",` +
				`"stage":"ResponseComplete","verb":"get","user":{"username":"alice","uid":"u-1","groups":["devs"]},` +
				`"objectRef":{"resource":"pods","namespace":"shop","name":"web","apiVersion":"v1"},"responseStatus":{"metadata":{},"code":200},` +
				`"requestReceivedTimestamp":"2026-03-01T10:00:00.100000Z","stageTimestamp":"2026-03-01T10:00:00.123456Z"}`,
			rest: `{"objectRef":{"apiVersion":"v1"},"responseStatus":{"metadata":{}},"user":{"groups":["devs"]}}`,
			check: func(t *testing.T, r Row) {
				if r.EventTime != time.Date(2026, 3, 1, 10, 0, 0, 123456000, time.UTC) || r.LatencyUS != 23456 ||
					r.AuditID.String() != "7c1f0e6a-4b7e-4a43-9f61-0c5c7d2f1a10" || r.User != "alice" || r.UserUID != "u-1" ||
					r.Namespace != "shop" || r.Resource != "pods" || r.Name != "web" || r.ResponseCode != 200 {
					t.Errorf("row %+v", r)
				}
			},
		},
		{
			name: "what its column cannot give back stays as it came",
			event: `{"kind":"Other","auditID":"E3B0C442-98FC-1C14-9AFB-F4C8996FB924","requestReceivedTimestamp":"2026-03-01T11:00:00+01:00",` +
				`"stageTimestamp":"2026-03-01T10:00:00.5Z","responseStatus":{"code":70000},"verb":""}`,
			rest: `{"auditID":"E3B0C442-98FC-1C14-9AFB-F4C8996FB924","kind":"Other","requestReceivedTimestamp":"2026-03-01T11:00:00+01:00",` +
				`"responseStatus":{"code":70000},"stageTimestamp":"2026-03-01T10:00:00.5Z","verb":""}`,
			check: func(t *testing.T, r Row) {
				if r.AuditID.String() != "e3b0c442-98fc-1c14-9afb-f4c8996fb924" || r.LatencyUS != 500000 || r.ResponseCode != 0 {
					t.Errorf("row %+v", r)
				}
			},
		},
		{
			name:  "received after its stage: latency 0, the request time kept",
			event: `{"requestReceivedTimestamp":"2026-03-01T10:00:01.000000Z","stageTimestamp":"2026-03-01T10:00:00.000000Z"}`,
			rest:  `{"requestReceivedTimestamp":"2026-03-01T10:00:01.000000Z"}`,
			check: func(t *testing.T, r Row) {
				if r.LatencyUS != 0 || r.AuditID.String() != NilUUID {
					t.Errorf("row %+v", r)
				}
			},
		},
		{
			name:  "no stage time: the time of insert, nothing taken out",
			event: `{"auditID":"00000000-0000-0000-0000-000000000000","user":{"username":7}}`,
			rest:  `{"auditID":"00000000-0000-0000-0000-000000000000","user":{"username":7}}`,
			check: func(t *testing.T, r Row) {
				if !r.EventTime.Equal(now.Truncate(time.Microsecond)) || r.User != "" {
					t.Errorf("row %+v", r)
				}
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ev := decode(t, c.event)
			r := Tenancy{}.FromEvent(ev, now)
			if r.Rest != c.rest {
				t.Errorf("rest\n %s\nwant\n %s", r.Rest, c.rest)
			}
			c.check(t, r)
			if got := EncodeJSON(ev); got != EncodeJSON(decode(t, c.event)) {
				t.Errorf("FromEvent changed its event: %s", got)
			}
		})
	}
}

// TestColumnsMatchRowFields checks that Columns, Fields and the VRL agree on the columns and their order.
func TestColumnsMatchRowFields(t *testing.T) {
	var r Row
	if got, want := len(r.Fields()), len(Columns); got != want {
		t.Fatalf("Fields has %d pointers, Columns %d columns", got, want)
	}
	if StringColumns != len(Columns)-5 {
		t.Errorf("%d string columns of %d columns: the others are event_time, latency_us, audit_id, response_code, rest", StringColumns, len(Columns))
	}
	var strs []string
	for _, c := range Columns {
		if strings.HasSuffix(c.Type, "String)") || c.Type == "String" {
			strs = append(strs, c.Name)
		}
	}
	strs = strs[:len(strs)-1] // rest
	for _, d := range derivedStrings {
		*d.field(&r) = d.column
	}
	for _, s := range strippedStrings {
		*s.field(&r) = s.column
	}
	for i := range StringColumns {
		if r.StringColumn(i) != strs[i] {
			t.Errorf("string column %d is %s, Columns has %s there", i, r.StringColumn(i), strs[i])
		}
	}
	for _, tenancy := range []Tenancy{{}, {NameAnnotation: "a.example/n"}, {TypeAnnotation: "a.example/t", NameAnnotation: "n"}} {
		prelude := tenancy.Prelude()
		for _, c := range Columns {
			if c.Name == "rest" || c.Name == "event_time" {
				continue
			}
			if !strings.Contains(prelude, c.Expr+" = ") {
				t.Errorf("%+v: the prelude never sets %s, the expression of column %s", tenancy, c.Expr, c.Name)
			}
		}
		if strings.Contains(prelude, "$") {
			t.Errorf("%+v: the prelude holds a '$', which Vector would interpolate", tenancy)
		}
	}
}

func TestFieldsOf(t *testing.T) {
	var r Row
	fields, err := r.FieldsOf([]string{"response_code", "audit_id", "name"})
	if err != nil {
		t.Fatal(err)
	}
	if fields[0] != any(&r.ResponseCode) || fields[1] != any(&r.AuditID) || fields[2] != any(&r.Name) {
		t.Errorf("FieldsOf(response_code, audit_id, name) = %v, want pointers to those fields of the row", fields)
	}
	if _, err := r.FieldsOf([]string{"event"}); err == nil {
		t.Error("FieldsOf(event): no error for a name that is not a column")
	}
}

// TestOriginalVerbComesBack: an event the agent published under its verb's subject token has its verb
// back in its row and in rest, and nothing of the agent's field.
func TestOriginalVerbComesBack(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		original any
		verb     string
		inRest   bool
	}{{[]any{"a..b"}, "a..b", false}, {[]any{json.Number("7")}, "", true}, {[]any{}, "", false}} {
		ev := map[string]any{"verb": "a__b", OriginalVerbField: c.original, "auditID": "x"}
		r := Tenancy{}.FromEvent(ev, now)
		if r.Verb != c.verb || strings.Contains(r.Rest, OriginalVerbField) || strings.Contains(r.Rest, "a__b") ||
			strings.Contains(r.Rest, `"verb"`) != c.inRest {
			t.Errorf("%v: verb %q, rest %s", c.original, r.Verb, r.Rest)
		}
		if ev["verb"] != "a__b" || ev[OriginalVerbField] == nil {
			t.Error("FromEvent changed the event it was given")
		}
	}
	if prelude := (Tenancy{}).Prelude(); !strings.HasPrefix(prelude, "row_cluster = string(del(."+ClusterField+")) ?? \"\"\n"+
		"if exists(."+OriginalVerbField+") {\n  original_verb = array(del(."+OriginalVerbField+")) ?? []\n"+
		"  if length(original_verb) == 0 { del(.verb) } else { .verb = original_verb[0] }\n}\nrest = .\n") {
		t.Errorf("the remap does not take the cluster out and put the verb back first:\n%s", prelude)
	}
}

// TestTenancy: the tenant columns with namespace and annotation tenancy, on events that have, lack, or
// have odd values of the annotations; the annotations stay in rest, the collector's cluster field does not.
func TestTenancy(t *testing.T) {
	now := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	milo := Tenancy{TypeAnnotation: "platform.miloapis.com/scope.type", NameAnnotation: "platform.miloapis.com/scope.name"}
	long := strings.Repeat("p", 300)
	cases := []struct {
		name       string
		tenancy    Tenancy
		event      string
		typ, ten   string
		restHolds  []string
		clusterWas string
	}{
		{"namespace", Tenancy{}, `{"objectRef":{"namespace":"shop"},"annotations":{"platform.miloapis.com/scope.name":"p1"}}`, "", "shop", []string{"scope.name"}, ""},
		{"namespace, cluster-scoped", Tenancy{}, `{"objectRef":{"resource":"nodes"}}`, "", "", nil, ""},
		{"annotations", milo, `{"objectRef":{"namespace":"shop"},"annotations":{"platform.miloapis.com/scope.type":"Project","platform.miloapis.com/scope.name":"p1"},"auditpipeline_cluster":"eu-1"}`,
			"Project", "p1", []string{`"platform.miloapis.com/scope.type":"Project"`, `"platform.miloapis.com/scope.name":"p1"`}, "eu-1"},
		{"no annotations", milo, `{"objectRef":{"namespace":"shop"}}`, "", "", nil, ""},
		{"only the name", milo, `{"annotations":{"platform.miloapis.com/scope.name":"p1"}}`, "", "p1", nil, ""},
		{"empty values", milo, `{"annotations":{"platform.miloapis.com/scope.type":"","platform.miloapis.com/scope.name":""}}`, "", "", nil, ""},
		{"not strings", milo, `{"annotations":{"platform.miloapis.com/scope.type":7,"platform.miloapis.com/scope.name":{"a":1}}}`, "", "", []string{`"platform.miloapis.com/scope.type":7`}, ""},
		{"annotations not an object", milo, `{"annotations":"x","auditpipeline_cluster":7}`, "", "", []string{`"annotations":"x"`}, ""},
		{"unicode and 300 characters", milo, `{"annotations":{"platform.miloapis.com/scope.type":"Projekt ünïcödé 🚀","platform.miloapis.com/scope.name":"` + long + `"}}`,
			"Projekt ünïcödé 🚀", long, []string{long}, ""},
		{"only a name annotation configured", Tenancy{NameAnnotation: "team"}, `{"annotations":{"team":"a","platform.miloapis.com/scope.type":"Project"}}`, "", "a", nil, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := c.tenancy.FromEvent(decode(t, c.event), now)
			if r.TenantType != c.typ || r.Tenant != c.ten || r.Cluster != c.clusterWas {
				t.Errorf("tenant_type %q, tenant %q, cluster %q; want %q, %q, %q", r.TenantType, r.Tenant, r.Cluster, c.typ, c.ten, c.clusterWas)
			}
			for _, s := range c.restHolds {
				if !strings.Contains(r.Rest, s) {
					t.Errorf("rest lacks %s: %s", s, r.Rest)
				}
			}
			if strings.Contains(r.Rest, ClusterField) {
				t.Errorf("rest holds the collector's %s: %s", ClusterField, r.Rest)
			}
		})
	}
	if p := milo.Prelude(); !strings.Contains(p, `row_tenant = string(.annotations."platform.miloapis.com/scope.name") ?? ""`) ||
		!strings.Contains(p, `row_tenant_type = string(.annotations."platform.miloapis.com/scope.type") ?? ""`) {
		t.Errorf("the prelude does not read the annotations:\n%s", p)
	}
}
