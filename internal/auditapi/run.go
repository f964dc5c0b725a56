package auditapi

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
	"github.com/auditpipeline/auditpipeline-operator/internal/query"
)

// AddFlags adds the generic server's flags: --secure-port, --tls-cert-file, --tls-private-key-file,
// --authentication-kubeconfig, --authorization-kubeconfig, ...
func (o *ServerOptions) AddFlags(fs *pflag.FlagSet) {
	o.SecureServing.AddFlags(fs)
	o.Authentication.AddFlags(fs)
	o.Authorization.AddFlags(fs)
}

// Run is `manager audit-api`: it parses args and serves the events of the AuditPipeline --pipeline names
// until ctx ends. With --help it prints the flags and returns nil.
func Run(ctx context.Context, args []string) error {
	fs := pflag.NewFlagSet("audit-api", pflag.ContinueOnError)
	o := NewServerOptions()
	o.AddFlags(fs)
	pipeline := fs.String("pipeline", "", "the AuditPipeline whose events are served, as namespace/name (required)")
	refresh := fs.Duration("pipeline-refresh", time.Minute, "how often the pipeline and its password Secret are read again")
	kubeconfig := fs.String("kubeconfig", "", "the kubeconfig to read the pipeline with; empty: the pod's service account")
	queryTimeout := fs.Duration("query-timeout", 30*time.Second, "the longest a query may run in ClickHouse (max_execution_time); a caller then gets 504")
	tenant := fs.String("tenant", "", "serve only this tenant's events (the tenant column); needed for namespaced reads when the pipeline's tenancy is Annotations")
	tenantType := fs.String("tenant-type", "", "the type of --tenant (the tenant_type column; empty matches only an empty type)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return nil
		}
		return err
	}
	ns, name, ok := strings.Cut(*pipeline, "/")
	if !ok || ns == "" || name == "" {
		return errors.New("--pipeline must name the AuditPipeline as namespace/name, e.g. audit-system/cluster-audit")
	}
	if *refresh < time.Second {
		return errors.New("--pipeline-refresh must be at least 1s")
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		return fmt.Errorf("kubeconfig: %w", err)
	}
	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(v1alpha1.AddToScheme(scheme))
	k, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return fmt.Errorf("connect to the Kubernetes API: %w", err)
	}
	if *queryTimeout < time.Second {
		return errors.New("--query-timeout must be at least 1s")
	}
	src := &PipelineSource{Client: k, Key: types.NamespacedName{Namespace: ns, Name: name}, Refresh: *refresh,
		Settings: map[string]any{"max_execution_time": int(queryTimeout.Seconds())}}
	if *tenant != "" {
		src.Tenant = &query.Tenant{Type: *tenantType, Name: *tenant}
	} else if *tenantType != "" {
		return errors.New("--tenant-type needs --tenant")
	}
	defer src.Close()
	server, err := NewServer(o, src, time.Now)
	if err != nil {
		return err
	}
	return server.PrepareRun().RunWithContext(ctx)
}
