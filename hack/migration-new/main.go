// Command migration-new creates the next schema migration file, migrations/NNNNN_name.sql, numbered
// after the highest existing one (five digits, zero padded), holding a commented goose template to fill
// in. `make migration-new NAME=some_name` calls it. It refuses a name that is not lower-case letters,
// digits and '_', a name an existing migration already has, and a file that exists. See
// docs/migrations.md, "Adding a migration".
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// validName is what NAME must be; with the number it makes the file name internal/migrate accepts.
var validName = regexp.MustCompile(`^[a-z0-9][a-z0-9_]*$`)

// migrationFile matches the migration files of the directory.
var migrationFile = regexp.MustCompile(`^([0-9]{5})_([a-z0-9][a-z0-9_]*)\.sql$`)

// maxVersion is the highest number five digits hold.
const maxVersion = 99999

func main() {
	dir := flag.String("dir", "migrations", "The migrations directory.")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: migration-new [-dir migrations] NAME")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	path, err := create(*dir, flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, "migration-new:", err)
		os.Exit(1)
	}
	report(os.Stdout, path)
}

// create writes the template for the next migration called name into dir and returns its path.
func create(dir, name string) (string, error) {
	if !validName.MatchString(name) {
		return "", fmt.Errorf("bad NAME %q: use lower-case letters, digits and '_', starting with a letter or digit (e.g. events_user_index)", name)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", fmt.Errorf("read the migrations directory: %w", err)
	}
	var last int64
	for _, e := range entries {
		m := migrationFile.FindStringSubmatch(e.Name())
		if m == nil || e.IsDir() {
			continue
		}
		if m[2] == name {
			return "", fmt.Errorf("migration %s already has the name %q: pick another name (an applied file never changes; fix a mistake with a new migration)", e.Name(), name)
		}
		v, _ := strconv.ParseInt(m[1], 10, 64)
		last = max(last, v)
	}
	if last >= maxVersion {
		return "", fmt.Errorf("no number left after %05d", last)
	}
	file := fmt.Sprintf("%05d_%s.sql", last+1, name)
	path := filepath.Join(dir, file)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, os.ErrExist) {
		return "", fmt.Errorf("%s exists already", path)
	}
	if err != nil {
		return "", err
	}
	if _, err := io.WriteString(f, template(file)); err != nil {
		_ = f.Close()
		_ = os.Remove(path)
		return "", err
	}
	if err := f.Close(); err != nil {
		_ = os.Remove(path)
		return "", err
	}
	return path, nil
}

// report tells what was created and what to do next.
func report(w io.Writer, path string) {
	fmt.Fprintf(w, "created %s\n", path)
	fmt.Fprintln(w, "Next: write its statements after \"-- +goose Up\" (until then go test ./internal/migrate/ fails on")
	fmt.Fprintln(w, "the empty section), run go test ./internal/migrate/ -update and review the golden SQL in")
	fmt.Fprintln(w, "internal/migrate/testdata, and try it on a local ClickHouse with make migrate-local.")
}

// template is the new file's text. Comment lines are rendered as the template too (then dropped), so
// the template actions in them must be valid ones.
func template(file string) string {
	return strings.ReplaceAll(fileTemplate, "FILE", file)
}

const fileTemplate = `-- FILE: say what this migration does and why (this header is part of the file's checksum).
--
-- How to write it (docs/migrations.md, "Adding a migration"):
--   * Up only: the operator never migrates down, so leave out "-- +goose Down".
--   * Once applied anywhere this file must never change: fix a mistake with a new migration.
--   * Make every statement idempotent (IF NOT EXISTS, IF EXISTS): a migration that fails half-way is
--     re-run from its first statement.
--   * A statement ends at a line ending with ';'. Wrap one that holds ';' inside in
--     "-- +goose StatementBegin" / "-- +goose StatementEnd". Lines that are only a comment are not sent.
--
-- The file is a Go text/template (internal/migrate.TemplateData), rendered for the ClickHouse it runs
-- on, comments included: the actions below are valid ones, keep any you write in a comment valid too.
--   {{.Database}}   the pipeline's database, e.g. audit: always write {{.Database}}.table.
--   {{.OnCluster}}  "" on a single node or in a Replicated database, " ON CLUSTER ` + "`name`" + `" (leading
--                   space) on a cluster: put it after the table name of every DDL statement.
--   {{.Engine "ReplacingMergeTree(version)"}}  a MergeTree-family engine, turned into its
--                   Replicated variant on a cluster (no path arguments: the server's defaults apply).
--   {{.Settings "index_granularity = 8192"}}  "SETTINGS ..." with the given settings and the
--                   storage policy when there is one; {{.Settings}} alone is empty without a policy.
--
-- Examples (remove them):
--   ALTER TABLE {{.Database}}.events{{.OnCluster}}
--       ADD COLUMN IF NOT EXISTS cluster LowCardinality(String) AFTER stage;
--   A column of events goes into changes too (the two tables keep the same columns), and into the
--   query of changes_mv, which names them:
--   ALTER TABLE {{.Database}}.changes{{.OnCluster}}
--       ADD COLUMN IF NOT EXISTS cluster LowCardinality(String) AFTER stage;
--   ALTER TABLE {{.Database}}.changes_mv{{.OnCluster}} MODIFY QUERY
--       SELECT <every column of changes> FROM {{.Database}}.events
--       WHERE verb IN ('create', 'update', 'patch', 'delete', 'deletecollection');
--
--   CREATE TABLE IF NOT EXISTS {{.Database}}.example{{.OnCluster}}
--   (
--       id   UInt64,
--       at   DateTime64(3, 'UTC')
--   )
--   ENGINE = {{.Engine "ReplacingMergeTree(at)"}}
--   ORDER BY id
--   {{.Settings}};

-- +goose Up
`
