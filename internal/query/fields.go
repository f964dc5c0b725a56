package query

// Field is a field of the audit event that filters can use, and the ClickHouse expression that reads it
// from the events (or changes) table. LowCardinality(String) columns are read as they are: every
// function the filters use takes them, and a toString() around them cost the server up to 1 ms a query. Fields with a typed column read the column; the others read
// rest, the event's JSON without the typed columns (docs/schema.md). A typed column holds "" (or 0) where
// the event's field is missing or not a string, and the filter sees that value.
type Field struct {
	// Path is the field as a filter names it, e.g. objectRef.namespace.
	Path string
	// Type is its CEL type: string, int, timestamp, list(string) or map(string, string).
	Type string
	// SQL is the expression that reads it.
	SQL string
}

// Fields are the fields a filter can use. annotations is a map: annotations['k'] reads one annotation
// (JSONExtractString(rest, 'annotations', k), with k a parameter).
var Fields = []Field{
	{"auditID", "string", "toString(audit_id)"},
	{"stage", "string", "stage"},
	{"level", "string", "level"},
	{"verb", "string", "verb"},
	{"requestURI", "string", "JSONExtractString(rest, 'requestURI')"},
	{"userAgent", "string", "JSONExtractString(rest, 'userAgent')"},
	{"user.username", "string", "user"},
	{"user.uid", "string", "user_uid"},
	{"user.groups", "list(string)", "JSONExtract(rest, 'user', 'groups', 'Array(String)')"},
	{"impersonatedUser.username", "string", "JSONExtractString(rest, 'impersonatedUser', 'username')"},
	{"sourceIPs", "list(string)", "JSONExtract(rest, 'sourceIPs', 'Array(String)')"},
	{"objectRef.apiGroup", "string", "api_group"},
	{"objectRef.apiVersion", "string", "JSONExtractString(rest, 'objectRef', 'apiVersion')"},
	{"objectRef.resource", "string", "resource"},
	{"objectRef.subresource", "string", "subresource"},
	{"objectRef.namespace", "string", "namespace"},
	{"objectRef.name", "string", "name"},
	{"responseStatus.code", "int", "toInt64(response_code)"},
	{"responseStatus.reason", "string", "JSONExtractString(rest, 'responseStatus', 'reason')"},
	{"stageTimestamp", "timestamp", "event_time"},
	{"requestReceivedTimestamp", "timestamp", "event_time - toIntervalMicrosecond(latency_us)"},
	{"annotations", "map(string, string)", "rest"},
	{"tenant", "string", "tenant"},
	{"tenantType", "string", "tenant_type"},
	{"cluster", "string", "cluster"},
}

// FieldByPath finds a field by its path.
func FieldByPath(path string) (Field, bool) {
	for _, f := range Fields {
		if f.Path == path {
			return f, true
		}
	}
	return Field{}, false
}
