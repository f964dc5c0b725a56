package eventrow

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

// NilUUID is the audit_id of an event whose auditID is missing or not a UUID (the auditID then stays
// in rest, as it came).
const NilUUID = "00000000-0000-0000-0000-000000000000"

// uuidPattern is the text ClickHouse parses into a UUID. The API server takes the audit ID from the
// client's Audit-ID header when there is one, so it may be any string: one that is not a UUID would
// make ClickHouse reject the whole batch, which the sink would then retry forever. \A and \z, not ^
// and $: Vector would interpolate a '$' in its configuration.
const uuidPattern = `\A[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\z`

// The formats of the two timestamps: Kubernetes' MicroTime in UTC (what the API server writes), which
// rest leaves out when the event's text is exactly that, and ClickHouse's DateTime64(6) text.
const (
	microTimeFormat  = `%Y-%m-%dT%H:%M:%S%.6fZ`
	clickHouseFormat = `%Y-%m-%d %H:%M:%S%.6f`
	microTimeLayout  = "2006-01-02T15:04:05.000000Z"
	clickHouseLayout = "2006-01-02 15:04:05.000000"
)

// Column is one column of the events table that the aggregator fills, and the VRL expression, evaluated
// after Prelude, that fills it.
type Column struct {
	// Name of the column.
	Name string
	// Type is the ClickHouse type the aggregator expects the column to have.
	Type string
	// Expr is the VRL expression that computes the value; it never fails.
	Expr string
}

// stripped is a string field of the event that has a column of its own: the column holds the field
// when it is a non-empty string, and rest then leaves the field out.
type stripped struct {
	column string
	path   []string
	field  func(r *Row) *string
}

func (s stripped) vrlPath() string { return strings.Join(s.path, ".") }

// derived is a string column that is not a field of the event: the tenant (Tenancy) and the cluster
// (ClusterField); the event keeps its annotations in rest.
type derived struct {
	column string
	field  func(r *Row) *string
}

// derivedStrings are the columns that lead the table, before event_time.
var derivedStrings = []derived{
	{"tenant_type", func(r *Row) *string { return &r.TenantType }},
	{"tenant", func(r *Row) *string { return &r.Tenant }},
	{"cluster", func(r *Row) *string { return &r.Cluster }},
}

// strippedStrings are the string fields with a column of their own, in column order after audit_id.
var strippedStrings = []stripped{
	{"stage", []string{"stage"}, func(r *Row) *string { return &r.Stage }},
	{"level", []string{"level"}, func(r *Row) *string { return &r.Level }},
	{"verb", []string{"verb"}, func(r *Row) *string { return &r.Verb }},
	{"user", []string{"user", "username"}, func(r *Row) *string { return &r.User }},
	{"user_uid", []string{"user", "uid"}, func(r *Row) *string { return &r.UserUID }},
	{"api_group", []string{"objectRef", "apiGroup"}, func(r *Row) *string { return &r.APIGroup }},
	{"resource", []string{"objectRef", "resource"}, func(r *Row) *string { return &r.Resource }},
	{"subresource", []string{"objectRef", "subresource"}, func(r *Row) *string { return &r.Subresource }},
	{"namespace", []string{"objectRef", "namespace"}, func(r *Row) *string { return &r.Namespace }},
	{"name", []string{"objectRef", "name"}, func(r *Row) *string { return &r.Name }},
}

// Columns is the contract between the aggregator and the events table that migrations/00001_events.sql
// creates: every column the aggregator fills, in the table's order, with its type there and the VRL
// expression that fills it, evaluated after a Tenancy's Prelude (test/contract checks it against a real
// ClickHouse). tenant_type and tenant are the event's tenant as its pipeline's Tenancy defines it, and
// cluster the name the collector gave its cluster (ClusterField); "" when there is none. The event is split
// without loss: the fields queries filter and sort on go into typed columns, and rest holds the event
// as JSON without them, so that they are stored once (the audit ID and the timestamps are most of an
// event's entropy) and rest is a third of the event. The table's `event` column puts the event back
// together. A field leaves rest only when its column gives back exactly the same text; anything else
// (an auditID that is not a lower-case UUID, a timestamp not in UTC with microseconds, a field of another
// type) stays in rest as it came, and wins over the column when the event is put back together.
//
// Missing fields become "", 0 or the nil UUID, never null, and every value parses into its column, since
// one that does not fails the whole batch. event_time is the stageTimestamp (the time of insert when there
// is none that parses, and the event is then not deduplicated when redelivered); latency_us is the time
// from requestReceivedTimestamp to it (0 when there is no request time, or it is later).
//
// The sink inserts with skip_unknown_fields, so a later table may add columns with defaults; it must never
// drop a column listed here while the remap still takes its field out of rest.
var Columns = columns()

