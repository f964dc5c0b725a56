package controller

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
	"github.com/auditpipeline/auditpipeline-operator/internal/canary"
	"github.com/auditpipeline/auditpipeline-operator/internal/render/vector"
)

// The canary's defaults, as the CRD's, for objects written before spec.canary existed.
const (
	defaultCanaryInterval = time.Minute
	defaultCanaryDeadline = 5 * time.Minute
	// canaryCheckEvery bounds how often the operator queries ClickHouse for one pipeline's canaries and
	// freshness, however often the pipeline is reconciled.
	canaryCheckEvery = 10 * time.Second
	// freshnessEvery is how often the freshness is read when the canary is off.
	freshnessEvery = time.Minute
)

// canaryChecks remembers when each pipeline last queried ClickHouse for the canary, so that passes
// triggered by other changes do not query it again.
type canaryChecks struct {
	mu   sync.Mutex
	last map[types.UID]time.Time
	// rounds counts, per pipeline, the rounds due has allowed: each makes at most two queries.
	rounds map[types.UID]int
}

// due reports whether uid may query now, and if so records it.
func (c *canaryChecks) due(uid types.UID, now time.Time, every time.Duration) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.last == nil {
		c.last, c.rounds = map[types.UID]time.Time{}, map[types.UID]int{}
	}
	if t, ok := c.last[uid]; ok && now.Sub(t) < every {
		return false
	}
	c.last[uid] = now
	c.rounds[uid]++
	return true
}

// roundsOf is how many query rounds uid has made.
func (c *canaryChecks) roundsOf(uid types.UID) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rounds[uid]
}

func (c *canaryChecks) forget(uid types.UID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.last, uid)
	delete(c.rounds, uid)
}

func canaryTimes(p *v1alpha1.AuditPipeline) (interval, deadline time.Duration) {
	interval, deadline = defaultCanaryInterval, defaultCanaryDeadline
	if c := p.Spec.Canary.Interval; c != nil {
		interval = c.Duration
	}
	if d := p.Spec.Canary.Deadline.Duration; d > 0 {
		deadline = d
	}
	return interval, deadline
}

