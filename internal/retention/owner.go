package retention

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"text/template"
	"time"

	"github.com/auditpipeline/auditpipeline-operator/internal/migrate"
)

// OwnerTable records which pipeline owns the TTL of the database's tables: the newest row wins
// (ReplacingMergeTree over an empty sort key keeps one). Two pipelines that write into one database
// would otherwise each set their own TTL on every pass, and the shorter one would delete what the
// other keeps.
const OwnerTable = "auditpipeline_retention_owner"

var createOwnerTable = template.Must(template.New(OwnerTable).Parse(`CREATE TABLE IF NOT EXISTS {{.Database}}.` + OwnerTable + `{{.OnCluster}}
(
    owner String,
    pipeline_uid String,
    claimed_at DateTime64(6, 'UTC')
)
ENGINE = {{.Engine "ReplacingMergeTree(claimed_at)"}}
ORDER BY tuple()`))

// Owner is the pipeline that owns the database's TTL.
type Owner struct {
	// ID identifies the pipeline across clusters, e.g. "<kube-system UID>/<namespace>/<name>"; empty
	// when nobody owns the TTL.
	ID string
	// PipelineUID is the AuditPipeline object's UID, for people.
	PipelineUID string
	// Since is when it claimed the TTL.
	Since time.Time
}

// OwnedError means another pipeline owns the database's TTL.
type OwnedError struct {
	Owner Owner
}

func (e *OwnedError) Error() string {
	return fmt.Sprintf("the TTL of this database is owned by the AuditPipeline %s (uid %s) since %s",
		e.Owner.ID, e.Owner.PipelineUID, e.Owner.Since.UTC().Format(time.RFC3339))
}

// ReadOwner reads who owns the TTL of m's database, without the lock; the zero Owner when nobody does
// (also before the table exists).
func ReadOwner(ctx context.Context, m *migrate.Migrator) (Owner, error) {
	var n uint64
	if err := m.DB().QueryRowContext(ctx, "SELECT count() FROM system.tables WHERE database = ? AND name = ?",
		m.Database(), OwnerTable).Scan(&n); err != nil {
		return Owner{}, fmt.Errorf("look for %s: %w", m.Qualified(OwnerTable), err)
	}
	if n == 0 {
		return Owner{}, nil
	}
	if err := m.SyncReplica(ctx, OwnerTable); err != nil {
		return Owner{}, fmt.Errorf("sync %s: %w", m.Qualified(OwnerTable), err)
	}
	var o Owner
	err := m.DB().QueryRowContext(ctx, "SELECT owner, pipeline_uid, claimed_at FROM "+m.Qualified(OwnerTable)+
		" ORDER BY claimed_at DESC LIMIT 1").Scan(&o.ID, &o.PipelineUID, &o.Since)
	if errors.Is(err, sql.ErrNoRows) {
		return Owner{}, nil
	}
	if err != nil {
		return Owner{}, fmt.Errorf("read %s: %w", m.Qualified(OwnerTable), err)
	}
	return o, nil
}

// Claim makes who the owner of the TTL of m's database and then runs apply, both under the schema lock
// (migrate.Migrator.Locked): only when the owner, read again under the lock, is who already, nobody, or
// replaces (the ID of an owner the caller was asked to take over from). Otherwise it returns an
// *OwnedError and runs nothing; a *migrate.LockedError when another migrator holds the lock.
func Claim(ctx context.Context, m *migrate.Migrator, who Owner, replaces string, apply func(context.Context) error) error {
	return m.Locked(ctx, func(l migrate.Lease) error {
		ctx := l.Context()
		if err := m.ExecTemplate(ctx, createOwnerTable); err != nil {
			return fmt.Errorf("create %s: %w", m.Qualified(OwnerTable), l.WithCause(err))
		}
		owner, err := ReadOwner(ctx, m)
		if err != nil {
			return l.WithCause(err)
		}
		if owner.ID != "" && owner.ID != who.ID && owner.ID != replaces {
			return &OwnedError{Owner: owner}
		}
		if owner.ID != who.ID {
			if _, err := m.DB().ExecContext(ctx, "INSERT INTO "+m.Qualified(OwnerTable)+
				" (owner, pipeline_uid, claimed_at) SELECT ?, ?, now64(6, 'UTC')", who.ID, who.PipelineUID); err != nil {
				return fmt.Errorf("claim the TTL of %s: %w", m.Database(), l.WithCause(err))
			}
		}
		if err := l.Check(); err != nil {
			return err
		}
		return l.WithCause(apply(ctx))
	})
}
