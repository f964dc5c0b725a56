package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/auditpipeline/auditpipeline-operator/internal/migrate"
	"github.com/auditpipeline/auditpipeline-operator/migrations"
)

// writeFiles creates empty files (or directories, for names ending in /) in a new directory.
func writeFiles(t *testing.T, names ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, n := range names {
		var err error
		if d, ok := strings.CutSuffix(n, "/"); ok {
			err = os.Mkdir(filepath.Join(dir, d), 0o755)
		} else {
			err = os.WriteFile(filepath.Join(dir, n), nil, 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestCreateNumbersAfterTheHighest(t *testing.T) {
	for _, tc := range []struct {
		files []string
		want  string
	}{
		{nil, "00001_new_thing.sql"},
		{[]string{"00001_events.sql", "doc.go", "embed.go"}, "00002_new_thing.sql"},
		{[]string{"00003_a.sql", "00010_b.sql", "00002_c.sql", "README.md", "99999_x.txt"}, "00011_new_thing.sql"},
		{[]string{"00009_a.sql"}, "00010_new_thing.sql"},
	} {
		dir := writeFiles(t, tc.files...)
		path, err := create(dir, "new_thing")
		if err != nil {
			t.Fatalf("%v: %v", tc.files, err)
		}
		if path != filepath.Join(dir, tc.want) {
			t.Errorf("%v: created %s, want %s", tc.files, filepath.Base(path), tc.want)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(data), "-- "+tc.want+": ") || !strings.HasSuffix(string(data), "\n-- +goose Up\n") {
			t.Errorf("%s does not start with its name and end with the Up annotation:\n%s", tc.want, data)
		}
	}
}

func TestCreateRefuses(t *testing.T) {
	for _, tc := range []struct {
		name, files, want string
	}{
		{"", "00001_events.sql", "bad NAME"},
		{"Events2", "00001_events.sql", "bad NAME"},
		{"user-index", "00001_events.sql", "bad NAME"},
		{"_index", "00001_events.sql", "bad NAME"},
		{"index.sql", "00001_events.sql", "bad NAME"},
		{"../escape", "00001_events.sql", "bad NAME"},
		{"user index", "00001_events.sql", "bad NAME"},
		{"events", "00001_events.sql", `00001_events.sql already has the name "events"`},
		// A directory of the next file's name is not a migration, but the file cannot be created.
		{"x", "00001_events.sql,00002_x.sql/", "exists already"},
		{"x", "99999_last.sql", "no number left"},
	} {
		dir := writeFiles(t, strings.Split(tc.files, ",")...)
		before, _ := os.ReadDir(dir)
		_, err := create(dir, tc.name)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("create(%q) in %s: error %v, want one containing %q", tc.name, tc.files, err, tc.want)
		}
		if after, _ := os.ReadDir(dir); len(after) != len(before) {
			t.Errorf("create(%q) in %s left a file behind: %v", tc.name, tc.files, after)
		}
	}
	if _, err := create(filepath.Join(t.TempDir(), "missing"), "x"); err == nil {
		t.Error("create in a missing directory succeeded")
	}
}

// TestTemplateLoads checks the new file against the migration loader next to the real migrations: as
// created, its empty Up section is refused (nobody ships an empty migration by mistake); with a
// statement, it loads, and the template actions of its comments render for every topology.
func TestTemplateLoads(t *testing.T) {
	fsys := fstest.MapFS{}
	entries, err := migrations.FS.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		data, err := migrations.FS.ReadFile(e.Name())
		if err != nil {
			t.Fatal(err)
		}
		fsys[e.Name()] = &fstest.MapFile{Data: data}
		names = append(names, e.Name())
	}
	dir := writeFiles(t, names...)
	path, err := create(dir, "template_check")
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Base(path)
	fsys[file] = &fstest.MapFile{Data: data}
	if _, err := migrate.Load(fsys); err == nil || !strings.Contains(err.Error(), "holds no statement") {
		t.Errorf("Load of the template as created: %v, want the empty Up section refused", err)
	}
	stmt := "ALTER TABLE {{.Database}}.events{{.OnCluster}}\n    ADD COLUMN IF NOT EXISTS cluster LowCardinality(String);\n"
	fsys[file] = &fstest.MapFile{Data: append(data, stmt...)}
	ms, err := migrate.Load(fsys)
	if err != nil {
		t.Fatalf("Load of the template with a statement: %v", err)
	}
	if got := ms[len(ms)-1].Name; got != file {
		t.Errorf("last migration = %s, want %s", got, file)
	}
}

func TestReport(t *testing.T) {
	var b bytes.Buffer
	report(&b, "migrations/00002_x.sql")
	for _, want := range []string{"created migrations/00002_x.sql", "-update", "make migrate-local"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}
}