func columns() []Column {
	var cs []Column
	for _, d := range derivedStrings {
		cs = append(cs, Column{d.column, "LowCardinality(String)", "row_" + d.column})
	}
	cs = append(cs, []Column{
		{"event_time", "DateTime64(6, 'UTC')", fmt.Sprintf(`format_timestamp!(stage_at, format: %q, timezone: "UTC")`, clickHouseFormat)},
		{"latency_us", "UInt64", "latency_us"},
		{"audit_id", "UUID", "audit_id"},
	}...)
	for _, s := range strippedStrings {
		typ := "LowCardinality(String)"
		if s.column == "name" {
			typ = "String"
		}
		cs = append(cs, Column{s.column, typ, "row_" + s.column})
	}
	return append(cs,
		Column{"response_code", "UInt16", "response_code"},
		Column{"rest", "String", "encode_json(rest)"})
}

// Tenancy says what an event's tenant is, as spec.tenancy of its pipeline does. The zero Tenancy is
// namespace tenancy: the tenant is objectRef.namespace and tenant_type is "". With NameAnnotation set,
// the tenant is the value of that annotation of the event and tenant_type that of TypeAnnotation ("" when
// unset); an event without the annotation, or with a value that is not a string, gets "" (never dropped).
type Tenancy struct {
	TypeAnnotation, NameAnnotation string
}

// ClusterField holds the name of the cluster whose API server sent the event: the collector adds it
// (internal/render/vector/vrl, WithCluster), and the aggregator's remap moves it into the cluster column.
const ClusterField = "auditpipeline_cluster"

// OriginalVerbField holds an event's verb when the Vector agent published it under another one: the
// verb is the client's HTTP method, and the agent's subject is made of it, so a verb that makes no
// valid subject token is published as its token, with this field holding [verb], or [] when the event
// had no verb (internal/render/vector/vrl, WithSubjectVerb). The aggregator's remap puts it back first.
const OriginalVerbField = "auditpipeline_verb"

// Prelude is the VRL that runs before the row is built: it computes the variables the column expressions
// use and rest, the event without the fields that have columns. FromEvent is its Go twin.
func (t Tenancy) Prelude() string {
	var b strings.Builder
	fmt.Fprintf(&b, "row_cluster = string(del(.%s)) ?? \"\"\n", ClusterField)
	fmt.Fprintf(&b, "if exists(.%[1]s) {\n  original_verb = array(del(.%[1]s)) ?? []\n", OriginalVerbField)
	b.WriteString("  if length(original_verb) == 0 { del(.verb) } else { .verb = original_verb[0] }\n}\n")
	b.WriteString("rest = .\n")
	fmt.Fprintf(&b, "stage_at = parse_timestamp(.stageTimestamp, format: \"%%+\") ?? now()\n")
	fmt.Fprintf(&b, "if .stageTimestamp == format_timestamp!(stage_at, format: %q, timezone: \"UTC\") { del(rest.stageTimestamp) }\n", microTimeFormat)
	fmt.Fprintf(&b, "received_at = parse_timestamp(.requestReceivedTimestamp, format: \"%%+\") ?? stage_at\n")
	b.WriteString(`latency_us = to_unix_timestamp(stage_at, unit: "microseconds") - to_unix_timestamp(received_at, unit: "microseconds")` + "\n")
	fmt.Fprintf(&b, "if latency_us < 0 { latency_us = 0 } else if .requestReceivedTimestamp == format_timestamp!(received_at, format: %q, timezone: \"UTC\") { del(rest.requestReceivedTimestamp) }\n", microTimeFormat)
	fmt.Fprintf(&b, "audit_id = %q\n", NilUUID)
	fmt.Fprintf(&b, "if match(string(.auditID) ?? \"\", r'%s') { audit_id = string!(.auditID) }\n", uuidPattern)
	fmt.Fprintf(&b, "if audit_id != %q && audit_id == downcase(audit_id) { del(rest.auditID) }\n", NilUUID)
	fmt.Fprintf(&b, "if .kind == %q { del(rest.kind) }\n", kind)
	fmt.Fprintf(&b, "if .apiVersion == %q { del(rest.apiVersion) }\n", apiVersion)
	for _, s := range strippedStrings {
		fmt.Fprintf(&b, "row_%s = string(.%s) ?? \"\"\n", s.column, s.vrlPath())
		compact := ""
		if len(s.path) > 1 {
			compact = ", compact: true"
		}
		fmt.Fprintf(&b, "if row_%s != \"\" { del(rest.%s%s) }\n", s.column, s.vrlPath(), compact)
	}
	if t.NameAnnotation == "" {
		b.WriteString("row_tenant_type = \"\"\nrow_tenant = row_namespace\n")
	} else {
		fmt.Fprintf(&b, "row_tenant_type = %s\n", annotationValue(t.TypeAnnotation))
		fmt.Fprintf(&b, "row_tenant = %s\n", annotationValue(t.NameAnnotation))
	}
	b.WriteString("response_code = int(.responseStatus.code) ?? 0\n")
	b.WriteString("if response_code < 1 || response_code > 65535 { response_code = 0 } else { del(rest.responseStatus.code, compact: true) }\n")
	return b.String()
}

