package vrl

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// TestSplitEventList holds the collector's remap twin to what serde_json does (checked on serde_json
// 1.0.87: 127 levels are decoded and 128 refused; 1.7976931348623157e308 is decoded and
// 1.7976931348623159e308 refused; 1e-400 is decoded as 0) and to what the remap makes of a body.
func TestSplitEventList(t *testing.T) {
	for _, c := range []struct {
		text string
		ok   bool
	}{
		{strings.Repeat("[", 127) + strings.Repeat("]", 127), true},
		{strings.Repeat("[", 128) + strings.Repeat("]", 128), false},
		{"1.7976931348623157e308", true},
		{"1.7976931348623159e308", false},
		{"-1e400", false},
		{"1e-400", true},
		{"18446744073709551616", true},
		{"1" + strings.Repeat("0", 309), false},
		{`{"a":[1,{"b":2}]}`, true},
		{`{"a":1} {"b":2}`, false},
	} {
		if _, ok := serdeDecode([]byte(c.text)); ok != c.ok {
			t.Errorf("serdeDecode(%.40s...) = %v, want %v", c.text, ok, c.ok)
		}
	}

	event := func(id, extra string) string {
		return `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"RequestResponse","auditID":"` + id +
			`","stage":"ResponseComplete","verb":"patch","user":{"username":"alice","groups":["dev"]},` +
			`"sourceIPs":["10.0.0.1"],"objectRef":{"resource":"configmaps","namespace":"shop","name":"web"},` +
			`"responseStatus":{"metadata":{},"code":200},"annotations":{"a":"b"}` + extra + `}`
	}
	list := func(items ...string) []byte {
		return []byte(`{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[` + strings.Join(items, ",") + `]}`)
	}
	decode := func(text string) map[string]any {
		v, ok := serdeDecode([]byte(text))
		if !ok {
			t.Fatalf("cannot decode %s", text)
		}
		return v.(map[string]any)
	}
	good := event("1", `,"requestObject":{"data":{"k":"v"},"n":1.5}`)
	deep := strings.Repeat("[", 130) + strings.Repeat("]", 130)
	huge := `{"metadata":{"labels":{"probe":"number"}},"n":1e400}`

	events, dropped, err := SplitEventList(list(good, event("2", "")))
	if err != nil || dropped != 0 || !reflect.DeepEqual(events, []map[string]any{decode(good), decode(event("2", ""))}) {
		t.Errorf("a body serde_json decodes: %v, %d dropped, %v", events, dropped, err)
	}

	for what, body := range map[string]string{"a number beyond a double's range": huge, "nesting of 131 levels": `{"d":` + deep + `}`} {
		bad := event("3", `,"requestObject":`+body+`,"responseObject":{"kind":"ConfigMap","data":{"k":"v"}}`)
		events, dropped, err := SplitEventList(list(good, bad, event("4", "")))
		if err != nil || dropped != 0 || len(events) != 3 {
			t.Fatalf("%s: %d events, %d dropped, %v", what, len(events), dropped, err)
		}
		if !reflect.DeepEqual(events[0], decode(good)) || !reflect.DeepEqual(events[2], decode(event("4", ""))) {
			t.Errorf("%s: the events serde_json decodes changed: %v", what, events)
		}
		want := decode(event("3", `,"responseObject":{"kind":"ConfigMap","data":{"k":"v"}}`))
		want["requestObject"] = body
		if !reflect.DeepEqual(events[1], want) {
			t.Errorf("%s: the event became\n%v\nwant\n%v", what, events[1], want)
		}
	}

	// A top-level member serde_json refuses: that event alone is dropped.
	events, dropped, err = SplitEventList(list(good, `{"auditID":"5","level":1e400}`))
	if err != nil || dropped != 1 || len(events) != 1 || !reflect.DeepEqual(events[0], decode(good)) {
		t.Errorf("an event unreadable member by member: %v, %d dropped, %v", events, dropped, err)
	}

	for _, body := range []string{`[]`, `{"items":3}`, `{"items":[`, `{"kind":"EventList","items":1e400}`, `not json`} {
		if _, _, err := SplitEventList([]byte(body)); err == nil {
			t.Errorf("SplitEventList(%s): no error", body)
		}
	}
}

// TestSplitEventListProgram holds the remap's text to its twin: the same layers, and the same members
// decoded one by one.
func TestSplitEventListProgram(t *testing.T) {
	for _, want := range []string{
		"body, err = parse_json(.message)\nif err == null {\n  items, err = array(body.items)\n} else {",
		"body, err = parse_json(.message, max_depth: 2)",
		"items = map_values(items) -> |text| {\n      event, event_err = parse_json(text)\n      if event_err != null {",
		"event = object(parse_json(text, max_depth: 1) ?? null) ?? null",
		"kept = filter(items) -> |_index, item| { item != null }",
		"  abort\n}\n. = items\n",
	} {
		if !strings.Contains(splitEventListProgram, want) {
			t.Errorf("the remap lacks %q:\n%s", want, splitEventListProgram)
		}
	}
	for _, m := range rawMembers {
		want := fmt.Sprintf("if is_string(event.%[1]s) {\n          event.%[1]s = parse_json(event.%[1]s) ?? event.%[1]s\n        }", m)
		if !strings.Contains(splitEventListProgram, want) {
			t.Errorf("the remap does not decode %s on its own:\n%s", m, splitEventListProgram)
		}
	}
	if n := strings.Count(splitEventListProgram, "if is_string(event."); n != len(rawMembers) {
		t.Errorf("the remap decodes %d members on their own, the twin %d", n, len(rawMembers))
	}
}
