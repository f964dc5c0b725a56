package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
	"github.com/auditpipeline/auditpipeline-operator/internal/eventrow"
	"github.com/auditpipeline/auditpipeline-operator/internal/render/vector/vrl"
	"github.com/auditpipeline/auditpipeline-operator/internal/testkit/chtest"
	"github.com/auditpipeline/auditpipeline-operator/internal/testkit/golden"
	"github.com/auditpipeline/auditpipeline-operator/internal/testkit/schematest"
	"github.com/auditpipeline/auditpipeline-operator/internal/testkit/testenv"
)

var (
	env *testenv.Env
	k8s client.Client
)

func TestMain(m *testing.M) {
	os.Exit(testenv.RunWithClickHouse(m, func(e *testenv.Env, c client.Client) { env, k8s = e, c }, testenv.WithAggregation()))
}

// recorded are the audit events a real kube-apiserver wrote (test/kind's recorder), decoded.
func recorded(t *testing.T) []map[string]any {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "internal", "query", "testdata", "recorded-events.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.UseNumber()
		var ev map[string]any
		if err := dec.Decode(&ev); err != nil {
			t.Fatal(err)
		}
		out = append(out, ev)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// insertEvents inserts events into database as the collector and aggregator would (cluster "test").
func insertEvents(t *testing.T, srv *chtest.Server, database string, events []map[string]any) {
	t.Helper()
	var body bytes.Buffer
	for _, ev := range events {
		row := eventrow.Tenancy{}.FromEvent(vrl.WithCluster(ev, "test"), time.Now())
		b, err := json.Marshal(row.Values())
		if err != nil {
			t.Fatal(err)
		}
		body.Write(b)
		body.WriteByte('\n')
	}
	conn, err := srv.Conn("default")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	db := srv.OpenDB("default")
	defer func() { _ = db.Close() }()
	if _, err := db.Exec("INSERT INTO " + database + ".events FORMAT JSONEachRow " + body.String()); err != nil {
		t.Fatal(err)
	}
}

// migrated is a new database of the shared server with the schema.
func migrated(t *testing.T, srv *chtest.Server) string {
	t.Helper()
	_, database := schematest.Migrated(t, srv)
	return database
}

// pipelineOn creates, in a namespace of its own, an AuditPipeline whose external ClickHouse is srv's
// database, with the password Secret it references.
func pipelineOn(t *testing.T, srv *chtest.Server, database string) *v1alpha1.AuditPipeline {
	t.Helper()
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "plugin-"}}
	if err := k8s.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "clickhouse-auth", Namespace: ns.Name},
		Data: map[string][]byte{"password": {}}}); err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(srv.Addr)
	nativePort, _ := strconv.Atoi(port)
	p := &v1alpha1.AuditPipeline{ObjectMeta: metav1.ObjectMeta{Name: "audit", Namespace: ns.Name}}
	p.Spec.ClickHouse.External = &v1alpha1.ExternalClickHouse{Hosts: []string{host}, NativePort: int32(nativePort), HTTPPort: 8123}
	p.Spec.ClickHouse.Credentials = v1alpha1.ClickHouseCredentials{Username: "default",
		PasswordSecretRef: v1alpha1.SecretKeyReference{Name: "clickhouse-auth", Key: "password"}}
	p.Spec.ClickHouse.Database = database
	p.Spec.NATS.Servers = []string{"nats://nats:4222"}
	if err := k8s.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	return p
}

// run runs the plugin with args, connecting as cfg, and returns stdout and stderr.
func run(t *testing.T, ctx context.Context, cfg *rest.Config, args ...string) (string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := newRoot(&stdout, &stderr, &connection{restConfig: cfg})
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(ctx)
	return stdout.String(), stderr.String(), err
}

// window is a --from/--to pair around the recorded events.
func window(events []map[string]any) []string {
	var first, last string
	for _, ev := range events {
		s, _ := ev["stageTimestamp"].(string)
		if first == "" || s < first {
			first = s
		}
		if s > last {
			last = s
		}
	}
	f, _ := time.Parse(time.RFC3339Nano, first)
	l, _ := time.Parse(time.RFC3339Nano, last)
	return []string{"--from", f.Add(-time.Second).Format(time.RFC3339), "--to", l.Add(time.Second).Format(time.RFC3339)}
}

