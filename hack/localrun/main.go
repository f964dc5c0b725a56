// Command localrun runs the operator on a machine with no cluster: it starts a local control plane
// (kube-apiserver and etcd from hack/envtest), a local ClickHouse (libchdb, see internal/testkit/chtest) and a
// NATS JetStream server on loopback with NACK's controller in this process, installs the CRDs, runs the
// operator in-process, applies config/samples/auditpipeline_local.yaml with its external ClickHouse and
// its NATS servers pointed at the local ones, and prints the pipeline's status whenever it changes. The
// Vector agent and aggregator stay RollingOut (so Ready stays False): no kubelet runs their pods.
//
// The logs of the operator, NACK and the NATS server go to .tmp/localrun/operator.log, so the status
// stays readable. LOCALRUN_LOGS=stderr (or any other value without a slash, such as 1) shows them in the
// terminal instead, and LOCALRUN_LOGS=some/file writes them to that file. They are at info level.
//
// Ctrl-C (SIGINT) or SIGTERM stops everything it started, and then it exits with status 0.
// `make run` builds it and runs it (hack/run.sh) when no cluster answers.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
	"github.com/auditpipeline/auditpipeline-operator/internal/auditapi"
	"github.com/auditpipeline/auditpipeline-operator/internal/controller"
	"github.com/auditpipeline/auditpipeline-operator/internal/testkit/auditapitest"
	"github.com/auditpipeline/auditpipeline-operator/internal/testkit/chtest"
	"github.com/auditpipeline/auditpipeline-operator/internal/testkit/testenv"
)

type options struct {
	sample           string
	kubeconfigOut    string
	exitWhenObserved bool
	// logFile is the log file of openLogs, nil for stderr. Once the slow starts are done, os.Stderr is
	// pointed at it too, until run returns.
	logFile *os.File
}

func main() {
	var opts options
	flag.StringVar(&opts.sample, "sample", "config/samples/auditpipeline_local.yaml", "Manifest to apply once the operator runs.")
	flag.StringVar(&opts.kubeconfigOut, "kubeconfig-out", ".tmp/localrun/kubeconfig",
		"Where to write a kubeconfig for the local control plane, for kubectl in another terminal.")
	flag.BoolVar(&opts.exitWhenObserved, "exit-when-observed", false,
		"Stop once every pipeline's status reflects its current spec (for smoke tests).")
	flag.Parse()
	logFile, err := openLogs(logFileFromEnv(os.Getenv("LOCALRUN_LOGS")))
	if err != nil {
		fmt.Fprintln(os.Stderr, "localrun: open the log file:", err)
		os.Exit(1)
	}
	opts.logFile = logFile

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err = run(ctx, opts, os.Stdout)
	stop()
	if logFile != nil {
		_ = logFile.Close()
	}
	// After a signal, everything is stopped: an error then comes from the stop, not a failure.
	if err != nil && ctx.Err() == nil {
		fmt.Fprintln(os.Stderr, "localrun:", err)
		os.Exit(1)
	}
}

// run starts everything, applies the sample and prints its status until ctx ends (then it returns nil)
// or, with exitWhenObserved, until the status reflects the spec.
func run(ctx context.Context, opts options, out io.Writer) error {
	stderr := os.Stderr // the terminal, even once os.Stderr is the log file
	if opts.logFile != nil {
		fmt.Fprintf(out, "Logs of the operator, NACK and NATS go to %s (LOCALRUN_LOGS=stderr shows them here).\n",
			opts.logFile.Name())
	}
	servers, err := startServers(opts.kubeconfigOut, out, stderr)
	if err != nil {
		return err
	}
	defer servers.stop(out, stderr)
	if opts.logFile != nil {
		// NACK logs its NATS connections with a logrus logger of its own, on os.Stderr.
		os.Stderr = opts.logFile
		defer func() { os.Stderr = stderr }()
	}
	nackCtx, stopNACK := context.WithCancel(context.Background())
	servers.stopNACK = stopNACK
	if err := startNACK(nackCtx, servers.env.Config); err != nil {
		return err
	}
	fmt.Fprintf(out, "NATS JetStream serves on %s, NACK's controller runs.\n", servers.jetStream.ClientURL())
	fmt.Fprintf(out, "Control plane up. In another terminal: KUBECONFIG=%s kubectl get auditpipelines -A\n", opts.kubeconfigOut)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs, err := startOperator(ctx, servers.env)
	if err != nil {
		return err
	}
	c, err := client.New(servers.env.Config, client.Options{Scheme: servers.env.Scheme})
	if err != nil {
		return err
	}
	if err := applyFile(ctx, c, filepath.Join(servers.env.Root, opts.sample), servers, out); err != nil {
		return err
	}
	stopAPI, err := startAuditAPI(ctx, c, servers.env, out, opts.kubeconfigOut)
	if err != nil {
		return err
	}
	defer stopAPI()
	fmt.Fprintln(out, "Operator running. Status follows; Ctrl-C stops everything.")
	watchErr := watchStatus(ctx, c, out, opts.exitWhenObserved)
	stopped := ctx.Err() != nil // Ctrl-C or SIGTERM
	cancel()
	if err := <-errs; err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	if stopped {
		return nil
	}
	return watchErr
}

