package migrate

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pressly/goose/v3/database"
)

// state is what the database says is applied.
type state struct {
	// applied are the versions goose's version table lists as applied, ascending, without goose's 0.
	applied []int64
	// records are the checksum records by version; there may be records of versions goose does not
	// list (a migrator died between the two writes), which are ignored.
	records map[int64]Applied
}

// qualified names one of the engine's tables.
func (m *Migrator) qualified(table string) string { return m.opts.Database + "." + table }

// readState reads goose's version table and the checksum records. It creates nothing: without the
// tables, nothing is applied. With replicas it first makes this replica catch up on both tables.
func (m *Migrator) readState(ctx context.Context) (*state, error) {
	st := &state{records: map[int64]Applied{}}
	tables, err := m.existingTables(ctx)
	if err != nil {
		return nil, err
	}
	if !tables[VersionTable] {
		return st, nil
	}
	if m.data.Replicated {
		if err := m.syncReplicas(ctx, tables); err != nil {
			return nil, err
		}
	}
	store, err := database.NewStore(database.DialectClickHouse, m.qualified(VersionTable))
	if err != nil {
		return nil, fmt.Errorf("goose store: %w", err)
	}
	rows, err := store.ListMigrations(ctx, m.db)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", m.qualified(VersionTable), err)
	}
	for _, r := range rows {
		if r.IsApplied && r.Version > 0 && !slices.Contains(st.applied, r.Version) {
			st.applied = append(st.applied, r.Version)
		}
	}
	slices.Sort(st.applied)
	if tables[ChecksumTable] {
		if err := m.readRecords(ctx, st); err != nil {
			return nil, err
		}
	}
	return st, nil
}

// existingTables says which of the engine's version and checksum tables exist.
func (m *Migrator) existingTables(ctx context.Context) (map[string]bool, error) {
	rows, err := m.db.QueryContext(ctx, "SELECT name FROM system.tables WHERE database = ? AND name IN (?, ?)",
		m.opts.Database, VersionTable, ChecksumTable)
	if err != nil {
		return nil, fmt.Errorf("list tables of %s: %w", m.opts.Database, err)
	}
	defer func() { _ = rows.Close() }()
	tables := map[string]bool{}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, fmt.Errorf("list tables of %s: %w", m.opts.Database, err)
		}
		tables[name] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tables of %s: %w", m.opts.Database, err)
	}
	return tables, nil
}

// syncReplicas waits, at most ReplicaTimeout, until this replica has what others wrote to tables.
func (m *Migrator) syncReplicas(ctx context.Context, tables map[string]bool) error {
	ctx, cancel := context.WithTimeout(ctx, m.opts.ReplicaTimeout)
	defer cancel()
	for _, t := range []string{VersionTable, ChecksumTable} {
		if !tables[t] {
			continue
		}
		if _, err := m.db.ExecContext(ctx, syncReplica(m.opts.Database, t)); err != nil {
			return fmt.Errorf("sync replica of %s (waited at most %s): %w", m.qualified(t), m.opts.ReplicaTimeout, err)
		}
	}
	return nil
}

// readRecords reads the checksum records into st.
func (m *Migrator) readRecords(ctx context.Context, st *state) error {
	rows, err := m.db.QueryContext(ctx, "SELECT version, name, checksum, applied_at, duration_ms FROM "+
		m.qualified(ChecksumTable)+" FINAL ORDER BY version")
	if err != nil {
		return fmt.Errorf("read %s: %w", m.qualified(ChecksumTable), err)
	}
	defer func() { _ = rows.Close() }()
	for rows.Next() {
		var a Applied
		var ms uint64
		if err := rows.Scan(&a.Version, &a.Name, &a.Checksum, &a.AppliedAt, &ms); err != nil {
			return fmt.Errorf("read %s: %w", m.qualified(ChecksumTable), err)
		}
		a.AppliedAt = a.AppliedAt.UTC()
		a.Duration = time.Duration(ms) * time.Millisecond
		st.records[a.Version] = a
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read %s: %w", m.qualified(ChecksumTable), err)
	}
	return nil
}

