package controller

import (
	"context"
	"testing"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
	"github.com/auditpipeline/auditpipeline-operator/internal/render/vector"
)

// vectorChildren are the objects the Vector steps apply for p, empty, to be read by key.
func vectorChildren(p *v1alpha1.AuditPipeline) map[string]client.Object {
	n := vector.NamesFor(p)
	meta := func(name string) metav1.ObjectMeta { return metav1.ObjectMeta{Namespace: p.Namespace, Name: name} }
	return map[string]client.Object{
		"agent ConfigMap":      &corev1.ConfigMap{ObjectMeta: meta(n.CollectorConfig)},
		"webhook ConfigMap":    &corev1.ConfigMap{ObjectMeta: meta(n.WebhookConfig)},
		"agent Service":        &corev1.Service{ObjectMeta: meta(n.Collector)},
		"agent DaemonSet":      &appsv1.DaemonSet{ObjectMeta: meta(n.Collector)},
		"aggregator ConfigMap": &corev1.ConfigMap{ObjectMeta: meta(n.AggregatorConfig)},
		"aggregator Service":   &corev1.Service{ObjectMeta: meta(n.Aggregator)},
		"aggregator STS":       &appsv1.StatefulSet{ObjectMeta: meta(n.Aggregator)},
		"aggregator PDB":       &policyv1.PodDisruptionBudget{ObjectMeta: meta(n.Aggregator)},
	}
}

// patchSpec changes p's spec with a merge patch, which needs no resourceVersion.
func patchSpec(g Gomega, p *v1alpha1.AuditPipeline, change func(*v1alpha1.AuditPipeline)) {
	cur, err := fetch(p)()
	g.Expect(err).NotTo(HaveOccurred())
	base := cur.DeepCopy()
	change(cur)
	g.Expect(k8s.Patch(context.Background(), cur, client.MergeFrom(base))).To(Succeed())
}

// get reads obj afresh.
func get(g Gomega, obj client.Object) {
	g.Expect(k8s.Get(context.Background(), client.ObjectKeyFromObject(obj), obj)).To(Succeed())
}

// rollOutDaemonSet writes the status a DaemonSet controller would write once n pods run the current
// template: envtest runs no workload controllers.
func rollOutDaemonSet(g Gomega, ds *appsv1.DaemonSet, n int32) {
	g.Eventually(func(g Gomega) {
		get(g, ds)
		ds.Status = appsv1.DaemonSetStatus{ObservedGeneration: ds.Generation, DesiredNumberScheduled: n,
			CurrentNumberScheduled: n, UpdatedNumberScheduled: n, NumberReady: n, NumberAvailable: n}
		g.Expect(k8s.Status().Update(context.Background(), ds)).To(Succeed())
	}, timeout, interval).Should(Succeed())
}

// rollOutStatefulSet writes the status a StatefulSet controller would write once every replica runs the
// current template.
func rollOutStatefulSet(g Gomega, sts *appsv1.StatefulSet) {
	g.Eventually(func(g Gomega) {
		get(g, sts)
		n := *sts.Spec.Replicas
		sts.Status = appsv1.StatefulSetStatus{ObservedGeneration: sts.Generation, Replicas: n, ReadyReplicas: n,
			CurrentReplicas: n, UpdatedReplicas: n, AvailableReplicas: n}
		g.Expect(k8s.Status().Update(context.Background(), sts)).To(Succeed())
	}, timeout, interval).Should(Succeed())
}