// TestQueryThroughThePipeline: the plugin finds the cluster's only pipeline, reads its password from
// its Secret, and lists the recorded events: as a table, and page by page as JSON, each event once and
// whole.
func TestQueryThroughThePipeline(t *testing.T) {
	srv := chtest.Shared(t)
	database := migrated(t, srv)
	events := recorded(t)
	insertEvents(t, srv, database, events)
	p := pipelineOn(t, srv, database)
	ctx := context.Background()
	pipeline := []string{"--pipeline", p.Namespace + "/" + p.Name}

	out, _, err := run(t, ctx, env.Config, append(append([]string{"query", "--filter", "objectRef.resource == 'configmaps' && verb == 'delete'"}, pipeline...), window(events)...)...)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, "TIMESTAMP") || !strings.Contains(out, "web-config") || !strings.Contains(out, "delete") {
		t.Errorf("table:\n%s", out)
	}

	// Pages of 3, as JSON: every event once, as it was recorded.
	want := map[string]map[string]any{}
	for _, ev := range events {
		if ev["stage"] == "ResponseComplete" {
			want[ev["auditID"].(string)] = ev
		}
	}
	got := map[string]int{}
	token, pages := "", 0
	for {
		args := append(append([]string{"query", "-o", "json", "--limit", "3"}, pipeline...), window(events)...)
		if token != "" {
			args = append(args, "--continue", token)
		}
		out, errOut, err := run(t, ctx, env.Config, args...)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			if line == "" {
				continue
			}
			var ev map[string]any
			dec := json.NewDecoder(strings.NewReader(line))
			dec.UseNumber()
			if err := dec.Decode(&ev); err != nil {
				t.Fatalf("page %d: %v: %s", pages, err, line)
			}
			id, _ := ev["auditID"].(string)
			got[id]++
			// kube-apiserver's EventList items have no kind and apiVersion; the stored event adds them (docs/schema.md).
			if w, ok := want[id]; ok && !sameJSON(withKind(w), ev) {
				t.Errorf("event %s comes back as\n %s\nnot as recorded", id, line)
			}
		}
		_, token, _ = strings.Cut(errOut, "--continue=")
		token, _, _ = strings.Cut(token, " ")
		if token == "" {
			break
		}
	}
	if pages < 10 {
		t.Errorf("%d pages of 3 events, want at least 10 (recorded: %d events)", pages, len(want))
	}
	var missing, repeated []string
	for id := range want {
		if got[id] == 0 {
			missing = append(missing, id)
		}
	}
	for id, n := range got {
		if n > 1 {
			repeated = append(repeated, id)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 || len(repeated) > 0 || len(got) != len(want) {
		t.Errorf("paging: %d events seen of %d; missing %v, repeated %v", len(got), len(want), missing, repeated)
	}
}

// withKind is ev with the kind and apiVersion the stored event adds when they are missing.
func withKind(ev map[string]any) map[string]any {
	out := map[string]any{"kind": "Event", "apiVersion": "audit.k8s.io/v1"}
	for k, v := range ev {
		out[k] = v
	}
	return out
}

// sameJSON compares two decoded JSON values.
func sameJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	var u, v any
	_ = json.Unmarshal(x, &u)
	_ = json.Unmarshal(y, &v)
	xa, _ := json.Marshal(u)
	ya, _ := json.Marshal(v)
	return bytes.Equal(xa, ya)
}

