package vrl

import (
	"fmt"
	"maps"
	"strconv"
	"time"

	"github.com/auditpipeline/auditpipeline-operator/internal/eventrow"
)

// PrepareEventProgram is the collector's prepare_event remap: it makes the event's Vector timestamp the
// moment the API server emitted it, computes its JetStream message id (MessageID) into MessageIDField,
// names the cluster it came from (WithCluster), fits it into a message of maxMessageSize bytes
// (FitEvent, fit.go), and publishes it under its verb's subject token (WithSubjectVerb).
// VRL's length() counts a string's bytes and sha2() returns lower-case hex, as MessageID does.
func PrepareEventProgram(maxMessageSize int64, cluster string) string {
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
` + clusterProgram(cluster) + fitEventProgram(maxMessageSize) + `.timestamp = parse_timestamp(.stageTimestamp, format: "%+") ?? now()
.` + MessageIDField + ` = message_id
`
}

// clusterProgram is the part of prepare_event that names the cluster: eventrow.ClusterField set to
// cluster, spec.clusterName or the UID of kube-system (the CRD's pattern and a UID hold nothing that VRL
// or Vector's interpolation would read in a string, and %q quotes it as VRL does).
func clusterProgram(cluster string) string {
	return fmt.Sprintf(".%s = %q\n", eventrow.ClusterField, cluster)
}

// WithCluster is the Go twin of clusterProgram: ev with eventrow.ClusterField set to cluster. It changes
// nothing in ev.
func WithCluster(ev map[string]any, cluster string) map[string]any {
	out := maps.Clone(ev)
	out[eventrow.ClusterField] = cluster
	return out
}

// PrepareEvent is the Go twin of PrepareEventProgram(maxMessageSize, cluster): ev as the collector
// publishes it, with its message id in MessageIDField and its Vector timestamp in "timestamp" (the
// stageTimestamp parsed, else now, as parse_timestamp(.stageTimestamp, format: "%+") ?? now()), and false
// when the collector drops it. It composes MessageID, WithSubjectVerb, WithCluster and FitEvent in the
// program's order and changes nothing in ev.
func PrepareEvent(ev map[string]any, maxMessageSize int64, cluster string, now time.Time) (map[string]any, bool) {
	text := func(k string) string { s, _ := ev[k].(string); return s }
	id := MessageID(text("auditID"), text("stage"), text("stageTimestamp"))
	out, ok := FitEvent(WithCluster(WithSubjectVerb(ev), cluster), id, maxMessageSize)
	if !ok {
		return nil, false
	}
	out = maps.Clone(out)
	out["timestamp"] = now
	if at, err := time.Parse(time.RFC3339Nano, text("stageTimestamp")); err == nil {
		out["timestamp"] = at.UTC()
	}
	out[MessageIDField] = id
	return out, true
}
