package kind

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/auditpipeline/auditpipeline-operator/internal/render/vector/vrl"
)

// failureFlags shorten the kind cluster's batch wait and first retry delay (5s each), so that a batch and
// its retries take seconds; every other audit flag is the kind cluster's.
var failureFlags = map[string]string{
	"audit-webhook-batch-max-wait":  "1s",
	"audit-webhook-initial-backoff": "300ms",
}

// TestKubeAPIServerOnWebhookFailures shows, on a real kube-apiserver with the kind cluster's audit flags,
// what docs/apiserver.md, the chart's AuditWebhookEventsLost alert and the README's Known limitations rest
// on:
//   - a batch the webhook refuses, whatever the status code (400 here), is posted five times in all, the
//     same events each time, and then dropped and counted in apiserver_audit_error_total{plugin="webhook"}:
//     a series that does not exist before that first loss and then starts at the number of events lost
//     (apiserver_audit_event_total exists from the start);
//   - a batch taken on a later attempt is delivered once and nothing counts as lost;
//   - the body of a patch request is recorded as the client sent it, so an audit event can hold a number
//     beyond a double's range, or JSON nested deeper than 127 levels, which serde_json (Vector's JSON
//     decoder) refuses; the agent's remap, through its Go twin vrl.SplitEventList, still makes every
//     event of those posts, and keeps only such a patch's body as its text.
func TestKubeAPIServerOnWebhookFailures(t *testing.T) {
	t.Parallel()
	hook := &webhook{}
	k8s, cfg := startAuditedAPIServer(t, hook, failureFlags)
	ctx := context.Background()
	const lostSeries = `apiserver_audit_error_total{plugin="webhook"}`

	// The API server's own bootstrap requests are audited first: wait for a delivered batch.
	waitFor(t, 30*time.Second, "first batch", func() bool { return len(hook.received()) > 0 })
	m := apiServerMetrics(t, cfg)
	if _, ok := m["apiserver_audit_event_total"]; !ok {
		t.Error("apiserver_audit_event_total is not exported from the start")
	}
	if v, ok := m[lostSeries]; ok {
		t.Fatalf("%s is %v before anything was lost", lostSeries, v)
	}

	// Refused every time: five attempts, then dropped and counted.
	refused := probeName("refused")
	hook.setAnswer(func(events []auditEvent) int {
		if slices.ContainsFunc(events, created(refused)) {
			return http.StatusBadRequest
		}
		return http.StatusOK
	})
	createAndDelete(t, ctx, k8s, refused)
	// Five attempts 300ms apart at first (factor 1.5, jitter up to a fifth): under 3 seconds.
	waitFor(t, 30*time.Second, "fifth post of the refused batch", func() bool {
		return len(hook.postsWith(created(refused))) >= 5
	})
	time.Sleep(3 * time.Second)
	posts := hook.postsWith(created(refused))
	if len(posts) != 5 {
		t.Errorf("the refused batch was posted %d times (answered %v): want 5 attempts in all", len(posts), statuses(posts))
	}
	for _, p := range posts[1:] {
		if !sameEvents(posts[0], p) {
			t.Errorf("a retry posted other events than the first attempt: %d events, then %d", len(posts[0].events), len(p.events))
		}
	}
	lost := len(posts[0].events)
	waitFor(t, 10*time.Second, fmt.Sprintf("%s = %d (the refused batch's events)", lostSeries, lost), func() bool {
		return apiServerMetrics(t, cfg)[lostSeries] == float64(lost)
	})
	if slices.ContainsFunc(hook.received(), created(refused)) {
		t.Error("the refused batch was delivered after all")
	}

	// Refused twice, then taken: delivered once, nothing lost.
	retried := probeName("retried")
	answers := []int{http.StatusInternalServerError, http.StatusBadRequest}
	hook.setAnswer(func(events []auditEvent) int {
		if slices.ContainsFunc(events, created(retried)) && len(answers) > 0 {
			code := answers[0]
			answers = answers[1:]
			return code
		}
		return http.StatusOK
	})
	createAndDelete(t, ctx, k8s, retried)
	waitFor(t, 30*time.Second, "delivery of the retried batch", func() bool {
		return slices.ContainsFunc(hook.received(), created(retried))
	})
	time.Sleep(3 * time.Second)
	posts = hook.postsWith(created(retried))
	if got := statuses(posts); !slices.Equal(got, []int{500, 400, 200}) {
		t.Errorf("posts of the retried batch answered %v: want 500, 400, then 200", got)
	}
	if len(posts) >= 3 && (!sameEvents(posts[0], posts[1]) || !sameEvents(posts[0], posts[2])) {
		t.Error("the retries did not post the same events again")
	}
	if n := countEvents(hook.received(), created(retried)); n != 1 {
		t.Errorf("the retried batch's create event was delivered %d times, want once", n)
	}
	if v := apiServerMetrics(t, cfg)[lostSeries]; v != float64(lost) {
		t.Errorf("%s is %v after a batch taken on its third attempt, want still %d", lostSeries, v, lost)
	}
	hook.setAnswer(nil)

	// A patch's body is recorded as sent.
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: probeName("patched"), Namespace: "default"}}
	if err := k8s.Create(ctx, sa); err != nil {
		t.Fatal(err)
	}
	deep := strings.Repeat("[", 130) + strings.Repeat("]", 130)
	bodies := map[string]string{
		"a number beyond a double's range": `{"metadata":{"labels":{"probe":"number"}},"probeNumber":1e400}`,
		"JSON nested 131 levels deep":      `{"metadata":{"labels":{"probe":"deep"}},"probeDeep":` + deep + `}`,
	}
	for what, body := range bodies {
		// The API server may refuse to apply such a patch; it audits the request all the same.
		err := k8s.Patch(ctx, sa, client.RawPatch(types.MergePatchType, []byte(body)))
		t.Logf("patch with %s: %v", what, err)
	}
	patches := func() []auditEvent {
		var out []auditEvent
		for _, e := range hook.received() {
			if e.Verb == "patch" && e.ObjectRef != nil && e.ObjectRef.Name == sa.Name {
				out = append(out, e)
			}
		}
		return out
	}
	waitFor(t, 30*time.Second, "events of both patches", func() bool { return len(patches()) == len(bodies) })
	for what, body := range bodies {
		if !slices.ContainsFunc(patches(), func(e auditEvent) bool { return compact(t, e.RequestObject) == body }) {
			t.Errorf("no patch event records the body with %s as sent: %s", what, body)
		}
	}
	// The agent's remap makes every event of the posts that hold them.
	isPatch := func(e auditEvent) bool { return e.Verb == "patch" && e.ObjectRef != nil && e.ObjectRef.Name == sa.Name }
	kept := map[string]bool{}
	for _, post := range hook.postsWith(isPatch) {
		events, dropped, err := vrl.SplitEventList(post.body)
		if err != nil || dropped != 0 || len(events) != len(post.events) {
			t.Fatalf("the agent's remap made %d of the post's %d events (%d dropped, error %v)", len(events), len(post.events), dropped, err)
		}
		for i, e := range post.events {
			got := events[i]
			if !isPatch(e) {
				var want map[string]any
				dec := json.NewDecoder(bytes.NewReader(itemOf(t, post.body, i)))
				dec.UseNumber()
				if err := dec.Decode(&want); err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("the remap changed an event it could decode whole:\n got %v\nwant %v", got, want)
				}
				continue
			}
			text, ok := got["requestObject"].(string)
			if !ok || compact(t, json.RawMessage(text)) != compact(t, e.RequestObject) {
				t.Errorf("a patch event's requestObject became %#v, want its text %s", got["requestObject"], e.RequestObject)
			}
			if user, ok := got["user"].(map[string]any); !ok || user["username"] == nil {
				t.Errorf("a patch event's user became %#v, want it decoded", got["user"])
			}
			if got["auditID"] != e.AuditID || got["verb"] != "patch" {
				t.Errorf("a patch event's auditID and verb became %v, %v", got["auditID"], got["verb"])
			}
			kept[text] = true
		}
	}
	if len(kept) != len(bodies) {
		t.Errorf("the remap kept %d patch bodies as text, want %d", len(kept), len(bodies))
	}
}

