package vector

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
)

func TestValidationJobChecksTheNewConfigAlone(t *testing.T) {
	p := renderCases()["tls"]
	p.Name = strings.Repeat("a", 80)
	col, err := RenderCollector(p, testCluster)
	if err != nil {
		t.Fatal(err)
	}
	agg, err := RenderAggregator(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		workload, configMap, hash string
		live                      map[string]string
	}{
		{col.DaemonSet.Name, col.Config.Name, col.ConfigHash, col.DaemonSet.Spec.Selector.MatchLabels},
		{agg.StatefulSet.Name, agg.Config.Name, agg.ConfigHash, agg.StatefulSet.Spec.Selector.MatchLabels},
	} {
		tmpl := col.DaemonSet.Spec.Template
		if tc.workload == agg.StatefulSet.Name {
			tmpl = agg.StatefulSet.Spec.Template
		}
		job := ValidationJob(tc.workload, tmpl, ValidationName(tc.configMap, tc.hash), tc.hash)
		if errs := validation.IsDNS1123Label(job.Name); len(errs) > 0 {
			t.Errorf("Job name %q: %v", job.Name, errs)
		}
		if job.Name != ValidationName(tc.workload, tc.hash) || !strings.HasSuffix(job.Name, tc.hash[:10]) {
			t.Errorf("Job name %q does not carry the config hash", job.Name)
		}
		pod := job.Spec.Template.Spec
		if labels.SelectorFromSet(tc.live).Matches(labels.Set(job.Spec.Template.Labels)) {
			t.Errorf("%s: the workload's selector matches the validation pod", tc.workload)
		}
		if len(pod.InitContainers) > 0 || pod.RestartPolicy != "Never" || *job.Spec.BackoffLimit != 0 {
			t.Errorf("%s: the validation pod runs more than once or more than Vector", tc.workload)
		}
		if !equality.Semantic.DeepEqual(pod.SecurityContext, tmpl.Spec.SecurityContext) ||
			pod.Containers[0].Image != tmpl.Spec.Containers[0].Image ||
			!equality.Semantic.DeepEqual(pod.Containers[0].SecurityContext, tmpl.Spec.Containers[0].SecurityContext) {
			t.Errorf("%s: the validation pod differs from the workload's in image or security context", tc.workload)
		}
		for _, v := range pod.Volumes {
			if v.HostPath != nil || v.Secret != nil {
				t.Errorf("%s: the validation pod mounts volume %s from the host or a Secret", tc.workload, v.Name)
			}
			if v.Name == "config" && v.ConfigMap.Name != ValidationName(tc.configMap, tc.hash) {
				t.Errorf("%s: the validation pod reads ConfigMap %s", tc.workload, v.ConfigMap.Name)
			}
		}
		for _, e := range pod.Containers[0].Env {
			if e.ValueFrom != nil {
				t.Errorf("%s: the validation pod reads %s from elsewhere", tc.workload, e.Name)
			}
		}
	}
	cm := ValidationConfigMap(agg.Config, agg.ConfigHash)
	if cm.Data[ConfigFile] != agg.Config.Data[ConfigFile] || cm.Name == agg.Config.Name {
		t.Errorf("validation ConfigMap %s does not copy %s", cm.Name, agg.Config.Name)
	}
}
