package chart

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"

	"github.com/auditpipeline/auditpipeline-operator/internal/servingcert"
)

// auditAPIServiceName is the APIService of the audit API; there is one per cluster.
const auditAPIServiceName = "v1alpha1.audit.auditpipeline.io"

// auditAPIValues turns the audit API on for pipeline (namespace/name), then adds more.
func auditAPIValues(pipeline string, more ...string) []string {
	return append([]string{"--set", "auditAPI.enabled=true", "--set", "auditAPI.pipeline=" + pipeline}, more...)
}

// TestAuditAPIOperatorCertificates checks the audit API's workload with the operator issuing its
// certificate: the manager image as `audit-api` with the chart's flags, the serving Secret mounted, HTTPS
// probes, the manager's hardening, a PodDisruptionBudget, the Service and the APIService, and the manager's
// --audit-api-* flags and POD_NAMESPACE beside the user's env.
func TestAuditAPIOperatorCertificates(t *testing.T) {
	// A pinned tenant gives --tenant and --tenant-type.
	pinned := release{name: "pinned", namespace: "chart-api", args: auditAPIValues("audit/cluster-audit",
		"--set", "auditAPI.tenant.name=p1", "--set", "auditAPI.tenant.type=Project")}
	pc := deployment(t, pinned.render(t), "pinned-auditpipeline-operator-audit-api").Spec.Template.Spec.Containers[0]
	if !slices.Contains(pc.Args, "--tenant=p1") || !slices.Contains(pc.Args, "--tenant-type=Project") {
		t.Errorf("auditAPI.tenant: args %v, want --tenant=p1 --tenant-type=Project", pc.Args)
	}
	r := release{name: "api", namespace: "chart-api", args: auditAPIValues("audit/cluster-audit",
		"--set-json", `auditAPI.extraArgs=["--pipeline-refresh=30s"]`,
		"--set-json", `manager.env=[{"name":"EXTRA","value":"1"}]`)}
	objs := r.render(t)
	manager := deployment(t, objs, "api-auditpipeline-operator")
	api := deployment(t, objs, "api-auditpipeline-operator-audit-api")
	c := api.Spec.Template.Spec.Containers[0]
	wantArgs := []string{"audit-api", "--pipeline=audit/cluster-audit", "--secure-port=8443",
		"--tls-cert-file=/var/run/audit-api/tls.crt", "--tls-private-key-file=/var/run/audit-api/tls.key",
		"--query-timeout=30s", "--pipeline-refresh=30s"}
	mc := manager.Spec.Template.Spec.Containers[0]
	if c.Image != mc.Image || !slices.Equal(c.Command, mc.Command) || !slices.Equal(c.Args, wantArgs) {
		t.Errorf("audit-api container: image %q command %v args %v; want the manager's image and command, args %v",
			c.Image, c.Command, c.Args, wantArgs)
	}
	checkAuditAPIPod(t, manager, api, "api-auditpipeline-operator-audit-api-tls", 8443)
	if *api.Spec.Replicas != 2 || api.Spec.Template.Spec.ServiceAccountName != "api-auditpipeline-operator-audit-api" {
		t.Errorf("replicas %d serviceAccountName %q", *api.Spec.Replicas, api.Spec.Template.Spec.ServiceAccountName)
	}
	find(t, objs, "ServiceAccount", "api-auditpipeline-operator-audit-api")
	var pdb policyv1.PodDisruptionBudget
	fromUnstructured(t, find(t, objs, "PodDisruptionBudget", "api-auditpipeline-operator-audit-api"), &pdb)
	if pdb.Spec.MaxUnavailable == nil || pdb.Spec.MaxUnavailable.IntValue() != 1 || pdb.Spec.MinAvailable != nil ||
		!reflect.DeepEqual(pdb.Spec.Selector, api.Spec.Selector) {
		t.Errorf("PodDisruptionBudget %+v: want maxUnavailable 1 over the audit API pods", pdb.Spec)
	}
	checkAuditAPIService(t, objs, r, manager, api)
	checkAPIService(t, objs, r, "")

	for _, arg := range []string{"--audit-api-service=api-auditpipeline-operator-audit-api",
		"--audit-api-secret=api-auditpipeline-operator-audit-api-tls"} {
		if !slices.Contains(mc.Args, arg) {
			t.Errorf("manager args %v lack %s", mc.Args, arg)
		}
	}
	var env []string
	for _, e := range mc.Env {
		env = append(env, e.Name)
	}
	if !slices.Equal(env, []string{"POD_NAME", "POD_NAMESPACE", "EXTRA"}) {
		t.Errorf("manager env %v, want POD_NAME, POD_NAMESPACE and manager.env's EXTRA in one list", env)
	}
	if ns := envVar(mc, "POD_NAMESPACE"); ns == nil || ns.ValueFrom == nil || ns.ValueFrom.FieldRef == nil ||
		ns.ValueFrom.FieldRef.FieldPath != "metadata.namespace" {
		t.Errorf("POD_NAMESPACE %+v: want the pod's metadata.namespace", ns)
	}
}

