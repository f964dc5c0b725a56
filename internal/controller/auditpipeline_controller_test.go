package controller

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
)

// conditionOf returns the status and reason of a condition, or "absent".
func conditionOf(p *v1alpha1.AuditPipeline, t string) string {
	c := apimeta.FindStatusCondition(p.Status.Conditions, t)
	if c == nil {
		return "absent"
	}
	return string(c.Status) + "/" + c.Reason
}

// kstatusOf computes the kstatus of p, as Flux's health checks and kubectl wait do.
func kstatusOf(g Gomega, p *v1alpha1.AuditPipeline) status.Status {
	obj, err := toUnstructured(p)
	g.Expect(err).NotTo(HaveOccurred())
	res, err := status.Compute(&unstructured.Unstructured{Object: obj})
	g.Expect(err).NotTo(HaveOccurred())
	return res.Status
}

func TestMissingSecretThenHonestConditions(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	p := pipeline(ns, "audit")
	g.Expect(k8s.Create(context.Background(), p)).To(Succeed())

	// Without the password Secret, ClickHouseReady says which Secret is missing, and the pipeline is
	// Reconciling: the Secret may appear at any time, and the Secret watch will notice.
	g.Eventually(func(g Gomega) {
		cur, err := fetch(p)()
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(cur.Finalizers).To(ContainElement(Finalizer))
		g.Expect(conditionOf(cur, v1alpha1.ConditionClickHouseReady)).To(Equal("False/" + v1alpha1.ReasonSecretNotFound))
		c := apimeta.FindStatusCondition(cur.Status.Conditions, v1alpha1.ConditionClickHouseReady)
		g.Expect(c.Message).To(ContainSubstring(`Secret "clickhouse-auth" named by spec.clickhouse.credentials.passwordSecretRef does not exist`))
		// No NACK runs in this suite: the Stream is applied and waits for it.
		g.Expect(conditionOf(cur, v1alpha1.ConditionStreamReady)).To(Equal("False/" + v1alpha1.ReasonProvisioning))
		g.Expect(conditionOf(cur, v1alpha1.ConditionStalled)).To(Equal("absent"))
		g.Expect(conditionOf(cur, v1alpha1.ConditionReconciling)).To(Equal("True/" + v1alpha1.ReasonProgressing))
		g.Expect(conditionOf(cur, v1alpha1.ConditionReady)).To(Equal("False/" + v1alpha1.ReasonComponentsNotReady))
		g.Expect(cur.Status.ObservedGeneration).To(Equal(cur.Generation))
		g.Expect(kstatusOf(g, cur)).To(Equal(status.InProgressStatus))
	}, timeout, interval).Should(Succeed())

	// A Secret without the key is still missing something.
	createSecret(t, ns, "clickhouse-auth", "username")
	g.Eventually(func(g Gomega) {
		cur, err := fetch(p)()
		g.Expect(err).NotTo(HaveOccurred())
		c := apimeta.FindStatusCondition(cur.Status.Conditions, v1alpha1.ConditionClickHouseReady)
		g.Expect(c).NotTo(BeNil())
		g.Expect(c.Message).To(ContainSubstring(`has no key "password"`))
	}, timeout, interval).Should(Succeed())

	// With the key, no component is claimed ready: ClickHouse does not answer (retried with backoff), no
	// NACK acts on the Stream and no Job controller validates the Vector configurations in this suite.
	s := &corev1.Secret{}
	g.Expect(k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "clickhouse-auth"}, s)).To(Succeed())
	s.Data["password"] = []byte("s3cret")
	g.Expect(k8s.Update(context.Background(), s)).To(Succeed())
	g.Eventually(func(g Gomega) {
		cur, err := fetch(p)()
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(conditionOf(cur, v1alpha1.ConditionClickHouseReady)).To(Equal("False/" + v1alpha1.ReasonUnreachable))
		// envtest runs no Job controller: the Vector configurations are never validated here.
		for _, t := range []string{v1alpha1.ConditionCollectorReady, v1alpha1.ConditionAggregatorReady} {
			g.Expect(conditionOf(cur, t)).To(Equal("False/"+v1alpha1.ReasonValidating), t)
		}
		g.Expect(conditionOf(cur, v1alpha1.ConditionStreamReady)).To(Equal("False/" + v1alpha1.ReasonProvisioning))
		g.Expect(conditionOf(cur, v1alpha1.ConditionSchemaReady)).To(Equal("False/" + v1alpha1.ReasonWaitingForClickHouse))
		g.Expect(conditionOf(cur, v1alpha1.ConditionReady)).To(Equal("False/" + v1alpha1.ReasonReconcileFailed))
		g.Expect(conditionOf(cur, v1alpha1.ConditionStalled)).To(Equal("absent"))
		g.Expect(conditionOf(cur, v1alpha1.ConditionReconciling)).To(Equal("True/" + v1alpha1.ReasonProgressing))
		g.Expect(kstatusOf(g, cur)).To(Equal(status.InProgressStatus))
		for _, c := range cur.Status.Conditions {
			g.Expect(c.ObservedGeneration).To(Equal(cur.Generation))
		}
	}, timeout, interval).Should(Succeed())

	// A spec change that meets a failing pass is observed in the conditions, never in
	// status.observedGeneration: that moves only when a pass succeeds.
	updatePipeline(g, p, func(cur *v1alpha1.AuditPipeline) {
		cur.Spec.NATS.Stream.MaxAge = metav1.Duration{Duration: 48 * time.Hour}
	})
	g.Eventually(func(g Gomega) {
		cur, err := fetch(p)()
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(cur.Generation).To(Equal(int64(2)))
		g.Expect(apimeta.FindStatusCondition(cur.Status.Conditions, v1alpha1.ConditionReady).ObservedGeneration).To(Equal(int64(2)))
		g.Expect(cur.Status.ObservedGeneration).To(Equal(int64(1)))
	}, timeout, interval).Should(Succeed())

	// The transition to SecretNotFound was announced with an Event, once per component that needs the Secret.
	g.Eventually(func(g Gomega) {
		var evs eventsv1.EventList
		g.Expect(k8s.List(context.Background(), &evs, client.InNamespace(ns))).To(Succeed())
		n := 0
		for _, e := range evs.Items {
			if e.Regarding.Name == p.Name && e.Reason == v1alpha1.ReasonSecretNotFound && e.Type == corev1.EventTypeWarning {
				g.Expect(e.Action).To(BeElementOf(v1alpha1.ConditionClickHouseReady, v1alpha1.ConditionAggregatorReady))
				n++
			}
		}
		g.Expect(n).To(Equal(2), "one Event for each of ClickHouseReady and AggregatorReady")
	}, timeout, interval).Should(Succeed())
}

