package auditapi_test

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	auditv1alpha1 "github.com/auditpipeline/auditpipeline-operator/api/audit/v1alpha1"
	"github.com/auditpipeline/auditpipeline-operator/internal/auditapi"
	"github.com/auditpipeline/auditpipeline-operator/internal/query"
	"github.com/auditpipeline/auditpipeline-operator/internal/testkit/auditapitest"
	"github.com/auditpipeline/auditpipeline-operator/internal/testkit/chtest"
	"github.com/auditpipeline/auditpipeline-operator/internal/testkit/schematest"
)

// BenchmarkList: a page of 100 whole events of one namespace, read by the plugin's path (query.Client on
// the database) and through kube-apiserver's aggregator and the audit API (TLS twice, authorization,
// JSON of the list); the difference is what the API costs a reader (docs/auditapi.md).
func BenchmarkList(b *testing.B) {
	srv := chtest.Shared(b)
	_, database := schematest.Migrated(b, srv)
	now := time.Now()
	var events []map[string]any
	for i := range 5000 {
		ns := []string{"team-a", "team-b", "team-c", "team-d"}[i%4]
		events = append(events, event(ns, "update", "system:serviceaccount:"+ns+":deployer", "configmaps", "settings", 200, now.Add(-time.Duration(i)*time.Second)))
	}
	insert(b, srv, database, "c1", events)
	src := &auditapi.PipelineSource{Client: k8s, Key: pipeline(b, srv, database, "c1"), Refresh: time.Minute}
	defer src.Close()
	auditapitest.Serve(b, env, k8s, src)
	admin := auditClient(b, env.Config)
	reader, scope, err := src.Reader(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	b.Run("database", func(b *testing.B) {
		for b.Loop() {
			r := query.Request{Now: time.Now(), Namespace: "team-a", Cluster: scope.Cluster, Tenant: &query.Tenant{Name: "team-a"}, Limit: 100, Whole: true}
			page, err := reader.List(context.Background(), r)
			if err != nil || len(page.Events) != 100 {
				b.Fatalf("%d events, %v", len(page.Events), err)
			}
		}
	})
	b.Run("api", func(b *testing.B) {
		for b.Loop() {
			var l auditv1alpha1.AuditEventList
			err := admin.Get().Namespace("team-a").Resource(auditv1alpha1.ResourceAuditEvents).
				VersionedParams(&metav1.ListOptions{Limit: 100}, metav1.ParameterCodec).Do(context.Background()).Into(&l)
			if err != nil || len(l.Items) != 100 {
				b.Fatalf("%d events, %v", len(l.Items), err)
			}
		}
	})
}
