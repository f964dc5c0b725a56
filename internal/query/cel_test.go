package query

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// testEvent is a small audit event with auditID number i, at second i after a fixed time, with the
// fields of set (by dotted path) replaced.
func testEvent(i int, set map[string]any) map[string]any {
	at := time.Date(2026, 3, 1, 10, 0, i, 123456000, time.UTC).Format("2006-01-02T15:04:05.000000Z")
	ev := map[string]any{
		"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata", "stage": "ResponseComplete",
		"auditID":    fmt.Sprintf("00000000-0000-4000-8000-%012d", i),
		"requestURI": "/api/v1/namespaces/default/configmaps/c", "verb": "get",
		"user":      map[string]any{"username": "alice", "groups": []any{"system:authenticated"}},
		"sourceIPs": []any{"10.0.0.1"}, "userAgent": "test/v1",
		"objectRef":                map[string]any{"resource": "configmaps", "namespace": "default", "name": "c", "apiVersion": "v1"},
		"responseStatus":           map[string]any{"metadata": map[string]any{}, "code": 200},
		"requestReceivedTimestamp": at, "stageTimestamp": at,
		"annotations": map[string]any{"authorization.k8s.io/decision": "allow"},
	}
	for path, v := range set {
		obj := ev
		parts := strings.Split(path, ".")
		for _, p := range parts[:len(parts)-1] {
			obj = obj[p].(map[string]any)
		}
		obj[parts[len(parts)-1]] = v
	}
	return ev
}

// celQuote is s as a CEL string literal: double-quoted, with backslash, quote and control characters
// escaped.
func celQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '\\' || r == '"':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// hostileStrings are values that would break or change a statement they were spliced into.
var hostileStrings = []string{
	`'`, `"`, `\`, `\\`, `\'`, `''`, "\x00", "a\x00b", "\t", "\n", "\r\n", `\N`, `\0`, `\t`,
	`'; DROP TABLE events; --`, `' OR 1=1 --`, `") OR ("1"="1`, `/* comment */`, `*/`, `-- comment`, "`backticks`",
	`{p0:String}`, `{db:Identifier}`, `{p1:UInt8}`, `}{`, `$1`, `?`, `%s`, `%`, `_`, `;`,
	"üñíçødé", "日本語", "🚀", "\u202eRTL override", "\ufeffBOM", "\u00a0nbsp", "é (e + combining)",
	strings.Repeat("x", 4000),
}

// TestLiteralsRoundTrip stores each hostile string in an event's requestURI, user name and annotations,
// and checks that a filter comparing the field with the string (a literal of the filter, bound as a
// parameter) selects exactly that event.
func TestLiteralsRoundTrip(t *testing.T) {
	var events []map[string]any
	for i, s := range hostileStrings {
		events = append(events, testEvent(i, map[string]any{
			"requestURI": s, "user.username": s, "annotations": map[string]any{s: s},
		}))
	}
	db, database := loadEvents(t, events)
	for i, s := range hostileStrings {
		want := []string{events[i]["auditID"].(string)}
		q := celQuote(s)
		exprs := []string{
			"requestURI == " + q,
			"user.username == " + q,
			"annotations[" + q + "] == " + q,
			q + " in annotations && requestURI.startsWith(" + q + ") && requestURI.endsWith(" + q + ")",
			"requestURI in [" + q + ", 'none']",
		}
		if len(q) < 1000 {
			// Raw and triple-quoted literals: the same string, written otherwise.
			if !strings.ContainsAny(s, "'\r") {
				exprs = append(exprs, "requestURI == r'''"+s+"'''")
			}
		}
		for _, expr := range exprs {
			if len(expr) > MaxFilterBytes {
				continue
			}
			f, err := Compile(expr)
			if err != nil {
				t.Errorf("%q: %v", expr, err)
				continue
			}
			if got := runFilter(t, db, database, "events", f, time.Now()); !slices.Equal(got, want) {
				t.Errorf("%q selects %v, want %v", expr, got, want)
			}
		}
	}
}

