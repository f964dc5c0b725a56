package auditapi

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/google/uuid"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/klog/v2"

	auditv1alpha1 "github.com/auditpipeline/auditpipeline-operator/api/audit/v1alpha1"
	"github.com/auditpipeline/auditpipeline-operator/internal/query"
)

// Reader reads audit events: *query.Client, on the pipeline's database.
type Reader = query.Reader

// Source gives a request what it reads: a Reader and the pipeline's Scope. An error is the server's
// (the pipeline or its database unreachable): the caller gets 503 Service Unavailable with it.
type Source interface {
	Reader(ctx context.Context) (Reader, Scope, error)
}

var groupResource = schema.GroupResource{Group: auditv1alpha1.Group, Resource: auditv1alpha1.ResourceAuditEvents}

// unavailable is the caller's error when the database cannot be read: the details (addresses, Secret
// names, the user) go to the server's log, not to every caller.
func unavailable(err error) error {
	klog.ErrorS(err, "Cannot read the audit database")
	return apierrors.NewServiceUnavailable("the audit database cannot be read now; the audit API server's log says why")
}

// list runs one scoped page of r for the request of ctx.
func list(ctx context.Context, src Source, r query.Request, namespace string, path *field.Path) (query.Page, error) {
	l, scope, err := src.Reader(ctx)
	if err != nil {
		return query.Page{}, unavailable(err)
	}
	if r, err = scope.scoped(r, namespace); err != nil {
		switch {
		case scope.Cluster == "":
			return query.Page{}, apierrors.NewServiceUnavailable(err.Error())
		case errors.Is(err, errTenancy):
			return query.Page{}, apierrors.NewForbidden(groupResource, "", err)
		}
		return query.Page{}, apierrors.NewBadRequest(err.Error())
	}
	r.Whole = true
	page, err := l.List(ctx, r)
	var qe *query.Error
	switch {
	case err == nil:
		return page, nil
	case errors.Is(err, query.ErrBadContinue):
		return page, apierrors.NewBadRequest(fmt.Sprintf("%s: %v", path.Child("continue"), err))
	case errors.Is(err, query.ErrInvalid):
		return page, apierrors.NewBadRequest(err.Error())
	case errors.As(err, &qe):
		return page, apierrors.NewBadRequest(fmt.Sprintf("%s: %v", path.Child("filter"), err))
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return page, apierrors.NewTimeoutError("the audit database did not answer in time", 0)
	}
	if isTimeout(err) {
		return page, apierrors.NewTimeoutError("the query ran past the server's limit (audit-api --query-timeout): narrow the time range or the filter", 0)
	}
	return page, unavailable(err)
}

// isTimeout is whether ClickHouse stopped the query at max_execution_time (TIMEOUT_EXCEEDED, code 159).
func isTimeout(err error) bool {
	var ex *clickhouse.Exception
	return errors.As(err, &ex) && ex.Code == 159
}

// auditEvent is the API object of a stored event.
func auditEvent(e query.Event) auditv1alpha1.AuditEvent {
	return auditv1alpha1.AuditEvent{
		ObjectMeta: metav1.ObjectMeta{Name: e.AuditID, Namespace: e.Namespace, CreationTimestamp: metav1.NewTime(e.Time),
			ResourceVersion: resourceVersion(e.Time)},
		Event: runtime.RawExtension{Raw: []byte(e.JSON)},
	}
}

// limit maps a list's limit onto the query's bounds: none gives query.DefaultLimit, more than
// query.MaxLimit gives MaxLimit (a server may return fewer items than the limit, with a continue token).
func limit(n int64) int {
	switch {
	case n <= 0:
		return query.DefaultLimit
	case n > query.MaxLimit:
		return query.MaxLimit
	}
	return int(n)
}

// eventsREST serves auditevents: list only.
type eventsREST struct {
	src Source
	now func() time.Time
}

var (
	_ rest.Getter               = (*eventsREST)(nil)
	_ rest.Lister               = (*eventsREST)(nil)
	_ rest.Scoper               = (*eventsREST)(nil)
	_ rest.SingularNameProvider = (*eventsREST)(nil)
	_ rest.Storage              = (*eventsREST)(nil)
)

