package vector

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// This file checks a configuration's unit tests (`tests:`) against Vector's unit-test reference,
// unit-tests.md of Vector's website, copied into ../shared/vector-reference (see its SOURCE.md): the
// options of an input, of an output and of a condition are those of its tables, with the types and the
// values of `type` they name; a test's own options are those its text names. What the reference does not
// say but Vector's loader does (src/config/mod.rs and src/config/unit_test/mod.rs at the same commit) is
// checked too: every option struct refuses unknown fields; an input of type raw needs value, vrl needs
// source, log needs log_fields; a test has outputs or no_outputs_from, and extract_from is not in
// no_outputs_from; insert_at, extract_from and no_outputs_from name transforms; test names are unique.

const unitTestsDoc = "website/content/en/docs/reference/configuration/unit-tests.md"

// unitTestReference is what unit-tests.md says of each kind of object in `tests:`: its options and their
// types as the tables write them ("string", "string (name of transform)", "object", "array of objects").
type unitTestReference struct {
	test, input, output, condition map[string]string
	// inputTypes and conditionTypes are the values of an input's and a condition's type.
	inputTypes, conditionTypes []string
}

var (
	docRow      = regexp.MustCompile("^\\| `([a-z_]+)` \\| ([^|]+) \\| (.*) \\|$")
	docBacktick = regexp.MustCompile("`([a-z_]+)`")
)

func loadUnitTestReference(path string) (*unitTestReference, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("Vector's unit-test reference: %w", err)
	}
	doc := string(data)
	// tables returns the n tables after heading, each as option -> type, and the description of each
	// one's type option.
	tables := func(heading string, n int) ([]map[string]string, []string, error) {
		_, after, ok := strings.Cut(doc, "\n"+heading+"\n")
		if !ok {
			return nil, nil, fmt.Errorf("%s: no heading %q", unitTestsDoc, heading)
		}
		var out []map[string]string
		var typeDocs []string
		var table map[string]string
		for _, line := range strings.Split(after, "\n") {
			if strings.HasPrefix(line, "#") {
				break
			}
			m := docRow.FindStringSubmatch(line)
			if m == nil {
				table = nil
				continue
			}
			if table == nil {
				table = map[string]string{}
				out = append(out, table)
				typeDocs = append(typeDocs, "")
			}
			table[m[1]] = strings.TrimSpace(m[2])
			if m[1] == "type" {
				typeDocs[len(typeDocs)-1] = m[3]
			}
		}
		if len(out) != n {
			return nil, nil, fmt.Errorf("%s: %d tables under %q, want %d", unitTestsDoc, len(out), heading, n)
		}
		return out, typeDocs, nil
	}
	values := func(typeDoc string) []string {
		var out []string
		for _, m := range docBacktick.FindAllStringSubmatch(typeDoc, -1) {
			out = append(out, m[1])
		}
		return out
	}
	ref := &unitTestReference{}
	inputs, inputType, err := tables("### Inputs", 1)
	if err != nil {
		return nil, err
	}
	outputs, conditionType, err := tables("### Outputs", 2)
	if err != nil {
		return nil, err
	}
	ref.input, ref.output, ref.condition = inputs[0], outputs[0], outputs[1]
	ref.inputTypes, ref.conditionTypes = values(inputType[0]), values(conditionType[1])
	// A test's own options have no table: the text names them.
	ref.test = map[string]string{"name": "string", "inputs": "array of objects", "outputs": "array of objects",
		"no_outputs_from": "array of strings (names of transforms)"}
	for _, says := range []string{"Each test requires a `name`", "An array of `inputs`", "An array of `outputs`",
		"`no_outputs_from` parameter,\nwhich takes a list of transform names"} {
		if !strings.Contains(doc, says) {
			return nil, fmt.Errorf("%s no longer says %q: check the options of a test", unitTestsDoc, says)
		}
	}
	if len(ref.inputTypes) == 0 || len(ref.conditionTypes) == 0 {
		return nil, fmt.Errorf("%s: no values of an input's or a condition's type", unitTestsDoc)
	}
	return ref, nil
}

