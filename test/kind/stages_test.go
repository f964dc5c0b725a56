package kind

import (
	"context"
	"net/http"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/auditpipeline/auditpipeline-operator/internal/render/vector"
)

// TestKubeAPIServerEventsThatShareAnAuditID shows, on a real kube-apiserver, the events that share an
// auditID, and that the agent's message id (vector.MessageID: auditID, stage and stage time) tells them
// apart where the auditID alone would have let JetStream drop all but the first within its duplicate
// window:
//   - a watch of two seconds, a long-running request, sends a ResponseStarted and a ResponseComplete event
//     (and the aggregator keeps only ResponseComplete by default);
//   - two requests sent with one Audit-ID header both get it as their auditID: the API server takes the
//     client's value unchecked.
func TestKubeAPIServerEventsThatShareAnAuditID(t *testing.T) {
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

	const chosen = "chosen-by-the-client"
	withHeader := rest.CopyConfig(cfg)
	withHeader.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripper(func(r *http.Request) (*http.Response, error) {
			r = r.Clone(r.Context())
			r.Header.Set("Audit-ID", chosen)
			return rt.RoundTrip(r)
		})
	})
	k8s, err := client.New(withHeader, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	first, second := probeName("first"), probeName("second")
	for _, name := range []string{first, second} {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}}
		if err := k8s.Create(context.Background(), cm); err != nil {
			t.Fatal(err)
		}
	}

	isWatch := func(e auditEvent) bool {
		return e.Verb == "watch" && e.ObjectRef != nil && e.ObjectRef.Resource == "configmaps" && e.ObjectRef.Namespace == "kube-public"
	}
	waitFor(t, 30*time.Second, "both stages of the watch and both creations", func() bool {
		got := hook.received()
		return countEvents(got, isWatch) == 2 && countEvents(got, created(first)) == 1 && countEvents(got, created(second)) == 1
	})
	var pairs [][2]auditEvent
	var watch []auditEvent
	var creations []auditEvent
	for _, e := range hook.received() {
		switch {
		case isWatch(e):
			watch = append(watch, e)
		case created(first)(e), created(second)(e):
			creations = append(creations, e)
		}
	}
	if watch[0].AuditID != watch[1].AuditID || watch[0].Stage != "ResponseStarted" || watch[1].Stage != "ResponseComplete" {
		t.Errorf("the watch's events: %s %s and %s %s, want one auditID, ResponseStarted then ResponseComplete",
			watch[0].AuditID, watch[0].Stage, watch[1].AuditID, watch[1].Stage)
	}
	for _, e := range creations {
		if e.AuditID != chosen || e.Stage != "ResponseComplete" {
			t.Errorf("creation of %s: auditID %q, stage %s; want the client's %q", e.ObjectRef.Name, e.AuditID, e.Stage, chosen)
		}
	}
	pairs = append(pairs, [2]auditEvent{watch[0], watch[1]}, [2]auditEvent{creations[0], creations[1]})
	for _, p := range pairs {
		a, b := p[0], p[1]
		if vector.MessageID(a.AuditID, a.Stage, a.StageTimestamp) == vector.MessageID(b.AuditID, b.Stage, b.StageTimestamp) {
			t.Errorf("two events would be published with one message id, %s", vector.MessageID(a.AuditID, a.Stage, a.StageTimestamp))
		}
	}
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
