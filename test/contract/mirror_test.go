package contract

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/auditpipeline/auditpipeline-operator/internal/render/vector"
)

// event is an audit event as the aggregator's nats source decodes it: JSON with integers kept exact.
type event = map[string]any

// mirrorColumn is the Go twin of one EventColumns entry: expr is the VRL expression it mirrors, copied
// from EventColumns, so that changing an expression without changing its twin fails the test.
type mirrorColumn struct {
	expr  string
	value func(ev event, now time.Time) any
}

const (
	stageTimeVRL = `parse_timestamp(.stageTimestamp, format: "%+") ?? now()`
	millisVRL    = `format_timestamp!(` + stageTimeVRL + `, format: "%Y-%m-%d %H:%M:%S%.3f", timezone: "UTC")`
	microsVRL    = `format_timestamp!(` + stageTimeVRL + `, format: "%Y-%m-%d %H:%M:%S%.6f", timezone: "UTC")`
	receivedVRL  = `format_timestamp!(parse_timestamp(.requestReceivedTimestamp, format: "%+") ?? ` + stageTimeVRL +
		`, format: "%Y-%m-%d %H:%M:%S%.6f", timezone: "UTC")`
	auditIDVRL = `if match(string(.auditID) ?? "", r'\A[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\z') ` +
		`{ string!(.auditID) } else { "00000000-0000-0000-0000-000000000000" }`
	sourceIPVRL = `ip_to_ipv6(string(.sourceIPs[0]) ?? "") ?? "::"`
)

// Go layouts of chrono's "%Y-%m-%d %H:%M:%S%.3f" and "%.6f" (both truncate).
const (
	millisLayout = "2006-01-02 15:04:05.000"
	microsLayout = "2006-01-02 15:04:05.000000"
)

var uuidText = regexp.MustCompile(`\A[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\z`)

// mirror has a twin for every column of vector.EventColumns.
var mirror = map[string]mirrorColumn{
	"event_time": {millisVRL, func(ev event, now time.Time) any { return stageTime(ev, now).Format(millisLayout) }},
	"audit_id": {auditIDVRL, func(ev event, _ time.Time) any {
		if s, ok := ev["auditID"].(string); ok && uuidText.MatchString(s) {
			return s
		}
		return vector.NilUUID
	}},
	"stage":             stringField("stage"),
	"level":             stringField("level"),
	"verb":              stringField("verb"),
	"request_uri":       stringField("requestURI"),
	"user":              stringField("user", "username"),
	"user_uid":          stringField("user", "uid"),
	"user_groups":       {`array(.user.groups) ?? []`, func(ev event, _ time.Time) any { return arrayAt(ev, "user", "groups") }},
	"impersonated_user": stringField("impersonatedUser", "username"),
	"source_ip": {sourceIPVRL, func(ev event, _ time.Time) any {
		var first any
		if ips, ok := ev["sourceIPs"].([]any); ok && len(ips) > 0 {
			first = ips[0]
		}
		s, _ := first.(string)
		// Rust's IpAddr parser, behind ip_to_ipv6, takes no zone.
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return vector.UnspecifiedIP
		}
		return netip.AddrFrom16(a.As16()).String() // an IPv4 address becomes ::ffff:a.b.c.d
	}},
	"user_agent":  stringField("userAgent"),
	"api_group":   stringField("objectRef", "apiGroup"),
	"api_version": stringField("objectRef", "apiVersion"),
	"resource":    stringField("objectRef", "resource"),
	"subresource": stringField("objectRef", "subresource"),
	"namespace":   stringField("objectRef", "namespace"),
	"name":        stringField("objectRef", "name"),
	"response_code": {`int(.responseStatus.code) ?? 0`, func(ev event, _ time.Time) any {
		// int() accepts only integers, never strings or floats.
		if n, ok := at(ev, "responseStatus", "code").(json.Number); ok {
			if i, err := n.Int64(); err == nil {
				return i
			}
		}
		return int64(0)
	}},
	"request_received_at": {receivedVRL, func(ev event, now time.Time) any {
		t, ok := timestamp(ev["requestReceivedTimestamp"])
		if !ok {
			t = stageTime(ev, now)
		}
		return t.Format(microsLayout)
	}},
	"stage_at": {microsVRL, func(ev event, now time.Time) any { return stageTime(ev, now).Format(microsLayout) }},
	"event_json": {`encode_json(.)`, func(ev event, _ time.Time) any {
		// VRL objects are sorted maps, like Go's encoding of a map; VRL does not escape HTML.
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(ev); err != nil {
			panic(err)
		}
		return strings.TrimSuffix(b.String(), "\n")
	}},
}

