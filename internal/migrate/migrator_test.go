package migrate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/auditpipeline/auditpipeline-operator/internal/testkit/chtest"
	"github.com/auditpipeline/auditpipeline-operator/internal/tiering"
	"github.com/auditpipeline/auditpipeline-operator/migrations"
	"github.com/pressly/goose/v3/database"
)

func TestUpFreshDatabase(t *testing.T) {
	srv := chtest.Shared(t)
	db := openDB(t, srv)
	name := newDatabaseName(t, srv)
	var events []Applied
	m := newMigrator(t, db, migrations.FS, Options{Database: name, StoragePolicy: "hot_cold", Owner: "test",
		OnApplied: func(a Applied) { events = append(events, a) }})
	ctx := context.Background()

	before := time.Now().Add(-time.Second)
	rep, err := m.Up(ctx, "latest")
	if err != nil {
		t.Fatal(err)
	}
	ms, _ := Load(migrations.FS)
	last := ms[len(ms)-1].Version
	if rep.Current != last || rep.Target != last || len(rep.Pending) != 0 || len(rep.Applied) != len(ms) {
		t.Fatalf("report = %+v, want every one of %d migrations applied", rep, len(ms))
	}
	for i, a := range rep.Applied {
		if a.Version != ms[i].Version || a.Name != ms[i].Name || a.Checksum != ms[i].Checksum || a.AppliedAt.Before(before) || a.AppliedAt.After(time.Now()) {
			t.Errorf("applied[%d] = %+v, want %s with checksum %s, applied just now", i, a, ms[i].Name, ms[i].Checksum)
		}
	}
	if !slices.Equal(events, rep.Applied) {
		t.Errorf("OnApplied got %+v, want %+v", events, rep.Applied)
	}

	tables := queryStrings(t, db, "SELECT name FROM system.tables WHERE database = ? ORDER BY name", name)
	if want := []string{"events", "events_json", "changes", "changes_mv", "changes_json", VersionTable, ChecksumTable, LockTable, AttemptTable}; !sameElements(tables, want) {
		t.Errorf("tables = %v, want %v", tables, want)
	}
	checkEventsTable(t, db, name)
	checkChangesTable(t, db, name)

	// The records read back are the ones Up returned.
	status, err := m.Status(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(status.Applied, rep.Applied) {
		t.Errorf("Status applied = %+v, want %+v", status.Applied, rep.Applied)
	}
	goose := queryStrings(t, db, "SELECT toString(version_id) FROM "+name+"."+VersionTable+" ORDER BY version_id")
	if want := []string{"0", "1"}; !slices.Equal(goose, want) {
		t.Errorf("goose versions = %v, want %v", goose, want)
	}
}

// checkChangesTable checks the changes table's engine and keys, that it has the events table's columns
// and codecs, and that changes_mv copies the writes into it, and only them.
func checkChangesTable(t *testing.T, db *sql.DB, database string) {
	t.Helper()
	var engine, partition, sorting, primary, policy, full string
	err := db.QueryRow(`SELECT engine, partition_key, sorting_key, primary_key, storage_policy, engine_full FROM system.tables
		WHERE database = ? AND name = 'changes'`, database).Scan(&engine, &partition, &sorting, &primary, &policy, &full)
	if err != nil {
		t.Fatal(err)
	}
	if engine != "ReplacingMergeTree" || partition != "toYYYYMM(event_time)" || policy != "hot_cold" ||
		sorting != "tenant_type, tenant, resource, namespace, name, event_time, audit_id, stage" ||
		primary != "tenant_type, tenant, resource, namespace, name, event_time" {
		t.Errorf("changes: engine %s, partition %s, sorting %s, primary %s, policy %s", engine, partition, sorting, primary, policy)
	}
	for _, setting := range []string{"index_granularity = 1024", "min_compress_block_size = 16384", "default_compression_codec = 'ZSTD(1)'"} {
		if !strings.Contains(full, setting) {
			t.Errorf("changes: %s, want the setting %s", full, setting)
		}
	}
	columns := `SELECT arrayStringConcat(groupArray(name || ' ' || type || ' ' || compression_codec || ' ' || default_expression), ';')
		FROM (SELECT * FROM system.columns WHERE database = ? AND table = ? ORDER BY position)`
	var events, changes string
	if err := db.QueryRow(columns, database, "events").Scan(&events); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow(columns, database, "changes").Scan(&changes); err != nil {
		t.Fatal(err)
	}
	if events == "" || changes != events {
		t.Errorf("changes' columns\n%s\ndiffer from events'\n%s", changes, events)
	}
	for i, verb := range []string{"get", "create", "watch", "patch", "list", "update", "delete", "deletecollection"} {
		row := fmt.Sprintf(`{"event_time":"2026-03-02 10:00:00.%06d","audit_id":"%08d-4b7e-4a43-9f61-0c5c7d2f1a10","stage":"ResponseComplete",`+
			`"verb":%q,"resource":"configmaps","namespace":"mv","name":"cm","rest":"{}"}`, i, i, verb)
		if _, err := db.Exec("INSERT INTO " + database + ".events FORMAT JSONEachRow " + row); err != nil {
			t.Fatal(err)
		}
	}
	verbs := queryStrings(t, db, "SELECT verb FROM "+database+".changes_json WHERE namespace = 'mv' AND resource = 'configmaps' AND name = 'cm' ORDER BY event_time")
	if want := []string{"create", "patch", "update", "delete", "deletecollection"}; !slices.Equal(verbs, want) {
		t.Errorf("changes of mv/configmaps/cm = %v, want the writes %v", verbs, want)
	}
}

// checkEventsTable checks the events table's engine, keys, policy and codecs, and that it keeps one
// copy of an event inserted twice.
func checkEventsTable(t *testing.T, db *sql.DB, database string) {
	t.Helper()
	var engine, partition, sorting, primary, policy string
	err := db.QueryRow(`SELECT engine, partition_key, sorting_key, primary_key, storage_policy FROM system.tables
		WHERE database = ? AND name = 'events'`, database).Scan(&engine, &partition, &sorting, &primary, &policy)
	if err != nil {
		t.Fatal(err)
	}
	if engine != "ReplacingMergeTree" || partition != "toYYYYMM(event_time)" || policy != "hot_cold" ||
		sorting != "tenant_type, tenant, event_time, audit_id, stage" || primary != "tenant_type, tenant, event_time" {
		t.Errorf("events: engine %s, partition %s, sorting %s, primary %s, policy %s", engine, partition, sorting, primary, policy)
	}
	var eventTime, rest, verb, uncoded, full string
	err = db.QueryRow(`SELECT
		(SELECT type || ' ' || compression_codec FROM system.columns WHERE database = ? AND table = 'events' AND name = 'event_time'),
		(SELECT type || ' ' || compression_codec FROM system.columns WHERE database = ? AND table = 'events' AND name = 'rest'),
		(SELECT type || ' ' || compression_codec FROM system.columns WHERE database = ? AND table = 'events' AND name = 'verb'),
		(SELECT arrayStringConcat(groupArray(name), ',') FROM system.columns
			WHERE database = ? AND table = 'events' AND compression_codec = '' AND name NOT IN ('audit_id', 'request_received_at')),
		(SELECT engine_full FROM system.tables WHERE database = ? AND name = 'events')`,
		database, database, database, database, database).Scan(&eventTime, &rest, &verb, &uncoded, &full)
	if err != nil {
		t.Fatal(err)
	}
	// rest takes the part's codec, ZSTD(1) at insert and the TTL's in merges; every other column its own.
	if eventTime != "DateTime64(6, 'UTC') CODEC(Delta(8), ZSTD(1))" || rest != "String " ||
		verb != "LowCardinality(String) CODEC(ZSTD(1))" || uncoded != "rest" {
		t.Errorf("event_time %q, rest %q, verb %q; columns without a codec (but audit_id, an ALIAS): %q", eventTime, rest, verb, uncoded)
	}
	// The recompression in merges is the table's TTL from the start, as the operator renders it.
	if want := " TTL " + tiering.Recompress("toDateTime(event_time)") + " SETTINGS "; !strings.Contains(full, want) {
		t.Errorf("events: %s, want the TTL %q", full, want)
	}
	// default_compression_codec is the projection's codec and rest's at insert; min_compress_block_size the
	// small columns' blocks.
	for _, setting := range []string{"default_compression_codec = 'ZSTD(1)'", "min_compress_block_size = 16384"} {
		if !strings.Contains(full, setting) {
			t.Errorf("events: %s, want the setting %s", full, setting)
		}
	}
	var projections string
	if err := db.QueryRow(`SELECT arrayStringConcat(groupArray(name), ',') FROM system.projections WHERE database = ? AND table = 'events'`,
		database).Scan(&projections); err != nil {
		t.Fatal(err)
	}
	if projections != "by_time" {
		t.Errorf("projections %q, want by_time", projections)
	}
	const event = `{"event_time":"2026-03-01 10:00:00.123456","latency_us":1500,"audit_id":"7c1f0e6a-4b7e-4a43-9f61-0c5c7d2f1a10",` +
		`"stage":"ResponseComplete","verb":"update","user":"alice","resource":"deployments","api_group":"apps",` +
		`"namespace":"shop","name":"web","response_code":200,"rest":"{\"sourceIPs\":[\"10.1.2.3\"]}"}`
	// Inserts write the parts with the table's codec, ZSTD(1); the merge, with the TTL's, ZSTD(6). Merges
	// wait until the inserted parts are seen (they are the table's only ones: checkChangesTable comes after).
	if _, err := db.Exec("SYSTEM STOP MERGES " + database + ".events"); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := db.Exec("INSERT INTO " + database + ".events FORMAT JSONEachRow " + event); err != nil {
			t.Fatal(err)
		}
	}
	codecs := func() string {
		var c string
		if err := db.QueryRow(`SELECT arrayStringConcat(groupUniqArray(default_compression_codec), ',') FROM system.parts
			WHERE active AND database = ? AND table = 'events'`, database).Scan(&c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	if c := codecs(); c != "ZSTD(1)" {
		t.Errorf("inserted parts' codec %q, want ZSTD(1)", c)
	}
	if _, err := db.Exec("SYSTEM START MERGES " + database + ".events"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("OPTIMIZE TABLE " + database + ".events FINAL"); err != nil {
		t.Fatal(err)
	}
	if c := codecs(); c != "ZSTD(6)" {
		t.Errorf("merged part's codec %q, want ZSTD(6)", c)
	}
	var rows uint64
	var received, ip string
	if err := db.QueryRow("SELECT count(), toString(any(request_received_at)), any(JSONExtractString(event, 'sourceIPs', 1)) FROM "+
		database+".events_json").Scan(&rows, &received, &ip); err != nil {
		t.Fatal(err)
	}
	if rows != 1 || received != "2026-03-01 10:00:00.121956" || ip != "10.1.2.3" {
		t.Errorf("after inserting one event twice: %d rows, received at %s, source IP %s; want 1 row, 10:00:00.121956, 10.1.2.3", rows, received, ip)
	}
}

func TestUpTwiceIsANoOp(t *testing.T) {
	srv := chtest.Shared(t)
	db := openDB(t, srv)
	name := newDatabaseName(t, srv)
	m := newMigrator(t, db, embedded(t, map[string]string{"00002_a.sql": table("a")}), Options{Database: name})
	ctx := context.Background()
	first, err := m.Up(ctx, "latest")
	if err != nil {
		t.Fatal(err)
	}
	counts := func() []string {
		return queryStrings(t, db, "SELECT toString((SELECT count() FROM "+name+"."+VersionTable+")) || ' ' || "+
			"toString((SELECT count() FROM "+name+"."+ChecksumTable+")) || ' ' || toString((SELECT count() FROM "+name+"."+LockTable+"))")
	}
	before := counts()
	called := false
	m.opts.OnApplied = func(Applied) { called = true }
	second, err := m.Up(ctx, "latest")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(first.Applied, second.Applied) || len(second.Pending) != 0 || second.Current != 2 {
		t.Errorf("second Up = %+v, want the first's applied versions %+v and nothing pending", second, first.Applied)
	}
	if after := counts(); !slices.Equal(before, after) || called {
		t.Errorf("second Up wrote rows (goose, checksums, lock: %v -> %v) or called OnApplied (%v)", before, after, called)
	}
}

func TestUpToTargetVersion(t *testing.T) {
	srv := chtest.Shared(t)
	db := openDB(t, srv)
	name := newDatabaseName(t, srv)
	fsys := embedded(t, map[string]string{"00002_a.sql": table("a"), "00003_b.sql": table("b")})
	m := newMigrator(t, db, fsys, Options{Database: name})
	ctx := context.Background()

	rep, err := m.Status(ctx, "2")
	if applied, pending := versionsOf(rep); err != nil || len(applied) != 0 || !slices.Equal(pending, []int64{1, 2}) || rep.Current != 0 {
		t.Errorf("Status(2) of a database that does not exist = %+v, %v; want 1 and 2 pending", rep, err)
	}
	if dbs := queryStrings(t, db, "SELECT name FROM system.databases WHERE name = ?", name); len(dbs) != 0 {
		t.Errorf("Status created the database")
	}
	rep, err = m.Up(ctx, "2")
	if err != nil {
		t.Fatal(err)
	}
	applied, pending := versionsOf(rep)
	if !slices.Equal(applied, []int64{1, 2}) || len(pending) != 0 || rep.Current != 2 || rep.Target != 2 {
		t.Errorf("Up(2) = %+v, want 1 and 2 applied, nothing pending up to 2", rep)
	}
	rep, err = m.Status(ctx, "latest")
	if err != nil {
		t.Fatal(err)
	}
	applied, pending = versionsOf(rep)
	if !slices.Equal(applied, []int64{1, 2}) || !slices.Equal(pending, []int64{3}) || rep.Target != 3 || rep.Pending[0].Name != "00003_b.sql" {
		t.Errorf("Status(latest) = %+v, want 3 (00003_b.sql) pending", rep)
	}
	if tables := queryStrings(t, db, "SELECT name FROM system.tables WHERE database = ? AND name = 'b'", name); len(tables) != 0 {
		t.Errorf("table b exists before its migration ran")
	}
	// A target below the current version migrates nothing down.
	if rep, err = m.Up(ctx, "1"); err != nil || rep.Current != 2 || rep.Target != 1 || len(rep.Pending) != 0 {
		t.Errorf("Up(1) = %+v, %v; want current 2, target 1, no error", rep, err)
	}
	if rep, err = m.Up(ctx, ""); err != nil || rep.Current != 3 {
		t.Errorf("Up(\"\") = %+v, %v; want version 3 applied", rep, err)
	}
}

func TestInvalidTarget(t *testing.T) {
	srv := chtest.Shared(t)
	db := openDB(t, srv)
	name := newDatabaseName(t, srv)
	m := newMigrator(t, db, migrations.FS, Options{Database: name})
	for _, target := range []string{"0", "-1", "abc", "99999", "1.0"} {
		if rep, err := m.Up(context.Background(), target); !errors.Is(err, ErrInvalidTarget) || rep != nil {
			t.Errorf("Up(%q) = %v, %v; want ErrInvalidTarget", target, rep, err)
		}
		if _, err := m.Status(context.Background(), target); !errors.Is(err, ErrInvalidTarget) {
			t.Errorf("Status(%q) = %v; want ErrInvalidTarget", target, err)
		}
	}
	if dbs := queryStrings(t, db, "SELECT name FROM system.databases WHERE name = ?", name); len(dbs) != 0 {
		t.Errorf("an invalid target created the database")
	}
}

// sameElements reports whether a and b hold the same strings in any order.
func sameElements(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// TestVersionTableMatchesGoose checks that the version table the engine creates (so that it can
// replicate) has the columns goose's own ClickHouse dialect would give it.
func TestVersionTableMatchesGoose(t *testing.T) {
	srv := chtest.Shared(t)
	db := openDB(t, srv)
	name := newDatabaseName(t, srv)
	ctx := context.Background()
	if _, err := db.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatal(err)
	}
	store, err := database.NewStore(database.DialectClickHouse, name+".goose_own")
	if err != nil {
		t.Fatal(err)
	}
	if err := store.CreateVersionTable(ctx, db); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(ddl(createVersionTable, TemplateData{Database: name})); err != nil {
		t.Fatal(err)
	}
	columns := func(table string) []string {
		return queryStrings(t, db, "SELECT name || ' ' || type || ' ' || default_kind || ' ' || default_expression || ' ' || toString(is_in_sorting_key) "+
			"FROM system.columns WHERE database = ? AND table = ? ORDER BY position", name, table)
	}
	if ours, goose := columns(VersionTable), columns("goose_own"); !slices.Equal(ours, goose) {
		t.Errorf("version table columns = %q, goose's = %q", ours, goose)
	}
}
