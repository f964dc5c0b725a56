package controller

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
	"github.com/auditpipeline/auditpipeline-operator/internal/migrate"
	"github.com/auditpipeline/auditpipeline-operator/internal/retention"
	"github.com/auditpipeline/auditpipeline-operator/internal/tiering"
	"github.com/auditpipeline/auditpipeline-operator/migrations"
)

// AnnotationAdoptRetention, set on an AuditPipeline to the owner ID a RetentionConflict names, lets
// that pipeline take the database's TTL over from the owner (a pipeline that no longer exists).
const AnnotationAdoptRetention = "auditpipeline.io/adopt-retention"

// reconcileRetention is the retention step: once the schema step of this pass found the schema at its
// target (it hands its migrator over through the pass's state), it
// applies storage.cold.moveAfter and retention.deleteAfter to the live tables of the events
// (migrations.Tables; a diff-guarded ALTER TABLE ... MODIFY TTL each, the same TTL for all), so that
// changing the spec changes the tables without a migration, and records the TTL in force in
// status.clickhouse.ttl. It reports through SchemaReady (RetentionConflict, Locked, Failed).
//
// The TTL belongs to one pipeline, recorded in the database (retention.OwnerTable): the first
// to claim it, under the schema lock. Another pipeline writing into the same database, from this
// cluster or another, changes nothing; while its spec asks for another TTL, it gets a
// *retentionConflictError. It takes the TTL over when the owner is a pipeline of this cluster that no
// longer exists, or when its annotation AnnotationAdoptRetention names the owner. Without that, each
// would set its own TTL on every pass, and the shorter one would delete the events the other keeps.
func (r *AuditPipelineReconciler) reconcileRetention(ctx context.Context, p *v1alpha1.AuditPipeline) (ctrl.Result, error) {
	m := passOf(ctx).migrator
	if m == nil {
		return ctrl.Result{}, nil // the schema is not at its target in this pass: the schema step says why
	}
	err := r.keepRetention(ctx, m, p)
	var conflict *retentionConflictError
	var locked *migrate.LockedError
	switch {
	case errors.As(err, &conflict):
		// The other pipeline's spec may change: look again now and then.
		return ctrl.Result{}, notReady(v1alpha1.ReasonRetentionConflict, "%v", err).after(conflictRecheck)
	case errors.As(err, &locked):
		return r.schemaOutcome(p, nil, err)
	case err != nil:
		return ctrl.Result{}, notReady(v1alpha1.ReasonMigrationFailed, "%v", err).retrying(err)
	}
	return ctrl.Result{}, nil
}

// keepRetention makes the TTL of the live tables p's, when p owns it or may claim it.
func (r *AuditPipelineReconciler) keepRetention(ctx context.Context, m *migrate.Migrator, p *v1alpha1.AuditPipeline) error {
	db, opts := m.DB(), m.Options()
	desired := tiering.TTL(&p.Spec.ClickHouse, retention.EventTimeColumn)
	tables := make([]retention.Table, 0, len(migrations.Tables))
	for _, name := range migrations.Tables {
		table := retention.Table{Database: opts.Database, Name: name}
		if !opts.Replicated {
			table.OnCluster = opts.Cluster
		}
		tables = append(tables, table)
	}
	me, err := r.retentionOwnerID(ctx, p)
	if err != nil {
		return err
	}
	owner, err := retention.ReadOwner(ctx, m)
	if err != nil {
		return err
	}
	gone, err := r.ownerGone(ctx, owner.ID)
	if err != nil {
		return err
	}
	apply := func(ctx context.Context) error { return r.applyTTL(ctx, db, p, tables, desired) }
	switch adopt := p.Annotations[AnnotationAdoptRetention]; {
	case owner.ID == me:
		return apply(ctx)
	case owner.ID == "" || gone || (adopt != "" && owner.ID == adopt):
		err := retention.Claim(ctx, m, retention.Owner{ID: me, PipelineUID: string(p.UID)}, owner.ID, apply)
		var owned *retention.OwnedError
		if errors.As(err, &owned) {
			return r.retentionConflict(ctx, db, p, tables[0], desired, owned.Owner)
		}
		if err == nil {
			logf.FromContext(ctx).Info("claimed the TTL of the database", "database", opts.Database, "owner", me, "replaced", owner.ID)
			r.event(p, corev1.EventTypeNormal, "RetentionClaimed", "Retention",
				"this pipeline now owns the TTL of database %s (owner ID %s)%s", opts.Database, me, replacedNote(owner.ID, gone))
		}
		return err
	default:
		return r.retentionConflict(ctx, db, p, tables[0], desired, owner)
	}
}

func replacedNote(previous string, gone bool) string {
	switch {
	case previous == "":
		return ""
	case gone:
		return ", after " + previous + ", which no longer exists"
	}
	return ", after " + previous + ", as the annotation " + AnnotationAdoptRetention + " asked"
}

