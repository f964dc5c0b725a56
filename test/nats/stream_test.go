package nats_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	nack "github.com/nats-io/nack/pkg/jetstream/apis/jetstream/v1beta2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
	"github.com/auditpipeline/auditpipeline-operator/internal/controller"
	"github.com/auditpipeline/auditpipeline-operator/internal/render/vector"
	"github.com/auditpipeline/auditpipeline-operator/internal/render/vector/vrl"
	"github.com/auditpipeline/auditpipeline-operator/internal/testkit/natstest"
)

const (
	timeout  = 60 * time.Second
	interval = 200 * time.Millisecond
)

// startJetStream runs a JetStream server on a random loopback port with its store in a temporary
// directory, for one test.
func startJetStream(t *testing.T) *server.Server {
	t.Helper()
	s, err := natstest.StartJetStream(server.Options{StoreDir: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	return s
}

// jetStreamClient connects to s the way the aggregator will.
func jetStreamClient(t *testing.T, s *server.Server) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// newNamespace creates a namespace of its own for one test, with the ClickHouse password Secret.
func newNamespace(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "nats-e2e-"}}
	if err := k8s.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "clickhouse-auth", Namespace: ns.Name},
		Data: map[string][]byte{"password": {}}} // the test ClickHouse's default user has no password
	if err := k8s.Create(ctx, secret); err != nil {
		t.Fatal(err)
	}
	return ns.Name
}

// pipeline is an AuditPipeline with the suite's external ClickHouse and NATS at url.
func pipeline(ns, url string, policy v1alpha1.DeletionPolicy) *v1alpha1.AuditPipeline {
	host, port, err := net.SplitHostPort(clickHouseAddr)
	if err != nil {
		panic(err)
	}
	nativePort, _ := strconv.Atoi(port)
	return &v1alpha1.AuditPipeline{
		ObjectMeta: metav1.ObjectMeta{Name: "audit", Namespace: ns},
		Spec: v1alpha1.AuditPipelineSpec{
			ClickHouse: v1alpha1.ClickHouseSpec{
				External: &v1alpha1.ExternalClickHouse{Hosts: []string{host}, NativePort: int32(nativePort)},
				Credentials: v1alpha1.ClickHouseCredentials{Username: "default",
					PasswordSecretRef: v1alpha1.SecretKeyReference{Name: "clickhouse-auth", Key: "password"},
				},
			},
			NATS: v1alpha1.NATSSpec{
				Servers: []string{url},
				Stream: v1alpha1.StreamSpec{MaxAge: metav1.Duration{Duration: time.Hour},
					MaxBytes: resource.MustParse("256Mi"), MaxMessageSize: resource.MustParse("256Ki"),
					DuplicateWindow: metav1.Duration{Duration: 2 * time.Minute}},
				Consumer: v1alpha1.ConsumerSpec{MaxAckPending: 100, AckWait: metav1.Duration{Duration: 30 * time.Second}},
			},
			DeletionPolicy: policy,
		},
	}
}

// fetch reads p afresh.
func fetch(g Gomega, p *v1alpha1.AuditPipeline) *v1alpha1.AuditPipeline {
	cur := &v1alpha1.AuditPipeline{}
	g.Expect(k8s.Get(context.Background(), client.ObjectKeyFromObject(p), cur)).To(Succeed())
	return cur
}

// waitStreamReady waits until StreamReady is True for p's current generation.
func waitStreamReady(g Gomega, p *v1alpha1.AuditPipeline) *v1alpha1.AuditPipeline {
	var cur *v1alpha1.AuditPipeline
	g.Eventually(func(g Gomega) {
		cur = fetch(g, p)
		c := apimeta.FindStatusCondition(cur.Status.Conditions, v1alpha1.ConditionStreamReady)
		g.Expect(c).NotTo(BeNil())
		g.Expect(c.ObservedGeneration).To(Equal(cur.Generation))
		g.Expect(string(c.Status)+"/"+c.Reason).To(Equal("True/"+v1alpha1.ReasonReady), c.Message)
	}, timeout, interval).Should(Succeed())
	return cur
}

