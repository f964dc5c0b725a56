package controller

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
	"github.com/auditpipeline/auditpipeline-operator/internal/altinity"
)

// managedPipeline is a managed-ClickHouse pipeline with an S3 cold tier; its Secrets are created too.
func managedPipeline(t *testing.T, ns string, replicas int32) *v1alpha1.AuditPipeline {
	createSecret(t, ns, "clickhouse-auth", "password")
	createSecret(t, ns, "s3", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
	p := pipeline(ns, "audit")
	p.Spec.ClickHouse.External = nil
	p.Spec.ClickHouse.Managed = &v1alpha1.ManagedClickHouse{Replicas: replicas,
		HotVolume: v1alpha1.VolumeSpec{Size: resource.MustParse("50Gi")}}
	p.Spec.ClickHouse.Storage = &v1alpha1.StorageSpec{Cold: &v1alpha1.ColdStorageSpec{
		Endpoint: "http://minio.storage.svc:9000", Bucket: "audit-cold",
		CredentialsSecretRef: v1alpha1.SecretReference{Name: "s3"}}}
	return p
}

// completeInstallation plays the Altinity operator: it reports the installation as completed.
func completeInstallation(g Gomega, obj client.Object, status *altinity.CHIStatus, hosts int32) {
	*status = altinity.CHIStatus{Status: altinity.StatusCompleted, Hosts: hosts, HostsCompleted: hosts}
	g.Expect(k8s.Status().Update(context.Background(), obj)).To(Succeed())
}

func TestManagedClickHouseInstallation(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := newNamespace(t)
	p := managedPipeline(t, ns, 3)
	g.Expect(k8s.Create(ctx, p)).To(Succeed())

	// The API server accepts what we render (the real Altinity CRDs are installed), owned by the pipeline.
	chi := &altinity.ClickHouseInstallation{}
	chk := &altinity.ClickHouseKeeperInstallation{}
	key := client.ObjectKey{Namespace: ns, Name: p.Name}
	g.Eventually(func(g Gomega) {
		g.Expect(k8s.Get(ctx, key, chi)).To(Succeed())
		g.Expect(k8s.Get(ctx, key, chk)).To(Succeed())
	}, timeout, interval).Should(Succeed())
	g.Expect(chi.OwnerReferences).To(HaveLen(1))
	g.Expect(chi.OwnerReferences[0].Name).To(Equal(p.Name))
	g.Expect(chi.Labels).To(HaveKeyWithValue(LabelPipeline, p.Name))
	g.Expect(chi.Spec.Configuration.Clusters[0].Layout.ReplicasCount).To(Equal(int32(3)))
	g.Expect(chi.Spec.Configuration.Zookeeper.Nodes[0].Host).To(Equal("keeper-audit"))
	g.Expect(chi.Spec.Configuration.Files).To(HaveKey("config.d/storage.xml"))

	// Until Altinity reports completion, ClickHouse is not ready, and says why.
	g.Eventually(func() (string, error) {
		cur, err := fetch(p)()
		return conditionOf(cur, v1alpha1.ConditionClickHouseReady), err
	}, timeout, interval).Should(Equal("False/" + v1alpha1.ReasonInstalling))

	completeInstallation(g, chi, &chi.Status, 3)
	g.Consistently(func() (string, error) {
		cur, err := fetch(p)()
		return conditionOf(cur, v1alpha1.ConditionClickHouseReady), err
	}, time.Second, interval).Should(Equal("False/"+v1alpha1.ReasonInstalling), "Keeper is not complete yet")
	completeInstallation(g, chk, &chk.Status, 3)
	g.Eventually(func(g Gomega) {
		cur, err := fetch(p)()
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(conditionOf(cur, v1alpha1.ConditionClickHouseReady)).To(Equal("True/" + v1alpha1.ReasonReady))
		g.Expect(cur.Status.ClickHouse).NotTo(BeNil())
		g.Expect(cur.Status.ClickHouse.Installation).To(Equal(p.Name))
		g.Expect(cur.Status.ClickHouse.NativeEndpoint).To(Equal("clickhouse-audit." + ns + ".svc:9000"))
		g.Expect(cur.Status.ClickHouse.HTTPEndpoint).To(Equal("http://clickhouse-audit." + ns + ".svc:8123"))
	}, timeout, interval).Should(Succeed())

	// A pass with nothing to change writes nothing to the installation.
	g.Expect(k8s.Get(ctx, key, chi)).To(Succeed())
	before := chi.ResourceVersion
	updatePipeline(g, p, func(cur *v1alpha1.AuditPipeline) {
		cur.Annotations = map[string]string{"test/poke": "1"}
	})
	g.Consistently(func() (string, error) {
		err := k8s.Get(ctx, key, chi)
		return chi.ResourceVersion, err
	}, 2*time.Second, interval).Should(Equal(before))

	// A spec change reaches the installation; scaling down to one replica removes the Keeper.
	updatePipeline(g, p, func(cur *v1alpha1.AuditPipeline) {
		cur.Spec.ClickHouse.Managed.Image = "clickhouse/clickhouse-server:25.9"
		cur.Spec.ClickHouse.Managed.Replicas = 1
	})
	g.Eventually(func(g Gomega) {
		g.Expect(k8s.Get(ctx, key, chi)).To(Succeed())
		g.Expect(chi.Spec.Templates.PodTemplates[0].Spec.Containers[0].Image).To(Equal("clickhouse/clickhouse-server:25.9"))
		g.Expect(chi.Spec.Configuration.Clusters[0].Layout.ReplicasCount).To(Equal(int32(1)))
		g.Expect(chi.Spec.Configuration.Zookeeper).To(BeNil())
		g.Expect(apierrors.IsNotFound(k8s.Get(ctx, key, &altinity.ClickHouseKeeperInstallation{}))).To(BeTrue())
	}, timeout, interval).Should(Succeed())
}

func TestInstallationFailureIsReported(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := newNamespace(t)
	p := managedPipeline(t, ns, 1)
	g.Expect(k8s.Create(ctx, p)).To(Succeed())
	chi := &altinity.ClickHouseInstallation{}
	g.Eventually(func() error {
		return k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: p.Name}, chi)
	}, timeout, interval).Should(Succeed())
	chi.Status = altinity.CHIStatus{Status: altinity.StatusAborted, Error: "pod chi-audit-audit-0-0-0 CrashLoopBackOff"}
	g.Expect(k8s.Status().Update(ctx, chi)).To(Succeed())
	g.Eventually(func(g Gomega) {
		cur, err := fetch(p)()
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(conditionOf(cur, v1alpha1.ConditionClickHouseReady)).To(Equal("False/" + v1alpha1.ReasonInstallationFailed))
		c := apimeta.FindStatusCondition(cur.Status.Conditions, v1alpha1.ConditionClickHouseReady)
		g.Expect(c.Message).To(ContainSubstring("CrashLoopBackOff"))
	}, timeout, interval).Should(Succeed())
}

// An S3 key with the newline a --from-file Secret often keeps is reported before ClickHouse signs a
// request with it.
func TestS3KeyWithANewlineIsReported(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := newNamespace(t)
	p := managedPipeline(t, ns, 1)
	s3 := &corev1.Secret{}
	g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "s3"}, s3)).To(Succeed())
	s3.Data["AWS_SECRET_ACCESS_KEY"] = []byte("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n")
	g.Expect(k8s.Update(ctx, s3)).To(Succeed())
	g.Expect(k8s.Create(ctx, p)).To(Succeed())
	g.Eventually(func(g Gomega) {
		cur, err := fetch(p)()
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(conditionOf(cur, v1alpha1.ConditionClickHouseReady)).To(Equal("False/" + v1alpha1.ReasonSecretUnusable))
		g.Expect(apimeta.FindStatusCondition(cur.Status.Conditions, v1alpha1.ConditionClickHouseReady).Message).To(ContainSubstring(
			`the value of key "AWS_SECRET_ACCESS_KEY" of Secret "s3", named by spec.clickhouse.storage.cold.credentialsSecretRef, holds a space, a line break or another control character`))
	}, timeout, interval).Should(Succeed())
}
