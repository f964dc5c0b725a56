package query

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// TestChangesSayWhatTheEventsRecorded: what each kind of write event tells about the object, and the
// history's diff starting again from the last known state after a write that says nothing.
func TestChangesSayWhatTheEventsRecorded(t *testing.T) {
	at := func(s int) time.Time { return time.Date(2026, 12, 1, 10, 0, s, 0, time.UTC) }
	cm := func(v string) string {
		return `{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"c","resourceVersion":"7","managedFields":[{"manager":"x"}]},"data":{"k":"` + v + `"}}`
	}
	events := []Event{
		{Time: at(1), Verb: "create", User: "alice", Code: 201, JSON: `{"level":"RequestResponse","responseObject":` + cm("1") + `}`},
		{Time: at(2), Verb: "update", User: "bob", Code: 200, JSON: `{"level":"Request","requestObject":` + cm("2") + `}`},
		{Time: at(3), Verb: "patch", User: "carol", Code: 200, JSON: `{"level":"Request","requestObject":{"data":{"k":"3"}}}`},
		{Time: at(4), Verb: "update", User: "dave", Code: 200, JSON: `{"level":"Metadata"}`},
		{Time: at(5), Verb: "update", User: "erin", Code: 409, JSON: `{"level":"RequestResponse","requestObject":` + cm("x") + `}`},
		{Time: at(6), Verb: "update", User: "frank", Code: 200, JSON: `{"level":"RequestResponse","responseObject":` + cm("4") + `}`},
		{Time: at(7), Verb: "delete", User: "gina", Code: 200, JSON: `{"level":"RequestResponse","responseObject":{"kind":"Status","status":"Success"}}`},
	}
	changes := Changes(events)
	notes := []string{"response body", "request body", "the patch as sent", "recorded no body of this update (level Metadata)",
		"refused (409)", "response body", "deleted"}
	for i, c := range changes {
		if !strings.Contains(c.Note, notes[i]) {
			t.Errorf("change %d (%s): note %q, want it to contain %q", i, c.Event.Verb, c.Note, notes[i])
		}
	}
	var out bytes.Buffer
	if err := WriteHistory(&out, changes, DiffOptions{Diff: true}); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, want := range []string{
		"-  k: \"1\"\n+  k: \"2\"\n",      // the update's request body
		"  data:\n    k: \"3\"\n",         // the patch body, as sent
		"-  k: \"2\"\n+  k: \"4\"\n",      // after the unknown states, from the last known one
		"-  k: \"4\"\n-kind: ConfigMap\n", // deleted
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the history lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "managedFields") || strings.Contains(text, "resourceVersion") {
		t.Errorf("noise shown by default:\n%s", text)
	}
	out.Reset()
	if err := WriteHistory(&out, changes, DiffOptions{Diff: true, ShowManagedFields: true, Color: true}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "managedFields") || !strings.Contains(out.String(), green+"+") {
		t.Errorf("--show-managed-fields with colour:\n%s", out.String())
	}
	out.Reset()
	if err := WriteHistory(&out, changes, DiffOptions{}); err != nil {
		t.Fatal(err)
	}
	if lines := strings.Count(out.String(), "\n"); lines != len(events)+1 || !strings.HasPrefix(out.String(), "TIMESTAMP") {
		t.Errorf("the table has %d lines:\n%s", lines, out.String())
	}
}

func TestResourceName(t *testing.T) {
	for in, want := range map[string][2]string{
		"deployments": {"deployments", ""}, "deployment": {"deployments", ""}, "deploy": {"deployments", ""},
		"Deployment.apps": {"deployments", "apps"}, "cm": {"configmaps", ""}, "networkpolicy": {"networkpolicies", ""},
		"ingress": {"ingresses", ""}, "endpoints": {"endpoints", ""}, "leases.coordination.k8s.io": {"leases", "coordination.k8s.io"},
	} {
		if r, g := resourceName(in); r != want[0] || g != want[1] {
			t.Errorf("resourceName(%q) = %q, %q; want %q, %q", in, r, g, want[0], want[1])
		}
	}
}
