package controller

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
	"github.com/auditpipeline/auditpipeline-operator/internal/render/vector"
)

// renderedHashes are the config hashes of p's current spec, by workload name.
func renderedHashes(g Gomega, p *v1alpha1.AuditPipeline) map[string]string {
	cur, err := fetch(p)()
	g.Expect(err).NotTo(HaveOccurred())
	var system corev1.Namespace
	g.Expect(k8s.Get(context.Background(), client.ObjectKey{Name: metav1.NamespaceSystem}, &system)).To(Succeed())
	col, err := vector.RenderCollector(cur, vector.ClusterName(cur, string(system.UID)))
	g.Expect(err).NotTo(HaveOccurred())
	agg, err := vector.RenderAggregator(cur)
	g.Expect(err).NotTo(HaveOccurred())
	return map[string]string{col.DaemonSet.Name: col.ConfigHash, agg.StatefulSet.Name: agg.ConfigHash}
}

// passValidation marks succeeded the validation Job of every workload whose live pod template does not
// carry the config hash of p's current spec, as the Job controller would once `vector validate` exits 0.
func passValidation(g Gomega, p *v1alpha1.AuditPipeline) {
	n := vector.NamesFor(p)
	live := map[string]client.Object{
		n.Collector:  &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: p.Namespace, Name: n.Collector}},
		n.Aggregator: &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Namespace: p.Namespace, Name: n.Aggregator}},
	}
	for workload, hash := range renderedHashes(g, p) {
		if liveHash(g, live[workload]) != hash {
			finishJob(g, p.Namespace, vector.ValidationName(workload, hash), true)
		}
	}
}

// liveHash is the config hash on a workload's pod template; empty when the workload does not exist.
func liveHash(g Gomega, obj client.Object) string {
	err := k8s.Get(context.Background(), client.ObjectKeyFromObject(obj), obj)
	if apierrors.IsNotFound(err) {
		return ""
	}
	g.Expect(err).NotTo(HaveOccurred())
	switch w := obj.(type) {
	case *appsv1.DaemonSet:
		return w.Spec.Template.Annotations[vector.AnnotationConfigHash]
	case *appsv1.StatefulSet:
		return w.Spec.Template.Annotations[vector.AnnotationConfigHash]
	}
	return ""
}

// finishJob waits for Job name and writes the status the Job controller writes when its pod succeeded
// or failed: envtest runs no Job controller. A Job already finished the same way is left alone, since
// the API server refuses a second start time; passValidation meets one when the operator has not yet
// rolled out the workload whose Job an earlier call finished.
func finishJob(g Gomega, ns, name string, succeeded bool) {
	job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	g.Eventually(func(g Gomega) {
		get(g, job)
		for _, c := range job.Status.Conditions {
			if c.Status != corev1.ConditionTrue || (c.Type != batchv1.JobComplete && c.Type != batchv1.JobFailed) {
				continue
			}
			g.Expect(c.Type == batchv1.JobComplete).To(Equal(succeeded), "Job %s already finished as %s", name, c.Type)
			return
		}
		now := metav1.Now()
		start := metav1.NewTime(now.Add(-time.Second))
		cond := func(t batchv1.JobConditionType) batchv1.JobCondition {
			return batchv1.JobCondition{Type: t, Status: corev1.ConditionTrue, LastTransitionTime: now, LastProbeTime: now}
		}
		job.Status = batchv1.JobStatus{StartTime: &start}
		if succeeded {
			job.Status.Succeeded, job.Status.CompletionTime = 1, &now
			job.Status.Conditions = []batchv1.JobCondition{cond(batchv1.JobSuccessCriteriaMet), cond(batchv1.JobComplete)}
		} else {
			job.Status.Failed = 1
			job.Status.Conditions = []batchv1.JobCondition{cond(batchv1.JobFailureTarget), cond(batchv1.JobFailed)}
		}
		g.Expect(k8s.Status().Update(context.Background(), job)).To(Succeed())
	}, timeout, interval).Should(Succeed())
}

