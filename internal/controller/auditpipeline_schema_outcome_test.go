package controller

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
	"github.com/auditpipeline/auditpipeline-operator/internal/migrate"
)

// TestSchemaOutcome checks how each result of a migration attempt becomes SchemaReady, a requeue or an
// error, without a ClickHouse.
func TestSchemaOutcome(t *testing.T) {
	atTarget := &migrate.Report{Current: 3, Target: 3, Applied: []migrate.Applied{{Version: 1}, {Version: 2}, {Version: 3}}}
	aboveTarget := &migrate.Report{Current: 3, Target: 2, Applied: []migrate.Applied{{Version: 1}, {Version: 2}, {Version: 3}}}
	partial := &migrate.Report{Current: 1, Target: 3, Applied: []migrate.Applied{{Version: 1}},
		Pending: []migrate.Pending{{Version: 2}, {Version: 3}}}
	failed := &migrate.MigrationError{Version: 2, Name: "00002_x.sql", Index: 1, Statement: "ALTER TABLE x", Err: errors.New("boom")}
	tests := []struct {
		name        string
		report      *migrate.Report
		err         error
		status      metav1.ConditionStatus
		reason      string
		message     []string
		stalled     bool
		wantErr     bool
		wantRequeue bool
	}{
		{name: "applied up to the target", report: atTarget, status: metav1.ConditionTrue, reason: v1alpha1.ReasonApplied,
			message: []string{"schema at version 3, the target; 3 migrations applied"}},
		{name: "applied above the target", report: aboveTarget, status: metav1.ConditionFalse, reason: v1alpha1.ReasonInvalidSpec,
			stalled: true,
			message: []string{"spec.schema.targetVersion 2 is below the applied version 3",
				"the operator never migrates down; set it to 3 or latest"}},
		{name: "ended below the target without an error", report: partial, wantErr: true},
		{name: "invalid target", err: fmt.Errorf("%w %q: want %q or a version number", migrate.ErrInvalidTarget, "x", "latest"),
			status: metav1.ConditionFalse, reason: v1alpha1.ReasonInvalidSpec, stalled: true,
			message: []string{"spec.schema.targetVersion: invalid target version"}},
		{name: "checksum mismatch", report: atTarget,
			err:    &migrate.ChecksumError{Version: 1, Name: "00001_events.sql", Kind: migrate.KindChanged, Want: "sha256:a", Got: "sha256:b"},
			status: metav1.ConditionFalse, reason: v1alpha1.ReasonChecksumMismatch, stalled: true,
			message: []string{"00001_events.sql", "nothing was applied"}},
		{name: "database engine", report: partial, err: &migrate.DatabaseEngineError{Database: "audit", Engine: "Memory"},
			status: metav1.ConditionFalse, reason: v1alpha1.ReasonDatabaseUnsupported, stalled: true, wantRequeue: true,
			message: []string{"database audit has engine Memory", "choose another spec.clickhouse.database"}},
		{name: "foreign table", report: partial,
			err:    &migrate.ConflictError{Database: "audit", Objects: []string{"events"}, Version: 1, Name: "00001_events.sql"},
			status: metav1.ConditionFalse, reason: v1alpha1.ReasonSchemaConflict, stalled: true, wantRequeue: true,
			message: []string{"audit.events already exists but was not created by this schema's migrations", "rename or drop it"}},
		{name: "locked", report: partial, err: &migrate.LockedError{Owner: "other", Until: time.Now().Add(30 * time.Second)},
			status: metav1.ConditionFalse, reason: v1alpha1.ReasonLocked, wantRequeue: true,
			message: []string{"schema is locked by other"}},
		{name: "lock lost mid-migration", report: partial,
			err:    &migrate.MigrationError{Version: 2, Name: "00002_x.sql", Err: &migrate.LockedError{Owner: "other", Until: time.Now(), Lost: true}},
			status: metav1.ConditionFalse, reason: v1alpha1.ReasonLocked, wantRequeue: true,
			message: []string{"lost the schema lock to other"}},
		{name: "migration failed", report: partial, err: failed, status: metav1.ConditionFalse,
			reason: v1alpha1.ReasonMigrationFailed, wantErr: true, message: []string{"00002_x.sql", "boom"}},
		{name: "connection error", err: errors.New("dial tcp: connection refused"), status: metav1.ConditionFalse,
			reason: v1alpha1.ReasonMigrationFailed, wantErr: true, message: []string{"connection refused"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &AuditPipelineReconciler{}
			p := &v1alpha1.AuditPipeline{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", Generation: 4}}
			res, err := r.schemaOutcome(p, tc.report, tc.err)
			res, err = applyOutcome(p, v1alpha1.ConditionSchemaReady, res, err)
			if (err != nil) != tc.wantErr {
				t.Fatalf("error = %v, want an error: %v", err, tc.wantErr)
			}
			if tc.wantErr && tc.err != nil && !errors.Is(err, tc.err) {
				t.Errorf("error %v does not wrap %v", err, tc.err)
			}
			if (res.RequeueAfter > 0) != tc.wantRequeue {
				t.Errorf("RequeueAfter = %v, want a requeue: %v", res.RequeueAfter, tc.wantRequeue)
			}
			if tc.wantRequeue && res.RequeueAfter < time.Second {
				t.Errorf("RequeueAfter = %v, want at least a second", res.RequeueAfter)
			}
			c := apimeta.FindStatusCondition(p.Status.Conditions, v1alpha1.ConditionSchemaReady)
			if tc.status == "" {
				if c != nil {
					t.Errorf("SchemaReady = %+v, want it unset", c)
				}
				return
			}
			if c == nil {
				t.Fatal("SchemaReady is not set")
			}
			if c.Status != tc.status || c.Reason != tc.reason || c.ObservedGeneration != 4 {
				t.Errorf("SchemaReady = %s/%s (generation %d), want %s/%s (generation 4)",
					c.Status, c.Reason, c.ObservedGeneration, tc.status, tc.reason)
			}
			for _, want := range tc.message {
				if !strings.Contains(c.Message, want) {
					t.Errorf("SchemaReady message %q lacks %q", c.Message, want)
				}
			}
			if got := reasonClasses[c.Reason] == stalls; got != tc.stalled {
				t.Errorf("reason %s stalls the pipeline: %v, want %v", c.Reason, got, tc.stalled)
			}
		})
	}
}

// The retention step acts only on this pass's schema step: a SchemaReady True left from an earlier pass
// (the schema step of this pass failed before reaching ClickHouse) changes nothing.
func TestRetentionWaitsForThisPassesSchema(t *testing.T) {
	r := &AuditPipelineReconciler{} // no client: any use of ClickHouse or the API would panic
	p := &v1alpha1.AuditPipeline{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", Generation: 2}}
	setCondition(p, v1alpha1.ConditionSchemaReady, metav1.ConditionTrue, v1alpha1.ReasonApplied, "from the last pass")
	ctx, pass := withPass(context.Background())
	defer pass.close()
	res, err := r.reconcileRetention(ctx, p)
	if err != nil || res.RequeueAfter != 0 {
		t.Fatalf("reconcileRetention = %v, %v; want nothing done", res, err)
	}
	if c := apimeta.FindStatusCondition(p.Status.Conditions, v1alpha1.ConditionSchemaReady); c.Message != "from the last pass" {
		t.Errorf("SchemaReady changed to %+v", c)
	}
}
