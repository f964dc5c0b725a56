package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
	"github.com/auditpipeline/auditpipeline-operator/internal/clickhouse"
	"github.com/auditpipeline/auditpipeline-operator/internal/query"
	"github.com/auditpipeline/auditpipeline-operator/internal/render"
)

// connection says how to reach the audit database: flags, else an AuditPipeline of the cluster.
type connection struct {
	clickhouse, user, passwordFile, database string
	kubeconfig, context, pipeline            string
	// viaAPI reads through the audit API with the caller's Kubernetes identity instead of the database.
	viaAPI bool
	// restConfig, when set, replaces the kubeconfig (tests).
	restConfig *rest.Config
}

// rbacHelp is what a user needs to connect through a pipeline.
const rbacHelp = "to connect through an AuditPipeline you need get and list on auditpipelines.auditpipeline.io, " +
	"get on the Secret of its spec.clickhouse.credentials.passwordSecretRef, and with a managed ClickHouse " +
	"list on pods and services and create on pods/portforward in its namespace (docs/query.md#permissions); " +
	"or connect directly with --clickhouse, --clickhouse-user and --clickhouse-password-file"

// open returns a reader of the audit trail and a function that closes it.
func (c *connection) open(ctx context.Context, stderr io.Writer) (reader, func(), error) {
	if c.viaAPI {
		if c.clickhouse != "" || c.pipeline != "" || c.database != "" {
			return nil, nil, errors.New("--via-api reads the pipeline the audit API serves: drop --clickhouse, --pipeline and --database")
		}
		cfg, err := c.config()
		if err != nil {
			return nil, nil, err
		}
		a, err := newAPIReader(cfg)
		return a, func() {}, err
	}
	if c.clickhouse != "" {
		password := ""
		if c.passwordFile != "" {
			b, err := os.ReadFile(c.passwordFile)
			if err != nil {
				return nil, nil, fmt.Errorf("--clickhouse-password-file: %w", err)
			}
			password = strings.TrimRight(string(b), "\r\n")
		}
		ep := clickhouse.Endpoint{Addrs: []string{c.clickhouse}, Database: "default", Username: c.user, Password: password}
		return c.dial(ctx, ep, c.database, func() {})
	}
	cfg, err := c.config()
	if err != nil {
		return nil, nil, err
	}
	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	_ = v1alpha1.AddToScheme(scheme)
	k, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, nil, fmt.Errorf("connect to the Kubernetes API: %w", err)
	}
	p, err := c.findPipeline(ctx, k)
	if err != nil {
		return nil, nil, err
	}
	read := func(ctx context.Context, namespace, name, key string) ([]byte, error) {
		var s corev1.Secret
		if err := k.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, &s); err != nil {
			if apierrors.IsForbidden(err) {
				return nil, fmt.Errorf("read Secret %s/%s, which holds the ClickHouse password: forbidden; %s", namespace, name, rbacHelp)
			}
			return nil, fmt.Errorf("read Secret %s/%s: %w", namespace, name, err)
		}
		v, ok := s.Data[key]
		if !ok {
			return nil, fmt.Errorf("secret %s/%s has no key %q", namespace, name, key)
		}
		return v, nil
	}
	ep, err := clickhouse.PipelineEndpoint(ctx, p, read)
	if err != nil {
		return nil, nil, err
	}
	database := c.database
	if database == "" {
		database = p.Spec.ClickHouse.Database
	}
	if p.Spec.ClickHouse.Managed == nil {
		return c.dial(ctx, ep, database, func() {})
	}
	addr, stop, err := portForward(ctx, cfg, k, p, stderr)
	if err != nil {
		return nil, nil, err
	}
	ep.Addrs = []string{addr}
	return c.dial(ctx, ep, database, stop)
}

func (c *connection) dial(ctx context.Context, ep clickhouse.Endpoint, database string, stop func()) (*query.Client, func(), error) {
	if database == "" {
		database = "audit"
	}
	conn, err := clickhouse.Open(ep)
	if err != nil {
		stop()
		return nil, nil, err
	}
	if err := conn.Ping(ctx); err != nil {
		_ = conn.Close()
		stop()
		return nil, nil, fmt.Errorf("connect to ClickHouse at %s: %w", ep, err)
	}
	return &query.Client{Conn: conn, Database: database}, func() { _ = conn.Close(); stop() }, nil
}

func (c *connection) config() (*rest.Config, error) {
	if c.restConfig != nil {
		return c.restConfig, nil
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = c.kubeconfig
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules,
		&clientcmd.ConfigOverrides{CurrentContext: c.context}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("load the kubeconfig (or pass --clickhouse): %w", err)
	}
	return cfg, nil
}

