package auditapi_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

	auditv1alpha1 "github.com/auditpipeline/auditpipeline-operator/api/audit/v1alpha1"
	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
	"github.com/auditpipeline/auditpipeline-operator/internal/auditapi"
	"github.com/auditpipeline/auditpipeline-operator/internal/eventrow"
	"github.com/auditpipeline/auditpipeline-operator/internal/query"
	"github.com/auditpipeline/auditpipeline-operator/internal/testkit/auditapitest"
	"github.com/auditpipeline/auditpipeline-operator/internal/testkit/chtest"
	"github.com/auditpipeline/auditpipeline-operator/internal/testkit/schematest"
)

// auditClient is a REST client of audit.auditpipeline.io/v1alpha1 through kube-apiserver with cfg.
func auditClient(t testing.TB, cfg *rest.Config) *rest.RESTClient {
	t.Helper()
	c := rest.CopyConfig(cfg)
	c.GroupVersion = &auditv1alpha1.SchemeGroupVersion
	c.APIPath = "/apis"
	c.NegotiatedSerializer = auditapi.Codecs.WithoutConversion()
	rc, err := rest.RESTClientFor(c)
	must(t, err)
	return rc
}

// listAll lists auditevents of namespace ("" for all) page by page and returns the audit IDs in order.
func listAll(t *testing.T, rc *rest.RESTClient, namespace string, o metav1.ListOptions) ([]string, int, error) {
	t.Helper()
	var ids []string
	pages := 0
	for {
		var l auditv1alpha1.AuditEventList
		err := rc.Get().Namespace(namespace).Resource(auditv1alpha1.ResourceAuditEvents).
			VersionedParams(&o, metav1.ParameterCodec).Do(context.Background()).Into(&l)
		if err != nil {
			return ids, pages, err
		}
		pages++
		for _, e := range l.Items {
			ids = append(ids, e.Name)
		}
		if l.Continue == "" {
			return ids, pages, nil
		}
		o.Continue = l.Continue
	}
}

// ids are the audit IDs of events.
func ids(events []map[string]any) []string {
	out := make([]string, 0, len(events))
	for _, e := range events {
		out = append(out, e["auditID"].(string))
	}
	return out
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// grant binds user to a role with rules, in namespace ("" for a ClusterRoleBinding).
func grant(t *testing.T, name, user, namespace string, rules ...rbacv1.PolicyRule) {
	t.Helper()
	ctx := context.Background()
	subject := []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}}
	if namespace == "" {
		must(t, k8s.Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: rules}))
		must(t, k8s.Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name}, Subjects: subject,
			RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name}}))
		return
	}
	must(t, k8s.Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace}, Rules: rules}))
	must(t, k8s.Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace}, Subjects: subject,
		RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name}}))
}

func rule(verb string, resources ...string) rbacv1.PolicyRule {
	return rbacv1.PolicyRule{APIGroups: []string{auditv1alpha1.Group}, Resources: resources, Verbs: []string{verb}}
}

// status is the HTTP status of err (200 for none).
func status(err error) int {
	if err == nil {
		return http.StatusOK
	}
	if s, ok := err.(apierrors.APIStatus); ok {
		return int(s.Status().Code)
	}
	return -1
}