// annotationValue is the VRL expression of the value of the event's annotation key: "" when the key is
// empty, the annotation is missing, or its value is not a string. Keys are annotation keys (the CRD checks
// them), so %q quotes them as VRL does, and they hold no '$' for Vector to interpolate.
func annotationValue(key string) string {
	if key == "" {
		return `""`
	}
	return fmt.Sprintf("string(.annotations.%q) ?? \"\"", key)
}

// The kind and apiVersion every audit event has: rest leaves them out when they are these, and the
// table's event column always writes them.
const (
	kind       = "Event"
	apiVersion = "audit.k8s.io/v1"
)

// Row is an event's row, as FromEvent computes it: one field per column.
type Row struct {
	TenantType, Tenant, Cluster                      string
	EventTime                                        time.Time // microseconds, UTC
	LatencyUS                                        uint64
	AuditID                                          uuid.UUID
	Stage, Level, Verb, User, UserUID                string
	APIGroup, Resource, Subresource, Namespace, Name string
	ResponseCode                                     uint16
	Rest                                             string
}

// StringColumns is the number of String and LowCardinality(String) columns: tenant_type, tenant and
// cluster, then stage to name.
var StringColumns = len(derivedStrings) + len(strippedStrings)

// StringColumn is the value of the row's i-th string column, in the order of Columns (0 for tenant_type,
// ..., StringColumns-1 for name).
func (r *Row) StringColumn(i int) string {
	if i < len(derivedStrings) {
		return *derivedStrings[i].field(r)
	}
	return *strippedStrings[i-len(derivedStrings)].field(r)
}

// Fields returns pointers to the row's fields in the order of Columns, to scan a row read back.
func (r *Row) Fields() []any {
	var out []any
	for _, d := range derivedStrings {
		out = append(out, d.field(r))
	}
	out = append(out, &r.EventTime, &r.LatencyUS, &r.AuditID)
	for _, s := range strippedStrings {
		out = append(out, s.field(r))
	}
	return append(out, &r.ResponseCode, &r.Rest)
}

// FieldsOf is like Fields for the named columns only, in the order given: for a SELECT of some of
// them. A name that is not one of Columns is an error.
func (r *Row) FieldsOf(names []string) ([]any, error) {
	all := r.Fields()
	out := make([]any, 0, len(names))
	for _, name := range names {
		i := slices.IndexFunc(Columns, func(c Column) bool { return c.Name == name })
		if i < 0 {
			return nil, fmt.Errorf("no column %q in the events table's columns", name)
		}
		out = append(out, all[i])
	}
	return out, nil
}

// ColumnNames is the names of Columns, comma-separated, for a SELECT or an INSERT.
func ColumnNames() string {
	names := make([]string, len(Columns))
	for i, c := range Columns {
		names[i] = c.Name
	}
	return strings.Join(names, ", ")
}

// Values is the row as the sink sends it (JSONEachRow): column name to value, timestamps as
// ClickHouse text.
func (r *Row) Values() map[string]any {
	out := map[string]any{
		"event_time":    r.EventTime.Format(clickHouseLayout),
		"latency_us":    r.LatencyUS,
		"audit_id":      r.AuditID.String(),
		"response_code": r.ResponseCode,
		"rest":          r.Rest,
	}
	for _, d := range derivedStrings {
		out[d.column] = *d.field(r)
	}
	for _, s := range strippedStrings {
		out[s.column] = *s.field(r)
	}
	return out
}

