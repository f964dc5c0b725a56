// Package clickhouse connects the operator to a ClickHouse server over the native protocol
// (clickhouse-go v2): the connection settings the controller assembles from the spec and the referenced
// Secrets, and the reachability check behind ClickHouseReady for an external ClickHouse. It does not
// import controller-runtime.
package clickhouse
