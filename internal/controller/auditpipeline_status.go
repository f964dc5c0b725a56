package controller

import (
	"fmt"
	"strings"
	"unicode/utf8"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
)

// The helpers in this file only change the in-memory status; Reconcile writes it once per pass.

// reasonClass says what a condition reason means for the pipeline as a whole.
type reasonClass int

const (
	// summary: a reason of Ready, Reconciling or Stalled themselves, or of a True component.
	summary reasonClass = iota
	// converging: the component gets there by itself (Reconciling).
	converging
	// stalls: a person (or a newer operator) must change something (Stalled).
	stalls
)

// reasonClasses classifies every reason of api/v1alpha1; TestEveryReasonIsClassified fails for one
// that is missing, so that a new reason cannot be forgotten here.
var reasonClasses = map[string]reasonClass{
	v1alpha1.ReasonSucceeded:          summary,
	v1alpha1.ReasonProgressing:        summary,
	v1alpha1.ReasonComponentsNotReady: summary,
	v1alpha1.ReasonSuspended:          summary,
	v1alpha1.ReasonDeleting:           summary,
	v1alpha1.ReasonReconcileFailed:    summary,
	v1alpha1.ReasonReady:              summary,
	v1alpha1.ReasonApplied:            summary,
	// EventsFlowing is not a component of Ready (see its doc): its reasons stall or hold back nothing.
	v1alpha1.ReasonFlowing:        summary,
	v1alpha1.ReasonCanaryLate:     summary,
	v1alpha1.ReasonCanaryLost:     summary,
	v1alpha1.ReasonCanaryDisabled: summary,
	v1alpha1.ReasonNotYetSeen:     summary,

	v1alpha1.ReasonSecretNotFound:       converging, // the Secret may be created: it is watched
	v1alpha1.ReasonWaitingForClickHouse: converging,
	v1alpha1.ReasonMigrationFailed:      converging, // retried with backoff
	v1alpha1.ReasonLocked:               converging,
	v1alpha1.ReasonUnreachable:          converging,
	v1alpha1.ReasonValidating:           converging,
	v1alpha1.ReasonRollingOut:           converging,
	v1alpha1.ReasonInstalling:           converging,
	v1alpha1.ReasonInstallationFailed:   converging, // Altinity retries by itself
	v1alpha1.ReasonProvisioning:         converging,
	v1alpha1.ReasonErrored:              converging, // NACK retries by itself

	v1alpha1.ReasonInvalidSpec:          stalls,
	v1alpha1.ReasonChecksumMismatch:     stalls,
	v1alpha1.ReasonDatabaseUnsupported:  stalls,
	v1alpha1.ReasonSchemaConflict:       stalls,
	v1alpha1.ReasonNotImplemented:       stalls,
	v1alpha1.ReasonDependencyMissing:    stalls,
	v1alpha1.ReasonAuthenticationFailed: stalls,
	v1alpha1.ReasonConfigInvalid:        stalls,
	v1alpha1.ReasonSecretUnusable:       stalls,
	v1alpha1.ReasonRetentionConflict:    stalls,
	v1alpha1.ReasonStreamInUse:          stalls,
}

func setCondition(p *v1alpha1.AuditPipeline, condType string, status metav1.ConditionStatus, reason, message string) {
	apimeta.SetStatusCondition(&p.Status.Conditions, metav1.Condition{
		Type:               condType,
		Status:             status,
		Reason:             reason,
		Message:            message,
		ObservedGeneration: p.Generation,
	})
}

// markComponentReady sets a component condition True.
func markComponentReady(p *v1alpha1.AuditPipeline, condType, message string) {
	setCondition(p, condType, metav1.ConditionTrue, v1alpha1.ReasonReady, message)
}

// markComponentNotReady sets a component condition False with a reason that says why.
func markComponentNotReady(p *v1alpha1.AuditPipeline, condType, reason, format string, args ...any) {
	setCondition(p, condType, metav1.ConditionFalse, reason, fmt.Sprintf(format, args...))
}

