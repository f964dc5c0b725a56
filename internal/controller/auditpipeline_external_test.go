package controller

import (
	"context"
	"net"
	"strconv"
	"testing"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
	"github.com/auditpipeline/auditpipeline-operator/internal/testkit/chtest"
)

// TestExternalClickHouseIsChecked points a pipeline at a real ClickHouse server on loopback.
func TestExternalClickHouseIsChecked(t *testing.T) {
	srv := chtest.New(t, chtest.Options{})
	host, port, err := net.SplitHostPort(srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	nativePort, _ := strconv.Atoi(port)

	g := NewWithT(t)
	ctx := context.Background()
	ns := newNamespace(t)
	secret := &corev1.Secret{}
	createSecret(t, ns, "clickhouse-auth", "password")
	g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "clickhouse-auth"}, secret)).To(Succeed())
	secret.Data["password"] = []byte{} // the test server's default user has no password
	g.Expect(k8s.Update(ctx, secret)).To(Succeed())
	p := pipeline(ns, "external")
	p.Spec.ClickHouse.Credentials.Username = "default"
	p.Spec.ClickHouse.External.Hosts = []string{host}
	g.Expect(k8s.Create(ctx, p)).To(Succeed())

	// Nothing listens on the pipeline's port yet: ClickHouse is unreachable, retried with backoff, and
	// the schema waits for it.
	g.Eventually(func(g Gomega) {
		cur, err := fetch(p)()
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(conditionOf(cur, v1alpha1.ConditionClickHouseReady)).To(Equal("False/" + v1alpha1.ReasonUnreachable))
		g.Expect(conditionOf(cur, v1alpha1.ConditionReady)).To(Equal("False/" + v1alpha1.ReasonReconcileFailed))
		g.Expect(conditionOf(cur, v1alpha1.ConditionSchemaReady)).To(Equal("False/" + v1alpha1.ReasonWaitingForClickHouse))
	}, timeout, interval).Should(Succeed())

	// Pointed at the real server, the pipeline sees it answer with its version.
	updatePipeline(g, p, func(cur *v1alpha1.AuditPipeline) {
		cur.Spec.ClickHouse.External.NativePort = int32(nativePort)
	})
	g.Eventually(func(g Gomega) {
		cur, err := fetch(p)()
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(conditionOf(cur, v1alpha1.ConditionClickHouseReady)).To(Equal("True/" + v1alpha1.ReasonReady))
		c := apimeta.FindStatusCondition(cur.Status.Conditions, v1alpha1.ConditionClickHouseReady)
		g.Expect(c.Message).To(MatchRegexp(`^ClickHouse 26\.\d+\.\S+ answers at `))
		g.Expect(cur.Status.ClickHouse.Mode).To(Equal("External"))
		g.Expect(cur.Status.ClickHouse.NativeEndpoint).To(Equal(srv.Addr))
		// Once ClickHouse answers, the schema that waited for it is migrated.
		g.Expect(conditionOf(cur, v1alpha1.ConditionSchemaReady)).To(Equal("True/" + v1alpha1.ReasonApplied))
	}, timeout, interval).Should(Succeed())
}