// itemOf is the text of item i of an EventList body.
func itemOf(t *testing.T, body []byte, i int) []byte {
	t.Helper()
	var list struct {
		Items []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(body, &list); err != nil || i >= len(list.Items) {
		t.Fatalf("item %d of the post: %v", i, err)
	}
	return list.Items[i]
}

func probeName(what string) string {
	return fmt.Sprintf("kind-audit-%s-%d", what, time.Now().UnixNano())
}

// createAndDelete creates a ConfigMap named name in default and deletes it: two audit events.
func createAndDelete(t *testing.T, ctx context.Context, k8s client.Client, name string) {
	t.Helper()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}}
	if err := k8s.Create(ctx, cm); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Delete(ctx, cm); err != nil {
		t.Fatal(err)
	}
}

// created matches the event of the ConfigMap's creation. The test refuses the batch that holds it: its
// deletion may come in the next batch.
func created(name string) func(auditEvent) bool {
	return func(e auditEvent) bool {
		return e.Verb == "create" && e.ObjectRef != nil && e.ObjectRef.Resource == "configmaps" && e.ObjectRef.Name == name
	}
}

func countEvents(events []auditEvent, match func(auditEvent) bool) int {
	n := 0
	for _, e := range events {
		if match(e) {
			n++
		}
	}
	return n
}