// startAuditAPI serves the audit API (internal/auditapi) for the sample pipeline behind the local
// kube-apiserver, as the chart's auditAPI does in a cluster, with the certificate the operator issues.
func startAuditAPI(ctx context.Context, c client.Client, env *testenv.Env, out io.Writer, kubeconfig string) (func(), error) {
	var list v1alpha1.AuditPipelineList
	if err := c.List(ctx, &list); err != nil || len(list.Items) != 1 {
		return nil, fmt.Errorf("the audit API serves the sample's one AuditPipeline: %d found, %v", len(list.Items), err)
	}
	dir, err := os.MkdirTemp("", "localrun-audit-api-")
	if err != nil {
		return nil, err
	}
	src := &auditapi.PipelineSource{Client: c, Key: client.ObjectKeyFromObject(&list.Items[0]), Refresh: 10 * time.Second}
	s, err := auditapitest.Start(env, c, src, dir, 10*time.Second)
	if err != nil {
		src.Close()
		return nil, errors.Join(err, os.RemoveAll(dir))
	}
	fmt.Fprintf(out, "The audit API serves %s (docs/auditapi.md): KUBECONFIG=%s kubectl get auditevents -A (after make sample-events)\n",
		src.Key, kubeconfig)
	return func() {
		if err := s.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stop the audit API:", err)
		}
		src.Close()
		_ = os.RemoveAll(dir)
	}, nil
}

// localServers are what run starts in place of a cluster.
type localServers struct {
	env        *testenv.Env
	clickHouse *chtest.Server
	jetStream  *jetStream
	stopNACK   context.CancelFunc
}

// startServers starts the control plane, writes its kubeconfig, and starts ClickHouse and NATS. On
// error, it stops what it started.
func startServers(kubeconfig string, out, stderr io.Writer) (s *localServers, err error) {
	s = &localServers{stopNACK: func() {}}
	defer func() {
		if err != nil {
			s.stop(out, stderr)
		}
	}()
	fmt.Fprintln(out, "Starting the local control plane (kube-apiserver and etcd; the first run builds them, ~6-20 min)...")
	if s.env, err = testenv.Start(testenv.WithAggregation()); err != nil {
		return s, err
	}
	if err = s.env.WriteKubeconfig(kubeconfig); err != nil {
		return s, err
	}
	fmt.Fprintln(out, "Starting a local ClickHouse (the first run downloads it, ~20 s)...")
	if s.clickHouse, err = chtest.Start(chtest.Options{}); err != nil {
		return s, err
	}
	fmt.Fprintf(out, "ClickHouse serves the native protocol on %s and HTTP on %s.\n", s.clickHouse.Addr, s.clickHouse.HTTPAddr)
	s.jetStream, err = startJetStream()
	return s, err
}

