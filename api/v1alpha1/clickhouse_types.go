package v1alpha1

import (
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ClickHouseSpec says where audit events are stored. Exactly one of managed and external is set.
// +kubebuilder:validation:XValidation:rule="has(self.managed) != has(self.external)",message="spec.clickhouse needs exactly one of managed (the operator runs ClickHouse) or external (an existing ClickHouse): set one and remove the other"
// +kubebuilder:validation:XValidation:rule="has(self.managed) == has(oldSelf.managed)",message="spec.clickhouse cannot switch between managed and external: the stored audit data would be left behind; create a new AuditPipeline instead"
// +kubebuilder:validation:XValidation:rule="!has(self.storage) || !has(self.storage.cold) || has(self.managed)",message="spec.clickhouse.storage.cold configures the S3 disk of a managed ClickHouse; with spec.clickhouse.external, configure tiering on that server and remove storage.cold"
// +kubebuilder:validation:XValidation:rule="!has(self.retention) || !has(self.retention.deleteAfter) || !has(self.storage) || !has(self.storage.cold) || !self.retention.deleteAfter.matches('^([0-9]+(\\\\.[0-9]+)?(s|m|h))+$') || !self.storage.cold.moveAfter.matches('^([0-9]+(\\\\.[0-9]+)?(s|m|h))+$') || duration(self.retention.deleteAfter) > duration(self.storage.cold.moveAfter)",message="spec.clickhouse.retention.deleteAfter must be longer than spec.clickhouse.storage.cold.moveAfter, else events are deleted before they reach cold storage"
type ClickHouseSpec struct {
	// managed makes the operator run ClickHouse as a ClickHouseInstallation of the Altinity
	// clickhouse-operator, which must be installed in the cluster.
	// +optional
	Managed *ManagedClickHouse `json:"managed,omitempty"`

	// external points the pipeline at an existing ClickHouse server or cluster.
	// +optional
	External *ExternalClickHouse `json:"external,omitempty"`

	// credentials are the ClickHouse user the operator migrates the schema with and the aggregator inserts
	// with. In managed mode the operator creates this user with the referenced password.
	// +required
	Credentials ClickHouseCredentials `json:"credentials"`

	// database holds the audit tables. Defaults to "audit". Cannot be changed after creation.
	// +optional
	// +kubebuilder:default=audit
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-zA-Z_][a-zA-Z0-9_]*$')",message="spec.clickhouse.database must start with a letter or '_' and hold only letters, digits and '_'"
	// +kubebuilder:validation:XValidation:rule="!(self in ['system', 'information_schema', 'INFORMATION_SCHEMA', '_temporary_and_external_tables'])",message="spec.clickhouse.database must not be one of ClickHouse's own databases (system, information_schema, INFORMATION_SCHEMA): choose another name, e.g. audit"
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec.clickhouse.database cannot be changed: the audit data lives in the database it was created in"
	Database string `json:"database,omitempty"`

	// storage configures where table data lives: hot data on local disks, and optionally cold data on
	// S3-compatible object storage.
	// +optional
	Storage *StorageSpec `json:"storage,omitempty"`

	// retention configures when audit events are deleted. Unset, they are kept forever.
	// +optional
	Retention *RetentionSpec `json:"retention,omitempty"`
}

// ManagedClickHouse is a ClickHouse the operator runs through the Altinity clickhouse-operator.
// +kubebuilder:validation:XValidation:rule="!has(self.keeper) || self.replicas > 1",message="spec.clickhouse.managed.keeper is used only to coordinate replicas: raise replicas above 1 or remove keeper"
type ManagedClickHouse struct {
	// image is the ClickHouse server image. Defaults to clickhouse/clickhouse-server:25.8.
	// +optional
	// +kubebuilder:default="clickhouse/clickhouse-server:25.8"
	Image ImageReference `json:"image,omitempty"`

	// shards splits the events table across this many shards. Defaults to 1.
	// +optional
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=64
	Shards int32 `json:"shards,omitempty"`

	// replicas is the number of replicas of each shard. Above 1, ClickHouse Keeper is run to coordinate
	// them and inserts wait for a quorum. Defaults to 1.
	// +optional
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=9
	Replicas int32 `json:"replicas,omitempty"`

	// resources are the compute resources of each ClickHouse server container.
	// +optional
	Resources ComputeResources `json:"resources,omitempty"`

	// hotVolume is the local volume each ClickHouse server keeps recent data on.
	// +optional
	// +kubebuilder:default={}
	HotVolume VolumeSpec `json:"hotVolume,omitempty"`

	// keeper configures the ClickHouse Keeper ensemble run when replicas > 1. Unset, a 3-node ensemble
	// with defaults is run.
	// +optional
	Keeper *KeeperSpec `json:"keeper,omitempty"`
}

