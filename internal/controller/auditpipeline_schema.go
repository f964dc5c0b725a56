package controller

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
	"github.com/auditpipeline/auditpipeline-operator/internal/clickhouse"
	"github.com/auditpipeline/auditpipeline-operator/internal/migrate"
	"github.com/auditpipeline/auditpipeline-operator/internal/render"
	"github.com/auditpipeline/auditpipeline-operator/internal/tiering"
	"github.com/auditpipeline/auditpipeline-operator/migrations"
)

// embeddedMigrations are the migrations this binary ships, loaded and checked once. An error here is a
// defect of the build, reported on every pipeline.
var embeddedMigrations = sync.OnceValues(func() ([]migrate.Migration, error) {
	return migrate.Load(migrations.FS)
})

// reconcileSchema migrates the pipeline's database up to spec.schema.targetVersion and reports the
// schema in status.schema and SchemaReady. Nothing is applied when any applied version no longer matches
// the file this operator ships.
func (r *AuditPipelineReconciler) reconcileSchema(ctx context.Context, p *v1alpha1.AuditPipeline) (ctrl.Result, error) {
	if !apimeta.IsStatusConditionTrue(p.Status.Conditions, v1alpha1.ConditionClickHouseReady) {
		return ctrl.Result{}, notReady(v1alpha1.ReasonWaitingForClickHouse, "waiting for ClickHouseReady before migrating the schema")
	}
	m, closeDB, err := r.migrator(ctx, p)
	if err != nil {
		return ctrl.Result{}, err
	}
	pass := passOf(ctx)
	pass.closers = append(pass.closers, closeDB)
	report, err := m.Up(ctx, p.Spec.Schema.TargetVersion)
	p.Status.Schema = schemaStatus(p.Status.Schema, report, err)
	res, err := r.schemaOutcome(p, report, err)
	if err == nil && apimeta.IsStatusConditionTrue(p.Status.Conditions, v1alpha1.ConditionSchemaReady) {
		pass.migrator = m // the retention step goes on from here
	}
	return res, err
}

// migrator opens a connection pool to p's ClickHouse and the migration engine over it, for the schema
// and retention steps; closeDB closes the pool.
func (r *AuditPipelineReconciler) migrator(ctx context.Context, p *v1alpha1.AuditPipeline) (m *migrate.Migrator, closeDB func(), err error) {
	ms, err := embeddedMigrations()
	if err != nil {
		return nil, nil, fmt.Errorf("load the embedded migrations: %w", err)
	}
	ep, err := r.clickHouseEndpoint(ctx, p)
	if err != nil {
		return nil, nil, err
	}
	db := clickhouse.OpenDB(ep)
	m, err = migrate.New(db, ms, r.migrateOptions(ctx, p))
	if err != nil {
		_ = db.Close()
		return nil, nil, fmt.Errorf("prepare migrations: %w", err)
	}
	return m, func() { _ = db.Close() }, nil
}

// conflictRecheck is how often a pipeline in RetentionConflict, StreamInUse, DatabaseUnsupported or
// SchemaConflict looks again: what it waits for is another pipeline's spec, that pipeline going away, or
// a change inside ClickHouse, none of which it watches.
const conflictRecheck = 5 * time.Minute

// migrateOptions describe the pipeline's ClickHouse to the migration engine.
func (r *AuditPipelineReconciler) migrateOptions(ctx context.Context, p *v1alpha1.AuditPipeline) migrate.Options {
	ch := &p.Spec.ClickHouse
	opts := migrate.Options{
		Database:   ch.Database,
		Owner:      fmt.Sprintf("%s/%s/%s", r.identity(), p.Namespace, p.Name),
		Superseded: migrations.Superseded,
		OnApplied: func(a migrate.Applied) {
			logf.FromContext(ctx).Info("schema migration applied", "version", a.Version, "name", a.Name,
				"checksum", a.Checksum, "duration", a.Duration)
			r.event(p, corev1.EventTypeNormal, v1alpha1.ReasonApplied, "Migrate",
				"applied schema version %d (%s, %s) in %s", a.Version, a.Name, a.Checksum, a.Duration.Round(time.Millisecond))
		},
	}
	if m := ch.Managed; m != nil {
		opts.StoragePolicy = tiering.PolicyName
		if m.Replicas > 1 || m.Shards > 1 {
			opts.Cluster = render.ClickHouseCluster
			opts.Replicated = m.Replicas > 1
		}
	} else if ch.External != nil {
		opts.Cluster = ch.External.Cluster
	}
	return opts
}

