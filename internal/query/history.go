package query

import (
	"context"
	"fmt"
	"strings"
)

// HistoryRequest names one object whose writes to list.
type HistoryRequest struct {
	// Resource is the resource as kubectl names it: plural (deployments), singular (deployment), a short
	// name (deploy), optionally with its group (deployments.apps).
	Resource string
	// Namespace and Name of the object; Namespace "" for a cluster-scoped one.
	Namespace, Name string
	// Tenant, TenantType and Cluster narrow the history to one tenant or cluster ("" for any).
	Tenant, TenantType, Cluster string
	// ExactTenant, when set, is the only tenant whose writes are listed, its type "" included (the audit
	// API's pinned tenant).
	ExactTenant *Tenant
	// Limit caps the writes listed, the newest kept (DefaultLimit when 0, at most MaxLimit).
	Limit int
	// Whole asks for each write whole (Event.JSON), which a diff needs and a table does not.
	Whole bool
}

// shortNames are kubectl's short names and singulars of the resources whose history people ask for most.
var shortNames = map[string]string{
	"cm": "configmaps", "deploy": "deployments", "svc": "services", "po": "pods", "ns": "namespaces",
	"sa": "serviceaccounts", "ds": "daemonsets", "sts": "statefulsets", "rs": "replicasets", "ing": "ingresses",
	"cj": "cronjobs", "pvc": "persistentvolumeclaims", "pv": "persistentvolumes", "no": "nodes", "ep": "endpoints",
	"netpol": "networkpolicies", "pdb": "poddisruptionbudgets", "hpa": "horizontalpodautoscalers",
	"crd": "customresourcedefinitions", "ingress": "ingresses", "endpoints": "endpoints",
}

// resourceName resolves what a person types into the resource and group of the audit event.
func resourceName(s string) (resource, group string) {
	s = strings.ToLower(strings.TrimSpace(s))
	resource, group, _ = strings.Cut(s, ".")
	if full, ok := shortNames[resource]; ok {
		return full, group
	}
	switch {
	case strings.HasSuffix(resource, "s"):
	case strings.HasSuffix(resource, "y") && !strings.HasSuffix(resource, "ey"):
		resource = strings.TrimSuffix(resource, "y") + "ies"
	default:
		resource += "s"
	}
	return resource, group
}

// HistorySQL is the statement of an object's newest writes, newest first, from the changes table.
func HistorySQL(database string, h HistoryRequest) (string, *Params, error) {
	if !identifier.MatchString(database) {
		return "", nil, fmt.Errorf("database %q is not a ClickHouse identifier", database)
	}
	if h.Resource == "" || h.Name == "" {
		return "", nil, invalid("history needs a resource and a name, e.g. history deployments web -n shop")
	}
	limit := h.Limit
	switch {
	case limit == 0:
		limit = DefaultLimit
	case limit < 0 || limit > MaxLimit:
		return "", nil, invalid("--limit must be between 1 and %d, not %d", MaxLimit, limit)
	}
	resource, group := resourceName(h.Resource)
	p := &Params{}
	where := []string{
		"resource = " + p.String(resource),
		"namespace = " + p.String(h.Namespace),
		"name = " + p.String(h.Name),
	}
	if group != "" {
		where = append(where, "api_group = "+p.String(group))
	}
	if t := h.ExactTenant; t != nil {
		where = append(where, "tenant_type = "+p.String(t.Type), "tenant = "+p.String(t.Name))
	}
	for _, s := range []struct{ column, value string }{{"tenant", h.Tenant}, {"tenant_type", h.TenantType}, {"cluster", h.Cluster}} {
		if s.value != "" {
			where = append(where, s.column+" = "+p.String(s.value))
		}
	}
	// The newest writes; History puts them oldest first.
	return fmt.Sprintf(`SELECT %s
FROM %s.changes
WHERE %s
ORDER BY %s
LIMIT %d`, columns(h.Whole), database, strings.Join(where, "\n  AND "), pageOrder, limit), p, nil
}

// History returns an object's writes, oldest first.
func (c *Client) History(ctx context.Context, h HistoryRequest) ([]Event, error) {
	sql, p, err := HistorySQL(c.Database, h)
	if err != nil {
		return nil, err
	}
	events, err := c.events(ctx, sql, p)
	if err != nil {
		return nil, err
	}
	events = dedupe(events)
	for i, j := 0, len(events)-1; i < j; i, j = i+1, j-1 {
		events[i], events[j] = events[j], events[i]
	}
	return events, nil
}
