package controller

import (
	"context"
	"fmt"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
	"github.com/auditpipeline/auditpipeline-operator/internal/testkit/chtest"
)

// BenchmarkNewPipelinesSchemaReady measures how long 20 new pipelines, each with a database of its own
// on one ClickHouse without Keeper, take until every one reports SchemaReady: the suite's manager
// reconciles DefaultMaxConcurrentReconciles at once. Run with -benchtime 1x.
func BenchmarkNewPipelinesSchemaReady(b *testing.B) {
	srv := chtest.New(b, chtest.Options{})
	g := NewWithT(b)
	const n = 20
	round := 0
	for b.Loop() {
		round++
		var ps []*v1alpha1.AuditPipeline
		for i := range n {
			p := pipelineOn(b, srv, newNamespace(b), "settle", fmt.Sprintf("audit_settle_%d_%d", round, i))
			g.Expect(k8s.Create(context.Background(), p)).To(Succeed())
			ps = append(ps, p)
		}
		for _, p := range ps {
			g.Eventually(func(g Gomega) {
				cur, err := fetch(p)()
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(conditionOf(cur, v1alpha1.ConditionSchemaReady)).To(Equal("True/" + v1alpha1.ReasonApplied))
			}, 5*time.Minute, 50*time.Millisecond).Should(Succeed())
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N*n), "s/pipeline")
}
