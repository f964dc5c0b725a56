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
	"github.com/auditpipeline/auditpipeline-operator/migrations"
)

// reconcileRetention applies storage.cold.moveAfter and retention.deleteAfter to the live tables of
// the events (migrations.Tables; a diff-guarded ALTER TABLE ... MODIFY TTL each, the same TTL for all), so that changing the spec changes the tables without
// a migration, and records the TTL in force in status.clickhouse.ttl.
func (r *AuditPipelineReconciler) reconcileRetention(ctx context.Context, db *sql.DB, p *v1alpha1.AuditPipeline, opts migrate.Options) error {
	desired := tiering.TTL(&p.Spec.ClickHouse, tiering.EventTimeColumn)
	inForce := ""
	for i, name := range migrations.Tables {
		table := tiering.Table{Database: opts.Database, Name: name}
		if !opts.Replicated {
			table.OnCluster = opts.Cluster
		}
		res, err := tiering.ReconcileTTL(ctx, db, table, desired)
		if err != nil {
			return fmt.Errorf("apply retention to %s.%s: %w", table.Database, table.Name, err)
		}
		if i == 0 {
			inForce = res.InForce
		}
		if res.Changed {
			ttl := res.InForce
			if ttl == "" {
				ttl = "none (events are kept forever)"
			}
			logf.FromContext(ctx).Info("table TTL changed", "table", table.Name, "ttl", ttl, "materialized", res.Materialized)
			r.event(p, corev1.EventTypeNormal, "TTLChanged", "Retention",
				"TTL of %s.%s is now %s (existing data re-evaluated: %v)", table.Database, table.Name, ttl, res.Materialized)
		}
	}
	if p.Status.ClickHouse != nil {
		p.Status.ClickHouse.TTL = inForce
	}
	return nil
}
