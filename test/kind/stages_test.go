package kind

import (
	"context"
	"crypto/tls"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/auditpipeline/auditpipeline-operator/internal/render/vector/vrl"
)

// TestKubeAPIServerEventsThatShareAnAuditID shows, on a real kube-apiserver, the events that share an
// auditID, and that the agent's message id (vrl.MessageID: auditID, stage and stage time) tells them
// apart where the auditID alone would have let JetStream drop all but the first within its duplicate
// window:
//   - a watch of two seconds, a long-running request, sends a ResponseStarted and a ResponseComplete event
//     (and the aggregator keeps only ResponseComplete by default);
//   - two requests sent with one Audit-ID header both get it as their auditID: the API server takes the
//     client's value unchecked, a value of 100,000 bytes too (JetStream refuses a message id over
//     64 KiB: test/nats; the agent hashes a long one), and from a client without credentials.
//
// It also shows the other field a client writes: the first of the sourceIPs is its X-Forwarded-For
// header, and only the last is the address the request came from (which is why
// spec.aggregator.filter.dropPrivateSourceIPs is unsafe where clients reach the API server directly).
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
	long := strings.Repeat("x", 100_000)
	first, second, third := probeName("first"), probeName("second"), probeName("long-id")
	for name, id := range map[string]string{first: chosen, second: chosen, third: long} {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}}
		if _, err := withHeaders(t, cfg, "Audit-ID", id).ConfigMaps("default").Create(context.Background(), cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// A client that has no credentials at all chooses its Audit-ID as well: its request is refused, and
	// audited.
	anonymous := anonymousClient()
	req, err := http.NewRequest(http.MethodGet, cfg.Host+"/api/v1/namespaces/default/secrets", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Audit-ID", "chosen-anonymously")
	resp, err := anonymous.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("an anonymous list of Secrets answered %d, want 403", resp.StatusCode)
	}
	byAnonymous := func(e auditEvent) bool { return e.AuditID == "chosen-anonymously" }
	// The first source IP is the client's X-Forwarded-For too.
	spoofed := probeName("forwarded")
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: spoofed, Namespace: "default"}}
	if _, err := withHeaders(t, cfg, "X-Forwarded-For", "10.1.2.3").ConfigMaps("default").Create(context.Background(), cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	isWatch := func(e auditEvent) bool {
		return e.Verb == "watch" && e.ObjectRef != nil && e.ObjectRef.Resource == "configmaps" && e.ObjectRef.Namespace == "kube-public"
	}
	waitFor(t, 30*time.Second, "both stages of the watch and both creations", func() bool {
		got := hook.received()
		return countEvents(got, isWatch) == 2 && countEvents(got, created(first)) == 1 && countEvents(got, created(second)) == 1 &&
			countEvents(got, created(third)) == 1 && countEvents(got, created(spoofed)) == 1 && countEvents(got, byAnonymous) == 1
	})
	var watch []auditEvent
	var creations []auditEvent
	for _, e := range hook.received() {
		switch {
		case isWatch(e):
			watch = append(watch, e)
		case created(first)(e), created(second)(e):
			creations = append(creations, e)
		case created(third)(e) && e.AuditID != long:
			t.Errorf("the request sent with a 100,000-byte Audit-ID has an auditID of %d bytes", len(e.AuditID))
		case created(spoofed)(e) && (len(e.SourceIPs) != 2 || e.SourceIPs[0] != "10.1.2.3" || e.SourceIPs[1] != "127.0.0.1"):
			t.Errorf("the request sent with X-Forwarded-For 10.1.2.3 from 127.0.0.1 has source IPs %v", e.SourceIPs)
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
	messageID := func(e auditEvent) string { return vrl.MessageID(e.AuditID, e.Stage, e.StageTimestamp) }
	for _, pair := range [][2]auditEvent{{watch[0], watch[1]}, {creations[0], creations[1]}} {
		if id := messageID(pair[0]); id == messageID(pair[1]) {
			t.Errorf("two events would be published with one message id, %s", id)
		}
	}
}

// withHeaders is a client whose requests carry the header given, set to value. A typed client, it sends
// only the requests the test makes, no discovery requests of its own.
func withHeaders(t *testing.T, cfg *rest.Config, header, value string) corev1client.ConfigMapsGetter {
	t.Helper()
	c := rest.CopyConfig(cfg)
	c.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripper(func(r *http.Request) (*http.Response, error) {
			r = r.Clone(r.Context())
			r.Header.Set(header, value)
			return rt.RoundTrip(r)
		})
	})
	cs, err := kubernetes.NewForConfig(c)
	if err != nil {
		t.Fatal(err)
	}
	return cs.CoreV1()
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// anonymousClient sends requests without credentials, trusting any server certificate (envtest's own).
func anonymousClient() *http.Client {
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
}
