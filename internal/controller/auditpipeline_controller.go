package controller

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"time"

	nack "github.com/nats-io/nack/pkg/jetstream/apis/jetstream/v1beta2"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	kerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
	"github.com/auditpipeline/auditpipeline-operator/internal/altinity"
)

// AuditPipelineReconciler reconciles AuditPipeline objects into the pipeline's components.
type AuditPipelineReconciler struct {
	client.Client

	// APIReader reads objects the operator must not cache, such as Secrets.
	APIReader client.Reader

	// Recorder emits Events on condition transitions.
	Recorder events.EventRecorder

	// Identity names this operator instance (its pod name) in the schema lock, so another migrator that
	// finds the lock held can tell who holds it. Empty means the host name.
	Identity string

	// CanaryClient makes the canary's requests (spec.canary): a client of the core API group whose user
	// agent is canary.UserAgent. Nil turns the canary's requests off.
	CanaryClient rest.Interface

	// canary bounds the canary's ClickHouse queries per pipeline.
	canary canaryChecks

	// WaitInterval is the base delay before a pipeline that waits for a component is looked at again;
	// a jitter of up to 50% is added. Zero means 10s.
	WaitInterval time.Duration

	// ValidateVectorConfig makes a short-lived Job run `vector validate` on a new agent or aggregator
	// configuration before the workload rolls to it; a configuration Vector rejects is never rolled out.
	ValidateVectorConfig bool

	// MaxConcurrentReconciles is how many pipelines are reconciled at once (one pipeline is never
	// reconciled twice at the same time). Zero means DefaultMaxConcurrentReconciles.
	MaxConcurrentReconciles int

	// refusedAt remembers, per pipeline and step, the generation whose child the API
	// server refused as Invalid: the step is not run again until the spec changes or refusalRetry has
	// passed (the refusal may come from an admission policy, or another manager's fields).
	refusedAt sync.Map // refusalKey -> refusal

	// applied remembers the last apply of each child, to skip applies that would change nothing.
	applied sync.Map // appliedKey -> appliedState

	// uids maps each pipeline seen to its UID, to forget the above when it is gone.
	uids sync.Map // types.NamespacedName -> types.UID

	// clusterID is the UID of the kube-system namespace, read once (retentionOwnerID).
	clusterMu sync.Mutex
	clusterID string
}

// DefaultMaxConcurrentReconciles lets pipelines converge side by side, so that one whose ClickHouse hangs
// (a pass waits up to 2 x clickhouse.DialTimeout to find it unreachable) does not hold the others back.
const DefaultMaxConcurrentReconciles = 4

// step is one component's reconciliation. It records its own condition on the pipeline's status.
type step struct {
	condition string
	run       func(ctx context.Context, p *v1alpha1.AuditPipeline) (ctrl.Result, error)
}

// refusalKey names one step of one pipeline: steps are numbered in the order of the list, as two may
// report through one condition (schema and retention).
type refusalKey struct {
	pipeline types.UID
	step     int
}

// refusal is the generation whose child was refused, the condition message that says so, and when.
type refusal struct {
	generation int64
	message    string
	at         time.Time
}

// refusalRetry is how long a refused step waits, with the spec unchanged, before it tries again.
const refusalRetry = 10 * time.Minute

// +kubebuilder:rbac:groups=auditpipeline.io,resources=auditpipelines,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=auditpipeline.io,resources=auditpipelines/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=auditpipeline.io,resources=auditpipelines/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=namespaces,resourceNames=kube-system,verbs=get
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=jetstream.nats.io,resources=streams;consumers;accounts,verbs=get;list;watch;create;update;patch;delete