// check returns every way cfg's tests depart from the reference.
func (r *unitTestReference) check(cfg map[string]any) []string {
	transforms, _ := cfg["transforms"].(map[string]any)
	isTransform := func(path string, v any) []string {
		if s, ok := v.(string); !ok || transforms[s] == nil {
			return []string{fmt.Sprintf("%s: %v is no transform", path, v)}
		}
		return nil
	}
	tests, ok := cfg["tests"].([]any)
	if !ok {
		return []string{"tests: not an array"}
	}
	var errs []string
	names := map[string]bool{}
	for i, t := range tests {
		path := fmt.Sprintf("tests[%d]", i)
		test, ok := t.(map[string]any)
		if !ok {
			errs = append(errs, path+": not an object")
			continue
		}
		errs = append(errs, r.options(path, test, r.test)...)
		name, _ := test["name"].(string)
		if name == "" || names[name] {
			errs = append(errs, fmt.Sprintf("%s.name: %q is empty or not unique", path, name))
		}
		names[name] = true
		inputs, _ := test["inputs"].([]any)
		if len(inputs) == 0 {
			errs = append(errs, path+".inputs: required")
		}
		for j, in := range inputs {
			ipath := fmt.Sprintf("%s.inputs[%d]", path, j)
			input, ok := in.(map[string]any)
			if !ok {
				errs = append(errs, ipath+": not an object")
				continue
			}
			errs = append(errs, r.options(ipath, input, r.input)...)
			errs = append(errs, isTransform(ipath+".insert_at", input["insert_at"])...)
			typ, _ := input["type"].(string)
			if !slices.Contains(r.inputTypes, typ) {
				errs = append(errs, fmt.Sprintf("%s.type: %q is not one of %v", ipath, typ, r.inputTypes))
			}
			if need := map[string]string{"raw": "value", "vrl": "source", "log": "log_fields", "metric": "metric"}[typ]; need != "" && input[need] == nil {
				errs = append(errs, fmt.Sprintf("%s.%s: required by type %s", ipath, need, typ))
			}
		}
		outputs, _ := test["outputs"].([]any)
		none, _ := test["no_outputs_from"].([]any)
		if len(outputs) == 0 && len(none) == 0 {
			errs = append(errs, path+": neither outputs nor no_outputs_from")
		}
		for j, id := range none {
			errs = append(errs, isTransform(fmt.Sprintf("%s.no_outputs_from[%d]", path, j), id)...)
		}
		for j, out := range outputs {
			opath := fmt.Sprintf("%s.outputs[%d]", path, j)
			output, ok := out.(map[string]any)
			if !ok {
				errs = append(errs, opath+": not an object")
				continue
			}
			errs = append(errs, r.options(opath, output, r.output)...)
			errs = append(errs, isTransform(opath+".extract_from", output["extract_from"])...)
			if slices.Contains(none, output["extract_from"]) {
				errs = append(errs, fmt.Sprintf("%s.extract_from: %v is in no_outputs_from", opath, output["extract_from"]))
			}
			conditions, _ := output["conditions"].([]any)
			for k, c := range conditions {
				cpath := fmt.Sprintf("%s.conditions[%d]", opath, k)
				condition, ok := c.(map[string]any)
				if !ok {
					errs = append(errs, cpath+": not an object")
					continue
				}
				errs = append(errs, r.options(cpath, condition, r.condition)...)
				if typ, _ := condition["type"].(string); !slices.Contains(r.conditionTypes, typ) {
					errs = append(errs, fmt.Sprintf("%s.type: %q is not one of %v", cpath, typ, r.conditionTypes))
				}
			}
		}
	}
	return errs
}

// options checks obj's keys against options and each value against the type the reference gives it.
func (r *unitTestReference) options(path string, obj map[string]any, options map[string]string) []string {
	var errs []string
	for key, value := range obj {
		typ, ok := options[key]
		if !ok {
			errs = append(errs, fmt.Sprintf("%s.%s: no such option", path, key))
			continue
		}
		var fits bool
		switch {
		case strings.HasPrefix(typ, "string"):
			_, fits = value.(string)
		case typ == "object":
			_, fits = value.(map[string]any)
		case strings.HasPrefix(typ, "array of "):
			items, ok := value.([]any)
			fits = ok
			for _, item := range items {
				switch strings.TrimPrefix(typ, "array of ") {
				case "objects":
					_, ok = item.(map[string]any)
				default:
					_, ok = item.(string)
				}
				fits = fits && ok
			}
		default:
			errs = append(errs, fmt.Sprintf("%s.%s: the reference gives type %q, which this check does not know", path, key, typ))
			continue
		}
		if !fits {
			errs = append(errs, fmt.Sprintf("%s.%s: %v (%T) is not a %s", path, key, value, value, typ))
		}
	}
	return errs
}

func TestUnitTestCheckCatchesMistakes(t *testing.T) {
	ref := vectorReference(t)
	cfg := parseConfig(t, []byte(`
transforms:
  shape: {type: remap, inputs: [in], source: "."}
tests:
  - name: ok
    inputs: [{insert_at: shape, type: raw, value: x}]
    outputs: [{extract_from: shape, conditions: [{type: vrl, source: "true"}]}]
  - name: ok
    inputs: [{insert_at: in, type: json, log_fields: {a: 1}, extra: 1}]
    outputs: [{extract_from: shape, conditions: [{type: check_fields, source: "true"}], expected_events: 1}]
    no_outputs_from: [shape]
  - name: no output
    inputs: [{insert_at: shape, type: vrl}]
  - name: no input
    no_outputs_from: [elsewhere]
`))
	want := []string{
		`tests[1].name: "ok" is empty or not unique`,
		"tests[1].inputs[0].extra: no such option",
		"tests[1].inputs[0].insert_at: in is no transform",
		`tests[1].inputs[0].type: "json" is not one of [vrl log raw metric]`,
		"tests[1].outputs[0].expected_events: no such option",
		"tests[1].outputs[0].extract_from: shape is in no_outputs_from",
		`tests[1].outputs[0].conditions[0].type: "check_fields" is not one of [vrl]`,
		"tests[2]: neither outputs nor no_outputs_from",
		"tests[2].inputs[0].source: required by type vrl",
		"tests[3].inputs: required",
		"tests[3].no_outputs_from[0]: elsewhere is no transform",
	}
	got := ref.tests.check(cfg)
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("the check did not report %q; it reported:\n%s", w, strings.Join(got, "\n"))
		}
	}
	if len(got) != len(want) {
		t.Errorf("the check reported %d problems, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
}