// hostileFilters are filters that are broken, hostile or beyond the limits: each is refused (refused is
// part of the message, at pos) or compiles and runs with its values as parameters.
var hostileFilters = []struct {
	name, expr string
	// refused is part of Compile's message ("" for a filter that compiles); pos is where it points.
	refused, pos string
}{
	// Text that would end a statement or start a comment: CEL syntax errors, or strings.
	{"statement after the filter", `verb == 'a'; DROP TABLE events; --`, "Syntax error", "1:12"},
	{"statement in a string", `verb == "'; DROP TABLE events; --"`, "", ""},
	{"SQL line comment", `verb == 'get' -- and the rest`, "Syntax error: mismatched input 'the'", "1:22"},
	{"SQL line comment in a string", `requestURI == '-- x' || verb == 'get'`, "", ""},
	{"SQL block comment", `verb == 'get' /* x */`, "Syntax error", "1:16"},
	{"SQL block comment in a string", `requestURI.contains('/* x */') || verb == "*/"`, "", ""},
	{"backticks", "verb == `get`", "Syntax error", "1:9"},
	{"backticks in a string", "verb == '`get`; SELECT 1'", "", ""},
	{"backtick-quoted field", "objectRef.`namespace` == 'default'", "", ""},
	{"backtick-quoted unknown field", "objectRef.`na-me` == 'default'", "undefined field 'na-me'", "1:10"},
	{"quote escapes", `verb == '\'' || verb == "\"" || verb == '\\' || verb == '\\\''`, "", ""},
	{"raw string with backslashes", `requestURI == r'\' || requestURI == r"\\'"`, "", ""},
	{"NUL escapes", `userAgent == '\x00' || userAgent.contains("\u0000") || userAgent == '\000'`, "", ""},
	{"NUL byte in a string", "userAgent == 'a\x00b'", "", ""},
	{"NUL byte outside strings", "verb == 'get'\x00", "Syntax error", "1:14"},
	{"invalid UTF-8", "verb == '\xff'", "not valid UTF-8", "1:10"},
	{"unicode", `user.username == 'üñíçødé 日本語 🚀' || annotations['ключ'] == '\u202e'`, "", ""},
	{"newlines and tabs", "verb == 'get'\n\t&& requestURI != '''a\nb'''", "", ""},
	{"placeholder text in strings", `verb == '{p0:String}' || requestURI.startsWith('{db:Identifier}') || '{p1:UInt8}' in annotations`, "", ""},
	{"placeholder as a map literal", `{db:Identifier} == 'x'`, "undeclared reference to 'db'", "1:2"},
	{"placeholder as an expression", `verb == {p0:String}`, "undeclared reference to 'p0'", "1:10"},
	{"hostile annotation key", `annotations["'); DROP TABLE events; --"] == '' && "a'b" in annotations`, "", ""},
	{"hostile pattern", `requestURI.matches('\'; DROP TABLE events; --') || verb.matches('^(get|list)$')`, "", ""},
	{"hostile list", `verb in ['\'', '"', '\\', '\n', '\t', '--', '/*', '{p0:String}']`, "", ""},
	{"SQL text in a string", `requestURI == 'SELECT * FROM system.tables' || requestURI == 'x\' OR \'1\'=\'1'`, "", ""},
	{"carriage return", "verb == '\\r\\n' ||\r\n verb == 'get'", "", ""},
	// Limits.
	{"huge filter", `verb == '` + strings.Repeat("a", 5000) + `'`, "the filter is 5010 bytes long; at most 4096 are allowed", "1:4097"},
	{"long literal within the limit", `verb == '` + strings.Repeat("a", 4000) + `'`, "", ""},
	{"deep nesting", nested(35), "more than 32 levels deep", "1:482"},
	{"nesting at the limit", nested(30), "", ""},
	{"very deep parentheses", strings.Repeat("(", 300) + "true" + strings.Repeat(")", 300), "the filter nests expressions too deep", "1:1"},
	{"many negations", strings.Repeat("!", 301) + "true", "", ""},
	{"too many list items", "responseStatus.code in [" + strings.TrimSuffix(strings.Repeat("0,", 1001), ",") + "]", "the list has 1001 items; at most 1000", "1:24"},
	{"list at the limit", "responseStatus.code in [" + strings.TrimSuffix(strings.Repeat("0,", 1000), ",") + "]", "", ""},
	{"long pattern", "verb.matches('" + strings.Repeat("a", 1100) + "')", "the pattern is 1100 bytes long; at most 1024", "1:14"},
	{"bad pattern", "verb.matches('(a')", "not an RE2 regular expression", "1:14"},
	{"non-RE2 pattern", `verb.matches('(?=a)')`, "not an RE2 regular expression", "1:14"},
	{"pattern from a field", "verb.matches(requestURI)", "must be a string literal", "1:14"},
	// Unknown fields and wrong types.
	{"unknown field", "uknownField == 'x'", "undeclared reference to 'uknownField'; the fields are auditID, stage", "1:1"},
	{"unknown nested field", "objectRef.nam == 'x'", "undefined field 'nam'; the fields are objectRef.apiGroup, objectRef.apiVersion, objectRef.resource, objectRef.subresource, objectRef.namespace, objectRef.name", "1:10"},
	{"field of a string", "verb.name == 'x'", "does not support field selection", "1:5"},
	{"int field against a string", "responseStatus.code == 'x'", "found no matching overload for '_==_' applied to '(int, string)'", "1:21"},
	{"string field against an int", "verb == 1", "found no matching overload", "1:6"},
	{"timestamp against a string", "stageTimestamp > '2026-01-01'", "found no matching overload", "1:16"},
	{"not a condition", "verb", "a filter is a condition, of type bool; this one is of type string", "1:1"},
	{"object compared", "objectRef == objectRef", "objectRef is an object; use one of its fields", "1:1"},
	{"list field compared", "sourceIPs == user.groups", "sourceIPs cannot be compared", "1:1"},
	{"list literal compared", "sourceIPs == ['10.0.0.1']", "a list literal can only be the right side of in", "1:14"},
	{"map field alone", "annotations == annotations", "annotations is a map", "1:1"},
	// Unsupported functions, macros and literals.
	{"conversion", "string(responseStatus.code) == '200'", "string() is not supported", "1:7"},
	{"int conversion", "int(verb) == 1", "int() is not supported", "1:4"},
	{"type()", "type(verb) == string", "type() is not supported", "1:5"},
	{"dyn()", "dyn(verb) == 'x'", "dyn() is not supported", "1:4"},
	{"string extension", "verb.lowerAscii() == 'get'", "undeclared reference to 'lowerAscii'; the function is not supported", "1:16"},
	{"exists", "user.groups.exists(g, g == 'system:masters')", "the macros all, exists, exists_one, map and filter are not supported", "1:19"},
	{"all", "sourceIPs.all(ip, ip.startsWith('10.'))", "macros", "1:14"},
	{"map macro", "size(sourceIPs.map(ip, ip + '/32')) > 0", "macros", "1:19"},
	{"filter macro", "size(user.groups.filter(g, g == 'x')) == 1", "macros", "1:24"},
	{"cel.bind", "cel.bind(x, verb, x == 'get')", "undeclared reference to 'cel'", "1:1"},
	{"in a macro's result", "'x' in sourceIPs.filter(ip, ip != '')", "macros", "1:24"},
	{"arithmetic on a field", "responseStatus.code + 1 == 201", "arithmetic (+) is only supported", "1:21"},
	{"arithmetic on numbers", "responseStatus.code == 100 * 2", "arithmetic (*) is only supported", "1:28"},
	{"division", "1 / 0 == 1", "arithmetic (/)", "1:3"},
	{"string concatenation", "verb + 'x' == 'getx'", "arithmetic (+)", "1:6"},
	{"arithmetic on a time field", "stageTimestamp - duration('1h') > now", "arithmetic (-) is only supported", "1:16"},
	{"timestamp of a field", "timestamp(requestURI) > now", "timestamp() takes a string literal", "1:10"},
	{"durations compared", "duration('1h') < duration('2h')", "a duration can only be added to or subtracted from", "1:9"},
	{"bad timestamp", "stageTimestamp > timestamp('yesterday')", "cannot evaluate this time expression", "1:27"},
	{"timestamp out of range", "stageTimestamp > timestamp('0001-01-01T00:00:00Z')", "out of the range of the table's times", "1:27"},
	{"has() of an annotation", "has(annotations.x)", "test an annotation with 'key' in annotations", "1:4"},
	{"list index", "sourceIPs[0] == '10.0.0.1'", "indexing a list is not supported", "1:10"},
	{"bytes", "verb == b'get'", "found no matching overload", "1:6"},
	{"bytes alone", "b'a' == b'a'", "bytes literals are not supported", "1:1"},
	{"double", "1.5 < 2.5", "double literals are not supported", "1:1"},
	{"uint", "1u == 1u", "uint literals are not supported", "1:1"},
	{"null", "null == null", "null literals are not supported", "1:1"},
	{"map literal", "{'a': 'b'}['a'] == 'b'", "map literals are not supported", "1:1"},
	{"object literal", "audit.objectRef{name: 'x'}.name == 'x'", "object literals are not supported", "1:16"},
	{"list literal alone", "['a'] == ['a']", "a list literal can only be the right side of in", "1:1"},
	{"ternary of lists", "(verb == 'get' ? sourceIPs : user.groups) == sourceIPs", "the branches of ?: must be", "1:16"},
	{"unknown function", "lower(verb) == 'get'", "undeclared reference to 'lower'; the function is not supported", "1:6"},
	{"empty filter", "", "Syntax error", "1:1"},
	{"only spaces", "   ", "Syntax error", "1:4"},
}

