package migrate

import (
	"context"
	"database/sql"
	"fmt"
	"text/template"
)

// Lease is the schema lock while it is held.
type Lease struct{ ls *lease }

// Context ends when the lock is lost (taken over, or not renewed in time); statements run under the
// lock use it.
func (l Lease) Context() context.Context { return l.ls.ctx }

// Check returns a *LockedError with Lost set when the lock is no longer this migrator's.
func (l Lease) Check() error { return l.ls.check(l.ls.ctx) }

// WithCause replaces err, when it is the cancellation of the lease's context, by the reason the lease
// ended (e.g. a *LockedError: the lock was lost).
func (l Lease) WithCause(err error) error { return withCause(l.ls.ctx, err) }

// Locked runs fn under the schema lock of m's database, which it takes as Up does (a *LockedError,
// without running fn, when another migrator holds it) and releases after. Other packages that change
// the database's shared state (the retention owner) serialise with migrations through it.
func (m *Migrator) Locked(ctx context.Context, fn func(Lease) error) (retErr error) {
	lock, err := m.openLock(ctx)
	if err != nil {
		return err
	}
	ls, err := lock.acquire(ctx)
	if err != nil {
		return err
	}
	defer func() {
		if err := ls.release(ctx); err != nil && retErr == nil {
			retErr = fmt.Errorf("release the schema lock: %w", err)
		}
	}()
	return fn(Lease{ls})
}

// Render renders t for m's topology (TemplateData: database, ON CLUSTER, engines).
func (m *Migrator) Render(t *template.Template) (string, error) { return render(t, m.data) }

// ExecTemplate renders t (Render) and runs it, with the bounded waits for other replicas of Up's
// statements.
func (m *Migrator) ExecTemplate(ctx context.Context, t *template.Template) error {
	stmt, err := m.Render(t)
	if err != nil {
		return err
	}
	return m.exec(ctx, stmt)
}

// SyncReplica makes this replica fetch what the others wrote to table before it is read; nothing on a
// single node.
func (m *Migrator) SyncReplica(ctx context.Context, table string) error {
	if !m.data.Replicated {
		return nil
	}
	return m.exec(ctx, syncReplica(m.opts.Database, table))
}

// DB is the pool m runs its statements on.
func (m *Migrator) DB() *sql.DB { return m.db }

// Database is the database m migrates.
func (m *Migrator) Database() string { return m.opts.Database }

// Options are m's options, defaults filled in.
func (m *Migrator) Options() Options { return m.opts }

// Qualified is table in m's database: database.table.
func (m *Migrator) Qualified(table string) string { return m.qualified(table) }
