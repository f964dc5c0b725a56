package vrl

import (
	"fmt"
	"strings"

	"github.com/auditpipeline/auditpipeline-operator/internal/eventrow"
)

// vectorFields are the fields Vector adds to an event on its way (the nats source's source_type,
// subject and ingest timestamp); none of them is part of an audit.k8s.io/v1 Event.
var vectorFields = []string{"source_type", "subject", "timestamp"}

// RowProgram is the aggregator's remap that replaces each audit event by its row of the events table:
// the columns of eventrow.Columns, computed after the tenancy's Prelude (internal/eventrow holds the
// program's Go twin, eventrow.Tenancy.FromEvent, which the bench and test/contract use).
func RowProgram(t eventrow.Tenancy) string {
	var b strings.Builder
	for _, f := range vectorFields {
		fmt.Fprintf(&b, "del(.%s)\n", f)
	}
	b.WriteString(t.Prelude())
	b.WriteString(". = {\n")
	for i, c := range eventrow.Columns {
		sep := ","
		if i == len(eventrow.Columns)-1 {
			sep = ""
		}
		fmt.Fprintf(&b, "  %q: %s%s\n", c.Name, c.Expr, sep)
	}
	b.WriteString("}\n")
	return b.String()
}