func TestEventsScopedByRBAC(t *testing.T) {
	srv := chtest.Shared(t)
	_, database := schematest.Migrated(t, srv)
	now := time.Now()
	at := func(i int) time.Time { return now.Add(-time.Duration(i) * 7 * time.Second) }
	var teamA, teamB, cluster, other []map[string]any
	for i := range 23 {
		verb := []string{"update", "get", "delete", "patch"}[i%4]
		teamA = append(teamA, event("team-a", verb, "system:serviceaccount:team-a:deployer", "configmaps", "settings", 200, at(i)))
	}
	for i := range 11 {
		teamB = append(teamB, event("team-b", "create", "bob@example.com", "secrets", "token", 201, at(i)))
	}
	for i := range 6 {
		cluster = append(cluster, event("", "update", "system:node:n1", "nodes", "n1", 200, at(i)))
	}
	for i := range 5 { // another cluster sharing the tables: never visible through this pipeline
		other = append(other, event("team-a", "delete", "system:serviceaccount:team-a:deployer", "configmaps", "settings", 200, at(i)))
	}
	insert(t, srv, database, "c1", slices.Concat(teamA, teamB, cluster))
	insert(t, srv, database, "c2", other)
	src := &auditapi.PipelineSource{Client: k8s, Key: pipeline(t, srv, database, "c1"), Refresh: time.Minute}
	defer src.Close()
	addr := auditapitest.Serve(t, env, k8s, src)

	for _, ns := range []string{"team-a", "team-b"} {
		must(t, k8s.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))
	}
	grant(t, "alice-audit", "alice", "team-a", rule("list", "auditevents"), rule("get", "auditevents"), rule("create", "auditeventqueries"))
	grant(t, "bob-audit", "bob", "team-b", rule("list", "auditevents"))
	grant(t, "carol-audit", "carol", "", rule("list", "auditevents"), rule("create", "clusterauditeventqueries"))
	grant(t, "dave-queries", "dave", "team-a", rule("create", "auditeventqueries")) // may query, not list
	alice, bob, carol := auditClient(t, as("alice")), auditClient(t, as("bob")), auditClient(t, as("carol"))
	mallory, dave := auditClient(t, as("mallory")), auditClient(t, as("dave"))

	t.Run("each user sees exactly their namespace", func(t *testing.T) {
		for _, c := range []struct {
			who       string
			rc        *rest.RESTClient
			namespace string
			want      []map[string]any
		}{
			{"alice", alice, "team-a", teamA},
			{"bob", bob, "team-b", teamB},
			{"carol", carol, "", slices.Concat(teamA, teamB, cluster)},
			{"carol", carol, "team-a", teamA},
		} {
			got, _, err := listAll(t, c.rc, c.namespace, metav1.ListOptions{})
			if err != nil {
				t.Fatalf("%s lists %q: %v", c.who, c.namespace, err)
			}
			if !slices.Equal(sorted(got), sorted(ids(c.want))) {
				t.Errorf("%s lists %q: %d events, want %d", c.who, c.namespace, len(got), len(c.want))
			}
		}
	})

	t.Run("no binding, no events", func(t *testing.T) {
		for _, c := range []struct {
			who       string
			rc        *rest.RESTClient
			namespace string
		}{
			{"mallory", mallory, "team-a"}, {"mallory", mallory, ""}, {"alice", alice, "team-b"},
			{"alice", alice, ""}, {"bob", bob, "team-a"}, {"dave", dave, "team-a"},
		} {
			got, _, err := listAll(t, c.rc, c.namespace, metav1.ListOptions{})
			if status(err) != http.StatusForbidden {
				t.Errorf("%s lists %q: %d events, error %v; want 403", c.who, c.namespace, len(got), err)
			}
		}
	})

	t.Run("paging through kube-apiserver returns every event once", func(t *testing.T) {
		got, pages, err := listAll(t, alice, "team-a", metav1.ListOptions{Limit: 4})
		must(t, err)
		if pages != 6 || len(got) != len(teamA) || !slices.Equal(sorted(got), sorted(ids(teamA))) {
			t.Errorf("pages of 4: %d pages, %d events (%d distinct); want 6 pages of the %d events", pages, len(got),
				len(slices.Compact(sorted(got))), len(teamA))
		}
		want := ids(teamA) // newest first, as inserted
		if !slices.Equal(got, want) {
			t.Errorf("pages of 4 are not newest first:\n got %v\nwant %v", got, want)
		}
	})

	t.Run("field selectors narrow", func(t *testing.T) {
		for _, c := range []struct {
			selector string
			want     int
		}{
			{"verb=update", 6}, {"verb=delete,objectRef.resource=configmaps", 6}, {"user.username=bob@example.com", 0},
			{"objectRef.name=settings", 23}, {"objectRef.namespace=team-a", 23},
			{"since=" + at(9).Format(time.RFC3339Nano), 10}, {"until=" + at(20).Format(time.RFC3339Nano), 3},
			// A duration counts back from the server's now: 3.5 s past the 10th event, 3.5 s before the 11th.
			{"since=" + (time.Since(at(9)) + 3500*time.Millisecond).Round(time.Second).String(), 10},
		} {
			got, _, err := listAll(t, alice, "team-a", metav1.ListOptions{FieldSelector: c.selector})
			if err != nil || len(got) != c.want {
				t.Errorf("alice, --field-selector %s: %d events, %v; want %d", c.selector, len(got), err, c.want)
			}
		}
	})

	t.Run("nothing widens the scope", func(t *testing.T) {
		var carolPage auditv1alpha1.AuditEventList
		must(t, carol.Get().Resource(auditv1alpha1.ResourceAuditEvents).Param("limit", "2").Do(context.Background()).Into(&carolPage))
		forged := base64.RawURLEncoding.EncodeToString([]byte(`{"t":"2099-01-01 00:00:00.000000","tt":"","tn":"team-b","id":"00000000-0000-0000-0000-000000000000","st":"","f":"2000-01-01T00:00:00Z","to":"2099-01-01T00:00:00Z","d":"0000000000000000"}`))
		type attempt struct {
			name string
			list metav1.ListOptions
			// query, when set, is an AuditEventQuery's filter instead of a list.
			query string
			want  int // HTTP status
		}
		for _, a := range []attempt{
			{name: "namespace field selector", list: metav1.ListOptions{FieldSelector: "objectRef.namespace=team-b"}, want: 400},
			{name: "metadata.namespace selector", list: metav1.ListOptions{FieldSelector: "metadata.namespace=team-b"}, want: 400},
			{name: "namespace not equal", list: metav1.ListOptions{FieldSelector: "objectRef.namespace!=team-a"}, want: 400},
			{name: "two namespaces", list: metav1.ListOptions{FieldSelector: "objectRef.namespace=team-a,metadata.namespace=team-b"}, want: 400},
			{name: "unknown field", list: metav1.ListOptions{FieldSelector: "cluster=c2"}, want: 400},
			{name: "label selector", list: metav1.ListOptions{LabelSelector: "team=b"}, want: 400},
			{name: "carol's continue token", list: metav1.ListOptions{Continue: carolPage.Continue}, want: 400},
			{name: "forged continue token", list: metav1.ListOptions{Continue: forged}, want: 400},
			{name: "quote in a selector", list: metav1.ListOptions{FieldSelector: `objectRef.name=settings' OR true OR '`}, want: 200},
			{name: "an equals sign in a selector", list: metav1.ListOptions{FieldSelector: `verb=update' OR 1=1 --`}, want: 400},
			{name: "filter on another namespace", query: `objectRef.namespace == 'team-b'`, want: 200},
			{name: "filter ORed with true", query: `true || objectRef.namespace == 'team-b'`, want: 200},
			{name: "filter with SQL in a string", query: `objectRef.namespace == "team-a') OR (1=1"`, want: 200},
			{name: "filter on the other cluster's events", query: `verb == 'delete'`, want: 200},
		} {
			var got []string
			var err error
			if a.query != "" {
				var q auditv1alpha1.AuditEventQuery
				q.Spec.Filter, q.Spec.Limit = a.query, 1000
				err = alice.Post().Namespace("team-a").Resource(auditv1alpha1.ResourceAuditEventQueries).Body(&q).Do(context.Background()).Into(&q)
				got = auditIDs(t, q.Status.Events)
			} else {
				got, _, err = listAll(t, alice, "team-a", a.list)
			}
			if status(err) != a.want {
				t.Errorf("%s: status %d (%v), want %d", a.name, status(err), err, a.want)
			}
			for _, id := range got {
				if !slices.Contains(ids(teamA), id) {
					t.Errorf("%s: alice got event %s, not one of team-a's in cluster c1", a.name, id)
				}
			}
		}
	})

	t.Run("queries", func(t *testing.T) {
		var q auditv1alpha1.AuditEventQuery
		q.Spec.Filter, q.Spec.Limit = `verb in ['update', 'patch'] && objectRef.resource == 'configmaps'`, 5
		must(t, alice.Post().Namespace("team-a").Resource(auditv1alpha1.ResourceAuditEventQueries).Body(&q).Do(context.Background()).Into(&q))
		if len(q.Status.Events) != 5 || q.Status.Continue == "" {
			t.Errorf("a query of 12 events with limit 5: %d events, continue %q", len(q.Status.Events), q.Status.Continue)
		}
		var cq auditv1alpha1.ClusterAuditEventQuery
		cq.Spec.Filter, cq.Spec.Limit = `objectRef.resource == 'nodes' || verb == 'create'`, 100
		must(t, carol.Post().Resource(auditv1alpha1.ResourceClusterAuditEventQueries).Body(&cq).Do(context.Background()).Into(&cq))
		if len(cq.Status.Events) != len(cluster)+len(teamB) {
			t.Errorf("carol's cluster query: %d events, want %d", len(cq.Status.Events), len(cluster)+len(teamB))
		}
		// An object's history: its writes, oldest first, in the caller's namespace and cluster only (c2 wrote
		// the same ConfigMap five times).
		var h auditv1alpha1.AuditEventQuery
		h.Spec.Object = &auditv1alpha1.ObjectReference{Resource: "cm", Name: "settings"}
		must(t, alice.Post().Namespace("team-a").Resource(auditv1alpha1.ResourceAuditEventQueries).Body(&h).Do(context.Background()).Into(&h))
		var writes []string
		for _, e := range slices.Backward(teamA) {
			if e["verb"] != "get" {
				writes = append(writes, e["auditID"].(string))
			}
		}
		if got := auditIDs(t, h.Status.Events); !slices.Equal(got, writes) {
			t.Errorf("history of configmap settings in team-a: %d events, want the %d writes oldest first", len(got), len(writes))
		}
		var ch auditv1alpha1.ClusterAuditEventQuery
		ch.Spec.Object = &auditv1alpha1.ObjectReference{Resource: "secrets", Namespace: "team-b", Name: "token"}
		must(t, carol.Post().Resource(auditv1alpha1.ResourceClusterAuditEventQueries).Body(&ch).Do(context.Background()).Into(&ch))
		if len(ch.Status.Events) != len(teamB) {
			t.Errorf("carol's history of secret team-b/token: %d events, want %d", len(ch.Status.Events), len(teamB))
		}
		for _, c := range []struct {
			name string
			do   func() error
			want int
		}{
			{"a history of another namespace's object", func() error {
				var q auditv1alpha1.AuditEventQuery
				q.Spec.Object = &auditv1alpha1.ObjectReference{Resource: "secrets", Namespace: "team-b", Name: "token"}
				return alice.Post().Namespace("team-a").Resource(auditv1alpha1.ResourceAuditEventQueries).Body(&q).Do(context.Background()).Error()
			}, 422},
			{"a history with a filter", func() error {
				var q auditv1alpha1.AuditEventQuery
				q.Spec.Object, q.Spec.Filter = &auditv1alpha1.ObjectReference{Resource: "configmaps", Name: "settings"}, "true"
				return alice.Post().Namespace("team-a").Resource(auditv1alpha1.ResourceAuditEventQueries).Body(&q).Do(context.Background()).Error()
			}, 422},
			{"dave may create queries but not list events", func() error {
				var q auditv1alpha1.AuditEventQuery
				return dave.Post().Namespace("team-a").Resource(auditv1alpha1.ResourceAuditEventQueries).Body(&q).Do(context.Background()).Error()
			}, 403},
			{"alice's cluster query", func() error {
				var q auditv1alpha1.ClusterAuditEventQuery
				return alice.Post().Resource(auditv1alpha1.ResourceClusterAuditEventQueries).Body(&q).Do(context.Background()).Error()
			}, 403},
			{"alice's query in team-b", func() error {
				var q auditv1alpha1.AuditEventQuery
				return alice.Post().Namespace("team-b").Resource(auditv1alpha1.ResourceAuditEventQueries).Body(&q).Do(context.Background()).Error()
			}, 403},
			{"a filter that does not compile", func() error {
				var q auditv1alpha1.AuditEventQuery
				q.Spec.Filter = `verb == `
				return alice.Post().Namespace("team-a").Resource(auditv1alpha1.ResourceAuditEventQueries).Body(&q).Do(context.Background()).Error()
			}, 422},
			{"a limit too large", func() error {
				var q auditv1alpha1.AuditEventQuery
				q.Spec.Limit = 10001
				return alice.Post().Namespace("team-a").Resource(auditv1alpha1.ResourceAuditEventQueries).Body(&q).Do(context.Background()).Error()
			}, 422},
		} {
			if err := c.do(); status(err) != c.want {
				t.Errorf("%s: %d (%v), want %d", c.name, status(err), err, c.want)
			} else if err != nil && !strings.Contains(err.Error(), "audit") && c.want == 403 {
				t.Errorf("%s: the message does not name what is missing: %v", c.name, err)
			}
		}
	})

	t.Run("kubectl", func(t *testing.T) {
		kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
		must(t, env.WriteKubeconfig(kubeconfig))
		kubectl := func(args ...string) (string, error) {
			cmd := exec.Command(filepath.Join(os.Getenv("KUBEBUILDER_ASSETS"), "kubectl"), append([]string{"--kubeconfig", kubeconfig}, args...)...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				return string(out), fmt.Errorf("kubectl %s: %v: %s", strings.Join(args, " "), err, stderr.String())
			}
			return string(out), nil
		}
		out, err := kubectl("get", "auditevents", "-n", "team-a", "--as", "alice")
		must(t, err)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if got := strings.Fields(lines[0]); !slices.Equal(got, []string{"TIMESTAMP", "VERB", "USER", "RESOURCE", "OBJECT", "STATUS"}) || len(lines) != 1+len(teamA) {
			t.Errorf("kubectl get auditevents -n team-a: header %q and %d rows, want %d rows:\n%s", got, len(lines)-1, len(teamA), out)
		}
		if !strings.Contains(lines[1], "system:serviceaccount:team-a:deployer") || !strings.Contains(lines[1], "configmaps") || !strings.Contains(lines[1], teamA[0]["stageTimestamp"].(string)) {
			t.Errorf("the newest row does not show the newest event %v:\n%s", teamA[0], lines[1])
		}
		out, err = kubectl("get", "auditevents", "-A", "--as", "carol", "-o", "wide", "--field-selector", "objectRef.resource=nodes")
		must(t, err)
		lines = strings.Split(strings.TrimSpace(out), "\n")
		if got := strings.Fields(lines[0]); !slices.Equal(got, []string{"NAMESPACE", "TIMESTAMP", "VERB", "USER", "RESOURCE", "OBJECT", "STATUS", "NAME"}) || len(lines) != 1+len(cluster) {
			t.Errorf("kubectl get auditevents -A -o wide: header %q and %d rows, want %d:\n%s", got, len(lines)-1, len(cluster), out)
		}
		if _, err := kubectl("get", "auditevents", "-n", "team-b", "--as", "alice"); err == nil || !strings.Contains(err.Error(), "forbidden") {
			t.Errorf("alice's kubectl get in team-b: %v, want forbidden", err)
		}

		// -o yaml: each item's event is the stored audit event, member for member.
		out, err = kubectl("get", "auditevents", "-n", "team-a", "--as", "alice", "-o", "yaml")
		must(t, err)
		var list struct {
			Items []struct {
				Metadata struct{ Name, Namespace string }
				Event    map[string]any
			}
		}
		must(t, yaml.Unmarshal([]byte(out), &list))
		if len(list.Items) != len(teamA) {
			t.Fatalf("-o yaml: %d items, want %d", len(list.Items), len(teamA))
		}
		for i, it := range list.Items {
			want := teamA[i]
			if it.Metadata.Name != want["auditID"] || it.Metadata.Namespace != "team-a" || !sameJSON(it.Event, want) {
				t.Errorf("-o yaml item %d: %s/%s\n got %v\nwant the stored event %v", i, it.Metadata.Namespace, it.Metadata.Name, it.Event, want)
				break
			}
		}

		// Get by name: the audit ID, in the caller's namespace only.
		id := teamA[3]["auditID"].(string)
		out, err = kubectl("get", "auditevent", id, "-n", "team-a", "--as", "alice", "-o", "json")
		must(t, err)
		var one struct {
			Metadata struct{ Name string }
			Event    map[string]any
		}
		must(t, json.Unmarshal([]byte(out), &one))
		if one.Metadata.Name != id || !sameJSON(one.Event, teamA[3]) {
			t.Errorf("kubectl get auditevent %s: %s", id, out)
		}
		for _, c := range []struct{ id, namespace, want string }{
			{teamB[0]["auditID"].(string), "team-a", "NotFound"}, // team-b's event asked in team-a
			{other[0]["auditID"].(string), "team-a", "NotFound"}, // another cluster's event in team-a
			{"not-a-uuid", "team-a", "NotFound"},
			{teamB[0]["auditID"].(string), "team-b", "Forbidden"}, // no RoleBinding in team-b
		} {
			if _, err := kubectl("get", "auditevent", c.id, "-n", c.namespace, "--as", "alice"); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("alice gets auditevent %s in %s: %v, want %s", c.id, c.namespace, err, c.want)
			}
		}

		// A query created with kubectl: the events come back in its status.
		query := filepath.Join(t.TempDir(), "query.yaml")
		must(t, os.WriteFile(query, []byte("apiVersion: audit.auditpipeline.io/v1alpha1\nkind: AuditEventQuery\nmetadata:\n  name: deletes\nspec:\n  filter: verb == 'delete'\n  limit: 3\n"), 0o600))
		// kubectl checks a kind it cannot PATCH against the CRDs, which a reader may not list:
		// --validate=false, as docs/auditapi.md says; the server validates the spec itself.
		out, err = kubectl("create", "-f", query, "-n", "team-a", "--as", "alice", "-o", "yaml", "--validate=false")
		must(t, err)
		var q auditv1alpha1.AuditEventQuery
		must(t, yaml.Unmarshal([]byte(out), &q))
		if len(q.Status.Events) != 3 || q.Status.Continue == "" {
			t.Errorf("kubectl create an AuditEventQuery: %d events, continue %q; want 3 of 6 and a continue token:\n%s", len(q.Status.Events), q.Status.Continue, out)
		}
	})

	t.Run("the server trusts only kube-apiserver's front proxy", func(t *testing.T) {
		// Straight to the server, claiming to be carol in the front proxy's headers, without its client
		// certificate: the headers are not believed.
		c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // the test reaches the server by IP
		for _, path := range []string{"/apis/audit.auditpipeline.io/v1alpha1/auditevents", "/apis/audit.auditpipeline.io/v1alpha1/namespaces/team-a/auditevents"} {
			req, err := http.NewRequest(http.MethodGet, "https://"+addr+path, nil)
			must(t, err)
			req.Header.Set("X-Remote-User", "carol")
			req.Header.Set("X-Remote-Group", "system:masters")
			resp, err := c.Do(req)
			must(t, err)
			body, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusForbidden {
				t.Errorf("GET %s with forged front-proxy headers: %d %s", path, resp.StatusCode, body)
			}
		}
		// kubelet's probes come without credentials: /livez and /readyz answer them (the chart probes both).
		for _, path := range []string{"/livez", "/readyz"} {
			resp, err := c.Get("https://" + addr + path)
			must(t, err)
			body, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("GET %s without credentials: %d %s", path, resp.StatusCode, body)
			}
		}
	})
}