// schemaOutcome turns the result of a migration attempt into SchemaReady True, or a typed outcome
// (notReady) that says why not and how to go on. A
// schema already above the target is InvalidSpec (the pipeline stalls): the operator never migrates
// down, so the spec must change.
func (r *AuditPipelineReconciler) schemaOutcome(p *v1alpha1.AuditPipeline, report *migrate.Report, err error) (ctrl.Result, error) {
	var checksum *migrate.ChecksumError
	var locked *migrate.LockedError
	var engine *migrate.DatabaseEngineError
	var conflict *migrate.ConflictError
	switch {
	case err == nil && report != nil && report.Current > report.Target:
		// Up applies nothing above the target and the operator never migrates down: the spec asks for a
		// schema older than the database's, which only a change of the spec can settle.
		return ctrl.Result{}, notReady(v1alpha1.ReasonInvalidSpec,
			"spec.schema.targetVersion %d is below the applied version %d: the operator never migrates down; set it to %d or %s",
			report.Target, report.Current, report.Current, migrate.LatestTarget)
	case err == nil && report != nil && report.Current == report.Target:
		setCondition(p, v1alpha1.ConditionSchemaReady, metav1.ConditionTrue, v1alpha1.ReasonApplied,
			fmt.Sprintf("schema at version %d, the target; %d migrations applied", report.Current, len(report.Applied)))
		return ctrl.Result{}, nil
	case err == nil:
		return ctrl.Result{}, fmt.Errorf("migration ended below its target without an error")
	case errors.Is(err, migrate.ErrInvalidTarget):
		return ctrl.Result{}, notReady(v1alpha1.ReasonInvalidSpec, "spec.schema.targetVersion: %v", err)
	case errors.As(err, &checksum):
		return ctrl.Result{}, notReady(v1alpha1.ReasonChecksumMismatch,
			"%v; nothing was applied (see docs/migrations.md, \"What the checksum protects\")", err)
	case errors.As(err, &engine):
		return ctrl.Result{}, notReady(v1alpha1.ReasonDatabaseUnsupported,
			"%v: choose another spec.clickhouse.database (a new pipeline), or drop database %s if it holds nothing of value",
			err, engine.Database).after(conflictRecheck) // fixed in ClickHouse, which is not watched
	case errors.As(err, &conflict):
		return ctrl.Result{}, notReady(v1alpha1.ReasonSchemaConflict,
			"%v; rename or drop it, or choose another spec.clickhouse.database (a new pipeline)", err).after(conflictRecheck)
	case errors.As(err, &locked):
		wait := time.Until(locked.Until)
		if wait < time.Second {
			wait = time.Second
		}
		return ctrl.Result{}, notReady(v1alpha1.ReasonLocked, "%v", err).after(wait + r.jitteredWait()/10)
	default:
		return ctrl.Result{}, notReady(v1alpha1.ReasonMigrationFailed, "%v", err).retrying(fmt.Errorf("migrate schema: %w", err))
	}
}

// schemaStatus turns a migration report into status.schema. Without a report (the state could not be
// read), the last known status stays and only lastError changes.
func schemaStatus(prev *v1alpha1.SchemaStatus, report *migrate.Report, err error) *v1alpha1.SchemaStatus {
	st := &v1alpha1.SchemaStatus{}
	if prev != nil {
		st = prev.DeepCopy()
	}
	st.LastError = ""
	if err != nil {
		st.LastError = err.Error()
	}
	if report == nil {
		return st
	}
	st.CurrentVersion, st.TargetVersion = report.Current, report.Target
	st.Summary = fmt.Sprintf("%d/%d", report.Current, report.Target)
	st.Applied = make([]v1alpha1.AppliedMigration, 0, len(report.Applied))
	for _, a := range report.Applied {
		st.Applied = append(st.Applied, v1alpha1.AppliedMigration{
			Version: a.Version, Name: a.Name, Checksum: a.Checksum,
			AppliedAt: metav1.NewTime(a.AppliedAt), Duration: metav1.Duration{Duration: a.Duration},
		})
	}
	st.Pending = nil
	for _, pm := range report.Pending {
		st.Pending = append(st.Pending, v1alpha1.PendingMigration{Version: pm.Version, Name: pm.Name})
	}
	return st
}
