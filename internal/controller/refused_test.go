package controller

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
	"github.com/auditpipeline/auditpipeline-operator/internal/render/vector"
)

// A spec the CRD admits but the DaemonSet kind refuses (fractional extended resources, which only the
// API server's Pod validation knows) stalls the collector with InvalidSpec naming our field, announces
// it with an Event within the API server's length limit, is not retried, and clears once the spec is fixed.
func TestChildRefusedByTheAPIServerStalls(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := newNamespace(t)
	createSecret(t, ns, "clickhouse-auth", "password")
	p := pipeline(ns, "refused")
	// Sixteen refused resources make a message longer than an Event may be.
	limits := corev1.ResourceList{}
	for i := range 16 {
		limits[corev1.ResourceName(fmt.Sprintf("example.com/dongle-with-a-long-name-%02d", i))] = resource.MustParse("500m")
	}
	p.Spec.Collector.Resources = v1alpha1.ComputeResources{Limits: limits}
	g.Expect(k8s.Create(ctx, p)).To(Succeed())

	passValidation(g, p)
	var message string
	g.Eventually(func(g Gomega) {
		cur, err := fetch(p)()
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(conditionOf(cur, v1alpha1.ConditionCollectorReady)).To(Equal("False/" + v1alpha1.ReasonInvalidSpec))
		g.Expect(conditionOf(cur, v1alpha1.ConditionStalled)).To(Equal("True/" + v1alpha1.ReasonInvalidSpec))
		c := apimeta.FindStatusCondition(cur.Status.Conditions, v1alpha1.ConditionCollectorReady)
		g.Expect(c.Message).To(ContainSubstring("the API server refused DaemonSet"))
		g.Expect(c.Message).To(ContainSubstring("spec.collector.resources.limits[example.com/dongle-with-a-long-name-00]"))
		g.Expect(c.Message).NotTo(ContainSubstring("spec.template.spec"))
		g.Expect(len(c.Message)).To(BeNumerically(">", maxEventNote))
		message = c.Message
	}, timeout, interval).Should(Succeed())

	// The transition is announced, cut to the Event limit rather than dropped.
	g.Eventually(func(g Gomega) {
		var evs eventsv1.EventList
		g.Expect(k8s.List(ctx, &evs, client.InNamespace(ns))).To(Succeed())
		found := false
		for _, e := range evs.Items {
			if e.Regarding.Name == p.Name && e.Action == v1alpha1.ConditionCollectorReady && e.Reason == v1alpha1.ReasonInvalidSpec {
				found = true
				g.Expect(len(e.Note)).To(BeNumerically("<=", maxEventNote))
				g.Expect(e.Note).To(HaveSuffix("(see status.conditions)"))
			}
		}
		g.Expect(found).To(BeTrue(), "no Event for CollectorReady InvalidSpec")
	}, timeout, interval).Should(Succeed())

	// Not retried while the spec stays: a reconciler applies the DaemonSet once, is refused, and does not
	// apply it again on its next passes; the condition stays as it was set.
	counter := &applyCounter{Client: k8s, kinds: map[string]int{}}
	r := &AuditPipelineReconciler{Client: counter, APIReader: k8s, WaitInterval: time.Second, ValidateVectorConfig: true}
	for range 3 {
		_, _ = r.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(p)})
	}
	g.Expect(counter.kinds["DaemonSet"]).To(Equal(1), "DaemonSet applies in three passes")
	cur, err := fetch(p)()
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(conditionOf(cur, v1alpha1.ConditionAggregatorReady)).To(Equal("False/"+v1alpha1.ReasonRollingOut), "the aggregator goes on being reconciled")
	c := apimeta.FindStatusCondition(cur.Status.Conditions, v1alpha1.ConditionCollectorReady)
	g.Expect(c.Message).To(Equal(message))
	ds := &appsv1.DaemonSet{}
	ds.Namespace, ds.Name = ns, vector.NamesFor(p).Collector
	g.Expect(apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKeyFromObject(ds), ds))).To(BeTrue())

	// Fixed, the DaemonSet is applied and the stall clears.
	patchSpec(g, p, func(cur *v1alpha1.AuditPipeline) { cur.Spec.Collector.Resources = v1alpha1.ComputeResources{} })
	passValidation(g, p)
	g.Eventually(func(g Gomega) {
		get(g, ds)
		cur, err := fetch(p)()
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(conditionOf(cur, v1alpha1.ConditionCollectorReady)).To(Equal("False/" + v1alpha1.ReasonRollingOut))
		g.Expect(conditionOf(cur, v1alpha1.ConditionStalled)).To(Equal("absent"))
	}, timeout, interval).Should(Succeed())
}

// applyCounter counts the server-side applies made through it, by kind.
type applyCounter struct {
	client.Client
	mu    sync.Mutex
	kinds map[string]int
}

func (c *applyCounter) Apply(ctx context.Context, obj runtime.ApplyConfiguration, opts ...client.ApplyOption) error {
	if k, ok := obj.(interface{ GetKind() string }); ok {
		c.mu.Lock()
		c.kinds[k.GetKind()]++
		c.mu.Unlock()
	}
	return c.Client.Apply(ctx, obj, opts...)
}

// A pipeline with the longest name the CRD admits gets every child applied: each derived name and the
// pipeline label fit their kinds' limits.
func TestLongestPipelineNameIsUsable(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := newNamespace(t)
	createSecret(t, ns, "clickhouse-auth", "password")
	p := pipeline(ns, "a23456789.b23456789-c23456789-d23456789-e23456789-f23456789-g23")
	g.Expect(p.Name).To(HaveLen(63))
	g.Expect(k8s.Create(ctx, p)).To(Succeed())
	passValidation(g, p)
	g.Eventually(func(g Gomega) {
		cur, err := fetch(p)()
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(conditionOf(cur, v1alpha1.ConditionCollectorReady)).To(Equal("False/" + v1alpha1.ReasonRollingOut))
		g.Expect(conditionOf(cur, v1alpha1.ConditionAggregatorReady)).To(Equal("False/" + v1alpha1.ReasonRollingOut))
		g.Expect(conditionOf(cur, v1alpha1.ConditionStreamReady)).To(Equal("False/" + v1alpha1.ReasonProvisioning))
	}, timeout, interval).Should(Succeed())
}

func TestRefusedFieldsMapToTheSpec(t *testing.T) {
	cases := []struct{ kind, field, want string }{
		{"DaemonSet", "spec.template.spec.nodeSelector", "spec.collector.nodeSelector"},
		{"DaemonSet", "spec.template.spec.tolerations[1].effect", "spec.collector.tolerations[1].effect"},
		{"DaemonSet", "spec.template.spec.containers[0].resources.limits[example.com/x]", "spec.collector.resources.limits[example.com/x]"},
		{"DaemonSet", "spec.template.spec.containers[0].image", "spec.collector.image"},
		{"StatefulSet", "spec.volumeClaimTemplates[0].spec.resources.requests[storage]", "spec.aggregator.buffer.maxSize"},
		{"StatefulSet", "spec.volumeClaimTemplates[0].spec.storageClassName", "spec.aggregator.buffer.storageClassName"},
		{"StatefulSet", "spec.template.spec.containers[0].imagePullPolicy", ""},
		{"DaemonSet", "spec.template.spec.containers[0].imageX", ""},
		{"ConfigMap", "data", ""},
	}
	for _, tc := range cases {
		if got := toSpec(tc.kind, tc.field); got != tc.want {
			t.Errorf("toSpec(%s, %s) = %q, want %q", tc.kind, tc.field, got, tc.want)
		}
	}
}