func (*eventsREST) New() runtime.Object     { return &auditv1alpha1.AuditEvent{} }
func (*eventsREST) NewList() runtime.Object { return &auditv1alpha1.AuditEventList{} }
func (*eventsREST) Destroy()                {}
func (*eventsREST) NamespaceScoped() bool   { return true }
func (*eventsREST) GetSingularName() string { return "auditevent" }
func (*eventsREST) ConvertToTable(ctx context.Context, obj runtime.Object, _ runtime.Object) (*metav1.Table, error) {
	return eventTable(obj)
}

// List returns one page of the events of the request's namespace (all of them for a cluster-wide list)
// that match the field selector, newest first.
func (s *eventsREST) List(ctx context.Context, o *metainternalversion.ListOptions) (runtime.Object, error) {
	r := query.Request{Now: s.now()}
	if o != nil {
		if o.LabelSelector != nil && !o.LabelSelector.Empty() {
			return nil, apierrors.NewBadRequest("audit events have no labels: use a field selector (verb, user.username, objectRef.resource, objectRef.name, since, until)")
		}
		if err := fromSelector(&r, o.FieldSelector); err != nil {
			return nil, apierrors.NewBadRequest(err.Error())
		}
		r.Limit, r.Continue = limit(o.Limit), o.Continue
	}
	page, err := list(ctx, s.src, r, genericapirequest.NamespaceValue(ctx), field.NewPath("listOptions"))
	if err != nil {
		return nil, err
	}
	// The list's resource version is now, where a watch (kubectl get -w) goes on from.
	out := &auditv1alpha1.AuditEventList{ListMeta: metav1.ListMeta{Continue: page.Continue, ResourceVersion: resourceVersion(r.Now)},
		Items: make([]auditv1alpha1.AuditEvent, 0, len(page.Events))}
	for _, e := range page.Events {
		out.Items = append(out.Items, auditEvent(e))
	}
	return out, nil
}

// Get returns the event whose audit ID is name, in the request's namespace (a cluster-scoped object's
// events have none: list them with -A). It searches the whole audit trail of the scope, which with
// namespace tenancy reads the tenant's audit IDs only.
func (s *eventsREST) Get(ctx context.Context, name string, _ *metav1.GetOptions) (runtime.Object, error) {
	if _, err := uuid.Parse(name); err != nil {
		return nil, apierrors.NewNotFound(groupResource, name)
	}
	now := s.now()
	r := query.Request{Now: now, AuditID: name, From: time.Unix(0, 0).UTC(), To: now.Add(24 * time.Hour), Limit: 1}
	page, err := list(ctx, s.src, r, genericapirequest.NamespaceValue(ctx), field.NewPath("name"))
	if err != nil {
		return nil, err
	}
	if len(page.Events) == 0 {
		return nil, apierrors.NewNotFound(groupResource, name)
	}
	e := auditEvent(page.Events[0])
	return &e, nil
}

// queryREST serves auditeventqueries (namespaced) and clusterauditeventqueries: create only, never stored.
type queryREST struct {
	src     Source
	authz   authorizer.Authorizer
	cluster bool
	now     func() time.Time
}

var (
	_ rest.Creater              = (*queryREST)(nil)
	_ rest.Scoper               = (*queryREST)(nil)
	_ rest.SingularNameProvider = (*queryREST)(nil)
	_ rest.Storage              = (*queryREST)(nil)
)

func (q *queryREST) New() runtime.Object {
	if q.cluster {
		return &auditv1alpha1.ClusterAuditEventQuery{}
	}
	return &auditv1alpha1.AuditEventQuery{}
}
func (*queryREST) Destroy()                {}
func (q *queryREST) NamespaceScoped() bool { return !q.cluster }
func (q *queryREST) GetSingularName() string {
	if q.cluster {
		return "clusterauditeventquery"
	}
	return "auditeventquery"
}

