package vector

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
	"github.com/auditpipeline/auditpipeline-operator/internal/eventrow"
	"github.com/auditpipeline/auditpipeline-operator/internal/render/vector/vrl"
)

// The configurations carry Vector unit tests (`tests:`), which `vector test` runs in the validation Job
// (ValidationJob): each inserts one of vrl's samples at a transform and checks what the transform
// outputs against what the program's Go twin makes of the sample, or that it outputs nothing where the
// twin drops the sample. The twins are what the contract, NATS and kind tests send as Vector would, so a
// program that does not do what its twin does fails its test, and the workload does not roll to it.
// Vector's unit-test reference (unit-tests.md upstream) describes the options; the types below model the
// ones the pipeline uses.

// UnitTest is one of Vector's unit tests of a configuration.
type UnitTest struct {
	Name   string      `json:"name"`
	Inputs []TestInput `json:"inputs"`
	// Outputs are checks of what a transform outputs; NoOutputsFrom names transforms that must output
	// nothing. A test has one or the other.
	Outputs       []TestOutput `json:"outputs,omitempty"`
	NoOutputsFrom []string     `json:"no_outputs_from,omitempty"`
}

// TestInput is an event inserted at a transform: a raw string (the event's message, as a source that
// decodes bytes gives it) or the event a VRL program builds.
type TestInput struct {
	InsertAt string `json:"insert_at"`
	Type     string `json:"type"`
	Value    string `json:"value,omitempty"`
	Source   string `json:"source,omitempty"`
}

// TestOutput checks the events a transform outputs: each condition must hold for one of them.
type TestOutput struct {
	ExtractFrom string          `json:"extract_from"`
	Conditions  []TestCondition `json:"conditions"`
}

// TestCondition is a VRL program that asserts what an output event holds.
type TestCondition struct {
	Type   string `json:"type"`
	Source string `json:"source"`
}

// twins are the Go twins the rendered tests take what each program must output from. A variable, so
// that a test can put a twin that disagrees with its program in and see the rendered tests follow it.
var twins = struct {
	splitEventList     func(body []byte) ([]map[string]any, int, error)
	prepareEvent       func(ev map[string]any, maxMessageSize int64, cluster string, now time.Time) (map[string]any, bool)
	keptByStages       func(stages []v1alpha1.AuditStage, ev map[string]any) bool
	keptByPublicSource func(ev map[string]any) bool
	row                func(t eventrow.Tenancy, ev map[string]any, now time.Time) eventrow.Row
}{vrl.SplitEventList, vrl.PrepareEvent, vrl.KeptByStages, vrl.KeptByPublicSource, eventrow.Tenancy.FromEvent}

// untimed is the "now" the twins are given: a sample always has a stageTimestamp, and an expectation
// that came from now instead would show as this instant.
var untimed = time.Time{}

// collectorTests are the collector's unit tests: split_event_list on vrl.SamplesOfSplitEventList, and
// prepare_event on vrl.SamplesOfPrepareEvent for messages of maxMessageSize bytes, naming cluster.
func collectorTests(maxMessageSize int64, cluster string) []UnitTest {
	var tests []UnitTest
	for _, s := range vrl.SamplesOfSplitEventList {
		test := UnitTest{Name: collectorSplit + ": " + s.Name,
			Inputs: []TestInput{{InsertAt: collectorSplit, Type: "raw", Value: string(s.Body)}}}
		events, _, err := twins.splitEventList(s.Body)
		if err != nil || len(events) == 0 {
			test.NoOutputsFrom = []string{collectorSplit}
		}
		for _, ev := range events {
			test.Outputs = append(test.Outputs, output(collectorSplit, func(w *vrlWriter) {
				w.line("want = " + w.object(ev))
				w.line(`assert_eq!(., want, "not the Go twin's event")`)
			}))
		}
		tests = append(tests, test)
	}
	for _, s := range vrl.SamplesOfPrepareEvent(maxMessageSize) {
		test := UnitTest{Name: collectorPrepare + ": " + s.Name, Inputs: []TestInput{eventInput(collectorPrepare, s.Event, nil)}}
		ev, kept := twins.prepareEvent(s.Event, maxMessageSize, cluster, untimed)
		if !kept {
			test.NoOutputsFrom = []string{collectorPrepare}
			tests = append(tests, test)
			continue
		}
		test.Outputs = []TestOutput{output(collectorPrepare, func(w *vrlWriter) {
			w.line("e = .")
			w.line("at = del(e.timestamp)")
			if at, _ := ev["timestamp"].(time.Time); !at.Equal(untimed) {
				w.line(fmt.Sprintf(`assert_eq!(at, %s, "not the Go twin's timestamp")`, w.value(at)))
			} else {
				w.line(`assert!(is_timestamp(at), "no timestamp")`)
			}
			rest := make(map[string]any, len(ev))
			for k, v := range ev {
				if k != "timestamp" {
					rest[k] = v
				}
			}
			w.line("want = " + w.object(rest))
			w.line(`assert_eq!(e, want, "not the Go twin's event")`)
		})}
		tests = append(tests, test)
	}
	return tests
}

