package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"

	ch "github.com/ClickHouse/clickhouse-go/v2"

	"github.com/auditpipeline/auditpipeline-operator/internal/testkit/chtest"
)

func TestMain(m *testing.M) { chtest.Main(m) }

func TestServerVersionOfARealServer(t *testing.T) {
	srv := chtest.Shared(t)
	v, err := ServerVersion(context.Background(), Endpoint{Addrs: []string{srv.Addr}, Username: "default", Database: "default"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(v, "26.") {
		t.Errorf("version = %q, want 26.x", v)
	}
}

func TestServerVersionOfNothing(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	_, err = ServerVersion(context.Background(), Endpoint{Addrs: []string{addr}, Username: "default"})
	if err == nil || IsAuthError(err) {
		t.Fatalf("err = %v, want a connection error", err)
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Errorf("the error leaks the password: %v", err)
	}
}

func TestIsAuthError(t *testing.T) {
	// A refused password makes the embedded test server abort, so the classification is checked on
	// the error value clickhouse-go returns for code 516.
	if !IsAuthError(fmt.Errorf("query: %w", &ch.Exception{Code: 516, Message: "Authentication failed"})) {
		t.Error("code 516 is an authentication error")
	}
	if IsAuthError(&ch.Exception{Code: 60}) || IsAuthError(errors.New("dial tcp: refused")) {
		t.Error("other errors are not authentication errors")
	}
}

func TestEndpointStringHasNoPassword(t *testing.T) {
	e := Endpoint{Addrs: []string{"ch:9000"}, Username: "audit", Password: "s3cret"}
	if strings.Contains(e.String(), "s3cret") || strings.Contains(fmt.Sprintf("%v", e), "s3cret") {
		t.Errorf("endpoint text leaks the password: %s", e)
	}
}