// Create answers the query in the object's status. The caller must be allowed to list auditevents in the
// query's namespace (cluster-wide for a ClusterAuditEventQuery), whatever else RBAC grants.
func (q *queryREST) Create(ctx context.Context, obj runtime.Object, validate rest.ValidateObjectFunc, _ *metav1.CreateOptions) (runtime.Object, error) {
	var spec *auditv1alpha1.AuditEventQuerySpec
	var status *auditv1alpha1.AuditEventQueryStatus
	switch o := obj.(type) {
	case *auditv1alpha1.AuditEventQuery:
		spec, status = &o.Spec, &o.Status
	case *auditv1alpha1.ClusterAuditEventQuery:
		spec, status = &o.Spec, &o.Status
	default:
		return nil, apierrors.NewBadRequest(fmt.Sprintf("not a query: %T", obj))
	}
	if validate != nil {
		if err := validate(ctx, obj); err != nil {
			return nil, err
		}
	}
	namespace := ""
	if !q.cluster {
		namespace = genericapirequest.NamespaceValue(ctx)
		if namespace == "" {
			return nil, apierrors.NewBadRequest("an AuditEventQuery is created in a namespace: use a ClusterAuditEventQuery for every namespace")
		}
	}
	if err := q.mayList(ctx, namespace); err != nil {
		return nil, err
	}
	if spec.Object != nil {
		events, err := q.history(ctx, spec, namespace)
		if err != nil {
			return nil, err
		}
		status.Events = make([]runtime.RawExtension, 0, len(events))
		for _, e := range events {
			status.Events = append(status.Events, runtime.RawExtension{Raw: []byte(e.JSON)})
		}
		return obj, nil
	}
	r, err := q.request(spec)
	if err != nil {
		return nil, err
	}
	page, err := list(ctx, q.src, r, namespace, field.NewPath("spec"))
	if err != nil {
		return nil, err
	}
	status.Continue = page.Continue
	status.Events = make([]runtime.RawExtension, 0, len(page.Events))
	for _, e := range page.Events {
		status.Events = append(status.Events, runtime.RawExtension{Raw: []byte(e.JSON)})
	}
	return obj, nil
}

// mayList checks that the caller may list auditevents in namespace ("": cluster-wide).
func (q *queryREST) mayList(ctx context.Context, namespace string) error {
	u, ok := genericapirequest.UserFrom(ctx)
	if !ok {
		return apierrors.NewUnauthorized("no user in the request")
	}
	attrs := authorizer.AttributesRecord{User: u, Verb: "list", Namespace: namespace, APIGroup: auditv1alpha1.Group,
		APIVersion: auditv1alpha1.SchemeGroupVersion.Version, Resource: auditv1alpha1.ResourceAuditEvents, ResourceRequest: true}
	decision, reason, err := q.authz.Authorize(ctx, attrs)
	if decision == authorizer.DecisionAllow {
		return nil
	}
	if err != nil && decision != authorizer.DecisionDeny {
		return apierrors.NewInternalError(fmt.Errorf("authorize %q to list auditevents: %w", u.GetName(), err))
	}
	where := "cluster-wide"
	if namespace != "" {
		where = "in namespace " + namespace
	}
	msg := fmt.Sprintf("user %q may not list auditevents.%s %s, which a query of them needs", u.GetName(), auditv1alpha1.Group, where)
	if reason != "" {
		msg += ": " + reason
	}
	return apierrors.NewForbidden(groupResource, "", errors.New(msg))
}

