package migrate

import (
	"context"
	"errors"
	"io/fs"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/auditpipeline/auditpipeline-operator/internal/testkit/chtest"
	"github.com/auditpipeline/auditpipeline-operator/migrations"
)

// TestChangedHistoryStopsEverything applies one set of files, then runs Up with files that disagree
// with what was applied: each is a *ChecksumError naming the file, and nothing is applied, not even
// the new migration 00009_new.sql that is pending in every case.
func TestChangedHistoryStopsEverything(t *testing.T) {
	events, err := fs.ReadFile(migrations.FS, "00001_events.sql")
	if err != nil {
		t.Fatal(err)
	}
	oneByteChanged := strings.Replace(string(events), "ZSTD(1)", "ZSTD(2)", 1)
	users, groups, audit := table("users"), table("groups"), table("audit_log")
	tests := []struct {
		name    string
		applied map[string]string // files applied first, besides the embedded ones
		then    map[string]string // files of the second run, besides the embedded ones ("" removes)
		want    ChecksumError
	}{
		{"changed file", nil, map[string]string{"00001_events.sql": oneByteChanged},
			ChecksumError{Version: 1, Name: "00001_events.sql", Kind: KindChanged, Want: checksumOf(string(events)), Got: checksumOf(oneByteChanged)}},
		{"removed file", map[string]string{"00002_users.sql": users}, map[string]string{"00002_users.sql": ""},
			ChecksumError{Version: 2, Name: "00002_users.sql", Kind: KindMissing, Want: "00002_users.sql"}},
		{"renumbered file", map[string]string{"00002_users.sql": users}, map[string]string{"00002_users.sql": "", "00003_users.sql": users},
			ChecksumError{Version: 2, Name: "00002_users.sql", Kind: KindRenumbered, Want: "00002_users.sql", Got: "00003_users.sql"}},
		{"reused number", map[string]string{"00002_users.sql": users}, map[string]string{"00002_users.sql": "", "00002_groups.sql": groups},
			ChecksumError{Version: 2, Name: "00002_users.sql", Kind: KindRenamed, Want: "00002_users.sql", Got: "00002_groups.sql"}},
		{"renamed file", map[string]string{"00002_users.sql": users}, map[string]string{"00002_users.sql": "", "00002_people.sql": users},
			ChecksumError{Version: 2, Name: "00002_users.sql", Kind: KindRenamed, Want: "00002_users.sql", Got: "00002_people.sql"}},
		{"added below the applied ones", map[string]string{"00003_users.sql": users}, map[string]string{"00002_audit_log.sql": audit},
			ChecksumError{Version: 2, Name: "00002_audit_log.sql", Kind: KindOutOfOrder, Want: "00003_users.sql"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkHistoryRejected(t, tt.applied, tt.then, tt.want) })
	}
}

// checkHistoryRejected applies the embedded files and applied, then checks that Status and Up with
// the files changed by changes (and a new 00009_new.sql) fail with want, and that nothing was applied.
func checkHistoryRejected(t *testing.T, applied, changes map[string]string, want ChecksumError) {
	t.Helper()
	srv := chtest.Shared(t)
	db := openDB(t, srv)
	name := newDatabaseName(t, srv)
	ctx := context.Background()
	if _, err := newMigrator(t, db, embedded(t, applied), Options{Database: name}).Up(ctx, "latest"); err != nil {
		t.Fatal(err)
	}
	then := embedded(t, applied)
	for file, text := range changes {
		if text == "" {
			delete(then, file)
		} else {
			then[file] = &fstest.MapFile{Data: []byte(text)}
		}
	}
	then["00009_new.sql"] = &fstest.MapFile{Data: []byte(table("new"))}
	m := newMigrator(t, db, then, Options{Database: name})
	for _, op := range []string{"Status", "Up"} {
		var rep *Report
		var err error
		if op == "Up" {
			rep, err = m.Up(ctx, "latest")
		} else {
			rep, err = m.Status(ctx, "latest")
		}
		var ce *ChecksumError
		if !errors.As(err, &ce) || *ce != want {
			t.Fatalf("%s error = %v (%#v), want %#v", op, err, ce, want)
		}
		if !strings.Contains(err.Error(), want.Name) || rep == nil || !slices.ContainsFunc(rep.Pending, func(p Pending) bool { return p.Version == 9 }) {
			t.Errorf("%s: error %q does not name %s, or report %+v does not list 00009_new.sql as pending", op, err, want.Name, rep)
		}
	}
	goose := queryStrings(t, db, "SELECT toString(version_id) FROM "+name+"."+VersionTable+" WHERE version_id = 9")
	tables := queryStrings(t, db, "SELECT name FROM system.tables WHERE database = ? AND name IN ('new', 'audit_log', 'groups')", name)
	if len(goose) != 0 || len(tables) != 0 {
		t.Errorf("something was applied after the checksum error: goose rows %v, tables %v", goose, tables)
	}
}

