package migrate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"text/template"
	"time"
)

// AttemptTable journals every run of a migration's statements, written before the first statement:
// an object of a pending migration that already exists is ours only if an earlier run of that
// migration was journaled (it died half-way and is run again); otherwise it is someone else's.
const AttemptTable = "schema_migrations_attempts"

var createAttemptTable = template.Must(template.New(AttemptTable).Parse(`CREATE TABLE IF NOT EXISTS {{.Database}}.` + AttemptTable + `{{.OnCluster}}
(
    version Int64,
    name String,
    checksum String,
    started_at DateTime64(3, 'UTC'),
    started_by String
)
ENGINE = {{.Engine "MergeTree"}}
ORDER BY (version, started_at)`))

// supportedEngines are the database engines the audit schema works in: Atomic (the default), Replicated,
// and Shared (ClickHouse Cloud's). Others (Memory, Lazy, Ordinary, MySQL, ...) lose data, cannot hold
// the tables, or belong to someone else.
var supportedEngines = []string{"Atomic", "Replicated", "Shared"}

// checkDatabase returns a *DatabaseEngineError when m's database has an engine the schema cannot
// live in.
func (m *Migrator) checkDatabase(ctx context.Context) error {
	var engine string
	err := m.db.QueryRowContext(ctx, "SELECT engine FROM system.databases WHERE name = ?", m.opts.Database).Scan(&engine)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("database %s was not created", m.opts.Database)
	}
	if err != nil {
		return fmt.Errorf("read the engine of database %s: %w", m.opts.Database, err)
	}
	if !slices.Contains(supportedEngines, engine) {
		return &DatabaseEngineError{Database: m.opts.Database, Engine: engine}
	}
	return nil
}

// createdObject finds the object a statement creates: CREATE [OR REPLACE] TABLE | VIEW | MATERIALIZED
// VIEW | DICTIONARY [IF NOT EXISTS] db.name.
var createdObject = regexp.MustCompile(`(?is)^\s*CREATE\s+(?:OR\s+REPLACE\s+)?(?:TABLE|VIEW|MATERIALIZED\s+VIEW|DICTIONARY)\s+(?:IF\s+NOT\s+EXISTS\s+)?` +
	"`?" + `([A-Za-z0-9_]+)` + "`?" + `\.` + "`?" + `([A-Za-z0-9_]+)`)

// creates returns the names (without database) of the objects version creates that no earlier version
// creates too.
func (m *Migrator) creates(version int64) []string {
	earlier := map[string]bool{}
	for _, mig := range m.migrations {
		if mig.Version < version {
			for _, n := range objectsOf(m.statements[mig.Version], m.opts.Database) {
				earlier[n] = true
			}
		}
	}
	var out []string
	for _, n := range objectsOf(m.statements[version], m.opts.Database) {
		if !earlier[n] {
			out = append(out, n)
		}
	}
	return out
}

func objectsOf(stmts []string, database string) []string {
	var out []string
	for _, s := range stmts {
		if g := createdObject.FindStringSubmatch(s); g != nil && g[1] == database {
			out = append(out, g[2])
		}
	}
	return out
}

// claim is called with the lock held before mig's statements run. It refuses (a *ConflictError) when
// an object mig creates already exists and no earlier run of mig was journaled, then journals this run.
func (m *Migrator) claim(ctx context.Context, mig Migration) error {
	names := m.creates(mig.Version)
	if len(names) > 0 {
		var attempts uint64
		if err := m.db.QueryRowContext(ctx, "SELECT count() FROM "+m.qualified(AttemptTable)+" WHERE version = ?",
			mig.Version).Scan(&attempts); err != nil {
			return fmt.Errorf("read the attempts of %s: %w", mig.Name, withCause(ctx, err))
		}
		if attempts == 0 {
			existing, err := m.existing(ctx, names)
			if err != nil {
				return err
			}
			if len(existing) > 0 {
				return &ConflictError{Database: m.opts.Database, Objects: existing, Version: mig.Version, Name: mig.Name}
			}
		}
	}
	return m.journal(ctx, mig, m.opts.Owner)
}

// journal records a run of mig in AttemptTable.
func (m *Migrator) journal(ctx context.Context, mig Migration, by string) error {
	_, err := m.db.ExecContext(ctx, "INSERT INTO "+m.qualified(AttemptTable)+
		" (version, name, checksum, started_at, started_by) SELECT ?, ?, ?, fromUnixTimestamp64Milli(toInt64(?), 'UTC'), ?",
		mig.Version, mig.Name, mig.Checksum, time.Now().UnixMilli(), by)
	if err != nil {
		return fmt.Errorf("journal the run of %s: %w", mig.Name, withCause(ctx, err))
	}
	return nil
}

// existing returns which of names exist in m's database, sorted.
func (m *Migrator) existing(ctx context.Context, names []string) ([]string, error) {
	rows, err := m.db.QueryContext(ctx, "SELECT name FROM system.tables WHERE database = ? AND has(?, name) ORDER BY name",
		m.opts.Database, names)
	if err != nil {
		return nil, fmt.Errorf("list the tables of %s: %w", m.opts.Database, withCause(ctx, err))
	}
	defer func() { _ = rows.Close() }()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// qualifiedList renders names as db.name, comma separated.
func qualifiedList(database string, names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = database + "." + n
	}
	return strings.Join(q, ", ")
}