// markNotImplemented sets a component condition Unknown: this operator version cannot vouch for it.
func markNotImplemented(p *v1alpha1.AuditPipeline, condType, what string) {
	setCondition(p, condType, metav1.ConditionUnknown, v1alpha1.ReasonNotImplemented,
		"this version of the operator does not reconcile "+what+" yet")
}

// summarize derives Ready, Reconciling and Stalled from the component conditions. reconcileErr is the
// error of the pass, if any: it makes Ready False with reason ReconcileFailed. The summaries name the
// components and their reasons only: each component's own condition carries the details, said once.
func summarize(p *v1alpha1.AuditPipeline, reconcileErr error) {
	var notReady, waiting, stalled []string
	var stalledReason string
	for _, t := range v1alpha1.ComponentConditions {
		c := apimeta.FindStatusCondition(p.Status.Conditions, t)
		switch {
		case c == nil:
			notReady = append(notReady, t+" (not observed yet)")
			waiting = append(waiting, t)
		case c.Status == metav1.ConditionTrue:
			continue
		case reasonClasses[c.Reason] == stalls:
			notReady = append(notReady, t+" ("+c.Reason+")")
			stalled = append(stalled, t+" ("+c.Reason+")")
			if stalledReason == "" {
				stalledReason = c.Reason
			}
		default:
			notReady = append(notReady, t+" ("+c.Reason+")")
			waiting = append(waiting, t)
		}
	}

	switch {
	case reconcileErr != nil:
		setCondition(p, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonReconcileFailed,
			"retrying after an error: "+shorten(reconcileErr.Error(), maxSummaryError))
	case len(notReady) == 0:
		setCondition(p, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonSucceeded, "every component is ready and the schema is at its target version")
	default:
		setCondition(p, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonComponentsNotReady, "not ready: "+strings.Join(notReady, ", "))
	}

	switch {
	case len(stalled) > 0:
		setCondition(p, v1alpha1.ConditionStalled, metav1.ConditionTrue, stalledReason,
			"needs a change to go on: "+strings.Join(stalled, ", ")+"; its condition says what to fix")
		apimeta.RemoveStatusCondition(&p.Status.Conditions, v1alpha1.ConditionReconciling)
	case len(waiting) > 0 || reconcileErr != nil:
		msg := "waiting for " + strings.Join(waiting, ", ")
		if len(waiting) == 0 {
			msg = "retrying after an error"
		}
		setCondition(p, v1alpha1.ConditionReconciling, metav1.ConditionTrue, v1alpha1.ReasonProgressing, msg)
		apimeta.RemoveStatusCondition(&p.Status.Conditions, v1alpha1.ConditionStalled)
	default:
		apimeta.RemoveStatusCondition(&p.Status.Conditions, v1alpha1.ConditionReconciling)
		apimeta.RemoveStatusCondition(&p.Status.Conditions, v1alpha1.ConditionStalled)
	}
}

// maxSummaryError bounds the error quoted in Ready; the log has all of it.
const maxSummaryError = 200

// shorten cuts s to at most n bytes at a character boundary, marking the cut with "...".
func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}

// markSuspended reports that the operator neither changes nor checks anything while spec.suspend is
// true. Ready becomes Unknown: the components keep running as last reconciled, unobserved.
func markSuspended(p *v1alpha1.AuditPipeline) {
	setCondition(p, v1alpha1.ConditionReady, metav1.ConditionUnknown, v1alpha1.ReasonSuspended,
		"spec.suspend is true: the operator neither changes nor checks the pipeline until it is false")
	apimeta.RemoveStatusCondition(&p.Status.Conditions, v1alpha1.ConditionReconciling)
	apimeta.RemoveStatusCondition(&p.Status.Conditions, v1alpha1.ConditionStalled)
}

// markDeleting reports that the deletion policy is being carried out.
func markDeleting(p *v1alpha1.AuditPipeline) {
	setCondition(p, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonDeleting,
		fmt.Sprintf("deleting with deletionPolicy %s", p.Spec.DeletionPolicy))
	setCondition(p, v1alpha1.ConditionReconciling, metav1.ConditionTrue, v1alpha1.ReasonDeleting,
		"carrying out the deletion policy")
	apimeta.RemoveStatusCondition(&p.Status.Conditions, v1alpha1.ConditionStalled)
}