// expectVectorChildren waits until every child exists with p as its controller and status names what the
// API server needs, and checks that no Secret data reached a ConfigMap and no buffer is on emptyDir.
func expectVectorChildren(g Gomega, p *v1alpha1.AuditPipeline, children map[string]client.Object) {
	url := "http://audit-collector." + p.Namespace + ".svc:8080/events"
	g.Eventually(func(g Gomega) {
		for what, obj := range children {
			get(g, obj)
			g.Expect(metav1.IsControlledBy(obj, p)).To(BeTrue(), what)
			g.Expect(obj.GetLabels()).To(HaveKeyWithValue(LabelPipeline, p.Name), what)
		}
		cur, err := fetch(p)()
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(cur.Status.Collector).NotTo(BeNil())
		g.Expect(cur.Status.Collector.WebhookURL).To(Equal(url))
		g.Expect(cur.Status.Collector.WebhookConfigMap).To(Equal("audit-apiserver-webhook"))
		g.Expect(cur.Status.Aggregator).NotTo(BeNil())
		g.Expect(conditionOf(cur, v1alpha1.ConditionCollectorReady)).To(Equal("False/" + v1alpha1.ReasonRollingOut))
		g.Expect(conditionOf(cur, v1alpha1.ConditionAggregatorReady)).To(Equal("False/" + v1alpha1.ReasonRollingOut))
	}, timeout, interval).Should(Succeed())

	webhook := children["webhook ConfigMap"].(*corev1.ConfigMap)
	g.Expect(webhook.Data[vector.WebhookConfigKey]).To(ContainSubstring("server: " + url))
	aggConfig := children["aggregator ConfigMap"].(*corev1.ConfigMap)
	g.Expect(aggConfig.Data[vector.ConfigFile]).NotTo(ContainSubstring("not-a-real-password"))
	sts := children["aggregator STS"].(*appsv1.StatefulSet)
	g.Expect(sts.Spec.Template.Spec.Containers[0].Env).To(ContainElement(corev1.EnvVar{Name: vector.EnvClickHousePassword,
		ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: "clickhouse-auth"}, Key: "password"}}}))
	g.Expect(sts.Spec.VolumeClaimTemplates).To(HaveLen(1))
	g.Expect(sts.Spec.Template.Spec.Volumes).NotTo(ContainElement(HaveField("VolumeSource.EmptyDir", Not(BeNil()))))
}

func TestVectorWorkloadsRollOutAndFollowTheSpec(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := newNamespace(t)
	createSecret(t, ns, "clickhouse-auth", "password")
	p := pipeline(ns, "audit")
	g.Expect(k8s.Create(ctx, p)).To(Succeed())
	children := vectorChildren(p)

	passValidation(g, p)
	expectVectorChildren(g, p, children)
	ds := children["agent DaemonSet"].(*appsv1.DaemonSet)
	sts := children["aggregator STS"].(*appsv1.StatefulSet)

	// Status follows the workloads' rollout.
	rollOutDaemonSet(g, ds, 3)
	rollOutStatefulSet(g, sts)
	g.Eventually(func(g Gomega) {
		cur, err := fetch(p)()
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(conditionOf(cur, v1alpha1.ConditionCollectorReady)).To(Equal("True/" + v1alpha1.ReasonReady))
		g.Expect(conditionOf(cur, v1alpha1.ConditionAggregatorReady)).To(Equal("True/" + v1alpha1.ReasonReady))
		g.Expect(cur.Status.Collector.DesiredReplicas).To(Equal(int32(3)))
		g.Expect(cur.Status.Collector.ReadyReplicas).To(Equal(int32(3)))
		g.Expect(cur.Status.Aggregator.ReadyReplicas).To(Equal(vector.DefaultAggregatorReplicas))
		g.Expect(cur.Status.Collector.ConfigHash).To(Equal(ds.Spec.Template.Annotations[vector.AnnotationConfigHash]))
		g.Expect(cur.Status.Aggregator.ConfigHash).To(Equal(sts.Spec.Template.Annotations[vector.AnnotationConfigHash]))
	}, timeout, interval).Should(Succeed())

	// A spec change changes the aggregator's config hash on its pod template, and it rolls out again.
	oldHash := sts.Spec.Template.Annotations[vector.AnnotationConfigHash]
	patchSpec(g, p, func(cur *v1alpha1.AuditPipeline) { cur.Spec.Aggregator.Batch.MaxEvents = 20000 })
	passValidation(g, p)
	g.Eventually(func(g Gomega) {
		get(g, sts)
		g.Expect(sts.Spec.Template.Annotations[vector.AnnotationConfigHash]).NotTo(Equal(oldHash))
		cur, err := fetch(p)()
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(cur.Status.Aggregator.ConfigHash).To(Equal(sts.Spec.Template.Annotations[vector.AnnotationConfigHash]))
		g.Expect(conditionOf(cur, v1alpha1.ConditionAggregatorReady)).To(Equal("False/" + v1alpha1.ReasonRollingOut))
	}, timeout, interval).Should(Succeed())
	rollOutStatefulSet(g, sts)
	g.Eventually(func() (string, error) {
		cur, err := fetch(p)()
		return conditionOf(cur, v1alpha1.ConditionAggregatorReady), err
	}, timeout, interval).Should(Equal("True/" + v1alpha1.ReasonReady))

	// Once converged, a reconciliation writes none of the children.
	expectNoWrites(g, p, children)
}

