package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/auditpipeline/auditpipeline-operator/internal/testkit/chtest"
	"github.com/auditpipeline/auditpipeline-operator/internal/testkit/schematest"
	"github.com/auditpipeline/auditpipeline-operator/internal/testkit/testenv"
)

func TestMain(m *testing.M) { chtest.Main(m) }

// TestLoadsTheRecordedEvents loads the recorded events into a migrated database of the test ClickHouse
// and reads them back: one row per event, the newest at now and the gaps kept, the cluster and tenant
// columns filled, all within the last 24 hours, and events_json gives every event back as recorded, its
// two timestamps shifted (and kind and apiVersion, which the items of an EventList leave out, added).
func TestLoadsTheRecordedEvents(t *testing.T) {
	srv := chtest.Shared(t)
	db, database := schematest.Migrated(t, srv)
	ctx := context.Background()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(root, "internal", "query", "testdata", "recorded-events.jsonl")
	originals := readLines(t, path)
	if len(originals) == 0 {
		t.Fatalf("%s holds no events", path)
	}
	var newest time.Time
	for _, ev := range originals {
		newest = latest(newest, stamp(t, ev, "stageTimestamp"))
	}

	opts := options{events: path, clickhouse: "http://" + srv.HTTPAddr, database: database, user: "default", cluster: "sample"}
	now := time.Now()
	var out bytes.Buffer
	if err := run(ctx, opts, now, &out); err != nil {
		t.Fatal(err)
	}
	t.Log(strings.TrimSpace(out.String()))

	by := now.UTC().Truncate(time.Microsecond).Sub(newest)
	want := map[string]map[string]any{} // by auditID
	for _, ev := range originals {
		for _, field := range []string{"stageTimestamp", "requestReceivedTimestamp"} {
			ev[field] = stamp(t, ev, field).Add(by).Format(microTime)
		}
		ev["kind"], ev["apiVersion"] = "Event", "audit.k8s.io/v1"
		want[ev["auditID"].(string)] = ev
	}
	rs, err := db.QueryContext(ctx, `SELECT toString(cluster), toString(tenant), toString(namespace), event,
		event_time >= now64(6) - INTERVAL 24 HOUR FROM `+database+`.events_json ORDER BY event_time`)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rs.Close() }()
	n := 0
	var last time.Time
	for ; rs.Next(); n++ {
		var cluster, tenant, namespace, event string
		var recent bool
		if err := rs.Scan(&cluster, &tenant, &namespace, &event, &recent); err != nil {
			t.Fatal(err)
		}
		got := decode(t, []byte(event))
		if cluster != "sample" || tenant != namespace || !recent {
			t.Errorf("cluster %q, tenant %q (namespace %q), in the last 24 hours %v", cluster, tenant, namespace, recent)
		}
		id, _ := got["auditID"].(string)
		if !reflect.DeepEqual(got, want[id]) {
			t.Errorf("events_json gives\n %s\nwant\n %v", event, want[id])
		}
		delete(want, id)
		last = latest(last, stamp(t, got, "stageTimestamp"))
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	if n != len(originals) || len(want) != 0 {
		t.Errorf("%d rows for %d events; %d events not found", n, len(originals), len(want))
	}
	if !last.Equal(now.UTC().Truncate(time.Microsecond)) {
		t.Errorf("the newest event happens at %s, want now (%s)", last, now.UTC())
	}

	// A password the user does not have: ClickHouse refuses, and so does the command.
	pw := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(pw, []byte("not-the-password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	opts.passwordFile = pw
	if err := run(ctx, opts, now, &out); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Errorf("with a wrong password: %v, want ClickHouse's refusal", err)
	}
}

func readLines(t *testing.T, path string) []map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		out = append(out, decode(t, sc.Bytes()))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func decode(t *testing.T, text []byte) map[string]any {
	t.Helper()
	var ev map[string]any
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.UseNumber()
	if err := dec.Decode(&ev); err != nil {
		t.Fatalf("%s: %v", text, err)
	}
	return ev
}

func stamp(t *testing.T, ev map[string]any, field string) time.Time {
	t.Helper()
	s, _ := ev[field].(string)
	at, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("%s %q: %v", field, s, err)
	}
	return at.UTC()
}

func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
