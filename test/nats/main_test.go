package nats_test

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/auditpipeline/auditpipeline-operator/internal/controller"
	"github.com/auditpipeline/auditpipeline-operator/internal/testkit/chtest"
	"github.com/auditpipeline/auditpipeline-operator/internal/testkit/natstest"
	"github.com/auditpipeline/auditpipeline-operator/internal/testkit/testenv"
)

// nackCleanupPeriod is how often NACK's controller looks for deleted Stream and Consumer objects.
const nackCleanupPeriod = time.Second

var (
	// k8s is a direct (uncached) client of the test API server.
	k8s client.Client
	// nackEvents records the Events NACK's controller emits.
	nackEvents = &eventLog{}
)

// clickHouseAddr is host:port of the suite's ClickHouse (native protocol).
var clickHouseAddr string

func TestMain(m *testing.M) {
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) int {
	verbose := os.Getenv("TEST_VERBOSE_LOGS") != ""
	quietLogs(verbose)
	env, err := testenv.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer stopEnv(env)
	// The pipelines' external ClickHouse is a real one on loopback, so every step before the stream's passes.
	chServer, err := chtest.Start(chtest.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = chServer.Stop() }()
	clickHouseAddr = chServer.Addr
	// NACK writes Secrets it reads for an Account below its working directory: keep them out of the clone.
	work, err := os.MkdirTemp("", "nack-work-")
	if err == nil {
		defer os.RemoveAll(work)
		err = os.Chdir(work)
	}
	if err == nil {
		k8s, err = client.New(env.Config, client.Options{Scheme: env.Scheme})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// NACK's controller stops just before the control plane: once stopped, its queue workers spin until
	// the process exits, and while it runs, its watches hold up kube-apiserver's shutdown.
	nackCtx, stopNACK := context.WithCancel(context.Background())
	defer stopNACK()
	if err := natstest.StartNACK(nackCtx, env.Config, natstest.NACKOptions{CleanupPeriod: nackCleanupPeriod,
		Recorder: nackEvents, OnStop: func(err error) { fmt.Fprintln(os.Stderr, "NACK controller:", err) }}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx, cancel := context.WithCancel(context.Background())
	done, err := startOperator(ctx, env.Config, env.Scheme)
	if err != nil {
		cancel()
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code := m.Run()
	cancel()
	if err := <-done; err != nil {
		fmt.Fprintln(os.Stderr, "manager:", err)
	}
	return code
}

func stopEnv(env *testenv.Env) {
	if err := env.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stop envtest:", err)
	}
}

// startOperator runs the AuditPipeline reconciler in a manager, as cmd/main.go does, until ctx ends; the
// manager's result arrives on the returned channel.
func startOperator(ctx context.Context, cfg *rest.Config, scheme *runtime.Scheme) (<-chan error, error) {
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:     scheme,
		Metrics:    metricsserver.Options{BindAddress: "0"},
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		return nil, fmt.Errorf("manager: %w", err)
	}
	r := &controller.AuditPipelineReconciler{
		Client:       mgr.GetClient(),
		APIReader:    mgr.GetAPIReader(),
		Recorder:     mgr.GetEventRecorder("auditpipeline-operator"),
		WaitInterval: 500 * time.Millisecond,
	}
	if err := r.SetupWithManager(ctx, mgr); err != nil {
		return nil, fmt.Errorf("set up the reconciler: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	return done, nil
}

// quietLogs keeps the manager's and NACK's logs out of the test output unless verbose.
func quietLogs(verbose bool) {
	level := zapcore.ErrorLevel
	if verbose {
		level = zapcore.DebugLevel
	}
	ctrl.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(level)))
	if verbose {
		return
	}
	fs := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(fs)
	_ = fs.Set("logtostderr", "false")
	_ = fs.Set("stderrthreshold", "FATAL")
	klog.SetOutput(io.Discard)
}

// eventLog is a record.EventRecorder that keeps the reasons and messages of the Events NACK emits.
type eventLog struct {
	mu     sync.Mutex
	events []string
}

func (l *eventLog) Event(_ runtime.Object, _, reason, message string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, reason+": "+message)
}

func (l *eventLog) Eventf(obj runtime.Object, eventtype, reason, format string, args ...any) {
	l.Event(obj, eventtype, reason, fmt.Sprintf(format, args...))
}

func (l *eventLog) AnnotatedEventf(obj runtime.Object, _ map[string]string, eventtype, reason, format string, args ...any) {
	l.Eventf(obj, eventtype, reason, format, args...)
}

// all returns the Events recorded so far.
func (l *eventLog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.events...)
}