func statuses(posts []webhookPost) []int {
	var s []int
	for _, p := range posts {
		s = append(s, p.status)
	}
	return s
}

// sameEvents reports whether two posts hold the same events (by audit ID and stage), in the same order.
func sameEvents(a, b webhookPost) bool {
	if len(a.events) != len(b.events) {
		return false
	}
	for i := range a.events {
		if a.events[i].AuditID != b.events[i].AuditID || a.events[i].Stage != b.events[i].Stage {
			return false
		}
	}
	return true
}

func waitFor(t *testing.T, timeout time.Duration, what string, done func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !done() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s in vain", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// metricLine is one sample of the Prometheus text format: the series and its value.
var metricLine = regexp.MustCompile(`^(apiserver_audit_[a-z_]+(?:\{[^}]*\})?) (\S+)$`)

// apiServerMetrics reads the API server's apiserver_audit_* samples from /metrics.
func apiServerMetrics(t *testing.T, cfg *rest.Config) map[string]float64 {
	t.Helper()
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := hc.Get(strings.TrimSuffix(cfg.Host, "/") + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d %v", resp.StatusCode, err)
	}
	out := map[string]float64{}
	for _, line := range strings.Split(string(body), "\n") {
		if m := metricLine.FindStringSubmatch(line); m != nil {
			v, err := strconv.ParseFloat(m[2], 64)
			if err != nil {
				t.Fatalf("metrics line %q: %v", line, err)
			}
			out[m[1]] = v
		}
	}
	return out
}

// compact is raw JSON without insignificant space, its numbers and nesting untouched.
func compact(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		t.Fatalf("request body %s: %v", raw, err)
	}
	return b.String()
}

// TestKubeAPIServerDropsWhatItCannotTruncate shows the truncate plugin of the kind cluster's flags at work,
// with the event size limit lowered to 4 KiB: an event over the limit reaches the webhook without its
// request and response bodies, annotated audit.k8s.io/truncated; one still over the limit without them
// is dropped and counted in apiserver_audit_error_total{plugin="truncate"}.
func TestKubeAPIServerDropsWhatItCannotTruncate(t *testing.T) {
	t.Parallel()
	hook := &webhook{}
	k8s, cfg := startAuditedAPIServer(t, hook, map[string]string{
		"audit-webhook-batch-max-wait":          "1s",
		"audit-webhook-truncate-max-event-size": "4096",
	})
	ctx := context.Background()

	// Bodies over the limit: the event is kept without them.
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: probeName("big-body"), Namespace: "default",
		Annotations: map[string]string{"probe": strings.Repeat("b", 6000)}}}
	if err := k8s.Create(ctx, sa); err != nil {
		t.Fatal(err)
	}
	// Metadata over the limit: the user impersonated, with 120 groups of 40 characters.
	impersonated := rest.CopyConfig(cfg)
	impersonated.Impersonate = rest.ImpersonationConfig{UserName: "probe", Groups: []string{"system:masters"}}
	for i := range 120 {
		impersonated.Impersonate.Groups = append(impersonated.Impersonate.Groups, fmt.Sprintf("group-%034d", i))
	}
	// A typed client sends the one request and no discovery requests, which would be as big.
	big, err := kubernetes.NewForConfig(impersonated)
	if err != nil {
		t.Fatal(err)
	}
	tooBig := probeName("big-metadata")
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: tooBig, Namespace: "default"}}
	if _, err := big.CoreV1().ConfigMaps("default").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// A small event after both, so that the test knows when the batches holding them were sent.
	after := probeName("after")
	createAndDelete(t, ctx, k8s, after)
	waitFor(t, 30*time.Second, "delivery of the events after the big ones", func() bool {
		return slices.ContainsFunc(hook.received(), created(after))
	})

	var kept *auditEvent
	for _, e := range hook.received() {
		if e.Verb == "create" && e.ObjectRef != nil && e.ObjectRef.Name == sa.Name {
			kept = &e
		}
	}
	switch {
	case kept == nil:
		t.Error("the event of the ServiceAccount with a 6,000-character annotation was not delivered")
	case len(kept.RequestObject) > 0 || len(kept.ResponseObject) > 0 || kept.Annotations["audit.k8s.io/truncated"] != "true":
		t.Errorf("the event over the limit kept %d and %d bytes of bodies, annotations %v: want none, and audit.k8s.io/truncated",
			len(kept.RequestObject), len(kept.ResponseObject), kept.Annotations)
	}
	if slices.ContainsFunc(hook.received(), created(tooBig)) {
		t.Error("the event over the limit without its bodies was delivered")
	}
	waitFor(t, 10*time.Second, `apiserver_audit_error_total{plugin="truncate"} = 1`, func() bool {
		return apiServerMetrics(t, cfg)[`apiserver_audit_error_total{plugin="truncate"}`] == 1
	})
}

