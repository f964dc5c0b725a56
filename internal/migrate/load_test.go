package migrate

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/auditpipeline/auditpipeline-operator/migrations"
)

func TestLoadEmbedded(t *testing.T) {
	ms, err := Load(migrations.FS)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) == 0 || ms[0].Version != 1 || ms[0].Name != "00001_events.sql" {
		t.Fatalf("first migration = %+v, want version 1, 00001_events.sql", ms[0])
	}
	for i, m := range ms {
		raw, err := fs.ReadFile(migrations.FS, m.Name)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(raw)
		if want := "sha256:" + hex.EncodeToString(sum[:]); m.Checksum != want {
			t.Errorf("%s: checksum %s, want %s", m.Name, m.Checksum, want)
		}
		if i > 0 && ms[i-1].Version >= m.Version {
			t.Errorf("migrations not sorted: %s after %s", m.Name, ms[i-1].Name)
		}
	}
}

func TestLoadSortsByVersion(t *testing.T) {
	ms, err := Load(fstest.MapFS{
		"00010_c.sql": {Data: []byte(table("c"))},
		"00002_b.sql": {Data: []byte(table("b"))},
		"00001_a.sql": {Data: []byte(table("a"))},
	})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range ms {
		names = append(names, m.Name)
	}
	if want := []string{"00001_a.sql", "00002_b.sql", "00010_c.sql"}; !slices.Equal(names, want) {
		t.Errorf("names = %v, want %v", names, want)
	}
}

