package query

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"

	"github.com/auditpipeline/auditpipeline-operator/internal/eventrow"
)

// recordedEvents is the file of audit events a real kube-apiserver sent (test/kind, TestRecordEvents).
const recordedEvents = "testdata/recorded-events.jsonl"

// readRecordedEvents reads recordedEvents: one event a line, numbers as json.Number.
func readRecordedEvents(t *testing.T) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(recordedEvents)
	if err != nil {
		t.Fatalf("the recorded events: %v", err)
	}
	var events []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		if line := bytes.TrimSpace(sc.Bytes()); len(line) > 0 {
			events = append(events, decodeEvent(t, line))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(events) < 10 {
		t.Fatalf("%s has %d events, too few to test filters on", recordedEvents, len(events))
	}
	return events
}

// TestFiltersMatchCEL runs filters on the recorded events in the real ClickHouse and checks that each
// selects exactly the events that cel-go, evaluating the same filter on each event as its columns read
// it (the oracle), says it matches; every filter must select some of the events, not all. The changes
// table must hold the writes among them.
func TestFiltersMatchCEL(t *testing.T) {
	events := readRecordedEvents(t)
	ids := map[string]bool{}
	var times []time.Time
	for _, ev := range events {
		id := columnAuditID(ev)
		if ids[id] {
			t.Fatalf("two recorded events have the audit ID %s: a filter's result would not tell them apart", id)
		}
		ids[id] = true
		times = append(times, stageTime(ev))
	}
	sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
	// now is the stage time of the middle event: the time filters below select part of the events.
	now := times[len(times)/2]
	first, last := times[0], times[len(times)-1]
	db, database := loadEvents(t, events)

	filters := []string{
		`verb == 'create'`,
		`verb in ['update', 'patch']`,
		`objectRef.resource == 'configmaps' && verb != 'get'`,
		`responseStatus.code >= 400`,
		`responseStatus.code == 403 || responseStatus.code == 404`,
		`responseStatus.reason in ['Forbidden', 'NotFound', 'AlreadyExists']`,
		`has(impersonatedUser.username)`,
		`impersonatedUser.username == 'mallory' && userAgent.startsWith('auditpipeline-recorder')`,
		`!has(objectRef.name)`,
		`has(objectRef.subresource)`,
		`has(responseStatus.reason) && level == 'RequestResponse'`,
		`'system:masters' in user.groups`,
		`'127.0.0.1' in sourceIPs && verb == 'delete'`,
		`size(user.groups) == 3`,
		`'authentication.kubernetes.io/issued-credential-id' in annotations`,
		`annotations['authorization.k8s.io/decision'] == 'forbid'`,
		`annotations['no.such/annotation'] == '' && objectRef.namespace == 'team-b'`,
		`size(annotations) > 2 || annotations['authorization.k8s.io/decision'].startsWith('f')`,
		`user.username.startsWith('system:serviceaccount:')`,
		`user.username < 'b' && verb == 'get'`,
		`requestURI.endsWith('/web-config')`,
		`requestURI.contains('/apis/apps/')`,
		`requestURI.matches('namespaces/team-[b]/')`,
		`requestURI.matches('(?i)CONFIGMAPS/WEB')`,
		`objectRef.name.matches('^web(-config)?$')`,
		`size(objectRef.name) > 8`,
		`objectRef.apiGroup == 'apps' || objectRef.apiGroup.startsWith('rbac.')`,
		`objectRef.apiVersion == 'v1' && !(verb in ['get', 'list'])`,
		`level == 'RequestResponse' && responseStatus.code < 300`,
		`(verb == 'delete' ? responseStatus.code : 0) == 200`,
		`'mallory' in [impersonatedUser.username, user.username]`,
		`tenant == 'team-b' && cluster == 'c1' && tenantType == ''`,
		`objectRef.namespace == '' && stage == 'ResponseComplete'`,
		`auditID < '8'`,
		`user.uid == '' && verb == 'list'`,
		`stageTimestamp >= now`,
		`stageTimestamp > now - duration('3ms') && stageTimestamp <= now + duration('2ms')`,
		`requestReceivedTimestamp < now - duration('1ms')`,
		fmt.Sprintf(`stageTimestamp < timestamp('%s')`, now.Format(time.RFC3339Nano)),
		fmt.Sprintf(`stageTimestamp > timestamp('%s') && stageTimestamp < timestamp('%s')`,
			first.Format(time.RFC3339Nano), last.Format(time.RFC3339Nano)),
	}
	ran := 0
	for _, expr := range filters {
		f, err := Compile(expr)
		if err != nil {
			t.Errorf("%s: %v", expr, err)
			continue
		}
		ran++
		want, writes := []string{}, []string{}
		for _, ev := range events {
			if oracle(t, expr, ev, now) {
				id := columnAuditID(ev)
				want = append(want, id)
				if isWrite(ev) {
					writes = append(writes, id)
				}
			}
		}
		slices.Sort(want)
		slices.Sort(writes)
		if len(want) == 0 || len(want) == len(events) {
			t.Errorf("%s: the oracle selects %d of the %d events; a filter of this test must select some, not all",
				expr, len(want), len(events))
		}
		t.Logf("%2d of %d events (%d writes): %s", len(want), len(events), len(writes), expr)
		if got := runFilter(t, db, database, "events", f, now); !slices.Equal(got, want) {
			t.Errorf("%s: ClickHouse selects %d events %v, cel-go %d %v", expr, len(got), got, len(want), want)
		}
		if got := runFilter(t, db, database, "changes", f, now); !slices.Equal(got, writes) {
			t.Errorf("%s: on changes, ClickHouse selects %v, cel-go %v", expr, got, writes)
		}
	}
	if ran < 25 {
		t.Errorf("%d filters ran, want at least 25", ran)
	}
}

