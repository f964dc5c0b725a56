package vector

import (
	"fmt"
	"strings"
)

// Column is one field of the rows the aggregator inserts into the events table, and the VRL expression,
// evaluated on the audit event, that fills it.
type Column struct {
	// Name of the column.
	Name string
	// Type is the ClickHouse type the aggregator expects the column to have.
	Type string
	// Expr is the VRL expression that computes the value; it never fails.
	Expr string
}

// clickHouseTime formats a VRL timestamp as UTC text with the given number of fractional digits, which
// ClickHouse parses into a DateTime64 of that precision with date_time_input_format=basic (the sink's).
const clickHouseTime = `format_timestamp!(%s, format: "%%Y-%%m-%%d %%H:%%M:%%S%%.%df", timezone: "UTC")`

// stageTime is the event's stageTimestamp, or the time of insert when it has none that parses.
const stageTime = `parse_timestamp(.stageTimestamp, format: "%+") ?? now()`

// NilUUID is the audit_id of an event whose auditID is missing or not a UUID.
const NilUUID = "00000000-0000-0000-0000-000000000000"

// uuidPattern is the text ClickHouse parses into a UUID. The API server takes the audit ID from the
// client's Audit-ID header when there is one, so it may be any string: one that is not a UUID would
// make ClickHouse reject the whole batch, which the sink would then retry forever. \A and \z, not ^
// and $: Vector would interpolate a '$' in its configuration.
const uuidPattern = `\A[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\z`

// UnspecifiedIP is the source_ip of an event whose first source IP is missing or not an IP address:
// ClickHouse rejects the whole batch when an IPv6 column gets "" or anything else that does not parse.
const UnspecifiedIP = "::"

// EventColumns is the contract between the aggregator and the events table that migrations/00001_events.sql
// creates: every column of the table, in its order, with its type there, and the VRL expression that fills
// it (test/contract checks both against a real ClickHouse). Each row holds the whole audit event as JSON in
// event_json, so nothing is lost, plus the fields queries filter and sort on, extracted by Vector (measured:
// extracting them in ClickHouse with MATERIALIZED columns halves insert throughput). Missing fields become
// "", 0, [], the nil UUID or "::", never null, and every value parses into its column, since one that does
// not fails the whole batch. The sink inserts with JSONEachRow and skip_unknown_fields, so a later table
// may drop a column listed here (it is skipped) or add columns with defaults. Timestamps are UTC text:
// event_time has milliseconds (it is in the sorting key), request_received_at and stage_at microseconds. An
// event without a parseable stageTimestamp is stamped with the time of insert (and so is not deduplicated
// when redelivered); one without requestReceivedTimestamp gets its stage time.
var EventColumns = []Column{
	{"event_time", "DateTime64(3, 'UTC')", fmt.Sprintf(clickHouseTime, stageTime, 3)},
	{"audit_id", "UUID", fmt.Sprintf(`if match(string(.auditID) ?? "", r'%s') { string!(.auditID) } else { %q }`, uuidPattern, NilUUID)},
	{"stage", "LowCardinality(String)", `string(.stage) ?? ""`},
	{"level", "LowCardinality(String)", `string(.level) ?? ""`},
	{"verb", "LowCardinality(String)", `string(.verb) ?? ""`},
	{"request_uri", "String", `string(.requestURI) ?? ""`},
	{"user", "LowCardinality(String)", `string(.user.username) ?? ""`},
	{"user_uid", "String", `string(.user.uid) ?? ""`},
	{"user_groups", "Array(LowCardinality(String))", `array(.user.groups) ?? []`},
	{"impersonated_user", "LowCardinality(String)", `string(.impersonatedUser.username) ?? ""`},
	{"source_ip", "IPv6", fmt.Sprintf(`ip_to_ipv6(string(.sourceIPs[0]) ?? "") ?? %q`, UnspecifiedIP)},
	{"user_agent", "LowCardinality(String)", `string(.userAgent) ?? ""`},
	{"api_group", "LowCardinality(String)", `string(.objectRef.apiGroup) ?? ""`},
	{"api_version", "LowCardinality(String)", `string(.objectRef.apiVersion) ?? ""`},
	{"resource", "LowCardinality(String)", `string(.objectRef.resource) ?? ""`},
	{"subresource", "LowCardinality(String)", `string(.objectRef.subresource) ?? ""`},
	{"namespace", "LowCardinality(String)", `string(.objectRef.namespace) ?? ""`},
	{"name", "String", `string(.objectRef.name) ?? ""`},
	{"response_code", "UInt16", `int(.responseStatus.code) ?? 0`},
	{"request_received_at", "DateTime64(6, 'UTC')", fmt.Sprintf(clickHouseTime,
		`parse_timestamp(.requestReceivedTimestamp, format: "%+") ?? `+stageTime, 6)},
	{"stage_at", "DateTime64(6, 'UTC')", fmt.Sprintf(clickHouseTime, stageTime, 6)},
	{"event_json", "String", `encode_json(.)`},
}

// vectorFields are the fields Vector adds to an event on its way (the nats source's source_type,
// subject and ingest timestamp); none of them is part of an audit.k8s.io/v1 Event.
var vectorFields = []string{"source_type", "subject", "timestamp"}

// rowVRL is the remap program that replaces each audit event by its row.
func rowVRL() string {
	var b strings.Builder
	for _, f := range vectorFields {
		fmt.Fprintf(&b, "del(.%s)\n", f)
	}
	b.WriteString(". = {\n")
	for i, c := range EventColumns {
		sep := ","
		if i == len(EventColumns)-1 {
			sep = ""
		}
		fmt.Fprintf(&b, "  %q: %s%s\n", c.Name, c.Expr, sep)
	}
	b.WriteString("}\n")
	return b.String()
}
