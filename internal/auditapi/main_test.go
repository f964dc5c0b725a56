package auditapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	auditv1alpha1 "github.com/auditpipeline/auditpipeline-operator/api/audit/v1alpha1"
	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
	"github.com/auditpipeline/auditpipeline-operator/internal/auditapi"
	"github.com/auditpipeline/auditpipeline-operator/internal/eventrow"
	"github.com/auditpipeline/auditpipeline-operator/internal/render/vector/vrl"
	"github.com/auditpipeline/auditpipeline-operator/internal/servingcert"
	"github.com/auditpipeline/auditpipeline-operator/internal/testkit/chtest"
	"github.com/auditpipeline/auditpipeline-operator/internal/testkit/testenv"
)

var (
	env *testenv.Env
	k8s client.Client
)

func TestMain(m *testing.M) {
	var err error
	if env, err = testenv.Start(testenv.WithAggregation()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if k8s, err = client.New(env.Config, client.Options{Scheme: env.Scheme}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer func() { _ = env.Stop() }()
	chtest.Main(m)
}

// event is a synthetic audit event of namespace ns ("" for a cluster-scoped object), answered at t.
func event(ns, verb, user, resource, name string, code int, t time.Time) map[string]any {
	ref := map[string]any{"resource": resource, "name": name, "apiVersion": "v1"}
	uri := "/api/v1/" + resource + "/" + name
	if ns != "" {
		ref["namespace"] = ns
		uri = "/api/v1/namespaces/" + ns + "/" + resource + "/" + name
	}
	return map[string]any{
		"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata", "auditID": uuid.NewString(),
		"stage": "ResponseComplete", "requestURI": uri, "verb": verb,
		"user":      map[string]any{"username": user, "groups": []any{"system:authenticated"}},
		"sourceIPs": []any{"10.0.0.7"}, "userAgent": "kubectl/v1.37.0", "objectRef": ref,
		"responseStatus":           map[string]any{"metadata": map[string]any{}, "code": json.Number(strconv.Itoa(code))},
		"requestReceivedTimestamp": t.Add(-3 * time.Millisecond).UTC().Format("2006-01-02T15:04:05.000000Z"),
		"stageTimestamp":           t.UTC().Format("2006-01-02T15:04:05.000000Z"),
	}
}

// insert writes events into database as the collector (cluster) and the aggregator (namespace tenancy) do.
func insert(t *testing.T, srv *chtest.Server, database, cluster string, events []map[string]any) {
	t.Helper()
	var body bytes.Buffer
	for _, ev := range events {
		row := eventrow.Tenancy{}.FromEvent(vrl.WithCluster(ev, cluster), time.Now())
		b, err := json.Marshal(row.Values())
		if err != nil {
			t.Fatal(err)
		}
		body.Write(b)
		body.WriteByte('\n')
	}
	db := srv.OpenDB("default")
	defer func() { _ = db.Close() }()
	if _, err := db.Exec("INSERT INTO " + database + ".events FORMAT JSONEachRow " + body.String()); err != nil {
		t.Fatal(err)
	}
}

// pipeline creates an AuditPipeline whose external ClickHouse is srv's database, its password Secret,
// and its status.clusterName.
func pipeline(t *testing.T, srv *chtest.Server, database, cluster string) types.NamespacedName {
	t.Helper()
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "audit-"}}
	must(t, k8s.Create(ctx, ns))
	must(t, k8s.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "clickhouse-auth", Namespace: ns.Name},
		Data: map[string][]byte{"password": {}}}))
	host, port, _ := net.SplitHostPort(srv.Addr)
	nativePort, _ := strconv.Atoi(port)
	p := &v1alpha1.AuditPipeline{ObjectMeta: metav1.ObjectMeta{Name: "audit", Namespace: ns.Name}}
	p.Spec.ClickHouse.External = &v1alpha1.ExternalClickHouse{Hosts: []string{host}, NativePort: int32(nativePort), HTTPPort: 8123}
	p.Spec.ClickHouse.Credentials = v1alpha1.ClickHouseCredentials{Username: "default",
		PasswordSecretRef: v1alpha1.SecretKeyReference{Name: "clickhouse-auth", Key: "password"}}
	p.Spec.ClickHouse.Database = database
	p.Spec.NATS.Servers = []string{"nats://nats:4222"}
	must(t, k8s.Create(ctx, p))
	p.Status.ClusterName = cluster
	must(t, k8s.Status().Update(ctx, p))
	return client.ObjectKeyFromObject(p)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// apiServiceNamespace and apiServiceName are where the test registers the server, as the chart does.
