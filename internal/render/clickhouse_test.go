package render

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
	"github.com/auditpipeline/auditpipeline-operator/internal/testkit/golden"
)

// managedPipeline is an AuditPipeline as the API server returns it: with every default filled in.
func managedPipeline(replicas int32) *v1alpha1.AuditPipeline {
	return &v1alpha1.AuditPipeline{
		ObjectMeta: metav1.ObjectMeta{Name: "cluster-audit", Namespace: "audit"},
		Spec: v1alpha1.AuditPipelineSpec{
			ClickHouse: v1alpha1.ClickHouseSpec{
				Managed: &v1alpha1.ManagedClickHouse{
					Image: "clickhouse/clickhouse-server:25.8", Shards: 1, Replicas: replicas,
					HotVolume: v1alpha1.VolumeSpec{Size: resource.MustParse("100Gi")},
				},
				Credentials: v1alpha1.ClickHouseCredentials{Username: "audit",
					PasswordSecretRef: v1alpha1.SecretKeyReference{Name: "clickhouse-audit", Key: "password"}},
				Database: "audit",
			},
			DeletionPolicy: v1alpha1.DeletionPolicyRetain,
		},
	}
}

func withS3(p *v1alpha1.AuditPipeline, cache string) *v1alpha1.AuditPipeline {
	p.Spec.ClickHouse.Storage = &v1alpha1.StorageSpec{Cold: &v1alpha1.ColdStorageSpec{
		Endpoint: "https://s3.eu-west-1.amazonaws.com", Bucket: "audit-cold", Path: "clickhouse/",
		Region: "eu-west-1", CredentialsSecretRef: v1alpha1.SecretReference{Name: "audit-cold-s3"},
		CacheSize: ptr.To(resource.MustParse(cache)), MoveAfter: metav1.Duration{Duration: 2160 * time.Hour},
	}}
	return p
}

func TestClickHouseInstallationGolden(t *testing.T) {
	threeReplicas := withS3(managedPipeline(3), "10Gi")
	threeReplicas.Spec.ClickHouse.Managed.HotVolume.StorageClassName = ptr.To("fast-ssd")
	threeReplicas.Spec.ClickHouse.Managed.Resources = v1alpha1.ComputeResources{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourceMemory: resource.MustParse("8Gi")}}
	threeReplicas.Spec.ClickHouse.Managed.Keeper = &v1alpha1.KeeperSpec{Replicas: 5, Image: "clickhouse/clickhouse-keeper:25.8",
		Volume: v1alpha1.VolumeSpec{Size: resource.MustParse("20Gi")}}
	deleting := withS3(managedPipeline(1), "0")
	deleting.Spec.DeletionPolicy = v1alpha1.DeletionPolicyDelete

	cases := map[string]*v1alpha1.AuditPipeline{
		"single_node":                   managedPipeline(1),
		"single_node_s3_nocache_delete": deleting,
		"three_replicas_s3_cache":       threeReplicas,
		"two_replicas_default_keeper":   managedPipeline(2),
	}
	for name, p := range cases {
		t.Run(name, func(t *testing.T) {
			chi, err := ClickHouseInstallation(p)
			if err != nil {
				t.Fatal(err)
			}
			out, err := yaml.Marshal(chi)
			if err != nil {
				t.Fatal(err)
			}
			if chk := KeeperInstallation(p); chk != nil {
				k, err := yaml.Marshal(chk)
				if err != nil {
					t.Fatal(err)
				}
				out = append(append(out, []byte("---\n")...), k...)
			}
			golden.Assert(t, "chi_"+name+".yaml", out)
			if strings.Contains(string(out), "password:") && !strings.Contains(string(out), "secretKeyRef") {
				t.Errorf("a password is rendered without a Secret reference")
			}
		})
	}
}

func TestClickHouseInstallationRules(t *testing.T) {
	external := managedPipeline(1)
	external.Spec.ClickHouse.Managed = nil
	external.Spec.ClickHouse.External = &v1alpha1.ExternalClickHouse{Hosts: []string{"ch"}}
	if chi, err := ClickHouseInstallation(external); chi != nil || err != nil {
		t.Errorf("external mode must render no CHI, got %v, %v", chi, err)
	}
	if KeeperInstallation(managedPipeline(1)) != nil {
		t.Errorf("a single replica needs no Keeper")
	}
	single, _ := ClickHouseInstallation(managedPipeline(1))
	if single.Spec.Configuration.Zookeeper != nil || single.Spec.Configuration.Profiles["default/insert_quorum"] != "" {
		t.Errorf("a single replica gets neither Keeper nodes nor an insert quorum")
	}
	if got := single.Spec.Configuration.Profiles["default/optimize_on_insert"]; got != "0" {
		t.Errorf("optimize_on_insert = %q, want 0 (migrations.InsertSettings)", got)
	}
	for replicas, quorum := range map[int32]string{2: "2", 3: "2", 5: "3"} {
		chi, _ := ClickHouseInstallation(managedPipeline(replicas))
		if got := chi.Spec.Configuration.Profiles["default/insert_quorum"]; got != quorum {
			t.Errorf("replicas %d: insert_quorum = %s, want %s", replicas, got, quorum)
		}
		if chi.Spec.Configuration.Zookeeper.Nodes[0].Host != "keeper-cluster-audit" {
			t.Errorf("replicas %d: keeper host = %s", replicas, chi.Spec.Configuration.Zookeeper.Nodes[0].Host)
		}
	}
}
