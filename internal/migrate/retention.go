package migrate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"text/template"
	"time"
)

// RetentionOwnerTable records which pipeline owns the TTL of the database's tables: the newest row wins
// (ReplacingMergeTree over an empty sort key keeps one). Two pipelines that write into one database
// would otherwise each set their own TTL on every pass, and the shorter one would delete what the
// other keeps.
const RetentionOwnerTable = "auditpipeline_retention_owner"

var createRetentionOwnerTable = template.Must(template.New(RetentionOwnerTable).Parse(`CREATE TABLE IF NOT EXISTS {{.Database}}.` + RetentionOwnerTable + `{{.OnCluster}}
(
    owner String,
    pipeline_uid String,
    claimed_at DateTime64(6, 'UTC')
)
ENGINE = {{.Engine "ReplacingMergeTree(claimed_at)"}}
ORDER BY tuple()`))

// RetentionOwner is the pipeline that owns the database's TTL.
type RetentionOwner struct {
	// ID identifies the pipeline across clusters, e.g. "<kube-system UID>/<namespace>/<name>"; empty
	// when nobody owns the TTL.
	ID string
	// PipelineUID is the AuditPipeline object's UID, for people.
	PipelineUID string
	// Since is when it claimed the TTL.
	Since time.Time
}

// RetentionOwnedError means another pipeline owns the database's TTL.
type RetentionOwnedError struct {
	Owner RetentionOwner
}

func (e *RetentionOwnedError) Error() string {
	return fmt.Sprintf("the TTL of this database is owned by the AuditPipeline %s (uid %s) since %s",
		e.Owner.ID, e.Owner.PipelineUID, e.Owner.Since.UTC().Format(time.RFC3339))
}

// RetentionOwner reads who owns the database's TTL, without the lock; the zero RetentionOwner when
// nobody does (also before the table exists).
func (m *Migrator) RetentionOwner(ctx context.Context) (RetentionOwner, error) {
	var n uint64
	if err := m.db.QueryRowContext(ctx, "SELECT count() FROM system.tables WHERE database = ? AND name = ?",
		m.opts.Database, RetentionOwnerTable).Scan(&n); err != nil {
		return RetentionOwner{}, fmt.Errorf("look for %s: %w", m.qualified(RetentionOwnerTable), err)
	}
	if n == 0 {
		return RetentionOwner{}, nil
	}
	if m.data.Replicated {
		if err := m.exec(ctx, syncReplica(m.opts.Database, RetentionOwnerTable)); err != nil {
			return RetentionOwner{}, fmt.Errorf("sync %s: %w", m.qualified(RetentionOwnerTable), err)
		}
	}
	var o RetentionOwner
	err := m.db.QueryRowContext(ctx, "SELECT owner, pipeline_uid, claimed_at FROM "+m.qualified(RetentionOwnerTable)+
		" ORDER BY claimed_at DESC LIMIT 1").Scan(&o.ID, &o.PipelineUID, &o.Since)
	if errors.Is(err, sql.ErrNoRows) {
		return RetentionOwner{}, nil
	}
	if err != nil {
		return RetentionOwner{}, fmt.Errorf("read %s: %w", m.qualified(RetentionOwnerTable), err)
	}
	return o, nil
}

// ClaimRetention makes who the owner of the database's TTL and then runs apply, both under the schema
// lock: only when the owner, read again under the lock, is who already, nobody, or replaces (the ID of
// an owner the caller was asked to take over from). Otherwise it returns a *RetentionOwnedError and
// runs nothing; a *LockedError when another migrator holds the lock.
func (m *Migrator) ClaimRetention(ctx context.Context, who RetentionOwner, replaces string, apply func(context.Context) error) (retErr error) {
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
	if err := m.exec(ls.ctx, ddl(createRetentionOwnerTable, m.data)); err != nil {
		return fmt.Errorf("create %s: %w", m.qualified(RetentionOwnerTable), withCause(ls.ctx, err))
	}
	owner, err := m.RetentionOwner(ls.ctx)
	if err != nil {
		return withCause(ls.ctx, err)
	}
	if owner.ID != "" && owner.ID != who.ID && owner.ID != replaces {
		return &RetentionOwnedError{Owner: owner}
	}
	if owner.ID != who.ID {
		if _, err := m.db.ExecContext(ls.ctx, "INSERT INTO "+m.qualified(RetentionOwnerTable)+
			" (owner, pipeline_uid, claimed_at) SELECT ?, ?, now64(6, 'UTC')", who.ID, who.PipelineUID); err != nil {
			return fmt.Errorf("claim the TTL of %s: %w", m.opts.Database, withCause(ls.ctx, err))
		}
	}
	if err := ls.check(ls.ctx); err != nil {
		return err
	}
	return withCause(ls.ctx, apply(ls.ctx))
}
