package chart

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/auditpipeline/auditpipeline-operator/internal/testkit/testenv"
)

// fluxSamples reads every object of config/samples/flux, by file (relative to that folder). Every
// document must have an apiVersion, a kind and, except kustomize's own files, a name.
func fluxSamples(t *testing.T) map[string][]*unstructured.Unstructured {
	t.Helper()
	dir := filepath.Join(env.Root, "config", "samples", "flux")
	samples := map[string][]*unstructured.Unstructured{}
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".yaml") {
			return err
		}
		objs, err := testenv.ReadObjects(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		for _, o := range objs {
			if o.GetAPIVersion() == "" || o.GetKind() == "" || (o.GetName() == "" && filepath.Base(path) != "kustomization.yaml") {
				t.Errorf("%s: a document without apiVersion, kind or name", rel)
			}
		}
		samples[rel] = objs
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return samples
}

// only returns the objects of apiVersion and kind among all the samples, at least one.
func only(t *testing.T, samples map[string][]*unstructured.Unstructured, apiVersion, kind string) []*unstructured.Unstructured {
	t.Helper()
	var found []*unstructured.Unstructured
	for _, objs := range samples {
		for _, o := range objs {
			if o.GetAPIVersion() == apiVersion && o.GetKind() == kind {
				found = append(found, o)
			}
		}
	}
	if len(found) == 0 {
		t.Fatalf("no %s %s in config/samples/flux", apiVersion, kind)
	}
	return found
}

// TestFluxHelmRelease checks that the HelmRelease installs this chart from the sample HelmRepository, that
// every key of its values exists in the chart's values.yaml, and that the chart rendered with those values
// is accepted by the API server.
func TestFluxHelmRelease(t *testing.T) {
	samples := fluxSamples(t)
	repo := only(t, samples, "source.toolkit.fluxcd.io/v1", "HelmRepository")[0]
	hr := only(t, samples, "helm.toolkit.fluxcd.io/v2", "HelmRelease")[0]
	spec, _, _ := unstructured.NestedMap(hr.Object, "spec", "chart", "spec")
	ref, _, _ := unstructured.NestedStringMap(spec, "sourceRef")
	if spec["chart"] != "auditpipeline-operator" || ref["kind"] != "HelmRepository" || ref["name"] != repo.GetName() ||
		hr.GetNamespace() != repo.GetNamespace() {
		t.Errorf("the HelmRelease's chart %v does not name the chart in HelmRepository %s/%s", spec, repo.GetNamespace(), repo.GetName())
	}
	values, _, _ := unstructured.NestedMap(hr.Object, "spec", "values")
	defaults := map[string]any{}
	data, err := os.ReadFile(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, &defaults); err != nil {
		t.Fatal(err)
	}
	checkKeys(t, "values", values, defaults)

	valuesFile := filepath.Join(t.TempDir(), "values.yaml")
	out, err := yaml.Marshal(values)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(valuesFile, out, 0o644); err != nil {
		t.Fatal(err)
	}
	name, _, _ := unstructured.NestedString(hr.Object, "spec", "releaseName")
	ns, _, _ := unstructured.NestedString(hr.Object, "spec", "targetNamespace")
	if name == "" || ns == "" {
		t.Fatalf("the HelmRelease sets no releaseName or targetNamespace")
	}
	objs := release{name: name, namespace: ns, args: []string{"--values", valuesFile}}.install(t)
	if len(objs) < 10 {
		t.Errorf("the HelmRelease's values render only %d objects", len(objs))
	}
}

// checkKeys fails for every key of values that the chart's defaults do not have. Below a default that is
// an empty map or not a map (labels, resources, lists), any key is allowed.
func checkKeys(t *testing.T, path string, values, defaults map[string]any) {
	t.Helper()
	for k, v := range values {
		d, ok := defaults[k]
		if !ok {
			t.Errorf("%s.%s is not a value of the chart", path, k)
			continue
		}
		vm, vIsMap := v.(map[string]any)
		dm, dIsMap := d.(map[string]any)
		if vIsMap && dIsMap && len(dm) > 0 {
			checkKeys(t, path+"."+k, vm, dm)
		}
	}
}

// TestFluxKustomizations builds the kustomize folders the Flux Kustomizations point at, applies what they
// render (the AuditPipeline against its CRD), and checks dependsOn and the health checks.
func TestFluxKustomizations(t *testing.T) {
	ctx := context.Background()
	samples := fluxSamples(t)
	kss := only(t, samples, "kustomize.toolkit.fluxcd.io/v1", "Kustomization")
	names := map[string]bool{}
	for _, ks := range kss {
		names[ks.GetName()] = true
	}
	for _, ks := range kss {
		for _, dep := range nestedMaps(t, ks, "spec", "dependsOn") {
			if !names[dep["name"].(string)] {
				t.Errorf("Kustomization %s depends on %v, which is not among the samples", ks.GetName(), dep["name"])
			}
		}
		path, _, _ := unstructured.NestedString(ks.Object, "spec", "path")
		objs := kustomizeBuild(t, filepath.Join(env.Root, path))
		for _, o := range objs {
			if o.GetAPIVersion() != "v1" && o.GetAPIVersion() != "auditpipeline.io/v1alpha1" {
				continue // Flux's own kinds: their CRDs are not installed here
			}
			err := k8s.Apply(ctx, client.ApplyConfigurationFromUnstructured(o.DeepCopy()),
				client.FieldOwner("chart-test"), client.ForceOwnership)
			if err != nil {
				t.Errorf("%s: apply %s %s: %v", path, o.GetKind(), o.GetName(), err)
			}
		}
		for _, hc := range nestedMaps(t, ks, "spec", "healthChecks") {
			found := false
			for _, o := range objs {
				found = found || (o.GetAPIVersion() == hc["apiVersion"] && o.GetKind() == hc["kind"] &&
					o.GetName() == hc["name"] && o.GetNamespace() == hc["namespace"])
			}
			if !found {
				t.Errorf("Kustomization %s checks the health of %v, which %s does not render", ks.GetName(), hc, path)
			}
		}
	}
}

func nestedMaps(t *testing.T, o *unstructured.Unstructured, fields ...string) []map[string]any {
	t.Helper()
	list, _, err := unstructured.NestedSlice(o.Object, fields...)
	if err != nil {
		t.Fatal(err)
	}
	var maps []map[string]any
	for _, item := range list {
		maps = append(maps, item.(map[string]any))
	}
	return maps
}

// kustomizeBuild runs `kubectl kustomize` (kubectl from the envtest binaries) on dir.
func kustomizeBuild(t *testing.T, dir string) []*unstructured.Unstructured {
	t.Helper()
	kubectl := filepath.Join(os.Getenv("KUBEBUILDER_ASSETS"), "kubectl")
	out, err := exec.Command(kubectl, "kustomize", dir).Output()
	if err != nil {
		var stderr []byte
		if exit, ok := err.(*exec.ExitError); ok {
			stderr = exit.Stderr
		}
		t.Fatalf("kubectl kustomize %s: %v\n%s", dir, err, stderr)
	}
	path := filepath.Join(t.TempDir(), "built.yaml")
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
	objs, err := testenv.ReadObjects(path)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}
