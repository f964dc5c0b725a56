// Command kubectl-auditpipeline reads the audit trail an AuditPipeline stores: `kubectl auditpipeline
// query`, `history` and `tail` (docs/query.md). kubectl runs it as a plugin when it is on the PATH.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newRootCommand(os.Stdout, os.Stderr).ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}
