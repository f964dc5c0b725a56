package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/rest"

	auditv1alpha1 "github.com/auditpipeline/auditpipeline-operator/api/audit/v1alpha1"
	"github.com/auditpipeline/auditpipeline-operator/internal/query"
)

// reader is what the commands read through: *query.Client on the database, or apiReader.
type reader = query.Reader

// apiHelp is what a user needs to read through the audit API.
const apiHelp = "reading through the audit API needs list on auditevents.audit.auditpipeline.io and create on " +
	"auditeventqueries in the namespace (-n), or on clusterauditeventqueries for the whole cluster " +
	"(docs/auditapi.md#permissions)"

// apiReader reads through the audit API (audit.auditpipeline.io/v1alpha1) with the caller's own
// Kubernetes identity: each list or history is an AuditEventQuery in the namespace asked for, or a
// ClusterAuditEventQuery without one, and the API server decides by RBAC what the caller sees.
type apiReader struct{ rc *rest.RESTClient }

func newAPIReader(cfg *rest.Config) (*apiReader, error) {
	scheme := runtime.NewScheme()
	utilruntime.Must(auditv1alpha1.AddToScheme(scheme))
	c := rest.CopyConfig(cfg)
	c.GroupVersion = &auditv1alpha1.SchemeGroupVersion
	c.APIPath = "/apis"
	c.NegotiatedSerializer = serializer.NewCodecFactory(scheme).WithoutConversion()
	rc, err := rest.RESTClientFor(c)
	if err != nil {
		return nil, fmt.Errorf("the audit API client: %w", err)
	}
	return &apiReader{rc: rc}, nil
}

// List asks the query r as an AuditEventQuery: its shortcuts become CEL next to its filter.
func (a *apiReader) List(ctx context.Context, r query.Request) (query.Page, error) {
	var terms []string
	if r.Filter != nil {
		terms = append(terms, "("+r.Filter.String()+")")
	}
	for _, s := range []struct{ field, value string }{
		{"user.username", r.User}, {"verb", r.Verb}, {"objectRef.resource", r.Resource}, {"objectRef.name", r.Name},
	} {
		if s.value != "" {
			terms = append(terms, s.field+" == "+query.Quote(s.value))
		}
	}
	spec := auditv1alpha1.AuditEventQuerySpec{Filter: strings.Join(terms, " && "), Limit: int32(r.Limit), Continue: r.Continue}
	// The API's times have whole seconds: ask for the seconds around the range, keep the range's events.
	if !r.From.IsZero() {
		spec.StartTime = &metav1.Time{Time: r.From.Truncate(time.Second)}
	}
	if !r.To.IsZero() {
		end := r.To.Truncate(time.Second)
		if end.Before(r.To) {
			end = end.Add(time.Second)
		}
		spec.EndTime = &metav1.Time{Time: end}
	}
	raw, cont, err := a.create(ctx, r.Namespace, spec)
	if err != nil {
		return query.Page{}, err
	}
	events, err := fromRaw(raw)
	kept := events[:0]
	for _, e := range events {
		if (r.From.IsZero() || !e.Time.Before(r.From)) && (r.To.IsZero() || !e.Time.After(r.To)) {
			kept = append(kept, e)
		}
	}
	return query.Page{Events: kept, Continue: cont}, err
}

// History asks for an object's history (spec.object).
func (a *apiReader) History(ctx context.Context, h query.HistoryRequest) ([]query.Event, error) {
	if h.Tenant != "" || h.TenantType != "" || h.Cluster != "" {
		return nil, errors.New("--tenant, --tenant-type and --cluster are not available with --via-api: the audit API serves its pipeline's cluster, scoped by namespace")
	}
	spec := auditv1alpha1.AuditEventQuerySpec{Limit: int32(h.Limit),
		Object: &auditv1alpha1.ObjectReference{Resource: h.Resource, Namespace: h.Namespace, Name: h.Name}}
	raw, _, err := a.create(ctx, h.Namespace, spec)
	if err != nil {
		return nil, err
	}
	return fromRaw(raw)
}

// create runs spec as an AuditEventQuery in namespace, or as a ClusterAuditEventQuery when namespace is "".
func (a *apiReader) create(ctx context.Context, namespace string, spec auditv1alpha1.AuditEventQuerySpec) ([]runtime.RawExtension, string, error) {
	var status auditv1alpha1.AuditEventQueryStatus
	var err error
	if namespace != "" {
		q := &auditv1alpha1.AuditEventQuery{Spec: spec}
		err = a.rc.Post().Namespace(namespace).Resource(auditv1alpha1.ResourceAuditEventQueries).Body(q).Do(ctx).Into(q)
		status = q.Status
	} else {
		q := &auditv1alpha1.ClusterAuditEventQuery{Spec: spec}
		err = a.rc.Post().Resource(auditv1alpha1.ResourceClusterAuditEventQueries).Body(q).Do(ctx).Into(q)
		status = q.Status
	}
	switch {
	case err == nil:
		return status.Events, status.Continue, nil
	case apierrors.IsForbidden(err):
		return nil, "", fmt.Errorf("%v; %s", err, apiHelp)
	case apierrors.IsNotFound(err):
		return nil, "", fmt.Errorf("the audit API (%s) is not served in this cluster: install the operator's chart with auditAPI.enabled (docs/auditapi.md): %w",
			auditv1alpha1.SchemeGroupVersion, err)
	}
	return nil, "", err
}

// fromRaw reads the columns a table shows out of whole audit events.
func fromRaw(raw []runtime.RawExtension) ([]query.Event, error) {
	out := make([]query.Event, 0, len(raw))
	for _, r := range raw {
		var e struct {
			AuditID, Stage, Level, Verb, StageTimestamp string
			User                                        struct{ Username string }
			ObjectRef                                   struct{ APIGroup, Resource, Subresource, Namespace, Name string }
			ResponseStatus                              struct{ Code uint16 }
		}
		if err := json.Unmarshal(r.Raw, &e); err != nil {
			return nil, fmt.Errorf("an audit event from the audit API: %w", err)
		}
		t, err := time.Parse(time.RFC3339Nano, e.StageTimestamp)
		if err != nil {
			return nil, fmt.Errorf("audit event %s: stageTimestamp: %w", e.AuditID, err)
		}
		out = append(out, query.Event{Time: t.UTC(), AuditID: e.AuditID, Stage: e.Stage, Level: e.Level, Verb: e.Verb,
			User: e.User.Username, APIGroup: e.ObjectRef.APIGroup, Resource: e.ObjectRef.Resource,
			Subresource: e.ObjectRef.Subresource, Namespace: e.ObjectRef.Namespace, Name: e.ObjectRef.Name,
			Code: e.ResponseStatus.Code, JSON: string(r.Raw)})
	}
	return out, nil
}