// stop stops NATS, ClickHouse, NACK and the control plane. NACK's controller stops just before the
// control plane: its watches would hold up kube-apiserver's shutdown, and once stopped, its queue
// workers spin until the process exits.
func (s *localServers) stop(out, stderr io.Writer) {
	if s.jetStream != nil {
		fmt.Fprintln(out, "Stopping NATS.")
		if err := s.jetStream.Stop(); err != nil {
			fmt.Fprintln(stderr, "stop NATS:", err)
		}
	}
	if s.clickHouse != nil {
		fmt.Fprintln(out, "Stopping the local ClickHouse.")
		if err := s.clickHouse.Stop(); err != nil {
			fmt.Fprintln(stderr, "stop ClickHouse:", err)
		}
	}
	s.stopNACK()
	if s.env != nil {
		fmt.Fprintln(out, "Stopping the local control plane.")
		if err := s.env.Stop(); err != nil {
			fmt.Fprintln(stderr, "stop control plane:", err)
		}
	}
}

// startOperator runs the AuditPipeline reconciler in a manager until ctx ends; the manager's result
// arrives on the returned channel.
func startOperator(ctx context.Context, env *testenv.Env) (<-chan error, error) {
	mgr, err := ctrl.NewManager(env.Config, ctrl.Options{
		Scheme:                 env.Scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
	})
	if err != nil {
		return nil, err
	}
	canaryClient, err := controller.NewCanaryClient(mgr.GetConfig())
	if err != nil {
		return nil, err
	}
	r := &controller.AuditPipelineReconciler{
		Client:       mgr.GetClient(),
		APIReader:    mgr.GetAPIReader(),
		Recorder:     mgr.GetEventRecorder("auditpipeline-operator"),
		CanaryClient: canaryClient,
	}
	if err := r.SetupWithManager(ctx, mgr); err != nil {
		return nil, err
	}
	errs := make(chan error, 1)
	go func() { errs <- mgr.Start(ctx) }()
	return errs, nil
}

// applyFile applies every object of a multi-document YAML file with server-side apply, pointing the
// external ClickHouse and the NATS servers of each AuditPipeline at the local servers.
func applyFile(ctx context.Context, c client.Client, path string, servers *localServers, out io.Writer) error {
	objs, err := testenv.ReadObjects(path)
	if err != nil {
		return err
	}
	for _, obj := range objs {
		if obj.GetKind() == "AuditPipeline" {
			if err := pointAt(obj, servers.clickHouse, servers.jetStream.ClientURL()); err != nil {
				return err
			}
		}
		if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(obj),
			client.FieldOwner("localrun"), client.ForceOwnership); err != nil {
			return fmt.Errorf("apply %s %s: %w", obj.GetKind(), obj.GetName(), err)
		}
		fmt.Fprintf(out, "applied %s %s/%s\n", obj.GetKind(), obj.GetNamespace(), obj.GetName())
	}
	return nil
}

// pointAt sets spec.clickhouse.external of an AuditPipeline to the local ClickHouse's address and ports,
// and spec.nats.servers to the local NATS server.
func pointAt(obj *unstructured.Unstructured, ch *chtest.Server, natsURL string) error {
	if err := unstructured.SetNestedStringSlice(obj.Object, []string{natsURL}, "spec", "nats", "servers"); err != nil {
		return fmt.Errorf("point %s at the local NATS server: %w", obj.GetName(), err)
	}
	host, native, err := net.SplitHostPort(ch.Addr)
	if err != nil {
		return err
	}
	_, httpPort, err := net.SplitHostPort(ch.HTTPAddr)
	if err != nil {
		return err
	}
	nativePort, _ := strconv.ParseInt(native, 10, 32)
	port, _ := strconv.ParseInt(httpPort, 10, 32)
	for field, value := range map[string]any{"hosts": []any{host}, "nativePort": nativePort, "httpPort": port} {
		if err := unstructured.SetNestedField(obj.Object, value, "spec", "clickhouse", "external", field); err != nil {
			return fmt.Errorf("point %s at the local ClickHouse: %w", obj.GetName(), err)
		}
	}
	return nil
}

// rollingOutNote follows the first table in which the agent or the aggregator is RollingOut.
const rollingOutNote = "  CollectorReady and AggregatorReady stay RollingOut here, and so Ready stays False: " +
	"the local control plane runs no kubelet, so no pod starts.\n"