// TestKubeAPIServerDropsWhatItCannotBuffer shows the buffered plugin dropping events: with room for 20
// events and one batch every 4 seconds, 20 events a second overflow the API server's buffer, and the
// events it drops are counted in apiserver_audit_error_total{plugin="buffered"}, not "webhook".
func TestKubeAPIServerDropsWhatItCannotBuffer(t *testing.T) {
	t.Parallel()
	hook := &webhook{}
	k8s, cfg := startAuditedAPIServer(t, hook, map[string]string{
		"audit-webhook-batch-max-wait":       "1s",
		"audit-webhook-batch-buffer-size":    "20",
		"audit-webhook-batch-throttle-qps":   "0.25",
		"audit-webhook-batch-throttle-burst": "1",
	})
	ctx := context.Background()
	// 20 events a second for 6 seconds: more than 20 arrive while a batch waits for the throttle.
	for range 60 {
		createAndDelete(t, ctx, k8s, probeName("burst"))
		time.Sleep(100 * time.Millisecond)
	}
	waitFor(t, 10*time.Second, `apiserver_audit_error_total{plugin="buffered"} > 0`, func() bool {
		return apiServerMetrics(t, cfg)[`apiserver_audit_error_total{plugin="buffered"}`] > 0
	})
	m := apiServerMetrics(t, cfg)
	t.Logf("buffered: %v events dropped", m[`apiserver_audit_error_total{plugin="buffered"}`])
	if v, ok := m[`apiserver_audit_error_total{plugin="webhook"}`]; ok {
		t.Errorf(`apiserver_audit_error_total{plugin="webhook"} is %v: the webhook refused nothing`, v)
	}
}

// TestKubeAPIServerRetriesOutsideItsBuffer shows where events wait while the webhook refuses them: not in
// the API server's buffer. With room for only 20 events, 60 creations made over 1.5 seconds while the
// webhook refuses every post for 4 seconds, more than 20 of them in refused posts, are all delivered once
// it takes them again, and the webhook loses nothing: each batch waits in its own retries (five posts
// over about 8 s here, 81 s with the documented flags), and the buffer only holds events not yet in a
// batch.
func TestKubeAPIServerRetriesOutsideItsBuffer(t *testing.T) {
	t.Parallel()
	hook := &webhook{}
	k8s, cfg := startAuditedAPIServer(t, hook, map[string]string{
		"audit-webhook-batch-max-wait":    "1s",
		"audit-webhook-batch-buffer-size": "20",
		"audit-webhook-initial-backoff":   "1s",
	})
	ctx := context.Background()
	waitFor(t, 30*time.Second, "first batch", func() bool { return len(hook.received()) > 0 })

	hook.setAnswer(func([]auditEvent) int { return http.StatusServiceUnavailable })
	start := time.Now()
	var names []string
	// Paced over about 1.5 s, so that the buffer is never what holds them: a burst faster than the API
	// server drains its buffer into batches can overflow it on a loaded machine.
	for range 60 {
		names = append(names, probeName("outage"))
		createAndDelete(t, ctx, k8s, names[len(names)-1])
		time.Sleep(25 * time.Millisecond)
	}
	time.Sleep(4*time.Second - time.Since(start))
	hook.setAnswer(nil)

	waitFor(t, 30*time.Second, "delivery of all 60 creations", func() bool {
		got := hook.received()
		for _, n := range names {
			if !slices.ContainsFunc(got, created(n)) {
				return false
			}
		}
		return true
	})
	// The refused posts held more of the test's creations than the buffer has room for: they waited in
	// their batches' retries. (The API server's own bootstrap may overflow so small a buffer now and then,
	// so the buffered count is not asserted; none of the test's events is lost.)
	ours := func(e auditEvent) bool {
		return slices.ContainsFunc(names, func(n string) bool { return created(n)(e) })
	}
	held := map[string]bool{}
	for _, p := range hook.postsWith(ours) {
		if p.status != http.StatusOK {
			for _, e := range p.events {
				if ours(e) {
					held[e.ObjectRef.Name] = true
				}
			}
		}
	}
	if len(held) <= 20 {
		t.Errorf("only %d of the test's creations were in refused posts: the test shows nothing about the buffer", len(held))
	}
	if v, ok := apiServerMetrics(t, cfg)[`apiserver_audit_error_total{plugin="webhook"}`]; ok {
		t.Errorf("%v events dropped by the webhook plugin", v)
	}
	t.Logf("%d of the 60 creations were in refused posts; the buffer has room for 20 events", len(held))
}