// applyTTL makes every table's TTL desired and records the TTL in force.
func (r *AuditPipelineReconciler) applyTTL(ctx context.Context, db *sql.DB, p *v1alpha1.AuditPipeline, tables []retention.Table, desired string) error {
	inForce := ""
	for i, table := range tables {
		res, err := retention.ReconcileTTL(ctx, db, table, desired)
		if err != nil {
			return fmt.Errorf("apply retention to %s.%s: %w", table.Database, table.Name, err)
		}
		if i == 0 {
			inForce = res.InForce
		}
		if res.Changed {
			ttl := res.InForce // never empty: the recompression in merges is always a rule of it
			logf.FromContext(ctx).Info("table TTL changed", "table", table.Name, "ttl", ttl, "materialized", res.Materialized)
			r.event(p, corev1.EventTypeNormal, "TTLChanged", "Retention",
				"TTL of %s.%s is now %s (existing data re-evaluated: %v)", table.Database, table.Name, ttl, res.Materialized)
		}
	}
	setTTLStatus(p, inForce)
	return nil
}

func setTTLStatus(p *v1alpha1.AuditPipeline, inForce string) {
	if p.Status.ClickHouse != nil {
		p.Status.ClickHouse.TTL = inForce
	}
}

// retentionConflictError means another pipeline owns the TTL of the database and it is not the TTL
// this pipeline's spec asks for.
type retentionConflictError struct {
	database, inForce, desired string
	owner                      retention.Owner
}

func (e *retentionConflictError) Error() string {
	show := func(ttl string) string {
		if ttl == "" {
			return "none"
		}
		return ttl
	}
	return fmt.Sprintf("database %s, which this pipeline writes into, is also written into by the AuditPipeline %s (uid %s), "+
		"which owns its TTL since %s: the TTL in force is %s, this pipeline's spec asks for %s, and the operator changes nothing. "+
		"Give both the same spec.clickhouse.retention and storage.cold.moveAfter, or this one another spec.clickhouse.database; "+
		"if that pipeline is of another cluster and no longer exists, take the TTL over with the annotation %s=%s "+
		"(one of this cluster that no longer exists is taken over without it)",
		e.database, e.owner.ID, e.owner.PipelineUID, e.owner.Since.UTC().Format(time.RFC3339),
		show(e.inForce), show(e.desired), AnnotationAdoptRetention, e.owner.ID)
}

// retentionConflict returns nil when the TTL owner's TTL is what p asks for anyway, and a
// *retentionConflictError otherwise.
func (r *AuditPipelineReconciler) retentionConflict(ctx context.Context, db *sql.DB, p *v1alpha1.AuditPipeline, table retention.Table, desired string, owner retention.Owner) error {
	inForce, equal, err := retention.CompareTTL(ctx, db, table, desired)
	if err != nil {
		return err
	}
	setTTLStatus(p, inForce)
	if equal {
		return nil
	}
	return &retentionConflictError{database: table.Database, inForce: inForce, desired: desired, owner: owner}
}

// ownerGone says whether id names a pipeline of this cluster that no longer exists (or is being
// deleted): its TTL may be taken over without the annotation.
func (r *AuditPipelineReconciler) ownerGone(ctx context.Context, id string) (bool, error) {
	cluster, key, ok := strings.Cut(id, "/")
	if !ok || cluster != r.cachedClusterID() {
		return false, nil
	}
	namespace, name, ok := strings.Cut(key, "/")
	if !ok {
		return false, nil
	}
	var q v1alpha1.AuditPipeline
	err := r.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, &q)
	if apierrors.IsNotFound(err) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("look for the AuditPipeline %s/%s that owns the TTL: %w", namespace, name, err)
	}
	return !q.DeletionTimestamp.IsZero(), nil
}

func (r *AuditPipelineReconciler) cachedClusterID() string {
	r.clusterMu.Lock()
	defer r.clusterMu.Unlock()
	return r.clusterID
}

// retentionOwnerID identifies p across clusters: the UID of this cluster's kube-system namespace, and
// p's namespace and name. A pipeline deleted and created again under its name keeps it.
func (r *AuditPipelineReconciler) retentionOwnerID(ctx context.Context, p *v1alpha1.AuditPipeline) (string, error) {
	uid, err := r.clusterUID(ctx)
	if err != nil {
		return "", err
	}
	return uid + "/" + p.Namespace + "/" + p.Name, nil
}

// clusterUID is the UID of this cluster's kube-system namespace, read once: it identifies the cluster
// (the TTL's owner, the default spec.clusterName).
func (r *AuditPipelineReconciler) clusterUID(ctx context.Context) (string, error) {
	r.clusterMu.Lock()
	defer r.clusterMu.Unlock()
	if r.clusterID == "" {
		var ns corev1.Namespace
		if err := r.APIReader.Get(ctx, types.NamespacedName{Name: metav1.NamespaceSystem}, &ns); err != nil {
			return "", fmt.Errorf("read namespace %s, whose UID identifies this cluster: %w", metav1.NamespaceSystem, err)
		}
		r.clusterID = string(ns.UID)
	}
	return r.clusterID, nil
}