// checkAuditAPIPod checks the audit API pod against the manager's: the serving Secret at
// /var/run/audit-api, HTTPS probes on port, the same security contexts and pull secrets, resources, and
// selectors that match neither Deployment's pods from the other.
func checkAuditAPIPod(t *testing.T, manager, api appsv1.Deployment, secret string, port int32) {
	t.Helper()
	pod, c := api.Spec.Template.Spec, api.Spec.Template.Spec.Containers[0]
	if len(pod.Volumes) != 1 || pod.Volumes[0].Secret == nil || pod.Volumes[0].Secret.SecretName != secret ||
		len(c.VolumeMounts) != 1 || c.VolumeMounts[0].Name != pod.Volumes[0].Name ||
		c.VolumeMounts[0].MountPath != "/var/run/audit-api" || !c.VolumeMounts[0].ReadOnly {
		t.Errorf("volumes %+v mounts %+v: want Secret %s read-only at /var/run/audit-api", pod.Volumes, c.VolumeMounts, secret)
	}
	if len(c.Ports) != 1 || c.Ports[0].ContainerPort != port || c.Ports[0].Name != "https" {
		t.Errorf("ports %+v, want https %d", c.Ports, port)
	}
	for path, p := range map[string]*corev1.Probe{"/livez": c.LivenessProbe, "/readyz": c.ReadinessProbe} {
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != path || p.HTTPGet.Scheme != corev1.URISchemeHTTPS ||
			p.HTTPGet.Port.String() != "https" {
			t.Errorf("probe of %s: %+v, want HTTPS GET on port https", path, p)
		}
	}
	mpod, mc := manager.Spec.Template.Spec, manager.Spec.Template.Spec.Containers[0]
	if !reflect.DeepEqual(pod.SecurityContext, mpod.SecurityContext) || !reflect.DeepEqual(c.SecurityContext, mc.SecurityContext) ||
		!reflect.DeepEqual(pod.ImagePullSecrets, mpod.ImagePullSecrets) {
		t.Errorf("security contexts %+v %+v differ from the manager's %+v %+v", pod.SecurityContext, c.SecurityContext,
			mpod.SecurityContext, mc.SecurityContext)
	}
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Errorf("resources %+v: want CPU and memory requests and a memory limit", c.Resources)
	}
	if selects(t, manager.Spec.Selector, api.Spec.Template.Labels) || selects(t, api.Spec.Selector, manager.Spec.Template.Labels) {
		t.Errorf("the selectors overlap: manager %v / pods %v, audit API %v / pods %v", manager.Spec.Selector.MatchLabels,
			manager.Spec.Template.Labels, api.Spec.Selector.MatchLabels, api.Spec.Template.Labels)
	}
	if !selects(t, api.Spec.Selector, api.Spec.Template.Labels) {
		t.Errorf("the audit API Deployment does not select its own pods")
	}
}

