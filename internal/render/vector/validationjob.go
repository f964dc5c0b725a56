package vector

import (
	"regexp"
	"slices"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// Settings of the Job that validates a new configuration before the workload rolls to it.
const (
	// ValidationTTL keeps a finished validation Job (and its logs) for an hour.
	ValidationTTL = int32(3600)
	// ValidationDeadline is how long a validation Job may run before it fails.
	ValidationDeadline = int64(120)
	// ValidationPlaceholder replaces the value of every environment variable the workload reads from a
	// Secret: the validation Job must resolve ${VAR} interpolation, never see real credentials.
	ValidationPlaceholder = "placeholder"
	// validationHashLength is how much of the config hash the names of the validation objects carry.
	validationHashLength = 10

	// ValidateContainer, the validation pod's init container, runs `vector validate`; TestContainer,
	// which runs once it succeeded, runs `vector test`. Both write the end of their output as their
	// termination message when they fail, where `vector test` names the tests that failed.
	ValidateContainer = "validate"
	TestContainer     = "test"
	// TestFailedExitCode is how `vector test` exits when a test failed or could not be built (exitcode's
	// CONFIG, src/unit_test.rs); a container killed for its memory or the Job's deadline exits otherwise.
	TestFailedExitCode = 78
)

// ValidationName names the Job that validates the configuration with hash for workload, and the Job's
// copy of a ConfigMap: render.ChildName keeps workload names to render.MaxNameLength of a DaemonSet or
// StatefulSet, 52 characters, so the Job's name fits the 63 of render.KindJob (its pods carry it in
// their job-name label); a ConfigMap's name may pass 63, as ConfigMaps are DNS subdomains.
func ValidationName(workload, hash string) string {
	return workload + "-" + hash[:min(len(hash), validationHashLength)]
}

// ValidationConfigMap is a copy of config under a hash-suffixed name, so the new configuration can be
// validated without changing the ConfigMap the running pods read.
func ValidationConfigMap(config *corev1.ConfigMap, hash string) *corev1.ConfigMap {
	cm := config.DeepCopy()
	cm.Name = ValidationName(config.Name, hash)
	return cm
}

// ValidationJob runs `vector validate --no-environment` once on the configuration in configMap, then
// `vector test`, which runs the configuration's unit tests (unittests.go), with the image and security
// context of the workload's pod template. It mounts no Secret and sets every Secret-sourced environment
// variable to a placeholder: without environment checks Vector reads neither (they only matter when
// components are built; `vector test` builds the transforms alone), and the Job never sees a credential.
// Its pods carry labels of their own, so no workload Service selects them.
func ValidationJob(workload string, template corev1.PodTemplateSpec, configMap, hash string) *batchv1.Job {
	name := ValidationName(workload, hash)
	labels := map[string]string{LabelName: "vector-validate", LabelInstance: name, LabelPartOf: "auditpipeline",
		LabelComponent: template.Labels[LabelComponent]}
	return &batchv1.Job{
		TypeMeta: metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels,
			Annotations: map[string]string{AnnotationConfigHash: hash}},
		Spec: batchv1.JobSpec{
			BackoffLimit:            ptr.To(int32(0)),
			ActiveDeadlineSeconds:   ptr.To(ValidationDeadline),
			TTLSecondsAfterFinished: ptr.To(ValidationTTL),
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       validationPod(template.Spec, configMap),
			},
		},
	}
}

// validationPod is the workload's pod spec reduced to its Vector container, twice: as the init container
// ValidateContainer running validate, then as TestContainer running test (the distroless image has no
// shell to run both in one). No other init container, probes, ports or Secrets, and an emptyDir in
// place of the buffer. The unit tests of an event larger than a JetStream message build one of up to
// 64 MiB (spec.nats.stream.maxMessageSize), which the memory limit leaves room for.
func validationPod(src corev1.PodSpec, configMap string) corev1.PodSpec {
	vector := func(name string, args ...string) corev1.Container {
		c := *src.Containers[0].DeepCopy()
		c.Name = name
		c.Args = append(args, "--config-yaml", ConfigDir+"/"+ConfigFile)
		c.Ports, c.LivenessProbe, c.ReadinessProbe = nil, nil, nil
		c.Env = placeholderEnv(c.Env)
		c.Resources = corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("50m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
			Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("512Mi")},
		}
		c.VolumeMounts = []corev1.VolumeMount{
			{Name: "config", MountPath: ConfigDir, ReadOnly: true},
			{Name: "data", MountPath: DataDir},
		}
		// `vector test` prints which tests failed on stdout: the end of it becomes the termination
		// message, which the operator reads to name them.
		c.TerminationMessagePolicy = corev1.TerminationMessageFallbackToLogsOnError
		return c
	}
	return corev1.PodSpec{
		SecurityContext: src.SecurityContext.DeepCopy(),
		RestartPolicy:   corev1.RestartPolicyNever,
		InitContainers:  []corev1.Container{vector(ValidateContainer, "validate", "--no-environment")},
		Containers:      []corev1.Container{vector(TestContainer, "test")},
		Volumes: []corev1.Volume{configVolume(configMap),
			{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
	}
}

// placeholderEnv keeps literal values and replaces every value taken from elsewhere (a Secret) by
// ValidationPlaceholder.
func placeholderEnv(env []corev1.EnvVar) []corev1.EnvVar {
	out := make([]corev1.EnvVar, 0, len(env))
	for _, e := range env {
		if e.ValueFrom != nil {
			e = corev1.EnvVar{Name: e.Name, Value: ValidationPlaceholder}
		}
		out = append(out, e)
	}
	return out
}

// Lines of `vector test`'s output that name a test that failed (src/unit_test.rs and
// src/config/unit_test/mod.rs, Vector 0.58): "test <name> ... failed" as each test ends, "test <name>:"
// heading its failures at the end, and "Failed to build test '<name>':" when a test cannot even be
// built. Colours, if any, are stripped first.
var (
	testFailedLine   = regexp.MustCompile(`^test (.+) \.\.\. failed$`)
	testFailuresLine = regexp.MustCompile(`^test (.+):$`)
	testBuildLine    = regexp.MustCompile(`^\s*Failed to build test '(.+)':$`)
	terminalColour   = regexp.MustCompile("\x1b\\[[0-9;]*m")
)

// terminationLogBytes is how much of a failed container's output the kubelet keeps as its termination
// message (FallbackToLogsOnError): the last 2048 bytes of its last 80 lines.
const terminationLogBytes = 2048

// FailedTests are the unit tests that the termination message of TestContainer names as failed, in the
// order it names them: empty when the end of the output the kubelet kept names none (a failing test's
// output payload can take all of it). A first line the kubelet may have cut is not read.
func FailedTests(terminationMessage string) []string {
	msg := terminalColour.ReplaceAllString(terminationMessage, "")
	if len(terminationMessage) >= terminationLogBytes {
		_, msg, _ = strings.Cut(msg, "\n")
	}
	var names []string
	for _, line := range strings.Split(msg, "\n") {
		line = strings.TrimRight(line, "\r")
		for _, re := range []*regexp.Regexp{testFailedLine, testBuildLine, testFailuresLine} {
			if m := re.FindStringSubmatch(line); m != nil && !slices.Contains(names, m[1]) {
				names = append(names, m[1])
				break
			}
		}
	}
	return names
}