func TestStreamAndConsumerOnJetStream(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	srv := startJetStream(t)
	js := jetStreamClient(t, srv)
	ns := newNamespace(t)
	p := pipeline(ns, srv.ClientURL(), v1alpha1.DeletionPolicyRetain)
	g.Expect(k8s.Create(ctx, p)).To(Succeed())

	cur := waitStreamReady(g, p)
	g.Expect(cur.Status.Stream).To(Equal(&v1alpha1.StreamStatus{Name: "AUDIT_EVENTS", ConsumerName: "clickhouse-ingest"}))
	expectLiveConfig(g, js, time.Hour)

	publishDuplicates(g, js)
	pullAndAck(g, js)
	refuseOverTheLimit(g, js)
	fitUnderTheLimit(g, js)
	publishUnderAnyVerb(g, js)

	// A new maxAge reaches the live stream.
	// The operator patches status at any time: retry on conflict with the latest object.
	g.Expect(retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(cur), cur); err != nil {
			return err
		}
		cur.Spec.NATS.Stream.MaxAge = metav1.Duration{Duration: 3 * time.Hour}
		return k8s.Update(ctx, cur)
	})).To(Succeed())
	g.Eventually(func(g Gomega) time.Duration {
		info, err := streamInfo(js)
		g.Expect(err).NotTo(HaveOccurred())
		return info.Config.MaxAge
	}, timeout, interval).Should(Equal(3 * time.Hour))
	cur = waitStreamReady(g, p)
	expectNoChildWrites(g, cur)

	// Retain: the pipeline goes, the stream and its events stay, and NACK refuses to delete the stream
	// even when its object is deleted later.
	children := deletePipeline(g, cur)
	for _, obj := range children {
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(obj), obj)).To(Succeed())
		g.Expect(obj.GetOwnerReferences()).To(BeEmpty(), "%s should be orphaned", obj.GetName())
	}
	for _, obj := range children {
		waitUntilNACKCleanupKnows(obj)
		g.Expect(k8s.Delete(ctx, obj)).To(Succeed())
	}
	g.Eventually(nackEvents.all, timeout, interval).Should(ContainElement(`SkipDelete: Skip deleting stream "AUDIT_EVENTS"`))
	info, err := streamInfo(js)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(info.State.Msgs).To(Equal(uint64(8+len(verbs))), "the stream and its events outlive the pipeline")
}

func TestDeletePolicyLetsTheStreamGo(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	srv := startJetStream(t)
	js := jetStreamClient(t, srv)
	p := pipeline(newNamespace(t), srv.ClientURL(), v1alpha1.DeletionPolicyDelete)
	g.Expect(k8s.Create(ctx, p)).To(Succeed())
	cur := waitStreamReady(g, p)
	_, err := streamInfo(js)
	g.Expect(err).NotTo(HaveOccurred())

	// Delete: the children keep their owner reference, so the garbage collector removes them with the
	// pipeline. envtest runs no garbage collector: delete them as it would, and NACK deletes the stream.
	children := deletePipeline(g, cur)
	for _, obj := range children {
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(obj), obj)).To(Succeed())
		g.Expect(metav1.IsControlledBy(obj, cur)).To(BeTrue(), "%s should not be orphaned", obj.GetName())
		waitUntilNACKCleanupKnows(obj)
		g.Expect(k8s.Delete(ctx, obj, client.PropagationPolicy(metav1.DeletePropagationBackground))).To(Succeed())
	}
	g.Eventually(func() error {
		_, err := streamInfo(js)
		return err
	}, 20*time.Second, interval).Should(MatchError(jetstream.ErrStreamNotFound), "NACK events: %q", nackEvents.all())
}

func streamInfo(js jetstream.JetStream) (*jetstream.StreamInfo, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, "AUDIT_EVENTS")
	if err != nil {
		return nil, err
	}
	return s.Info(ctx)
}

