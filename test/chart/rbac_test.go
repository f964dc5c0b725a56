package chart

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/auditpipeline/auditpipeline-operator/internal/testkit/testenv"
)

// TestChartCopiesMatchGeneratedFiles fails when the chart's copies of the generated CRDs and manager role
// differ from config/ (run `make manifests`).
func TestChartCopiesMatchGeneratedFiles(t *testing.T) {
	bases := filepath.Join(env.Root, "config", "crd", "bases")
	want, err := filepath.Glob(filepath.Join(bases, "*.yaml"))
	if err != nil || len(want) == 0 {
		t.Fatalf("no CRDs in %s: %v", bases, err)
	}
	got, err := filepath.Glob(filepath.Join(chartDir, "crds", "*"))
	if err != nil {
		t.Fatal(err)
	}
	if names(got) != names(want) {
		t.Errorf("the chart's crds/ holds %s, config/crd/bases %s: run `make manifests`", names(got), names(want))
	}
	pairs := [][2]string{{filepath.Join(env.Root, "config", "rbac", "role.yaml"), filepath.Join(chartDir, "files", "manager-role.yaml")}}
	for _, w := range want {
		pairs = append(pairs, [2]string{w, filepath.Join(chartDir, "crds", filepath.Base(w))})
	}
	for _, p := range pairs {
		a, errA := os.ReadFile(p[0])
		b, errB := os.ReadFile(p[1])
		if errA != nil || errB != nil || !bytes.Equal(a, b) {
			t.Errorf("%s differs from %s (%v, %v): run `make manifests`", p[1], p[0], errA, errB)
		}
	}
}

func names(paths []string) string {
	var n []string
	for _, p := range paths {
		n = append(n, filepath.Base(p))
	}
	slices.Sort(n)
	return strings.Join(n, ",")
}

// TestChartRBACMatchesKustomize checks that every role of the chart grants exactly what its counterpart in
// config/rbac grants, so that a kustomize install and a Helm install give the operator the same rights.
func TestChartRBACMatchesKustomize(t *testing.T) {
	objs := release{name: "rbac-same", namespace: "chart-rbac-same"}.render(t)
	rbac := filepath.Join(env.Root, "config", "rbac")
	pairs := []struct{ kind, chartName, file, configName string }{
		{"ClusterRole", "rbac-same-auditpipeline-operator-manager", "role.yaml", "manager-role"},
		{"Role", "rbac-same-auditpipeline-operator-leader-election", "leader_election_role.yaml", "leader-election-role"},
		{"ClusterRole", "rbac-same-auditpipeline-operator-metrics-reader", "metrics_reader_role.yaml", "metrics-reader"},
		{"ClusterRole", "rbac-same-auditpipeline-operator-editor", "auditpipeline_roles.yaml", "auditpipeline-editor-role"},
		{"ClusterRole", "rbac-same-auditpipeline-operator-viewer", "auditpipeline_roles.yaml", "auditpipeline-viewer-role"},
	}
	for _, p := range pairs {
		configObjs, err := testenv.ReadObjects(filepath.Join(rbac, p.file))
		if err != nil {
			t.Fatal(err)
		}
		want := find(t, configObjs, p.kind, p.configName).Object["rules"]
		got := find(t, objs, p.kind, p.chartName).Object["rules"]
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s %s grants\n%v\nbut config/rbac/%s grants\n%v", p.kind, p.chartName, got, p.file, want)
		}
	}
}