// report builds the Report of st for the target version.
func (m *Migrator) report(st *state, target int64) *Report {
	r := &Report{Target: target, Applied: []Applied{}, Pending: []Pending{}}
	for _, v := range st.applied {
		a, ok := st.records[v]
		if !ok {
			a = Applied{Version: v}
			if mig, ok := m.migration(v); ok {
				a.Name = mig.Name
			}
		}
		r.Applied = append(r.Applied, a)
		r.Current = max(r.Current, v)
	}
	for _, mig := range m.migrations {
		if mig.Version <= target && !slices.Contains(st.applied, mig.Version) {
			r.Pending = append(r.Pending, Pending{Version: mig.Version, Name: mig.Name})
		}
	}
	return r
}

// migration returns the embedded migration of version v.
func (m *Migrator) migration(v int64) (Migration, bool) {
	i := slices.IndexFunc(m.migrations, func(mig Migration) bool { return mig.Version == v })
	if i < 0 {
		return Migration{}, false
	}
	return m.migrations[i], true
}

// verify checks every applied version against the embedded files, oldest first, and that no embedded
// migration is older than the newest applied one without being applied. It returns the first
// disagreement as a *ChecksumError.
func (m *Migrator) verify(st *state) error {
	for _, v := range st.applied {
		if err := m.verifyVersion(v, st); err != nil {
			return err
		}
	}
	if len(st.applied) == 0 {
		return nil
	}
	newest := st.applied[len(st.applied)-1]
	for _, mig := range m.migrations {
		if mig.Version < newest && !slices.Contains(st.applied, mig.Version) {
			want := st.records[newest].Name
			if want == "" {
				want = fmt.Sprintf("version %d", newest)
			}
			return &ChecksumError{Version: mig.Version, Name: mig.Name, Kind: KindOutOfOrder, Want: want}
		}
	}
	return nil
}

// verifyVersion checks one applied version.
func (m *Migrator) verifyVersion(v int64, st *state) error {
	rec, recorded := st.records[v]
	mig, embedded := m.migration(v)
	switch {
	case !embedded && recorded:
		if moved, ok := m.renumbered(rec); ok {
			return &ChecksumError{Version: v, Name: rec.Name, Kind: KindRenumbered, Want: rec.Name, Got: moved.Name}
		}
		return &ChecksumError{Version: v, Name: rec.Name, Kind: KindMissing, Want: rec.Name}
	case !embedded:
		return &ChecksumError{Version: v, Kind: KindMissing}
	case !recorded:
		return &ChecksumError{Version: v, Name: mig.Name, Kind: KindUnrecorded, Got: mig.Checksum}
	case rec.Name != mig.Name:
		return &ChecksumError{Version: v, Name: rec.Name, Kind: KindRenamed, Want: rec.Name, Got: mig.Name}
	case rec.Checksum != mig.Checksum && m.opts.Superseded[rec.Checksum] != "":
		return &ChecksumError{Version: v, Name: mig.Name, Kind: KindSuperseded, Want: rec.Checksum, Got: m.opts.Superseded[rec.Checksum]}
	case rec.Checksum != mig.Checksum:
		return &ChecksumError{Version: v, Name: mig.Name, Kind: KindChanged, Want: rec.Checksum, Got: mig.Checksum}
	}
	return nil
}

// renumbered finds the embedded file that an applied record now lives in under another number: the
// same name after the number, or the same content.
func (m *Migrator) renumbered(rec Applied) (Migration, bool) {
	_, suffix, _ := strings.Cut(rec.Name, "_")
	for _, mig := range m.migrations {
		_, s, _ := strings.Cut(mig.Name, "_")
		if mig.Version != rec.Version && (s == suffix || mig.Checksum == rec.Checksum) {
			return mig, true
		}
	}
	return Migration{}, false
}