// checkAuditAPIService checks that Service <fullname>-audit-api sends port 443 to the audit API pods only,
// and that the metrics Service does not select them.
func checkAuditAPIService(t *testing.T, objs []*unstructured.Unstructured, r release, manager, api appsv1.Deployment) {
	t.Helper()
	var svc, metrics corev1.Service
	fromUnstructured(t, find(t, objs, "Service", r.name+"-auditpipeline-operator-audit-api"), &svc)
	fromUnstructured(t, find(t, objs, "Service", r.name+"-auditpipeline-operator-metrics"), &metrics)
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != 443 || svc.Spec.Ports[0].TargetPort.String() != "https" {
		t.Errorf("audit API Service ports %+v, want 443 to https", svc.Spec.Ports)
	}
	set := func(s map[string]string) *metav1.LabelSelector { return &metav1.LabelSelector{MatchLabels: s} }
	if !selects(t, set(svc.Spec.Selector), api.Spec.Template.Labels) || selects(t, set(svc.Spec.Selector), manager.Spec.Template.Labels) ||
		selects(t, set(metrics.Spec.Selector), api.Spec.Template.Labels) {
		t.Errorf("Service selectors: audit API %v, metrics %v; pods: audit API %v, manager %v", svc.Spec.Selector,
			metrics.Spec.Selector, api.Spec.Template.Labels, manager.Spec.Template.Labels)
	}
}

// checkAPIService checks the APIService: the group and version to <fullname>-audit-api:443, no caBundle,
// and cert-manager's inject-ca-from annotation exactly when injectFrom is set.
func checkAPIService(t *testing.T, objs []*unstructured.Unstructured, r release, injectFrom string) {
	t.Helper()
	u := find(t, objs, "APIService", auditAPIServiceName)
	spec, _, _ := unstructured.NestedMap(u.Object, "spec")
	want := map[string]any{"group": "audit.auditpipeline.io", "version": "v1alpha1", "groupPriorityMinimum": int64(1000),
		"versionPriority": int64(15), "service": map[string]any{"namespace": r.namespace,
			"name": r.name + "-auditpipeline-operator-audit-api", "port": int64(443)}}
	if !reflect.DeepEqual(spec, want) {
		t.Errorf("APIService spec %v, want %v (and no caBundle)", spec, want)
	}
	if got := u.GetAnnotations()["cert-manager.io/inject-ca-from"]; got != injectFrom {
		t.Errorf("APIService annotation cert-manager.io/inject-ca-from %q, want %q", got, injectFrom)
	}
}

// TestAuditAPICertManager checks cert-manager mode: a CA of its own (self-signed Issuer, CA Certificate, CA
// Issuer) unless issuerRef is given, a
// Certificate into the Secret the pods mount for the Service's names (those the operator would use), the
// APIService's inject-ca-from, and neither the manager's --audit-api-* flags nor its Secret and APIService
// rights.
func TestAuditAPICertManager(t *testing.T) {
	cases := []struct {
		name      string
		args      []string
		issuerRef map[string]any
	}{
		{"cm", nil, map[string]any{"name": "cm-auditpipeline-operator-audit-api-ca", "kind": "Issuer",
			"group": "cert-manager.io"}},
		{"cm-issuer", []string{"--set-json", `auditAPI.certManager.issuerRef={"name":"corp-ca","kind":"ClusterIssuer","group":"cert-manager.io"}`},
			map[string]any{"name": "corp-ca", "kind": "ClusterIssuer", "group": "cert-manager.io"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := release{name: tc.name, namespace: "chart-cm", args: auditAPIValues("audit/cluster-audit",
				append([]string{"--set", "auditAPI.certificates=cert-manager"}, tc.args...)...)}
			objs := r.render(t)
			api := r.name + "-auditpipeline-operator-audit-api"
			cert := find(t, objs, "Certificate", api)
			spec, _, _ := unstructured.NestedMap(cert.Object, "spec")
			dnsNames, _, _ := unstructured.NestedStringSlice(spec, "dnsNames")
			if cert.GetNamespace() != r.namespace || spec["secretName"] != api+"-tls" ||
				!slices.Equal(dnsNames, servingcert.DNSNames(api, r.namespace)) || !reflect.DeepEqual(spec["issuerRef"], tc.issuerRef) {
				t.Errorf("Certificate spec %v: want Secret %s-tls, the Service's names %v, issuerRef %v", spec, api,
					servingcert.DNSNames(api, r.namespace), tc.issuerRef)
			}
			issuers := kindsNamed(objs, "Issuer")
			if tc.issuerRef["kind"] == "Issuer" {
				// The serving certificate's Issuer is a CA whose certificate a self-signed Issuer signs.
				caIssuer := find(t, objs, "Issuer", tc.issuerRef["name"].(string))
				caCert := find(t, objs, "Certificate", api+"-ca")
				caSecret, _, _ := unstructured.NestedString(caIssuer.Object, "spec", "ca", "secretName")
				isCA, _, _ := unstructured.NestedBool(caCert.Object, "spec", "isCA")
				selfSigned := find(t, objs, "Issuer", api+"-selfsigned")
				caIssuerRef, _, _ := unstructured.NestedString(caCert.Object, "spec", "issuerRef", "name")
				_, ok := selfSigned.Object["spec"].(map[string]any)["selfSigned"]
				if len(issuers) != 2 || !isCA || caSecret != api+"-ca" || caCert.Object["spec"].(map[string]any)["secretName"] != api+"-ca" ||
					!ok || caIssuerRef != selfSigned.GetName() {
					t.Errorf("Issuers %v, CA Certificate %v: want a self-signed Issuer signing the CA Certificate %s-ca, and a CA Issuer on its Secret", issuers, caCert.Object["spec"], api)
				}
			} else if len(issuers) > 0 || slices.Contains(kindsNamed(objs, "Certificate"), api+"-ca") {
				t.Errorf("issuerRef is given, yet the chart renders Issuers %v or a CA", issuers)
			}
			checkAPIService(t, objs, r, r.namespace+"/"+cert.GetName())
			manager := deployment(t, objs, r.name+"-auditpipeline-operator")
			checkAuditAPIPod(t, manager, deployment(t, objs, api), api+"-tls", 8443)
			mc := manager.Spec.Template.Spec.Containers[0]
			if slices.ContainsFunc(mc.Args, func(a string) bool { return strings.HasPrefix(a, "--audit-api-") }) ||
				envVar(mc, "POD_NAMESPACE") != nil {
				t.Errorf("manager args %v env %v: want no --audit-api-* flag and no POD_NAMESPACE", mc.Args, mc.Env)
			}
			for _, kind := range []string{"Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"} {
				if slices.Contains(kindsNamed(objs, kind), api+"-serving-cert") {
					t.Errorf("%s %s-serving-cert: the manager needs no rights for certificates here", kind, api)
				}
			}
		})
	}
}