func TestUnrecordedVersion(t *testing.T) {
	srv := chtest.Shared(t)
	db := openDB(t, srv)
	name := newDatabaseName(t, srv)
	m := newMigrator(t, db, migrations.FS, Options{Database: name})
	ctx := context.Background()
	if _, err := m.Up(ctx, "latest"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("TRUNCATE TABLE " + name + "." + ChecksumTable); err != nil {
		t.Fatal(err)
	}
	_, err := m.Up(ctx, "latest")
	var ce *ChecksumError
	if !errors.As(err, &ce) || ce.Kind != KindUnrecorded || ce.Version != 1 || ce.Name != "00001_events.sql" {
		t.Errorf("Up error = %v, want an Unrecorded checksum error for 00001_events.sql", err)
	}
}

func TestFailedMigrationIsNotRecordedAndRetried(t *testing.T) {
	srv := chtest.Shared(t)
	db := openDB(t, srv)
	name := newDatabaseName(t, srv)
	ctx := context.Background()
	const bad = "-- +goose Up\nCREATE TABLE IF NOT EXISTS {{.Database}}.first (id UInt64) ENGINE = MergeTree ORDER BY id;\n" +
		"CREATE TABLE IF NOT EXISTS {{.Database}}.second (id UInt64)\nENGINE = NoSuchEngine;\n"
	m := newMigrator(t, db, embedded(t, map[string]string{"00002_tables.sql": bad}), Options{Database: name})

	rep, err := m.Up(ctx, "latest")
	var me *MigrationError
	if !errors.As(err, &me) || me.Version != 2 || me.Name != "00002_tables.sql" || me.Index != 2 ||
		me.Statement != "CREATE TABLE IF NOT EXISTS "+name+".second (id UInt64)\nENGINE = NoSuchEngine" {
		t.Fatalf("Up error = %#v, want a MigrationError for statement 2 of 00002_tables.sql", err)
	}
	for _, want := range []string{"00002_tables.sql", "statement 2", "NoSuchEngine"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	applied, pending := versionsOf(rep)
	if !slices.Equal(applied, []int64{1}) || !slices.Equal(pending, []int64{2}) || rep.Current != 1 {
		t.Errorf("report after the failure = %+v, want 1 applied and 2 pending", rep)
	}
	recorded := queryStrings(t, db, "SELECT toString(version) FROM "+name+"."+ChecksumTable+" FINAL ORDER BY version")
	goose := queryStrings(t, db, "SELECT toString(version_id) FROM "+name+"."+VersionTable+" ORDER BY version_id")
	if !slices.Equal(recorded, []string{"1"}) || !slices.Equal(goose, []string{"0", "1"}) {
		t.Errorf("after the failure: checksum records %v, goose versions %v; want 2 in neither", recorded, goose)
	}

	fixed := strings.Replace(bad, "NoSuchEngine", "MergeTree ORDER BY id", 1)
	m = newMigrator(t, db, embedded(t, map[string]string{"00002_tables.sql": fixed}), Options{Database: name})
	rep, err = m.Up(ctx, "latest")
	if err != nil {
		t.Fatal(err)
	}
	if applied, _ := versionsOf(rep); !slices.Equal(applied, []int64{1, 2}) || rep.Applied[1].Checksum != checksumOf(fixed) {
		t.Errorf("after the fix: %+v, want 2 applied with the fixed file's checksum %s", rep, checksumOf(fixed))
	}
}

// checksumOf is the checksum Load computes for a file.
func checksumOf(text string) string {
	ms, err := Load(fstest.MapFS{"00001_x.sql": {Data: []byte(text)}})
	if err != nil {
		panic(err)
	}
	return ms[0].Checksum
}

// TestSupersededVersionIsNamed: a database that applied an earlier version of a file that changed in
// place before a release (Options.Superseded) gets a ChecksumError of kind Superseded that says what
// changed and where the docs say what to do, and nothing is applied.
func TestSupersededVersionIsNamed(t *testing.T) {
	srv := chtest.Shared(t)
	db := openDB(t, srv)
	name := newDatabaseName(t, srv)
	ctx := context.Background()
	events, err := fs.ReadFile(migrations.FS, "00001_events.sql")
	if err != nil {
		t.Fatal(err)
	}
	earlier := strings.Replace(string(events), "ZSTD(1)", "ZSTD(2)", 1)
	old := embedded(t, map[string]string{"00001_events.sql": earlier})
	if _, err := newMigrator(t, db, old, Options{Database: name}).Up(ctx, "latest"); err != nil {
		t.Fatal(err)
	}
	m := newMigrator(t, db, migrations.FS, Options{Database: name,
		Superseded: map[string]string{checksumOf(earlier): "00001_events.sql before the tenant columns"}})
	_, err = m.Up(ctx, "latest")
	var ce *ChecksumError
	if !errors.As(err, &ce) || ce.Kind != KindSuperseded || ce.Want != checksumOf(earlier) ||
		!strings.Contains(err.Error(), "before the tenant columns") || !strings.Contains(err.Error(), "docs/migrations.md") {
		t.Errorf("Up error = %v, want a Superseded checksum error that names the change and the docs", err)
	}
	// The embedded files' own checksums are never listed as superseded.
	ms, err := Load(migrations.FS)
	if err != nil {
		t.Fatal(err)
	}
	for _, mig := range ms {
		if note, ok := migrations.Superseded[mig.Checksum]; ok {
			t.Errorf("%s: its current checksum is listed as superseded (%s)", mig.Name, note)
		}
	}
}
