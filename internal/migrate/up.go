package migrate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/pressly/goose/v3"
)

// Up applies the pending migrations up to target ("latest", "" or a version number), oldest first,
// and returns the resulting report. It never migrates down: with the schema already beyond target it
// applies nothing.
//
// Before applying anything it verifies every applied version against the embedded files; a
// disagreement is a *ChecksumError and nothing is applied. When something is pending it creates the
// database if needed, takes the schema lock (a *LockedError if another migrator holds it), verifies
// again under the lock, and applies each version through goose, recording its checksum; OnApplied
// is called after each. A failing migration is a *MigrationError and is not recorded. With nothing
// pending, Up writes nothing and takes no lock.
//
// The report is returned with every error except an invalid target or a state that could not be
// read; after a failure it lists what was applied before it.
func (m *Migrator) Up(ctx context.Context, target string) (*Report, error) {
	tgt, err := m.resolveTarget(target)
	if err != nil {
		return nil, err
	}
	st, err := m.readState(ctx)
	if err != nil {
		return nil, err
	}
	rep := m.report(st, tgt)
	if err := m.verify(st); err != nil {
		return rep, err
	}
	if len(rep.Pending) == 0 {
		return rep, nil
	}
	return m.upLocked(ctx, rep)
}

// upLocked creates what is missing, takes the lock and applies rep.Pending.
func (m *Migrator) upLocked(ctx context.Context, rep *Report) (_ *Report, retErr error) {
	if err := m.exec(ctx, createDatabase(m.opts)); err != nil {
		return rep, fmt.Errorf("create database %s: %w", m.opts.Database, err)
	}
	if err := m.checkDatabase(ctx); err != nil {
		return rep, err
	}
	lock, err := m.openLock(ctx)
	if err != nil {
		return rep, err
	}
	ls, err := lock.acquire(ctx)
	if err != nil {
		return rep, err
	}
	defer func() {
		if err := ls.release(ctx); err != nil && retErr == nil {
			retErr = fmt.Errorf("release the schema lock: %w", err)
		}
	}()
	journaled, err := m.tableEngine(ls.ctx, AttemptTable)
	if err != nil {
		return rep, withCause(ls.ctx, err)
	}
	versioned, err := m.tableEngine(ls.ctx, VersionTable)
	if err != nil {
		return rep, withCause(ls.ctx, err)
	}
	for _, t := range []string{ddl(createChecksumTable, m.data), ddl(createVersionTable, m.data), ddl(createAttemptTable, m.data)} {
		if err := m.exec(ls.ctx, t); err != nil {
			return rep, fmt.Errorf("create the migration tables: %w", withCause(ls.ctx, err))
		}
	}
	// Another migrator may have applied versions between the first read and the lock.
	st, err := m.readState(ls.ctx)
	if err != nil {
		return rep, withCause(ls.ctx, err)
	}
	rep = m.report(st, rep.Target)
	if err := m.verify(st); err != nil {
		return rep, err
	}
	if journaled == "" && versioned != "" && len(rep.Pending) > 0 {
		// An engine older than the journal migrated this database: the first pending migration may have
		// died half-way under it, so what it creates is taken as ours.
		mig, _ := m.migration(rep.Pending[0].Version)
		if err := m.journal(ls.ctx, mig, "an engine before "+AttemptTable); err != nil {
			return rep, err
		}
	}
	return rep, m.apply(ls, rep)
}

// apply applies rep.Pending one version at a time through goose, moving each from Pending to Applied.
func (m *Migrator) apply(ls *lease, rep *Report) error {
	recorded := map[int64]Applied{}
	p, err := m.provider(recorded)
	if err != nil {
		return err
	}
	for len(rep.Pending) > 0 {
		next := rep.Pending[0]
		if err := ls.check(ls.ctx); err != nil {
			return err
		}
		mig, _ := m.migration(next.Version) // pending versions are embedded ones
		if err := m.claim(ls.ctx, mig); err != nil {
			return err
		}
		if _, err := p.UpTo(ls.ctx, next.Version); err != nil {
			var failed *MigrationError
			if errors.As(err, &failed) {
				return failed
			}
			return fmt.Errorf("apply %s: %w", next.Name, withCause(ls.ctx, err))
		}
		a, ok := recorded[next.Version]
		if !ok {
			return fmt.Errorf("apply %s: goose did not run it", next.Name)
		}
		rep.Applied = append(rep.Applied, a)
		rep.Current = max(rep.Current, a.Version)
		rep.Pending = rep.Pending[1:]
		if m.opts.OnApplied != nil {
			m.opts.OnApplied(a)
		}
	}
	return nil
}