// TestAuditAPIVariants checks a single replica on another port (no PodDisruptionBudget), and rbac.create
// false (no roles or bindings at all, the workload still).
func TestAuditAPIVariants(t *testing.T) {
	r := release{name: "one", namespace: "chart-one", args: auditAPIValues("audit/cluster-audit",
		"--set", "auditAPI.replicaCount=1", "--set", "auditAPI.port=9443")}
	objs := r.render(t)
	api := deployment(t, objs, "one-auditpipeline-operator-audit-api")
	if *api.Spec.Replicas != 1 || !slices.Contains(api.Spec.Template.Spec.Containers[0].Args, "--secure-port=9443") {
		t.Errorf("replicas %d args %v: want 1 and --secure-port=9443", *api.Spec.Replicas, api.Spec.Template.Spec.Containers[0].Args)
	}
	checkAuditAPIPod(t, deployment(t, objs, "one-auditpipeline-operator"), api, "one-auditpipeline-operator-audit-api-tls", 9443)
	if pdbs := kindsNamed(objs, "PodDisruptionBudget"); len(pdbs) > 0 {
		t.Errorf("one replica, yet PodDisruptionBudgets %v", pdbs)
	}

	r = release{name: "norbac", namespace: "chart-norbac", args: auditAPIValues("audit/cluster-audit", "--set", "rbac.create=false")}
	objs = r.render(t)
	deployment(t, objs, "norbac-auditpipeline-operator-audit-api")
	for _, kind := range []string{"Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"} {
		if names := kindsNamed(objs, kind); len(names) > 0 {
			t.Errorf("rbac.create=false, yet %s %v", kind, names)
		}
	}
}

// TestAuditAPIDisabledByDefault checks that the default values render nothing of the audit API and leave
// the manager without its flags.
func TestAuditAPIDisabledByDefault(t *testing.T) {
	objs := release{name: "noapi", namespace: "chart-noapi"}.render(t)
	for _, o := range objs {
		if o.GetLabels()["app.kubernetes.io/component"] == "audit-api" || strings.Contains(o.GetName(), "-audit-api") ||
			strings.Contains(o.GetName(), "auditevents") ||
			o.GetKind() == "APIService" || o.GetKind() == "PodDisruptionBudget" {
			t.Errorf("the default values render %s %s", o.GetKind(), o.GetName())
		}
	}
	mc := deployment(t, objs, "noapi-auditpipeline-operator").Spec.Template.Spec.Containers[0]
	if slices.ContainsFunc(mc.Args, func(a string) bool { return strings.HasPrefix(a, "--audit-api-") }) || envVar(mc, "POD_NAMESPACE") != nil {
		t.Errorf("manager args %v env %v: want no --audit-api-* flag and no POD_NAMESPACE", mc.Args, mc.Env)
	}
}