// expectValidationJob waits for the validation Job of workload's configuration with hash and checks it
// runs `vector validate`, then `vector test`, once, on a copy of that configuration, without real Secret
// values.
func expectValidationJob(g Gomega, p *v1alpha1.AuditPipeline, workload, configMap, hash string) *batchv1.Job {
	job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: p.Namespace, Name: vector.ValidationName(workload, hash)}}
	g.Eventually(func(g Gomega) { get(g, job) }, timeout, interval).Should(Succeed())
	g.Expect(metav1.IsControlledBy(job, p)).To(BeTrue())
	g.Expect(*job.Spec.BackoffLimit).To(BeZero())
	g.Expect(job.Spec.TTLSecondsAfterFinished).NotTo(BeNil())
	g.Expect(job.Spec.ActiveDeadlineSeconds).NotTo(BeNil())
	pod := job.Spec.Template.Spec
	g.Expect(pod.InitContainers).To(HaveLen(1))
	g.Expect(pod.Containers).To(HaveLen(1))
	g.Expect(pod.InitContainers[0].Args).To(Equal([]string{"validate", "--no-environment", "--config-yaml", "/etc/vector/vector.yaml"}))
	g.Expect(pod.Containers[0].Args).To(Equal([]string{"test", "--config-yaml", "/etc/vector/vector.yaml"}))
	for _, c := range append(pod.InitContainers, pod.Containers...) {
		for _, e := range c.Env {
			g.Expect(e.ValueFrom).To(BeNil(), e.Name)
		}
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: p.Namespace, Name: vector.ValidationName(configMap, hash)}}
	g.Eventually(func(g Gomega) { get(g, cm) }, timeout, interval).Should(Succeed())
	g.Expect(metav1.IsControlledBy(cm, job)).To(BeTrue())
	g.Expect(job.Spec.Template.Spec.Volumes).To(ContainElement(HaveField("VolumeSource.ConfigMap.Name", cm.Name)))
	return job
}

func jobCount(g Gomega, ns string) int {
	var jobs batchv1.JobList
	g.Expect(k8s.List(context.Background(), &jobs, client.InNamespace(ns))).To(Succeed())
	return len(jobs.Items)
}

func conditionIs(g Gomega, p *v1alpha1.AuditPipeline, condType, want string) {
	g.Eventually(func() (string, error) {
		cur, err := fetch(p)()
		return conditionOf(cur, condType), err
	}, timeout, interval).Should(Equal(want), condType)
}