func consumerInfo(g Gomega, js jetstream.JetStream) *jetstream.ConsumerInfo {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := js.Consumer(ctx, "AUDIT_EVENTS", "clickhouse-ingest")
	g.Expect(err).NotTo(HaveOccurred())
	info, err := c.Info(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	return info
}

// expectLiveConfig checks that the JetStream server holds the stream and consumer as rendered.
func expectLiveConfig(g Gomega, js jetstream.JetStream, maxAge time.Duration) {
	info, err := streamInfo(js)
	g.Expect(err).NotTo(HaveOccurred())
	sc := info.Config
	g.Expect(sc.Subjects).To(Equal([]string{"audit.k8s.>"}))
	g.Expect(sc.Retention).To(Equal(jetstream.LimitsPolicy))
	g.Expect(sc.Storage).To(Equal(jetstream.FileStorage))
	g.Expect(sc.Discard).To(Equal(jetstream.DiscardOld))
	g.Expect(sc.MaxAge).To(Equal(maxAge))
	g.Expect(sc.MaxBytes).To(Equal(int64(256 << 20)))
	g.Expect(sc.MaxMsgSize).To(Equal(int32(256 << 10)))
	g.Expect(sc.Replicas).To(Equal(1))
	g.Expect(sc.Duplicates).To(Equal(2 * time.Minute))

	cc := consumerInfo(g, js).Config
	g.Expect(cc.Durable).To(Equal("clickhouse-ingest"))
	g.Expect(cc.DeliverSubject).To(BeEmpty(), "a pull consumer")
	g.Expect(cc.DeliverPolicy).To(Equal(jetstream.DeliverAllPolicy))
	g.Expect(cc.AckPolicy).To(Equal(jetstream.AckExplicitPolicy))
	g.Expect(cc.AckWait).To(Equal(30 * time.Second))
	g.Expect(cc.MaxAckPending).To(Equal(100))
	g.Expect(cc.MaxDeliver).To(Equal(-1))
}

// published are the messages publishDuplicates sends, as the agent would (vrl.MessageID): a watch's
// ResponseStarted and ResponseComplete events, which share an auditID, the ResponseComplete twice more as
// webhook retries would repeat it, another request's event, and a third request's, made with the second's
// auditID (a client's Audit-ID header).
var published = []struct{ auditID, stage, at string }{
	{"a1b2-0001", "ResponseStarted", "2026-12-01T10:00:00.000001Z"},
	{"a1b2-0001", "ResponseComplete", "2026-12-01T10:00:02.000001Z"},
	{"a1b2-0001", "ResponseComplete", "2026-12-01T10:00:02.000001Z"},
	{"a1b2-0001", "ResponseComplete", "2026-12-01T10:00:02.000001Z"},
	{"a1b2-0002", "ResponseComplete", "2026-12-01T10:00:03.000001Z"},
	{"a1b2-0002", "ResponseComplete", "2026-12-01T10:00:04.000001Z"},
}

// publishDuplicates publishes the events of published: the stream keeps each stage of each request once.
func publishDuplicates(g Gomega, js jetstream.JetStream) {
	ctx := context.Background()
	var duplicates []bool
	for _, e := range published {
		event := fmt.Appendf(nil, `{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":%q,"stage":%q,"stageTimestamp":%q,"verb":"watch"}`,
			e.auditID, e.stage, e.at)
		ack, err := js.Publish(ctx, "audit.k8s.watch", event, jetstream.WithMsgID(vrl.MessageID(e.auditID, e.stage, e.at)))
		g.Expect(err).NotTo(HaveOccurred())
		duplicates = append(duplicates, ack.Duplicate)
	}
	g.Expect(duplicates).To(Equal([]bool{false, false, true, true, false, false}))
	info, err := streamInfo(js)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(info.State.Msgs).To(Equal(uint64(4)))
}

// pullAndAck pulls the four events kept with the durable consumer, as the aggregator will, and acks them.
func pullAndAck(g Gomega, js jetstream.JetStream) {
	ctx := context.Background()
	c, err := js.Consumer(ctx, "AUDIT_EVENTS", "clickhouse-ingest")
	g.Expect(err).NotTo(HaveOccurred())
	batch, err := c.Fetch(10, jetstream.FetchMaxWait(2*time.Second))
	g.Expect(err).NotTo(HaveOccurred())
	var ids []string
	for msg := range batch.Messages() {
		ids = append(ids, msg.Headers().Get(jetstream.MsgIDHeader))
		g.Expect(msg.DoubleAck(ctx)).To(Succeed())
	}
	g.Expect(batch.Error()).NotTo(HaveOccurred())
	var want []string
	for i, e := range published {
		if i != 2 && i != 3 { // the retries
			want = append(want, vrl.MessageID(e.auditID, e.stage, e.at))
		}
	}
	g.Expect(ids).To(Equal(want))
	info := consumerInfo(g, js)
	g.Expect(info.NumAckPending).To(BeZero())
	g.Expect(info.NumPending).To(BeZero())
	g.Expect(info.AckFloor.Stream).To(Equal(uint64(4)))
}

// refuseOverTheLimit shows JetStream's limits on the message id, which holds the auditID, and which a
// client can make long (kube-apiserver takes its Audit-ID header as the auditID: test/kind). With the
// auditID as it came, JetStream refuses a message id over 64 KiB whatever the stream's limits, and counts
// the message id against maxMessageSize (256Ki here). The agent's message id (vrl.MessageID) replaces
// a long one by its hash: the event of a 100 KB Audit-ID is stored.
func refuseOverTheLimit(g Gomega, js jetstream.JetStream) {
	ctx := context.Background()
	const at = "2026-12-01T10:00:05.000001Z"
	publish := func(msgID string, auditIDSize, bodySize int) error {
		id := strings.Repeat("a", auditIDSize)
		event := fmt.Appendf(nil, `{"auditID":%q,"padding":%q}`, id, strings.Repeat("p", bodySize-auditIDSize))
		_, err := js.Publish(ctx, "audit.k8s.create", event, jetstream.WithMsgID(msgID))
		return err
	}
	raw := func(size int) string { return strings.Repeat("a", size) + ":ResponseComplete:" + at }
	g.Expect(publish(raw(60<<10), 60<<10, 180<<10)).To(Succeed(), "a 60Ki message id and a 180Ki event")
	err := publish(raw(65<<10), 65<<10, 100<<10)
	g.Expect(err).To(HaveOccurred(), "a 65Ki message id")
	g.Expect(err.Error()).To(ContainSubstring("header size exceeds maximum allowed of 64k"))
	err = publish(raw(60<<10), 60<<10, 200<<10)
	g.Expect(err).To(HaveOccurred(), "a 60Ki message id and a 200Ki event, under maxMessageSize by itself")
	g.Expect(err.Error()).To(ContainSubstring("message size exceeds maximum allowed"))
	id := strings.Repeat("a", 100_000)
	g.Expect(publish(vrl.MessageID(id, "ResponseComplete", at), len(id), 200_000)).To(Succeed(),
		"the agent's message id for a 100 KB auditID")
}

// fitUnderTheLimit shows that the agent's fitting of an event into a message (vrl.FitEvent) keeps
// under what JetStream takes, headers included: an event over maxMessageSize (256Ki here) is refused as
// it is, which the agent's nats sink would retry forever, and stored once fitted; an event exactly at
// FitEvent's limit, and so left whole, is stored too.
func fitUnderTheLimit(g Gomega, js jetstream.JetStream) {
	ctx := context.Background()
	const maxMessageSize = 256 << 10
	const auditID, stage, at = "5d1e2f30-0000-4000-8000-000000000001", "ResponseComplete", "2026-12-01T10:00:06.000001Z"
	id := vrl.MessageID(auditID, stage, at)
	event := func(body int) map[string]any {
		return map[string]any{"kind": "Event", "apiVersion": "audit.k8s.io/v1", "auditID": auditID, "stage": stage,
			"stageTimestamp": at, "verb": "update", "annotations": map[string]any{},
			"requestObject": map[string]any{"data": strings.Repeat("r", body)}}
	}
	publish := func(ev map[string]any, msgID string) error {
		b, err := json.Marshal(ev)
		g.Expect(err).NotTo(HaveOccurred())
		_, err = js.Publish(ctx, "audit.k8s.update", b, jetstream.WithMsgID(msgID))
		return err
	}
	big := event(300 << 10)
	err := publish(big, id)
	g.Expect(err).To(HaveOccurred(), "an event of 300Ki as it is")
	g.Expect(err.Error()).To(ContainSubstring("message size exceeds maximum allowed"))
	fitted, ok := vrl.FitEvent(big, id, maxMessageSize)
	g.Expect(ok).To(BeTrue())
	g.Expect(fitted).NotTo(HaveKey("requestObject"))
	g.Expect(publish(fitted, id)).To(Succeed(), "the event fitted")

	// The largest event FitEvent leaves whole (its JSON fills the limit to the byte) is stored; one
	// that would fill maxMessageSize with its JSON alone is refused, as the headers count too.
	size := func(ev map[string]any) int { b, _ := json.Marshal(ev); return len(b) }
	sized := func(n int) map[string]any { return event(n - size(event(0))) }
	limit := maxMessageSize - 64 - len(id)
	whole := sized(limit)
	g.Expect(size(whole)).To(Equal(limit))
	same, ok := vrl.FitEvent(whole, id, maxMessageSize)
	g.Expect(ok).To(BeTrue())
	g.Expect(same).To(HaveKey("requestObject"), "an event at the limit is left whole")
	other := func(stageAt string) string { return vrl.MessageID(auditID, stage, stageAt) }
	g.Expect(publish(whole, other("2026-12-01T10:00:07.000001Z"))).To(Succeed(), "an event at FitEvent's limit")
	err = publish(sized(maxMessageSize-len(id)), other("2026-12-01T10:00:08.000001Z"))
	g.Expect(err).To(HaveOccurred(), "an event that fills maxMessageSize with the message id")
	g.Expect(err.Error()).To(ContainSubstring("message size exceeds maximum allowed"))
}

// verbs are verbs a client can give an audit event through its HTTP method (test/kind: kube-apiserver
// audits a method it does not know with the verb "" on a resource path, lowercased on any other), and
// some it cannot, to be safe.
var verbs = []string{"get", "", "a..b", "get.", "a.b", "*", ">", "a b", "ü", strings.Repeat("x", 5000)}

// publishUnderAnyVerb shows that a subject made of the raw verb can be one JetStream stores nothing
// under, which the agent's nats sink would retry forever, and that the agent's subject (the verb it
// publishes the event with, vrl.WithSubjectVerb) is stored for every verb, as one token that
// audit.k8s.* captures too.
func publishUnderAnyVerb(g Gomega, js jetstream.JetStream) {
	publish := func(subject, msgID string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		_, err := js.Publish(ctx, subject, []byte(`{"kind":"Event"}`), jetstream.WithMsgID(msgID))
		return err
	}
	for _, raw := range []string{"", "a..b", "get."} {
		g.Expect(publish(vector.SubjectPrefix+raw, "raw-"+raw)).NotTo(Succeed(), "the raw verb %q", raw)
	}
	for i, verb := range verbs {
		published := vrl.WithSubjectVerb(map[string]any{"verb": verb})
		subject := vector.SubjectPrefix + published["verb"].(string) // the sink's audit.k8s.{{ verb }}
		g.Expect(strings.Count(subject, ".")).To(Equal(2), "subject %q", subject)
		g.Expect(publish(subject, fmt.Sprintf("verb-%d", i))).To(Succeed(), "the verb %.20q as %q", verb, subject)
	}
}

// expectNoChildWrites runs one more reconciliation and checks that it rewrote neither NACK object.
func expectNoChildWrites(g Gomega, p *v1alpha1.AuditPipeline) {
	ctx := context.Background()
	children := nackChildren(p)
	before := map[string]string{}
	for _, obj := range children {
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(obj), obj)).To(Succeed())
		before[obj.GetName()] = obj.GetResourceVersion()
	}
	r := &controller.AuditPipelineReconciler{Client: k8s, APIReader: k8s, WaitInterval: time.Second}
	_, err := r.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(p)})
	g.Expect(err).NotTo(HaveOccurred())
	for _, obj := range children {
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(obj), obj)).To(Succeed())
		g.Expect(obj.GetResourceVersion()).To(Equal(before[obj.GetName()]), "%s was rewritten", obj.GetName())
	}
}

