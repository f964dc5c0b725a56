package controller

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
	"github.com/auditpipeline/auditpipeline-operator/internal/render/vector"
	"github.com/auditpipeline/auditpipeline-operator/internal/render/vector/vrl"
	"github.com/auditpipeline/auditpipeline-operator/internal/testkit/chtest"
	"github.com/auditpipeline/auditpipeline-operator/internal/testkit/sinkhttp"
	"github.com/auditpipeline/auditpipeline-operator/internal/testkit/testenv"
)

// TestTwoClustersShareOneDatabase runs a second control plane with an operator of its own, and one
// pipeline with annotation tenancy and per-tenant retention in each cluster, both writing into one
// database of the real ClickHouse: each collector names its own cluster, the rows of both are told
// apart by the cluster column, the TTL is owned once (by the first), the second is Ready while its
// retention agrees and in RetentionConflict when it does not.
func TestTwoClustersShareOneDatabase(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	srv := chtest.New(t, chtest.Options{})
	conn, err := srv.Conn("default")
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() { _ = conn.Close() })
	const database = "audit_two_clusters"

	env, err := testenv.Start()
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() { _ = env.Stop() })
	opCtx, stop := context.WithCancel(ctx)
	done, err := startOperator(opCtx, env, nil)
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() { stop(); <-done })
	other, err := client.New(env.Config, client.Options{Scheme: env.Scheme})
	g.Expect(err).NotTo(HaveOccurred())

	spec := func(p *v1alpha1.AuditPipeline, deleteAfter time.Duration) {
		p.Spec.Tenancy = v1alpha1.TenancySpec{Source: v1alpha1.TenantSourceAnnotations, Annotations: &v1alpha1.TenantAnnotations{
			Type: "platform.miloapis.com/scope.type", Name: "platform.miloapis.com/scope.name"}}
		p.Spec.ClickHouse.Retention = &v1alpha1.RetentionSpec{DeleteAfter: &metav1.Duration{Duration: 365 * 24 * time.Hour},
			Tenants: []v1alpha1.TenantRetention{{Tenant: "short", TenantType: "Project", DeleteAfter: metav1.Duration{Duration: deleteAfter}}}}
	}
	a := pipelineOn(t, srv, newNamespace(t), "audit", database)
	spec(a, 30*24*time.Hour)
	g.Expect(k8s.Create(ctx, a)).To(Succeed())

	// b: the same namespace and name in the other cluster, with a readable cluster name.
	b := a.DeepCopy()
	b.ObjectMeta = metav1.ObjectMeta{Namespace: a.Namespace, Name: a.Name}
	b.Spec.ClusterName = "eu-2"
	g.Expect(other.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: b.Namespace}})).To(Succeed())
	g.Expect(other.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "clickhouse-auth", Namespace: b.Namespace},
		Data: map[string][]byte{"password": {}}})).To(Succeed())

	ready := func(c client.Client, p *v1alpha1.AuditPipeline) func(Gomega) *v1alpha1.AuditPipeline {
		return func(g Gomega) *v1alpha1.AuditPipeline {
			cur := &v1alpha1.AuditPipeline{}
			g.Expect(c.Get(ctx, client.ObjectKeyFromObject(p), cur)).To(Succeed())
			g.Expect(conditionOf(cur, v1alpha1.ConditionSchemaReady)).To(Equal("True/" + v1alpha1.ReasonApplied))
			g.Expect(cur.Status.ClusterName).NotTo(BeEmpty())
			return cur
		}
	}
	var curA, curB *v1alpha1.AuditPipeline
	g.Eventually(func(g Gomega) { curA = ready(k8s, a)(g) }, timeout, interval).Should(Succeed())
	g.Expect(other.Create(ctx, b)).To(Succeed())
	g.Eventually(func(g Gomega) { curB = ready(other, b)(g) }, timeout, interval).Should(Succeed())

	// Cluster names: a's is its kube-system's UID, b's its spec's.
	var systemA corev1.Namespace
	g.Expect(k8s.Get(ctx, client.ObjectKey{Name: "kube-system"}, &systemA)).To(Succeed())
	g.Expect(curA.Status.ClusterName).To(Equal(string(systemA.UID)))
	g.Expect(curB.Status.ClusterName).To(Equal("eu-2"))
	g.Expect(curA.Status.ClickHouse.TTL).To(ContainSubstring("WHERE (tenant_type = 'Project') AND (tenant = 'short')"))
	g.Expect(curB.Status.ClickHouse.TTL).To(Equal(curA.Status.ClickHouse.TTL))

	// One owner of the TTL: a, by its cluster's UID.
	var owners []string
	rows, err := conn.Query(ctx, "SELECT owner FROM "+database+".auditpipeline_retention_owner")
	g.Expect(err).NotTo(HaveOccurred())
	for rows.Next() {
		var o string
		g.Expect(rows.Scan(&o)).To(Succeed())
		owners = append(owners, o)
	}
	g.Expect(owners).To(Equal([]string{string(systemA.UID) + "/" + a.Namespace + "/" + a.Name}))

	// Each cluster's events, through its own collector and aggregator: told apart by cluster.
	for _, cur := range []*v1alpha1.AuditPipeline{curA, curB} {
		col, err := vector.RenderCollector(cur, cur.Status.ClusterName)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(col.Config.Data[vector.ConfigFile]).To(ContainSubstring(`.auditpipeline_cluster = "` + cur.Status.ClusterName + `"`))
		ev := map[string]any{"kind": "Event", "apiVersion": "audit.k8s.io/v1", "auditID": string(cur.UID), "stage": "ResponseComplete",
			"verb": "delete", "stageTimestamp": time.Now().UTC().Format("2006-01-02T15:04:05.000000Z"),
			"annotations": map[string]any{"platform.miloapis.com/scope.type": "Project", "platform.miloapis.com/scope.name": "shop"}}
		row := vector.Tenancy(cur).FromEvent(vrl.WithCluster(ev, cur.Status.ClusterName), time.Now())
		in, err := sinkhttp.For(vector.AggregatorClickHouseSink(cur), nil)
		g.Expect(err).NotTo(HaveOccurred())
		body, err := in.Body([]map[string]any{row.Values()})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(in.Send(ctx, &http.Client{Timeout: 30 * time.Second}, srv.HTTPAddr, body)).To(Succeed())
	}
	var clusters []string
	rows, err = conn.Query(ctx, "SELECT toString(cluster) FROM "+database+".events WHERE tenant_type = 'Project' AND tenant = 'shop' ORDER BY cluster")
	g.Expect(err).NotTo(HaveOccurred())
	for rows.Next() {
		var c string
		g.Expect(rows.Scan(&c)).To(Succeed())
		clusters = append(clusters, c)
	}
	want := []string{string(systemA.UID), "eu-2"}
	if strings.Compare(want[0], want[1]) > 0 {
		want[0], want[1] = want[1], want[0]
	}
	g.Expect(clusters).To(Equal(want))

	// b asks for another retention of a tenant: RetentionConflict, and the TTL stays a's.
	g.Expect(retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := other.Get(ctx, client.ObjectKeyFromObject(b), b); err != nil {
			return err
		}
		spec(b, 7*24*time.Hour)
		return other.Update(ctx, b)
	})).To(Succeed())
	g.Eventually(func(g Gomega) string {
		cur := &v1alpha1.AuditPipeline{}
		g.Expect(other.Get(ctx, client.ObjectKeyFromObject(b), cur)).To(Succeed())
		return conditionOf(cur, v1alpha1.ConditionSchemaReady)
	}, timeout, interval).Should(Equal("False/" + v1alpha1.ReasonRetentionConflict))
	cur := ready(k8s, a)(g)
	g.Expect(cur.Status.ClickHouse.TTL).To(ContainSubstring("toIntervalDay(30) WHERE (tenant_type = 'Project') AND (tenant = 'short')"))
}
