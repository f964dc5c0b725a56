package vector

import (
	"strings"
	"testing"
)

func TestCheckTopology(t *testing.T) {
	src := func() Component { return &InternalMetricsSource{Header: Header{Type: "internal_metrics"}} }
	sink := func(inputs ...string) Component {
		return &PrometheusExporterSink{Header: Header{Type: "prometheus_exporter", Inputs: inputs}}
	}
	filter := func(inputs ...string) Component {
		return &FilterTransform{Header: Header{Type: "filter", Inputs: inputs}, Condition: "true"}
	}
	cases := map[string]struct {
		config *Config
		want   []string
	}{
		"valid": {&Config{
			Sources:    map[string]Component{"in": src()},
			Transforms: map[string]Component{"keep": filter("in")},
			Sinks:      map[string]Component{"out": sink("keep")},
		}, nil},
		"unknown input and unconsumed components": {&Config{
			Sources:    map[string]Component{"in": src(), "spare": src()},
			Transforms: map[string]Component{"keep": filter("in"), "dangling": filter("in")},
			Sinks:      map[string]Component{"out": sink("keep", "missing")},
		}, []string{`sink "out" takes "missing" as input, which is no component`,
			`source "spare" feeds no component`, `transform "dangling" feeds no component`}},
		"tests of components that are no transforms, upstream or twice named": {&Config{
			Sources:    map[string]Component{"in": src()},
			Transforms: map[string]Component{"keep": filter("in"), "again": filter("keep")},
			Sinks:      map[string]Component{"out": sink("again")},
			Tests: []UnitTest{
				{Name: "t", Inputs: []TestInput{{InsertAt: "in"}}, NoOutputsFrom: []string{"out"}},
				{Name: "t", Inputs: []TestInput{{InsertAt: "again"}}, Outputs: []TestOutput{{ExtractFrom: "keep"}}},
				{Name: "u", Inputs: []TestInput{{InsertAt: "keep"}}},
				{Name: "v", Inputs: []TestInput{{InsertAt: "keep"}}, Outputs: []TestOutput{{ExtractFrom: "again"}}, NoOutputsFrom: []string{"keep"}},
			},
		}, []string{`test "t" inserts at "in", which is no transform`, `test "t" checks the output of "out", which is no transform`,
			`two tests are named "t"`, `test "t" checks the output of "keep", which is not downstream of where it inserts`,
			`test "u" checks no output`}},
		"sink as input, no inputs, duplicate id": {&Config{
			Sources:    map[string]Component{"in": src(), "out": src()},
			Transforms: map[string]Component{"keep": filter()},
			Sinks:      map[string]Component{"out": sink("in"), "again": sink("out")},
		}, []string{`component id "out" is both a`, `transform "keep" has no inputs`}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			err := CheckTopology(tc.config)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

func TestRenderedConfigsHaveAValidTopology(t *testing.T) {
	for name, p := range renderCases() {
		for role, c := range map[string]*Config{"collector": CollectorConfig(p, testCluster), "aggregator": AggregatorConfig(p)} {
			if err := CheckTopology(c); err != nil {
				t.Errorf("%s %s: %v", name, role, err)
			}
		}
	}
}
