package auditapi

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
	"github.com/auditpipeline/auditpipeline-operator/internal/clickhouse"
	"github.com/auditpipeline/auditpipeline-operator/internal/query"
)

// PipelineSource reads an AuditPipeline's database: its ClickHouse endpoint and password (from its
// Secret, as the operator does), its database, cluster name and tenancy. It reads the pipeline again
// every Refresh, so a renamed cluster or a rotated password is followed without a restart.
type PipelineSource struct {
	Client  client.Client
	Key     types.NamespacedName
	Refresh time.Duration

	mu      sync.Mutex
	read    time.Time
	ep      clickhouse.Endpoint
	conn    driver.Conn
	lister  *query.Client
	scope   Scope
	lastErr error
}

// Reader returns the pipeline's database and scope, read at most Refresh ago.
func (s *PipelineSource) Reader(ctx context.Context) (Reader, Scope, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.read.IsZero() && time.Since(s.read) < s.Refresh {
		if s.lastErr != nil {
			return nil, Scope{}, s.lastErr
		}
		return s.lister, s.scope, nil
	}
	s.read = time.Now()
	s.lastErr = s.load(ctx)
	if s.lastErr != nil {
		return nil, Scope{}, s.lastErr
	}
	return s.lister, s.scope, nil
}

func (s *PipelineSource) load(ctx context.Context) error {
	var p v1alpha1.AuditPipeline
	if err := s.Client.Get(ctx, s.Key, &p); err != nil {
		return fmt.Errorf("get AuditPipeline %s: %w", s.Key, err)
	}
	read := func(ctx context.Context, namespace, name, key string) ([]byte, error) {
		var sec corev1.Secret
		if err := s.Client.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, &sec); err != nil {
			return nil, fmt.Errorf("read Secret %s/%s: %w", namespace, name, err)
		}
		v, ok := sec.Data[key]
		if !ok {
			return nil, fmt.Errorf("secret %s/%s has no key %q", namespace, name, key)
		}
		return v, nil
	}
	ep, err := clickhouse.PipelineEndpoint(ctx, &p, read)
	if err != nil {
		return fmt.Errorf("AuditPipeline %s: %w", s.Key, err)
	}
	if s.conn == nil || !reflect.DeepEqual(ep, s.ep) {
		conn, err := clickhouse.Open(ep)
		if err != nil {
			return fmt.Errorf("AuditPipeline %s: %w", s.Key, err)
		}
		if err := conn.Ping(ctx); err != nil {
			_ = conn.Close()
			return fmt.Errorf("AuditPipeline %s: connect to ClickHouse at %s: %w", s.Key, ep, err)
		}
		if old := s.conn; old != nil {
			// Requests may still be reading through the old connection.
			time.AfterFunc(time.Minute, func() { _ = old.Close() })
		}
		s.conn, s.ep = conn, ep
	}
	s.lister = &query.Client{Conn: s.conn, Database: p.Spec.ClickHouse.Database}
	s.scope = Scope{Cluster: p.Status.ClusterName, NamespaceTenancy: p.Spec.Tenancy.Source != v1alpha1.TenantSourceAnnotations}
	return nil
}

// Close closes the database connection.
func (s *PipelineSource) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn != nil {
		_ = s.conn.Close()
		s.conn = nil
	}
}
