package controller

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
)

// writeCounter counts the requests that write (every method but GET) made through its transport.
type writeCounter struct {
	next   http.RoundTripper
	writes atomic.Int64
}

func (c *writeCounter) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodGet {
		c.writes.Add(1)
	}
	return c.next.RoundTrip(req)
}

// countingReconciler is a reconciler of its own whose client counts its write requests.
func countingReconciler(t testing.TB) (*AuditPipelineReconciler, *writeCounter) {
	t.Helper()
	counter := &writeCounter{}
	cfg := rest.CopyConfig(restConfig)
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper { counter.next = rt; return counter }
	c, err := client.New(cfg, client.Options{Scheme: k8s.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	return &AuditPipelineReconciler{Client: c, APIReader: c, WaitInterval: time.Second, ValidateVectorConfig: true}, counter
}

// convergedPipeline creates a pipeline and waits until its Vector workloads are rolled out; its
// ClickHouse does not listen, so it stays ReconcileFailed with the same message on every pass.
func convergedPipeline(t testing.TB, g Gomega) *v1alpha1.AuditPipeline {
	ns := newNamespace(t)
	createSecret(t, ns, "clickhouse-auth", "password")
	p := pipeline(ns, "audit") // expectVectorChildren knows this name
	g.Expect(k8s.Create(context.Background(), p)).To(Succeed())
	passValidation(g, p)
	children := vectorChildren(p)
	expectVectorChildren(g, p, children)
	rollOutDaemonSet(g, children["agent DaemonSet"].(*appsv1.DaemonSet), 1)
	rollOutStatefulSet(g, children["aggregator STS"].(*appsv1.StatefulSet))
	g.Eventually(func(g Gomega) {
		cur, err := fetch(p)()
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(conditionOf(cur, v1alpha1.ConditionCollectorReady)).To(Equal("True/" + v1alpha1.ReasonReady))
		g.Expect(conditionOf(cur, v1alpha1.ConditionAggregatorReady)).To(Equal("True/" + v1alpha1.ReasonReady))
	}, timeout, interval).Should(Succeed())
	return p
}

// A pass over a pipeline whose children and status already are what the spec asks for sends no write
// request: no apply, no status patch.
func TestConvergedPassWritesNothing(t *testing.T) {
	g := NewWithT(t)
	p := convergedPipeline(t, g)
	r, counter := countingReconciler(t)
	req := ctrl.Request{NamespacedName: client.ObjectKeyFromObject(p)}
	_, _ = r.Reconcile(context.Background(), req) // learns what is applied
	counter.writes.Store(0)
	for range 3 {
		_, _ = r.Reconcile(context.Background(), req)
	}
	g.Expect(counter.writes.Load()).To(BeZero(), "write requests in three passes over a converged pipeline")

	// A change of the spec is applied on the next pass.
	patchSpec(g, p, func(cur *v1alpha1.AuditPipeline) { cur.Spec.NATS.Consumer.MaxAckPending = 5000 })
	_, _ = r.Reconcile(context.Background(), req)
	g.Expect(counter.writes.Load()).To(BeNumerically(">", 0), "the changed spec was not applied")
}

// BenchmarkReconcilePass measures one pass over a converged pipeline: its time and its write requests.
func BenchmarkReconcilePass(b *testing.B) {
	g := NewWithT(b)
	p := convergedPipeline(b, g)
	r, counter := countingReconciler(b)
	req := ctrl.Request{NamespacedName: client.ObjectKeyFromObject(p)}
	_, _ = r.Reconcile(context.Background(), req)
	counter.writes.Store(0)
	b.ResetTimer()
	for b.Loop() {
		_, _ = r.Reconcile(context.Background(), req)
	}
	b.ReportMetric(float64(counter.writes.Load())/float64(b.N), "writes/pass")
}
