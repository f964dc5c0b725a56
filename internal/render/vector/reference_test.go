package vector

import (
	"fmt"
	"io/fs"
	"maps"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/cuecontext"
	"sigs.k8s.io/yaml"
)

// This file checks rendered configurations against Vector's own option reference: the generated CUE
// files of Vector's website (website/cue/reference/**/generated/*.cue), copied into
// ../shared/vector-reference beside the repository (see its SOURCE.md). Every option key of every
// component must exist there with a value of the declared type (and enum), required options must be
// present, and options that are only relevant for another option's value (relevant_when) must match it.

// refOption is one option of Vector's reference.
type refOption struct {
	required     bool
	relevantWhen string
	types        map[string]*refType
}

// refType is one of the types an option accepts.
type refType struct {
	def     any
	enum    map[string]bool
	options map[string]*refOption // object; nil means any keys
	items   *refOption            // array
}

// reference is Vector's option reference for the components and the global options, and its
// unit-test reference for the tests.
type reference struct {
	components map[string]map[string]map[string]*refOption // kind (sources, ...) -> type -> options
	global     map[string]*refOption
	tests      *unitTestReference
}

var (
	loadOnce  sync.Once
	loadedRef *reference
	loadErr   error
)

// vectorReference loads the reference once per test binary; it fails the test when the shared folder
// is missing, since CI always has it.
func vectorReference(t *testing.T) *reference {
	t.Helper()
	loadOnce.Do(func() { loadedRef, loadErr = loadReference() })
	if loadErr != nil {
		t.Fatalf("load Vector's option reference: %v", loadErr)
	}
	return loadedRef
}

func referenceDir() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	dir := filepath.Join(filepath.Dir(strings.TrimSpace(string(out))), "..", "shared", "vector-reference")
	if _, err := os.Stat(dir); err != nil {
		return "", fmt.Errorf("Vector's CUE reference is expected in %s (the shared folder beside the clone, see its SOURCE.md): %w", dir, err)
	}
	return dir, nil
}

func loadReference() (*reference, error) {
	dir, err := referenceDir()
	if err != nil {
		return nil, err
	}
	ref := &reference{components: map[string]map[string]map[string]*refOption{}, global: map[string]*refOption{}}
	ctx := cuecontext.New()
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(path) != ".cue" {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		v := ctx.CompileBytes(data, cue.Filename(path))
		if v.Err() != nil {
			return fmt.Errorf("compile %s: %w", path, v.Err())
		}
		return ref.add(v.LookupPath(cue.ParsePath("generated")))
	})
	if err != nil {
		return nil, err
	}
	if len(ref.components) == 0 || len(ref.global) == 0 {
		return nil, fmt.Errorf("no component or global options found under %s", dir)
	}
	if ref.tests, err = loadUnitTestReference(filepath.Join(dir, unitTestsDoc)); err != nil {
		return nil, err
	}
	return ref, nil
}

// add records what one generated file defines: components, global options, or the api section.
func (r *reference) add(generated cue.Value) error {
	if comps := generated.LookupPath(cue.ParsePath("components")); comps.Exists() {
		for kind, kindValue := range fields(comps) {
			for name, comp := range fields(kindValue) {
				opts, err := parseOptions(comp.LookupPath(cue.ParsePath("configuration")))
				if err != nil {
					return fmt.Errorf("%s %s: %w", kind, name, err)
				}
				if r.components[kind] == nil {
					r.components[kind] = map[string]map[string]*refOption{}
				}
				r.components[kind][name] = opts
			}
		}
	}
	if v := generated.LookupPath(cue.ParsePath("configuration.configuration")); v.Exists() {
		opts, err := parseOptions(v)
		if err != nil {
			return fmt.Errorf("global options: %w", err)
		}
		for k, o := range opts {
			r.global[k] = o
		}
	}
	// The api section's file lists its options directly rather than as one option of type object.
	if v := generated.LookupPath(cue.ParsePath("api.configuration.api")); v.Exists() {
		opts, err := parseOptions(v)
		if err != nil {
			return fmt.Errorf("api options: %w", err)
		}
		r.global["api"] = &refOption{types: map[string]*refType{"object": {options: opts}}}
	}
	return nil
}

