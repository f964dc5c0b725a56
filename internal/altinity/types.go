package altinity

import (
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// CHIGroupVersion is the group and version of ClickHouseInstallation.
	CHIGroupVersion = schema.GroupVersion{Group: "clickhouse.altinity.com", Version: "v1"}
	// CHKGroupVersion is the group and version of ClickHouseKeeperInstallation.
	CHKGroupVersion = schema.GroupVersion{Group: "clickhouse-keeper.altinity.com", Version: "v1"}
)

// Status values Altinity reports in status.status.
const (
	StatusCompleted  = "Completed"
	StatusInProgress = "InProgress"
	StatusAborted    = "Aborted"
)

// AddToScheme registers the types of this package.
func AddToScheme(s *runtime.Scheme) error {
	s.AddKnownTypes(CHIGroupVersion, &ClickHouseInstallation{}, &ClickHouseInstallationList{})
	metav1.AddToGroupVersion(s, CHIGroupVersion)
	s.AddKnownTypes(CHKGroupVersion, &ClickHouseKeeperInstallation{}, &ClickHouseKeeperInstallationList{})
	metav1.AddToGroupVersion(s, CHKGroupVersion)
	return nil
}

// ClickHouseInstallation is a ClickHouse cluster run by the Altinity operator.
//
// +kubebuilder:object:root=true
type ClickHouseInstallation struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              CHISpec   `json:"spec"`
	Status            CHIStatus `json:"status,omitzero"`
}

// ClickHouseInstallationList is a list of ClickHouseInstallations.
//
// +kubebuilder:object:root=true
type ClickHouseInstallationList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ClickHouseInstallation `json:"items"`
}

// CHISpec is the part of a ClickHouseInstallation's spec the operator renders.
type CHISpec struct {
	Defaults      *Defaults     `json:"defaults,omitempty"`
	Configuration Configuration `json:"configuration"`
	Templates     *Templates    `json:"templates,omitempty"`
}

// Defaults names the templates every host uses.
type Defaults struct {
	Templates *TemplateNames `json:"templates,omitempty"`
}

// TemplateNames refers to entries of spec.templates.
type TemplateNames struct {
	PodTemplate             string `json:"podTemplate,omitempty"`
	DataVolumeClaimTemplate string `json:"dataVolumeClaimTemplate,omitempty"`
}

// Configuration is spec.configuration: users, profiles, settings, files, clusters and the Keeper nodes.
type Configuration struct {
	Zookeeper *Zookeeper `json:"zookeeper,omitempty"`
	// Users maps "user/setting" keys to values; a value may be an object such as
	// {"valueFrom": {"secretKeyRef": {...}}}, hence raw JSON.
	Users    map[string]apiextensionsv1.JSON `json:"users,omitempty"`
	Profiles map[string]string               `json:"profiles,omitempty"`
	Settings map[string]string               `json:"settings,omitempty"`
	// Files maps a path below /etc/clickhouse-server (e.g. config.d/storage.xml) to its content.
	Files    map[string]string `json:"files,omitempty"`
	Clusters []Cluster         `json:"clusters,omitempty"`
}

// Zookeeper lists the Keeper (ZooKeeper protocol) nodes ClickHouse coordinates replicas through.
type Zookeeper struct {
	Nodes []ZookeeperNode `json:"nodes,omitempty"`
}

// ZookeeperNode is one Keeper endpoint.
type ZookeeperNode struct {
	Host string `json:"host"`
	Port int32  `json:"port,omitempty"`
}

// Cluster is one cluster of a ClickHouseInstallation or ClickHouseKeeperInstallation.
type Cluster struct {
	Name   string `json:"name"`
	Layout Layout `json:"layout"`
}

// Layout is a cluster's shard and replica counts.
type Layout struct {
	ShardsCount   int32 `json:"shardsCount,omitempty"`
	ReplicasCount int32 `json:"replicasCount,omitempty"`
}

// Templates holds the pod and volume claim templates hosts refer to.
type Templates struct {
	PodTemplates         []PodTemplate         `json:"podTemplates,omitempty"`
	VolumeClaimTemplates []VolumeClaimTemplate `json:"volumeClaimTemplates,omitempty"`
}

// PodTemplate is a named pod spec.
type PodTemplate struct {
	Name string         `json:"name"`
	Spec corev1.PodSpec `json:"spec"`
}

// VolumeClaimTemplate is a named PersistentVolumeClaim spec with Altinity's reclaim policy.
type VolumeClaimTemplate struct {
	Name string `json:"name"`
	// ReclaimPolicy is Retain or Delete: whether the claim outlives the installation.
	ReclaimPolicy string                           `json:"reclaimPolicy,omitempty"`
	Spec          corev1.PersistentVolumeClaimSpec `json:"spec"`
}

// CHIStatus is the part of the status Altinity reports that the operator reads.
type CHIStatus struct {
	Status         string   `json:"status,omitempty"`
	Hosts          int32    `json:"hosts,omitempty"`
	HostsCompleted int32    `json:"hostsCompleted,omitempty"`
	Endpoint       string   `json:"endpoint,omitempty"`
	Error          string   `json:"error,omitempty"`
	Errors         []string `json:"errors,omitempty"`
}

// ClickHouseKeeperInstallation is a ClickHouse Keeper ensemble run by the Altinity operator.
//
// +kubebuilder:object:root=true
type ClickHouseKeeperInstallation struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              CHKSpec   `json:"spec"`
	Status            CHIStatus `json:"status,omitzero"`
}

// ClickHouseKeeperInstallationList is a list of ClickHouseKeeperInstallations.
//
// +kubebuilder:object:root=true
type ClickHouseKeeperInstallationList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ClickHouseKeeperInstallation `json:"items"`
}

// CHKSpec is the part of a ClickHouseKeeperInstallation's spec the operator renders.
type CHKSpec struct {
	Defaults      *Defaults        `json:"defaults,omitempty"`
	Configuration CHKConfiguration `json:"configuration"`
	Templates     *Templates       `json:"templates,omitempty"`
}

// CHKConfiguration is a Keeper installation's spec.configuration.
type CHKConfiguration struct {
	Settings map[string]string `json:"settings,omitempty"`
	Clusters []Cluster         `json:"clusters,omitempty"`
}
