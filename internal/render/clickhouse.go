package render

import (
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
	"github.com/auditpipeline/auditpipeline-operator/internal/altinity"
	"github.com/auditpipeline/auditpipeline-operator/internal/tiering"
	"github.com/auditpipeline/auditpipeline-operator/migrations"
)

const (
	// ClickHouseCluster is the name of the cluster inside the ClickHouseInstallation.
	ClickHouseCluster = "audit"
	// KeeperClientPort is the ZooKeeper-protocol port of a ClickHouseKeeperInstallation.
	KeeperClientPort = 2181
	// KeeperMapPathPrefix is the Keeper path of KeeperMap tables on a replicated installation.
	KeeperMapPathPrefix = "/keeper_map_tables"

	chPodTemplate    = "clickhouse"
	chDataVolume     = "data"
	keeperCluster    = "keeper"
	keeperPodTmpl    = "keeper"
	keeperDataVolume = "keeper-data"
)

// ClickHouseServiceName is the Service the Altinity operator creates for a ClickHouseInstallation.
func ClickHouseServiceName(p *v1alpha1.AuditPipeline) string { return "clickhouse-" + p.Name }

// KeeperServiceName is the Service the Altinity operator creates for a ClickHouseKeeperInstallation.
func KeeperServiceName(p *v1alpha1.AuditPipeline) string { return "keeper-" + p.Name }

// ClickHouseInstallation renders the managed ClickHouse of p: the cluster layout, the user the pipeline
// connects as (password from the referenced Secret), the storage policy, the pod template with the S3
// credentials from their Secret, and the data volume. It returns nil for an external ClickHouse.
func ClickHouseInstallation(p *v1alpha1.AuditPipeline) (*altinity.ClickHouseInstallation, error) {
	m := p.Spec.ClickHouse.Managed
	if m == nil {
		return nil, nil
	}
	storage, err := tiering.StorageXML(&p.Spec.ClickHouse)
	if err != nil {
		return nil, err
	}
	users, err := clickHouseUsers(&p.Spec.ClickHouse.Credentials)
	if err != nil {
		return nil, err
	}
	chi := &altinity.ClickHouseInstallation{
		TypeMeta:   metav1.TypeMeta{APIVersion: altinity.CHIGroupVersion.String(), Kind: "ClickHouseInstallation"},
		ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace},
		Spec: altinity.CHISpec{
			Defaults: &altinity.Defaults{Templates: &altinity.TemplateNames{
				PodTemplate: chPodTemplate, DataVolumeClaimTemplate: chDataVolume}},
			Configuration: altinity.Configuration{
				Users:    users,
				Profiles: insertProfile(m.Replicas),
				Files:    map[string]string{tiering.StorageFile: string(storage)},
				Clusters: []altinity.Cluster{{Name: ClickHouseCluster,
					Layout: altinity.Layout{ShardsCount: m.Shards, ReplicasCount: m.Replicas}}},
			},
			Templates: &altinity.Templates{
				PodTemplates:         []altinity.PodTemplate{{Name: chPodTemplate, Spec: clickHousePod(p)}},
				VolumeClaimTemplates: []altinity.VolumeClaimTemplate{volumeClaim(chDataVolume, &m.HotVolume, p.Spec.DeletionPolicy)},
			},
		},
	}
	if m.Replicas > 1 {
		chi.Spec.Configuration.Zookeeper = &altinity.Zookeeper{Nodes: []altinity.ZookeeperNode{
			{Host: KeeperServiceName(p), Port: KeeperClientPort}}}
		// KeeperMap tables (the schema migrations' lock) live under this Keeper path.
		chi.Spec.Configuration.Settings = map[string]string{"keeper_map_path_prefix": KeeperMapPathPrefix}
	}
	return chi, nil
}

// clickHouseUsers declares the pipeline's user with its password taken from the Secret by the Altinity
// operator (an environment variable in the pod, from_env in users.xml): never in the CHI itself.
func clickHouseUsers(c *v1alpha1.ClickHouseCredentials) (map[string]apiextensionsv1.JSON, error) {
	password, err := json.Marshal(map[string]any{"valueFrom": map[string]any{"secretKeyRef": map[string]string{
		"name": c.PasswordSecretRef.Name, "key": c.PasswordSecretRef.Key}}})
	if err != nil {
		return nil, fmt.Errorf("render ClickHouse user: %w", err)
	}
	networks, _ := json.Marshal([]string{"::/0"})
	return map[string]apiextensionsv1.JSON{
		c.Username + "/password":    {Raw: password},
		c.Username + "/networks/ip": {Raw: networks},
		c.Username + "/profile":     {Raw: []byte(`"default"`)},
	}, nil
}

