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
// runs `vector validate` once, on a copy of that configuration, without real Secret values.
func expectValidationJob(g Gomega, p *v1alpha1.AuditPipeline, workload, configMap, hash string) *batchv1.Job {
	job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: p.Namespace, Name: vector.ValidationName(workload, hash)}}
	g.Eventually(func(g Gomega) { get(g, job) }, timeout, interval).Should(Succeed())
	g.Expect(metav1.IsControlledBy(job, p)).To(BeTrue())
	g.Expect(*job.Spec.BackoffLimit).To(BeZero())
	g.Expect(job.Spec.TTLSecondsAfterFinished).NotTo(BeNil())
	g.Expect(job.Spec.ActiveDeadlineSeconds).NotTo(BeNil())
	c := job.Spec.Template.Spec.Containers[0]
	g.Expect(c.Args).To(Equal([]string{"validate", "--no-environment", "--config-yaml", "/etc/vector/vector.yaml"}))
	for _, e := range c.Env {
		g.Expect(e.ValueFrom).To(BeNil(), e.Name)
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
	g.Expect(aggJob.Spec.Template.Spec.Containers[0].Env).To(ContainElement(
		corev1.EnvVar{Name: vector.EnvClickHousePassword, Value: vector.ValidationPlaceholder}))
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