func TestVectorConfigIsValidatedBeforeRollout(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := newNamespace(t)
	createSecret(t, ns, "clickhouse-auth", "password")
	p := pipeline(ns, "audit")
	g.Expect(k8s.Create(ctx, p)).To(Succeed())
	n := vector.NamesFor(p)
	hashes := renderedHashes(g, p)
	ds := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: n.Collector}}
	sts := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: n.Aggregator}}

	// First creation: a Job per workload validates its configuration, and nothing rolls until it succeeds.
	expectValidationJob(g, p, n.Collector, n.CollectorConfig, hashes[n.Collector])
	aggJob := expectValidationJob(g, p, n.Aggregator, n.AggregatorConfig, hashes[n.Aggregator])
	for _, c := range append(aggJob.Spec.Template.Spec.InitContainers, aggJob.Spec.Template.Spec.Containers...) {
		g.Expect(c.Env).To(ContainElement(corev1.EnvVar{Name: vector.EnvClickHousePassword, Value: vector.ValidationPlaceholder}))
	}
	conditionIs(g, p, v1alpha1.ConditionCollectorReady, "False/"+v1alpha1.ReasonValidating)
	conditionIs(g, p, v1alpha1.ConditionAggregatorReady, "False/"+v1alpha1.ReasonValidating)
	for _, obj := range []client.Object{ds, sts,
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: n.AggregatorConfig}}} {
		err := k8s.Get(ctx, client.ObjectKeyFromObject(obj), obj)
		g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "%s applied before validation", obj.GetName())
	}
	finishJob(g, ns, vector.ValidationName(n.Collector, hashes[n.Collector]), true)
	finishJob(g, ns, aggJob.Name, true)
	g.Eventually(func(g Gomega) {
		g.Expect(liveHash(g, ds)).To(Equal(hashes[n.Collector]))
		g.Expect(liveHash(g, sts)).To(Equal(hashes[n.Aggregator]))
	}, timeout, interval).Should(Succeed())
	conditionIs(g, p, v1alpha1.ConditionAggregatorReady, "False/"+v1alpha1.ReasonRollingOut)

	// A spec change gets a new Job; when Vector rejects the configuration the aggregator keeps its own.
	patchSpec(g, p, func(cur *v1alpha1.AuditPipeline) { cur.Spec.Aggregator.Batch.MaxEvents = 20000 })
	newHash := renderedHashes(g, p)[n.Aggregator]
	g.Expect(newHash).NotTo(Equal(hashes[n.Aggregator]))
	job := expectValidationJob(g, p, n.Aggregator, n.AggregatorConfig, newHash)
	conditionIs(g, p, v1alpha1.ConditionAggregatorReady, "False/"+v1alpha1.ReasonValidating)
	finishJob(g, ns, job.Name, false)
	conditionIs(g, p, v1alpha1.ConditionAggregatorReady, "False/"+v1alpha1.ReasonConfigInvalid)
	conditionIs(g, p, v1alpha1.ConditionStalled, "True/"+v1alpha1.ReasonConfigInvalid)
	cur, err := fetch(p)()
	g.Expect(err).NotTo(HaveOccurred())
	c := apimeta.FindStatusCondition(cur.Status.Conditions, v1alpha1.ConditionAggregatorReady)
	g.Expect(c.Message).To(ContainSubstring("kubectl logs -n " + ns + " job/" + job.Name))
	reconcileDirectly(g, p)
	g.Expect(liveHash(g, sts)).To(Equal(hashes[n.Aggregator]))
	g.Expect(jobCount(g, ns)).To(Equal(3))

	// Back to the running configuration: no Job, the aggregator is rolling out (not stalled) again.
	patchSpec(g, p, func(cur *v1alpha1.AuditPipeline) { cur.Spec.Aggregator.Batch.MaxEvents = 10000 })
	g.Expect(renderedHashes(g, p)[n.Aggregator]).To(Equal(hashes[n.Aggregator]))
	conditionIs(g, p, v1alpha1.ConditionAggregatorReady, "False/"+v1alpha1.ReasonRollingOut)
	reconcileDirectly(g, p)
	g.Expect(jobCount(g, ns)).To(Equal(3))
	g.Expect(liveHash(g, sts)).To(Equal(hashes[n.Aggregator]))
}

// failPod creates the pod of validation Job job as the kubelet leaves it once it failed (envtest runs no
// Job controller and no kubelet): its init container, `vector validate`, exited with validateExit and,
// when that is 0, its test container, `vector test`, exited with 78 (Vector's exit code for a failed
// test) and the end of its output, the termination message FallbackToLogsOnError gives it.
func failPod(g Gomega, job *batchv1.Job, validateExit int32, output string) {
	ctx := context.Background()
	g.Expect(job.Spec.Template.Labels).To(HaveKeyWithValue(batchv1.ControllerUidLabel, string(job.UID)))
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: job.Namespace, GenerateName: job.Name + "-", Labels: job.Spec.Template.Labels,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(job, batchv1.SchemeGroupVersion.WithKind("Job"))}},
		Spec: *job.Spec.Template.Spec.DeepCopy(),
	}
	g.Expect(k8s.Create(ctx, pod)).To(Succeed())
	now := metav1.Now()
	exited := func(code int32, message string) corev1.ContainerState {
		reason := "Completed"
		if code != 0 {
			reason = "Error"
		}
		return corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code, Reason: reason,
			Message: message, StartedAt: now, FinishedAt: now}}
	}
	image := pod.Spec.Containers[0].Image
	test := corev1.ContainerStatus{Name: vector.TestContainer, Image: image,
		State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "PodInitializing"}}}
	validateOutput := ""
	if validateExit == 0 {
		test.State = exited(vector.TestFailedExitCode, output)
	} else {
		validateOutput = output
	}
	pod.Status = corev1.PodStatus{Phase: corev1.PodFailed,
		InitContainerStatuses: []corev1.ContainerStatus{{Name: vector.ValidateContainer, Image: image, State: exited(validateExit, validateOutput)}},
		ContainerStatuses:     []corev1.ContainerStatus{test}}
	g.Expect(k8s.Status().Update(ctx, pod)).To(Succeed())
}