const (
	apiServiceNamespace = "auditpipeline-system"
	apiServiceName      = "auditpipeline-audit-api"
)

// serve starts the audit API server on loopback for src and registers it with kube-apiserver: an
// ExternalName Service (localhost) the aggregator resolves, and the APIService with the serving CA. It
// returns the server's address when the APIService is Available.
func serve(t *testing.T, src auditapi.Source) string {
	t.Helper()
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	kubeconfig := filepath.Join(dir, "kubeconfig")
	must(t, env.WriteKubeconfig(kubeconfig))

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	bg := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: apiServiceNamespace}}
	if err := k8s.Create(bg, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: apiServiceName, Namespace: apiServiceNamespace},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "localhost"}}
	must(t, k8s.Create(bg, svc))
	port := int64(ln.Addr().(*net.TCPAddr).Port)
	apisvc := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
		"metadata": map[string]any{"name": "v1alpha1." + auditv1alpha1.Group},
		"spec": map[string]any{"group": auditv1alpha1.Group, "version": "v1alpha1",
			"service":              map[string]any{"namespace": apiServiceNamespace, "name": apiServiceName, "port": port},
			"groupPriorityMinimum": int64(1000), "versionPriority": int64(15)},
	}}
	must(t, k8s.Create(bg, apisvc))
	// The serving certificate as the operator issues it when cert-manager is not used: the rotator writes
	// the Secret and the APIService's caBundle, and the server reads the Secret's files.
	rot, err := servingcert.New(servingcert.Options{Namespace: apiServiceNamespace, SecretName: apiServiceName + "-tls",
		ServiceName: apiServiceName, APIServiceNames: []string{apisvc.GetName()}, Client: k8s})
	must(t, err)
	_, err = rot.Ensure(bg)
	must(t, err)
	var tlsSecret corev1.Secret
	must(t, k8s.Get(bg, types.NamespacedName{Namespace: apiServiceNamespace, Name: apiServiceName + "-tls"}, &tlsSecret))
	must(t, os.WriteFile(certFile, tlsSecret.Data[corev1.TLSCertKey], 0o600))
	must(t, os.WriteFile(keyFile, tlsSecret.Data[corev1.TLSPrivateKeyKey], 0o600))
	t.Cleanup(func() {
		_ = k8s.Delete(bg, apisvc)
		_ = k8s.Delete(bg, svc)
		_ = k8s.Delete(bg, &tlsSecret)
		_ = k8s.Delete(bg, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: apiServiceNamespace, Name: apiServiceName + "-tls-ca"}})
	})
	o := auditapi.NewServerOptions()
	o.SecureServing.Listener = ln
	o.SecureServing.BindAddress = net.ParseIP("127.0.0.1")
	o.SecureServing.BindPort = ln.Addr().(*net.TCPAddr).Port
	o.SecureServing.ServerCert.CertKey.CertFile, o.SecureServing.ServerCert.CertKey.KeyFile = certFile, keyFile
	o.Authentication.RemoteKubeConfigFile = kubeconfig
	o.Authorization.RemoteKubeConfigFile = kubeconfig
	// The test changes RoleBindings between requests: no cached decisions.
	o.Authorization.AllowCacheTTL, o.Authorization.DenyCacheTTL = 0, 0
	server, err := auditapi.NewServer(o, src, time.Now)
	must(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- server.PrepareRun().RunWithContext(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("audit API server: %v", err)
			}
		case <-time.After(90 * time.Second):
			t.Error("the audit API server did not stop")
		}
	})

	deadline := time.Now().Add(60 * time.Second)
	for {
		got := &unstructured.Unstructured{}
		got.SetGroupVersionKind(schema.GroupVersionKind{Group: "apiregistration.k8s.io", Version: "v1", Kind: "APIService"})
		must(t, k8s.Get(bg, types.NamespacedName{Name: apisvc.GetName()}, got))
		conds, _, _ := unstructured.NestedSlice(got.Object, "status", "conditions")
		for _, c := range conds {
			if m := c.(map[string]any); m["type"] == "Available" && m["status"] == "True" {
				return ln.Addr().String()
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("APIService %s is not Available: %v", apisvc.GetName(), conds)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// as is the admin's config impersonating user (authenticated, in groups).
func as(user string, groups ...string) *rest.Config {
	cfg := rest.CopyConfig(env.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: append([]string{"system:authenticated"}, groups...)}
	return cfg
}
