package kind

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/auditpipeline/auditpipeline-operator/internal/render/vector"
)

// TestKubeAPIServerSendsTwoStagesOfAWatch shows why the agent's message id holds the stage as well as the
// auditID (vector.MessageIDTemplate): a watch of two seconds, a long-running request, makes the API server
// send a ResponseStarted and a ResponseComplete event with one auditID, well within JetStream's duplicate
// window. With the auditID alone as message id, JetStream would keep the ResponseStarted and drop the
// ResponseComplete, the one stage the aggregator keeps by default.
func TestKubeAPIServerSendsTwoStagesOfAWatch(t *testing.T) {
	t.Parallel()
	hook := &webhook{}
	_, cfg := startAuditedAPIServer(t, hook, map[string]string{"audit-webhook-batch-max-wait": "1s"})
	wc, err := client.NewWithWatch(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := wc.Watch(t.Context(), &corev1.ConfigMapList{}, client.InNamespace("kube-public"))
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	w.Stop()

	stages := func() map[string][]string {
		byID := map[string][]string{}
		for _, e := range hook.received() {
			if e.Verb == "watch" && e.ObjectRef != nil && e.ObjectRef.Resource == "configmaps" && e.ObjectRef.Namespace == "kube-public" {
				byID[e.AuditID] = append(byID[e.AuditID], e.Stage)
			}
		}
		return byID
	}
	waitFor(t, 30*time.Second, "the watch's ResponseComplete event", func() bool {
		for _, s := range stages() {
			if len(s) == 2 {
				return true
			}
		}
		return false
	})
	for id, s := range stages() {
		if len(s) != 2 || s[0] != "ResponseStarted" || s[1] != "ResponseComplete" {
			t.Errorf("watch %s: stages %v, want ResponseStarted then ResponseComplete", id, s)
			continue
		}
		if vector.MessageID(id, s[0]) == vector.MessageID(id, s[1]) {
			t.Errorf("both stages of watch %s would be published with message id %s", id, vector.MessageID(id, s[0]))
		}
	}
}