// TestAuditAPIValueErrors checks that helm template refuses bad auditAPI values with a message naming the
// value.
func TestAuditAPIValueErrors(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--set", "auditAPI.enabled=true"}, "auditAPI.pipeline is required when auditAPI.enabled is true"},
		{auditAPIValues("cluster-audit"), `auditAPI.pipeline "cluster-audit" must name the AuditPipeline as namespace/name`},
		{auditAPIValues("audit/cluster-audit", "--set", "auditAPI.certificates=vault"), "must be auto, operator or cert-manager"},
		{auditAPIValues("audit/cluster-audit", "--set", "auditAPI.tenant.type=Project"), "auditAPI.tenant.type needs auditAPI.tenant.name"},
		{auditAPIValues("audit/cluster-audit", "--set", "auditAPI.certificates=cert-manager",
			"--set", "auditAPI.certManager.issuerRef.kind=ClusterIssuer"), "auditAPI.certManager.issuerRef needs a name"},
	}
	for _, c := range cases {
		stderr := runHelmFails(t, append([]string{"template", "bad", chartDir, "--namespace", "chart-bad"}, c.args...)...)
		if !strings.Contains(stderr, c.want) {
			t.Errorf("helm template %v failed with\n%s\nwant %q", c.args, stderr, c.want)
		}
	}
}

// TestAuditAPIValuesDocumented checks that docs/install.md's values table has a row for every auditAPI
// value of values.yaml.
func TestAuditAPIValuesDocumented(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var values map[string]any
	if err := yaml.Unmarshal(data, &values); err != nil {
		t.Fatal(err)
	}
	docs, err := os.ReadFile(filepath.Join(env.Root, "docs", "install.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range leafKeys("auditAPI", values["auditAPI"]) {
		if !strings.Contains(string(docs), "| `"+key+"` |") {
			t.Errorf("docs/install.md's values table has no row | `%s` |", key)
		}
	}
}

// leafKeys are the dotted paths of v's values that are not maps, or empty maps (e.g. issuerRef: {}) and
// maps of requests and limits.
func leafKeys(prefix string, v any) []string {
	m, ok := v.(map[string]any)
	if !ok || len(m) == 0 || prefix == "auditAPI.resources" {
		return []string{prefix}
	}
	var keys []string
	for k, sub := range m {
		keys = append(keys, leafKeys(prefix+"."+k, sub)...)
	}
	slices.Sort(keys)
	return keys
}

// deployment returns the rendered Deployment name, typed.
func deployment(t *testing.T, objs []*unstructured.Unstructured, name string) appsv1.Deployment {
	t.Helper()
	var d appsv1.Deployment
	fromUnstructured(t, find(t, objs, "Deployment", name), &d)
	if len(d.Spec.Template.Spec.Containers) != 1 {
		t.Fatalf("Deployment %s: %d containers, want 1", name, len(d.Spec.Template.Spec.Containers))
	}
	return d
}

// envVar returns the container's variable name, or nil.
func envVar(c corev1.Container, name string) *corev1.EnvVar {
	for i := range c.Env {
		if c.Env[i].Name == name {
			return &c.Env[i]
		}
	}
	return nil
}

// selects reports whether selector matches a pod with podLabels.
func selects(t *testing.T, selector *metav1.LabelSelector, podLabels map[string]string) bool {
	t.Helper()
	s, err := metav1.LabelSelectorAsSelector(selector)
	if err != nil {
		t.Fatal(err)
	}
	return !s.Empty() && s.Matches(labels.Set(podLabels))
}

// kindsNamed returns the names of the rendered objects of kind.
func kindsNamed(objs []*unstructured.Unstructured, kind string) []string {
	var names []string
	for _, o := range objs {
		if o.GetKind() == kind {
			names = append(names, o.GetName())
		}
	}
	return names
}
