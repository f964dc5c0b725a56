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
// component, since Vector would otherwise drop what it produces.
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
	return errors.Join(errs...)
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