func TestLoadRejectsBadFiles(t *testing.T) {
	good := table("a")
	tests := []struct {
		name  string
		files fstest.MapFS
		want  string // in the error, which always names the file
	}{
		{"no files", fstest.MapFS{}, "no NNNNN_name.sql file"},
		{"short number", fstest.MapFS{"0001_a.sql": {Data: []byte(good)}}, "0001_a.sql: not a migration file"},
		{"upper case", fstest.MapFS{"00001_Events.sql": {Data: []byte(good)}}, "00001_Events.sql: not a migration file"},
		{"other file", fstest.MapFS{"00001_a.sql": {Data: []byte(good)}, "README.md": {Data: []byte("x")}}, "README.md: not a migration file"},
		{"directory", fstest.MapFS{"00001_a.sql": {Data: []byte(good)}, "00002_b.sql/x": {Data: []byte("x")}}, "00002_b.sql: not a migration file"},
		{"version zero", fstest.MapFS{"00000_a.sql": {Data: []byte(good)}}, "00000_a.sql: version must be 1 or more"},
		{"same version", fstest.MapFS{"00001_a.sql": {Data: []byte(good)}, "00001_b.sql": {Data: []byte(good)}}, "00001_a.sql and 00001_b.sql have the same version 1"},
		{"no up", fstest.MapFS{"00001_a.sql": {Data: []byte("-- nothing\n")}}, `00001_a.sql: no "-- +goose Up" annotation`},
		{"empty up", fstest.MapFS{"00001_a.sql": {Data: []byte("-- +goose Up\n-- +goose Down\n")}}, "00001_a.sql: the \"-- +goose Up\" section holds no statement"},
		{"down statements", fstest.MapFS{"00001_a.sql": {Data: []byte(good + "-- +goose Down\nDROP TABLE a;\n")}}, "00001_a.sql: line 6: a Down section must hold no statement"},
		{"unterminated", fstest.MapFS{"00001_a.sql": {Data: []byte("-- +goose Up\nSELECT 1\n")}}, "00001_a.sql: line 2: statement does not end with ';'"},
		{"sql before up", fstest.MapFS{"00001_a.sql": {Data: []byte("SELECT 1;\n-- +goose Up\nSELECT 1;\n")}}, "00001_a.sql: line 1: SQL before"},
		{"envsub", fstest.MapFS{"00001_a.sql": {Data: []byte("-- +goose ENVSUB ON\n-- +goose Up\nSELECT 1;\n")}}, "00001_a.sql: line 1: unsupported annotation"},
		{"template syntax", fstest.MapFS{"00001_a.sql": {Data: []byte("-- +goose Up\nSELECT {{.Database;\n")}}, "00001_a.sql: parse template"},
		{"unknown variable", fstest.MapFS{"00001_a.sql": {Data: []byte("-- +goose Up\nSELECT {{.Cluster}};\n")}}, "00001_a.sql: render template"},
		{"not a MergeTree", fstest.MapFS{"00001_a.sql": {Data: []byte("-- +goose Up\nCREATE TABLE t (a UInt8) ENGINE = {{.Engine \"Log\"}};\n")}}, `engine "Log" is not of the MergeTree family`},
		{"unbalanced block", fstest.MapFS{"00001_a.sql": {Data: []byte("-- +goose Up\n-- +goose StatementBegin\nSELECT 1;\n")}}, "00001_a.sql: line 3: StatementBegin without StatementEnd"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(tt.files)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Load error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestUpStatements(t *testing.T) {
	tests := []struct {
		name string
		text string
		want []string
	}{
		{"one per line", "-- +goose Up\nSELECT 1;\nSELECT 2;\n", []string{"SELECT 1", "SELECT 2"}},
		{"multi-line, comments dropped", "-- header\n\n-- +goose Up\n-- what it does\nCREATE TABLE t\n(\n    -- the key\n    a UInt8\n)\n\nENGINE = Memory;\n",
			[]string{"CREATE TABLE t\n(\n    a UInt8\n)\n\nENGINE = Memory"}},
		{"block keeps inner semicolons", "-- +goose Up\n-- +goose StatementBegin\nCREATE FUNCTION f AS (x) -> concat(x, ';');\n-- +goose StatementEnd\nSELECT 1;\n",
			[]string{"CREATE FUNCTION f AS (x) -> concat(x, ';')", "SELECT 1"}},
		{"no transaction and empty down", "-- +goose NO TRANSACTION\n-- +goose Up\nSELECT 1;\n-- +goose Down\n-- nothing\n", []string{"SELECT 1"}},
		{"crlf", "-- +goose Up\r\nSELECT 1;\r\n", []string{"SELECT 1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := upStatements(tt.text)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("statements = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestTemplateData(t *testing.T) {
	single := TemplateData{Database: "audit"}
	replicated := TemplateData{Database: "audit", Replicated: true, StoragePolicy: "hot_cold"}
	tests := []struct {
		data   TemplateData
		engine string
		want   string
	}{
		{single, "MergeTree", "MergeTree"},
		{single, "ReplacingMergeTree(v)", "ReplacingMergeTree(v)"},
		{replicated, "MergeTree", "ReplicatedMergeTree"},
		{replicated, "MergeTree()", "ReplicatedMergeTree"},
		{replicated, "ReplacingMergeTree", "ReplicatedReplacingMergeTree"},
		{replicated, " ReplacingMergeTree(applied_at) ", "ReplicatedReplacingMergeTree(applied_at)"},
		{replicated, "SummingMergeTree((a, b))", "ReplicatedSummingMergeTree((a, b))"},
	}
	for _, tt := range tests {
		got, err := tt.data.Engine(tt.engine)
		if err != nil || got != tt.want {
			t.Errorf("Engine(%q) with Replicated=%v = %q, %v; want %q", tt.engine, tt.data.Replicated, got, err, tt.want)
		}
	}
	for _, bad := range []string{"Log", "ReplicatedMergeTree", "MergeTree; DROP TABLE x", "Memory"} {
		if got, err := replicated.Engine(bad); err == nil {
			t.Errorf("Engine(%q) = %q, want an error", bad, got)
		}
	}
	if got := single.Settings(); got != "" {
		t.Errorf("Settings() without a policy = %q, want empty", got)
	}
	if got, want := replicated.Settings("index_granularity = 8192"), "SETTINGS index_granularity = 8192, storage_policy = 'hot_cold'"; got != want {
		t.Errorf("Settings = %q, want %q", got, want)
	}
	if got, want := onCluster("audit-prod"), " ON CLUSTER `audit-prod`"; got != want {
		t.Errorf("onCluster = %q, want %q", got, want)
	}
}

// table returns the SQL of a small migration that creates table t in the pipeline's database.
func table(t string) string {
	return "-- +goose Up\nCREATE TABLE IF NOT EXISTS {{.Database}}." + t + "{{.OnCluster}} (id UInt64)\nENGINE = {{.Engine \"MergeTree\"}}\nORDER BY id;\n"
}
