package vrl

import (
	"encoding/json"
	"maps"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
	"github.com/auditpipeline/auditpipeline-operator/internal/eventrow"
)

// TestSamples holds each twin to what its program must make of the samples, which package vector
// renders as Vector unit tests with the twin's result as the expectation: the twin passing here and the
// program passing `vector test` on the twin's result is the program doing what this test says.
func TestSamples(t *testing.T) {
	t.Run("split_event_list", func(t *testing.T) {
		events, dropped, err := SplitEventList(SamplesOfSplitEventList[0].Body)
		if err != nil || dropped != 0 || len(events) != 2 {
			t.Fatalf("%d events, %d dropped, %v", len(events), dropped, err)
		}
		if events[0]["verb"] != "get" || events[0]["responseStatus"].(map[string]any)["code"] != json.Number("200") {
			t.Errorf("the event serde_json decodes changed: %v", events[0])
		}
		if events[1]["requestObject"] != `{"data":{"n":1e400}}` || events[1]["verb"] != "patch" {
			t.Errorf("the patch's body is not kept as its text: %v", events[1])
		}
		if _, _, err := SplitEventList(SamplesOfSplitEventList[1].Body); err == nil {
			t.Error("a body that is no EventList was split")
		}
	})

	t.Run("prepare_event", func(t *testing.T) {
		const size = 1 << 20
		samples := SamplesOfPrepareEvent(size)
		now := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
		at := time.Date(2026, 12, 1, 17, 45, 51, 123456000, time.UTC)
		for _, s := range samples {
			before := maps.Clone(s.Event)
			PrepareEvent(s.Event, size, "c1", now)
			if !reflect.DeepEqual(before, s.Event) {
				t.Errorf("%s: PrepareEvent changed the event it was given", s.Name)
			}
		}
		long, ok := PrepareEvent(samples[0].Event, size, "c1", now)
		if id, _ := long[MessageIDField].(string); !ok || !strings.HasPrefix(id, "sha256:") || len(id) != 71 ||
			long["auditID"] != samples[0].Event["auditID"] || long["timestamp"] != at || long[eventrow.ClusterField] != "c1" {
			t.Errorf("a message id over 1 KiB: %v (kept %v)", long, ok)
		}
		verb, ok := PrepareEvent(samples[1].Event, size, "c1", now)
		if !ok || verb["verb"] != "a__b" || !reflect.DeepEqual(verb[eventrow.OriginalVerbField], []any{"a..b"}) ||
			verb[MessageIDField] != "4c49de04-8afa-46bf-a1c4-8596d5287894:ResponseComplete:2026-12-01T17:45:51.123456Z" {
			t.Errorf("a verb that is no subject token: %v (kept %v)", verb, ok)
		}
		large, ok := PrepareEvent(samples[2].Event, size, "c1", now)
		if !ok || large["requestObject"] != nil || large["responseObject"] != nil || large["verb"] != "update" ||
			!reflect.DeepEqual(large["annotations"], map[string]any{"authorization.k8s.io/decision": "allow", truncatedAnnotation: "true"}) {
			t.Errorf("an event larger than a message: %v (kept %v)", large, ok)
		}
		if got, ok := PrepareEvent(samples[3].Event, size, "c1", now); ok {
			t.Errorf("an event too large even without its bodies was kept: %v", got)
		}
		noTime, _ := PrepareEvent(sampleEvent(map[string]any{"stageTimestamp": nil}), size, "c1", now)
		if noTime["timestamp"] != now {
			t.Errorf("an event without stageTimestamp is timed %v, want now", noTime["timestamp"])
		}
		// The sizes of the samples follow the stream's: a message of 1 KiB takes none of them whole.
		for _, s := range SamplesOfPrepareEvent(1 << 10) {
			if got, ok := PrepareEvent(s.Event, 1<<10, "c1", now); ok && jsonSize(got) > 1<<10 {
				t.Errorf("%s: kept at %d bytes in messages of 1 KiB", s.Name, jsonSize(got))
			}
		}
	})

	t.Run("keep_stages", func(t *testing.T) {
		kept := func(stages []v1alpha1.AuditStage) (out []string) {
			for _, s := range SamplesOfStages() {
				if KeptByStages(stages, s.Event) {
					out = append(out, s.Event["stage"].(string))
				}
			}
			return out
		}
		if got := kept(nil); !reflect.DeepEqual(got, []string{"ResponseComplete", "Panic"}) {
			t.Errorf("the default stages keep %v", got)
		}
		if got := kept([]v1alpha1.AuditStage{v1alpha1.StageRequestReceived}); !reflect.DeepEqual(got, []string{"RequestReceived"}) {
			t.Errorf("RequestReceived keeps %v", got)
		}
		if KeptByStages(nil, map[string]any{}) || KeptByStages(nil, map[string]any{"stage": []any{"Panic"}}) {
			t.Error("an event without a stage string was kept")
		}
	})

	t.Run("drop_private_source_ips", func(t *testing.T) {
		if KeptByPublicSource(SamplesOfPublicSource[0].Event) || !KeptByPublicSource(SamplesOfPublicSource[1].Event) {
			t.Error("the samples of the private source filter")
		}
		nine := make([]any, maxSourceIPs+1)
		for i := range nine {
			nine[i] = "10.0.0.1"
		}
		for _, c := range []struct {
			ips  any
			kept bool
		}{
			{nil, true}, {[]any{}, true}, {"10.0.0.1", true}, {[]any{nil, "10.0.0.1"}, true},
			{[]any{"10.0.0.1", nil}, false}, {[]any{"127.0.0.1", "::1", "172.31.255.255", "192.168.1.1", "fd12::1"}, false},
			{[]any{"172.32.0.1"}, true}, {[]any{"not an ip"}, true}, {[]any{json.Number("7")}, true},
			{[]any{"fe80::1%eth0"}, true}, {nine, true}, {nine[:maxSourceIPs], false},
		} {
			ev := map[string]any{}
			if c.ips != nil {
				ev["sourceIPs"] = c.ips
			}
			if got := KeptByPublicSource(ev); got != c.kept {
				t.Errorf("sourceIPs %v: kept %v, want %v", c.ips, got, c.kept)
			}
		}
	})

	t.Run("events_row", func(t *testing.T) {
		now := time.Now()
		row := eventrow.Tenancy{}.FromEvent(SamplesOfRow(eventrow.Tenancy{})[0].Event, now)
		if row.Verb != "a..b" || row.Cluster != "c1" || row.Namespace != "shop" || row.Tenant != "shop" || row.ResponseCode != 200 ||
			row.LatencyUS != 23456 || row.Rest != `{"annotations":{"authorization.k8s.io/decision":"allow"},"objectRef":{"apiVersion":"v1"},`+
			`"requestURI":"/api/v1/namespaces/shop/configmaps/web","responseStatus":{"metadata":{}},"sourceIPs":["203.0.113.7"],`+
			`"user":{"groups":["dev"]},"userAgent":"kubectl/v1.35.0"}` {
			t.Errorf("a row: %+v", row)
		}
		if plain := (eventrow.Tenancy{}).FromEvent(SamplesOfRow(eventrow.Tenancy{})[1].Event, now); plain.Tenant != "shop" ||
			!strings.Contains(plain.Rest, `"platform.miloapis.com/scope.name":"p-1"`) {
			t.Errorf("without annotation tenancy the tenancy annotations stay in rest: %+v", plain)
		}
		tenancy := eventrow.Tenancy{TypeAnnotation: "platform.miloapis.com/scope.type", NameAnnotation: "platform.miloapis.com/scope.name"}
		odd := tenancy.FromEvent(SamplesOfRow(tenancy)[1].Event, now)
		if odd.TenantType != "project" || odd.Tenant != "p-1" || odd.AuditID.String() != "4c49de04-8afa-46bf-a1c4-8596d5287894" || odd.ResponseCode != 0 ||
			!strings.Contains(odd.Rest, `"auditID":"4C49DE04-8AFA-46BF-A1C4-8596D5287894"`) || !strings.Contains(odd.Rest, `"code":70000`) {
			t.Errorf("a row of what the columns cannot give back: %+v", odd)
		}
	})
}

// TestJSONSizeCountsAFillAsItsString holds FitEvent's measure to eventrow.EncodeJSON, with and without
// Fills.
func TestJSONSizeCountsAFillAsItsString(t *testing.T) {
	for _, v := range []any{
		map[string]any{}, []any{}, map[string]any(nil), []any(nil), Fill{Char: 'x', Len: 3000},
		map[string]any{"a": Fill{Char: 'u', Len: 10}, "b": []any{Fill{Char: 'x', Len: 1}, nil, "<&>", json.Number("1.5")}, "c": map[string]any{}},
		SamplesOfPrepareEvent(4096)[2].Event, SamplesOfPrepareEvent(4096)[3].Event,
	} {
		if got, want := jsonSize(v), int64(len(eventrow.EncodeJSON(v))); got != want {
			t.Errorf("jsonSize(%.60v) = %d, want %d", v, got, want)
		}
	}
}