// writeVerbs are the verbs of the events the changes table copies.
var writeVerbs = []string{"create", "update", "patch", "delete", "deletecollection"}

func isWrite(ev map[string]any) bool {
	verb, _ := ev["verb"].(string)
	return slices.Contains(writeVerbs, verb)
}

// oracle evaluates the CEL filter expr on ev with cel-go, with now as now.
func oracle(t *testing.T, expr string, ev map[string]any, now time.Time) bool {
	t.Helper()
	env, err := filterEnv()
	if err != nil {
		t.Fatal(err)
	}
	checked, iss := env.Compile(expr)
	if iss.Err() != nil {
		t.Fatalf("oracle: %s: %v", expr, iss.Err())
	}
	prog, err := env.Program(checked)
	if err != nil {
		t.Fatal(err)
	}
	vars := activation(ev)
	vars[nowVariable] = now
	out, _, err := prog.Eval(vars)
	if err != nil {
		t.Fatalf("oracle: %s on %s: %v", expr, columnAuditID(ev), err)
	}
	b, ok := out.(types.Bool)
	if !ok {
		t.Fatalf("oracle: %s is a %v", expr, out.Type())
	}
	return bool(b)
}

// activation is the event as the filter's variables, with the values its columns hold
// (docs/schema.md, internal/eventrow): a string field that is missing is "", and so is one with a
// typed column that is not a string (one read from rest is its JSON text: restText);
// responseStatus.code is 0 unless an integer from 1 to 65535, a list field that is missing or not a
// list is empty, annotations that are missing (or not an object) are an empty map. Nested fields are objects of
// map[string]any, as cel.go's object types read them.
func activation(ev map[string]any) map[string]any {
	vars := map[string]any{}
	for _, f := range Fields {
		path := strings.Split(f.Path, ".")
		var v any
		switch f.Path {
		case "auditID":
			v = columnAuditID(ev)
		case "tenant": // namespace tenancy
			v, _ = at(ev, "objectRef", "namespace").(string)
		case "tenantType":
			v = ""
		case "cluster":
			v = testCluster
		case "stageTimestamp":
			v = stageTime(ev)
		case "requestReceivedTimestamp":
			stage := stageTime(ev)
			v = stage
			if received, ok := parseTime(ev["requestReceivedTimestamp"]); ok && received.UnixMicro() <= stage.UnixMicro() {
				v = received.Truncate(time.Microsecond)
			}
		case "responseStatus.code":
			v = int64(0)
			if n, ok := at(ev, path...).(json.Number); ok {
				if i, err := n.Int64(); err == nil && i >= 1 && i <= 65535 {
					v = i
				}
			}
		case "annotations":
			v = annotationsOf(ev)
		default:
			fromRest := strings.HasPrefix(f.SQL, "JSONExtract")
			switch f.Type {
			case "string":
				if fromRest {
					v = restText(at(ev, path...))
				} else {
					v, _ = at(ev, path...).(string)
					if v == nil {
						v = ""
					}
				}
			case "list(string)":
				list := []string{}
				items, _ := at(ev, path...).([]any)
				for _, item := range items {
					list = append(list, restText(item))
				}
				v = list
			default:
				panic(fmt.Sprintf("the oracle does not know the field %s of type %s", f.Path, f.Type))
			}
		}
		obj := vars
		for _, p := range path[:len(path)-1] {
			next, ok := obj[p].(map[string]any)
			if !ok {
				next = map[string]any{}
				obj[p] = next
			}
			obj = next
		}
		obj[path[len(path)-1]] = v
	}
	return vars
}