// TestManagerRBAC asks the API server's RBAC authorizer (SubjectAccessReview) what the manager's
// ServiceAccount may do once the chart is applied: every verb of config/rbac/role.yaml on every resource,
// Leases in the release namespace only, and none of a list of things it never needs.
func TestManagerRBAC(t *testing.T) {
	r := release{name: "rbac", namespace: "chart-rbac"}
	r.install(t)
	user := "system:serviceaccount:" + r.namespace + ":rbac-auditpipeline-operator"

	type check struct {
		attrs   authorizationv1.ResourceAttributes
		allowed bool
	}
	var checks []check
	roleObjs, err := testenv.ReadObjects(filepath.Join(env.Root, "config", "rbac", "role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, rule := range ruleList(t, roleObjs[0]) {
		for _, g := range rule["apiGroups"] {
			for _, res := range rule["resources"] {
				resource, sub, _ := strings.Cut(res, "/")
				names := rule["resourceNames"]
				if len(names) == 0 {
					names = []string{""}
				}
				for _, v := range rule["verbs"] {
					// Cluster-wide and in some namespace: the operator serves pipelines in every namespace.
					for _, ns := range []string{"", "audit"} {
						for _, name := range names {
							checks = append(checks, check{authorizationv1.ResourceAttributes{Namespace: ns, Verb: v,
								Group: g, Resource: resource, Subresource: sub, Name: name}, true})
						}
					}
				}
			}
		}
	}
	denied := []authorizationv1.ResourceAttributes{
		{Namespace: "kube-system", Verb: "update", Group: "coordination.k8s.io", Resource: "leases"},
		{Verb: "get", Resource: "namespaces", Name: "default"},
		{Verb: "list", Resource: "namespaces"},
		{Namespace: "audit", Verb: "create", Resource: "secrets"},
		{Namespace: "audit", Verb: "delete", Resource: "secrets"},
		{Namespace: "audit", Verb: "create", Resource: "pods", Subresource: "exec"},
		{Namespace: "audit", Verb: "create", Group: "auditpipeline.io", Resource: "auditpipelines"},
		{Namespace: "audit", Verb: "delete", Group: "auditpipeline.io", Resource: "auditpipelines"},
		{Verb: "create", Group: "rbac.authorization.k8s.io", Resource: "clusterrolebindings"},
		{Verb: "escalate", Group: "rbac.authorization.k8s.io", Resource: "clusterroles"},
		{Verb: "update", Group: "apiextensions.k8s.io", Resource: "customresourcedefinitions"},
	}
	for _, a := range denied {
		checks = append(checks, check{a, false})
	}
	checks = append(checks, check{authorizationv1.ResourceAttributes{Namespace: r.namespace, Verb: "update",
		Group: "coordination.k8s.io", Resource: "leases", Name: "auditpipeline-operator.auditpipeline.io"}, true})

	for _, c := range checks {
		allowed := accessReview(t, user, r.namespace, c.attrs, c.allowed)
		if allowed != c.allowed {
			t.Errorf("%s: %s %s/%s/%s in %q: allowed=%v, want %v", user, c.attrs.Verb, c.attrs.Group,
				c.attrs.Resource, c.attrs.Subresource, c.attrs.Namespace, allowed, c.allowed)
		}
	}
}

// ruleList decodes the rules of a Role or ClusterRole into maps of string lists.
func ruleList(t *testing.T, role *unstructured.Unstructured) []map[string][]string {
	t.Helper()
	raw, ok, err := unstructured.NestedSlice(role.Object, "rules")
	if !ok || err != nil {
		t.Fatalf("%s has no rules: %v", role.GetName(), err)
	}
	var rules []map[string][]string
	for _, r := range raw {
		rule := map[string][]string{}
		for k, v := range r.(map[string]any) {
			for _, s := range v.([]any) {
				rule[k] = append(rule[k], s.(string))
			}
		}
		rules = append(rules, rule)
	}
	return rules
}

// accessReview asks whether user (a ServiceAccount of namespace ns) may do attrs. RBAC learns of new
// bindings through a watch, so an answer other than the expected one is asked again for a few seconds.
func accessReview(t *testing.T, user, ns string, attrs authorizationv1.ResourceAttributes, expect bool) bool {
	t.Helper()
	return accessReviewAs(t, user, serviceAccountGroups(ns), attrs, expect)
}

// serviceAccountGroups are the groups of a ServiceAccount of namespace ns.
func serviceAccountGroups(ns string) []string {
	return []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"}
}

// accessReviewAs is accessReview for any user and groups.
func accessReviewAs(t *testing.T, user string, groups []string, attrs authorizationv1.ResourceAttributes, expect bool) bool {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User:               user,
			Groups:             groups,
			ResourceAttributes: &attrs,
		}}
		if err := k8s.Create(context.Background(), sar); err != nil {
			t.Fatal(err)
		}
		if sar.Status.Allowed == expect || time.Now().After(deadline) {
			return sar.Status.Allowed
		}
		time.Sleep(200 * time.Millisecond)
	}
}
