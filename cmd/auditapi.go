package main

import (
	"fmt"
	"os"

	ctrl "sigs.k8s.io/controller-runtime"

	auditv1alpha1 "github.com/auditpipeline/auditpipeline-operator/api/audit/v1alpha1"
	"github.com/auditpipeline/auditpipeline-operator/internal/auditapi"
	"github.com/auditpipeline/auditpipeline-operator/internal/servingcert"
)

// auditAPI runs `manager audit-api ...`: the audit API server (internal/auditapi), the same image's
// second role, deployed by the chart (docs/auditapi.md).
func auditAPI(args []string) {
	if err := auditapi.Run(ctrl.SetupSignalHandler(), args); err != nil {
		fmt.Fprintln(os.Stderr, "audit-api:", err)
		os.Exit(1)
	}
}

// auditAPIService is the APIService of the audit API, as the chart names it.
const auditAPIService = "v1alpha1." + auditv1alpha1.Group

// auditAPICerts are the manager's flags for the audit API's serving certificate.
type auditAPICerts struct{ service, secret string }

// setup adds the certificate rotator to mgr when --audit-api-service is set: it issues the serving
// certificate and its CA into Secrets of the manager's namespace and keeps the APIService's caBundle
// (internal/servingcert). It runs on the leader only.
func (a auditAPICerts) setup(mgr ctrl.Manager) error {
	if a.service == "" {
		return nil
	}
	ns := os.Getenv("POD_NAMESPACE")
	if ns == "" {
		return fmt.Errorf("--audit-api-service needs the manager's namespace in $POD_NAMESPACE (the chart sets it)")
	}
	secret := a.secret
	if secret == "" {
		secret = a.service + "-tls"
	}
	rot, err := servingcert.New(servingcert.Options{Namespace: ns, SecretName: secret, ServiceName: a.service,
		APIServiceNames: []string{auditAPIService}, Client: mgr.GetClient(), Reader: mgr.GetAPIReader(),
		Log: ctrl.Log.WithName("audit-api-certificate"), Recorder: mgr.GetEventRecorder("auditpipeline-operator")})
	if err != nil {
		return fmt.Errorf("audit API certificate: %w", err)
	}
	return mgr.Add(rot)
}
