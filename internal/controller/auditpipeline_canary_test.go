package controller

import (
	"context"
	"net/http"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus/testutil"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
	"github.com/auditpipeline/auditpipeline-operator/internal/canary"
	"github.com/auditpipeline/auditpipeline-operator/internal/render/vector"
	"github.com/auditpipeline/auditpipeline-operator/internal/render/vector/vrl"
	"github.com/auditpipeline/auditpipeline-operator/internal/testkit/chtest"
	"github.com/auditpipeline/auditpipeline-operator/internal/testkit/sinkhttp"
)

// TestCanaryFlowingLateLostDisabled: a pipeline on the real ClickHouse with a 5 s canary. Its first
// canary, inserted through the collector's and aggregator's twins as the pipeline would deliver it,
// takes EventsFlowing from NotYetSeen to Flowing; the next ones, withheld, make it Late after half the
// 10 s deadline and Lost after it, with an Event and the lost counter; interval 0s makes it Disabled.
// The canary's ClickHouse queries stay bounded: at most two per 5 s round.
func TestCanaryFlowingLateLostDisabled(t *testing.T) {
	srv := chtest.New(t, chtest.Options{})
	g := NewWithT(t)
	ctx := context.Background()
	start := time.Now()
	p := pipelineOn(t, srv, newNamespace(t), "canary", "audit_canary")
	p.Spec.Canary = v1alpha1.CanarySpec{Interval: &metav1.Duration{Duration: 5 * time.Second}, Deadline: metav1.Duration{Duration: 10 * time.Second}}
	g.Expect(k8s.Create(ctx, p)).To(Succeed())
	flowing := func(g Gomega) string {
		cur, err := fetch(p)()
		g.Expect(err).NotTo(HaveOccurred())
		return conditionOf(cur, v1alpha1.ConditionEventsFlowing)
	}
	var sent *v1alpha1.CanaryProbe
	var cur *v1alpha1.AuditPipeline
	g.Eventually(func(g Gomega) {
		var err error
		cur, err = fetch(p)()
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(conditionOf(cur, v1alpha1.ConditionSchemaReady)).To(Equal("True/" + v1alpha1.ReasonApplied))
		g.Expect(cur.Status.Canary).NotTo(BeNil())
		g.Expect(cur.Status.Canary.LastSent).NotTo(BeNil())
		sent = cur.Status.Canary.LastSent
	}, timeout, interval).Should(Succeed())
	g.Expect(sent.AuditID).To(Equal(canary.ID(cur.UID, sent.Sequence).String()))
	g.Expect(flowing(g)).To(Or(Equal("Unknown/"+v1alpha1.ReasonNotYetSeen), Equal("False/"+v1alpha1.ReasonCanaryLate)))

	// Deliver that canary's audit event as the pipeline would.
	now := time.Now().UTC()
	ev := map[string]any{"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata", "auditID": sent.AuditID,
		"stage": "ResponseComplete", "verb": "get", "userAgent": canary.UserAgent,
		"objectRef":                map[string]any{"resource": "configmaps", "namespace": p.Namespace, "name": vector.NamesFor(p).CollectorConfig},
		"requestReceivedTimestamp": sent.SentAt.UTC().Format("2006-01-02T15:04:05.000000Z"), "stageTimestamp": now.Format("2006-01-02T15:04:05.000000Z")}
	row := vector.Tenancy(cur).FromEvent(vrl.WithCluster(ev, cur.Status.ClusterName), now)
	in, err := sinkhttp.For(vector.AggregatorClickHouseSink(cur), nil)
	g.Expect(err).NotTo(HaveOccurred())
	body, err := in.Body([]map[string]any{row.Values()})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(in.Send(ctx, &http.Client{Timeout: 30 * time.Second}, srv.HTTPAddr, body)).To(Succeed())
	g.Eventually(flowing, 30*time.Second, interval).Should(Equal("True/" + v1alpha1.ReasonFlowing))
	cur, err = fetch(p)()
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(cur.Status.Canary.LastSeen.Sequence).To(Equal(sent.Sequence))
	g.Expect(cur.Status.Canary.Latency).NotTo(BeNil())
	g.Expect(cur.Status.Freshness).NotTo(BeNil())
	g.Expect(cur.Status.Freshness.RecentEvents).To(BeNumerically(">=", 1))
	g.Expect(cur.Status.Freshness.Cluster).To(Equal(cur.Status.ClusterName))
	g.Expect(testutil.ToFloat64(canarySeen.WithLabelValues(p.Namespace, p.Name))).To(BeNumerically(">=", 1))

	// The next canaries are withheld: Late, then Lost.
	g.Eventually(flowing, 30*time.Second, interval).Should(Equal("False/" + v1alpha1.ReasonCanaryLate))
	g.Eventually(flowing, 30*time.Second, interval).Should(Equal("False/" + v1alpha1.ReasonCanaryLost))
	g.Expect(testutil.ToFloat64(canaryLost.WithLabelValues(p.Namespace, p.Name))).To(BeNumerically(">=", 1))
	g.Eventually(func(g Gomega) {
		var list eventsv1.EventList
		g.Expect(k8s.List(ctx, &list, client.InNamespace(p.Namespace))).To(Succeed())
		found := false
		for _, e := range list.Items {
			found = found || e.Reason == "CanaryLost" && e.Regarding.Name == p.Name
		}
		g.Expect(found).To(BeTrue())
	}, timeout, interval).Should(Succeed())

	// Bounded: a round of at most two queries per 5 s (the interval) since the pipeline was created.
	rounds := operator.canary.roundsOf(cur.UID)
	g.Expect(rounds).To(BeNumerically("<=", int(time.Since(start)/(5*time.Second))+2))

	// Off.
	updatePipeline(g, p, func(cur *v1alpha1.AuditPipeline) {
		cur.Spec.Canary.Interval = &metav1.Duration{}
	})
	g.Eventually(flowing, timeout, interval).Should(Equal("Unknown/" + v1alpha1.ReasonCanaryDisabled))
}