// aggregatorTests are the aggregator's unit tests: keep_stages on a sample it keeps and one it drops
// (vrl.SamplesOfStages), drop_private_source_ips when it is on (vrl.SamplesOfPublicSource), and
// events_row on vrl.SamplesOfRow with the pipeline's tenancy.
func aggregatorTests(p *v1alpha1.AuditPipeline) []UnitTest {
	var tests []UnitTest
	filter := func(id string, s vrl.EventSample, kept bool) UnitTest {
		test := UnitTest{Name: id + ": " + s.Name, Inputs: []TestInput{eventInput(id, s.Event, nil)}}
		if !kept {
			test.NoOutputsFrom = []string{id}
			return test
		}
		test.Outputs = []TestOutput{output(id, func(w *vrlWriter) {
			w.line("want = " + w.object(s.Event))
			w.line(`assert_eq!(., want, "the filter changed the event")`)
		})}
		return test
	}
	seen := map[bool]bool{}
	for _, s := range vrl.SamplesOfStages() {
		kept := twins.keptByStages(p.Spec.Aggregator.Filter.Stages, s.Event)
		if !seen[kept] {
			seen[kept] = true
			tests = append(tests, filter(keepStages, s, kept))
		}
	}
	if p.Spec.Aggregator.Filter.DropPrivateSourceIPs {
		for _, s := range vrl.SamplesOfPublicSource {
			tests = append(tests, filter(dropPrivateIPs, s, twins.keptByPublicSource(s.Event)))
		}
	}
	tenancy := Tenancy(p)
	for _, s := range vrl.SamplesOfRow(tenancy) {
		row := twins.row(tenancy, s.Event, untimed)
		// What the nats source adds to each event, which the remap removes.
		verb, _ := s.Event["verb"].(string)
		nats := map[string]string{"source_type": `"nats"`, "subject": strconv.Quote(SubjectPrefix + vrl.SubjectToken(verb)), "timestamp": "now()"}
		tests = append(tests, UnitTest{Name: toRow + ": " + s.Name,
			Inputs: []TestInput{eventInput(toRow, s.Event, nats)},
			Outputs: []TestOutput{output(toRow, func(w *vrlWriter) {
				w.line("want = " + w.object(row.Values()))
				w.line("e = .")
				// audit_id is a UUID column: the twin's row holds it parsed, which ClickHouse reads as the
				// remap's text in any case.
				w.line(`e.audit_id = downcase(string(e.audit_id) ?? "")`)
				w.line(`assert_eq!(e, want, "not the Go twin's row")`)
			})}})
	}
	return tests
}

// eventInput is ev inserted at a transform as the event a VRL program builds, with the fields of set
// (VRL expressions) set after it.
func eventInput(insertAt string, ev map[string]any, set map[string]string) TestInput {
	var w vrlWriter
	w.line(". = " + w.object(ev))
	for _, k := range sortedKeys(set) {
		w.line("." + k + " = " + set[k])
	}
	return TestInput{InsertAt: insertAt, Type: "vrl", Source: w.String()}
}

// output is a check of what extractFrom outputs, a VRL condition program writes.
func output(extractFrom string, program func(w *vrlWriter)) TestOutput {
	var w vrlWriter
	program(&w)
	return TestOutput{ExtractFrom: extractFrom, Conditions: []TestCondition{{Type: "vrl", Source: w.String()}}}
}

// vrlWriter writes a VRL program whose values are written as literals (vrlWriter.value), but for a
// long string of one letter or digit (a vrl.Fill, or a string like one), which a prelude builds into a
// variable by doubling, so that a sample of 64 MiB takes a few lines of the configuration.
type vrlWriter struct {
	prelude, body strings.Builder
	fills         map[vrl.Fill]string
}

