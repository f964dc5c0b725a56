package vector

import (
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
)

// TestValidationJobChecksTheNewConfigAlone checks that the validation Job runs `vector validate`, then
// `vector test`, on a copy of the new configuration, as the workload's pods would run Vector but for the
// Secrets.
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
		if len(pod.InitContainers) != 1 || len(pod.Containers) != 1 || pod.RestartPolicy != "Never" || *job.Spec.BackoffLimit != 0 {
			t.Errorf("%s: the validation pod runs more than once or more than Vector validate and Vector test", tc.workload)
		}
		config := ConfigDir + "/" + ConfigFile
		for c, args := range map[*corev1.Container][]string{
			&pod.InitContainers[0]: {"validate", "--no-environment", "--config-yaml", config},
			&pod.Containers[0]:     {"test", "--config-yaml", config},
		} {
			if !slices.Equal(c.Args, args) {
				t.Errorf("%s: container %s runs vector %v, want %v", tc.workload, c.Name, c.Args, args)
			}
			if c.Image != tmpl.Spec.Containers[0].Image || !equality.Semantic.DeepEqual(c.SecurityContext, tmpl.Spec.Containers[0].SecurityContext) {
				t.Errorf("%s: container %s differs from the workload's in image or security context", tc.workload, c.Name)
			}
			if c.TerminationMessagePolicy != corev1.TerminationMessageFallbackToLogsOnError {
				t.Errorf("%s: container %s does not end its output as its termination message", tc.workload, c.Name)
			}
			for _, e := range c.Env {
				if e.ValueFrom != nil {
					t.Errorf("%s: container %s reads %s from elsewhere", tc.workload, c.Name, e.Name)
				}
			}
		}
		if pod.InitContainers[0].Name != ValidateContainer || pod.Containers[0].Name != TestContainer {
			t.Errorf("%s: the validation pod's containers are %s and %s", tc.workload, pod.InitContainers[0].Name, pod.Containers[0].Name)
		}
		if !equality.Semantic.DeepEqual(pod.SecurityContext, tmpl.Spec.SecurityContext) {
			t.Errorf("%s: the validation pod differs from the workload's in security context", tc.workload)
		}
		for _, v := range pod.Volumes {
			if v.HostPath != nil || v.Secret != nil {
				t.Errorf("%s: the validation pod mounts volume %s from the host or a Secret", tc.workload, v.Name)
			}
			if v.Name == "config" && v.ConfigMap.Name != ValidationName(tc.configMap, tc.hash) {
				t.Errorf("%s: the validation pod reads ConfigMap %s", tc.workload, v.ConfigMap.Name)
			}
		}
	}
	cm := ValidationConfigMap(agg.Config, agg.ConfigHash)
	if cm.Data[ConfigFile] != agg.Config.Data[ConfigFile] || cm.Name == agg.Config.Name {
		t.Errorf("validation ConfigMap %s does not copy %s", cm.Name, agg.Config.Name)
	}
}

// TestFailedTests reads the names of failed tests from the end of `vector test`'s output as the kubelet
// keeps it, in the format of Vector's src/unit_test.rs.
func TestFailedTests(t *testing.T) {
	out := "Running tests\n" +
		"test split_event_list: a body that is no EventList ... passed\n" +
		"test prepare_event: a verb that is no subject token ... \x1b[31mfailed\x1b[0m\n" +
		"2026-10-06T10:00:00.000000Z ERROR transform{component_kind=\"transform\" component_id=prepare_event}: vrl: dropped an audit event\n" +
		"test prepare_event: an event larger than a message ... failed\n" +
		"\nfailures:\n\ntest prepare_event: a verb that is no subject token:\n\n" +
		"check[0] for transforms [\"prepare_event\"] failed conditions:\n  condition[0]: source execution aborted: not the Go twin's event\n" +
		"output payloads from [\"prepare_event\"] (events encoded as JSON):\n  {\"verb\":\"a__b\"}\n\n" +
		"test prepare_event: an event larger than a message:\n\ncheck for transforms [\"prepare_event\"] failed: expected no outputs\n\n"
	want := []string{"prepare_event: a verb that is no subject token", "prepare_event: an event larger than a message"}
	if got := FailedTests(out); !slices.Equal(got, want) {
		t.Errorf("FailedTests = %q, want %q", got, want)
	}
	// Only the failures section is left, the first line cut by the kubelet.
	tail := "ent larger than a message ... failed\n" + strings.Repeat("x", terminationLogBytes) +
		"\n\ntest events_row: a row split into columns and rest:\n\n"
	if got := FailedTests(tail); !slices.Equal(got, []string{"events_row: a row split into columns and rest"}) {
		t.Errorf("FailedTests of a cut output = %q", got)
	}
	build := "Running tests\nFailed to execute tests:\nFailed to build test 'keep_stages: a ResponseComplete event':\n  failed to create test condition '0': ...\n"
	if got := FailedTests(build); !slices.Equal(got, []string{"keep_stages: a ResponseComplete event"}) {
		t.Errorf("FailedTests of a test Vector could not build = %q", got)
	}
	if got := FailedTests("Running tests\ntest a ... passed\n" + strings.Repeat("x", 3000)); len(got) != 0 {
		t.Errorf("FailedTests of an output naming no failed test = %q", got)
	}
}