// expectNoWrites runs two more reconciliations of p and fails if they wrote any of children.
func expectNoWrites(g Gomega, p *v1alpha1.AuditPipeline, children map[string]client.Object) {
	versions := map[string]string{}
	for what, obj := range children {
		get(g, obj)
		versions[what] = obj.GetResourceVersion()
	}
	for range 2 {
		reconcileDirectly(g, p)
	}
	for what, obj := range children {
		get(g, obj)
		g.Expect(obj.GetResourceVersion()).To(Equal(versions[what]), "%s was written again", what)
	}
}

func TestAggregatorAutoscalingAndImmutableBufferClaim(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := newNamespace(t)
	createSecret(t, ns, "clickhouse-auth", "password")
	p := pipeline(ns, "scaled")
	p.Spec.Aggregator.Autoscaling = &v1alpha1.AutoscalingSpec{MinReplicas: 2, MaxReplicas: 4}
	g.Expect(k8s.Create(ctx, p)).To(Succeed())
	name := vector.NamesFor(p).Aggregator
	passValidation(g, p)
	hpa := &autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	sts := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	g.Eventually(func(g Gomega) {
		get(g, hpa)
		g.Expect(metav1.IsControlledBy(hpa, p)).To(BeTrue())
		g.Expect(hpa.Spec.MaxReplicas).To(Equal(int32(4)))
		get(g, sts)
	}, timeout, interval).Should(Succeed())

	// The autoscaler owns the replicas: the operator's next pass leaves its choice alone.
	g.Eventually(func(g Gomega) {
		get(g, sts)
		sts.Spec.Replicas = ptr.To(int32(3))
		g.Expect(k8s.Update(ctx, sts)).To(Succeed())
	}, timeout, interval).Should(Succeed())
	oldHash := sts.Spec.Template.Annotations[vector.AnnotationConfigHash]
	patchSpec(g, p, func(cur *v1alpha1.AuditPipeline) { cur.Spec.Aggregator.Batch.MaxEvents = 5000 })
	passValidation(g, p)
	g.Eventually(func(g Gomega) {
		get(g, sts)
		g.Expect(sts.Spec.Template.Annotations[vector.AnnotationConfigHash]).NotTo(Equal(oldHash))
		g.Expect(*sts.Spec.Replicas).To(Equal(int32(3)))
	}, timeout, interval).Should(Succeed())

	// Without autoscaling the operator deletes its autoscaler and sets the replicas itself.
	patchSpec(g, p, func(cur *v1alpha1.AuditPipeline) {
		cur.Spec.Aggregator.Autoscaling = nil
		cur.Spec.Aggregator.Replicas = ptr.To(int32(2))
	})
	passValidation(g, p)
	g.Eventually(func(g Gomega) {
		err := k8s.Get(ctx, client.ObjectKeyFromObject(hpa), hpa)
		g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "the autoscaler should be gone")
		get(g, sts)
		g.Expect(*sts.Spec.Replicas).To(Equal(int32(2)))
	}, timeout, interval).Should(Succeed())

	// A StatefulSet's volume claims cannot change: a new buffer size stalls the aggregator with a reason.
	claim := sts.Spec.VolumeClaimTemplates[0].Spec.Resources.Requests[corev1.ResourceStorage]
	patchSpec(g, p, func(cur *v1alpha1.AuditPipeline) { cur.Spec.Aggregator.Buffer.MaxSize = resource.MustParse("20Gi") })
	g.Eventually(func(g Gomega) {
		cur, err := fetch(p)()
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(conditionOf(cur, v1alpha1.ConditionAggregatorReady)).To(Equal("False/" + v1alpha1.ReasonInvalidSpec))
		c := apimeta.FindStatusCondition(cur.Status.Conditions, v1alpha1.ConditionAggregatorReady)
		g.Expect(c.Message).To(ContainSubstring("--cascade=orphan"))
	}, timeout, interval).Should(Succeed())
	get(g, sts)
	g.Expect(sts.Spec.VolumeClaimTemplates[0].Spec.Resources.Requests[corev1.ResourceStorage]).To(Equal(claim))
}