func nackChildren(p *v1alpha1.AuditPipeline) []client.Object {
	return []client.Object{
		&nack.Stream{ObjectMeta: metav1.ObjectMeta{Namespace: p.Namespace, Name: p.Name + "-stream"}},
		&nack.Consumer{ObjectMeta: metav1.ObjectMeta{Namespace: p.Namespace, Name: p.Name + "-consumer"}},
	}
}

// waitUntilNACKCleanupKnows waits until NACK's cleanup loop has listed obj at least once. NACK's legacy
// controller acts on a deleted object only if its previous cleanup tick saw it: an object deleted sooner
// after its creation leaves its stream or consumer behind in JetStream.
func waitUntilNACKCleanupKnows(obj client.Object) {
	time.Sleep(time.Until(obj.GetCreationTimestamp().Add(2*nackCleanupPeriod + time.Second)))
}

// deletePipeline deletes p, waits until it is gone and returns its NACK children.
func deletePipeline(g Gomega, p *v1alpha1.AuditPipeline) []client.Object {
	ctx := context.Background()
	g.Expect(k8s.Delete(ctx, p)).To(Succeed())
	g.Eventually(func() bool {
		err := k8s.Get(ctx, client.ObjectKeyFromObject(p), &v1alpha1.AuditPipeline{})
		return apierrors.IsNotFound(err)
	}, timeout, interval).Should(BeTrue(), "the AuditPipeline should be gone")
	return nackChildren(p)
}
