package auditapi

import (
	"errors"
	"strings"
	"testing"

	"github.com/auditpipeline/auditpipeline-operator/internal/query"
)

// TestScoped: the cluster always, the namespace unless cluster-wide, the tenant as the pipeline's tenancy
// says; annotation tenancy refuses namespaced reads unless the server is pinned to a tenant.
func TestScoped(t *testing.T) {
	pinned := &query.Tenant{Type: "Project", Name: "p1"}
	for _, c := range []struct {
		name      string
		scope     Scope
		namespace string
		in        query.Request
		want      query.Request
		err       error
	}{
		{"namespace tenancy", Scope{Cluster: "c1", NamespaceTenancy: true}, "team-a", query.Request{Verb: "get"},
			query.Request{Verb: "get", Cluster: "c1", Namespace: "team-a", Tenant: &query.Tenant{Name: "team-a"}}, nil},
		{"cluster-wide", Scope{Cluster: "c1", NamespaceTenancy: true}, "", query.Request{Namespace: "team-b"},
			query.Request{Cluster: "c1", Namespace: "team-b"}, nil},
		{"another namespace", Scope{Cluster: "c1", NamespaceTenancy: true}, "team-a", query.Request{Namespace: "team-b"},
			query.Request{}, errors.New("outside")},
		{"annotations, not pinned", Scope{Cluster: "c1"}, "default", query.Request{}, query.Request{}, errTenancy},
		{"annotations, not pinned, cluster-wide", Scope{Cluster: "c1"}, "", query.Request{}, query.Request{Cluster: "c1"}, nil},
		{"annotations, pinned", Scope{Cluster: "c1", Tenant: pinned}, "default", query.Request{},
			query.Request{Cluster: "c1", Namespace: "default", Tenant: pinned}, nil},
		{"annotations, pinned, cluster-wide", Scope{Cluster: "c1", Tenant: pinned}, "", query.Request{},
			query.Request{Cluster: "c1", Tenant: pinned}, nil},
		{"no cluster name yet", Scope{NamespaceTenancy: true}, "team-a", query.Request{}, query.Request{}, errors.New("clusterName")},
	} {
		got, err := c.scope.scoped(c.in, c.namespace)
		switch {
		case c.err == errTenancy:
			if !errors.Is(err, errTenancy) {
				t.Errorf("%s: %v, want errTenancy", c.name, err)
			}
		case c.err != nil:
			if err == nil || !strings.Contains(err.Error(), c.err.Error()) {
				t.Errorf("%s: %v, want an error naming %q", c.name, err, c.err)
			}
		case err != nil:
			t.Errorf("%s: %v", c.name, err)
		case got.Cluster != c.want.Cluster || got.Namespace != c.want.Namespace || (got.Tenant == nil) != (c.want.Tenant == nil) ||
			(got.Tenant != nil && *got.Tenant != *c.want.Tenant) || got.Verb != c.want.Verb:
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
	}
}
