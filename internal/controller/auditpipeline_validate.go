package controller

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
	"github.com/auditpipeline/auditpipeline-operator/internal/render/vector"
)

// +kubebuilder:rbac:groups=batch,resources=jobs,verbs=get;list;watch;create;patch;delete
// (patch: the Job is created by server-side apply, a PATCH.)
// +kubebuilder:rbac:groups="",resources=pods,verbs=list
// (list: a failed validation Job's pod, uncached, for the unit tests its termination message names.)

// validation is one workload's new Vector configuration, to be checked by Vector before the workload
// rolls to it.
type validation struct {
	what     string
	workload client.Object // the rendered DaemonSet or StatefulSet
	template corev1.PodTemplateSpec
	config   *corev1.ConfigMap
	hash     string
}

// configValidated reports whether the workload may roll to v's configuration: validation is off, the
// workload already runs it, or a validation Job ran `vector validate` and `vector test` on it
// successfully. Otherwise it sets the component condition (Validating, or ConfigInvalid once the Job
// failed, naming the unit tests that failed if any) and nothing of the component is applied, so the
// running pods keep their configuration.
func (r *AuditPipelineReconciler) configValidated(ctx context.Context, p *v1alpha1.AuditPipeline, v validation) (bool, ctrl.Result, error) {
	if !r.ValidateVectorConfig {
		return true, ctrl.Result{}, nil
	}
	running, err := r.runningConfigHash(ctx, p, v.workload)
	if err != nil || running == v.hash {
		return err == nil, ctrl.Result{}, err
	}
	job, err := r.ensureValidationJob(ctx, p, v)
	if err != nil {
		return false, ctrl.Result{}, err
	}
	finished, succeeded := jobOutcome(job)
	switch {
	case succeeded:
		return true, ctrl.Result{}, nil
	case finished:
		keeps := fmt.Sprintf("%s %s keeps its previous configuration, if any", v.what, v.workload.GetName())
		logs := fmt.Sprintf("kubectl logs -n %s job/%s", p.Namespace, job.Name)
		tests, testFailed := r.failedUnitTests(ctx, job)
		switch {
		case len(tests) > 0:
			return false, ctrl.Result{}, notReady(v1alpha1.ReasonConfigInvalid,
				"Vector's unit %s of the new configuration (config hash %.10s) failed: a VRL program and its Go twin "+
					"disagree; see %s -c %s; %s", testList(tests), v.hash, logs, vector.TestContainer, keeps)
		case testFailed:
			return false, ctrl.Result{}, notReady(v1alpha1.ReasonConfigInvalid,
				"Vector's unit tests of the new configuration (config hash %.10s) failed, see %s -c %s; %s",
				v.hash, logs, vector.TestContainer, keeps)
		}
		return false, ctrl.Result{}, notReady(v1alpha1.ReasonConfigInvalid,
			"Vector rejected the new configuration (config hash %.10s), see %s; %s", v.hash, logs, keeps)
	}
	return false, ctrl.Result{}, notReady(v1alpha1.ReasonValidating,
		"Job %s validates the new configuration (config hash %.10s) before %s %s rolls to it",
		job.Name, v.hash, v.what, v.workload.GetName()).after(r.jitteredWait())
}