// TestHistoryDiff: the writes of the recorded ConfigMap and Deployment, with their diffs (golden files).
func TestHistoryDiff(t *testing.T) {
	srv := chtest.Shared(t)
	database := migrated(t, srv)
	insertEvents(t, srv, database, recorded(t))
	ctx := context.Background()
	direct := []string{"--clickhouse", srv.Addr, "--clickhouse-user", "default", "--database", database}
	for _, c := range []struct{ name, resource, object string }{
		{"configmap", "configmap", "web-config"},
		{"deployment", "deploy", "web"},
	} {
		out, _, err := run(t, ctx, nil, append([]string{"history", c.resource, c.object, "-n", "team-a", "--diff"}, direct...)...)
		if err != nil {
			t.Fatal(err)
		}
		golden.Assert(t, "history-"+c.name+".txt", []byte(out))
		if strings.Contains(out, "managedFields") || strings.Contains(out, "resourceVersion") {
			t.Errorf("%s: the diff shows managedFields or resourceVersion without --show-managed-fields", c.name)
		}
		out, _, err = run(t, ctx, nil, append([]string{"history", c.resource, c.object, "-n", "team-a", "--diff", "--show-managed-fields"}, direct...)...)
		if err != nil || !strings.Contains(out, "managedFields") {
			t.Errorf("%s with --show-managed-fields: %v\n%s", c.name, err, out)
		}
	}
}

// TestTailSeesANewEvent: tail -f prints an event inserted after it started, and stops when its context ends.
func TestTailSeesANewEvent(t *testing.T) {
	srv := chtest.Shared(t)
	database := migrated(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out := &syncBuffer{}
	cmd := newRoot(out, &bytes.Buffer{}, &connection{})
	cmd.SetArgs([]string{"tail", "-f", "-o", "json", "--interval", "500ms", "--clickhouse", srv.Addr, "--database", database})
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	time.Sleep(time.Second)
	id := "3f2d9c1e-7b6a-4e8f-9a0b-1c2d3e4f5a6b"
	now := time.Now().UTC().Format("2006-01-02T15:04:05.000000Z")
	insertEvents(t, srv, database, []map[string]any{{"kind": "Event", "apiVersion": "audit.k8s.io/v1", "auditID": id,
		"stage": "ResponseComplete", "verb": "create", "stageTimestamp": now, "requestReceivedTimestamp": now,
		"objectRef": map[string]any{"resource": "configmaps", "namespace": "team-a", "name": "tailed"}}})
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(out.String(), id) && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(out.String(), id) {
		t.Errorf("tail -f did not print the new event:\n%s", out.String())
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("tail -f ended with %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Error("tail -f did not stop when its context ended")
	}
}

// TestPermissionsAreNamed: a user who may not read the pipeline, or its password Secret, gets an error
// that names the permission and the way around it, and nothing is read.
func TestPermissionsAreNamed(t *testing.T) {
	srv := chtest.Shared(t)
	p := pipelineOn(t, srv, migrated(t, srv))
	ctx := context.Background()
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "pipeline-reader", Namespace: p.Namespace},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{"auditpipeline.io"}, Resources: []string{"auditpipelines"}, Verbs: []string{"get", "list"}}}}
	binding := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "bob", Namespace: p.Namespace},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, Name: "bob"}},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role.Name}}
	for _, obj := range []client.Object{role, binding} {
		if err := k8s.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}
	as := func(user string) *rest.Config {
		cfg := rest.CopyConfig(env.Config)
		cfg.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: []string{"system:authenticated"}}
		return cfg
	}
	for _, c := range []struct {
		user, pipeline string
		want           []string
	}{
		{"bob", p.Namespace + "/" + p.Name, []string{"read Secret " + p.Namespace + "/clickhouse-auth", "forbidden", "get on the Secret", "--clickhouse"}},
		{"eve", p.Namespace + "/" + p.Name, []string{"get AuditPipeline " + p.Namespace + "/audit: forbidden", "get and list on auditpipelines.auditpipeline.io"}},
		{"eve", "", []string{"list the AuditPipelines of the cluster: forbidden"}},
	} {
		args := []string{"query"}
		if c.pipeline != "" {
			args = append(args, "--pipeline", c.pipeline)
		}
		_, _, err := run(t, ctx, as(c.user), args...)
		for _, w := range c.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("%s, pipeline %q: error %v, want it to contain %q", c.user, c.pipeline, err, w)
			}
		}
	}
}