var uuidText = regexp.MustCompile(`\A[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\z`)

// restText is a value of the event read from rest by JSONExtractString (or as an item of
// JSONExtract(..., 'Array(String)')): a string, else the value's JSON text ("" for null). A typed
// column, by contrast, holds "" for a value that is not a string.
func restText(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case json.Number:
		return v.String()
	}
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// columnAuditID is the audit_id column of ev: its auditID in lower case, or the nil UUID when that is
// not a UUID.
func columnAuditID(ev map[string]any) string {
	if s, ok := ev["auditID"].(string); ok && uuidText.MatchString(s) {
		return strings.ToLower(s)
	}
	return eventrow.NilUUID
}

// stageTime is the event_time column of ev: its stageTimestamp to the microsecond, or the insert time.
func stageTime(ev map[string]any) time.Time {
	if ts, ok := parseTime(ev["stageTimestamp"]); ok {
		return ts.Truncate(time.Microsecond)
	}
	return insertTime
}

func parseTime(v any) (time.Time, bool) {
	s, ok := v.(string)
	if !ok {
		return time.Time{}, false
	}
	ts, err := time.Parse(time.RFC3339Nano, s)
	return ts.UTC(), err == nil
}

// at is the value at path in ev, nil when a step is missing or not an object.
func at(ev map[string]any, path ...string) any {
	var v any = ev
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

// annotationsOf is ev's annotations as the filter reads them: 'k' in annotations when the event has
// the key (JSONHas), annotations['k'] its value as JSONExtractString reads it (restText), "" when the
// key is missing.
func annotationsOf(ev map[string]any) ref.Val {
	m := map[string]string{}
	if obj, ok := ev["annotations"].(map[string]any); ok {
		for k, v := range obj {
			m[k] = restText(v)
		}
	}
	return annotations{types.NewStringStringMap(types.DefaultTypeAdapter, m).(traits.Mapper)}
}

// annotations is a CEL map whose missing keys read as "".
type annotations struct{ traits.Mapper }

func (a annotations) Find(key ref.Val) (ref.Val, bool) {
	if v, ok := a.Mapper.Find(key); ok {
		return v, true
	}
	return types.String(""), true
}

func (a annotations) Get(key ref.Val) ref.Val {
	v, _ := a.Find(key)
	return v
}

// TestOracleIsCEL checks the oracle itself on an event, against what the filter's CEL means.
func TestOracleIsCEL(t *testing.T) {
	ev := asDecoded(t, testEvent(1, map[string]any{"annotations": map[string]any{"a": "x", "n": 1}}))
	delete(ev["objectRef"].(map[string]any), "name")
	now := time.Date(2026, 3, 1, 10, 0, 2, 0, time.UTC)
	for expr, want := range map[string]bool{
		`verb == 'get'`: true, `has(objectRef.name)`: false, `objectRef.name == ''`: true,
		`has(objectRef.namespace)`: true, `'a' in annotations`: true, `'n' in annotations`: true,
		`annotations['n'] == '1'`: true, `annotations['missing'] == ''`: true, `'missing' in annotations`: false,
		`annotations['a'] == 'x'`: true, `size(annotations) == 2`: true, `has(impersonatedUser.username)`: false,
		`stageTimestamp < now && stageTimestamp > now - duration('2s')`: true, `responseStatus.code == 200`: true,
		`'system:authenticated' in user.groups`: true, `size(user.groups) == 1`: true, `cluster == 'c1'`: true,
		`tenant == 'default'`: true,
	} {
		if _, err := Compile(expr); err != nil {
			t.Errorf("%s: %v", expr, err)
		}
		if got := oracle(t, expr, ev, now); got != want {
			t.Errorf("the oracle says %s is %v, want %v", expr, got, want)
		}
	}
}

// TestFiltersOnSyntheticEvents checks what the recorded events lack: fields missing or of another type,
// with the oracle, on events written for it.
func TestFiltersOnSyntheticEvents(t *testing.T) {
	events := []map[string]any{
		testEvent(1, nil),
		testEvent(2, map[string]any{"verb": 7, "user.groups": "not a list", "responseStatus.code": "200", "annotations": "x"}),
		testEvent(3, map[string]any{"objectRef": map[string]any{}, "sourceIPs": []any{"a", 5, "b", nil}, "responseStatus.code": 70000,
			"annotations": map[string]any{"n": 1.5, "z": nil}}),
		testEvent(4, map[string]any{"requestReceivedTimestamp": "2026-03-01T10:00:09Z", "userAgent": "a\nb", "annotations": map[string]any{"k": "v\x00"},
			"objectRef.name": "k"}),
		testEvent(5, map[string]any{"requestURI": 12, "impersonatedUser": map[string]any{"username": "eve"}, "user": map[string]any{"username": "bob", "uid": "u-1"}}),
	}
	delete(events[4], "requestReceivedTimestamp")
	delete(events[0], "annotations")
	now := time.Date(2026, 3, 1, 10, 0, 3, 0, time.UTC)
	db, database := loadEvents(t, events)
	var decoded []map[string]any
	for _, ev := range events {
		decoded = append(decoded, asDecoded(t, ev))
	}
	for _, expr := range []string{
		`verb == ''`, `verb == 'get'`, `has(user.groups)`, `size(user.groups) == 0`, `responseStatus.code == 0`,
		`has(responseStatus.code)`, `'5' in sourceIPs`, `size(sourceIPs) == 4`, `objectRef.resource == ''`,
		`has(objectRef.namespace)`, `userAgent.matches('a.b')`, `userAgent.matches('(?s)a.b')`, `userAgent.contains('\n')`,
		`annotations['k'] == 'v\x00'`, `'k' in annotations`, `size(annotations) == 0`, `requestURI == ''`, `requestURI == '12'`,
		`'n' in annotations && annotations['n'] == '1.5'`, `'' in sourceIPs`, `objectRef.name in annotations`,
		`annotations[objectRef.name] == 'v\x00'`, `annotations[objectRef.name] == ''`,
		`requestReceivedTimestamp == stageTimestamp`, `requestReceivedTimestamp < stageTimestamp`,
		`has(impersonatedUser.username)`, `user.uid != ''`, `stageTimestamp > now`, `tenant == objectRef.namespace`,
		`auditID.endsWith('3')`,
	} {
		f, err := Compile(expr)
		if err != nil {
			t.Errorf("%s: %v", expr, err)
			continue
		}
		want := []string{}
		for _, ev := range decoded {
			if oracle(t, expr, ev, now) {
				want = append(want, columnAuditID(ev))
			}
		}
		slices.Sort(want)
		t.Logf("%d of %d events: %s", len(want), len(decoded), expr)
		if got := runFilter(t, db, database, "events", f, now); !slices.Equal(got, want) {
			t.Errorf("%s: ClickHouse selects %v, cel-go %v", expr, got, want)
		}
	}
}
