package main

import (
	"bytes"
	"context"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/auditpipeline/auditpipeline-operator/internal/migrate"
	"github.com/auditpipeline/auditpipeline-operator/migrations"
)

// TestRunAppliesThenFindsNothingToApply is `make migrate-local`.
func TestRunAppliesThenFindsNothingToApply(t *testing.T) {
	ms, err := migrate.Load(migrations.FS)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, options{database: "audit_local", target: "latest", storagePolicy: "hot_cold"}, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	text := out.String()
	for _, m := range ms {
		row := `(?m)^` + itoa(m.Version) + `\s+` + regexp.QuoteMeta(m.Name) + `\s+` + regexp.QuoteMeta(m.Checksum) +
			`\s+\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\s+\S+$`
		if !regexp.MustCompile(row).MatchString(text) {
			t.Errorf("no status row for %s (%s):\n%s", m.Name, m.Checksum, text)
		}
		if !strings.Contains(text, "applied "+m.Name+" ("+m.Checksum+") in ") {
			t.Errorf("no applied line for %s:\n%s", m.Name, text)
		}
	}
	last := ms[len(ms)-1].Version
	for _, want := range []string{
		"Up latest on database audit_local:",
		"VERSION  NAME",
		"Pending: none",
		"Up again (applies nothing, takes no lock):",
		"nothing to apply: schema at version " + itoa(last) + ", target " + itoa(last) + ".",
		"Stopping the local ClickHouse.",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	if strings.Count(text, "  applied ") != len(ms) {
		t.Errorf("want %d applied lines (none on the second Up):\n%s", len(ms), text)
	}
}

// TestRunKeepWaitsForCancel checks -keep: the server stays up, the connection hints are printed, and
// cancelling (Ctrl-C) stops it.
func TestRunKeepWaitsForCancel(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out := &watchedBuffer{wait: "until Ctrl-C", seen: make(chan struct{})}
	errs := make(chan error, 1)
	go func() { errs <- run(ctx, options{database: "audit", target: "latest", keep: true}, out) }()
	select {
	case <-out.seen:
	case err := <-errs:
		t.Fatalf("run returned before waiting: %v\n%s", err, out.String())
	}
	select {
	case err := <-errs:
		t.Fatalf("run returned while it should keep the server: %v", err)
	case <-time.After(500 * time.Millisecond):
	}
	cancel()
	if err := <-errs; err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	text := out.String()
	for _, re := range []string{`clickhouse client --host 127\.0\.0\.1 --port \d+ --user default --database audit`,
		`curl 'http://127\.0\.0\.1:\d+/\?database=audit'`, `Stopping the local ClickHouse\.\n$`} {
		if !regexp.MustCompile(re).MatchString(text) {
			t.Errorf("output does not match %s:\n%s", re, text)
		}
	}
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

// watchedBuffer is a buffer safe for two goroutines that closes seen once its text contains wait.
type watchedBuffer struct {
	mu   sync.Mutex
	b    bytes.Buffer
	wait string
	seen chan struct{}
	once sync.Once
}

func (w *watchedBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n, err := w.b.Write(p)
	if strings.Contains(w.b.String(), w.wait) {
		w.once.Do(func() { close(w.seen) })
	}
	return n, err
}

func (w *watchedBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}
