package vector

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
	"github.com/auditpipeline/auditpipeline-operator/internal/eventrow"
	"github.com/auditpipeline/auditpipeline-operator/internal/render/vector/vrl"
)

// TestEveryProgramHasUnitTests checks that each VRL program of both configurations, for every spec the
// golden files cover, has a unit test that checks what it outputs and, but for the row remap, which
// drops nothing, one that checks it outputs nothing; and that the tests stay small beside the 1 MiB of
// a ConfigMap.
func TestEveryProgramHasUnitTests(t *testing.T) {
	for name, p := range renderCases() {
		for role, c := range map[string]*Config{"collector": CollectorConfig(p, testCluster), "aggregator": AggregatorConfig(p)} {
			outputs, none := map[string]bool{}, map[string]bool{}
			for _, test := range c.Tests {
				for _, out := range test.Outputs {
					outputs[out.ExtractFrom] = true
				}
				for _, id := range test.NoOutputsFrom {
					none[id] = true
				}
			}
			for id := range c.Transforms {
				if !outputs[id] {
					t.Errorf("%s %s: no unit test checks what %s outputs", name, role, id)
				}
				if !none[id] && id != toRow {
					t.Errorf("%s %s: no unit test checks that %s drops an event", name, role, id)
				}
			}
			tests, err := yaml.Marshal(c.Tests)
			if err != nil {
				t.Fatal(err)
			}
			if len(tests) > 32<<10 {
				t.Errorf("%s %s: the unit tests take %d bytes of the ConfigMap", name, role, len(tests))
			}
			t.Logf("%s %s: %d unit tests, %d bytes", name, role, len(c.Tests), len(tests))
		}
	}
}

// TestUnitTestsFollowTheTwins shows that the rendered tests' expectations are the Go twins' results: a
// twin that disagrees with its program (each twin in turn, changed the way a twin could drift) changes
// the rendered tests, and only them, so the configuration no longer matches its golden file and Vector's
// run of the unchanged program fails the changed test in the validation Job.
func TestUnitTestsFollowTheTwins(t *testing.T) {
	p := renderCases()["private-ips"] // the spec whose configurations run every program
	golden := func(file string) map[string]any {
		data, err := os.ReadFile(filepath.Join("testdata", "private-ips", file))
		if err != nil {
			t.Fatal(err)
		}
		return parseConfig(t, data)
	}
	render := func() (collector, aggregator map[string]any) {
		col, err := Marshal(CollectorConfig(p, ClusterName(p, testCluster)))
		if err != nil {
			t.Fatal(err)
		}
		agg, err := Marshal(AggregatorConfig(p))
		if err != nil {
			t.Fatal(err)
		}
		return parseConfig(t, col), parseConfig(t, agg)
	}
	col, agg := render()
	if !reflect.DeepEqual(col, golden("collector.yaml")) || !reflect.DeepEqual(agg, golden("aggregator.yaml")) {
		t.Fatal("the rendered configurations differ from the golden files: run TestRenderGolden")
	}

	longID := sha256.Sum256([]byte(strings.Repeat("a", 1000)))
	for _, c := range []struct {
		twin  string
		drift func()
		role  string
		// changed are the rendered tests whose expectations the drift changes; the first now holds shows.
		changed []string
		shows   string
	}{
		{"SplitEventList", func() {
			// A twin that drops an event it cannot decode whole, as a source that decodes JSON would.
			twins.splitEventList = func(body []byte) ([]map[string]any, int, error) {
				events, dropped, err := vrl.SplitEventList(body)
				return slices.DeleteFunc(events, func(ev map[string]any) bool { _, text := ev["requestObject"].(string); return text }), dropped, err
			}
		}, "collector", []string{"split_event_list: an EventList with a patch whose body holds 1e400"}, ""},
		{"SubjectToken", func() {
			// A twin whose subject token keeps the client's dots in the verb as dashes.
			twins.prepareEvent = func(ev map[string]any, size int64, cluster string, now time.Time) (map[string]any, bool) {
				out, ok := vrl.PrepareEvent(ev, size, cluster, now)
				if verb, _ := out["verb"].(string); ok {
					out["verb"] = strings.ReplaceAll(verb, "__", "--")
				}
				return out, ok
			}
		}, "collector", []string{"prepare_event: a verb that is no subject token"}, `"verb": "a--b"`},
		{"MessageID", func() {
			// A twin that hashes the auditID of a long message id alone.
			twins.prepareEvent = func(ev map[string]any, size int64, cluster string, now time.Time) (map[string]any, bool) {
				out, ok := vrl.PrepareEvent(ev, size, cluster, now)
				if id, _ := out[vrl.MessageIDField].(string); ok && strings.HasPrefix(id, "sha256:") {
					sum := sha256.Sum256([]byte(ev["auditID"].(string)))
					out[vrl.MessageIDField] = "sha256:" + hex.EncodeToString(sum[:])
				}
				return out, ok
			}
		}, "collector", []string{"prepare_event: a message id over 1 KiB"}, `"auditpipeline_message_id": "sha256:` + hex.EncodeToString(longID[:]) + `"`},
		{"FitEvent", func() {
			// A twin that drops an event larger than a message rather than cutting its bodies.
			twins.prepareEvent = func(ev map[string]any, size int64, cluster string, now time.Time) (map[string]any, bool) {
				out, ok := vrl.PrepareEvent(ev, size, cluster, now)
				if annotations, _ := out["annotations"].(map[string]any); annotations["audit.k8s.io/truncated"] != nil {
					return nil, false
				}
				return out, ok
			}
		}, "collector", []string{"prepare_event: an event larger than a message"}, "no_outputs_from"},
		{"KeptByStages", func() {
			twins.keptByStages = func(stages []v1alpha1.AuditStage, ev map[string]any) bool {
				return !vrl.KeptByStages(stages, ev)
			}
		}, "aggregator", []string{"keep_stages: a RequestReceived event", "keep_stages: a ResponseComplete event"}, `"stage": "RequestReceived"`},
		{"KeptByPublicSource", func() {
			// A twin that reads the address the request came from alone, the last of sourceIPs.
			twins.keptByPublicSource = func(ev map[string]any) bool {
				ips := ev["sourceIPs"].([]any)
				return vrl.KeptByPublicSource(map[string]any{"sourceIPs": ips[len(ips)-1:]})
			}
		}, "aggregator", []string{"drop_private_source_ips: an event from a public client behind a private proxy"}, "no_outputs_from"},
		{"Tenancy.FromEvent", func() {
			// A twin that counts latency in milliseconds.
			twins.row = func(t eventrow.Tenancy, ev map[string]any, now time.Time) eventrow.Row {
				r := t.FromEvent(ev, now)
				r.LatencyUS /= 1000
				return r
			}
		}, "aggregator", []string{"events_row: a row split into columns and rest", "events_row: what the columns cannot give back stays in rest"}, `"latency_us": 23,`},
	} {
		t.Run(c.twin, func(t *testing.T) {
			saved := twins
			t.Cleanup(func() { twins = saved })
			c.drift()
			col, agg := render()
			got, want := col, golden("collector.yaml")
			if c.role == "aggregator" {
				got, want = agg, golden("aggregator.yaml")
			}
			if reflect.DeepEqual(got, want) {
				t.Fatalf("the %s configuration did not change", c.role)
			}
			before, after := testsByName(t, want["tests"]), testsByName(t, got["tests"])
			delete(got, "tests")
			delete(want, "tests")
			if !reflect.DeepEqual(got, want) {
				t.Errorf("the %s configuration changed outside its tests", c.role)
			}
			for name, test := range after {
				if changed := !reflect.DeepEqual(test, before[name]); changed != slices.Contains(c.changed, name) {
					t.Errorf("test %q changed: %v, want %v", name, changed, !changed)
				}
			}
			if !strings.Contains(after[c.changed[0]], c.shows) {
				t.Errorf("test %q does not hold %s:\n%s", c.changed[0], c.shows, after[c.changed[0]])
			}
		})
	}
}

