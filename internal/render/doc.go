// Package render holds the pure builders of the objects an AuditPipeline becomes: spec in, object or
// configuration text out, no client. The reconciler applies what they return. ChildName names the
// objects they build for a pipeline (the ClickHouse installations excepted: see there), by one rule
// whose length limit depends on the kind. The Vector agent DaemonSet is called the collector
// throughout, as in the API (package vector says why).
package render