// watchStatus prints every pipeline's status whenever it changes.
func watchStatus(ctx context.Context, c client.Client, out io.Writer, exitWhenObserved bool) error {
	last, listed, noted := "", false, false
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		var list v1alpha1.AuditPipelineList
		if err := c.List(ctx, &list); err != nil {
			return err
		}
		if text := render(list.Items); text != last {
			fmt.Fprintf(out, "\n%s%s", time.Now().Format(time.TimeOnly), text)
			last = text
		}
		if !noted && rollingOut(list.Items) {
			fmt.Fprint(out, rollingOutNote)
			noted = true
		}
		if allObserved(list.Items) && !listed {
			for i := range list.Items {
				listChildren(ctx, c, &list.Items[i], out)
			}
			listed = true
		}
		if exitWhenObserved && allObserved(list.Items) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// rollingOut tells whether the agent or the aggregator of a pipeline waits for its pods.
func rollingOut(items []v1alpha1.AuditPipeline) bool {
	for _, p := range items {
		for _, c := range p.Status.Conditions {
			if (c.Type == v1alpha1.ConditionCollectorReady || c.Type == v1alpha1.ConditionAggregatorReady) &&
				c.Reason == v1alpha1.ReasonRollingOut {
				return true
			}
		}
	}
	return false
}

func allObserved(items []v1alpha1.AuditPipeline) bool {
	for _, p := range items {
		if p.Status.ObservedGeneration != p.Generation || len(p.Status.Conditions) == 0 {
			return false
		}
	}
	return len(items) > 0
}

func render(items []v1alpha1.AuditPipeline) string {
	var b strings.Builder
	for _, p := range items {
		fmt.Fprintf(&b, "  AuditPipeline %s/%s (generation %d, observed %d)\n",
			p.Namespace, p.Name, p.Generation, p.Status.ObservedGeneration)
		tw := tabwriter.NewWriter(&b, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  CONDITION\tSTATUS\tREASON\tMESSAGE")
		for _, c := range p.Status.Conditions {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", c.Type, c.Status, c.Reason, c.Message)
		}
		_ = tw.Flush()
		if sc := p.Status.Schema; sc != nil {
			fmt.Fprintf(&b, "  Schema %s:", sc.Summary)
			for _, a := range sc.Applied {
				fmt.Fprintf(&b, " %s (%s)", a.Name, a.Checksum)
			}
			fmt.Fprintln(&b)
		}
	}
	return b.String()
}

// childKinds are the kinds of the objects the operator renders, listed once the pipeline is observed.
var childKinds = []string{"ClickHouseInstallation", "Stream", "Consumer", "ConfigMap", "Service", "DaemonSet",
	"StatefulSet", "PodDisruptionBudget"}

// listChildren prints the objects labelled as p's children, kind by kind, in one write.
func listChildren(ctx context.Context, c client.Client, p *v1alpha1.AuditPipeline, out io.Writer) {
	var b strings.Builder
	fmt.Fprintf(&b, "  Objects rendered for %s/%s:\n", p.Namespace, p.Name)
	for _, kind := range childKinds {
		var list metav1.PartialObjectMetadataList
		list.SetGroupVersionKind(childGVK(kind))
		if err := c.List(ctx, &list, client.InNamespace(p.Namespace),
			client.MatchingLabels{controller.LabelPipeline: p.Name}); err != nil {
			continue
		}
		for _, o := range list.Items {
			fmt.Fprintf(&b, "    %s/%s\n", kind, o.Name)
		}
	}
	fmt.Fprint(out, b.String())
}

func childGVK(kind string) schema.GroupVersionKind {
	gv := map[string]schema.GroupVersion{
		"ClickHouseInstallation": {Group: "clickhouse.altinity.com", Version: "v1"},
		"Stream":                 {Group: "jetstream.nats.io", Version: "v1beta2"},
		"Consumer":               {Group: "jetstream.nats.io", Version: "v1beta2"},
		"DaemonSet":              {Group: "apps", Version: "v1"},
		"StatefulSet":            {Group: "apps", Version: "v1"},
		"PodDisruptionBudget":    {Group: "policy", Version: "v1"},
	}[kind]
	if gv.Version == "" {
		gv.Version = "v1"
	}
	return gv.WithKind(kind + "List")
}
