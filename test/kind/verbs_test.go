package kind

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/auditpipeline/auditpipeline-operator/internal/render/vector/vrl"
)

// TestKubeAPIServerAuditsAnyMethod shows, on a real kube-apiserver, that the verb of an audit event comes
// from the client's HTTP method: a request with a method it does not know is audited, even from a client
// without credentials, with the verb "" for a resource path and the method lowercased, dots and all, for
// any other path. The agent used to publish each event to audit.k8s.<verb>, a subject JetStream stores
// nothing under for such verbs (test/nats), so Vector's nats sink would have retried that event forever:
// any client could stop the agent. The token the agent now publishes such an event under
// (vrl.SubjectToken, vrl.WithSubjectVerb) is one valid token for each of them.
func TestKubeAPIServerAuditsAnyMethod(t *testing.T) {
	t.Parallel()
	hook := &webhook{}
	_, cfg := startAuditedAPIServer(t, hook, failureFlags)
	authenticated, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	anonymous := anonymousClient()
	sent := map[string]string{} // the verb each request's event must have, by its Audit-ID
	const resource, nonResource = "/api/v1/namespaces/default/configmaps", "/not-an-api"
	for _, c := range []struct {
		client       *http.Client
		method, path string
	}{
		{anonymous, "A..B", resource}, {anonymous, "GET.", resource}, {authenticated, "A..B", resource},
		{anonymous, "A..B", nonResource}, {anonymous, "GET.", nonResource}, {authenticated, "X.Y", nonResource},
	} {
		id := probeName("method")
		req, err := http.NewRequest(c.method, cfg.Host+c.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Audit-ID", id)
		resp, err := c.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		sent[id] = ""
		if c.path == nonResource {
			sent[id] = strings.ToLower(c.method)
		}
	}
	byProbe := func() []auditEvent {
		var out []auditEvent
		for _, e := range hook.received() {
			if _, ok := sent[e.AuditID]; ok {
				out = append(out, e)
			}
		}
		return out
	}
	waitFor(t, 30*time.Second, "the events of every request", func() bool { return len(byProbe()) == len(sent) })
	for _, e := range byProbe() {
		if want := sent[e.AuditID]; e.Verb != want {
			t.Errorf("a request's event has the verb %q, want %q", e.Verb, want)
		}
		if token := vrl.SubjectToken(e.Verb); token == "" || strings.ContainsAny(token, ".*> \t") {
			t.Errorf("verb %q: subject token %q", e.Verb, token)
		}
	}
}