// minFill is the shortest string written as a fill.
const minFill = 256

func (w *vrlWriter) line(s string) { w.body.WriteString(s + "\n") }

func (w *vrlWriter) String() string { return w.prelude.String() + w.body.String() }

// object writes an object with one member a line.
func (w *vrlWriter) object(m map[string]any) string {
	if len(m) == 0 {
		return "{}"
	}
	var b strings.Builder
	b.WriteString("{\n")
	for i, k := range sortedKeys(m) {
		sep := ","
		if i == len(m)-1 {
			sep = ""
		}
		fmt.Fprintf(&b, "  %s: %s%s\n", vrlString(k), w.value(m[k]), sep)
	}
	b.WriteString("}")
	return b.String()
}

// value writes v, a value decoded from JSON (json.Number for numbers), a vrl.Fill, a time.Time (a VRL
// timestamp) or a Go integer, as a VRL expression.
func (w *vrlWriter) value(v any) string {
	switch t := v.(type) {
	case nil:
		return "null"
	case bool:
		return strconv.FormatBool(t)
	case string:
		if f, ok := asFill(t); ok {
			return w.fill(f)
		}
		return vrlString(t)
	case vrl.Fill:
		return w.fill(t)
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return strconv.FormatInt(i, 10)
		}
		f, err := t.Float64()
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			panic(fmt.Sprintf("vector: a sample holds the number %s, which VRL cannot write", t))
		}
		return vrlFloat(f)
	case float64:
		return vrlFloat(t)
	case int:
		return strconv.Itoa(t)
	case int64:
		return strconv.FormatInt(t, 10)
	case uint64:
		return strconv.FormatUint(t, 10)
	case uint16:
		return strconv.FormatUint(uint64(t), 10)
	case time.Time:
		return "t'" + t.UTC().Format(time.RFC3339Nano) + "'"
	case map[string]any:
		var parts []string
		for _, k := range sortedKeys(t) {
			parts = append(parts, vrlString(k)+": "+w.value(t[k]))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case []any:
		parts := make([]string, len(t))
		for i, e := range t {
			parts[i] = w.value(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	panic(fmt.Sprintf("vector: a sample holds a %T, which the rendered tests do not write", v))
}

// fill is the variable holding f, built by the prelude the first time: a literal of up to 64
// characters doubled until it is long enough, then cut to f.Len.
func (w *vrlWriter) fill(f vrl.Fill) string {
	if name, ok := w.fills[f]; ok {
		return name
	}
	if w.fills == nil {
		w.fills = map[vrl.Fill]string{}
	}
	name := fmt.Sprintf("fill_%d", len(w.fills)+1)
	w.fills[f] = name
	n := min(f.Len, 64)
	fmt.Fprintf(&w.prelude, "%s = %q\n", name, strings.Repeat(string(f.Char), n))
	for ; n < f.Len; n *= 2 {
		fmt.Fprintf(&w.prelude, "%[1]s = %[1]s + %[1]s\n", name)
	}
	if n != f.Len {
		fmt.Fprintf(&w.prelude, "%[1]s = truncate(%[1]s, limit: %[2]d)\n", name, f.Len)
	}
	return name
}

// asFill is s as a vrl.Fill when it is at least minFill times one letter or digit.
func asFill(s string) (vrl.Fill, bool) {
	if len(s) < minFill || !isAlnum(s[0]) || strings.Trim(s, s[:1]) != "" {
		return vrl.Fill{}, false
	}
	return vrl.Fill{Char: s[0], Len: len(s)}, true
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// vrlString writes s as a VRL string literal when it is printable ASCII with neither '$' (which Vector
// would take for an environment variable in the configuration's text) nor "{{" (which VRL would take for
// a template), escaping only '"' and '\'; else as decode_base64!() of its bytes, which holds anything.
func vrlString(s string) string {
	plain := !strings.Contains(s, "$") && !strings.Contains(s, "{{")
	for i := 0; plain && i < len(s); i++ {
		plain = s[i] >= 0x20 && s[i] < 0x7f
	}
	if !plain {
		return `decode_base64!("` + base64.StdEncoding.EncodeToString([]byte(s)) + `")`
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// vrlFloat writes f as a VRL float literal: digits, a point and digits, no exponent.
func vrlFloat(f float64) string {
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
