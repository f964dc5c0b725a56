package auditapi

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
	"github.com/auditpipeline/auditpipeline-operator/internal/clickhouse"
	"github.com/auditpipeline/auditpipeline-operator/internal/query"
)

// How PipelineSource reloads: a load has loadTimeout of its own (not the request's, which a probe's
// timeout may cancel), a failed load is retried after errRetry, and what was read last is served for at
// most maxStale Refresh periods while loads fail.
const (
	loadTimeout = 15 * time.Second
	errRetry    = 5 * time.Second
	maxStale    = 5
)

// PipelineSource reads an AuditPipeline's database: its ClickHouse endpoint and password (from its
// Secret, as the operator does), its database, cluster name and tenancy. It reads the pipeline again
// every Refresh, so a renamed cluster or a rotated password is followed without a restart. While one
// request reloads, the others are served what was read last; while reloads fail, that is served for at most
// maxStale Refresh periods (logged, and Health reports it), so a short outage of the API server or
// ClickHouse does not fail every request, and a long one does.
type PipelineSource struct {
	Client  client.Client
	Key     types.NamespacedName
	Refresh time.Duration
	// Tenant, when set, pins the server to one tenant of the pipeline (Scope.Tenant).
	Tenant *query.Tenant
	// Settings are ClickHouse settings of every query, e.g. max_execution_time.
	Settings map[string]any

	loading sync.Mutex // one load at a time; readers do not wait on it while a good reader exists

	mu      sync.Mutex
	read    time.Time // when the last load ended
	good    time.Time // when the last load succeeded
	lastErr error     // of the last load
	conn    driver.Conn
	digest  [32]byte // of the endpoint conn was opened with
	reader  *query.Client
	scope   Scope
}

// Reader returns the pipeline's database and scope, read at most Refresh ago.
func (s *PipelineSource) Reader(ctx context.Context) (Reader, Scope, error) {
	if r, scope, err, ok := s.cached(); ok {
		return r, scope, err
	}
	if s.servable() {
		// Another request may be reloading: serve what was read last rather than wait for it.
		if !s.loading.TryLock() {
			return s.current()
		}
	} else {
		s.loading.Lock()
	}
	defer s.loading.Unlock()
	if r, scope, err, ok := s.cached(); ok { // loaded while this one waited
		return r, scope, err
	}
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), loadTimeout)
	defer cancel()
	err := s.load(lctx)
	s.mu.Lock()
	now := time.Now()
	s.read, s.lastErr = now, err
	if err == nil {
		s.good = now
	} else {
		klog.ErrorS(err, "Cannot read the audit pipeline", "pipeline", s.Key)
	}
	s.mu.Unlock()
	return s.current()
}

// Health is the last load's error: nil once the pipeline, its Secrets and ClickHouse could be read.
func (s *PipelineSource) Health() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastErr
}

// servable is whether a reader was read recently enough to be served while loads fail.
func (s *PipelineSource) servable() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reader != nil && time.Since(s.good) < maxStale*s.Refresh
}

// current is what was read last: the reader while servable, else the last load's error.
func (s *PipelineSource) current() (Reader, Scope, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.reader != nil && time.Since(s.good) < maxStale*s.Refresh {
		return s.reader, s.scope, nil
	}
	if s.lastErr != nil {
		return nil, Scope{}, s.lastErr
	}
	return nil, Scope{}, fmt.Errorf("AuditPipeline %s: not read for %s", s.Key, maxStale*s.Refresh)
}

// cached is the last load's outcome while it is fresh: Refresh after a success, errRetry after a failure.
func (s *PipelineSource) cached() (Reader, Scope, error, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.read.IsZero():
		return nil, Scope{}, nil, false
	case s.lastErr == nil && time.Since(s.read) < s.Refresh:
		return s.reader, s.scope, nil, true
	case s.lastErr != nil && time.Since(s.read) < errRetry:
		if s.reader != nil && time.Since(s.good) < maxStale*s.Refresh {
			return s.reader, s.scope, nil, true
		}
		return nil, Scope{}, s.lastErr, true
	}
	return nil, Scope{}, nil, false
}

// load reads the pipeline and its Secrets, and opens a new connection when the endpoint changed.
func (s *PipelineSource) load(ctx context.Context) error {
	var p v1alpha1.AuditPipeline
	if err := s.Client.Get(ctx, s.Key, &p); err != nil {
		return fmt.Errorf("get AuditPipeline %s: %w", s.Key, err)
	}
	h := sha256.New()
	secrets := clickhouse.SecretsOf(s.Client)
	read := func(ctx context.Context, namespace, name, key string) ([]byte, error) {
		v, err := secrets(ctx, namespace, name, key)
		fmt.Fprintf(h, "%d:%s", len(v), v) // the endpoint's digest covers every Secret value read
		return v, err
	}
	ep, err := clickhouse.PipelineEndpoint(ctx, &p, read)
	if err != nil {
		return fmt.Errorf("AuditPipeline %s: %w", s.Key, err)
	}
	// The endpoint's identity: addresses, user, every Secret value read (password, TLS material) and the
	// TLS settings; its tls.Config cannot be compared.
	fmt.Fprintf(h, "%q %q %q %t", ep.Addrs, ep.Username, ep.Database, ep.TLS != nil)
	if ep.TLS != nil {
		fmt.Fprintf(h, " %q %t", ep.TLS.ServerName, ep.TLS.InsecureSkipVerify)
	}
	var digest [32]byte
	copy(digest[:], h.Sum(nil))

	s.mu.Lock()
	conn, same := s.conn, s.conn != nil && s.digest == digest
	s.mu.Unlock()
	if !same {
		if conn, err = clickhouse.Open(ep); err != nil {
			return fmt.Errorf("AuditPipeline %s: %w", s.Key, err)
		}
	}
	// Every load reaches ClickHouse, so that Health (readyz) follows it.
	if err := conn.Ping(ctx); err != nil {
		if !same {
			_ = conn.Close()
		}
		return fmt.Errorf("AuditPipeline %s: connect to ClickHouse at %s: %w", s.Key, ep, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !same {
		if old := s.conn; old != nil {
			// Requests may still be reading through the old connection.
			time.AfterFunc(time.Minute, func() { _ = old.Close() })
		}
		s.conn, s.digest = conn, digest
	}
	s.reader = &query.Client{Conn: s.conn, Database: p.Spec.ClickHouse.Database, Settings: s.Settings}
	s.scope = Scope{Cluster: p.Status.ClusterName, NamespaceTenancy: p.Spec.Tenancy.Source != v1alpha1.TenantSourceAnnotations, Tenant: s.Tenant}
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