// auditIDs are the auditID members of raw events.
func auditIDs(t *testing.T, events []runtime.RawExtension) []string {
	t.Helper()
	var out []string
	for _, raw := range events {
		var e struct {
			AuditID string `json:"auditID"`
		}
		must(t, json.Unmarshal(raw.Raw, &e))
		out = append(out, e.AuditID)
	}
	return out
}

// sameJSON compares a and b as JSON values.
func sameJSON(a, b any) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	if err1 != nil || err2 != nil {
		return false
	}
	var va, vb any
	_ = json.Unmarshal(ja, &va)
	_ = json.Unmarshal(jb, &vb)
	return reflect.DeepEqual(va, vb)
}

// switchable is a Source whose pipeline source a test changes between requests.
type switchable struct {
	src atomic.Pointer[auditapi.PipelineSource]
}

func (s *switchable) Reader(ctx context.Context) (auditapi.Reader, auditapi.Scope, error) {
	return s.src.Load().Reader(ctx)
}

// TestAnnotationTenancyScope: under annotation tenancy two tenants' control planes share the cluster value
// and the namespace name "default". Unpinned, the server refuses namespaced reads (403) and serves a
// cluster reader every tenant; pinned to one tenant it serves only that tenant's events, namespaced and
// cluster-wide, lists, queries and histories alike.
func TestAnnotationTenancyScope(t *testing.T) {
	srv := chtest.Shared(t)
	_, database := schematest.Migrated(t, srv)
	now := time.Now()
	tenancy := eventrow.Tenancy{TypeAnnotation: "platform.example.com/scope.type", NameAnnotation: "platform.example.com/scope.name"}
	scoped := func(tenant string, n int) []map[string]any {
		var out []map[string]any
		for i := range n {
			ev := event("default", "update", "system:serviceaccount:default:app", "configmaps", "settings", 200, now.Add(-time.Duration(i)*time.Second))
			ev["annotations"] = map[string]any{"platform.example.com/scope.type": "Project", "platform.example.com/scope.name": tenant}
			out = append(out, ev)
		}
		return out
	}
	p1, p2 := scoped("p1", 4), scoped("p2", 6)
	insertWith(t, srv, database, "shared", tenancy, slices.Concat(p1, p2))
	key := pipelineWith(t, srv, database, "shared", v1alpha1.TenancySpec{Source: v1alpha1.TenantSourceAnnotations,
		Annotations: &v1alpha1.TenantAnnotations{Type: "platform.example.com/scope.type", Name: "platform.example.com/scope.name"}})
	unpinned := &auditapi.PipelineSource{Client: k8s, Key: key, Refresh: time.Minute}
	pinned := &auditapi.PipelineSource{Client: k8s, Key: key, Refresh: time.Minute, Tenant: &query.Tenant{Type: "Project", Name: "p1"}}
	defer unpinned.Close()
	defer pinned.Close()
	var src switchable
	src.src.Store(unpinned)
	auditapitest.Serve(t, env, k8s, &src)
	grant(t, "erin-audit", "erin", "default", rule("list", "auditevents"), rule("create", "auditeventqueries"))
	grant(t, "frank-audit", "frank", "", rule("list", "auditevents"), rule("create", "clusterauditeventqueries", "auditeventqueries"))
	erin, frank := auditClient(t, as("erin")), auditClient(t, as("frank"))

	history := func(rc *rest.RESTClient, namespace string) ([]string, error) {
		var q auditv1alpha1.AuditEventQuery
		q.Spec.Object = &auditv1alpha1.ObjectReference{Resource: "configmaps", Name: "settings"}
		err := rc.Post().Namespace(namespace).Resource(auditv1alpha1.ResourceAuditEventQueries).Body(&q).Do(context.Background()).Into(&q)
		return auditIDs(t, q.Status.Events), err
	}
	got, _, err := listAll(t, erin, "default", metav1.ListOptions{})
	if status(err) != http.StatusForbidden || !strings.Contains(fmt.Sprint(err), "pinned") {
		t.Errorf("unpinned, a namespaced list: %d events, %v; want 403 naming the pinned tenant", len(got), err)
	}
	if _, err := history(erin, "default"); status(err) != http.StatusForbidden {
		t.Errorf("unpinned, a namespaced history: %v; want 403", err)
	}
	if got, _, err := listAll(t, frank, "", metav1.ListOptions{}); err != nil || len(got) != len(p1)+len(p2) {
		t.Errorf("unpinned, a cluster-wide list: %d events, %v; want every tenant's %d", len(got), err, len(p1)+len(p2))
	}

	src.src.Store(pinned)
	for _, c := range []struct {
		who       string
		rc        *rest.RESTClient
		namespace string
	}{{"erin", erin, "default"}, {"frank", frank, ""}, {"frank", frank, "default"}} {
		got, _, err := listAll(t, c.rc, c.namespace, metav1.ListOptions{})
		if err != nil || !slices.Equal(sorted(got), sorted(ids(p1))) {
			t.Errorf("pinned to p1, %s lists %q: %d events, %v; want p1's %d", c.who, c.namespace, len(got), err, len(p1))
		}
	}
	if got, err := history(erin, "default"); err != nil || !slices.Equal(sorted(got), sorted(ids(p1))) {
		t.Errorf("pinned to p1, a history: %d events, %v; want p1's %d", len(got), err, len(p1))
	}
}