// VolumeSpec is a persistent volume claimed for each pod.
type VolumeSpec struct {
	// size of the volume. Defaults to 100Gi.
	// +optional
	// +kubebuilder:default="100Gi"
	// +kubebuilder:validation:XValidation:rule="isQuantity(string(self))",message="volume size must be a quantity such as 100Gi or a plain number of bytes: suffixes Ki, Mi, Gi, Ti (powers of 1024) or k, M, G, T (powers of 1000), no space and no B (10GB is written 10G)"
	// +kubebuilder:validation:XValidation:rule="!isQuantity(string(self)) || (quantity(string(self)).compareTo(quantity('1Gi')) >= 0)",message="volume size must be at least 1Gi"
	Size resource.Quantity `json:"size,omitzero"`

	// storageClassName is the StorageClass of the claim. Unset, the cluster's default class is used.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')",message="storageClassName must be the name of a StorageClass: lower case letters, digits, '-' and '.', starting and ending with a letter or digit"
	StorageClassName *string `json:"storageClassName,omitempty"`
}

// KeeperSpec is a ClickHouse Keeper ensemble.
type KeeperSpec struct {
	// replicas is the size of the ensemble: 1, 3 or 5 (an odd number keeps a quorum). Defaults to 3.
	// +optional
	// +kubebuilder:default=3
	// +kubebuilder:validation:Enum=1;3;5
	Replicas int32 `json:"replicas,omitempty"`

	// image is the ClickHouse Keeper image. Defaults to clickhouse/clickhouse-keeper:25.8.
	// +optional
	// +kubebuilder:default="clickhouse/clickhouse-keeper:25.8"
	Image ImageReference `json:"image,omitempty"`

	// volume holds each Keeper node's log and snapshots. Defaults to 10Gi of the default StorageClass,
	// plenty for the pipeline's coordination data.
	// +optional
	// +kubebuilder:default={size: "10Gi"}
	Volume VolumeSpec `json:"volume,omitempty"`
}

// ExternalClickHouse is an existing ClickHouse server or cluster. Its operators set the schema's insert
// settings (migrations.InsertSettings) for the user the aggregator logs in as: docs/schema.md.
type ExternalClickHouse struct {
	// hosts are the DNS names or IP addresses of the ClickHouse servers, one per replica.
	// +required
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self.all(h, h.startsWith('[') || h.matches('^[a-zA-Z0-9]([-a-zA-Z0-9.]*[a-zA-Z0-9])?$|^[0-9a-fA-F:]+$'))",message="spec.clickhouse.external.hosts must be host names or IP addresses, without scheme or port, e.g. clickhouse.db.svc or 10.0.0.7: set the ports in nativePort and httpPort"
	// +kubebuilder:validation:XValidation:rule="self.all(h, !h.startsWith('['))",message="spec.clickhouse.external.hosts takes IPv6 addresses without brackets, e.g. fd00::1 rather than [fd00::1]: the ports go in nativePort and httpPort"
	Hosts []string `json:"hosts"`

	// nativePort is the port of ClickHouse's native protocol, used by the operator for migrations.
	// Defaults to 9000 (use 9440 with TLS).
	// +optional
	// +kubebuilder:default=9000
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	NativePort int32 `json:"nativePort,omitempty"`

	// httpPort is the port of ClickHouse's HTTP interface, used by the aggregator for inserts.
	// Defaults to 8123 (use 8443 with TLS).
	// +optional
	// +kubebuilder:default=8123
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	HTTPPort int32 `json:"httpPort,omitempty"`

	// tls turns on TLS to ClickHouse with these settings. Unset, connections are plain text.
	// +optional
	TLS *TLSSpec `json:"tls,omitempty"`

	// cluster is the name of the ClickHouse cluster (remote_servers) to run schema DDL ON CLUSTER for, when
	// the hosts are replicas of one cluster and the database is not a Replicated one. Unset, DDL runs on
	// the first reachable host only.
	// +optional
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-zA-Z_][a-zA-Z0-9_-]*$')",message="spec.clickhouse.external.cluster must be a ClickHouse cluster name: letters, digits, '_' and '-'"
	Cluster string `json:"cluster,omitempty"`
}

