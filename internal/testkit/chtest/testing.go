package chtest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// shared is the test package's server, started by the first Shared call and stopped by Main.
var shared struct {
	mu      sync.Mutex
	main    bool // Main runs the tests
	opts    Options
	started bool
	srv     *Server
	err     error
}

var databaseSeq atomic.Int64

// Main runs the package's tests and then stops the shared server, if a test started it. Call it from
// TestMain:
//
//	func TestMain(m *testing.M) { chtest.Main(m) }
func Main(m *testing.M) { MainWithOptions(m, Options{}) }

// MainWithOptions is Main with options for the shared server, e.g. Options{Keeper: true}.
func MainWithOptions(m *testing.M, opts Options) { os.Exit(RunWithOptions(m, opts)) }

// Run is Main that returns the exit code instead of exiting, for a TestMain that has more to stop after
// the tests (a control plane: deferred calls do not run past os.Exit).
func Run(m *testing.M) int { return RunWithOptions(m, Options{}) }

// RunWithOptions is Run with options for the shared server.
func RunWithOptions(m *testing.M, opts Options) int {
	shared.mu.Lock()
	shared.main, shared.opts = true, opts
	shared.mu.Unlock()

	code := m.Run()

	shared.mu.Lock()
	srv := shared.srv
	shared.mu.Unlock()
	if srv != nil {
		if err := srv.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "chtest: stop the shared ClickHouse: %v\n", err)
			if code == 0 {
				code = 1
			}
		}
	}
	return code
}

// Shared returns the test package's server, starting it on first use. It needs Main in TestMain, which
// stops it after the last test. If the server cannot start, the test fails, every later caller too;
// with CHTEST_SKIP=1 the test is skipped instead.
func Shared(t testing.TB) *Server {
	t.Helper()
	skipIfAsked(t)
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if !shared.main {
		t.Fatal("chtest.Shared needs TestMain to call chtest.Main(m), which stops the server at the end")
	}
	if !shared.started {
		shared.started = true
		shared.srv, shared.err = Start(shared.opts)
	}
	if shared.err != nil {
		t.Fatal(failure(shared.err))
	}
	return shared.srv
}

// New starts a server of the test's own, stopped when the test ends. It fails the test if the server
// cannot start, or skips it with CHTEST_SKIP=1.
func New(t testing.TB, opts Options) *Server {
	t.Helper()
	skipIfAsked(t)
	s, err := Start(opts)
	if err != nil {
		t.Fatal(failure(err))
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("stop ClickHouse: %v", err)
		}
	})
	return s
}

// NewDatabase creates a database of the test's own on the shared server and returns its name and a
// native connection that uses it. The connection is closed and the database dropped when the test ends.
func NewDatabase(t testing.TB) (string, driver.Conn) {
	t.Helper()
	return Shared(t).NewDatabase(t)
}

// NewDatabase creates a database of the test's own on s, named after the test, and returns its name and
// a native connection that uses it. The connection is closed and the database dropped when the test ends.
func (s *Server) NewDatabase(t testing.TB) (string, driver.Conn) {
	t.Helper()
	name := databaseName(t.Name())
	ctx := context.Background()
	admin, err := s.Conn("default")
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		admin, err := s.Conn("default")
		if err == nil {
			defer admin.Close()
			err = admin.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" SYNC")
		}
		if err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	conn, err := s.Conn(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return name, conn
}

// databaseName makes a database name from a test name: lower case letters, digits and underscores,
// with a sequence number that makes it unique in the process.
func databaseName(testName string) string {
	var b strings.Builder
	b.WriteString("t_")
	for _, r := range strings.ToLower(testName) {
		if b.Len() >= 48 {
			break
		}
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return fmt.Sprintf("%s_%d", b.String(), databaseSeq.Add(1))
}

func skipIfAsked(t testing.TB) {
	t.Helper()
	if os.Getenv(EnvSkip) == "1" {
		t.Skipf("%s=1: skipping a test that needs ClickHouse", EnvSkip)
	}
}

func failure(err error) string {
	return fmt.Sprintf("chtest: %v\n"+
		"Tests need a ClickHouse server: chtest runs libchdb.so from $%s, else from %s (needs npm the first "+
		"time). Set %s=1 to skip these tests instead.", err, EnvLibrary, installScript, EnvSkip)
}
