package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const crdFile = "config/crd/bases/auditpipeline.io_auditpipelines.yaml"

// TestAPIDocsUpToDate fails when docs/api.md is not what `make api-docs` writes from the committed CRD.
func TestAPIDocsUpToDate(t *testing.T) {
	root := filepath.Join("..", "..")
	crd, err := os.ReadFile(filepath.Join(root, crdFile))
	if err != nil {
		t.Fatal(err)
	}
	want, err := Render(crd, crdFile)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(root, "docs", "api.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("docs/api.md is out of date: run `make manifests api-docs` and commit the result")
	}
}

// TestRenderCoversTheSchema checks a few facts of the reference against the CRD: a nested field with its
// type and default, a required field, and a validation rule's message.
func TestRenderCoversTheSchema(t *testing.T) {
	crd, err := os.ReadFile(filepath.Join("..", "..", crdFile))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := Render(crd, crdFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| `.spec.nats.consumer.durableName` | string | `\"clickhouse-ingest\"` |  |",
		"| `.spec.nats.consumer.maxAckPending` | integer (int32) | `10000` |",
		"spec.nats.consumer.durableName cannot be changed",
		"| `.spec.nats.servers` | []string |",
	} {
		if !strings.Contains(string(doc), want) {
			t.Errorf("the reference has no %q", want)
		}
	}
}
