// Command manager runs the AuditPipeline operator: the AuditPipeline reconciler with metrics, health
// probes and optional leader election. `manager audit-api` runs the audit API server instead.
package main

import (
	"context"
	"flag"
	"os"
	"time"

	nack "github.com/nats-io/nack/pkg/jetstream/apis/jetstream/v1beta2"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
	"github.com/auditpipeline/auditpipeline-operator/internal/altinity"
	"github.com/auditpipeline/auditpipeline-operator/internal/controller"
)

// +kubebuilder:rbac:groups=authentication.k8s.io,resources=tokenreviews,verbs=create
// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create

func main() {
	if len(os.Args) > 1 && os.Args[1] == "audit-api" {
		auditAPI(os.Args[2:])
		return
	}
	var (
		metricsAddr   string
		metricsSecure bool
		probeAddr     string
		leaderElect   bool
		waitInterval  time.Duration
		validate      bool
		maxConcurrent int
		api           auditAPICerts
	)
	flag.StringVar(&api.service, "audit-api-service", "",
		"The Service of the audit API server in the manager's namespace ($POD_NAMESPACE): when set, the manager "+
			"issues and rotates its serving certificate and keeps the caBundle of APIService "+auditAPIService+
			" (docs/auditapi.md). Empty: the manager does not (no audit API, or cert-manager issues it).")
	flag.StringVar(&api.secret, "audit-api-secret", "",
		"The audit API's serving Secret (kubernetes.io/tls) the manager writes; default <audit-api-service>-tls.")
	flag.StringVar(&metricsAddr, "metrics-bind-address", ":8443",
		"Address the metrics endpoint binds to, e.g. :8443 (HTTPS) or :8080 (HTTP); 0 turns it off.")
	flag.BoolVar(&metricsSecure, "metrics-secure", true,
		"Serve metrics over HTTPS, authenticated and authorized through the API server.")
	flag.StringVar(&probeAddr, "health-probe-bind-address", ":8081", "Address the /healthz and /readyz probes bind to.")
	flag.BoolVar(&leaderElect, "leader-elect", false,
		"Elect a leader so that only one of several replicas reconciles at a time.")
	flag.DurationVar(&waitInterval, "wait-interval", 10*time.Second,
		"Base delay before a pipeline that waits for a component is checked again (jittered by up to 50%).")
	flag.IntVar(&maxConcurrent, "max-concurrent-reconciles", controller.DefaultMaxConcurrentReconciles,
		"How many pipelines are reconciled at once; one pipeline is never reconciled twice at the same time.")
	flag.BoolVar(&validate, "validate-vector-config", true,
		"Run `vector validate` in a Job on each new Vector configuration before rolling it out; turn off where "+
			"the Vector image cannot be pulled for a Job (it is the image the workloads run).")
	opts := zap.Options{Development: false}
	opts.BindFlags(flag.CommandLine)
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&opts)))

	if err := run(ctrl.SetupSignalHandler(), metricsAddr, metricsSecure, probeAddr, leaderElect, waitInterval, validate, maxConcurrent, api); err != nil {
		ctrl.Log.Error(err, "manager stopped")
		os.Exit(1)
	}
}

func run(ctx context.Context, metricsAddr string, metricsSecure bool, probeAddr string, leaderElect bool, waitInterval time.Duration, validate bool, maxConcurrent int, api auditAPICerts) error {
	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(v1alpha1.AddToScheme(scheme))
	utilruntime.Must(altinity.AddToScheme(scheme))
	utilruntime.Must(nack.AddToScheme(scheme))

	metricsOpts := metricsserver.Options{BindAddress: metricsAddr, SecureServing: metricsSecure}
	if metricsSecure {
		metricsOpts.FilterProvider = filters.WithAuthenticationAndAuthorization
	}
	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{
		Scheme:                        scheme,
		Metrics:                       metricsOpts,
		HealthProbeBindAddress:        probeAddr,
		LeaderElection:                leaderElect,
		LeaderElectionID:              "auditpipeline-operator.auditpipeline.io",
		LeaderElectionReleaseOnCancel: true,
	})
	if err != nil {
		return err
	}
	canaryClient, err := controller.NewCanaryClient(mgr.GetConfig())
	if err != nil {
		return err
	}
	r := &controller.AuditPipelineReconciler{
		Client:               mgr.GetClient(),
		APIReader:            mgr.GetAPIReader(),
		Recorder:             mgr.GetEventRecorder("auditpipeline-operator"),
		Identity:             os.Getenv("POD_NAME"),
		WaitInterval:         waitInterval,
		ValidateVectorConfig: validate,

		MaxConcurrentReconciles: maxConcurrent,
		CanaryClient:            canaryClient,
	}
	if err := r.SetupWithManager(ctx, mgr); err != nil {
		return err
	}
	if err := api.setup(mgr); err != nil {
		return err
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return err
	}
	ctrl.Log.Info("starting manager")
	return mgr.Start(ctx)
}