// ClickHouseCredentials is a ClickHouse user and a reference to its password.
type ClickHouseCredentials struct {
	// username of the ClickHouse user. Defaults to "audit".
	// +optional
	// +kubebuilder:default=audit
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-zA-Z_][a-zA-Z0-9_-]*$')",message="spec.clickhouse.credentials.username must start with a letter or '_' and hold only letters, digits, '_' and '-'"
	Username string `json:"username,omitempty"`

	// passwordSecretRef is the key of a Secret that holds the user's password. The password may be any
	// UTF-8 text without line breaks or control characters (the Vector aggregator reads it into its
	// configuration's text); a password it cannot take sets AggregatorReady False, reason SecretUnusable.
	// +required
	PasswordSecretRef SecretKeyReference `json:"passwordSecretRef"`
}

// StorageSpec configures the tiers table data is stored on.
type StorageSpec struct {
	// cold moves data older than moveAfter to an S3-compatible object store. Unset, all data stays on the
	// hot volume. Managed mode only.
	// +optional
	Cold *ColdStorageSpec `json:"cold,omitempty"`
}

// ColdStorageSpec is an S3-compatible bucket for data older than moveAfter.
type ColdStorageSpec struct {
	// endpoint is the URL of the S3 service, e.g. https://s3.eu-west-1.amazonaws.com or
	// http://minio.storage.svc:9000, without the bucket.
	// +required
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:XValidation:rule="self.matches('^https?://[^/?#\\\\s]+/?$')",message="spec.clickhouse.storage.cold.endpoint must be an http:// or https:// URL of the S3 service without a path: put the bucket in bucket and the prefix in path"
	// +kubebuilder:validation:XValidation:rule="!self.contains('@')",message="spec.clickhouse.storage.cold.endpoint must not hold a user or key (user:key@): put the S3 keys in the Secret named by credentialsSecretRef"
	Endpoint string `json:"endpoint"`

	// bucket is the name of the bucket.
	// +required
	// +kubebuilder:validation:MinLength=3
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9][a-z0-9.-]*[a-z0-9]$')",message="spec.clickhouse.storage.cold.bucket must be an S3 bucket name: lower case letters, digits, '.' and '-'"
	Bucket string `json:"bucket"`

	// path is the key prefix inside the bucket under which ClickHouse writes its objects. Defaults to
	// "clickhouse/".
	// +optional
	// +kubebuilder:default="clickhouse/"
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:XValidation:rule="self == '' || (self.endsWith('/') && !self.startsWith('/'))",message="spec.clickhouse.storage.cold.path must end with '/' and must not start with '/', e.g. clickhouse/audit/"
	Path string `json:"path,omitempty"`

	// region of the bucket, when the service needs one.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	Region string `json:"region,omitempty"`

	// credentialsSecretRef names a Secret with the keys AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY. They
	// reach ClickHouse as environment variables, never in its configuration files. An empty key, or one
	// with a space or a trailing newline, sets ClickHouseReady False, reason SecretUnusable.
	// +required
	CredentialsSecretRef SecretReference `json:"credentialsSecretRef"`

	// cacheSize is the size of the local cache in front of the cold disk, on the hot volume; "0" turns
	// the cache off. Defaults to 10Gi.
	// +optional
	// +kubebuilder:default="10Gi"
	// +kubebuilder:validation:XValidation:rule="isQuantity(string(self))",message="spec.clickhouse.storage.cold.cacheSize must be a quantity such as 10Gi or a plain number of bytes: suffixes Ki, Mi, Gi, Ti (powers of 1024) or k, M, G, T (powers of 1000), no space and no B (10GB is written 10G)"
	// +kubebuilder:validation:XValidation:rule="!isQuantity(string(self)) || (quantity(string(self)).compareTo(quantity('0')) == 0 || quantity(string(self)).compareTo(quantity('100Mi')) >= 0)",message="spec.clickhouse.storage.cold.cacheSize must be 0 (no cache) or at least 100Mi"
	CacheSize *resource.Quantity `json:"cacheSize,omitempty"`

	// moveAfter is the age (from the event's time) after which data moves to the cold tier, as a duration
	// in hours: 2160h is 90 days, the default. At least 1h.
	// +optional
	// +kubebuilder:default="2160h"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+(\\\\.[0-9]+)?(s|m|h))+$')",message="spec.clickhouse.storage.cold.moveAfter must be a duration such as 720h or 2160h (units s, m, h; 90 days is 2160h)"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]+(\\\\.[0-9]+)?(s|m|h))+$') || duration(self) >= duration('1h')",message="spec.clickhouse.storage.cold.moveAfter must be at least 1h"
	MoveAfter metav1.Duration `json:"moveAfter,omitzero"`
}

