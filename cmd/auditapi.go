package main

import (
	"fmt"
	"os"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/auditpipeline/auditpipeline-operator/internal/auditapi"
)

// auditAPI runs `manager audit-api ...`: the audit API server (internal/auditapi), the same image's
// second role, deployed by the chart (docs/auditapi.md).
func auditAPI(args []string) {
	if err := auditapi.Run(ctrl.SetupSignalHandler(), args); err != nil {
		fmt.Fprintln(os.Stderr, "audit-api:", err)
		os.Exit(1)
	}
}
