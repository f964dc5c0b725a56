package chart

import (
	"bytes"
	"context"
	"encoding/base64"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/auditpipeline/auditpipeline-operator/internal/servingcert"
)

// TestAuditAPIAppliesToAPIServer applies the chart with the audit API on (the operator issuing its
// certificate) to kube-apiserver, and checks that it adds exactly the audit API's objects to the default
// ones: the APIService is accepted without a caBundle (it never becomes Available: no pod runs here).
// Without auditAPI.secretNames the server may read every Secret of the pipeline's namespace, and no other.
func TestAuditAPIAppliesToAPIServer(t *testing.T) {
	const ns, pipelineNS = "chart-audit-apply", "chart-audit-apply-pipeline"
	createNamespace(t, pipelineNS)
	deleteAPIServiceAtEnd(t)
	r := release{name: "apply-audit-api", namespace: ns, args: auditAPIValues(pipelineNS + "/cluster-audit")}
	added := objectKeys(r.install(t))
	for _, k := range objectKeys(release{name: r.name, namespace: ns}.render(t)) {
		if !slices.Contains(added, k) {
			t.Errorf("turning the audit API on removes %s", k)
		}
		added = slices.DeleteFunc(added, func(a string) bool { return a == k })
	}
	fn := r.name + "-auditpipeline-operator"
	api := fn + "-audit-api"
	want := []string{"ServiceAccount " + ns + "/" + api, "Deployment " + ns + "/" + api,
		"PodDisruptionBudget " + ns + "/" + api, "Service " + ns + "/" + api, "APIService /" + auditAPIServiceName,
		"ClusterRoleBinding /" + api + "-auth-delegator", "RoleBinding kube-system/" + api + "-auth-reader",
		"Role " + pipelineNS + "/" + api, "RoleBinding " + pipelineNS + "/" + api,
		"Role " + ns + "/" + api + "-serving-cert", "RoleBinding " + ns + "/" + api + "-serving-cert",
		"ClusterRole /" + api + "-serving-cert", "ClusterRoleBinding /" + api + "-serving-cert",
		"ClusterRole /" + fn + "-auditevents-reader", "ClusterRole /" + fn + "-auditevents-cluster-reader"}
	slices.Sort(want)
	if !slices.Equal(added, want) {
		t.Errorf("the audit API adds\n%s\nwant\n%s", strings.Join(added, "\n"), strings.Join(want, "\n"))
	}
	live := getAPIService(t)
	if _, ok, _ := unstructured.NestedString(live.Object, "spec", "caBundle"); ok {
		t.Error("the applied APIService has a caBundle: the chart must leave it to the operator")
	}

	user := "system:serviceaccount:" + ns + ":" + api
	for _, c := range []struct {
		attrs   authorizationv1.ResourceAttributes
		allowed bool
	}{
		{authorizationv1.ResourceAttributes{Namespace: pipelineNS, Verb: "get", Resource: "secrets", Name: "any-secret"}, true},
		{authorizationv1.ResourceAttributes{Namespace: pipelineNS, Verb: "list", Resource: "secrets"}, false},
		{authorizationv1.ResourceAttributes{Namespace: ns, Verb: "get", Resource: "secrets", Name: api + "-tls"}, false},
	} {
		if got := accessReview(t, user, ns, c.attrs, c.allowed); got != c.allowed {
			t.Errorf("%s: %s secrets %q in %s: allowed=%v, want %v", user, c.attrs.Verb, c.attrs.Name, c.attrs.Namespace, got, c.allowed)
		}
	}
}

// review is one SubjectAccessReview and its expected answer.
type review struct {
	user    string
	groups  []string
	attrs   authorizationv1.ResourceAttributes
	allowed bool
}

