package vrl

import (
	"strconv"

	"github.com/auditpipeline/auditpipeline-operator/internal/eventrow"
)

// PrepareEventProgram is the collector's prepare_event remap: it makes the event's Vector timestamp the
// moment the API server emitted it, computes its JetStream message id (MessageID) into MessageIDField,
// fits it into a message of maxMessageSize bytes (FitEvent, fit.go), and publishes it under its verb's
// subject token (WithSubjectVerb).
// VRL's length() counts a string's bytes and sha2() returns lower-case hex, as MessageID does.
func PrepareEventProgram(maxMessageSize int64) string {
	return `message_id = (string(.auditID) ?? "") + ":" + (string(.stage) ?? "") + ":" + (string(.stageTimestamp) ?? "")
if length(message_id) > ` + strconv.Itoa(maxMessageIDBytes) + ` {
  message_id = "` + messageIDHashPrefix + `" + sha2(message_id, variant: "SHA-256")
}
verb_token = truncate(replace(string(.verb) ?? "", r'[^A-Za-z0-9_-]', "_"), limit: ` + strconv.Itoa(maxSubjectTokenBytes) + `)
if verb_token == "" {
  verb_token = "_"
}
if .verb != verb_token {
  .` + eventrow.OriginalVerbField + ` = []
  if exists(.verb) {
    .` + eventrow.OriginalVerbField + ` = [.verb]
  }
  .verb = verb_token
}
` + fitEventProgram(maxMessageSize) + `.timestamp = parse_timestamp(.stageTimestamp, format: "%+") ?? now()
.` + MessageIDField + ` = message_id
`
}
