package vrl

import (
	"encoding/json"
	"strings"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
	"github.com/auditpipeline/auditpipeline-operator/internal/eventrow"
)

// The samples are inputs of the programs that their twins' Go tests hold to what the program must make
// of them (samples_test.go), and that package vector renders into the configurations as Vector unit
// tests (`tests:`), with the twin's result as what Vector's run of the program must give: a program
// that does not do what its twin does fails `vector test` in the validation Job, and the workload does
// not roll to it. Each is small, but for the samples of an event larger than a JetStream message, whose
// large string is a Fill.

// A BodySample is a webhook request body, the input of SplitEventListProgram.
type BodySample struct {
	Name string
	Body []byte
}

// An EventSample is an audit event (numbers as json.Number, as SplitEventList decodes them), the input
// of the other programs.
type EventSample struct {
	Name  string
	Event map[string]any
}

// sampleEvent is an event as kube-apiserver writes it, a get of a ConfigMap, with the members of extra
// added or replaced (a nil value removes the member).
func sampleEvent(extra map[string]any) map[string]any {
	ev := map[string]any{
		"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata",
		"auditID": "4c49de04-8afa-46bf-a1c4-8596d5287894", "stage": "ResponseComplete",
		"requestURI": "/api/v1/namespaces/shop/configmaps/web", "verb": "get",
		"user":      map[string]any{"username": "alice", "uid": "u-1", "groups": []any{"dev"}},
		"sourceIPs": []any{"203.0.113.7"}, "userAgent": "kubectl/v1.35.0",
		"objectRef":                map[string]any{"resource": "configmaps", "namespace": "shop", "name": "web", "apiVersion": "v1"},
		"responseStatus":           map[string]any{"metadata": map[string]any{}, "code": json.Number("200")},
		"requestReceivedTimestamp": "2026-12-01T17:45:51.100000Z", "stageTimestamp": "2026-12-01T17:45:51.123456Z",
		"annotations": map[string]any{"authorization.k8s.io/decision": "allow"},
	}
	for k, v := range extra {
		if v == nil {
			delete(ev, k)
			continue
		}
		ev[k] = v
	}
	return ev
}

// SamplesOfSplitEventList are the samples of the collector's split_event_list remap: an EventList
// holding a patch whose recorded body serde_json refuses (a number beyond a double's range), and a body
// that is no EventList.
var SamplesOfSplitEventList = []BodySample{
	{Name: "an EventList with a patch whose body holds 1e400", Body: []byte(`{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[` +
		`{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"0b5f7c61-3d3e-4e4b-9a55-5f1b1c0d2e01","stage":"ResponseComplete",` +
		`"verb":"get","user":{"username":"alice"},"objectRef":{"resource":"configmaps","namespace":"shop","name":"web"},"responseStatus":{"code":200}},` +
		`{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Request","auditID":"0b5f7c61-3d3e-4e4b-9a55-5f1b1c0d2e02","stage":"ResponseComplete",` +
		`"verb":"patch","user":{"username":"bob"},"objectRef":{"resource":"configmaps","namespace":"shop","name":"web"},"responseStatus":{"code":422},` +
		`"requestObject":{"data":{"n":1e400}}}]}`)},
	{Name: "a body that is no EventList", Body: []byte(`{"kind":"Status","items":3}`)},
}

// SamplesOfPrepareEvent are the samples of the collector's prepare_event remap for a stream whose
// messages take maxMessageSize bytes: a message id over 1 KiB (a client's long Audit-ID), a verb that is
// no subject token, an event larger than a message (a request body of maxMessageSize bytes), and one too
// large even without its bodies (a user agent of maxMessageSize bytes).
func SamplesOfPrepareEvent(maxMessageSize int64) []EventSample {
	return []EventSample{
		{Name: "a message id over 1 KiB", Event: sampleEvent(map[string]any{"auditID": strings.Repeat("a", 1000)})},
		{Name: "a verb that is no subject token", Event: sampleEvent(map[string]any{"verb": "a..b"})},
		{Name: "an event larger than a message", Event: sampleEvent(map[string]any{"verb": "update", "level": "RequestResponse",
			"requestObject":  map[string]any{"data": map[string]any{"k": Fill{Char: 'x', Len: int(maxMessageSize)}}},
			"responseObject": map[string]any{"kind": "ConfigMap"}})},
		{Name: "an event too large even without its bodies", Event: sampleEvent(map[string]any{
			"userAgent": Fill{Char: 'u', Len: int(maxMessageSize)}})},
	}
}

// SamplesOfStages are the samples of the aggregator's keep_stages filter: an event of each stage.
func SamplesOfStages() []EventSample {
	var out []EventSample
	for _, s := range []v1alpha1.AuditStage{v1alpha1.StageRequestReceived, v1alpha1.StageResponseStarted,
		v1alpha1.StageResponseComplete, v1alpha1.StagePanic} {
		out = append(out, EventSample{Name: "a " + string(s) + " event", Event: sampleEvent(map[string]any{"stage": string(s)})})
	}
	return out
}

// SamplesOfPublicSource are the samples of the aggregator's drop_private_source_ips filter: an event from
// a private address only, and one from a public client through a private proxy (kube-apiserver lists the
// X-Forwarded-For entries first).
var SamplesOfPublicSource = []EventSample{
	{Name: "an event from private addresses only", Event: sampleEvent(map[string]any{"sourceIPs": []any{"10.0.0.1", "fc00::1"}})},
	{Name: "an event from a public client behind a private proxy", Event: sampleEvent(map[string]any{"sourceIPs": []any{"203.0.113.7", "10.0.0.1"}})},
}

// SamplesOfRow are the samples of the aggregator's events_row remap for a pipeline of tenancy t, as the
// collector publishes them, named as coming from cluster "c1": one with a verb that was no subject token
// (published with its token, the verb in eventrow.OriginalVerbField), and one with tenancy annotations
// (t's, else platform.miloapis.com/scope.type and .name, which rest keeps), an auditID its column cannot
// give back (upper case) and a response code out of range.
func SamplesOfRow(t eventrow.Tenancy) []EventSample {
	annotations := map[string]any{"platform.miloapis.com/scope.type": "project", "platform.miloapis.com/scope.name": "p-1"}
	if t.NameAnnotation != "" {
		annotations = map[string]any{t.NameAnnotation: "p-1"}
		if t.TypeAnnotation != "" {
			annotations[t.TypeAnnotation] = "project"
		}
	}
	return []EventSample{
		{Name: "a row split into columns and rest", Event: WithCluster(WithSubjectVerb(sampleEvent(map[string]any{"verb": "a..b"})), "c1")},
		{Name: "what the columns cannot give back stays in rest", Event: WithCluster(sampleEvent(map[string]any{
			"auditID": "4C49DE04-8AFA-46BF-A1C4-8596D5287894", "responseStatus": map[string]any{"code": json.Number("70000")},
			"annotations": annotations,
		}), "c1")},
	}
}