// TestFailingVectorUnitTestStallsTheRollout checks that a configuration whose unit test fails in the
// validation Job is treated as one Vector rejects, the failing test named in the message, and that a
// failure of `vector validate` still reads as a rejected configuration.
func TestFailingVectorUnitTestStallsTheRollout(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := newNamespace(t)
	createSecret(t, ns, "clickhouse-auth", "password")
	p := pipeline(ns, "audit")
	g.Expect(k8s.Create(ctx, p)).To(Succeed())
	n := vector.NamesFor(p)
	sts := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: n.Aggregator}}
	running := renderedHashes(g, p)[n.Aggregator]
	passValidation(g, p)
	g.Eventually(func(g Gomega) { g.Expect(liveHash(g, sts)).To(Equal(running)) }, timeout, interval).Should(Succeed())
	message := func() string {
		cur, err := fetch(p)()
		g.Expect(err).NotTo(HaveOccurred())
		return apimeta.FindStatusCondition(cur.Status.Conditions, v1alpha1.ConditionAggregatorReady).Message
	}

	// Vector validates the new configuration, but its program fails a unit test: the end of `vector
	// test`'s output, as the kubelet keeps it, names the test.
	patchSpec(g, p, func(cur *v1alpha1.AuditPipeline) { cur.Spec.Aggregator.Batch.MaxEvents = 20000 })
	cur, err := fetch(p)()
	g.Expect(err).NotTo(HaveOccurred())
	failing := vector.AggregatorConfig(cur).Tests[2].Name
	g.Expect(failing).To(HavePrefix("events_row: "))
	job := expectValidationJob(g, p, n.Aggregator, n.AggregatorConfig, renderedHashes(g, p)[n.Aggregator])
	failPod(g, job, 0, "test keep_stages: a ResponseComplete event ... passed\n"+
		"test "+failing+" ... failed\n\nfailures:\n\ntest "+failing+":\n\n"+
		"check[0] for transforms [\"events_row\"] failed conditions:\n  condition[0]: source execution aborted: not the Go twin's row\n"+
		"output payloads from [\"events_row\"] (events encoded as JSON):\n  {\"latency_us\":23456}\n\n")
	finishJob(g, ns, job.Name, false)
	conditionIs(g, p, v1alpha1.ConditionAggregatorReady, "False/"+v1alpha1.ReasonConfigInvalid)
	conditionIs(g, p, v1alpha1.ConditionStalled, "True/"+v1alpha1.ReasonConfigInvalid)
	g.Expect(message()).To(And(
		ContainSubstring(`Vector's unit test "`+failing+`" of the new configuration`),
		ContainSubstring("kubectl logs -n "+ns+" job/"+job.Name+" -c test"),
		ContainSubstring("StatefulSet "+n.Aggregator+" keeps its previous configuration")))
	reconcileDirectly(g, p)
	g.Expect(liveHash(g, sts)).To(Equal(running))

	// `vector validate` fails: the test container never ran, and the message says Vector rejected it.
	patchSpec(g, p, func(cur *v1alpha1.AuditPipeline) { cur.Spec.Aggregator.Batch.MaxEvents = 30000 })
	job = expectValidationJob(g, p, n.Aggregator, n.AggregatorConfig, renderedHashes(g, p)[n.Aggregator])
	failPod(g, job, 78, "2026-10-06T10:00:00Z ERROR vector::cli: Configuration error. error=...")
	finishJob(g, ns, job.Name, false)
	g.Eventually(message, timeout, interval).Should(HavePrefix("Vector rejected the new configuration"))
	g.Expect(liveHash(g, sts)).To(Equal(running))
}