// reconcileCanary is the canary step (EventsFlowing): every spec.canary.interval it makes one request
// the audit policy records, with an Audit-ID of its own (canary.ID), and looks for the audit events of
// the canaries it sent, at most every canaryCheckEvery, in one bounded query. A canary unseen after
// half the deadline makes EventsFlowing False/Late; after the deadline it is lost (Lost, an Event, a
// counter). It also reads the freshness of the pipeline's cluster's events. It needs the schema at its
// target (this pass's migrator) to query; it sends regardless. EventsFlowing is not part of Ready.
func (r *AuditPipelineReconciler) reconcileCanary(ctx context.Context, p *v1alpha1.AuditPipeline) (ctrl.Result, error) {
	interval, deadline := canaryTimes(p)
	now := time.Now()
	m := passOf(ctx).migrator
	if interval == 0 {
		p.Status.Canary = nil
		setCondition(p, v1alpha1.ConditionEventsFlowing, metav1.ConditionUnknown, v1alpha1.ReasonCanaryDisabled,
			"spec.canary.interval is 0s: the operator does not check that events reach ClickHouse")
		if m != nil && r.canary.due(p.UID, now, freshnessEvery) {
			r.readFreshness(ctx, p, now)
		}
		return ctrl.Result{RequeueAfter: freshnessEvery}, nil
	}
	st := p.Status.Canary
	if st == nil {
		st = &v1alpha1.CanaryStatus{}
		p.Status.Canary = st
	}
	requeue := interval
	seen := false
	if m != nil && len(st.Pending) > 0 && r.canary.due(p.UID, now, min(canaryCheckEvery, interval)) {
		var err error
		if seen, err = r.checkCanaries(ctx, p, st, now); err != nil {
			logf.FromContext(ctx).Info("canary check failed; retrying", "error", err.Error())
		}
		r.readFreshness(ctx, p, now)
	}
	// Lost: unseen past the deadline.
	kept, lost := st.Pending[:0], false
	for _, c := range st.Pending {
		if now.Sub(c.SentAt.Time) < deadline {
			kept = append(kept, c)
			continue
		}
		lost = true
		st.Lost++
		canaryLost.WithLabelValues(p.Namespace, p.Name).Inc()
		r.event(p, corev1.EventTypeWarning, "CanaryLost", "Canary",
			"canary %d (audit ID %s, sent %s) was not found in ClickHouse within %s", c.Sequence, c.AuditID,
			c.SentAt.UTC().Format(time.RFC3339), deadline)
	}
	st.Pending = kept
	// Send when due.
	if r.CanaryClient != nil && (st.LastSent == nil || now.Sub(st.LastSent.SentAt.Time) >= interval) {
		seq := int64(1)
		if st.LastSent != nil {
			seq = st.LastSent.Sequence + 1
		}
		id := canary.ID(p.UID, seq)
		if err := canary.Send(ctx, r.CanaryClient, p.Namespace, vector.NamesFor(p).CollectorConfig, id); err != nil {
			logf.FromContext(ctx).Info("canary request failed; retrying", "error", err.Error())
			requeue = min(requeue, canaryCheckEvery)
		} else {
			probe := v1alpha1.CanaryProbe{Sequence: seq, AuditID: id.String(), SentAt: metav1.NewTime(now)}
			st.LastSent = &probe
			st.Pending = append(st.Pending, probe)
			canarySent.WithLabelValues(p.Namespace, p.Name).Inc()
		}
	}
	setCanaryCondition(p, st, now, deadline, lost, seen)
	if len(st.Pending) > 0 {
		requeue = min(requeue, canaryCheckEvery)
	}
	return ctrl.Result{RequeueAfter: requeue}, nil
}

// checkCanaries marks seen the pending canaries whose audit events are in ClickHouse, and says whether
// it found any.
func (r *AuditPipelineReconciler) checkCanaries(ctx context.Context, p *v1alpha1.AuditPipeline, st *v1alpha1.CanaryStatus, now time.Time) (bool, error) {
	m := passOf(ctx).migrator
	ids := make([]uuid.UUID, 0, len(st.Pending))
	for _, c := range st.Pending {
		if id, err := uuid.Parse(c.AuditID); err == nil {
			ids = append(ids, id)
		}
	}
	from := st.Pending[0].SentAt.Add(-time.Minute) // the API server's clock may run behind ours
	found, err := canary.Seen(ctx, m.DB(), m.Database(), p.Status.ClusterName, from, ids)
	if err != nil {
		return false, err
	}
	kept := st.Pending[:0]
	for _, c := range st.Pending {
		id, _ := uuid.Parse(c.AuditID)
		if !found[id] {
			kept = append(kept, c)
			continue
		}
		latency := now.Sub(c.SentAt.Time)
		canarySeen.WithLabelValues(p.Namespace, p.Name).Inc()
		canaryLatency.WithLabelValues(p.Namespace, p.Name).Observe(latency.Seconds())
		if st.LastSeen == nil || c.Sequence > st.LastSeen.Sequence {
			seen := c
			st.LastSeen = &seen
			st.LastSeenAt = &metav1.Time{Time: now}
			st.Latency = &metav1.Duration{Duration: latency.Round(time.Millisecond)}
		}
	}
	st.Pending = kept
	return len(found) > 0, nil
}