// TestAuditAPIRBAC asks the API server's RBAC authorizer what the chart's roles allow: the audit API's
// ServiceAccount (delegated authentication and authorization, its pipeline and the named Secret, nothing
// more), the manager's (its certificate Secrets, that one APIService), and users bound to the reader roles.
func TestAuditAPIRBAC(t *testing.T) {
	ctx := context.Background()
	const ns, pipelineNS, teamX, teamY = "chart-audit-rbac", "chart-audit-rbac-pipeline", "chart-audit-team-x", "chart-audit-team-y"
	for _, n := range []string{pipelineNS, teamX, teamY} {
		createNamespace(t, n)
	}
	deleteAPIServiceAtEnd(t)
	r := release{name: "audit-rbac", namespace: ns, args: auditAPIValues(pipelineNS+"/cluster-audit",
		"--set-json", `auditAPI.secretNames=["clickhouse-password"]`, "--set", "auditAPI.readerRoles.aggregateToAdmin=true")}
	objs := r.install(t)
	fn := r.name + "-auditpipeline-operator"
	bindings := []client.Object{
		&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: teamX, Name: "alice-audit"},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: fn + "-auditevents-reader"},
			Subjects: []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: "User", Name: "alice"}}},
		&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "chart-audit-rbac-bob"},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: fn + "-auditevents-cluster-reader"},
			Subjects: []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: "User", Name: "bob"}}},
	}
	for _, b := range bindings {
		if err := k8s.Create(ctx, b); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = k8s.Delete(context.Background(), b) })
	}
	reviews := slices.Concat(auditAPIServerReviews(ns, pipelineNS, fn), managerCertificateReviews(ns, pipelineNS, fn),
		readerReviews(teamX, teamY))
	for _, c := range reviews {
		if got := accessReviewAs(t, c.user, c.groups, c.attrs, c.allowed); got != c.allowed {
			a := c.attrs
			t.Errorf("%s: %s %s/%s/%s %q in %q: allowed=%v, want %v", c.user, a.Verb, a.Group, a.Resource, a.Subresource,
				a.Name, a.Namespace, got, c.allowed)
		}
	}
	checkAggregatedToAdmin(t, objs, release{name: "audit-rbac-noagg", namespace: ns, args: auditAPIValues(pipelineNS + "/cluster-audit")}.render(t))
}

// auditAPIServerReviews are the audit API ServiceAccount's rights.
func auditAPIServerReviews(ns, pipelineNS, fn string) []review {
	user, groups := "system:serviceaccount:"+ns+":"+fn+"-audit-api", serviceAccountGroups(ns)
	r := func(allowed bool, a authorizationv1.ResourceAttributes) review {
		return review{user, groups, a, allowed}
	}
	return []review{
		r(true, authorizationv1.ResourceAttributes{Verb: "create", Group: "authentication.k8s.io", Resource: "tokenreviews"}),
		r(true, authorizationv1.ResourceAttributes{Verb: "create", Group: "authorization.k8s.io", Resource: "subjectaccessreviews"}),
		r(true, authorizationv1.ResourceAttributes{Namespace: "kube-system", Verb: "get", Resource: "configmaps",
			Name: "extension-apiserver-authentication"}),
		r(true, authorizationv1.ResourceAttributes{Namespace: pipelineNS, Verb: "get", Group: "auditpipeline.io",
			Resource: "auditpipelines", Name: "cluster-audit"}),
		r(true, authorizationv1.ResourceAttributes{Namespace: pipelineNS, Verb: "get", Resource: "secrets", Name: "clickhouse-password"}),
		r(false, authorizationv1.ResourceAttributes{Namespace: pipelineNS, Verb: "get", Resource: "secrets", Name: "other"}),
		r(false, authorizationv1.ResourceAttributes{Namespace: pipelineNS, Verb: "list", Resource: "secrets"}),
		r(false, authorizationv1.ResourceAttributes{Namespace: pipelineNS, Verb: "get", Group: "auditpipeline.io",
			Resource: "auditpipelines", Name: "other"}),
		r(false, authorizationv1.ResourceAttributes{Namespace: pipelineNS, Verb: "update", Group: "auditpipeline.io",
			Resource: "auditpipelines", Name: "cluster-audit"}),
		r(false, authorizationv1.ResourceAttributes{Namespace: "kube-system", Verb: "get", Resource: "configmaps", Name: "other"}),
	}
}

