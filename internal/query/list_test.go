package query

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/auditpipeline/auditpipeline-operator/internal/testkit/chtest"
)

// client is a Client of database on the shared server.
func client(t *testing.T, database string) *Client {
	t.Helper()
	conn, err := chtest.Shared(t).Conn("default")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return &Client{Conn: conn, Database: database}
}

// TestPagingOverSharedTimestamps pages, 4 rows at a time, through 30 events of which groups share one
// microsecond, some with the same nil audit ID in other tenants, and 10 stored twice (not merged yet):
// every event once, newest first.
func TestPagingOverSharedTimestamps(t *testing.T) {
	base := time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)
	var events []map[string]any
	for i := range 30 {
		at := base.Add(time.Duration(i/7) * time.Millisecond).Format("2006-01-02T15:04:05.000000Z")
		id := fmt.Sprintf("00000000-0000-4000-8000-%012d", i+1)
		if i%10 == 9 {
			id = "not-a-uuid" // stored as the nil UUID, told apart by its tenant
		}
		events = append(events, map[string]any{"auditID": id, "stage": "ResponseComplete", "verb": "get",
			"stageTimestamp": at, "objectRef": map[string]any{"resource": "pods", "namespace": fmt.Sprintf("ns-%d", i)}})
	}
	db, database := loadEvents(t, events)
	// A redelivery inserted every third event again, not merged yet: the copies share the tables' key.
	for _, stmt := range []string{"SYSTEM STOP MERGES " + database + ".events",
		"INSERT INTO " + database + ".events SELECT * FROM " + database + ".events WHERE toUInt32(substring(namespace, 4)) % 3 = 0"} {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatal(err)
		}
	}
	var rows uint64
	if err := db.QueryRow("SELECT count() FROM " + database + ".events").Scan(&rows); err != nil || rows != 40 {
		t.Fatalf("%d rows with the copies, want 40 (%v)", rows, err)
	}
	c := client(t, database)
	r := Request{Now: base.Add(time.Hour), From: base.Add(-time.Hour), Limit: 4}
	seen := map[string]int{}
	pages := 0
	var last time.Time
	for {
		page, err := c.List(context.Background(), r)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, e := range page.Events {
			if !last.IsZero() && e.Time.After(last) {
				t.Errorf("page %d: %s after %s: not newest first", pages, e.Time, last)
			}
			last = e.Time
			seen[e.Namespace]++
		}
		if page.Continue == "" {
			break
		}
		r.Continue = page.Continue
		r.Now = r.Now.Add(time.Hour) // a later invocation: the token keeps the list's range
	}
	if pages != 10 || len(seen) != 30 {
		t.Errorf("%d pages, %d distinct events; want 10 (40 rows by 4) and 30", pages, len(seen))
	}
	for ns, n := range seen {
		if n != 1 {
			t.Errorf("%s listed %d times", ns, n)
		}
	}
}

// TestShortcutValuesAreParameters: shortcut and history values with quotes, backslashes, line breaks and
// parameter-looking text match exactly themselves, and a forged continue token is refused.
func TestShortcutValuesAreParameters(t *testing.T) {
	names := []string{`a'b`, `back\slash`, "line\nbreak", `\N`, `{p0:String}`, "tab\there", `'; DROP TABLE events; --`}
	var events []map[string]any
	for i, n := range names {
		at := time.Date(2026, 6, 1, 10, 0, i, 0, time.UTC).Format("2006-01-02T15:04:05.000000Z")
		events = append(events, map[string]any{"auditID": fmt.Sprintf("00000000-0000-4000-8000-%012d", i+1), "stage": "ResponseComplete",
			"verb": "update", "stageTimestamp": at, "objectRef": map[string]any{"resource": "configmaps", "namespace": "x", "name": n}})
	}
	_, database := loadEvents(t, events)
	c := client(t, database)
	ctx := context.Background()
	now := time.Date(2026, 6, 2, 0, 0, 0, 0, time.UTC)
	for _, n := range names {
		page, err := c.List(ctx, Request{Now: now, Name: n, Namespace: "x"})
		if err != nil || len(page.Events) != 1 || page.Events[0].Name != n {
			t.Errorf("--name %q: %v, %+v", n, err, page.Events)
		}
		history, err := c.History(ctx, HistoryRequest{Resource: "cm", Namespace: "x", Name: n})
		if err != nil || len(history) != 1 || history[0].Name != n {
			t.Errorf("history of %q: %v, %d events", n, err, len(history))
		}
	}
	for _, token := range []string{"%%%", "e30", strings.Repeat("A", 100)} {
		if _, err := c.List(ctx, Request{Now: now, Continue: token}); !errors.Is(err, ErrBadContinue) {
			t.Errorf("continue %q: %v, want ErrBadContinue", token, err)
		}
	}
	page, err := c.List(ctx, Request{Now: now, Limit: 2})
	if err != nil || page.Continue == "" {
		t.Fatalf("%v, %+v", err, page)
	}
	if _, err := c.List(ctx, Request{Now: now, Limit: 2, Verb: "get", Continue: page.Continue}); !errors.Is(err, ErrBadContinue) {
		t.Errorf("a token used with other filters: %v, want ErrBadContinue", err)
	}
}
