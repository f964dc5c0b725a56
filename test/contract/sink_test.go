package contract

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/auditpipeline/auditpipeline-operator/internal/render/vector"
	"github.com/auditpipeline/auditpipeline-operator/internal/testkit/sinkhttp"
)

// insert sends rows to addr as the sink would (internal/testkit/sinkhttp), without the sink's credentials
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