// managerCertificateReviews are the rights the manager's ServiceAccount gets for the audit API's
// certificate.
func managerCertificateReviews(ns, pipelineNS, fn string) []review {
	user, groups := "system:serviceaccount:"+ns+":"+fn, serviceAccountGroups(ns)
	secret := fn + "-audit-api-tls"
	r := func(allowed bool, a authorizationv1.ResourceAttributes) review {
		return review{user, groups, a, allowed}
	}
	apiService := func(verb, name string) authorizationv1.ResourceAttributes {
		return authorizationv1.ResourceAttributes{Verb: verb, Group: "apiregistration.k8s.io", Resource: "apiservices", Name: name}
	}
	secrets := func(verb, namespace, name string) authorizationv1.ResourceAttributes {
		return authorizationv1.ResourceAttributes{Namespace: namespace, Verb: verb, Resource: "secrets", Name: name}
	}
	return []review{
		r(true, apiService("get", auditAPIServiceName)), r(true, apiService("patch", auditAPIServiceName)),
		r(false, apiService("patch", "v1beta1.metrics.k8s.io")), r(false, apiService("delete", auditAPIServiceName)),
		r(true, secrets("create", ns, "")), r(true, secrets("update", ns, secret)), r(true, secrets("delete", ns, secret+"-ca")),
		r(false, secrets("update", ns, "other")), r(false, secrets("delete", ns, "other")),
		r(false, secrets("create", pipelineNS, "")),
	}
}

// readerReviews: alice holds the reader ClusterRole through a RoleBinding in teamX, bob the cluster reader
// through a ClusterRoleBinding.
func readerReviews(teamX, teamY string) []review {
	groups := []string{"system:authenticated"}
	attrs := func(verb, resource, namespace string) authorizationv1.ResourceAttributes {
		return authorizationv1.ResourceAttributes{Namespace: namespace, Verb: verb, Group: "audit.auditpipeline.io", Resource: resource}
	}
	alice := func(allowed bool, a authorizationv1.ResourceAttributes) review {
		return review{"alice", groups, a, allowed}
	}
	bob := func(allowed bool, a authorizationv1.ResourceAttributes) review {
		return review{"bob", groups, a, allowed}
	}
	return []review{
		alice(true, attrs("list", "auditevents", teamX)), alice(true, attrs("create", "auditeventqueries", teamX)),
		alice(false, attrs("list", "auditevents", teamY)), alice(false, attrs("create", "auditeventqueries", teamY)),
		alice(false, attrs("list", "auditevents", "")), alice(false, attrs("create", "clusterauditeventqueries", "")),
		alice(true, attrs("get", "auditevents", teamX)), alice(false, attrs("get", "auditevents", teamY)),
		alice(false, attrs("delete", "auditevents", teamX)), alice(true, attrs("watch", "auditevents", teamX)),
		alice(false, attrs("watch", "auditevents", teamY)),
		bob(true, attrs("list", "auditevents", "")), bob(true, attrs("list", "auditevents", teamY)),
		bob(true, attrs("get", "auditevents", teamY)), bob(true, attrs("create", "auditeventqueries", teamY)),
		bob(true, attrs("create", "clusterauditeventqueries", "")),
	}
}