// RetentionSpec configures when audit events are deleted.
type RetentionSpec struct {
	// deleteAfter is the age (from the event's time) after which events are deleted, as a duration in
	// hours: 61320h is 7 years. At least 24h. Unset, events are kept forever. When several pipelines
	// write into one database, only the one that owns its TTL changes it; the others report
	// RetentionConflict while they ask for another.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+(\\\\.[0-9]+)?(s|m|h))+$')",message="spec.clickhouse.retention.deleteAfter must be a duration such as 8760h (units s, m, h; one year is 8760h)"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]+(\\\\.[0-9]+)?(s|m|h))+$') || duration(self) >= duration('24h')",message="spec.clickhouse.retention.deleteAfter must be at least 24h"
	DeleteAfter *metav1.Duration `json:"deleteAfter,omitempty"`

	// tenants override deleteAfter for single tenants (the tenant column, see spec.tenancy); every other
	// tenant keeps deleteAfter. At most 64. The move to cold storage has no per-tenant override:
	// ClickHouse moves whole parts, which hold many tenants' rows.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:XValidation:rule="self.all(a, self.exists_one(b, b.tenant == a.tenant && (!has(a.tenantType) || !has(b.tenantType) || a.tenantType == b.tenantType)))",message="spec.clickhouse.retention.tenants names a tenant twice: give each tenant (with its tenantType, when set) one entry"
	Tenants []TenantRetention `json:"tenants,omitempty"`
}

// TenantRetention is the retention of one tenant.
type TenantRetention struct {
	// tenant is the value of the tenant column the override applies to: a namespace with namespace
	// tenancy, the tenant annotation's value with annotation tenancy; "" is the events without one.
	// +required
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="!self.matches('[\\\\x00-\\\\x1f\\\\x7f]')",message="spec.clickhouse.retention.tenants[].tenant must not hold control characters"
	Tenant string `json:"tenant"`

	// tenantType, when set, restricts the override to the tenants of this type (the tenant_type column,
	// with spec.tenancy.annotations.type); unset, it applies to the tenant of every type.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="!self.matches('[\\\\x00-\\\\x1f\\\\x7f]')",message="spec.clickhouse.retention.tenants[].tenantType must not hold control characters"
	TenantType string `json:"tenantType,omitempty"`

	// deleteAfter is the age after which this tenant's events are deleted, as a duration in hours: at
	// least 24h; it may be shorter or longer than the default.
	// +required
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+(\\\\.[0-9]+)?(s|m|h))+$')",message="spec.clickhouse.retention.tenants[].deleteAfter must be a duration such as 720h (units s, m, h; 30 days is 720h)"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]+(\\\\.[0-9]+)?(s|m|h))+$') || duration(self) >= duration('24h')",message="spec.clickhouse.retention.tenants[].deleteAfter must be at least 24h"
	DeleteAfter metav1.Duration `json:"deleteAfter"`
}

// ClickHouseStatus is the observed state of the ClickHouse component.
type ClickHouseStatus struct {
	// mode is Managed or External.
	// +optional
	Mode string `json:"mode,omitempty"`

	// installation is the name of the ClickHouseInstallation the operator manages, in managed mode.
	// +optional
	Installation string `json:"installation,omitempty"`

	// nativeEndpoint is host:port of the native protocol the operator migrates the schema through.
	// +optional
	NativeEndpoint string `json:"nativeEndpoint,omitempty"`

	// httpEndpoint is the URL of the HTTP interface the aggregator inserts through.
	// +optional
	HTTPEndpoint string `json:"httpEndpoint,omitempty"`

	// ttl is the TTL expression in force on the events and changes tables (the operator gives both the
	// same), as ClickHouse reports it.
	// +optional
	TTL string `json:"ttl,omitempty"`
}