func TestSuspendStopsWork(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := newNamespace(t)
	secret := createSecret(t, ns, "clickhouse-auth", "password")
	p := pipeline(ns, "audit")
	g.Expect(k8s.Create(ctx, p)).To(Succeed())
	g.Eventually(func() (string, error) {
		cur, err := fetch(p)()
		return conditionOf(cur, v1alpha1.ConditionClickHouseReady), err
	}, timeout, interval).Should(Equal("False/" + v1alpha1.ReasonUnreachable))

	updatePipeline(g, p, func(cur *v1alpha1.AuditPipeline) {
		cur.Spec.Suspend = true
	})
	g.Eventually(func(g Gomega) {
		cur, err := fetch(p)()
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(conditionOf(cur, v1alpha1.ConditionReady)).To(Equal("Unknown/" + v1alpha1.ReasonSuspended))
		g.Expect(conditionOf(cur, v1alpha1.ConditionStalled)).To(Equal("absent"))
		g.Expect(conditionOf(cur, v1alpha1.ConditionReconciling)).To(Equal("absent"))
		g.Expect(cur.Status.ObservedGeneration).To(Equal(cur.Generation))
	}, timeout, interval).Should(Succeed())

	// While suspended, a vanished Secret changes nothing: the operator does not look.
	g.Expect(k8s.Delete(ctx, secret)).To(Succeed())
	g.Consistently(func() (string, error) {
		cur, err := fetch(p)()
		return conditionOf(cur, v1alpha1.ConditionClickHouseReady), err
	}, 2*time.Second, interval).Should(Equal("False/" + v1alpha1.ReasonUnreachable))

	updatePipeline(g, p, func(cur *v1alpha1.AuditPipeline) {
		cur.Spec.Suspend = false
	})
	g.Eventually(func() (string, error) {
		cur, err := fetch(p)()
		return conditionOf(cur, v1alpha1.ConditionClickHouseReady), err
	}, timeout, interval).Should(Equal("False/" + v1alpha1.ReasonSecretNotFound))
}

// durableChild creates a ClickHouseInstallation owned by p, as the ClickHouse step will.
func durableChild(g Gomega, p *v1alpha1.AuditPipeline) *unstructured.Unstructured {
	chi := &unstructured.Unstructured{}
	chi.SetAPIVersion("clickhouse.altinity.com/v1")
	chi.SetKind("ClickHouseInstallation")
	chi.SetNamespace(p.Namespace)
	chi.SetName(p.Name)
	chi.SetLabels(map[string]string{LabelPipeline: p.Name})
	chi.SetOwnerReferences([]metav1.OwnerReference{{
		APIVersion: v1alpha1.GroupVersion.String(), Kind: "AuditPipeline", Name: p.Name, UID: p.UID,
		Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true),
	}})
	g.Expect(unstructured.SetNestedField(chi.Object, map[string]any{}, "spec")).To(Succeed())
	g.Expect(k8s.Create(context.Background(), chi)).To(Succeed())
	return chi
}

func TestDeletionPolicies(t *testing.T) {
	for _, tc := range []struct {
		policy        v1alpha1.DeletionPolicy
		keepsOwnerRef bool
	}{
		// Retain orphans the ClickHouse installation so the garbage collector keeps it.
		{v1alpha1.DeletionPolicyRetain, false},
		// Delete leaves the owner reference: the garbage collector removes the installation with its owner.
		{v1alpha1.DeletionPolicyDelete, true},
	} {
		t.Run(string(tc.policy), func(t *testing.T) {
			g := NewWithT(t)
			ctx := context.Background()
			ns := newNamespace(t)
			createSecret(t, ns, "clickhouse-auth", "password")
			p := pipeline(ns, "audit")
			p.Spec.DeletionPolicy = tc.policy
			g.Expect(k8s.Create(ctx, p)).To(Succeed())
			g.Eventually(func() ([]string, error) {
				cur, err := fetch(p)()
				return cur.Finalizers, err
			}, timeout, interval).Should(ContainElement(Finalizer))
			chi := durableChild(g, p)

			g.Expect(k8s.Delete(ctx, p)).To(Succeed())
			g.Eventually(func() bool {
				_, err := fetch(p)()
				return apierrors.IsNotFound(err)
			}, timeout, interval).Should(BeTrue(), "the AuditPipeline should be gone")

			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(chi), chi)).To(Succeed())
			owned := false
			for _, ref := range chi.GetOwnerReferences() {
				owned = owned || ref.UID == p.UID
			}
			g.Expect(owned).To(Equal(tc.keepsOwnerRef))
		})
	}
}
