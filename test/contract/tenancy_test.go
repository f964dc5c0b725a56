package contract

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
	"github.com/auditpipeline/auditpipeline-operator/internal/render/vector"
	"github.com/auditpipeline/auditpipeline-operator/internal/render/vector/vrl"
)

// TestAnnotationTenancyFillsTheTenantColumns renders a pipeline with annotation tenancy (Milo's scope
// annotations) and a cluster name, passes events that have, lack, or have empty or odd annotation values
// through the collector's and the aggregator's Go twins, inserts the rows as the rendered sink does into
// the migrated tables, and reads the tenant and cluster columns back, with every event whole.
func TestAnnotationTenancyFillsTheTenantColumns(t *testing.T) {
	srv, db, database := migratedDatabase(t)
	ctx := context.Background()
	const typeKey, nameKey = "platform.miloapis.com/scope.type", "platform.miloapis.com/scope.name"
	p := pipeline(database)
	p.Spec.Tenancy = v1alpha1.TenancySpec{Source: v1alpha1.TenantSourceAnnotations,
		Annotations: &v1alpha1.TenantAnnotations{Type: typeKey, Name: nameKey}}
	p.Spec.ClusterName = "prod-eu-1"
	cluster := vector.ClusterName(p, "uid-of-kube-system")
	if !strings.Contains(vector.CollectorConfig(p, cluster).Transforms["prepare_event"].(*vector.RemapTransform).Source,
		`.auditpipeline_cluster = "prod-eu-1"`) {
		t.Fatal("the collector does not name the cluster of spec.clusterName")
	}
	long := strings.Repeat("ü", 150) // 300 bytes
	cases := []struct {
		name        string
		annotations map[string]any // nil: no annotations member
		typ, tenant string
	}{
		{"both", map[string]any{typeKey: "Project", nameKey: "shop-prod"}, "Project", "shop-prod"},
		{"missing", nil, "", ""},
		{"other annotations only", map[string]any{"authorization.k8s.io/decision": "allow"}, "", ""},
		{"name only", map[string]any{nameKey: "acme"}, "", "acme"},
		{"empty values", map[string]any{typeKey: "", nameKey: ""}, "", ""},
		{"unicode", map[string]any{typeKey: "Organization", nameKey: "コープ-🚀-'\"\\"}, "Organization", "コープ-🚀-'\"\\"},
		{"300 bytes", map[string]any{typeKey: "User", nameKey: long}, "User", long},
		{"not a string", map[string]any{typeKey: json.Number("7"), nameKey: "x"}, "", "x"},
	}
	remap := remapSource(t, p)
	now := time.Now()
	base := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	var rows []map[string]any
	originals := map[string]map[string]any{}
	for i, c := range cases {
		stage := base.Add(time.Duration(i) * time.Second).Format("2006-01-02T15:04:05.000000Z")
		ev := map[string]any{"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata", "stage": "ResponseComplete",
			"auditID": fmt.Sprintf("7c1f0e6a-4b7e-4a43-9f61-0c5c7d2f1a%02d", i), "verb": "update",
			"user": map[string]any{"username": "alice"}, "objectRef": map[string]any{"resource": "configmaps", "namespace": "default", "name": "c"},
			"requestReceivedTimestamp": stage, "stageTimestamp": stage}
		if c.annotations != nil {
			ev["annotations"] = c.annotations
		}
		originals[stage] = ev
		published := vrl.WithCluster(ev, cluster) // the collector's remap
		published["source_type"], published["subject"], published["timestamp"] = "nats", "audit.k8s.update", now.Format(time.RFC3339Nano)
		rows = append(rows, row(t, p, remap, published, now))
	}
	insert(t, srv.HTTPAddr, vector.AggregatorClickHouseSink(p), rows)

	for _, table := range []string{"events_json", "changes_json"} {
		rs, err := db.QueryContext(ctx, "SELECT toString(tenant_type), toString(tenant), toString(cluster), event FROM "+database+"."+table+" ORDER BY event_time")
		if err != nil {
			t.Fatal(err)
		}
		i := 0
		for ; rs.Next(); i++ {
			var typ, tenant, gotCluster, event string
			if err := rs.Scan(&typ, &tenant, &gotCluster, &event); err != nil {
				t.Fatal(err)
			}
			c := cases[i]
			if typ != c.typ || tenant != c.tenant || gotCluster != "prod-eu-1" {
				t.Errorf("%s, %s: tenant_type %q, tenant %q, cluster %q; want %q, %q, prod-eu-1", table, c.name, typ, tenant, gotCluster, c.typ, c.tenant)
			}
			var got map[string]any
			dec := json.NewDecoder(strings.NewReader(event))
			dec.UseNumber()
			if err := dec.Decode(&got); err != nil {
				t.Fatalf("%s: %v", event, err)
			}
			if want := originals[got["stageTimestamp"].(string)]; !reflect.DeepEqual(got, want) {
				t.Errorf("%s, %s: event\n %s\nwant\n %v", table, c.name, event, want)
			}
		}
		_ = rs.Close()
		if i != len(cases) {
			t.Errorf("%s has %d rows, want %d", table, i, len(cases))
		}
	}
	// The tenant leads the sort key: a tenant's rows are found by the primary key alone.
	var n uint64
	if err := db.QueryRowContext(ctx, "SELECT count() FROM "+database+".events WHERE tenant_type = 'Project' AND tenant = 'shop-prod' SETTINGS force_primary_key = 1, optimize_use_projections = 0").Scan(&n); err != nil || n != 1 {
		t.Errorf("the Project shop-prod by the primary key: %d rows, %v", n, err)
	}
}
