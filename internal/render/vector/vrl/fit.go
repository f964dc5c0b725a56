package vrl

import (
	"maps"
	"strconv"

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

// jsonSize is the length of v's JSON as VRL's encode_json writes it.
func jsonSize(v any) int64 { return int64(len(eventrow.EncodeJSON(v))) }
