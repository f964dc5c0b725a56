package controller

import (
	"errors"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
)

func TestSummarize(t *testing.T) {
	allReady := func(p *v1alpha1.AuditPipeline) {
		for _, c := range v1alpha1.ComponentConditions {
			markComponentReady(p, c, "ok")
		}
	}
	cases := []struct {
		name                        string
		set                         func(p *v1alpha1.AuditPipeline)
		err                         error
		ready, reconciling, stalled string
	}{
		{"nothing observed yet", func(*v1alpha1.AuditPipeline) {}, nil,
			"False/ComponentsNotReady", "True/Progressing", "absent"},
		{"every component ready", allReady, nil,
			"True/Succeeded", "absent", "absent"},
		{"one component converging", func(p *v1alpha1.AuditPipeline) {
			allReady(p)
			markComponentNotReady(p, v1alpha1.ConditionSchemaReady, v1alpha1.ReasonLocked, "locked by another migrator")
		}, nil, "False/ComponentsNotReady", "True/Progressing", "absent"},
		{"a checksum mismatch stalls", func(p *v1alpha1.AuditPipeline) {
			allReady(p)
			markComponentNotReady(p, v1alpha1.ConditionSchemaReady, v1alpha1.ReasonChecksumMismatch, "00002 changed")
			markComponentNotReady(p, v1alpha1.ConditionAggregatorReady, v1alpha1.ReasonRollingOut, "1/2")
		}, nil, "False/ComponentsNotReady", "absent", "True/ChecksumMismatch"},
		{"a component not implemented stalls", func(p *v1alpha1.AuditPipeline) {
			allReady(p)
			markNotImplemented(p, v1alpha1.ConditionStreamReady, "the stream")
		}, nil, "False/ComponentsNotReady", "absent", "True/NotImplemented"},
		{"an error is retried", allReady, errors.New("apply: conflict"),
			"False/ReconcileFailed", "True/Progressing", "absent"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := &v1alpha1.AuditPipeline{ObjectMeta: metav1.ObjectMeta{Generation: 4}}
			// Leftovers of an earlier pass must not survive.
			setCondition(p, v1alpha1.ConditionStalled, metav1.ConditionTrue, v1alpha1.ReasonInvalidSpec, "old")
			setCondition(p, v1alpha1.ConditionReconciling, metav1.ConditionTrue, v1alpha1.ReasonProgressing, "old")
			tc.set(p)
			summarize(p, tc.err)
			for cond, want := range map[string]string{v1alpha1.ConditionReady: tc.ready,
				v1alpha1.ConditionReconciling: tc.reconciling, v1alpha1.ConditionStalled: tc.stalled} {
				if got := conditionOf(p, cond); got != want {
					t.Errorf("%s = %s, want %s", cond, got, want)
				}
			}
		})
	}
}
