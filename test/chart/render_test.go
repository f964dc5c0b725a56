package chart

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/auditpipeline/auditpipeline-operator/internal/testkit/testenv"
)

// release is one installation of the chart: its name, namespace and extra `helm template` arguments. Each
// test uses releases of its own, so that the cluster-scoped objects of different tests never collide.
type release struct {
	name      string
	namespace string
	args      []string
}

// withMonitoring turns on the ServiceMonitor and the PrometheusRule and binds metrics-reader to Prometheus.
var withMonitoring = []string{
	"--set", "serviceMonitor.enabled=true",
	"--set", "prometheusRule.enabled=true",
	"--set-json", `metrics.reader.subjects=[{"kind":"ServiceAccount","name":"prometheus","namespace":"monitoring"}]`,
}

// render runs `helm template` for r, CRDs included, and decodes every object.
func (r release) render(t *testing.T) []*unstructured.Unstructured {
	t.Helper()
	args := append([]string{"template", r.name, chartDir, "--namespace", r.namespace, "--include-crds"}, r.args...)
	path := filepath.Join(t.TempDir(), "rendered.yaml")
	if err := os.WriteFile(path, runHelm(t, args...), 0o644); err != nil {
		t.Fatal(err)
	}
	objs, err := testenv.ReadObjects(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if o.GetAPIVersion() == "" || o.GetKind() == "" || o.GetName() == "" {
			t.Fatalf("rendered object without apiVersion, kind or name: %v", o.Object)
		}
	}
	return objs
}

// install renders r and server-side applies every object to the API server; the CRDs are applied with
// dry-run only (testenv installed them from config/crd/bases, byte-identical to the chart's copies).
func (r release) install(t *testing.T) []*unstructured.Unstructured {
	t.Helper()
	ctx := context.Background()
	objs := r.render(t)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: r.namespace}}
	if err := k8s.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	for _, o := range objs {
		opts := []client.ApplyOption{client.FieldOwner("chart-test"), client.ForceOwnership}
		if o.GetKind() == "CustomResourceDefinition" {
			opts = append(opts, client.DryRunAll)
		}
		if err := k8s.Apply(ctx, client.ApplyConfigurationFromUnstructured(o.DeepCopy()), opts...); err != nil {
			t.Errorf("apply %s %s: %v", o.GetKind(), o.GetName(), err)
		}
	}
	return objs
}

// TestChartAppliesToAPIServer renders the chart with default values and with the monitoring objects on, and
// applies every object to kube-apiserver, which validates each against its schema (the CRDs' included).
func TestChartAppliesToAPIServer(t *testing.T) {
	cases := []struct {
		release release
		kinds   map[string]int
	}{{
		release: release{name: "apply-default", namespace: "chart-default"},
		kinds: map[string]int{"CustomResourceDefinition": 1, "ServiceAccount": 1, "ClusterRole": 4,
			"ClusterRoleBinding": 1, "Role": 1, "RoleBinding": 1, "Service": 1, "Deployment": 1},
	}, {
		release: release{name: "apply-monitoring", namespace: "chart-monitoring", args: withMonitoring},
		kinds: map[string]int{"CustomResourceDefinition": 1, "ServiceAccount": 1, "ClusterRole": 4,
			"ClusterRoleBinding": 2, "Role": 1, "RoleBinding": 1, "Service": 1, "Deployment": 1,
			"ServiceMonitor": 1, "PrometheusRule": 1},
	}}
	for _, c := range cases {
		t.Run(c.release.name, func(t *testing.T) {
			kinds := map[string]int{}
			for _, o := range c.release.install(t) {
				kinds[o.GetKind()]++
			}
			if !maps.Equal(kinds, c.kinds) {
				t.Errorf("rendered kinds %v, want %v", kinds, c.kinds)
			}
		})
	}
}

