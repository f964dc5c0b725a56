package auditapi

import (
	"context"
	"errors"
	"strconv"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apimachinery/pkg/watch"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/klog/v2"

	"github.com/auditpipeline/auditpipeline-operator/internal/query"
)

// WatchInterval is how often a watch asks ClickHouse for new events.
const WatchInterval = 2 * time.Second

var _ rest.Watcher = (*eventsREST)(nil)

// resourceVersion is an event's resource version: its stageTimestamp in microseconds since the epoch, the
// order events are listed in. A list's is the end of its time range.
func resourceVersion(t time.Time) string { return strconv.FormatInt(t.UnixMicro(), 10) }

// Watch follows the events of the request's scope and field selector newer than the resource version (a
// list's, or now when none is given), polling every WatchInterval as `kubectl auditpipeline tail -f` does
// (query.Follow): each event once, as ADDED; an event that reaches ClickHouse more than 30 s after newer
// ones may be missed.
func (s *eventsREST) Watch(ctx context.Context, o *metainternalversion.ListOptions) (watch.Interface, error) {
	now := s.now()
	r := query.Request{Now: now}
	start := now
	if o != nil {
		if o.LabelSelector != nil && !o.LabelSelector.Empty() {
			return nil, apierrors.NewBadRequest("audit events have no labels: use a field selector (verb, user.username, objectRef.resource, objectRef.name)")
		}
		if err := fromSelector(&r, o.FieldSelector); err != nil {
			return nil, apierrors.NewBadRequest(err.Error())
		}
		if !r.From.IsZero() || !r.To.IsZero() {
			return nil, apierrors.NewBadRequest("a watch follows new events: since and until are for lists")
		}
		if rv := o.ResourceVersion; rv != "" && rv != "0" {
			us, err := strconv.ParseInt(rv, 10, 64)
			if err != nil {
				return nil, apierrors.NewBadRequest("resourceVersion must be a list's resourceVersion (microseconds since the epoch)")
			}
			start = time.UnixMicro(us).UTC()
			if now.Sub(start) > query.DefaultWindow {
				return nil, apierrors.NewResourceExpired("resourceVersion is older than a day: list again")
			}
		}
	}
	namespace := genericapirequest.NamespaceValue(ctx)
	// The first round answers now, so that a watch the caller may not make fails at once.
	if _, err := list(ctx, s.src, query.Request{Now: now, From: now, To: now, Limit: 1, Cluster: r.Cluster,
		User: r.User, Verb: r.Verb, Resource: r.Resource, Name: r.Name, Namespace: r.Namespace}, namespace, field.NewPath("watch")); err != nil {
		return nil, err
	}
	ch := make(chan watch.Event)
	w := watch.NewProxyWatcher(ch)
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	go func() {
		<-w.StopChan()
		cancel()
	}()
	go func() {
		defer close(ch)
		l := scopedLister{src: s.src, namespace: namespace}
		err := query.Follow(wctx, l, r, s.now().Sub(start), WatchInterval, func(e query.Event) error {
			ev := auditEvent(e)
			ev.ResourceVersion = resourceVersion(e.Time)
			select {
			case ch <- watch.Event{Type: watch.Added, Object: &ev}:
				return nil
			case <-wctx.Done():
				return wctx.Err()
			}
		}, func(msg string) { klog.InfoS("Audit event watch: "+msg, "namespace", namespace) })
		if err != nil && !errors.Is(err, context.Canceled) {
			status := apierrors.NewInternalError(err).Status()
			if se, ok := err.(apierrors.APIStatus); ok {
				status = se.Status()
			}
			select {
			case ch <- watch.Event{Type: watch.Error, Object: &status}:
			case <-wctx.Done():
			}
		}
	}()
	return w, nil
}

// scopedLister lists as the request's caller may (list): query.Follow's Lister for a watch.
type scopedLister struct {
	src       Source
	namespace string
}

func (l scopedLister) List(ctx context.Context, r query.Request) (query.Page, error) {
	return list(ctx, l.src, r, l.namespace, field.NewPath("watch"))
}
