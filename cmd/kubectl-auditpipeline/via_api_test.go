package main

import (
	"context"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	auditv1alpha1 "github.com/auditpipeline/auditpipeline-operator/api/audit/v1alpha1"
	"github.com/auditpipeline/auditpipeline-operator/internal/auditapi"
	"github.com/auditpipeline/auditpipeline-operator/internal/query"
	"github.com/auditpipeline/auditpipeline-operator/internal/testkit/auditapitest"
	"github.com/auditpipeline/auditpipeline-operator/internal/testkit/chtest"
)

// TestViaAPI: with --via-api the commands read through the audit API as the caller, and print exactly what
// they print from the database for the events the caller may see; without the RBAC they name it.
func TestViaAPI(t *testing.T) {
	srv := chtest.Shared(t)
	database := migrated(t, srv)
	events := recorded(t)
	insertEvents(t, srv, database, events)
	p := pipelineOn(t, srv, database)
	p.Status.ClusterName = "test" // the cluster insertEvents names
	ctx := context.Background()
	if err := k8s.Status().Update(ctx, p); err != nil {
		t.Fatal(err)
	}
	src := &auditapi.PipelineSource{Client: k8s, Key: client.ObjectKeyFromObject(p), Refresh: time.Minute}
	defer src.Close()
	auditapitest.Serve(t, env, k8s, src)

	// alice reads team-a's audit trail: list auditevents and create queries there, nothing more.
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "audit-reader", Namespace: "team-a"}, Rules: []rbacv1.PolicyRule{
		{APIGroups: []string{auditv1alpha1.Group}, Resources: []string{"auditevents"}, Verbs: []string{"list"}},
		{APIGroups: []string{auditv1alpha1.Group}, Resources: []string{"auditeventqueries"}, Verbs: []string{"create"}},
	}}
	binding := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "alice-audit-reader", Namespace: "team-a"},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "alice"}},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "audit-reader"}}
	for _, o := range []client.Object{&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a"}}, role, binding} {
		if err := k8s.Create(ctx, o); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
	alice := rest.CopyConfig(env.Config)
	alice.Impersonate = rest.ImpersonationConfig{UserName: "alice", Groups: []string{"system:authenticated"}}
	direct := []string{"--clickhouse", srv.Addr, "--clickhouse-user", "default", "--database", database}

	same := func(args ...string) {
		t.Helper()
		want, _, err := run(t, ctx, nil, append(args, direct...)...)
		if err != nil {
			t.Fatalf("%v from the database: %v", args, err)
		}
		got, _, err := run(t, ctx, alice, append(args, "--via-api")...)
		if err != nil {
			t.Fatalf("%v through the API: %v", args, err)
		}
		if got != want || want == "" {
			t.Errorf("%v through the API prints\n%s\nfrom the database\n%s", args, got, want)
		}
	}
	same(append([]string{"query", "-n", "team-a", "-o", "json"}, window(events)...)...)
	same(append([]string{"query", "-n", "team-a", "--filter", "verb in ['update', 'patch'] || responseStatus.code >= 400"}, window(events)...)...)
	same(append([]string{"query", "-n", "team-a", "--resource", "configmaps", "--verb", "delete", "-o", "yaml"}, window(events)...)...)
	same(append([]string{"query", "-n", "team-a", "--limit", "5", "--all-pages", "-o", "json"}, window(events)...)...)
	same("history", "configmap", "web-config", "-n", "team-a", "--diff")
	same("history", "deploy", "web", "-n", "team-a")

	// Following through the API: fresh events are shown once each, though the API's range has whole
	// seconds and every poll asks for the seconds around it again; the last one lies just before the
	// look-back window of the polls after the first (30 s before the newest).
	now := time.Now().UTC()
	var fresh []map[string]any
	for i, ago := range []time.Duration{300 * time.Millisecond, 1300 * time.Millisecond, 30600 * time.Millisecond} {
		e := maps.Clone(events[i])
		e["auditID"] = uuid.NewString()
		e["stageTimestamp"] = now.Add(-ago).Format("2006-01-02T15:04:05.000000Z")
		e["requestReceivedTimestamp"] = e["stageTimestamp"]
		e["objectRef"] = map[string]any{"resource": "configmaps", "namespace": "team-a", "name": "fresh"}
		fresh = append(fresh, e)
	}
	insertEvents(t, srv, database, fresh)
	api, err := newAPIReader(alice)
	if err != nil {
		t.Fatal(err)
	}
	fctx, cancel := context.WithTimeout(ctx, 2500*time.Millisecond)
	defer cancel()
	shown := map[string]int{}
	if err := query.Follow(fctx, api, query.Request{Namespace: "team-a", Name: "fresh"}, time.Minute, 500*time.Millisecond,
		func(e query.Event) error { shown[e.AuditID]++; return nil }, func(string) {}); err != nil {
		t.Fatal(err)
	}
	for _, e := range fresh {
		if n := shown[e["auditID"].(string)]; n != 1 {
			t.Errorf("tail -f --via-api showed event %s %d times, want once (%v)", e["auditID"], n, shown)
		}
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"query", "-n", "team-b"}, "auditeventqueries in the namespace"},
		{[]string{"query"}, "clusterauditeventqueries"},
		{[]string{"history", "configmap", "settings", "-n", "team-b"}, "docs/auditapi.md#permissions"},
		{[]string{"query", "-n", "team-a", "--clickhouse", srv.Addr}, "drop --clickhouse"},
		{[]string{"history", "configmap", "web-config", "-n", "team-a", "--cluster", "other"}, "not available with --via-api"},
	} {
		_, _, err := run(t, ctx, alice, append(c.args, "--via-api")...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v --via-api as alice: %v, want an error naming %q", c.args, err, c.want)
		}
	}
}
