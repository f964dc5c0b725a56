package auditapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
	"github.com/auditpipeline/auditpipeline-operator/internal/eventrow"
	"github.com/auditpipeline/auditpipeline-operator/internal/render/vector/vrl"
	"github.com/auditpipeline/auditpipeline-operator/internal/testkit/chtest"
	"github.com/auditpipeline/auditpipeline-operator/internal/testkit/testenv"
)

var (
	env *testenv.Env
	k8s client.Client
)

func TestMain(m *testing.M) {
	os.Exit(testenv.RunWithClickHouse(m, func(e *testenv.Env, c client.Client) { env, k8s = e, c }, testenv.WithAggregation()))
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
func insert(t testing.TB, srv *chtest.Server, database, cluster string, events []map[string]any) {
	t.Helper()
	insertWith(t, srv, database, cluster, eventrow.Tenancy{}, events)
}

// insertWith is insert with the aggregator's tenancy.
func insertWith(t testing.TB, srv *chtest.Server, database, cluster string, tenancy eventrow.Tenancy, events []map[string]any) {
	t.Helper()
	var body bytes.Buffer
	for _, ev := range events {
		row := tenancy.FromEvent(vrl.WithCluster(ev, cluster), time.Now())
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
func pipeline(t testing.TB, srv *chtest.Server, database, cluster string) types.NamespacedName {
	t.Helper()
	return pipelineWith(t, srv, database, cluster, v1alpha1.TenancySpec{})
}

// pipelineWith is pipeline with spec.tenancy.
func pipelineWith(t testing.TB, srv *chtest.Server, database, cluster string, tenancy v1alpha1.TenancySpec) types.NamespacedName {
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
	p.Spec.Tenancy = tenancy
	must(t, k8s.Create(ctx, p))
	p.Status.ClusterName = cluster
	must(t, k8s.Status().Update(ctx, p))
	return client.ObjectKeyFromObject(p)
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// as is the admin's config impersonating user (authenticated, in groups).
func as(user string, groups ...string) *rest.Config {
	cfg := rest.CopyConfig(env.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: append([]string{"system:authenticated"}, groups...)}
	return cfg
}
