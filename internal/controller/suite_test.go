package controller

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
	"github.com/auditpipeline/auditpipeline-operator/internal/testkit/secrettest"
	"github.com/auditpipeline/auditpipeline-operator/internal/testkit/testenv"
)

// k8s is a direct (uncached) client of the test API server.
var (
	k8s client.Client
	// restConfig reaches the suite's API server, for clients of a test's own.
	restConfig *rest.Config
)

const (
	timeout  = 20 * time.Second
	interval = 100 * time.Millisecond
)

func TestMain(m *testing.M) {
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) int {
	ctrl.SetLogger(zap.New(zap.UseDevMode(true), zap.WriteTo(os.Stderr), zap.Level(zapLevel())))
	env, err := testenv.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() {
		if err := env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stop envtest:", err)
		}
	}()
	restConfig = env.Config
	k8s, err = client.New(env.Config, client.Options{Scheme: env.Scheme})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done, err := startOperator(ctx, env, &operator)
	if err != nil {
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

// operator is the suite's reconciler.
var operator *AuditPipelineReconciler

// startOperator runs the operator's manager against env's API server until ctx ends; its error arrives
// on the channel. It stores its reconciler in *into when into is not nil.
func startOperator(ctx context.Context, env *testenv.Env, into **AuditPipelineReconciler) (<-chan error, error) {
	mgr, err := ctrl.NewManager(env.Config, ctrl.Options{
		Scheme:     env.Scheme,
		Metrics:    metricsserver.Options{BindAddress: "0"},
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		return nil, err
	}
	canaryClient, err := NewCanaryClient(env.Config)
	if err != nil {
		return nil, err
	}
	r := &AuditPipelineReconciler{
		CanaryClient:         canaryClient,
		Client:               mgr.GetClient(),
		APIReader:            mgr.GetAPIReader(),
		Recorder:             mgr.GetEventRecorder("auditpipeline-operator"),
		WaitInterval:         500 * time.Millisecond,
		ValidateVectorConfig: true,
	}
	if err := r.SetupWithManager(ctx, mgr); err != nil {
		return nil, err
	}
	if into != nil {
		*into = r
	}
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	return done, nil
}

// zapLevel keeps the manager quiet unless TEST_VERBOSE_LOGS is set: tests provoke reconcile errors on
// purpose, and assert on conditions rather than logs.
func zapLevel() zapcore.Level {
	if os.Getenv("TEST_VERBOSE_LOGS") != "" {
		return zapcore.DebugLevel
	}
	return zapcore.DPanicLevel
}

// newNamespace creates a namespace of its own for one test.
func newNamespace(t testing.TB) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "ap-test-"}}
	if err := k8s.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	return ns.Name
}

// createSecret creates a Secret with the given data keys, each holding a value of the form the
// operator checks for it (secretValue).
func createSecret(t testing.TB, ns, name string, keys ...string) *corev1.Secret {
	t.Helper()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Data: map[string][]byte{}}
	for _, k := range keys {
		s.Data[k] = secrettest.Value(k)
	}
	if err := k8s.Create(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	return s
}

// pipeline is a valid AuditPipeline with an external ClickHouse on a loopback port where nothing listens,
// and a NATS server of its own name, so that the suite's pipelines do not share a stream (StreamInUse).
func pipeline(ns, name string) *v1alpha1.AuditPipeline {
	return &v1alpha1.AuditPipeline{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: v1alpha1.AuditPipelineSpec{
			ClickHouse: v1alpha1.ClickHouseSpec{
				External: &v1alpha1.ExternalClickHouse{Hosts: []string{"127.0.0.1"}, NativePort: 1, HTTPPort: 2},
				Credentials: v1alpha1.ClickHouseCredentials{
					PasswordSecretRef: v1alpha1.SecretKeyReference{Name: "clickhouse-auth", Key: "password"},
				},
			},
			NATS: v1alpha1.NATSSpec{Servers: []string{"nats://" + name + "." + ns + ".svc:4222"}},
		},
	}
}

// fetch returns a function that reads p afresh, for Eventually.
func fetch(p *v1alpha1.AuditPipeline) func() (*v1alpha1.AuditPipeline, error) {
	return func() (*v1alpha1.AuditPipeline, error) {
		cur := &v1alpha1.AuditPipeline{}
		err := k8s.Get(context.Background(), client.ObjectKeyFromObject(p), cur)
		return cur, err
	}
}

func toUnstructured(obj runtime.Object) (map[string]any, error) {
	return runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
}

// reconcileDirectly runs one Reconcile outside the manager. The suite's pipelines point at a ClickHouse
// that does not listen: that step's error is the only one tolerated.
func reconcileDirectly(g Gomega, p *v1alpha1.AuditPipeline) {
	r := &AuditPipelineReconciler{Client: k8s, APIReader: k8s, WaitInterval: time.Second, ValidateVectorConfig: true}
	_, err := r.Reconcile(context.Background(), ctrl.Request{NamespacedName: client.ObjectKeyFromObject(p)})
	if err != nil {
		g.Expect(err.Error()).To(HavePrefix("reach external ClickHouse"))
	}
}

// updatePipeline applies mutate to the latest p and updates it, retrying on conflicts: the operator
// patches the pipeline's status (and so its resourceVersion) at any time.
func updatePipeline(g Gomega, p *v1alpha1.AuditPipeline, mutate func(cur *v1alpha1.AuditPipeline)) {
	g.Expect(retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := fetch(p)()
		if err != nil {
			return err
		}
		mutate(cur)
		return k8s.Update(context.Background(), cur)
	})).To(Succeed())
}
