package vector

import (
	"errors"
	"fmt"
	"slices"
	"sort"
)

// CheckTopology checks the topology of c the way Vector does when it loads a configuration: component
// ids are unique across sources, transforms and sinks; every input names an existing source or
// transform; every transform and sink has inputs; and every source and transform feeds at least one
// component, since Vector would otherwise drop what it produces. Its unit tests have unique names,
// insert at, extract from and expect no output from transforms (as Vector checks when it loads them), and
// extract from a transform at or downstream of where they insert (as `vector test` requires).
func CheckTopology(c *Config) error {
	var errs []error
	kinds := map[string]string{}
	for kind, components := range map[string]map[string]Component{
		"source": c.Sources, "transform": c.Transforms, "sink": c.Sinks,
	} {
		for id := range components {
			if other, dup := kinds[id]; dup {
				errs = append(errs, fmt.Errorf("component id %q is both a %s and a %s", id, other, kind))
			}
			kinds[id] = kind
		}
	}
	consumed := map[string]bool{}
	for _, id := range sortedIDs(c.Transforms, c.Sinks) {
		comp := c.Transforms[id]
		if comp == nil {
			comp = c.Sinks[id]
		}
		inputs := comp.componentInputs()
		if len(inputs) == 0 {
			errs = append(errs, fmt.Errorf("%s %q has no inputs", kinds[id], id))
		}
		for _, in := range inputs {
			switch kinds[in] {
			case "source", "transform":
				consumed[in] = true
			case "sink":
				errs = append(errs, fmt.Errorf("%s %q takes sink %q as input", kinds[id], id, in))
			default:
				errs = append(errs, fmt.Errorf("%s %q takes %q as input, which is no component", kinds[id], id, in))
			}
		}
	}
	for _, id := range sortedIDs(c.Sources, c.Transforms) {
		if !consumed[id] {
			errs = append(errs, fmt.Errorf("%s %q feeds no component", kinds[id], id))
		}
	}
	return errors.Join(append(errs, checkTests(c)...)...)
}

// checkTests checks what CheckTopology says of c's unit tests.
func checkTests(c *Config) []error {
	var errs []error
	names := map[string]bool{}
	transform := func(test, what, id string) bool {
		if c.Transforms[id] == nil {
			errs = append(errs, fmt.Errorf("test %q %s %q, which is no transform", test, what, id))
			return false
		}
		return true
	}
	for _, t := range c.Tests {
		if names[t.Name] {
			errs = append(errs, fmt.Errorf("two tests are named %q", t.Name))
		}
		names[t.Name] = true
		var inserts []string
		for _, in := range t.Inputs {
			if transform(t.Name, "inserts at", in.InsertAt) {
				inserts = append(inserts, in.InsertAt)
			}
		}
		if len(t.Outputs) == 0 && len(t.NoOutputsFrom) == 0 {
			errs = append(errs, fmt.Errorf("test %q checks no output", t.Name))
		}
		var extracts []string
		for _, out := range t.Outputs {
			extracts = append(extracts, out.ExtractFrom)
		}
		for _, id := range append(extracts, t.NoOutputsFrom...) {
			if transform(t.Name, "checks the output of", id) && !slices.ContainsFunc(inserts, func(in string) bool { return downstream(c, in, id) }) {
				errs = append(errs, fmt.Errorf("test %q checks the output of %q, which is not downstream of where it inserts", t.Name, id))
			}
		}
	}
	return errs
}

// downstream reports whether transform to is from or takes its input, directly or not, from it.
func downstream(c *Config, from, to string) bool {
	seen := map[string]bool{}
	var reaches func(id string) bool
	reaches = func(id string) bool {
		if id == from {
			return true
		}
		if seen[id] || c.Transforms[id] == nil {
			return false
		}
		seen[id] = true
		return slices.ContainsFunc(c.Transforms[id].componentInputs(), reaches)
	}
	return reaches(to)
}

func sortedIDs(sets ...map[string]Component) []string {
	var ids []string
	for _, s := range sets {
		for id := range s {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return slices.Compact(ids)
}
