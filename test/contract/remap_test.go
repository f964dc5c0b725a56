package contract

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
	"github.com/auditpipeline/auditpipeline-operator/internal/eventrow"
	"github.com/auditpipeline/auditpipeline-operator/internal/render/vector"
)

// event is an audit event as the aggregator's nats source decodes it: JSON with integers kept exact.
type event = map[string]any

// vectorFieldsRE finds the del(.field) statements of the rendered remap.
var vectorFieldsRE = regexp.MustCompile(`(?m)^del\(\.([A-Za-z_]+)\)$`)

// row turns an event, as the nats source decoded it, into the row the rendered remap of p's aggregator
// produces: it drops the fields the remap deletes, then computes the row with the Go twin of the
// remap, the FromEvent of p's tenancy.
func row(t testing.TB, p *v1alpha1.AuditPipeline, remap string, ev event, now time.Time) map[string]any {
	t.Helper()
	tenancy := vector.Tenancy(p)
	if !strings.Contains(remap, tenancy.Prelude()) {
		t.Fatalf("the rendered remap does not run the prelude of tenancy %+v:\n%s", tenancy, remap)
	}
	ev = clone(ev)
	for _, m := range vectorFieldsRE.FindAllStringSubmatch(remap, -1) {
		delete(ev, m[1])
	}
	r := tenancy.FromEvent(ev, now)
	return r.Values()
}

func clone(ev event) event {
	out := make(event, len(ev))
	for k, v := range ev {
		out[k] = v
	}
	return out
}

// decode parses JSON the way the nats source hands it to the remap: integers stay integers.
func decode(t testing.TB, s string) event {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var ev event
	if err := dec.Decode(&ev); err != nil {
		t.Fatalf("decode %s: %v", s, err)
	}
	return ev
}

// TestRemapBuildsEveryColumn checks that the rendered remap is eventrow's program: the prelude, then
// exactly one field per column with its expression.
func TestRemapBuildsEveryColumn(t *testing.T) {
	remap := remapSource(t, pipeline("audit"))
	if !strings.Contains(remap, eventrow.Tenancy{}.Prelude()) {
		t.Errorf("the rendered remap does not run the prelude:\n%s", remap)
	}
	for _, c := range eventrow.Columns {
		if !strings.Contains(remap, fmt.Sprintf("  %q: %s", c.Name, c.Expr)) {
			t.Errorf("the rendered remap does not compute %s as %s:\n%s", c.Name, c.Expr, remap)
		}
	}
	if got := strings.Count(remap, "\n  \""); got != len(eventrow.Columns) {
		t.Errorf("the rendered remap sets %d fields, eventrow.Columns has %d:\n%s", got, len(eventrow.Columns), remap)
	}
	if strings.Contains(remap, "$") {
		t.Errorf("the remap holds a '$', which Vector would interpolate:\n%s", remap)
	}
}

// TestTwinFallbacks checks the twin's fallbacks on an event with nothing usable in it: every field stays
// in rest, and every column gets its empty value.
func TestTwinFallbacks(t *testing.T) {
	now := time.Date(2026, 3, 1, 10, 0, 0, 123456789, time.UTC)
	in := `{"auditID":"","stageTimestamp":"yesterday","user":{"username":7},"responseStatus":{"code":"200"}}`
	p := pipeline("audit")
	r := row(t, p, remapSource(t, p), decode(t, in), now)
	want := map[string]any{"event_time": "2026-03-01 10:00:00.123456", "latency_us": uint64(0), "audit_id": eventrow.NilUUID,
		"response_code": uint16(0), "user": "", "verb": "", "rest": `{"auditID":"","responseStatus":{"code":"200"},"stageTimestamp":"yesterday","user":{"username":7}}`}
	for k, v := range want {
		if fmt.Sprint(r[k]) != fmt.Sprint(v) {
			t.Errorf("%s = %#v, want %#v", k, r[k], v)
		}
	}
}
