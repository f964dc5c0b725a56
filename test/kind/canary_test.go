package kind

import (
	"context"
	"testing"
	"time"

	"github.com/auditpipeline/auditpipeline-operator/internal/canary"
	"github.com/auditpipeline/auditpipeline-operator/internal/controller"
)

// TestCanaryRequestIsAudited makes the operator's canary request to a kube-apiserver run with the kind
// setup's audit policy and webhook: the API server's own audit event of it reaches the webhook, at
// ResponseComplete, with the operator's Audit-ID (its sequence inside) and user agent.
func TestCanaryRequestIsAudited(t *testing.T) {
	t.Parallel()
	hook := &webhook{}
	_, cfg := startAuditedAPIServer(t, hook, nil)
	rc, err := controller.NewCanaryClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	id := canary.ID("3f1b2c4d-pipeline-uid", 42)
	if err := canary.Send(context.Background(), rc, "default", "ap-audit-collector-config", id); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		for _, e := range hook.received() {
			if e.AuditID != id.String() || e.Stage != "ResponseComplete" {
				continue
			}
			if e.Verb != "get" || e.UserAgent != canary.UserAgent || e.ObjectRef == nil ||
				e.ObjectRef.Resource != "configmaps" || e.ObjectRef.Name != "ap-audit-collector-config" {
				t.Fatalf("the canary's audit event: %+v", e)
			}
			if got := id[8:]; got[7] != 42 {
				t.Errorf("the audit ID %s does not carry the sequence 42", id)
			}
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("no ResponseComplete audit event with the canary's Audit-ID %s reached the webhook", id)
}