// testsByName is each test of a parsed configuration as YAML, by name.
func testsByName(t *testing.T, tests any) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, test := range tests.([]any) {
		data, err := yaml.Marshal(test)
		if err != nil {
			t.Fatal(err)
		}
		out[test.(map[string]any)["name"].(string)] = string(data)
	}
	return out
}

// TestVRLWriter checks how the tests write values as VRL: string literals VRL takes as they are (no
// template, no escape but '"' and '\') and nothing Vector would interpolate, floats with a point and no
// exponent, long runs of one character built by doubling.
func TestVRLWriter(t *testing.T) {
	var w vrlWriter
	for v, want := range map[any]string{
		`a"b\c`:                  `"a\"b\\c"`,
		"{not a template}":       `"{not a template}"`,
		"{{ template }}":         `decode_base64!("e3sgdGVtcGxhdGUgfX0=")`,
		"costs $5":               `decode_base64!("Y29zdHMgJDU=")`,
		"line\nbreak":            `decode_base64!("bGluZQpicmVhaw==")`,
		"grüße":                  `decode_base64!("Z3LDvMOfZQ==")`,
		json.Number("7"):         "7",
		json.Number("-1.5"):      "-1.5",
		json.Number("1e2"):       "100.0",
		uint16(200):              "200",
		true:                     "true",
		nil:                      "null",
		time.Unix(0, 1000).UTC(): "t'1970-01-01T00:00:00.000001Z'",
	} {
		if got := w.value(v); got != want {
			t.Errorf("value(%#v) = %s, want %s", v, got, want)
		}
	}
	if got := w.value(map[string]any{"b": []any{}, "a": map[string]any{}}); got != `{"a": {}, "b": []}` {
		t.Errorf("an object: %s", got)
	}

	w = vrlWriter{}
	if got := w.value(strings.Repeat("a", minFill-1)); !strings.HasPrefix(got, `"aaa`) {
		t.Errorf("a string under minFill is written as a fill: %.20s", got)
	}
	if got := w.value(strings.Repeat("a", minFill-1) + "b"); !strings.HasPrefix(got, `"aaa`) {
		t.Errorf("a string of two characters is written as a fill: %.20s", got)
	}
	for _, n := range []int{minFill, 1000, 1 << 20, 64<<20 + 1} {
		w = vrlWriter{}
		name := w.value(vrl.Fill{Char: 'x', Len: n})
		if again := w.value(strings.Repeat("x", n)); again != name {
			t.Errorf("the same fill written twice: %s, then %s", name, again)
		}
		// Run the prelude: a literal of 64, doublings, and a cut where the doublings overshoot.
		length, peak := 0, 0
		for _, line := range strings.Split(strings.TrimSpace(w.prelude.String()), "\n") {
			switch {
			case line == name+` = "`+strings.Repeat("x", 64)+`"`:
				length = 64
			case line == name+" = "+name+" + "+name:
				length *= 2
			case strings.HasPrefix(line, name+" = truncate("+name+", limit: "):
				length = min(length, n)
			default:
				t.Fatalf("fill of %d: unexpected line %q", n, line)
			}
			peak = max(peak, length)
		}
		if length != n || peak >= 2*n {
			t.Errorf("the fill of %d builds %d characters, %d at most", n, length, peak)
		}
	}
}