// stringField mirrors string(.a.b) ?? "": string() accepts only strings.
func stringField(path ...string) mirrorColumn {
	return mirrorColumn{
		expr: fmt.Sprintf(`string(.%s) ?? ""`, strings.Join(path, ".")),
		value: func(ev event, _ time.Time) any {
			s, _ := at(ev, path...).(string)
			return s
		},
	}
}

// at is the value at path, nil when a step is missing or not an object.
func at(ev event, path ...string) any {
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

// arrayAt mirrors array(...) ?? [].
func arrayAt(ev event, path ...string) []any {
	if a, ok := at(ev, path...).([]any); ok {
		return a
	}
	return []any{}
}

// timestamp mirrors parse_timestamp(v, format: "%+"): chrono's ISO 8601 / RFC 3339 with optional
// fractional seconds.
func timestamp(v any) (time.Time, bool) {
	s, ok := v.(string)
	if !ok {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	return t.UTC(), err == nil
}

func stageTime(ev event, now time.Time) time.Time {
	if t, ok := timestamp(ev["stageTimestamp"]); ok {
		return t
	}
	return now.UTC()
}

// vectorFieldsRE finds the del(.field) statements of the rendered remap.
var vectorFieldsRE = regexp.MustCompile(`(?m)^del\(\.([A-Za-z_]+)\)$`)

// row turns an event, as the nats source decoded it, into the row the rendered remap produces: it drops
// the fields the remap deletes, then computes every column with its twin. It fails the test if a column
// has no twin or a twin mirrors an expression the column no longer has.
func row(t testing.TB, remap string, ev event, now time.Time) map[string]any {
	t.Helper()
	ev = clone(ev)
	for _, m := range vectorFieldsRE.FindAllStringSubmatch(remap, -1) {
		delete(ev, m[1])
	}
	out := map[string]any{}
	for _, c := range vector.EventColumns {
		m, ok := mirror[c.Name]
		if !ok {
			t.Fatalf("EventColumns has %s, which the test's mirror of the remap does not compute: add it to mirror", c.Name)
		}
		if m.expr != c.Expr {
			t.Fatalf("the expression of %s changed; update its mirror:\n have %s\n want %s", c.Name, m.expr, c.Expr)
		}
		out[c.Name] = m.value(ev, now)
	}
	return out
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

// TestMirrorCoversEveryColumn fails when EventColumns gains, loses or changes a column without the
// mirror following, and checks that the rendered remap is made of exactly those expressions.
func TestMirrorCoversEveryColumn(t *testing.T) {
	names := map[string]bool{}
	for _, c := range vector.EventColumns {
		names[c.Name] = true
		m, ok := mirror[c.Name]
		switch {
		case !ok:
			t.Errorf("EventColumns has %s, which the mirror does not compute", c.Name)
		case m.expr != c.Expr:
			t.Errorf("%s: the mirror follows\n %s\nbut EventColumns has\n %s", c.Name, m.expr, c.Expr)
		}
	}
	for name := range mirror {
		if !names[name] {
			t.Errorf("the mirror computes %s, which EventColumns no longer has", name)
		}
	}
	remap := remapSource(t, pipeline("audit"))
	for _, c := range vector.EventColumns {
		if !strings.Contains(remap, fmt.Sprintf("  %q: %s", c.Name, c.Expr)) {
			t.Errorf("the rendered remap does not compute %s as %s:\n%s", c.Name, c.Expr, remap)
		}
	}
	if got := strings.Count(remap, "\n  \""); got != len(vector.EventColumns) {
		t.Errorf("the rendered remap sets %d fields, EventColumns has %d:\n%s", got, len(vector.EventColumns), remap)
	}
}

// TestMirrorFallbacks checks the mirror's fallbacks on an event with nothing in it.
func TestMirrorFallbacks(t *testing.T) {
	now := time.Date(2026, 3, 1, 10, 0, 0, 123456789, time.UTC)
	r := row(t, remapSource(t, pipeline("audit")), decode(t, `{"auditID":"","sourceIPs":["fe80::1%eth0"],"responseStatus":{"code":"200"}}`), now)
	want := map[string]any{"event_time": "2026-03-01 10:00:00.123", "stage_at": "2026-03-01 10:00:00.123456",
		"request_received_at": "2026-03-01 10:00:00.123456", "audit_id": vector.NilUUID, "source_ip": "::",
		"response_code": int64(0), "user": "", "user_groups": []any{}}
	for k, v := range want {
		if fmt.Sprint(r[k]) != fmt.Sprint(v) {
			t.Errorf("%s = %#v, want %#v", k, r[k], v)
		}
	}
}