// TestCallerMistakesAre400: what the caller must fix is 400 (or 422), not 503.
func TestCallerMistakesAre400(t *testing.T) {
	srv := chtest.Shared(t)
	_, database := schematest.Migrated(t, srv)
	src := &auditapi.PipelineSource{Client: k8s, Key: pipeline(t, srv, database, "c9"), Refresh: time.Minute}
	defer src.Close()
	auditapitest.Serve(t, env, k8s, src)
	admin := auditClient(t, env.Config)
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	for _, sel := range []string{"since=" + future, "since=1h,until=2h"} {
		_, _, err := listAll(t, admin, "team-a", metav1.ListOptions{FieldSelector: sel})
		if status(err) != http.StatusBadRequest {
			t.Errorf("--field-selector %s: %v, want 400", sel, err)
		}
	}
	var q auditv1alpha1.AuditEventQuery
	q.Spec.StartTime = &metav1.Time{Time: time.Now().Add(time.Hour)}
	err := admin.Post().Namespace("team-a").Resource(auditv1alpha1.ResourceAuditEventQueries).Body(&q).Do(context.Background()).Error()
	if status(err) != http.StatusBadRequest {
		t.Errorf("a query starting in the future: %v, want 400", err)
	}
}

// TestPipelineSourceServesStaleBriefly: when the pipeline cannot be read again (its password Secret
// deleted), the source serves what it read last for a few Refresh periods, reports the error in Health
// (readyz), and then fails.
func TestPipelineSourceServesStaleBriefly(t *testing.T) {
	srv := chtest.Shared(t)
	_, database := schematest.Migrated(t, srv)
	key := pipeline(t, srv, database, "c7")
	src := &auditapi.PipelineSource{Client: k8s, Key: key, Refresh: 200 * time.Millisecond}
	defer src.Close()
	ctx := context.Background()
	if _, scope, err := src.Reader(ctx); err != nil || scope.Cluster != "c7" || src.Health() != nil {
		t.Fatalf("first read: scope %+v, %v, health %v", scope, err, src.Health())
	}
	must(t, k8s.Delete(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: "clickhouse-auth"}}))
	time.Sleep(250 * time.Millisecond) // past Refresh: the next call reloads, and fails
	if r, _, err := src.Reader(ctx); err != nil || r == nil {
		t.Errorf("a failed reload within 5 Refresh periods: %v; want the last reader", err)
	}
	if err := src.Health(); err == nil || !strings.Contains(err.Error(), "clickhouse-auth") {
		t.Errorf("Health after a failed reload: %v; want the Secret named", err)
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		_, _, err := src.Reader(ctx)
		if err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the last reader is still served 3 s (15 Refresh periods) after reloads began to fail")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestWatch: a watch through kube-apiserver (as kubectl get -w makes after its list) sends each new event
// of the caller's namespace once, as ADDED, and nothing of another namespace; without the watch verb it is
// refused.
func TestWatch(t *testing.T) {
	srv := chtest.Shared(t)
	_, database := schematest.Migrated(t, srv)
	src := &auditapi.PipelineSource{Client: k8s, Key: pipeline(t, srv, database, "c5"), Refresh: time.Minute}
	defer src.Close()
	auditapitest.Serve(t, env, k8s, src)
	for _, ns := range []string{"watch-a", "watch-b"} {
		must(t, k8s.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))
	}
	grant(t, "gina-audit", "gina", "watch-a", rule("list", "auditevents"), rule("watch", "auditevents"))
	grant(t, "hal-audit", "hal", "watch-a", rule("list", "auditevents"))
	gina, hal := auditClient(t, as("gina")), auditClient(t, as("hal"))

	var l auditv1alpha1.AuditEventList
	must(t, gina.Get().Namespace("watch-a").Resource(auditv1alpha1.ResourceAuditEvents).Do(context.Background()).Into(&l))
	if l.ResourceVersion == "" {
		t.Fatal("the list has no resourceVersion to watch from")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	opts := &metav1.ListOptions{Watch: true, ResourceVersion: l.ResourceVersion}
	w, err := gina.Get().Namespace("watch-a").Resource(auditv1alpha1.ResourceAuditEvents).VersionedParams(opts, metav1.ParameterCodec).Watch(ctx)
	must(t, err)
	defer w.Stop()
	if _, err := hal.Get().Namespace("watch-a").Resource(auditv1alpha1.ResourceAuditEvents).VersionedParams(opts, metav1.ParameterCodec).Watch(ctx); status(err) != http.StatusForbidden {
		t.Errorf("a watch without the watch verb: %v, want 403", err)
	}
	now := time.Now()
	mine := []map[string]any{
		event("watch-a", "update", "app", "configmaps", "one", 200, now.Add(time.Millisecond)),
		event("watch-a", "delete", "app", "configmaps", "two", 200, now.Add(2*time.Millisecond)),
	}
	theirs := event("watch-b", "update", "app", "configmaps", "one", 200, now.Add(3*time.Millisecond))
	insert(t, srv, database, "c5", append(slices.Clone(mine), theirs))
	got := map[string]int{}
	deadline := time.After(15 * time.Second)
	for len(got) < len(mine) {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				t.Fatalf("the watch ended after %v", got)
			}
			e, isEvent := ev.Object.(*auditv1alpha1.AuditEvent)
			if ev.Type != watch.Added || !isEvent {
				t.Fatalf("watch event %s %T, want ADDED AuditEvent", ev.Type, ev.Object)
			}
			got[e.Name]++
		case <-deadline:
			t.Fatalf("after 15 s the watch sent %v, want %v", got, ids(mine))
		}
	}
	// Two more polls: nothing repeated, nothing of watch-b.
	select {
	case ev := <-w.ResultChan():
		t.Errorf("after the new events the watch sent %s %v", ev.Type, ev.Object)
	case <-time.After(2*auditapi.WatchInterval + time.Second):
	}
	for _, id := range ids(mine) {
		if got[id] != 1 {
			t.Errorf("event %s sent %d times, want once", id, got[id])
		}
	}
}
