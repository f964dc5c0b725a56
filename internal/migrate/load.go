package migrate

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"strconv"
	"text/template"
)

// Migration is one migration file: its number, its file name, the checksum of its raw bytes and the
// template its SQL is rendered from. Load makes them; the zero value is not usable.
type Migration struct {
	// Version is the number the file name starts with, e.g. 1 for 00001_events.sql.
	Version int64
	// Name is the file name, e.g. 00001_events.sql.
	Name string
	// Checksum is "sha256:" and the hex SHA-256 of the raw file bytes, before rendering: a change of
	// the template is a change of the checksum.
	Checksum string

	tmpl *template.Template
}

// fileName is what a migration file must be called: five digits, an underscore, a lower-case name.
var fileName = regexp.MustCompile(`^([0-9]{5})_([a-z0-9][a-z0-9_]*)\.sql$`)

// Load reads every migration file in the root of fsys (migrations.FS in production), checks it and
// returns the migrations sorted by version. It fails, naming the file, on anything but NNNNN_name.sql
// files at the root, a version of 0, two files with one version, a template that does not parse or
// render, or SQL without a "-- +goose Up" section, with a Down section, or with an unterminated
// statement.
func Load(fsys fs.FS) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var ms []Migration
	byVersion := map[int64]string{}
	for _, e := range entries {
		m, err := loadFile(fsys, e)
		if err != nil {
			return nil, err
		}
		if other, ok := byVersion[m.Version]; ok {
			return nil, fmt.Errorf("migrations %s and %s have the same version %d: every file needs a number of its own", other, m.Name, m.Version)
		}
		byVersion[m.Version] = m.Name
		ms = append(ms, m)
	}
	if len(ms) == 0 {
		return nil, fmt.Errorf("read migrations: no NNNNN_name.sql file found")
	}
	slices.SortFunc(ms, func(a, b Migration) int { return cmp.Compare(a.Version, b.Version) })
	return ms, nil
}

// loadFile reads and checks one migration file.
func loadFile(fsys fs.FS, e fs.DirEntry) (Migration, error) {
	name := e.Name()
	match := fileName.FindStringSubmatch(name)
	if e.IsDir() || match == nil {
		return Migration{}, fmt.Errorf("migration %s: not a migration file: want NNNNN_name.sql (five digits, then lower-case letters, digits and '_')", name)
	}
	version, err := strconv.ParseInt(match[1], 10, 64)
	if err != nil || version < 1 {
		return Migration{}, fmt.Errorf("migration %s: version must be 1 or more", name)
	}
	raw, err := fs.ReadFile(fsys, name)
	if err != nil {
		return Migration{}, fmt.Errorf("migration %s: %w", name, err)
	}
	sum := sha256.Sum256(raw)
	m := Migration{Version: version, Name: name, Checksum: "sha256:" + hex.EncodeToString(sum[:])}
	m.tmpl, err = template.New(name).Option("missingkey=error").Parse(string(raw))
	if err != nil {
		return Migration{}, fmt.Errorf("migration %s: parse template: %w", name, err)
	}
	// Render it for a single node and for a replicated cluster now, so that a bad template or bad goose
	// annotations fail at load time (in the tests of every change) rather than at a customer's.
	for _, data := range []TemplateData{exampleSingle, exampleReplicated} {
		if _, err := m.statements(data); err != nil {
			return Migration{}, err
		}
	}
	return m, nil
}

// statements renders m with data and splits the Up section into statements.
func (m Migration) statements(data TemplateData) ([]string, error) {
	sql, err := render(m.tmpl, data)
	if err != nil {
		return nil, fmt.Errorf("migration %s: %w", m.Name, err)
	}
	stmts, err := upStatements(sql)
	if err != nil {
		return nil, fmt.Errorf("migration %s: %w", m.Name, err)
	}
	return stmts, nil
}
