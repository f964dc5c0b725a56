// Package eventrow is the row contract between the Vector aggregator and the events table: the columns
// the aggregator fills, the VRL that computes them from an audit event (a Tenancy's Prelude and Columns,
// rendered into the aggregator's remap by internal/render/vector), and Tenancy.FromEvent, the Go twin of
// that VRL, which the bench and test/contract use to build rows exactly as the aggregator does. The
// tenant columns follow the pipeline's spec.tenancy (Tenancy); the cluster column, the field the
// collector adds (ClusterField). Pure: no client.
package eventrow