// failedUnitTests reads the pods of a failed validation Job: testFailed when its TestContainer exited as
// `vector test` does when a unit test fails (vector.TestFailedExitCode; its ValidateContainer, `vector
// validate`, succeeded then), and the tests its termination message names (vector.FailedTests). Pods that cannot be read
// (deleted, or no right to list pods) count as no test failed: the Job's failure then reads as Vector
// rejecting the configuration.
func (r *AuditPipelineReconciler) failedUnitTests(ctx context.Context, job *batchv1.Job) (tests []string, testFailed bool) {
	var pods corev1.PodList
	err := r.APIReader.List(ctx, &pods, client.InNamespace(job.Namespace),
		client.MatchingLabels{batchv1.ControllerUidLabel: string(job.UID)})
	if err != nil {
		logf.FromContext(ctx).V(1).Info("cannot read the validation Job's pods for the unit tests that failed", "job", job.Name, "error", err.Error())
		return nil, false
	}
	for _, pod := range pods.Items {
		if !metav1.IsControlledBy(&pod, job) {
			continue
		}
		for _, c := range pod.Status.ContainerStatuses {
			if done := c.State.Terminated; c.Name == vector.TestContainer && done != nil && done.ExitCode == vector.TestFailedExitCode {
				testFailed = true
				for _, name := range vector.FailedTests(done.Message) {
					if !slices.Contains(tests, name) {
						tests = append(tests, name)
					}
				}
			}
		}
	}
	return tests, testFailed
}

// testList is "test "a"" or "tests "a", "b"".
func testList(names []string) string {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = strconv.Quote(n)
	}
	if len(names) == 1 {
		return "test " + quoted[0]
	}
	return "tests " + strings.Join(quoted, ", ")
}

// runningConfigHash is the config hash on the pod template of the live workload; empty if there is none.
func (r *AuditPipelineReconciler) runningConfigHash(ctx context.Context, p *v1alpha1.AuditPipeline, workload client.Object) (string, error) {
	live := workload.DeepCopyObject().(client.Object)
	err := r.Get(ctx, client.ObjectKey{Namespace: p.Namespace, Name: workload.GetName()}, live)
	if apierrors.IsNotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("get %s: %w", workload.GetName(), err)
	}
	switch w := live.(type) {
	case *appsv1.DaemonSet:
		return w.Spec.Template.Annotations[vector.AnnotationConfigHash], nil
	case *appsv1.StatefulSet:
		return w.Spec.Template.Annotations[vector.AnnotationConfigHash], nil
	}
	return "", fmt.Errorf("no config hash on a %T", live)
}

// ensureValidationJob returns the validation Job of v's configuration, creating it if it is missing, and
// while it has not finished makes sure the hash-suffixed ConfigMap it mounts exists. That ConfigMap is
// owned by the Job, so it goes when the Job's TTL ends.
func (r *AuditPipelineReconciler) ensureValidationJob(ctx context.Context, p *v1alpha1.AuditPipeline, v validation) (*batchv1.Job, error) {
	job := &batchv1.Job{}
	name := vector.ValidationName(v.workload.GetName(), v.hash)
	err := r.Get(ctx, client.ObjectKey{Namespace: p.Namespace, Name: name}, job)
	if apierrors.IsNotFound(err) {
		job = vector.ValidationJob(v.workload.GetName(), v.template, vector.ValidationName(v.config.Name, v.hash), v.hash)
		err = r.applyChild(ctx, p, job)
	}
	if err != nil {
		return nil, fmt.Errorf("validation Job %s: %w", name, err)
	}
	if finished, _ := jobOutcome(job); finished {
		return job, nil
	}
	cm := vector.ValidationConfigMap(v.config, v.hash)
	cm.Namespace = p.Namespace
	labels := childLabels(p)
	maps.Copy(labels, cm.Labels)
	cm.Labels = labels
	if err := controllerutil.SetControllerReference(job, cm, r.Scheme()); err != nil {
		return nil, fmt.Errorf("own ConfigMap %s: %w", cm.Name, err)
	}
	if err := r.Create(ctx, cm); err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, fmt.Errorf("create ConfigMap %s: %w", cm.Name, err)
	}
	return job, nil
}

// jobOutcome reads a Job's terminal conditions.
func jobOutcome(job *batchv1.Job) (finished, succeeded bool) {
	for _, c := range job.Status.Conditions {
		if c.Status != corev1.ConditionTrue {
			continue
		}
		switch c.Type {
		case batchv1.JobComplete:
			return true, true
		case batchv1.JobFailed:
			return true, false
		}
	}
	return false, false
}