// setCanaryCondition sets EventsFlowing from what the canary knows: Lost when a canary was lost in this
// pass, or was before and none has been seen since; else Late while a canary is unseen past half the
// deadline; Flowing once a canary was seen; NotYetSeen before any was.
func setCanaryCondition(p *v1alpha1.AuditPipeline, st *v1alpha1.CanaryStatus, now time.Time, deadline time.Duration, lostNow, seenNow bool) {
	var late *v1alpha1.CanaryProbe
	for i := range st.Pending {
		if now.Sub(st.Pending[i].SentAt.Time) >= deadline/2 {
			late = &st.Pending[i]
			break
		}
	}
	prev := ""
	if c := apimeta.FindStatusCondition(p.Status.Conditions, v1alpha1.ConditionEventsFlowing); c != nil {
		prev = c.Reason
	}
	switch {
	case lostNow || prev == v1alpha1.ReasonCanaryLost && !seenNow:
		setCondition(p, v1alpha1.ConditionEventsFlowing, metav1.ConditionFalse, v1alpha1.ReasonCanaryLost,
			fmt.Sprintf("%d canaries were never found in ClickHouse within %s, and none since: check the API server's audit webhook, the collector, JetStream and the aggregator (docs/operations.md#events-not-flowing)", st.Lost, deadline))
	case late != nil:
		setCondition(p, v1alpha1.ConditionEventsFlowing, metav1.ConditionFalse, v1alpha1.ReasonCanaryLate,
			fmt.Sprintf("canary %d (audit ID %s, sent at %s) is not in ClickHouse yet; it counts as lost at %s", late.Sequence, late.AuditID,
				late.SentAt.UTC().Format(time.RFC3339), late.SentAt.Add(deadline).UTC().Format(time.RFC3339)))
	case st.LastSeen != nil:
		setCondition(p, v1alpha1.ConditionEventsFlowing, metav1.ConditionTrue, v1alpha1.ReasonFlowing,
			fmt.Sprintf("canary %d reached ClickHouse in %s", st.LastSeen.Sequence, st.Latency.Duration))
	default:
		setCondition(p, v1alpha1.ConditionEventsFlowing, metav1.ConditionUnknown, v1alpha1.ReasonNotYetSeen,
			"no canary found in ClickHouse yet")
	}
}

// readFreshness records how recent the cluster's stored events are; a failure keeps what was read before.
func (r *AuditPipelineReconciler) readFreshness(ctx context.Context, p *v1alpha1.AuditPipeline, now time.Time) {
	m := passOf(ctx).migrator
	f, err := canary.ReadFreshness(ctx, m.DB(), m.Database(), p.Status.ClusterName, now)
	if err != nil {
		logf.FromContext(ctx).Info("freshness read failed", "error", err.Error())
		return
	}
	fs := p.Status.Freshness
	if fs == nil || fs.Cluster != p.Status.ClusterName {
		// A renamed cluster (spec.clusterName) starts afresh: the old name's newest event is not its.
		fs = &v1alpha1.FreshnessStatus{Cluster: p.Status.ClusterName}
		p.Status.Freshness = fs
		newestEventGauge.DeletePartialMatch(prometheus.Labels{"namespace": p.Namespace, "name": p.Name})
	}
	fs.CheckedAt = &metav1.Time{Time: now}
	fs.RecentEvents = int64(f.Recent)
	if !f.Newest.IsZero() {
		fs.NewestEvent = &metav1.Time{Time: f.Newest}
	}
	recentEventsGauge.WithLabelValues(p.Namespace, p.Name).Set(float64(f.Recent))
	if fs.NewestEvent != nil {
		newestEventGauge.WithLabelValues(p.Namespace, p.Name, p.Status.ClusterName).Set(float64(fs.NewestEvent.Unix()))
	}
}

// NewCanaryClient is the client the canary's requests go through: the core API group, as the operator,
// with canary.UserAgent as user agent.
func NewCanaryClient(cfg *rest.Config) (rest.Interface, error) {
	cfg = rest.CopyConfig(cfg)
	cfg.UserAgent = canary.UserAgent
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("canary client: %w", err)
	}
	return cs.CoreV1().RESTClient(), nil
}