// checkAggregatedToAdmin checks that the built-in admin ClusterRole's aggregationRule selects the reader
// ClusterRole of objs (aggregateToAdmin) but not its cluster reader, nor the reader of without. Only the
// selection: the controller that copies the rules (kube-controller-manager's clusterrole-aggregation) does
// not run in envtest.
func checkAggregatedToAdmin(t *testing.T, objs, without []*unstructured.Unstructured) {
	t.Helper()
	var admin rbacv1.ClusterRole
	if err := k8s.Get(context.Background(), client.ObjectKey{Name: "admin"}, &admin); err != nil {
		t.Fatal(err)
	}
	if admin.AggregationRule == nil {
		t.Fatal("the admin ClusterRole has no aggregationRule")
	}
	aggregated := func(o *unstructured.Unstructured) bool {
		return slices.ContainsFunc(admin.AggregationRule.ClusterRoleSelectors, func(s metav1.LabelSelector) bool {
			return selects(t, &s, o.GetLabels())
		})
	}
	for _, c := range []struct {
		objs []*unstructured.Unstructured
		role string
		want bool
	}{
		{objs, "audit-rbac-auditpipeline-operator-auditevents-reader", true},
		{objs, "audit-rbac-auditpipeline-operator-auditevents-cluster-reader", false},
		{without, "audit-rbac-noagg-auditpipeline-operator-auditevents-reader", false},
	} {
		if got := aggregated(find(t, c.objs, "ClusterRole", c.role)); got != c.want {
			t.Errorf("admin aggregates ClusterRole %s: %v, want %v", c.role, got, c.want)
		}
	}
}

// TestAuditAPIServingCertificateByOperator installs the chart with `helm install`, runs one round of the
// manager's certificate rotator (internal/servingcert) as the manager's ServiceAccount with the flags and
// namespace the chart gives it, checks that it wrote the Secret the audit API pods mount and the
// APIService's caBundle, then runs `helm upgrade` and checks that Helm's patch of the APIService keeps that
// caBundle.
func TestAuditAPIServingCertificateByOperator(t *testing.T) {
	ctx := context.Background()
	kubeconfig := writeKubeconfig(t)
	const name, ns, pipelineNS = "audit-certs", "chart-audit-certs", "chart-audit-certs-pipeline"
	createNamespace(t, pipelineNS)
	deleteAPIServiceAtEnd(t)
	helmArgs := func(cmd string, more ...string) []string {
		args := []string{cmd, name, chartDir, "--kubeconfig", kubeconfig, "--namespace", ns}
		return append(args, auditAPIValues(pipelineNS+"/cluster-audit", more...)...)
	}
	out := runHelm(t, helmArgs("install", "--create-namespace")...)
	if !strings.Contains(string(out), "--clusterrole="+name+"-auditpipeline-operator-auditevents-reader") {
		t.Errorf("NOTES.txt tells nothing of the reader ClusterRole:\n%s", out)
	}
	var manager, api appsv1.Deployment
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name + "-auditpipeline-operator"}, &manager); err != nil {
		t.Fatal(err)
	}
	mc := manager.Spec.Template.Spec.Containers[0]
	service, secret := flagValue(mc.Args, "--audit-api-service"), flagValue(mc.Args, "--audit-api-secret")
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: service}, &api); err != nil {
		t.Fatalf("the audit API Deployment named as --audit-api-service: %v", err)
	}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: service}, &corev1.Service{}); err != nil {
		t.Fatalf("the Service of --audit-api-service: %v", err)
	}
	if v := api.Spec.Template.Spec.Volumes; len(v) != 1 || v[0].Secret == nil || v[0].Secret.SecretName != secret {
		t.Errorf("the audit API pods mount %+v, not the Secret of --audit-api-secret %q", v, secret)
	}
	ensureCertificateAs(t, ns, manager.Spec.Template.Spec.ServiceAccountName, service, secret)
	var serving corev1.Secret
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: secret}, &serving); err != nil {
		t.Fatal(err)
	}
	bundle := apiServiceCABundle(t, getAPIService(t))
	if serving.Type != corev1.SecretTypeTLS || len(serving.Data["tls.key"]) == 0 || len(bundle) == 0 ||
		!bytes.Equal(serving.Data["ca.crt"], bundle) {
		t.Errorf("Secret %s type %s keys %v; APIService caBundle %d bytes: want kubernetes.io/tls with its ca.crt as the caBundle",
			secret, serving.Type, mapKeys(serving.Data), len(bundle))
	}

	runHelm(t, helmArgs("upgrade", "--set", "commonLabels.upgraded=yes")...)
	live := getAPIService(t)
	if live.GetLabels()["upgraded"] != "yes" {
		t.Errorf("helm upgrade did not patch the APIService: labels %v", live.GetLabels())
	}
	if got := apiServiceCABundle(t, live); !bytes.Equal(got, bundle) {
		t.Errorf("after helm upgrade the caBundle is %d bytes, want the operator's %d", len(got), len(bundle))
	}
	runHelm(t, "uninstall", name, "--kubeconfig", kubeconfig, "--namespace", ns, "--wait")
}