// TestDeploymentDefaults checks the manager Deployment and metrics Service of the default values: leader
// election, probes, resources, a hardened pod, metrics on 8443 behind authentication.
func TestDeploymentDefaults(t *testing.T) {
	r := release{name: "defaults", namespace: "chart-defaults"}
	objs := r.render(t)
	var d appsv1.Deployment
	fromUnstructured(t, find(t, objs, "Deployment", "defaults-auditpipeline-operator"), &d)
	if d.Namespace != r.namespace || *d.Spec.Replicas != 1 {
		t.Errorf("namespace %q replicas %d", d.Namespace, *d.Spec.Replicas)
	}
	pod := d.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("containers: %d", len(pod.Containers))
	}
	c := pod.Containers[0]
	if c.Image != "auditpipeline-operator:"+chartAppVersion(t) || c.ImagePullPolicy != corev1.PullIfNotPresent {
		t.Errorf("image %q pull policy %q", c.Image, c.ImagePullPolicy)
	}
	for _, arg := range []string{"--leader-elect=true", "--metrics-bind-address=:8443", "--metrics-secure=true",
		"--health-probe-bind-address=:8081"} {
		if !slices.Contains(c.Args, arg) {
			t.Errorf("args %v lack %s", c.Args, arg)
		}
	}
	if pod.ServiceAccountName != "defaults-auditpipeline-operator" {
		t.Errorf("serviceAccountName %q", pod.ServiceAccountName)
	}
	psc, sc := pod.SecurityContext, c.SecurityContext
	switch {
	case psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot:
		t.Error("the pod may run as root")
	case psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault:
		t.Error("the pod's seccomp profile is not RuntimeDefault")
	case sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
		t.Error("the root filesystem is writable")
	case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
		t.Error("privilege escalation is allowed")
	case sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0:
		t.Errorf("capabilities %+v, want all dropped", sc.Capabilities)
	}
	if c.LivenessProbe == nil || c.LivenessProbe.HTTPGet == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" ||
		c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" {
		t.Errorf("probes: liveness %+v readiness %+v", c.LivenessProbe, c.ReadinessProbe)
	}
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Errorf("resources %+v: want CPU and memory requests and a memory limit", c.Resources)
	}

	var svc corev1.Service
	fromUnstructured(t, find(t, objs, "Service", "defaults-auditpipeline-operator-metrics"), &svc)
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != 8443 || svc.Spec.Ports[0].Name != "https" ||
		svc.Spec.Ports[0].TargetPort.String() != "metrics" {
		t.Errorf("metrics Service ports %+v", svc.Spec.Ports)
	}
	for k, v := range svc.Spec.Selector {
		if d.Spec.Template.Labels[k] != v {
			t.Errorf("the metrics Service selects %s=%s, which the manager pods lack", k, v)
		}
	}
}

// chartAppVersion reads appVersion from Chart.yaml.
func chartAppVersion(t *testing.T) string {
	t.Helper()
	objs, err := testenv.ReadObjects(filepath.Join(chartDir, "Chart.yaml"))
	if err != nil || len(objs) != 1 {
		t.Fatalf("Chart.yaml: %v", err)
	}
	v, _, _ := unstructured.NestedString(objs[0].Object, "appVersion")
	if v == "" {
		t.Fatal("Chart.yaml has no appVersion")
	}
	return v
}

// find returns the rendered object of that kind and name.
func find(t *testing.T, objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	t.Helper()
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	var names []string
	for _, o := range objs {
		names = append(names, o.GetKind()+"/"+o.GetName())
	}
	t.Fatalf("no %s %s among %s", kind, name, strings.Join(names, ", "))
	return nil
}

// fromUnstructured converts a rendered object into its typed form.
func fromUnstructured(t *testing.T, u *unstructured.Unstructured, into any) {
	t.Helper()
	if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(u.Object, into, true); err != nil {
		t.Fatalf("%s %s: %v", u.GetKind(), u.GetName(), err)
	}
}