// Reconcile brings one AuditPipeline closer to its spec and writes its status once.
func (r *AuditPipelineReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	p := &v1alpha1.AuditPipeline{}
	if err := r.Get(ctx, req.NamespacedName, p); err != nil {
		if apierrors.IsNotFound(err) {
			// Gone without our finalizer's pass (removed by hand): forget it all the same.
			if uid, ok := r.uids.LoadAndDelete(req.NamespacedName); ok {
				r.forget(uid.(types.UID))
			}
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	r.uids.Store(req.NamespacedName, p.UID)
	base := p.DeepCopy()

	defer func() {
		if err := r.patchStatus(ctx, base, p, retErr); err != nil {
			retErr = kerrors.NewAggregate([]error{retErr, err})
		}
	}()

	if !p.DeletionTimestamp.IsZero() {
		return r.reconcileDelete(ctx, p)
	}
	if !controllerutil.ContainsFinalizer(p, Finalizer) {
		controllerutil.AddFinalizer(p, Finalizer)
		if err := r.Patch(ctx, p, client.MergeFrom(base.DeepCopy())); err != nil {
			return ctrl.Result{}, fmt.Errorf("add finalizer: %w", err)
		}
		base.Finalizers, base.ResourceVersion = p.Finalizers, p.ResourceVersion
	}
	if p.Spec.Suspend {
		markSuspended(p)
		return ctrl.Result{}, nil
	}
	ctx, pass := withPass(ctx)
	defer pass.close()
	return r.runSteps(ctx, p, []step{
		{v1alpha1.ConditionClickHouseReady, r.reconcileClickHouse},
		{v1alpha1.ConditionSchemaReady, r.reconcileSchema},
		{v1alpha1.ConditionSchemaReady, r.reconcileRetention},
		{v1alpha1.ConditionStreamReady, r.reconcileStream},
		{v1alpha1.ConditionCollectorReady, r.reconcileCollector},
		{v1alpha1.ConditionAggregatorReady, r.reconcileAggregator},
		{v1alpha1.ConditionEventsFlowing, r.reconcileCanary},
	})
}

// runSteps runs every step in order, keeps the shortest requeue, aggregates the errors and summarises the
// conditions. A pipeline that is still converging is looked at again after a jittered wait. A step whose
// child the API server refused as Invalid sets its condition to InvalidSpec, which stalls the pipeline,
// and is not run again until the spec changes, or after refusalRetry for a cause outside the spec.
func (r *AuditPipelineReconciler) runSteps(ctx context.Context, p *v1alpha1.AuditPipeline, steps []step) (ctrl.Result, error) {
	var result ctrl.Result
	var errs []error
	for i, s := range steps {
		key := refusalKey{p.UID, i}
		if v, ok := r.refusedAt.Load(key); ok && v.(refusal).generation == p.Generation {
			if wait := refusalRetry - time.Since(v.(refusal).at); wait > 0 {
				// Said again: the status read at the start of this pass may predate the refusal.
				markComponentNotReady(p, s.condition, v1alpha1.ReasonInvalidSpec, "%s", v.(refusal).message)
				result = lowestRequeue(result, ctrl.Result{RequeueAfter: wait})
				continue
			}
		}
		r.refusedAt.Delete(key)
		res, err := s.run(ctx, p)
		var refused *childRefusedError
		if errors.As(err, &refused) {
			msg := refused.conditionMessage()
			r.refusedAt.Store(key, refusal{p.Generation, msg, time.Now()})
			err = notReady(v1alpha1.ReasonInvalidSpec, "%s", msg).after(refusalRetry)
		}
		res, err = applyOutcome(p, s.condition, res, err)
		if err != nil {
			errs = append(errs, err)
		}
		result = lowestRequeue(result, res)
	}
	err := kerrors.NewAggregate(errs)
	summarize(p, err)
	if err != nil {
		return ctrl.Result{}, err
	}
	if apimeta.IsStatusConditionTrue(p.Status.Conditions, v1alpha1.ConditionReconciling) {
		result = lowestRequeue(result, ctrl.Result{RequeueAfter: r.jitteredWait()})
	}
	return result, nil
}

// patchStatus summarises the outcome and writes status once. observedGeneration moves only when the pass
// succeeded, so status never claims more than happened.
func (r *AuditPipelineReconciler) patchStatus(ctx context.Context, base, p *v1alpha1.AuditPipeline, reconcileErr error) error {
	if reconcileErr != nil && !errors.Is(reconcileErr, context.Canceled) {
		if p.DeletionTimestamp.IsZero() {
			summarize(p, reconcileErr)
		}
	} else if reconcileErr == nil {
		p.Status.ObservedGeneration = p.Generation
	}
	r.recordTransitions(base, p)
	patch := client.MergeFrom(base)
	if data, err := patch.Data(p); err == nil && string(data) == "{}" {
		recordMetrics(p)
		return nil // nothing changed: no write
	}
	err := r.Status().Patch(ctx, p, patch)
	if apierrors.IsNotFound(err) {
		forgetMetrics(p)
		return nil
	}
	recordMetrics(p)
	if err != nil {
		return fmt.Errorf("patch status: %w", err)
	}
	return nil
}

// recordTransitions emits an Event for each component or Ready condition whose status changed.
func (r *AuditPipelineReconciler) recordTransitions(base, p *v1alpha1.AuditPipeline) {
	types := append([]string{v1alpha1.ConditionReady}, v1alpha1.ComponentConditions...)
	for _, t := range types {
		now := apimeta.FindStatusCondition(p.Status.Conditions, t)
		if now == nil {
			continue
		}
		before := apimeta.FindStatusCondition(base.Status.Conditions, t)
		if before != nil && before.Status == now.Status && before.Reason == now.Reason {
			continue
		}
		eventType := corev1.EventTypeNormal
		if now.Status == metav1.ConditionFalse {
			eventType = corev1.EventTypeWarning
		}
		r.event(p, eventType, now.Reason, t, "%s is %s: %s", t, now.Status, now.Message)
	}
}

// maxEventNote is the API server's limit on an Event's note; a longer Event is refused and lost.
const maxEventNote = 1024

// event emits an Event on p. A note over the API server's limit is cut (at a character boundary) and
// marked; the full text stays in the condition it reports.
func (r *AuditPipelineReconciler) event(p *v1alpha1.AuditPipeline, eventType, reason, action, note string, args ...any) {
	if r.Recorder != nil {
		r.Recorder.Eventf(p, nil, eventType, reason, action, "%s", eventNote(fmt.Sprintf(note, args...)))
	}
}

// eventNote cuts note to maxEventNote bytes, saying where the rest is.
func eventNote(note string) string {
	const rest = " (see status.conditions)"
	if len(note) <= maxEventNote {
		return note
	}
	return shorten(note, maxEventNote-len(rest)-len("...")) + rest
}

func (r *AuditPipelineReconciler) identity() string {
	if r.Identity != "" {
		return r.Identity
	}
	if host, err := os.Hostname(); err == nil {
		return host
	}
	return "auditpipeline-operator"
}

func (r *AuditPipelineReconciler) jitteredWait() time.Duration {
	wait := r.WaitInterval
	if wait <= 0 {
		wait = 10 * time.Second
	}
	return wait + time.Duration(rand.Int64N(int64(wait/2)+1))
}

// lowestRequeue keeps the sooner of two requeue requests.
func lowestRequeue(a, b ctrl.Result) ctrl.Result {
	switch {
	case a.RequeueAfter == 0:
		return b
	case b.RequeueAfter == 0 || a.RequeueAfter <= b.RequeueAfter:
		return a
	default:
		return b
	}
}

// SetupWithManager registers the reconciler, its field index and its watches with mgr.
func (r *AuditPipelineReconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager) error {
	if err := mgr.GetFieldIndexer().IndexField(ctx, &v1alpha1.AuditPipeline{}, secretRefsIndex,
		func(o client.Object) []string { return referencedSecretNames(o.(*v1alpha1.AuditPipeline)) }); err != nil {
		return fmt.Errorf("index AuditPipelines by Secret: %w", err)
	}
	b := ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.AuditPipeline{}, builder.WithPredicates(predicate.Or(
			predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{},
			deletionPredicate()))).
		WatchesMetadata(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.pipelinesForSecret)).
		Owns(&appsv1.DaemonSet{}).
		Owns(&appsv1.StatefulSet{}).
		Owns(&batchv1.Job{}).
		Owns(&corev1.ConfigMap{}, builder.OnlyMetadata).
		Owns(&corev1.Service{}, builder.OnlyMetadata).
		Owns(&policyv1.PodDisruptionBudget{}, builder.OnlyMetadata).
		Owns(&autoscalingv2.HorizontalPodAutoscaler{}, builder.OnlyMetadata).
		Named("auditpipeline").
		WithOptions(controller.Options{MaxConcurrentReconciles: cmp.Or(r.MaxConcurrentReconciles, DefaultMaxConcurrentReconciles)})
	for _, obj := range []client.Object{&altinity.ClickHouseInstallation{}, &altinity.ClickHouseKeeperInstallation{},
		&nack.Stream{}, &nack.Consumer{}} {
		if err := ownsIfInstalled(ctx, mgr, b, obj); err != nil {
			return err
		}
	}
	return b.Complete(r)
}

// ownsIfInstalled watches children of a kind from another operator (Altinity, NACK) only when its CRD is
// installed, so that the operator also runs in clusters that use only external components. A pipeline
// that needs a missing kind reports DependencyMissing.
func ownsIfInstalled(ctx context.Context, mgr ctrl.Manager, b *builder.Builder, obj client.Object) error {
	gvk, err := apiutil.GVKForObject(obj, mgr.GetScheme())
	if err != nil {
		return err
	}
	if _, err := mgr.GetRESTMapper().RESTMapping(gvk.GroupKind(), gvk.Version); err != nil {
		if apimeta.IsNoMatchError(err) {
			logf.FromContext(ctx).Info("CRD not installed: not watching this kind; restart the operator after installing it",
				"kind", gvk.String())
			return nil
		}
		return fmt.Errorf("look up %s: %w", gvk, err)
	}
	b.Owns(obj)
	return nil
}

// deletionPredicate lets through the update that sets deletionTimestamp, which changes no generation.
func deletionPredicate() predicate.Funcs {
	return predicate.Funcs{
		UpdateFunc: func(e event.UpdateEvent) bool { return !e.ObjectNew.GetDeletionTimestamp().IsZero() },
	}
}