func fields(v cue.Value) map[string]cue.Value {
	out := map[string]cue.Value{}
	it, err := v.Fields(cue.Optional(true))
	if err != nil {
		return out
	}
	for it.Next() {
		out[it.Selector().Unquoted()] = it.Value()
	}
	return out
}

func parseOptions(v cue.Value) (map[string]*refOption, error) {
	opts := map[string]*refOption{}
	for name, o := range fields(v) {
		opt, err := parseOption(o)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		opts[name] = opt
	}
	return opts, nil
}

func parseOption(o cue.Value) (*refOption, error) {
	opt := &refOption{types: map[string]*refType{}}
	if req := o.LookupPath(cue.ParsePath("required")); req.Exists() {
		opt.required, _ = req.Bool()
	}
	if rw := o.LookupPath(cue.ParsePath("relevant_when")); rw.Exists() {
		opt.relevantWhen, _ = rw.String()
	}
	types := fields(o.LookupPath(cue.ParsePath("type")))
	if len(types) == 0 {
		return nil, fmt.Errorf("no type")
	}
	for name, tv := range types {
		rt := &refType{}
		if d := tv.LookupPath(cue.ParsePath("default")); d.Exists() {
			_ = d.Decode(&rt.def)
		}
		if e := tv.LookupPath(cue.ParsePath("enum")); e.Exists() {
			rt.enum = map[string]bool{}
			for k := range fields(e) {
				rt.enum[k] = true
			}
		}
		switch name {
		case "object":
			if ov := tv.LookupPath(cue.ParsePath("options")); ov.Exists() {
				sub, err := parseOptions(ov)
				if err != nil {
					return nil, err
				}
				rt.options = sub
			}
		case "array":
			item, err := parseOption(tv.LookupPath(cue.ParsePath("items")))
			if err != nil {
				return nil, fmt.Errorf("items: %w", err)
			}
			rt.items = item
		}
		opt.types[name] = rt
	}
	return opt, nil
}

// componentExtras are the options every component has, which Vector documents in its hand-written
// component reference rather than in the generated files: type and inputs, and the sinks' buffer.
func componentExtras(kind string) map[string]*refOption {
	str := func(enum ...string) *refOption {
		t := &refType{}
		if len(enum) > 0 {
			t.enum = map[string]bool{}
			for _, e := range enum {
				t.enum[e] = true
			}
		}
		return &refOption{types: map[string]*refType{"string": t}}
	}
	unsigned := &refOption{types: map[string]*refType{"uint": {}}}
	extras := map[string]*refOption{"type": str()}
	if kind != "sources" {
		extras["inputs"] = &refOption{required: true, types: map[string]*refType{"array": {items: str()}}}
	}
	if kind == "sinks" {
		extras["buffer"] = &refOption{types: map[string]*refType{"object": {options: map[string]*refOption{
			"type":       str("memory", "disk"),
			"max_events": unsigned,
			"max_size":   unsigned,
			"when_full":  str("block", "drop_newest", "overflow"),
		}}}}
	}
	return extras
}

// check returns every way cfg (a parsed Vector configuration) departs from the reference.
func (r *reference) check(cfg map[string]any) []string {
	var errs []string
	for key, value := range cfg {
		switch key {
		case "tests":
			errs = append(errs, r.tests.check(cfg)...)
		case "sources", "transforms", "sinks":
			comps, ok := value.(map[string]any)
			if !ok {
				errs = append(errs, key+": not a map of components")
				continue
			}
			for id, c := range comps {
				errs = append(errs, r.checkComponent(key, id, c)...)
			}
		default:
			opt, ok := r.global[key]
			if !ok {
				errs = append(errs, fmt.Sprintf("%s: no such global option", key))
				continue
			}
			errs = append(errs, checkValue(key, value, opt)...)
		}
	}
	sort.Strings(errs)
	return errs
}

