package main

import (
	"bytes"
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestLocalRunShowsTheSampleWithStatus is what `make run` does on a machine with no cluster, stopped as
// soon as the sample's status reflects its spec.
func TestLocalRunShowsTheSampleWithStatus(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	opts := options{
		sample:           "config/samples/auditpipeline_local.yaml",
		kubeconfigOut:    filepath.Join(t.TempDir(), "kubeconfig"),
		exitWhenObserved: true,
	}
	if err := run(ctx, opts, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	for _, re := range []string{`ClickHouseReady\s+True\s+Ready\s`, `SchemaReady\s+True\s+Applied\s`} {
		if !regexp.MustCompile(re).MatchString(out.String()) {
			t.Errorf("output does not match %s:\n%s", re, out.String())
		}
	}
	for _, want := range []string{
		"applied AuditPipeline default/local",
		"AuditPipeline default/local (generation 1, observed 1)",
		"ClickHouse serves the native protocol on 127.0.0.1:",
		"Schema 1/1: 00001_events.sql (sha256:",
		"Objects rendered for default/local:", "Stream/local-stream", "DaemonSet/local-collector",
		"StatefulSet/local-aggregator",
		"StreamReady", "CollectorReady", "AggregatorReady",
		"Ready            False",
		"Stopping the local ClickHouse.",
		"Stopping the local control plane.",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