var uuidText = regexp.MustCompile(uuidPattern)

// FromEvent is the Go twin of Prelude and Columns: the row the aggregator's remap makes of ev, an audit
// event as Vector's nats source decodes it (JSON numbers as json.Number), at time now (the stage time of
// an event without one). It changes nothing in ev.
func (t Tenancy) FromEvent(ev map[string]any, now time.Time) Row {
	var r Row
	if cluster, ok := ev[ClusterField]; ok {
		ev = maps.Clone(ev)
		delete(ev, ClusterField)
		r.Cluster, _ = cluster.(string)
	}
	if original, ok := ev[OriginalVerbField]; ok {
		ev = maps.Clone(ev)
		delete(ev, OriginalVerbField)
		if verb, _ := original.([]any); len(verb) > 0 {
			ev["verb"] = verb[0]
		} else {
			delete(ev, "verb")
		}
	}
	rest := cloneObject(ev)
	stageAt, ok := timestamp(ev["stageTimestamp"])
	if !ok {
		stageAt = now.UTC().Truncate(time.Nanosecond)
	}
	if ev["stageTimestamp"] == stageAt.Format(microTimeLayout) {
		delete(rest, "stageTimestamp")
	}
	receivedAt, ok := timestamp(ev["requestReceivedTimestamp"])
	if !ok {
		receivedAt = stageAt
	}
	if latency := stageAt.UnixMicro() - receivedAt.UnixMicro(); latency >= 0 {
		r.LatencyUS = uint64(latency)
		if ev["requestReceivedTimestamp"] == receivedAt.Format(microTimeLayout) {
			delete(rest, "requestReceivedTimestamp")
		}
	}
	// DateTime64(6) keeps microseconds: chrono's %.6f truncates, and so does ClickHouse.
	r.EventTime = stageAt.Truncate(time.Microsecond)

	id := NilUUID
	if s, ok := ev["auditID"].(string); ok && uuidText.MatchString(s) {
		id = s
	}
	r.AuditID = uuid.MustParse(id)
	if id != NilUUID && id == strings.ToLower(id) {
		delete(rest, "auditID")
	}
	if ev["kind"] == kind {
		delete(rest, "kind")
	}
	if ev["apiVersion"] == apiVersion {
		delete(rest, "apiVersion")
	}
	for _, s := range strippedStrings {
		v, _ := at(ev, s.path...).(string)
		*s.field(&r) = v
		if v != "" {
			remove(rest, s.path)
		}
	}
	if t.NameAnnotation == "" {
		r.Tenant = r.Namespace
	} else {
		r.TenantType = annotation(ev, t.TypeAnnotation)
		r.Tenant = annotation(ev, t.NameAnnotation)
	}
	// int() accepts only integers, never strings or floats.
	if n, ok := at(ev, "responseStatus", "code").(json.Number); ok {
		if i, err := n.Int64(); err == nil && i >= 1 && i <= 65535 {
			r.ResponseCode = uint16(i)
			remove(rest, []string{"responseStatus", "code"})
		}
	}
	r.Rest = EncodeJSON(rest)
	return r
}

// annotation mirrors annotationValue.
func annotation(ev map[string]any, key string) string {
	if key == "" {
		return ""
	}
	v, _ := at(ev, "annotations", key).(string)
	return v
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

// at is the value at path, nil when a step is missing or not an object.
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

// remove mirrors del(rest.a.b, compact: true) on a path whose value exists: it deletes the field, then
// every parent object left empty, up to (not including) the event itself.
func remove(obj map[string]any, path []string) {
	if len(path) == 1 {
		delete(obj, path[0])
		return
	}
	child, ok := obj[path[0]].(map[string]any)
	if !ok {
		return
	}
	remove(child, path[1:])
	if len(child) == 0 {
		delete(obj, path[0])
	}
}

// cloneObject copies the objects along the way (the paths remove may change), sharing everything else.
func cloneObject(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if o, ok := v.(map[string]any); ok {
			v = cloneObject(o)
		}
		out[k] = v
	}
	return out
}

// EncodeJSON mirrors VRL's encode_json: VRL objects are sorted maps, like Go's encoding of a map, and VRL
// does not escape HTML.
func EncodeJSON(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(fmt.Sprintf("encode an event decoded from JSON: %v", err))
	}
	return strings.TrimSuffix(b.String(), "\n")
}