func (r *reference) checkComponent(kind, id string, c any) []string {
	path := kind + "." + id
	comp, ok := c.(map[string]any)
	if !ok {
		return []string{path + ": not an object"}
	}
	typ, _ := comp["type"].(string)
	opts, ok := r.components[kind][typ]
	if !ok {
		return []string{fmt.Sprintf("%s: no reference for %s type %q: add its generated CUE file to the shared reference", path, kind, typ)}
	}
	all := map[string]*refOption{}
	for k, o := range opts {
		all[k] = o
	}
	for k, o := range componentExtras(kind) {
		all[k] = o
	}
	return checkObject(path, comp, all)
}

func checkObject(path string, obj map[string]any, opts map[string]*refOption) []string {
	var errs []string
	for key, value := range obj {
		opt, ok := opts[key]
		if !ok {
			opt, ok = opts["*"]
		}
		if !ok {
			errs = append(errs, fmt.Sprintf("%s.%s: no such option", path, key))
			continue
		}
		if !relevant(opt.relevantWhen, obj, opts) {
			errs = append(errs, fmt.Sprintf("%s.%s: only relevant when %s", path, key, opt.relevantWhen))
		}
		errs = append(errs, checkValue(path+"."+key, value, opt)...)
	}
	for key, opt := range opts {
		if _, set := obj[key]; !set && key != "*" && opt.required && opt.relevantWhen != "" && relevant(opt.relevantWhen, obj, opts) {
			errs = append(errs, fmt.Sprintf("%s.%s: required when %s", path, key, opt.relevantWhen))
		} else if !set && key != "*" && opt.required && opt.relevantWhen == "" {
			errs = append(errs, fmt.Sprintf("%s.%s: required", path, key))
		}
	}
	return errs
}

// relevantClause matches one `name = "value"` clause of a relevant_when expression.
var relevantClause = regexp.MustCompile(`^\s*([a-z_]+)\s*=\s*"([^"]*)"\s*$`)

// relevant evaluates a relevant_when expression (clauses joined by " or ") against the sibling
// options, using an option's default when it is not set. Expressions it cannot read count as true.
func relevant(when string, obj map[string]any, opts map[string]*refOption) bool {
	if when == "" {
		return true
	}
	for _, clause := range strings.Split(when, " or ") {
		m := relevantClause.FindStringSubmatch(clause)
		if m == nil {
			return true
		}
		value, set := obj[m[1]]
		if !set {
			if o := opts[m[1]]; o != nil && o.types["string"] != nil {
				value = o.types["string"].def
			}
		}
		if value == m[2] {
			return true
		}
	}
	return false
}

func checkValue(path string, value any, opt *refOption) []string {
	names := make([]string, 0, len(opt.types))
	for name := range opt.types {
		names = append(names, name)
	}
	sort.Strings(names)
	var firstErrs []string
	for _, name := range names {
		errs := checkType(path, value, name, opt.types[name])
		if len(errs) == 0 {
			return nil
		}
		if firstErrs == nil {
			firstErrs = errs
		}
	}
	if len(names) > 1 {
		return []string{fmt.Sprintf("%s: %v is none of %v (%s)", path, value, names, strings.Join(firstErrs, "; "))}
	}
	return firstErrs
}

