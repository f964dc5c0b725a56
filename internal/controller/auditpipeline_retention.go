package controller

import (
	"context"
	"database/sql"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
	"github.com/auditpipeline/auditpipeline-operator/internal/migrate"
	"github.com/auditpipeline/auditpipeline-operator/internal/tiering"
)

// eventsTable is the table whose TTL carries the pipeline's tiering and retention.
const eventsTable = "events"

// reconcileRetention applies storage.cold.moveAfter and retention.deleteAfter to the live events table
// (a diff-guarded ALTER TABLE ... MODIFY TTL), so that changing the spec changes the table without a
// migration, and records the TTL in force in status.clickhouse.ttl.
func (r *AuditPipelineReconciler) reconcileRetention(ctx context.Context, db *sql.DB, p *v1alpha1.AuditPipeline, opts migrate.Options) error {
	table := tiering.Table{Database: opts.Database, Name: eventsTable}
	if !opts.Replicated {
		table.OnCluster = opts.Cluster
	}
	res, err := tiering.ReconcileTTL(ctx, db, table, tiering.TTL(&p.Spec.ClickHouse, tiering.EventTimeColumn))
	if err != nil {
		return fmt.Errorf("apply retention to %s.%s: %w", table.Database, table.Name, err)
	}
	if p.Status.ClickHouse != nil {
		p.Status.ClickHouse.TTL = res.InForce
	}
	if res.Changed {
		ttl := res.InForce
		if ttl == "" {
			ttl = "none (events are kept forever)"
		}
		logf.FromContext(ctx).Info("events table TTL changed", "ttl", ttl, "materialized", res.Materialized)
		r.event(p, corev1.EventTypeNormal, "TTLChanged", "Retention",
			"TTL of %s.%s is now %s (existing data re-evaluated: %v)", table.Database, table.Name, ttl, res.Materialized)
	}
	return nil
}
