package auditapi

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/selection"

	"github.com/auditpipeline/auditpipeline-operator/internal/query"
)

// Scope is the pipeline an audit API server reads: its cluster (status.clusterName; the tables may hold
// other clusters' events too), whether its tenant is the namespace (spec.tenancy.source Namespace), and
// the one tenant the server is pinned to, if any (--tenant-type, --tenant).
type Scope struct {
	Cluster          string
	NamespaceTenancy bool
	Tenant           *query.Tenant
}

// errTenancy refuses a namespaced read under annotation tenancy without a pinned tenant: several tenants'
// control planes may then share one cluster value and the same namespace names (docs/auditapi.md#scope).
var errTenancy = errors.New("this pipeline takes its tenants from annotations (spec.tenancy.source Annotations), " +
	"and tenants may share namespace names: the audit API serves namespaced reads only when it is pinned to one " +
	"tenant (audit-api --tenant, chart value auditAPI.tenant); list cluster-wide instead if you may")

// scoped bounds r to what the caller may read: the pipeline's cluster, its pinned tenant if any, and unless
// namespace is "" (a cluster-wide request the caller is allowed) events whose objectRef.namespace is
// namespace. With namespace tenancy the namespace is also the tenant, which leads the tables' sorting key.
func (s Scope) scoped(r query.Request, namespace string) (query.Request, error) {
	if s.Cluster == "" {
		return r, fmt.Errorf("the pipeline has no status.clusterName yet")
	}
	r.Cluster, r.Tenant = s.Cluster, s.Tenant
	if namespace == "" {
		return r, nil
	}
	if !s.NamespaceTenancy && s.Tenant == nil {
		return r, errTenancy
	}
	if r.Namespace != "" && r.Namespace != namespace {
		return r, fmt.Errorf("objectRef.namespace=%s is outside the request's namespace %s: list in that namespace, or across all namespaces if you may", r.Namespace, namespace)
	}
	r.Namespace = namespace
	if s.NamespaceTenancy && s.Tenant == nil {
		r.Tenant = &query.Tenant{Name: namespace}
	}
	return r, nil
}

// Field selectors of auditevents: the plugin's shortcuts and a time range.
const (
	fieldVerb      = "verb"
	fieldUser      = "user.username"
	fieldResource  = "objectRef.resource"
	fieldName      = "objectRef.name"
	fieldNamespace = "objectRef.namespace"
	fieldMetaNS    = "metadata.namespace"
	fieldSince     = "since"
	fieldUntil     = "until"
)

var selectorFields = []string{fieldVerb, fieldUser, fieldResource, fieldName, fieldNamespace, fieldMetaNS, fieldSince, fieldUntil}

// fromSelector puts a field selector's requirements into r. Only equality is supported: each field names
// one value, as the plugin's flags do. since and until take an RFC 3339 time or a duration before now
// (e.g. since=2h).
func fromSelector(r *query.Request, sel fields.Selector) error {
	if sel == nil || sel.Empty() {
		return nil
	}
	seen := map[string]bool{}
	for _, req := range sel.Requirements() {
		if req.Operator != selection.Equals && req.Operator != selection.DoubleEquals {
			return fmt.Errorf("field selector %s%s%s: only = is supported", req.Field, req.Operator, req.Value)
		}
		if seen[req.Field] {
			return fmt.Errorf("field selector %s is given twice: give each field once", req.Field)
		}
		seen[req.Field] = true
		if req.Value == "" {
			return fmt.Errorf("field selector %s has no value", req.Field)
		}
		switch req.Field {
		case fieldVerb:
			r.Verb = req.Value
		case fieldUser:
			r.User = req.Value
		case fieldResource:
			r.Resource = req.Value
		case fieldName:
			r.Name = req.Value
		case fieldNamespace, fieldMetaNS:
			if r.Namespace != "" && r.Namespace != req.Value {
				return fmt.Errorf("field selectors objectRef.namespace and metadata.namespace differ")
			}
			r.Namespace = req.Value
		case fieldSince, fieldUntil:
			t, err := timeValue(req.Value, r.Now)
			if err != nil {
				return fmt.Errorf("field selector %s: %w", req.Field, err)
			}
			if req.Field == fieldSince {
				r.From = t
			} else {
				r.To = t
			}
		default:
			return fmt.Errorf("field selector %s is not supported: use %s (or an AuditEventQuery's CEL filter)",
				req.Field, strings.Join(selectorFields, ", "))
		}
	}
	return nil
}

// timeValue reads an RFC 3339 time, or a positive duration before now.
func timeValue(v string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t.UTC(), nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time (2026-12-01T10:00:00Z) nor a positive duration (2h)", v)
	}
	return now.Add(-d).UTC(), nil
}
