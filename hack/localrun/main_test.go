package main

import (
	"bytes"
	"context"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/auditpipeline/auditpipeline-operator/internal/testkit/chtest"
	"github.com/auditpipeline/auditpipeline-operator/internal/testkit/testenv"
)

// TestLocalRunUntilCtrlC is what `make run` does on a machine with no cluster, stopped like Ctrl-C once
// the sample's stream is ready. It is the package's only test that calls run: NACK's queue workers spin
// once NACK's controller stops, until the process exits.
func TestLocalRunUntilCtrlC(t *testing.T) {
	logPath := filepath.Join(t.TempDir(), "operator.log")
	logFile, err := openLogs(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &syncBuffer{}
	opts := options{
		sample:        "config/samples/auditpipeline_local.yaml",
		kubeconfigOut: filepath.Join(t.TempDir(), "kubeconfig"),
		logFile:       logFile,
	}
	stderr := os.Stderr
	done := make(chan error, 1)
	go func() { done <- run(ctx, opts, out) }()

	streamReady := regexp.MustCompile(`StreamReady\s+True\s+Ready\s`)
	deadline := time.After(2 * time.Minute)
	for !streamReady.MatchString(out.String()) || !strings.Contains(out.String(), "Objects rendered") {
		select {
		case err := <-done:
			t.Fatalf("run returned before StreamReady was True: %v\n%s", err, out.String())
		case <-deadline:
			t.Fatalf("StreamReady is not True after 2 minutes:\n%s", out.String())
		case <-time.After(200 * time.Millisecond):
		}
	}
	// The audit API answers through the local kube-apiserver once the operator has named the cluster.
	if !strings.Contains(out.String(), "The audit API serves") {
		t.Fatalf("no audit API line:\n%s", out.String())
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", opts.kubeconfigOut)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	apiDeadline := time.Now().Add(time.Minute)
	for {
		body, err := cs.RESTClient().Get().AbsPath("/apis/audit.auditpipeline.io/v1alpha1/auditevents").DoRaw(context.Background())
		if err == nil && strings.Contains(string(body), `"kind":"AuditEventList"`) {
			break
		}
		if time.Now().After(apiDeadline) {
			t.Fatalf("kubectl get auditevents -A through the local run: %v %s", err, body)
		}
		time.Sleep(500 * time.Millisecond)
	}
	cancel() // as Ctrl-C does
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run after Ctrl-C: %v, want nil (exit status 0)\n%s", err, out.String())
		}
	case <-time.After(time.Minute):
		t.Fatalf("run did not return within a minute of Ctrl-C:\n%s", out.String())
	}

	text := out.String()
	for _, re := range []string{`ClickHouseReady\s+True\s+Ready\s`, `SchemaReady\s+True\s+Applied\s`,
		`CollectorReady\s+False\s+RollingOut\s`, `AggregatorReady\s+False\s+RollingOut\s`} {
		if !regexp.MustCompile(re).MatchString(text) {
			t.Errorf("output does not match %s:\n%s", re, text)
		}
	}
	for _, want := range []string{
		"Logs of the operator, NACK and NATS go to " + logPath,
		"applied AuditPipeline default/local",
		"AuditPipeline default/local (generation 1, observed 1)",
		"ClickHouse serves the native protocol on 127.0.0.1:",
		"NATS JetStream serves on nats://127.0.0.1:",
		"Schema 1/1: 00001_events.sql (sha256:",
		"Objects rendered for default/local:", "Stream/local-stream", "DaemonSet/local-collector",
		"StatefulSet/local-aggregator",
		"Ready            False",
		"Stopping NATS.",
		"Stopping the local ClickHouse.",
		"Stopping the local control plane.",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	if n := strings.Count(text, strings.TrimSpace(rollingOutNote)); n != 1 {
		t.Errorf("the note on RollingOut appears %d times, want once:\n%s", n, text)
	}
	if strings.Contains(text, `"level"`) || strings.Contains(text, "level=") {
		t.Errorf("a log line reached the output:\n%s", text)
	}
	if os.Stderr != stderr {
		t.Errorf("os.Stderr is %s after run, want it back", os.Stderr.Name())
	}

	logs, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`"logger":"nats-server","msg":"Server is ready"`,        // the NATS server's
		`"msg":"Starting workers","controller":"auditpipeline"`, // the operator's
		"jetstream-controller connected to NATS",                // NACK's own logger, on os.Stderr
	} {
		if !strings.Contains(string(logs), want) {
			t.Errorf("the log file lacks %q:\n%s", want, logs)
		}
	}
}

func TestLogFileFromEnv(t *testing.T) {
	for value, want := range map[string]string{
		"":               defaultLogFile,
		"stderr":         "",
		"1":              "", // as before: any value shows the logs in the terminal
		"/tmp/op.log":    "/tmp/op.log",
		"logs/op.log":    "logs/op.log",
		"./operator.log": "./operator.log",
	} {
		if got := logFileFromEnv(value); got != want {
			t.Errorf("LOCALRUN_LOGS=%q: log file %q, want %q", value, got, want)
		}
	}
}

func TestPointAtTheLocalServers(t *testing.T) {
	objs := readSample(t)
	p := objs[len(objs)-1]
	ch := &chtest.Server{Addr: "127.0.0.1:19000", HTTPAddr: "127.0.0.1:18123"}
	if err := pointAt(p, ch, "nats://127.0.0.1:14222"); err != nil {
		t.Fatal(err)
	}
	nats, _, _ := unstructured.NestedStringSlice(p.Object, "spec", "nats", "servers")
	hosts, _, _ := unstructured.NestedStringSlice(p.Object, "spec", "clickhouse", "external", "hosts")
	native, _, _ := unstructured.NestedInt64(p.Object, "spec", "clickhouse", "external", "nativePort")
	httpPort, _, _ := unstructured.NestedInt64(p.Object, "spec", "clickhouse", "external", "httpPort")
	if strings.Join(nats, ",") != "nats://127.0.0.1:14222" || strings.Join(hosts, ",") != "127.0.0.1" ||
		native != 19000 || httpPort != 18123 {
		t.Errorf("pointed at nats %v, hosts %v, ports %d and %d", nats, hosts, native, httpPort)
	}
}

func readSample(t *testing.T) []*unstructured.Unstructured {
	t.Helper()
	objs, err := testenv.ReadObjects(filepath.Join("..", "..", "config", "samples", "auditpipeline_local.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) == 0 || objs[len(objs)-1].GetKind() != "AuditPipeline" {
		t.Fatalf("the sample does not end with an AuditPipeline")
	}
	return objs
}

// syncBuffer is a bytes.Buffer that run may write while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
