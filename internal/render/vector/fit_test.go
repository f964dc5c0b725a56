package vector

import (
	"fmt"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"
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

// TestFitEventVRL holds the remap to its twin: the same limit, bodies and annotation, and the size of
// the event measured before the fields the sink leaves out are set.
func TestFitEventVRL(t *testing.T) {
	vrl := prepareEventVRL(256 << 10)
	for _, want := range []string{
		fmt.Sprintf("limit = %d - length(message_id)\nif length(encode_json(.)) > limit {", 256<<10-messageHeaderOverhead),
		"  del(.requestObject)\n  del(.responseObject)\n  .annotations.\"audit.k8s.io/truncated\" = \"true\"\n  if length(encode_json(.)) > limit {",
		"    abort\n  }\n}\n.timestamp = ",
	} {
		if !strings.Contains(vrl, want) {
			t.Errorf("the remap lacks %q:\n%s", want, vrl)
		}
	}
	for _, field := range []string{"timestamp", messageIDField} {
		if strings.LastIndex(vrl, "encode_json(.)") > strings.Index(vrl, "."+field+" = ") {
			t.Errorf("the remap measures the event after setting %s, which the sink leaves out", field)
		}
	}
	if strings.Index(vrl, "encode_json(.)") < strings.Index(vrl, ".verb = verb_token") {
		t.Error("the remap measures the event before giving it the verb it is published with")
	}
	p := defaulted()
	if got := streamMaxMessageSize(p); got != defaultMaxMessageSize {
		t.Errorf("default maxMessageSize %d", got)
	}
	p.Spec.NATS.Stream.MaxMessageSize = resource.MustParse("256Ki")
	if got := AgentConfig(p).Transforms[agentPrepare].(*RemapTransform).Source; got != vrl {
		t.Errorf("the agent's remap does not use the stream's maxMessageSize:\n%s", got)
	}
}
