package vrl

import (
	"crypto/sha256"
	"encoding/hex"
)

// The JetStream message id (Nats-Msg-Id) the collector publishes each event with, which JetStream
// deduplicates on: the event's auditID, stage and stageTimestamp, which a retried webhook batch repeats
// exactly. The auditID alone is not enough, for two reasons. A long-running request (a watch, an exec)
// sends a ResponseStarted and a ResponseComplete event with the same auditID, often within the duplicate
// window, and JetStream would keep only the first. And kube-apiserver takes a client's Audit-ID request
// header as the auditID, unchecked: a client could give a request the auditID of an earlier one, and
// JetStream would drop its events. Two events have one message id only if they share auditID, stage and
// the microsecond the API server finished that stage.
//
// The Audit-ID header can also be long (kube-apiserver takes one of up to about 1 MB), and JetStream
// refuses a message id over 64 KiB, which Vector's nats sink would retry forever. So an id longer than
// maxMessageIDBytes is replaced by messageIDHashPrefix and its SHA-256 in hex. The collector's remap
// computes it (PrepareEventProgram) into MessageIDField, which the sink's template reads and its
// encoding leaves out.
const (
	maxMessageIDBytes   = 1024
	messageIDHashPrefix = "sha256:"
	// MessageIDField is the field the remap computes the message id into; the sink leaves it out.
	MessageIDField = "auditpipeline_message_id"
	// MessageIDTemplate is the sink's message_id template.
	MessageIDTemplate = "{{ " + MessageIDField + " }}"
)

// MessageID is the message id the collector's remap computes for an event: its Go twin, for tests that
// publish as the collector does.
func MessageID(auditID, stage, stageTimestamp string) string {
	id := auditID + ":" + stage + ":" + stageTimestamp
	if len(id) > maxMessageIDBytes {
		sum := sha256.Sum256([]byte(id))
		return messageIDHashPrefix + hex.EncodeToString(sum[:])
	}
	return id
}
