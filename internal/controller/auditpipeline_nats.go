package controller

import (
	"context"
	"errors"
	"fmt"
	"strings"

	nack "github.com/nats-io/nack/pkg/jetstream/apis/jetstream/v1beta2"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
	"github.com/auditpipeline/auditpipeline-operator/internal/render"
)

const nackOperator = "NACK, the NATS JetStream controller (v0.23 or later)"

// reconcileStream applies the NACK Stream and Consumer (and, when spec.nats references Secrets, the
// Account that carries the connection) and reports StreamReady from NACK's status. The Consumer is applied
// once NACK has created the stream, so NACK never tries to create it on a stream that does not exist yet.
func (r *AuditPipelineReconciler) reconcileStream(ctx context.Context, p *v1alpha1.AuditPipeline) (ctrl.Result, error) {
	if ok, err := r.requireSecrets(ctx, p, natsSecrets(p)); !ok {
		return ctrl.Result{}, err
	}
	owner, stream, err := r.streamOwner(ctx, p)
	if err != nil {
		return ctrl.Result{}, err
	}
	if owner != nil {
		return ctrl.Result{}, notReady(v1alpha1.ReasonStreamInUse, "%s", streamInUseMessage(owner, stream)).after(conflictRecheck)
	}
	objs, err := render.NATS(p)
	if errors.Is(err, render.ErrInvalidSpec) {
		return ctrl.Result{}, notReady(v1alpha1.ReasonInvalidSpec, "%s", err.Error())
	}
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("render NATS objects: %w", err)
	}
	if objs.Account != nil {
		if err := r.applyChild(ctx, p, objs.Account); err != nil {
			return dependencyError(nackOperator, err)
		}
	}
	if err := r.applyChild(ctx, p, objs.Stream); err != nil {
		return dependencyError(nackOperator, err)
	}
	p.Status.Stream = &v1alpha1.StreamStatus{Name: objs.Stream.Spec.Name, ConsumerName: objs.Consumer.Spec.DurableName}
	if !readyCondition(objs.Stream.Status).isTrue() {
		return r.waitForNACK(p, "Stream", objs.Stream, objs.Stream.Status)
	}
	if err := r.applyChild(ctx, p, objs.Consumer); err != nil {
		return dependencyError(nackOperator, err)
	}
	if !nackObserved(objs.Stream, objs.Stream.Status) {
		return r.waitForNACK(p, "Stream", objs.Stream, objs.Stream.Status)
	}
	if !nackObserved(objs.Consumer, objs.Consumer.Status) {
		return r.waitForNACK(p, "Consumer", objs.Consumer, objs.Consumer.Status)
	}
	if err := r.deleteStaleNATSAccount(ctx, p, objs.Account); err != nil {
		return ctrl.Result{}, err
	}
	markComponentReady(p, v1alpha1.ConditionStreamReady, fmt.Sprintf("NACK reports stream %s and consumer %s ready",
		objs.Stream.Spec.Name, objs.Consumer.Spec.DurableName))
	return ctrl.Result{}, nil
}

// streamInUse is a StreamInUse outcome when the stream step found p's stream taken by another pipeline:
// the Vector workloads read or write it, so they wait too. Nil otherwise.
func streamInUse(p *v1alpha1.AuditPipeline) error {
	c := apimeta.FindStatusCondition(p.Status.Conditions, v1alpha1.ConditionStreamReady)
	if c == nil || c.Reason != v1alpha1.ReasonStreamInUse || c.Status != metav1.ConditionFalse {
		return nil
	}
	return notReady(v1alpha1.ReasonStreamInUse, "not applied: StreamReady is StreamInUse (see its message)")
}

// nackCondition is NACK's Ready condition of an object, or nil before NACK has written one.
type nackCondition struct{ *nack.Condition }

func readyCondition(st nack.Status) nackCondition {
	for i := range st.Conditions {
		if st.Conditions[i].Type == "Ready" {
			return nackCondition{&st.Conditions[i]}
		}
	}
	return nackCondition{}
}

func (c nackCondition) isTrue() bool {
	return c.Condition != nil && c.Status == corev1.ConditionTrue
}

// nackObserved is true when NACK reports obj Ready for its current generation.
func nackObserved(obj metav1.Object, st nack.Status) bool {
	return readyCondition(st).isTrue() && st.ObservedGeneration == obj.GetGeneration()
}

// waitForNACK reports StreamReady False while NACK has not made obj's current generation real: with NACK's
// message when it reports a failure. The pipeline is looked at again after a jittered wait.
func (r *AuditPipelineReconciler) waitForNACK(p *v1alpha1.AuditPipeline, kind string, obj metav1.Object, st nack.Status) (ctrl.Result, error) {
	c := readyCondition(st)
	if c.Condition != nil && c.Status == corev1.ConditionFalse {
		return ctrl.Result{}, notReady(v1alpha1.ReasonErrored, "NACK reports %s %s not ready (%s): %s",
			kind, obj.GetName(), c.Reason, strings.TrimSpace(c.Message)).after(r.jitteredWait())
	}
	return ctrl.Result{}, notReady(v1alpha1.ReasonProvisioning,
		"waiting for NACK to reconcile %s %s generation %d (observed %d); NACK must be installed and reach spec.nats.servers",
		kind, obj.GetName(), obj.GetGeneration(), st.ObservedGeneration).after(r.jitteredWait())
}

// deleteStaleNATSAccount deletes the Account an earlier spec needed for its Secrets, once the Stream and
// Consumer no longer refer to it.
func (r *AuditPipelineReconciler) deleteStaleNATSAccount(ctx context.Context, p *v1alpha1.AuditPipeline, wanted *nack.Account) error {
	if wanted != nil {
		return nil
	}
	stale := &nack.Account{}
	key := client.ObjectKey{Namespace: p.Namespace, Name: render.ChildName(p, render.KindNATSAccount, render.NATSAccountSuffix)}
	if err := r.Get(ctx, key, stale); err != nil {
		return client.IgnoreNotFound(err)
	}
	if !metav1.IsControlledBy(stale, p) || !stale.DeletionTimestamp.IsZero() {
		return nil
	}
	if err := r.Delete(ctx, stale); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete unused NATS Account %s: %w", stale.Name, err)
	}
	logf.FromContext(ctx).Info("deleted unused NATS Account", "name", stale.Name)
	return nil
}