// ensureCertificateAs runs one round of the manager's rotator, as cmd/auditapi.go sets it up, as
// ServiceAccount sa of namespace ns; RBAC learns of new bindings through a watch, so a refusal is retried
// for a few seconds.
func ensureCertificateAs(t *testing.T, ns, sa, service, secret string) {
	t.Helper()
	cfg := rest.CopyConfig(env.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: "system:serviceaccount:" + ns + ":" + sa, Groups: serviceAccountGroups(ns)}
	c, err := client.New(cfg, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	rot, err := servingcert.New(servingcert.Options{Namespace: ns, SecretName: secret, ServiceName: service,
		APIServiceNames: []string{auditAPIServiceName}, Client: c})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := rot.Ensure(context.Background())
		if err == nil {
			return
		}
		if !apierrors.IsForbidden(err) || time.Now().After(deadline) {
			t.Fatalf("the rotator as %s: %v", sa, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// flagValue is the value of --name=value in args, or "".
func flagValue(args []string, name string) string {
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v
		}
	}
	return ""
}

func mapKeys(m map[string][]byte) []string {
	var k []string
	for key := range m {
		k = append(k, key)
	}
	slices.Sort(k)
	return k
}

// apiServiceGVK is kube-apiserver's APIService, read as unstructured (no kube-aggregator module).
var apiServiceGVK = schema.GroupVersionKind{Group: "apiregistration.k8s.io", Version: "v1", Kind: "APIService"}

// getAPIService reads the audit API's APIService.
func getAPIService(t *testing.T) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(apiServiceGVK)
	if err := k8s.Get(context.Background(), client.ObjectKey{Name: auditAPIServiceName}, u); err != nil {
		t.Fatal(err)
	}
	return u
}

// apiServiceCABundle decodes the APIService's spec.caBundle.
func apiServiceCABundle(t *testing.T, u *unstructured.Unstructured) []byte {
	t.Helper()
	s, _, _ := unstructured.NestedString(u.Object, "spec", "caBundle")
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("APIService caBundle: %v", err)
	}
	return b
}

// deleteAPIServiceAtEnd deletes the audit API's APIService when the test ends: there is one per cluster,
// and while its Service has no pods the discovery of its group fails for the tests after.
func deleteAPIServiceAtEnd(t *testing.T) {
	t.Cleanup(func() {
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(apiServiceGVK)
		u.SetName(auditAPIServiceName)
		if err := k8s.Delete(context.Background(), u); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("delete APIService %s: %v", auditAPIServiceName, err)
		}
	})
}

// createNamespace creates namespace name unless it exists.
func createNamespace(t *testing.T, name string) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := k8s.Create(context.Background(), ns); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

// objectKeys are "Kind namespace/name" of objs, sorted.
func objectKeys(objs []*unstructured.Unstructured) []string {
	var keys []string
	for _, o := range objs {
		keys = append(keys, o.GetKind()+" "+o.GetNamespace()+"/"+o.GetName())
	}
	slices.Sort(keys)
	return keys
}
