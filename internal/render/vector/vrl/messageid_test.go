package vrl

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"strings"
	"testing"

	"github.com/auditpipeline/auditpipeline-operator/internal/eventrow"
)

// TestMessageIDAndSubjectToken checks the collector's message id: auditID, stage and stage time, told
// apart for the stages of one request and for two requests given one auditID; a long one (a client's
// long Audit-ID) replaced by its SHA-256, under JetStream's 64 KiB; the subject's last token made of the
// client-chosen verb (SubjectToken); and the remap's VRL built from the same constants as MessageID and
// SubjectToken, their Go twins (Vector has not run here to compare them).
func TestMessageIDAndSubjectToken(t *testing.T) {
	const id, at = "4c49de04-8afa-46bf-a1c4-8596d5287894", "2026-12-01T17:45:51.123456Z"
	if got, want := MessageID(id, "ResponseComplete", at), id+":ResponseComplete:"+at; got != want {
		t.Errorf("MessageID = %q, want %q", got, want)
	}
	if MessageID(id, "ResponseStarted", at) == MessageID(id, "ResponseComplete", at) {
		t.Error("two stages of one request have one message id")
	}
	if MessageID(id, "ResponseComplete", at) == MessageID(id, "ResponseComplete", "2026-12-01T17:45:51.123457Z") {
		t.Error("two requests given one auditID have one message id")
	}
	long := strings.Repeat("x", 100_000)
	sum := sha256.Sum256([]byte(long + ":ResponseComplete:" + at))
	if got := MessageID(long, "ResponseComplete", at); got != "sha256:"+hex.EncodeToString(sum[:]) {
		t.Errorf("a message id of 100 KB became %q, want sha256: and its SHA-256 in hex", got)
	}
	edge := strings.Repeat("y", maxMessageIDBytes-len(":ResponseComplete:"+at))
	if got := MessageID(edge, "ResponseComplete", at); len(got) != maxMessageIDBytes || strings.HasPrefix(got, "sha256:") {
		t.Errorf("a message id of exactly %d bytes was changed: %q", maxMessageIDBytes, got)
	}
	if MessageID(edge+"y", "ResponseComplete", at) == MessageID(edge+"z", "ResponseComplete", at) {
		t.Error("two long message ids hash alike")
	}

	for _, want := range []string{
		`message_id = (string(.auditID) ?? "") + ":" + (string(.stage) ?? "") + ":" + (string(.stageTimestamp) ?? "")`,
		fmt.Sprintf("if length(message_id) > %d {", maxMessageIDBytes),
		`message_id = "sha256:" + sha2(message_id, variant: "SHA-256")`,
		"." + MessageIDField + " = message_id",
	} {
		if program := PrepareEventProgram(1<<20, "c1"); !strings.Contains(program, want) {
			t.Errorf("the remap lacks %q:\n%s", want, program)
		}
	}
	for verb, want := range map[string]string{
		"get": "get", "deletecollection": "deletecollection", "": "_", "a..b": "a__b", "get.": "get_", "*": "_",
		">": "_", "a b": "a_b", "ü": "_", "Ab-C_9": "Ab-C_9", strings.Repeat("x", 5000): strings.Repeat("x", 64),
		strings.Repeat("ü", 100): strings.Repeat("_", 64),
	} {
		if got := SubjectToken(verb); got != want {
			t.Errorf("SubjectToken(%.20q) = %q, want %q", verb, got, want)
		}
	}
	for _, want := range []string{
		`verb_token = truncate(replace(string(.verb) ?? "", r'[^A-Za-z0-9_-]', "_"), limit: 64)`,
		"if verb_token == \"\" {\n  verb_token = \"_\"\n}",
		"if .verb != verb_token {\n  ." + eventrow.OriginalVerbField + " = []\n  if exists(.verb) {\n    ." +
			eventrow.OriginalVerbField + " = [.verb]\n  }\n  .verb = verb_token\n}",
	} {
		if program := PrepareEventProgram(1<<20, "c1"); !strings.Contains(program, want) {
			t.Errorf("the remap lacks %q:\n%s", want, program)
		}
	}
	for _, c := range []struct {
		ev, want map[string]any
	}{
		{map[string]any{"verb": "get", "a": 1}, map[string]any{"verb": "get", "a": 1}},
		{map[string]any{"verb": "a..b"}, map[string]any{"verb": "a__b", eventrow.OriginalVerbField: []any{"a..b"}}},
		{map[string]any{"verb": ""}, map[string]any{"verb": "_", eventrow.OriginalVerbField: []any{""}}},
		{map[string]any{"verb": "_"}, map[string]any{"verb": "_"}},
		{map[string]any{}, map[string]any{"verb": "_", eventrow.OriginalVerbField: []any{}}},
		{map[string]any{"verb": nil}, map[string]any{"verb": "_", eventrow.OriginalVerbField: []any{nil}}},
		{map[string]any{"verb": json.Number("7")}, map[string]any{"verb": "_", eventrow.OriginalVerbField: []any{json.Number("7")}}},
	} {
		before := maps.Clone(c.ev)
		if got := WithSubjectVerb(c.ev); !reflect.DeepEqual(got, c.want) || !reflect.DeepEqual(c.ev, before) {
			t.Errorf("WithSubjectVerb(%v) = %v, want %v (and the event unchanged)", before, got, c.want)
		}
	}
}