// provider returns a goose provider over m's database whose migrations are the embedded ones, as Go
// migrations that run the rendered statements and record the checksum into recorded. Goose decides
// what is applied and keeps its version table.
func (m *Migrator) provider(recorded map[int64]Applied) (*goose.Provider, error) {
	gms := make([]*goose.Migration, 0, len(m.migrations))
	for _, mig := range m.migrations {
		up := &goose.GoFunc{RunDB: m.runner(mig, recorded), Mode: goose.TransactionDisabled}
		gms = append(gms, goose.NewGoMigration(mig.Version, up, &goose.GoFunc{Mode: goose.TransactionDisabled}))
	}
	opts := []goose.ProviderOption{
		goose.WithTableName(m.qualified(VersionTable)),
		goose.WithGoMigrations(gms...),
		goose.WithDisableGlobalRegistry(true),
		goose.WithIsolateDDL(true), // no transactions in ClickHouse
	}
	if m.opts.Logger != nil {
		opts = append(opts, goose.WithSlog(m.opts.Logger), goose.WithVerbose(true))
	} else {
		opts = append(opts, goose.WithSlog(slog.New(slog.DiscardHandler)))
	}
	p, err := goose.NewProvider(goose.DialectClickHouse, m.db, nil, opts...)
	if err != nil {
		return nil, fmt.Errorf("goose provider: %w", err)
	}
	return p, nil
}

// runner returns the goose Up function of mig: run its statements, then record its checksum (before
// goose writes its version row).
func (m *Migrator) runner(mig Migration, recorded map[int64]Applied) func(context.Context, *sql.DB) error {
	return func(ctx context.Context, db *sql.DB) error {
		start := time.Now()
		for i, stmt := range m.statements[mig.Version] {
			if _, err := db.ExecContext(m.ddlContext(ctx), stmt); err != nil {
				return &MigrationError{Version: mig.Version, Name: mig.Name, Statement: stmt, Index: i + 1, Err: withCause(ctx, err)}
			}
		}
		a := Applied{Version: mig.Version, Name: mig.Name, Checksum: mig.Checksum,
			AppliedAt: time.Now().UTC().Truncate(time.Millisecond), Duration: time.Since(start).Truncate(time.Millisecond)}
		_, err := db.ExecContext(ctx, "INSERT INTO "+m.qualified(ChecksumTable)+
			" (version, name, checksum, applied_at, duration_ms, applied_by) SELECT ?, ?, ?, fromUnixTimestamp64Milli(toInt64(?), 'UTC'), ?, ?",
			a.Version, a.Name, a.Checksum, a.AppliedAt.UnixMilli(), a.Duration.Milliseconds(), m.opts.Owner)
		if err != nil {
			return fmt.Errorf("record the checksum of %s: %w", mig.Name, err)
		}
		recorded[mig.Version] = a
		return nil
	}
}

// exec runs one of the engine's own DDL statements.
func (m *Migrator) exec(ctx context.Context, stmt string) error {
	_, err := m.db.ExecContext(m.ddlContext(ctx), stmt)
	return err
}

// ddlContext bounds the waits for other replicas of DDL with a cluster or a Replicated database: a
// replica that does not answer within ReplicaTimeout fails the statement instead of blocking it.
func (m *Migrator) ddlContext(ctx context.Context) context.Context {
	if !m.data.Replicated {
		return ctx
	}
	secs := int(m.opts.ReplicaTimeout.Seconds())
	return ch.Context(ctx, ch.WithSettings(ch.Settings{
		"distributed_ddl_task_timeout":                  secs,
		"database_replicated_initial_query_timeout_sec": secs,
	}))
}

// withCause replaces a cancellation error by the reason ctx was cancelled (e.g. the lease was lost).
func withCause(ctx context.Context, err error) error {
	if c := context.Cause(ctx); c != nil && c != context.Canceled && errors.Is(err, context.Canceled) {
		return c
	}
	return err
}
