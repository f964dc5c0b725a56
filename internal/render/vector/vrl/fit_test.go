package vrl

import (
	"fmt"
	"strings"
	"testing"
)

func TestFitEvent(t *testing.T) {
	const size = 4096
	id := MessageID("4c49de04-8afa-46bf-a1c4-8596d5287894", "ResponseComplete", "2026-12-01T17:45:51.123456Z")
	limit := int64(size - messageHeaderOverhead - len(id))
	event := func(body int, groups int) map[string]any {
		gs := make([]any, groups)
		for i := range gs {
			gs[i] = fmt.Sprintf("group-%03d", i)
		}
		return map[string]any{"auditID": "4c49de04-8afa-46bf-a1c4-8596d5287894", "verb": "update",
			"user":          map[string]any{"username": "alice", "groups": gs},
			"annotations":   map[string]any{"authorization.k8s.io/decision": "allow"},
			"requestObject": map[string]any{"data": strings.Repeat("r", body)}, "responseObject": map[string]any{"data": strings.Repeat("s", body)}}
	}

	small := event(100, 3)
	if got, ok := FitEvent(small, id, size); !ok || jsonSize(got) != jsonSize(small) || got["requestObject"] == nil {
		t.Errorf("an event of %d bytes was changed: %v, %v", jsonSize(small), got, ok)
	}
	// Exactly at the limit it is kept whole; one byte more and it loses its bodies.
	at := event(0, 3)
	pad := int(limit-jsonSize(at)) / 2
	at = event(pad, 3)
	if jsonSize(at) != limit && jsonSize(at) != limit-1 {
		t.Fatalf("the test's event is %d bytes, want %d", jsonSize(at), limit)
	}
	if _, ok := FitEvent(at, id, size); !ok {
		t.Error("an event at the limit was dropped")
	}
	big := event(3000, 3)
	got, ok := FitEvent(big, id, size)
	if !ok || got["requestObject"] != nil || got["responseObject"] != nil || jsonSize(got) > limit {
		t.Errorf("an event of %d bytes became %v (%d bytes), kept %v", jsonSize(big), got, jsonSize(got), ok)
	}
	if a := got["annotations"].(map[string]any); a[truncatedAnnotation] != "true" || a["authorization.k8s.io/decision"] != "allow" {
		t.Errorf("annotations %v", a)
	}
	if big["requestObject"] == nil || big["annotations"].(map[string]any)[truncatedAnnotation] != nil {
		t.Error("FitEvent changed the event it was given")
	}
	noAnnotations := event(3000, 3)
	delete(noAnnotations, "annotations")
	if got, ok := FitEvent(noAnnotations, id, size); !ok || got["annotations"].(map[string]any)[truncatedAnnotation] != "true" {
		t.Errorf("an event without annotations: %v, %v", got, ok)
	}
	// Too large without its bodies (a user with many groups): dropped.
	if got, ok := FitEvent(event(10, 400), id, size); ok {
		t.Errorf("an event too large without its bodies was kept: %d bytes", jsonSize(got))
	}
	// A longer message id leaves less room.
	if got, ok := FitEvent(at, strings.Repeat("x", 1000), size); !ok || got["requestObject"] != nil {
		t.Errorf("an event at the limit for a short message id, with a long one: %v, kept %v", got, ok)
	}
	if got := jsonSize(map[string]any{"a": "<&>", "b": 1}); got != int64(len(`{"a":"<&>","b":1}`)) {
		t.Errorf("jsonSize escapes or pads: %d", got)
	}
}

// TestFitEventProgram holds the remap to its twin: the same limit, bodies and annotation, and the size of
// the event measured before the fields the sink leaves out are set.
func TestFitEventProgram(t *testing.T) {
	program := PrepareEventProgram(256<<10, "c1")
	for _, want := range []string{
		fmt.Sprintf("limit = %d - length(message_id)\nif length(encode_json(.)) > limit {", 256<<10-messageHeaderOverhead),
		"  del(.requestObject)\n  del(.responseObject)\n  .annotations.\"audit.k8s.io/truncated\" = \"true\"\n  if length(encode_json(.)) > limit {",
		"    abort\n  }\n}\n.timestamp = ",
	} {
		if !strings.Contains(program, want) {
			t.Errorf("the remap lacks %q:\n%s", want, program)
		}
	}
	for _, field := range []string{"timestamp", MessageIDField} {
		if strings.LastIndex(program, "encode_json(.)") > strings.Index(program, "."+field+" = ") {
			t.Errorf("the remap measures the event after setting %s, which the sink leaves out", field)
		}
	}
	if strings.Index(program, "encode_json(.)") < strings.Index(program, ".verb = verb_token") {
		t.Error("the remap measures the event before giving it the verb it is published with")
	}
}
