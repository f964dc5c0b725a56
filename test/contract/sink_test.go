package contract

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
	"github.com/auditpipeline/auditpipeline-operator/internal/render/vector"
	"github.com/auditpipeline/auditpipeline-operator/internal/sinkhttp"
)

// clickHouseSink is the aggregator's clickhouse sink as rendered for p.
func clickHouseSink(t testing.TB, p *v1alpha1.AuditPipeline) *vector.ClickHouseSink {
	t.Helper()
	for _, c := range vector.AggregatorConfig(p).Sinks {
		if s, ok := c.(*vector.ClickHouseSink); ok {
			return s
		}
	}
	t.Fatal("the aggregator has no clickhouse sink")
	return nil
}

// insert sends rows to addr as the sink would (internal/sinkhttp), without the sink's credentials
// (chtest's default user has none), and fails the test unless ClickHouse accepts them all.
func insert(t testing.TB, addr string, s *vector.ClickHouseSink, rows []map[string]any) {
	t.Helper()
	in, err := sinkhttp.For(s, nil)
	if err != nil {
		t.Fatal(err)
	}
	body, err := in.Body(rows)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 30 * time.Second}
	if err := in.Send(context.Background(), client, addr, body); err != nil {
		t.Fatal(err)
	}
}
