package vrl

import (
	"maps"
	"strings"

	"github.com/auditpipeline/auditpipeline-operator/internal/eventrow"
)

// The verb is the request's HTTP method, which a client chooses: kube-apiserver audits a request with a
// method it does not know, even an anonymous one, with the verb "" on a resource path and with the
// method lowercased, dots and all ("a..b", "get."), on any other path (test/kind). Published as it is,
// such a verb makes a subject JetStream stores nothing under (an empty token, a dot too many, a
// wildcard; test/nats), or one that the stream's audit.k8s.* does not capture, and Vector's nats sink
// would retry that event forever. So the subject's last token is the verb with every character but
// letters, digits, "_" and "-" replaced by "_", "_" for an empty verb, cut at maxSubjectTokenBytes
// (NATS's control line, which holds the subject, takes 4 KiB). The sink's subject stays audit.k8s.{{
// verb }}, which an event the disk buffer kept from an older collector renders too: an event whose verb
// is not its token is published with the token as its verb and the verb itself in
// eventrow.OriginalVerbField, which the aggregator's remap puts back (WithSubjectVerb).
const maxSubjectTokenBytes = 64

// WithSubjectVerb is the Go twin of the collector's remap for the verb: ev as published, with the verb
// SubjectToken makes of it and, when that differs, eventrow.OriginalVerbField holding [verb] ([] when ev
// has none). It changes nothing in ev.
func WithSubjectVerb(ev map[string]any) map[string]any {
	verb, _ := ev["verb"].(string)
	token := SubjectToken(verb)
	v, ok := ev["verb"]
	if ok && v == token {
		return ev
	}
	out := maps.Clone(ev)
	out[eventrow.OriginalVerbField] = []any{}
	if ok {
		out[eventrow.OriginalVerbField] = []any{v}
	}
	out["verb"] = token
	return out
}

// SubjectToken is the last token of the subject the collector publishes an event with this verb under:
// the Go twin of the collector's remap.
func SubjectToken(verb string) string {
	var b strings.Builder
	for _, r := range verb {
		if r == '_' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
		if b.Len() == maxSubjectTokenBytes {
			break
		}
	}
	if b.Len() == 0 {
		return "_"
	}
	return b.String()
}