// insertProfile is the default profile's settings for inserts: the ones the schema wants
// (migrations.InsertSettings), and, when there are several replicas, a majority of them to wait for,
// so an acknowledged batch survives the loss of one replica.
func insertProfile(replicas int32) map[string]string {
	profile := map[string]string{}
	for k, v := range migrations.InsertSettings {
		profile["default/"+k] = v
	}
	if replicas > 1 {
		profile["default/insert_quorum"] = fmt.Sprint(replicas/2 + 1)
		profile["default/insert_quorum_parallel"] = "1"
	}
	return profile
}

func clickHousePod(p *v1alpha1.AuditPipeline) corev1.PodSpec {
	m := p.Spec.ClickHouse.Managed
	c := corev1.Container{Name: "clickhouse", Image: string(m.Image), Resources: m.Resources.Requirements()}
	if cold := p.Spec.ClickHouse.Storage; cold != nil && cold.Cold != nil {
		secret := cold.Cold.CredentialsSecretRef.Name
		for _, key := range []string{tiering.EnvAccessKeyID, tiering.EnvSecretAccessKey} {
			c.Env = append(c.Env, corev1.EnvVar{Name: key, ValueFrom: &corev1.EnvVarSource{
				SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: secret}, Key: key}}})
		}
	}
	return corev1.PodSpec{Containers: []corev1.Container{c}}
}

func volumeClaim(name string, v *v1alpha1.VolumeSpec, policy v1alpha1.DeletionPolicy) altinity.VolumeClaimTemplate {
	reclaim := "Retain"
	if policy == v1alpha1.DeletionPolicyDelete {
		reclaim = "Delete"
	}
	return altinity.VolumeClaimTemplate{
		Name:          name,
		ReclaimPolicy: reclaim,
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			StorageClassName: v.StorageClassName,
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: v.Size}},
		},
	}
}

// KeeperInstallation renders the ClickHouse Keeper ensemble of a managed ClickHouse with more than one
// replica; nil otherwise.
func KeeperInstallation(p *v1alpha1.AuditPipeline) *altinity.ClickHouseKeeperInstallation {
	m := p.Spec.ClickHouse.Managed
	if m == nil || m.Replicas <= 1 {
		return nil
	}
	k := m.Keeper
	if k == nil {
		k = &v1alpha1.KeeperSpec{}
	}
	replicas, image, volume := k.Replicas, k.Image, k.Volume
	if replicas == 0 {
		replicas = 3
	}
	if image == "" {
		image = "clickhouse/clickhouse-keeper:25.8"
	}
	if volume.Size.IsZero() {
		volume.Size = resource.MustParse("10Gi")
	}
	return &altinity.ClickHouseKeeperInstallation{
		TypeMeta:   metav1.TypeMeta{APIVersion: altinity.CHKGroupVersion.String(), Kind: "ClickHouseKeeperInstallation"},
		ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace},
		Spec: altinity.CHKSpec{
			Defaults: &altinity.Defaults{Templates: &altinity.TemplateNames{
				PodTemplate: keeperPodTmpl, DataVolumeClaimTemplate: keeperDataVolume}},
			Configuration: altinity.CHKConfiguration{
				Settings: map[string]string{"keeper_server/tcp_port": fmt.Sprint(KeeperClientPort)},
				Clusters: []altinity.Cluster{{Name: keeperCluster, Layout: altinity.Layout{ReplicasCount: replicas}}},
			},
			Templates: &altinity.Templates{
				PodTemplates: []altinity.PodTemplate{{Name: keeperPodTmpl, Spec: corev1.PodSpec{
					Containers: []corev1.Container{{Name: "clickhouse-keeper", Image: string(image)}}}}},
				VolumeClaimTemplates: []altinity.VolumeClaimTemplate{volumeClaim(keeperDataVolume, &volume, p.Spec.DeletionPolicy)},
			},
		},
	}
}
