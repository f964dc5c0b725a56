// Package altinity holds a minimal typed subset of the Altinity clickhouse-operator API: the
// ClickHouseInstallation (clickhouse.altinity.com/v1) and ClickHouseKeeperInstallation
// (clickhouse-keeper.altinity.com/v1) fields the operator renders and the status fields it reads. The
// Altinity Go module cannot be had here, and these types must never appear in the AuditPipeline API.
// Objects are applied with server-side apply, so fields not modelled here are never dropped.
//
// +kubebuilder:object:generate=true
// +groupName=clickhouse.altinity.com
package altinity