// A ClickHouse password Vector cannot read into its configuration stalls the aggregator with a reason
// that names the Secret and not the value, leaves the running StatefulSet alone and clears once the
// password is fixed; the operator's own ClickHouse connection still tries it.
func TestUnusablePasswordStallsTheAggregator(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := newNamespace(t)
	secret := createSecret(t, ns, "clickhouse-auth", "password")
	p := pipeline(ns, "audit")
	g.Expect(k8s.Create(ctx, p)).To(Succeed())
	passValidation(g, p)
	sts := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: vector.NamesFor(p).Aggregator}}
	g.Eventually(func(g Gomega) { get(g, sts) }, timeout, interval).Should(Succeed())
	version := sts.ResourceVersion

	setPassword := func(password string) {
		g.Eventually(func(g Gomega) {
			get(g, secret)
			secret.Data["password"] = []byte(password)
			g.Expect(k8s.Update(ctx, secret)).To(Succeed())
		}, timeout, interval).Should(Succeed())
	}
	const bad = "first line\nsecond line"
	setPassword(bad)
	g.Eventually(func(g Gomega) {
		cur, err := fetch(p)()
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(conditionOf(cur, v1alpha1.ConditionAggregatorReady)).To(Equal("False/" + v1alpha1.ReasonSecretUnusable))
		c := apimeta.FindStatusCondition(cur.Status.Conditions, v1alpha1.ConditionAggregatorReady)
		g.Expect(c.Message).To(ContainSubstring(`the value of key "password" of Secret "clickhouse-auth", named by spec.clickhouse.credentials.passwordSecretRef, holds a line break`))
		g.Expect(c.Message).NotTo(ContainSubstring("line\n"))
		g.Expect(conditionOf(cur, v1alpha1.ConditionStalled)).To(Equal("True/" + v1alpha1.ReasonSecretUnusable))
		g.Expect(conditionOf(cur, v1alpha1.ConditionClickHouseReady)).To(Equal("False/" + v1alpha1.ReasonUnreachable))
	}, timeout, interval).Should(Succeed())
	g.Eventually(func(g Gomega) {
		var evs eventsv1.EventList
		g.Expect(k8s.List(ctx, &evs, client.InNamespace(ns))).To(Succeed())
		g.Expect(evs.Items).To(ContainElement(And(HaveField("Reason", v1alpha1.ReasonSecretUnusable),
			HaveField("Type", corev1.EventTypeWarning), HaveField("Action", v1alpha1.ConditionAggregatorReady))))
		for _, e := range evs.Items {
			g.Expect(e.Note).NotTo(ContainSubstring("line\n"))
		}
	}, timeout, interval).Should(Succeed())
	get(g, sts)
	g.Expect(sts.ResourceVersion).To(Equal(version), "the StatefulSet must not be written while the password is unusable")

	// Quotes, a backslash and leading spaces are fine: the condition leaves SecretUnusable.
	setPassword(`  p"ss\word #1`)
	g.Eventually(func(g Gomega) {
		cur, err := fetch(p)()
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(conditionOf(cur, v1alpha1.ConditionAggregatorReady)).NotTo(HavePrefix("False/" + v1alpha1.ReasonSecretUnusable))
		g.Expect(conditionOf(cur, v1alpha1.ConditionStalled)).To(Equal("absent"))
	}, timeout, interval).Should(Succeed())
}