// nested is a filter of depth levels of (verb == 'a' || (...)).
func nested(depth int) string {
	return strings.Repeat("(verb == 'a' || ", depth) + "true" + strings.Repeat(")", depth)
}

// TestHostileFilters compiles each of hostileFilters: the ones refused must say why and where; the others
// run on the real server, where their values are parameters: no SQL error, and afterwards the events
// table still has all its rows and the server the same tables.
func TestHostileFilters(t *testing.T) {
	if len(hostileFilters) < 30 {
		t.Fatalf("%d hostile filters, want at least 30", len(hostileFilters))
	}
	events := []map[string]any{
		testEvent(1, nil),
		testEvent(2, map[string]any{"verb": "'; DROP TABLE events; --", "userAgent": "\x00", "requestURI": "-- x"}),
		testEvent(3, map[string]any{"annotations": map[string]any{"'); DROP TABLE events; --": "", "a'b": "x", "{p1:UInt8}": "1"}}),
	}
	db, database := loadEvents(t, events)
	ctx := context.Background()
	serverTables := func() []string {
		t.Helper()
		rs, err := db.QueryContext(ctx, "SELECT database || '.' || name FROM system.tables WHERE database NOT IN ('system', 'INFORMATION_SCHEMA', 'information_schema') ORDER BY 1")
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = rs.Close() }()
		var out []string
		for rs.Next() {
			var s string
			if err := rs.Scan(&s); err != nil {
				t.Fatal(err)
			}
			out = append(out, s)
		}
		if err := rs.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	before := serverTables()
	if !slices.Contains(before, database+".events") {
		t.Fatalf("no %s.events among the tables %v", database, before)
	}

	for _, c := range hostileFilters {
		f, err := Compile(c.expr)
		if c.refused == "" {
			if err != nil {
				t.Errorf("%s: %q: %v", c.name, c.expr, err)
				continue
			}
			if f.String() != c.expr {
				t.Errorf("%s: String() is %q, want the source %q", c.name, f.String(), c.expr)
			}
			p := &Params{}
			where, err := f.SQL(p, time.Now())
			if err != nil {
				t.Errorf("%s: SQL: %v", c.name, err)
				continue
			}
			for _, bad := range []string{"DROP", "--", "/*", "*/", "`", "\x00", "SELECT", "{db:", "p0:String}' "} {
				if strings.Contains(where, bad) {
					t.Errorf("%s: the SQL holds %q, which only a literal has: %s", c.name, bad, where)
				}
			}
			if _, err := runSQL(ctx, db, database, "events", where, p); err != nil {
				t.Errorf("%s: %q: %v\nSQL: %s\nparameters: %q", c.name, c.expr, err, where, p.Values())
			}
			if _, err := runSQL(ctx, db, database, "changes", where, p); err != nil {
				t.Errorf("%s: on changes: %v", c.name, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s: %q compiled, want it refused (%s)", c.name, c.expr, c.refused)
			continue
		}
		var fe *Error
		if !errors.As(err, &fe) {
			t.Errorf("%s: the error is a %T, not an *Error: %v", c.name, err, err)
			continue
		}
		if !strings.Contains(fe.Msg, c.refused) {
			t.Errorf("%s: %q: the message\n%v\ndoes not say %q", c.name, c.expr, err, c.refused)
		}
		pos := fmt.Sprintf("%d:%d", fe.Line, fe.Column)
		if fe.Line < 1 || fe.Column < 1 || !strings.HasPrefix(pos, c.pos) {
			t.Errorf("%s: %q: refused at %s, want %s: %v", c.name, c.expr, pos, c.pos, err)
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "filter:"+pos+": ") || !strings.Contains(msg, "\n | ") || !strings.HasSuffix(msg, "^") {
			t.Errorf("%s: the message does not point at %s with a caret:\n%s", c.name, pos, msg)
		}
		if !utf8.ValidString(msg) {
			t.Errorf("%s: the message is not valid UTF-8: %q", c.name, msg)
		}
	}

	var n uint64
	if err := db.QueryRowContext(ctx, "SELECT count() FROM "+database+".events").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != uint64(len(events)) {
		t.Errorf("the events table has %d rows after the filters ran, want %d", n, len(events))
	}
	if after := serverTables(); !slices.Equal(before, after) {
		t.Errorf("the server's tables changed while the filters ran:\nbefore %v\nafter  %v", before, after)
	}
}

// TestSQL checks the translation of some filters: the SQL, and the values bound.
func TestSQL(t *testing.T) {
	now := time.Date(2026, 5, 4, 3, 2, 1, 123456000, time.UTC)
	cases := []struct {
		expr, sql string
		params    map[string]string
	}{
		{`verb == 'create'`, `((verb) = {p0:String})`, map[string]string{"p0": "create"}},
		{`verb in ['create', 'update'] && !(responseStatus.code >= 400)`,
			`(((verb) IN ({p0:String}, {p1:String})) AND (NOT ((toInt64(response_code)) >= {p2:Int64})))`,
			map[string]string{"p0": "create", "p1": "update", "p2": "400"}},
		{`'system:masters' in user.groups || 'k' in annotations`,
			`(has(JSONExtract(rest, 'user', 'groups', 'Array(String)'), {p0:String}) OR JSONHas(rest, 'annotations', {p1:String}))`,
			map[string]string{"p0": "system:masters", "p1": "k"}},
		{`annotations['a\\b'] == "it's"`, `(JSONExtractString(rest, 'annotations', {p0:String}) = {p1:String})`,
			map[string]string{"p0": `a\\b`, "p1": "it's"}},
		{`has(objectRef.name) && has(responseStatus.code) && has(sourceIPs)`, "", nil}, // has() of a top-level field is not CEL
		{`has(objectRef.name) && has(responseStatus.code) && has(user.groups)`,
			`((((name) != '') AND ((toInt64(response_code)) != 0)) AND notEmpty(JSONExtract(rest, 'user', 'groups', 'Array(String)')))`, nil},
		{`stageTimestamp > now - duration('1h')`, `((event_time) > {p0:DateTime64(6, 'UTC')})`,
			map[string]string{"p0": "2026-05-04 02:02:01.123456"}},
		{`requestReceivedTimestamp <= timestamp('2026-01-01T00:00:00.0000005Z')`,
			`((event_time - toIntervalMicrosecond(latency_us)) <= {p0:DateTime64(9, 'UTC')})`,
			map[string]string{"p0": "2026-01-01 00:00:00.000000500"}},
		{`requestURI.matches('^/api/v1/') && userAgent.startsWith('kubectl') && verb.endsWith('e') && requestURI.contains('\t')`,
			`((match((JSONExtractString(rest, 'requestURI')), {p0:String}) AND startsWith((JSONExtractString(rest, 'userAgent')), {p1:String})) AND (endsWith((verb), {p2:String}) AND (position((JSONExtractString(rest, 'requestURI')), {p3:String}) > 0)))`,
			map[string]string{"p0": "(?-s)^/api/v1/", "p1": "kubectl", "p2": "e", "p3": `\t`}},
		{`size(user.groups) > 1 && size(annotations) == 0 && verb.size() == 6`,
			`(((toInt64(length((JSONExtract(rest, 'user', 'groups', 'Array(String)')))) > {p0:Int64}) AND (toInt64(length(JSONExtractKeys(rest, 'annotations'))) = {p1:Int64})) AND (toInt64(lengthUTF8((verb))) = {p2:Int64}))`,
			map[string]string{"p0": "1", "p1": "0", "p2": "6"}},
		{`(verb == 'delete' ? responseStatus.code : 0) == 200`,
			`(if(((verb) = {p0:String}), (toInt64(response_code)), {p1:Int64}) = {p2:Int64})`,
			map[string]string{"p0": "delete", "p1": "0", "p2": "200"}},
		{`'mallory' in [impersonatedUser.username, user.username] && verb in []`,
			`((({p0:String} = (JSONExtractString(rest, 'impersonatedUser', 'username'))) OR ({p0:String} = (user))) AND false)`,
			map[string]string{"p0": "mallory"}},
		{`true`, `{p0:Bool}`, map[string]string{"p0": "true"}},
	}
	for _, c := range cases {
		f, err := Compile(c.expr)
		if c.sql == "" {
			if err == nil {
				t.Errorf("%s: compiled, want an error", c.expr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.expr, err)
			continue
		}
		p := &Params{}
		sql, err := f.SQL(p, now)
		if err != nil {
			t.Errorf("%s: %v", c.expr, err)
			continue
		}
		if sql != c.sql {
			t.Errorf("%s:\n got %s\nwant %s", c.expr, sql, c.sql)
		}
		got := map[string]string{}
		for k, v := range p.Values() {
			got[k] = v
		}
		if c.params == nil {
			c.params = map[string]string{}
		}
		if fmt.Sprint(got) != fmt.Sprint(c.params) {
			t.Errorf("%s: parameters %q, want %q", c.expr, got, c.params)
		}
	}
}

// TestNowIsBoundBySQL checks that now is the time SQL is given, not the time of Compile.
func TestNowIsBoundBySQL(t *testing.T) {
	f, err := Compile("stageTimestamp >= now - duration('90m')")
	if err != nil {
		t.Fatal(err)
	}
	for _, now := range []time.Time{time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2030, 7, 8, 9, 10, 11, 12000, time.FixedZone("x", 3600))} {
		p := &Params{}
		if _, err := f.SQL(p, now); err != nil {
			t.Fatal(err)
		}
		want := now.Add(-90 * time.Minute).UTC().Format("2006-01-02 15:04:05.000000")
		if got := p.Values()["p0"]; got != want {
			t.Errorf("now %s: bound %q, want %q", now, got, want)
		}
	}
	if _, err := f.SQL(&Params{}, time.Date(1900, 1, 1, 0, 30, 0, 0, time.UTC)); err == nil {
		t.Error("SQL bound a time before 1900")
	}
}

// TestParametersReachTheServer runs the parameters of a filter as the server reads them back: each
// String parameter is the literal's exact text.
func TestParametersReachTheServer(t *testing.T) {
	db, _ := loadEvents(t, nil)
	for _, s := range hostileStrings {
		f, err := Compile("verb == " + celQuote(s))
		if err != nil {
			t.Fatal(err)
		}
		p := &Params{}
		if _, err := f.SQL(p, time.Now()); err != nil {
			t.Fatal(err)
		}
		ctx := clickhouse.Context(context.Background(), clickhouse.WithParameters(p.Values()))
		var got string
		if err := db.QueryRowContext(ctx, "SELECT {p0:String}").Scan(&got); err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		if got != s {
			t.Errorf("the server read %q, want %q", got, s)
		}
	}
}