// history answers a query of spec.object: the object's writes, oldest first, in the caller's scope.
func (q *queryREST) history(ctx context.Context, spec *auditv1alpha1.AuditEventQuerySpec, namespace string) ([]query.Event, error) {
	path := field.NewPath("spec")
	o := spec.Object
	var errs field.ErrorList
	if o.Resource == "" {
		errs = append(errs, field.Required(path.Child("object", "resource"), "the object's resource, e.g. configmaps"))
	}
	if o.Name == "" {
		errs = append(errs, field.Required(path.Child("object", "name"), "the object's name"))
	}
	if namespace != "" && o.Namespace != "" && o.Namespace != namespace {
		errs = append(errs, field.Invalid(path.Child("object", "namespace"), o.Namespace, "must be empty or the query's namespace "+namespace))
	}
	for _, f := range []struct {
		name string
		set  bool
	}{{"filter", spec.Filter != ""}, {"startTime", spec.StartTime != nil}, {"endTime", spec.EndTime != nil}, {"continue", spec.Continue != ""}} {
		if f.set {
			errs = append(errs, field.Forbidden(path.Child(f.name), "must be empty with spec.object: a history is the object's writes over the whole audit trail"))
		}
	}
	if spec.Limit < 0 || spec.Limit > query.MaxLimit {
		errs = append(errs, field.Invalid(path.Child("limit"), spec.Limit, fmt.Sprintf("must be between 1 and %d (0: %d)", query.MaxLimit, query.DefaultLimit)))
	}
	if len(errs) > 0 {
		return nil, apierrors.NewInvalid(q.groupKind(), "", errs)
	}
	l, scope, err := q.src.Reader(ctx)
	if err != nil {
		return nil, unavailable(err)
	}
	if scope.Cluster == "" {
		return nil, apierrors.NewServiceUnavailable("the pipeline has no status.clusterName yet")
	}
	h := query.HistoryRequest{Resource: o.Resource, Namespace: o.Namespace, Name: o.Name, Cluster: scope.Cluster,
		Limit: int(spec.Limit), Whole: true}
	if namespace != "" {
		h.Namespace = namespace
	}
	switch {
	case scope.Tenant != nil:
		h.ExactTenant = scope.Tenant
	case scope.NamespaceTenancy:
		h.Tenant = h.Namespace // the tenant leads the changes table's sorting key
	case namespace != "":
		return nil, apierrors.NewForbidden(groupResource, "", errTenancy)
	}
	events, err := l.History(ctx, h)
	switch {
	case err == nil:
	case errors.Is(err, query.ErrInvalid):
		return nil, apierrors.NewBadRequest(err.Error())
	case isTimeout(err):
		return nil, apierrors.NewTimeoutError("the query ran past the server's limit (audit-api --query-timeout)", 0)
	default:
		return nil, unavailable(err)
	}
	return events, nil
}

func (q *queryREST) groupKind() schema.GroupKind {
	if q.cluster {
		return auditv1alpha1.SchemeGroupVersion.WithKind("ClusterAuditEventQuery").GroupKind()
	}
	return auditv1alpha1.SchemeGroupVersion.WithKind("AuditEventQuery").GroupKind()
}

// request is the query.Request of a query's spec.
func (q *queryREST) request(spec *auditv1alpha1.AuditEventQuerySpec) (query.Request, error) {
	r := query.Request{Now: q.now(), Continue: spec.Continue}
	var errs field.ErrorList
	path := field.NewPath("spec")
	if spec.Filter != "" {
		f, err := query.Compile(spec.Filter)
		if err != nil {
			errs = append(errs, field.Invalid(path.Child("filter"), spec.Filter, err.Error()))
		}
		r.Filter = f
	}
	if spec.StartTime != nil {
		r.From = spec.StartTime.UTC()
	}
	if spec.EndTime != nil {
		r.To = spec.EndTime.UTC()
	}
	if !r.From.IsZero() && !r.To.IsZero() && r.From.After(r.To) {
		errs = append(errs, field.Invalid(path.Child("startTime"), spec.StartTime, "must not be after spec.endTime"))
	}
	if spec.Limit < 0 || spec.Limit > query.MaxLimit {
		errs = append(errs, field.Invalid(path.Child("limit"), spec.Limit, fmt.Sprintf("must be between 1 and %d (0: %d)", query.MaxLimit, query.DefaultLimit)))
	}
	r.Limit = int(spec.Limit)
	if len(errs) > 0 {
		return r, apierrors.NewInvalid(q.groupKind(), "", errs)
	}
	return r, nil
}
