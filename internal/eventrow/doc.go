// Package eventrow is the row contract between the Vector aggregator and the events table: the columns
// the aggregator fills, the VRL that computes them from an audit event (Prelude and Columns, rendered
// into the aggregator's remap by internal/render/vector), and FromEvent, the Go twin of that VRL, which
// the bench and test/contract use to build rows exactly as the aggregator does. Pure: no client.
package eventrow