func checkType(path string, value any, name string, t *refType) []string {
	bad := func() []string { return []string{fmt.Sprintf("%s: %v (%T) is not a %s", path, value, value, name)} }
	switch name {
	case "string", "ascii_char":
		s, ok := value.(string)
		if !ok || (name == "ascii_char" && len(s) != 1) {
			return bad()
		}
		if t.enum != nil && !t.enum[s] {
			return []string{fmt.Sprintf("%s: %q is not one of %v", path, s, slices.Sorted(maps.Keys(t.enum)))}
		}
	case "bool":
		if _, ok := value.(bool); !ok {
			return bad()
		}
	case "uint", "int", "float":
		f, ok := value.(float64)
		if !ok || (name != "float" && f != math.Trunc(f)) || (name == "uint" && f < 0) {
			return bad()
		}
	case "condition":
		switch value.(type) {
		case string, map[string]any:
		default:
			return bad()
		}
	case "object":
		obj, ok := value.(map[string]any)
		if !ok {
			return bad()
		}
		if t.options != nil {
			return checkObject(path, obj, t.options)
		}
	case "array":
		items, ok := value.([]any)
		if !ok {
			return bad()
		}
		var errs []string
		for i, item := range items {
			errs = append(errs, checkValue(fmt.Sprintf("%s[%d]", path, i), item, t.items)...)
		}
		return errs
	default:
		return []string{fmt.Sprintf("%s: the reference declares type %q, which this check does not know", path, name)}
	}
	return nil
}

// parseConfig reads rendered YAML the way the check sees it: numbers as float64, maps as map[string]any.
func parseConfig(t *testing.T, rendered []byte) map[string]any {
	t.Helper()
	var cfg map[string]any
	if err := yaml.Unmarshal(rendered, &cfg); err != nil {
		t.Fatalf("rendered config is not YAML: %v", err)
	}
	return cfg
}

func TestRenderedConfigsMatchVectorReference(t *testing.T) {
	ref := vectorReference(t)
	for name, p := range renderCases() {
		for role, c := range map[string]*Config{"collector": CollectorConfig(p, testCluster), "aggregator": AggregatorConfig(p)} {
			t.Run(name+"/"+role, func(t *testing.T) {
				rendered, err := Marshal(c)
				if err != nil {
					t.Fatal(err)
				}
				cfg := parseConfig(t, rendered)
				for _, e := range ref.check(cfg) {
					t.Error(e)
				}
				// Vector 0.58+ rejects any api key but these two (its api options deny unknown fields),
				// although the shared reference still lists graphql and playground.
				for k := range cfg["api"].(map[string]any) {
					if k != "enabled" && k != "address" {
						t.Errorf("api.%s: Vector 0.58+ accepts only api.enabled and api.address", k)
					}
				}
			})
		}
	}
}

func TestReferenceCheckCatchesMistakes(t *testing.T) {
	ref := vectorReference(t)
	cfg := parseConfig(t, []byte(`
data_dir: /var/lib/vector
no_such_global: 1
sources:
  in:
    type: http_server
    method: FETCH
    decoding: {codec: json, protobuf: {desc_file: x}}
    keepalive: {max_connection_age_secs: -1}
sinks:
  out:
    type: nats
    inputs: [in]
    url: nats://x:4222
    subject: s
    encoding: {codec: json}
    jetstream: {enabled: "yes", headers: {msg_id: "{{ auditID }}"}}
    buffer: {type: disk, when_full: wait}
  other:
    type: no_such_sink
`))
	want := []string{
		"no_such_global: no such global option",
		`sinks.other: no reference for sinks type "no_such_sink"`,
		"sinks.out.buffer.when_full: \"wait\" is not one of",
		"sinks.out.jetstream.enabled: yes (string) is not a bool",
		"sinks.out.jetstream.headers.msg_id: no such option",
		"sources.in.address: required",
		"sources.in.decoding.protobuf: only relevant when codec = \"protobuf\"",
		"sources.in.keepalive.max_connection_age_secs: -1 (float64) is not a uint",
		"sources.in.method: \"FETCH\" is not one of",
	}
	got := ref.check(cfg)
	for _, w := range want {
		if !slices.ContainsFunc(got, func(g string) bool { return strings.HasPrefix(g, w) }) {
			t.Errorf("the check did not report %q; it reported:\n%s", w, strings.Join(got, "\n"))
		}
	}
	if len(got) != len(want) {
		t.Errorf("the check reported %d problems, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
}
