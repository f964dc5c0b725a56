package bench

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestRealismComputesTheTable checks the table on a small hand-made set of events.
func TestRealismComputesTheTable(t *testing.T) {
	tr := NewRealismTracker()
	add := func(level, verb, resource string, req, resp string) *Event {
		e := &Event{Kind: "Event", APIVersion: "audit.k8s.io/v1", Level: level, Stage: "ResponseComplete", Verb: verb,
			ObjectRef: &ObjectReference{Resource: resource, Namespace: "ns"}}
		if req != "" {
			e.RequestObject = json.RawMessage(req)
		}
		if resp != "" {
			e.ResponseObject = json.RawMessage(resp)
		}
		js, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		tr.Add(e, len(js))
		return e
	}
	size := func(e *Event) float64 {
		js, _ := json.Marshal(e)
		return float64(len(js))
	}
	stripped := func(e *Event) float64 {
		c := *e
		c.RequestObject, c.ResponseObject = nil, nil
		return size(&c)
	}
	m1 := add("Metadata", "get", "pods", "", "")
	m2 := add("Metadata", "list", "configmaps", "", "")
	w1 := add("RequestResponse", "update", "leases", `{"a":1}`, `{"a":1,"b":"xxxxxxxxxx"}`)
	w2 := add("RequestResponse", "create", "localsubjectaccessreviews", `{"s":1}`, `{"s":1,"allowed":true}`)
	w3 := add("RequestResponse", "patch", "configmaps", `{"p":"`+strings.Repeat("x", 500)+`"}`, `{"o":"`+strings.Repeat("y", 900)+`"}`)
	o := add("Request", "get", "pods", "", "") // neither Metadata nor a write: only in the stripped set
	r := tr.Realism()
	if r.N != 6 || r.Verbs["get"] != 2 || r.Levels["RequestResponse"] != 3 || r.Levels["Metadata"] != 2 {
		t.Fatalf("counts: %+v", r)
	}
	check := func(set int, want SizeStats) {
		t.Helper()
		if got := r.Sets[set]; got != want {
			t.Errorf("%s: %+v, want %+v", RealismTargets[set].Set, got, want)
		}
	}
	// Nearest rank: of n sorted sizes, the p-quantile is the ceil(p·n)-th.
	a, b := min(size(m1), size(m2)), max(size(m1), size(m2))
	check(SetMetadata, SizeStats{N: 2, Mean: (a + b) / 2, Median: a, P90: b, P99: b})
	ws := []float64{size(w1), size(w2), size(w3)}
	check(SetRRWrites, SizeStats{N: 3, Mean: (ws[0] + ws[1] + ws[2]) / 3, Median: max(ws[0], ws[1]), P90: ws[2], P99: ws[2]})
	check(SetRRWritesNoReviews, SizeStats{N: 2, Mean: (ws[0] + ws[2]) / 2, Median: ws[0], P90: ws[2], P99: ws[2]})
	largest := 0.0
	for _, e := range []*Event{m1, m2, w1, w2, w3, o} {
		largest = max(largest, stripped(e))
	}
	if got, want := r.Sets[SetStripped].P99, largest; got != want || r.Sets[SetStripped].N != 6 {
		t.Errorf("stripped: %+v, want the largest %v", r.Sets[SetStripped], want)
	}
	var out strings.Builder
	if err := r.Print(&out); err != nil || !strings.Contains(out.String(), "RequestResponse writes") {
		t.Errorf("print: %v\n%s", err, out.String())
	}
}

// TestGeneratorMeetsTheRealismTargets checks that the generated events' sizes meet the calibrated targets
// at the median and the 90th percentile (RealismTolerance).
func TestGeneratorMeetsTheRealismTargets(t *testing.T) {
	const n = 50_000
	g := NewGenerator(GenOptions{Seed: 1, N: n})
	tr := NewRealismTracker()
	for range n {
		e := g.Next()
		js, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		tr.Add(e, len(js))
	}
	r := tr.Realism()
	var out strings.Builder
	if err := r.Print(&out); err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + out.String())
	for i, tg := range RealismTargets {
		if tg.Calibrated && !r.OK(i) {
			t.Errorf("%s: median %.0f, p90 %.0f; want %.0f and %.0f within %.0f%%", tg.Set, r.Sets[i].Median, r.Sets[i].P90,
				tg.Median, tg.P90, 100*RealismTolerance)
		}
	}
	if r.Levels["RequestResponse"] == 0 || r.Verbs["update"] == 0 {
		t.Errorf("levels %v, verbs %v", r.Levels, r.Verbs)
	}
}
