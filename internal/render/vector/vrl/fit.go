package vrl

import (
	"encoding/json"
	"maps"
	"strconv"
	"strings"

	"github.com/auditpipeline/auditpipeline-operator/internal/eventrow"
)

// JetStream refuses a message larger than the stream's maxMessageSize, its headers included (test/nats:
// the message id counts), and Vector's nats sink retries every publish error, so one event too large
// would stop the collector's pipeline on that node for good: it stays first in the disk buffer across
// restarts, the buffer fills, the webhook blocks, and the API server drops its batches.
// kube-apiserver's own truncation (--audit-webhook-truncate-enabled) prevents it only when it is on
// and its limit is below maxMessageSize (docs/apiserver.md), and it is off by default.
//
// So the collector fits each event into a message as kube-apiserver's truncation does: an event whose
// JSON would take the message over maxMessageSize loses its requestObject and responseObject and is
// annotated audit.k8s.io/truncated: "true", and one that is too large even so is dropped, with an error
// log, rather than retried forever. FitEvent is the remap's Go twin.

const (
	// messageHeaderOverhead is what a NATS message's header block adds besides the message id's value:
	// "NATS/1.0\r\n", "Nats-Msg-Id: ", "\r\n" and the closing "\r\n" (30 bytes), with room to spare.
	messageHeaderOverhead = 64
	// truncatedAnnotation is the annotation kube-apiserver's truncation sets on an event it shortens.
	truncatedAnnotation = "audit.k8s.io/truncated"
)

// fitEventProgram is the part of the collector's prepare_event remap that fits the event into a message
// of maxMessageSize bytes; message_id is the event's message id, computed before it.
func fitEventProgram(maxMessageSize int64) string {
	limit := strconv.FormatInt(maxMessageSize-messageHeaderOverhead, 10)
	return `# JetStream refuses a message over maxMessageSize, headers included, and the nats sink would retry it forever.
limit = ` + limit + ` - length(message_id)
if length(encode_json(.)) > limit {
  del(.requestObject)
  del(.responseObject)
  .annotations."` + truncatedAnnotation + `" = "true"
  if length(encode_json(.)) > limit {
    log("dropped an audit event larger than spec.nats.stream.maxMessageSize even without its request and response bodies", level: "error", rate_limit_secs: 60)
    abort
  }
}
`
}

// FitEvent is the Go twin of fitEventProgram: the event as the collector publishes it in a message of at
// most maxMessageSize bytes with the message id messageID, and false when the collector drops it. The
// event's size is that of its JSON as encode_json writes it (eventrow.EncodeJSON).
func FitEvent(event map[string]any, messageID string, maxMessageSize int64) (map[string]any, bool) {
	limit := maxMessageSize - messageHeaderOverhead - int64(len(messageID))
	if jsonSize(event) <= limit {
		return event, true
	}
	fitted := make(map[string]any, len(event))
	for k, v := range event {
		if k != "requestObject" && k != "responseObject" {
			fitted[k] = v
		}
	}
	annotations, ok := fitted["annotations"].(map[string]any)
	if ok {
		annotations = maps.Clone(annotations)
	} else {
		annotations = map[string]any{}
	}
	annotations[truncatedAnnotation] = "true"
	fitted["annotations"] = annotations
	return fitted, jsonSize(fitted) <= limit
}

// jsonSize is the length of v's JSON as VRL's encode_json writes it (eventrow.EncodeJSON: no spaces,
// keys sorted), a Fill counted as the string it stands for without building it.
func jsonSize(v any) int64 {
	switch t := v.(type) {
	case Fill:
		return int64(t.Len) + 2
	case map[string]any:
		if t == nil {
			return 4
		}
		n := max(2*int64(len(t))+1, 2) // the braces, the colons and the commas
		for k, e := range t {
			n += int64(len(eventrow.EncodeJSON(k))) + jsonSize(e)
		}
		return n
	case []any:
		if t == nil {
			return 4
		}
		n := max(int64(len(t))+1, 2) // the brackets and the commas
		for _, e := range t {
			n += jsonSize(e)
		}
		return n
	}
	return int64(len(eventrow.EncodeJSON(v)))
}

// Fill stands for a string of Len times Char (an ASCII character JSON does not escape), which FitEvent
// measures without building it: the samples of an event larger than a JetStream message (SamplesOfPrepareEvent)
// hold one of up to 64 MiB, which the operator renders as a Vector unit test on every reconcile. Its JSON
// is that of the string.
type Fill struct {
	Char byte
	Len  int
}

// String is the string f stands for.
func (f Fill) String() string { return strings.Repeat(string(f.Char), f.Len) }

// MarshalJSON encodes f as its string.
func (f Fill) MarshalJSON() ([]byte, error) { return json.Marshal(f.String()) }
