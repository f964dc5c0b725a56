package query

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/pmezard/go-difflib/difflib"
	"sigs.k8s.io/yaml"
)

// Change is one write of an object's history and the object it left, as far as the audit event recorded it.
type Change struct {
	Event Event
	// State is the object after the write: the response body, else the request body of a create or an
	// update; nil when the write deleted the object, failed, or its body was not recorded.
	State map[string]any
	// Known is false when the event does not say what the object became (no body recorded, or only a
	// patch), so the next diff starts from the last state known.
	Known bool
	// Note says where State came from or why there is none.
	Note string
	// Patch is the request body of a patch whose response was not recorded, as YAML.
	Patch string
}

// Changes reads what each write of a history did to the object.
func Changes(events []Event) []Change {
	out := make([]Change, 0, len(events))
	for _, e := range events {
		c := Change{Event: e}
		var ev struct {
			Level          string          `json:"level"`
			RequestObject  json.RawMessage `json:"requestObject"`
			ResponseObject json.RawMessage `json:"responseObject"`
		}
		_ = json.Unmarshal([]byte(e.JSON), &ev)
		request, response := object(ev.RequestObject), object(ev.ResponseObject)
		switch {
		case e.Code >= 400:
			c.Known, c.State, c.Note = false, nil, fmt.Sprintf("refused (%d): the object did not change", e.Code)
		case e.Verb == "delete" || e.Verb == "deletecollection":
			c.Known, c.Note = true, "deleted"
		case response != nil && response["kind"] != "Status":
			c.Known, c.State, c.Note = true, response, "the object as stored (response body)"
		case request != nil && (e.Verb == "create" || e.Verb == "update"):
			c.Known, c.State, c.Note = true, request, "the object as sent (request body; the response was not recorded)"
		case e.Verb == "patch" && len(ev.RequestObject) > 0:
			c.Note = "the patch as sent; the response was not recorded, so the object it left is unknown"
			c.Patch = toYAML(ev.RequestObject)
		default:
			c.Note = fmt.Sprintf("the audit policy recorded no body of this %s (level %s)", e.Verb, orNone(ev.Level))
		}
		out = append(out, c)
	}
	return out
}

// HistoryChanges are the changes of a history as WriteHistory shows them: read from the events with a
// diff (Changes), the events alone without one, whose table needs nothing of their bodies.
func HistoryChanges(events []Event, diff bool) []Change {
	if diff {
		return Changes(events)
	}
	out := make([]Change, len(events))
	for i, e := range events {
		out[i] = Change{Event: e}
	}
	return out
}

// object decodes a body that is a JSON object; nil for anything else.
func object(raw json.RawMessage) map[string]any {
	var m map[string]any
	if len(raw) == 0 || json.Unmarshal(raw, &m) != nil {
		return nil
	}
	return m
}

func toYAML(raw json.RawMessage) string {
	b, err := yaml.JSONToYAML(raw)
	if err != nil {
		return string(raw) + "\n"
	}
	return string(b)
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// DiffOptions shape a history's output.
type DiffOptions struct {
	// Diff shows a unified diff of the object between consecutive changes.
	Diff bool
	// ShowManagedFields keeps metadata.managedFields and metadata.resourceVersion, which are hidden by default.
	ShowManagedFields bool
	// Color marks added and removed lines (for a terminal).
	Color bool
}

const (
	red, green, cyan, bold, reset = "\x1b[31m", "\x1b[32m", "\x1b[36m", "\x1b[1m", "\x1b[0m"
)

// WriteHistory writes an object's changes, oldest first: time, verb, user and response code of each,
// and with Diff the object's unified diff since the last known state.
func WriteHistory(w io.Writer, changes []Change, o DiffOptions) error {
	var b strings.Builder
	if !o.Diff {
		fmt.Fprintf(&b, "%-27s  %-16s  %-40s  %s\n", "TIMESTAMP", "VERB", "USER", "STATUS")
		for _, c := range changes {
			verb := c.Event.Verb
			if c.Event.Subresource != "" {
				verb += " " + c.Event.Subresource
			}
			fmt.Fprintf(&b, "%-27s  %-16s  %-40s  %d\n", c.Event.Time.Format(timeLayout), verb, c.Event.User, c.Event.Code)
		}
		_, err := io.WriteString(w, b.String())
		return err
	}
	last := ""
	for _, c := range changes {
		e := c.Event
		verb := e.Verb
		if e.Subresource != "" {
			verb += " " + e.Subresource
		}
		header := fmt.Sprintf("=== %s %s by %s (%d)", e.Time.Format(timeLayout), verb, e.User, e.Code)
		if o.Color {
			header = bold + header + reset
		}
		fmt.Fprintf(&b, "%s\n# %s\n", header, c.Note)
		switch {
		case c.Patch != "":
			b.WriteString(indent(c.Patch))
		case c.Known:
			next := ""
			if c.State != nil {
				next = stateYAML(c.State, o.ShowManagedFields)
			}
			b.WriteString(unified(last, next, o.Color))
			last = next
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// timeLayout is how a history shows times: RFC 3339 with microseconds, UTC.
const timeLayout = "2006-01-02T15:04:05.000000Z07:00"

// stateYAML renders an object as YAML, without the noise of managedFields and resourceVersion unless asked.
func stateYAML(obj map[string]any, keepNoise bool) string {
	if !keepNoise {
		if meta, ok := obj["metadata"].(map[string]any); ok {
			clean := make(map[string]any, len(meta))
			for k, v := range meta {
				if k != "managedFields" && k != "resourceVersion" {
					clean[k] = v
				}
			}
			obj = shallowWith(obj, "metadata", clean)
		}
	}
	b, err := yaml.Marshal(obj)
	if err != nil {
		return fmt.Sprintf("%v\n", obj)
	}
	return string(b)
}

func shallowWith(m map[string]any, key string, v any) map[string]any {
	out := make(map[string]any, len(m))
	for k, x := range m {
		out[k] = x
	}
	out[key] = v
	return out
}

// unified is the unified diff from a to b (empty when equal, with a note).
func unified(a, b string, color bool) string {
	if a == b {
		return "  (no change to the object)\n"
	}
	text, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A: lines(a), B: lines(b), FromFile: "before", ToFile: "after", Context: 3,
	})
	if err != nil {
		return fmt.Sprintf("  (diff failed: %v)\n", err)
	}
	if !color {
		return text
	}
	var out strings.Builder
	for _, line := range strings.SplitAfter(text, "\n") {
		switch {
		case strings.HasPrefix(line, "+++"), strings.HasPrefix(line, "---"):
			out.WriteString(bold + strings.TrimSuffix(line, "\n") + reset + "\n")
		case strings.HasPrefix(line, "+"):
			out.WriteString(green + strings.TrimSuffix(line, "\n") + reset + "\n")
		case strings.HasPrefix(line, "-"):
			out.WriteString(red + strings.TrimSuffix(line, "\n") + reset + "\n")
		case strings.HasPrefix(line, "@@"):
			out.WriteString(cyan + strings.TrimSuffix(line, "\n") + reset + "\n")
		default:
			out.WriteString(line)
		}
	}
	return out.String()
}

// lines splits a text into lines that end in "\n"; none for "".
func lines(s string) []string {
	if s == "" {
		return nil
	}
	return difflib.SplitLines(strings.TrimSuffix(s, "\n"))
}

func indent(s string) string {
	var b strings.Builder
	for _, line := range strings.SplitAfter(strings.TrimSuffix(s, "\n"), "\n") {
		b.WriteString("  " + line)
	}
	b.WriteString("\n")
	return b.String()
}