// findPipeline is the pipeline --pipeline names ([namespace/]name; the kubeconfig's namespace when
// none is given), or the only one in the cluster.
func (c *connection) findPipeline(ctx context.Context, k client.Client) (*v1alpha1.AuditPipeline, error) {
	var p v1alpha1.AuditPipeline
	if c.pipeline != "" {
		ns, name, found := strings.Cut(c.pipeline, "/")
		if !found {
			name, ns = ns, c.defaultNamespace()
		}
		if err := k.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, &p); err != nil {
			return nil, pipelineError(fmt.Sprintf("get AuditPipeline %s/%s", ns, name), err)
		}
		return &p, nil
	}
	var list v1alpha1.AuditPipelineList
	if err := k.List(ctx, &list); err != nil {
		return nil, pipelineError("list the AuditPipelines of the cluster", err)
	}
	switch len(list.Items) {
	case 0:
		return nil, errors.New("the cluster has no AuditPipeline: name one with --pipeline, or connect with --clickhouse")
	case 1:
		return &list.Items[0], nil
	}
	names := make([]string, len(list.Items))
	for i, q := range list.Items {
		names[i] = q.Namespace + "/" + q.Name
	}
	return nil, fmt.Errorf("the cluster has %d AuditPipelines (%s): choose one with --pipeline NAMESPACE/NAME", len(names), strings.Join(names, ", "))
}

func pipelineError(what string, err error) error {
	if apierrors.IsForbidden(err) {
		return fmt.Errorf("%s: forbidden; %s", what, rbacHelp)
	}
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("%s: not found (is the operator's CRD installed, and the name right?)", what)
	}
	return fmt.Errorf("%s: %w", what, err)
}

func (c *connection) defaultNamespace() string {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = c.kubeconfig
	ns, _, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules,
		&clientcmd.ConfigOverrides{CurrentContext: c.context}).Namespace()
	if err != nil || ns == "" {
		return "default"
	}
	return ns
}

// portForward forwards a local port to the native port of a ready pod behind p's managed ClickHouse
// Service, as kubectl port-forward does, and returns its address and a function that stops it.
func portForward(ctx context.Context, cfg *rest.Config, k client.Client, p *v1alpha1.AuditPipeline, stderr io.Writer) (string, func(), error) {
	var svc corev1.Service
	key := types.NamespacedName{Namespace: p.Namespace, Name: render.ClickHouseServiceName(p)}
	if err := k.Get(ctx, key, &svc); err != nil {
		return "", nil, pipelineError("get the managed ClickHouse's Service "+key.String(), err)
	}
	var pods corev1.PodList
	if err := k.List(ctx, &pods, client.InNamespace(p.Namespace), client.MatchingLabelsSelector{Selector: labels.SelectorFromSet(svc.Spec.Selector)}); err != nil {
		return "", nil, pipelineError("list the ClickHouse pods of "+key.String(), err)
	}
	pod := ""
	for _, po := range pods.Items {
		for _, c := range po.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				pod = po.Name
			}
		}
	}
	if pod == "" {
		return "", nil, fmt.Errorf("no ready ClickHouse pod behind Service %s", key)
	}
	transport, upgrader, err := spdy.RoundTripperFor(cfg)
	if err != nil {
		return "", nil, err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return "", nil, err
	}
	u := cs.CoreV1().RESTClient().Post().Resource("pods").Namespace(p.Namespace).Name(pod).SubResource("portforward").URL()
	dialer := spdy.NewDialer(upgrader, &http.Client{Transport: transport}, http.MethodPost, u)
	stopCh, readyCh := make(chan struct{}), make(chan struct{})
	fw, err := portforward.New(dialer, []string{fmt.Sprintf("0:%d", render.ManagedClickHouseNativePort)}, stopCh, readyCh, io.Discard, stderr)
	if err != nil {
		return "", nil, err
	}
	errCh := make(chan error, 1)
	go func() { errCh <- fw.ForwardPorts() }()
	select {
	case <-readyCh:
	case err := <-errCh:
		if apierrors.IsForbidden(err) {
			return "", nil, fmt.Errorf("port-forward to pod %s/%s: forbidden; %s", p.Namespace, pod, rbacHelp)
		}
		return "", nil, fmt.Errorf("port-forward to pod %s/%s: %w", p.Namespace, pod, err)
	case <-ctx.Done():
		close(stopCh)
		return "", nil, ctx.Err()
	}
	ports, err := fw.GetPorts()
	if err != nil || len(ports) == 0 {
		close(stopCh)
		return "", nil, fmt.Errorf("port-forward to pod %s/%s: no local port", p.Namespace, pod)
	}
	return fmt.Sprintf("127.0.0.1:%d", ports[0].Local), func() { close(stopCh) }, nil
}
