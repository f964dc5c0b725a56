package controller

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	nack "github.com/nats-io/nack/pkg/jetstream/apis/jetstream/v1beta2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
	"github.com/auditpipeline/auditpipeline-operator/internal/render/vector"
	"github.com/auditpipeline/auditpipeline-operator/internal/testkit/secrettest"
)

// No NACK runs in this suite: these tests write the status NACK would write, to drive the NATS step
// through every state. test/nats runs the real NACK against a real JetStream server.

// setNACKStatus writes the status NACK writes: Ready for the current generation, or an error that leaves
// the observed generation where it was.
func setNACKStatus(g Gomega, obj client.Object, ready bool, message string) {
	ctx := context.Background()
	g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(obj), obj)).To(Succeed())
	status := statusOf(obj)
	cond := nack.Condition{Type: "Ready", Status: corev1.ConditionTrue, Reason: "Created", Message: message,
		LastTransitionTime: time.Now().UTC().Format(time.RFC3339Nano)}
	if ready {
		status.ObservedGeneration = obj.GetGeneration()
	} else {
		cond.Status, cond.Reason = corev1.ConditionFalse, "Errored"
	}
	status.Conditions = []nack.Condition{cond}
	g.Expect(k8s.Status().Update(ctx, obj)).To(Succeed())
}

func statusOf(obj client.Object) *nack.Status {
	switch o := obj.(type) {
	case *nack.Stream:
		return &o.Status
	case *nack.Consumer:
		return &o.Status
	}
	panic(fmt.Sprintf("no NACK status in %T", obj))
}

// streamCondition returns StreamReady's status/reason and message.
func streamCondition(g Gomega, p *v1alpha1.AuditPipeline) (string, string) {
	cur, err := fetch(p)()
	g.Expect(err).NotTo(HaveOccurred())
	c := apimeta.FindStatusCondition(cur.Status.Conditions, v1alpha1.ConditionStreamReady)
	g.Expect(c).NotTo(BeNil())
	g.Expect(c.ObservedGeneration).To(Equal(cur.Generation))
	return string(c.Status) + "/" + c.Reason, c.Message
}

func TestStreamStepFollowsNACK(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := newNamespace(t)
	createSecret(t, ns, "clickhouse-auth", "password")
	p := pipeline(ns, "audit")
	g.Expect(k8s.Create(ctx, p)).To(Succeed())
	stream := &nack.Stream{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "audit-stream"}}
	consumer := &nack.Consumer{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "audit-consumer"}}

	// The Stream comes first, owned by the pipeline; the Consumer waits until NACK has made the stream.
	g.Eventually(func(g Gomega) {
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(stream), stream)).To(Succeed())
		g.Expect(metav1.IsControlledBy(stream, p)).To(BeTrue())
		g.Expect(stream.Spec.Name).To(Equal("AUDIT_EVENTS"))
		g.Expect(stream.Spec.Servers).To(Equal(p.Spec.NATS.Servers))
		g.Expect(stream.Spec.PreventDelete).To(BeTrue())
		state, msg := streamCondition(g, p)
		g.Expect(state).To(Equal("False/" + v1alpha1.ReasonProvisioning))
		g.Expect(msg).To(ContainSubstring("waiting for NACK to reconcile Stream audit-stream"))
		cur, _ := fetch(p)()
		g.Expect(cur.Status.Stream).To(Equal(&v1alpha1.StreamStatus{Name: "AUDIT_EVENTS", ConsumerName: "clickhouse-ingest"}))
	}, timeout, interval).Should(Succeed())
	g.Consistently(func() bool {
		return apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKeyFromObject(consumer), consumer))
	}, time.Second, interval).Should(BeTrue(), "no Consumer before the stream exists")

	setNACKStatus(g, stream, true, "Stream successfully created")
	g.Eventually(func(g Gomega) {
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(consumer), consumer)).To(Succeed())
		g.Expect(consumer.Spec.StreamName).To(Equal("AUDIT_EVENTS"))
		state, msg := streamCondition(g, p)
		g.Expect(state).To(Equal("False/" + v1alpha1.ReasonProvisioning))
		g.Expect(msg).To(ContainSubstring("Consumer audit-consumer"))
	}, timeout, interval).Should(Succeed())

	// NACK's words reach StreamReady.
	setNACKStatus(g, consumer, false, "failed to create consumer: insufficient resources")
	g.Eventually(func(g Gomega) {
		state, msg := streamCondition(g, p)
		g.Expect(state).To(Equal("False/" + v1alpha1.ReasonErrored))
		g.Expect(msg).To(ContainSubstring("insufficient resources"))
	}, timeout, interval).Should(Succeed())

	setNACKStatus(g, consumer, true, "Consumer successfully created")
	g.Eventually(func(g Gomega) string {
		state, _ := streamCondition(g, p)
		return state
	}, timeout, interval).Should(Equal("True/" + v1alpha1.ReasonReady))

	// A spec change reaches the Stream, and StreamReady waits for NACK to observe the new generation.
	updatePipeline(g, p, func(cur *v1alpha1.AuditPipeline) {
		cur.Spec.NATS.Stream.MaxAge = metav1.Duration{Duration: 48 * time.Hour}
	})
	g.Eventually(func(g Gomega) {
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(stream), stream)).To(Succeed())
		g.Expect(stream.Spec.MaxAge).To(Equal("48h0m0s"))
		state, _ := streamCondition(g, p)
		g.Expect(state).To(Equal("False/" + v1alpha1.ReasonProvisioning))
	}, timeout, interval).Should(Succeed())
	setNACKStatus(g, stream, true, "Stream successfully updated")
	g.Eventually(func(g Gomega) string {
		state, _ := streamCondition(g, p)
		return state
	}, timeout, interval).Should(Equal("True/" + v1alpha1.ReasonReady))

	expectNoChildWrites(g, p, stream, consumer)
}

// expectNoChildWrites runs one more reconciliation and checks that it rewrote none of objs.
func expectNoChildWrites(g Gomega, p *v1alpha1.AuditPipeline, objs ...client.Object) {
	ctx := context.Background()
	before := map[string]string{}
	for _, o := range objs {
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(o), o)).To(Succeed())
		before[o.GetName()] = o.GetResourceVersion()
	}
	reconcileDirectly(g, p)
	for _, o := range objs {
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(o), o)).To(Succeed())
		g.Expect(o.GetResourceVersion()).To(Equal(before[o.GetName()]), "a pass with nothing to change rewrote %s", o.GetName())
	}
}

func TestStreamStepAccountCarriesSecrets(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := newNamespace(t)
	createSecret(t, ns, "clickhouse-auth", "password")
	createSecret(t, ns, "nats-user", "audit.creds")
	p := pipeline(ns, "audit")
	p.Spec.NATS.CredentialsSecretRef = &v1alpha1.SecretKeyReference{Name: "nats-user", Key: "audit.creds"}
	g.Expect(k8s.Create(ctx, p)).To(Succeed())

	account := &nack.Account{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "audit-nats"}}
	stream := &nack.Stream{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "audit-stream"}}
	consumer := &nack.Consumer{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "audit-consumer"}}
	g.Eventually(func(g Gomega) {
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(account), account)).To(Succeed())
		g.Expect(account.Spec.Creds).To(Equal(&nack.CredsSecret{Secret: &nack.SecretRef{Name: "nats-user"}, File: "audit.creds"}))
		g.Expect(account.Spec.Servers).To(Equal(p.Spec.NATS.Servers))
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(stream), stream)).To(Succeed())
		g.Expect(stream.Spec.Account).To(Equal("audit-nats"))
		g.Expect(stream.Spec.Servers).To(BeEmpty())
	}, timeout, interval).Should(Succeed())
	setNACKStatus(g, stream, true, "created")
	g.Eventually(func() error { return k8s.Get(ctx, client.ObjectKeyFromObject(consumer), consumer) }, timeout, interval).Should(Succeed())
	g.Expect(consumer.Spec.Account).To(Equal("audit-nats"))

	// Without Secrets the connection moves back into the Stream and Consumer, and the Account goes.
	updatePipeline(g, p, func(cur *v1alpha1.AuditPipeline) {
		cur.Spec.NATS.CredentialsSecretRef = nil
	})
	g.Eventually(func(g Gomega) {
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(stream), stream)).To(Succeed())
		g.Expect(stream.Spec.Account).To(BeEmpty())
		g.Expect(stream.Spec.Servers).To(Equal(p.Spec.NATS.Servers))
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(consumer), consumer)).To(Succeed())
		g.Expect(consumer.Spec.Account).To(BeEmpty())
	}, timeout, interval).Should(Succeed())
	setNACKStatus(g, stream, true, "updated")
	setNACKStatus(g, consumer, true, "updated")
	g.Eventually(func() bool {
		return apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKeyFromObject(account), account))
	}, timeout, interval).Should(BeTrue(), "the unused Account should be deleted")
}

func TestStreamStepStallsOnTwoTLSSecrets(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	createSecret(t, ns, "clickhouse-auth", "password")
	createSecret(t, ns, "nats-ca", "ca.crt")
	createSecret(t, ns, "nats-client", corev1.TLSCertKey, corev1.TLSPrivateKeyKey)
	p := pipeline(ns, "audit")
	p.Spec.NATS.TLS = &v1alpha1.TLSSpec{
		CASecretRef:         &v1alpha1.SecretKeyReference{Name: "nats-ca", Key: "ca.crt"},
		ClientCertSecretRef: &v1alpha1.SecretReference{Name: "nats-client"},
	}
	g.Expect(k8s.Create(context.Background(), p)).To(Succeed())
	g.Eventually(func(g Gomega) {
		state, msg := streamCondition(g, p)
		g.Expect(state).To(Equal("False/" + v1alpha1.ReasonInvalidSpec))
		g.Expect(msg).To(ContainSubstring("NACK reads the CA and the client certificate from one Secret"))
		cur, _ := fetch(p)()
		g.Expect(conditionOf(cur, v1alpha1.ConditionStalled)).To(HavePrefix("True/"))
	}, timeout, interval).Should(Succeed())
	var streams nack.StreamList
	g.Expect(k8s.List(context.Background(), &streams, client.InNamespace(p.Namespace))).To(Succeed())
	g.Expect(streams.Items).To(BeEmpty())
}

// A credentials file or certificate of the wrong form is reported by every component that reads it,
// naming the Secret and what is wrong, and clears once fixed.
func TestUnusableNATSSecretsAreReported(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := newNamespace(t)
	createSecret(t, ns, "clickhouse-auth", "password")
	creds := createSecret(t, ns, "nats-user", "audit.creds")
	createSecret(t, ns, "nats-client", corev1.TLSCertKey, corev1.TLSPrivateKeyKey)
	cert, key := secrettest.Cert()
	// Only the JWT, as someone who copied the wrong part of the file would store it.
	creds.Data["audit.creds"] = []byte(strings.Split(string(creds.Data["audit.creds"]), "*****")[0])
	g.Expect(k8s.Update(ctx, creds)).To(Succeed())
	p := pipeline(ns, "audit")
	p.Spec.NATS.CredentialsSecretRef = &v1alpha1.SecretKeyReference{Name: "nats-user", Key: "audit.creds"}
	p.Spec.NATS.TLS = &v1alpha1.TLSSpec{ClientCertSecretRef: &v1alpha1.SecretReference{Name: "nats-client"}}
	g.Expect(k8s.Create(ctx, p)).To(Succeed())

	components := []string{v1alpha1.ConditionStreamReady, v1alpha1.ConditionCollectorReady, v1alpha1.ConditionAggregatorReady}
	expectUnusable := func(want string) {
		g.Eventually(func(g Gomega) {
			cur, err := fetch(p)()
			g.Expect(err).NotTo(HaveOccurred())
			for _, c := range components {
				g.Expect(conditionOf(cur, c)).To(Equal("False/"+v1alpha1.ReasonSecretUnusable), c)
				g.Expect(apimeta.FindStatusCondition(cur.Status.Conditions, c).Message).To(ContainSubstring(want), c)
			}
			g.Expect(conditionOf(cur, v1alpha1.ConditionStalled)).To(Equal("True/" + v1alpha1.ReasonSecretUnusable))
		}, timeout, interval).Should(Succeed())
	}
	expectUnusable(`the value of key "audit.creds" of Secret "nats-user", named by spec.nats.credentialsSecretRef, is no NATS credentials file`)

	// The credentials fixed, the swapped certificate and key are next.
	tls := &corev1.Secret{}
	g.Eventually(func(g Gomega) {
		g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "nats-user"}, creds)).To(Succeed())
		creds.Data["audit.creds"] = secrettest.Creds()
		g.Expect(k8s.Update(ctx, creds)).To(Succeed())
		g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "nats-client"}, tls)).To(Succeed())
		tls.Data[corev1.TLSCertKey], tls.Data[corev1.TLSPrivateKeyKey] = key, cert
		g.Expect(k8s.Update(ctx, tls)).To(Succeed())
	}, timeout, interval).Should(Succeed())
	expectUnusable(`the value of key "tls.crt" of Secret "nats-client", named by spec.nats.tls.clientCertSecretRef, holds a private key and no certificate (are the certificate and the key swapped?)`)

	g.Eventually(func(g Gomega) {
		g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "nats-client"}, tls)).To(Succeed())
		tls.Data[corev1.TLSCertKey], tls.Data[corev1.TLSPrivateKeyKey] = cert, key
		g.Expect(k8s.Update(ctx, tls)).To(Succeed())
	}, timeout, interval).Should(Succeed())
	g.Eventually(func(g Gomega) {
		cur, err := fetch(p)()
		g.Expect(err).NotTo(HaveOccurred())
		for _, c := range components {
			g.Expect(conditionOf(cur, c)).NotTo(HaveSuffix("/"+v1alpha1.ReasonSecretUnusable), c)
		}
		g.Expect(conditionOf(cur, v1alpha1.ConditionStalled)).To(Equal("absent"))
	}, timeout, interval).Should(Succeed())
}

// A pipeline whose JetStream stream (name, a shared server, account) is an older pipeline's applies
// nothing that reads or writes it, until the older one is gone; another stream name or another account
// is another stream.
func TestSecondPipelineOnAStreamWaits(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	onSharedNATS := func(servers ...string) *v1alpha1.AuditPipeline {
		ns := newNamespace(t)
		createSecret(t, ns, "clickhouse-auth", "password")
		p := pipeline(ns, "audit")
		p.Spec.NATS.Servers = servers
		p.Spec.DeletionPolicy = v1alpha1.DeletionPolicyRetain
		return p
	}
	streamCR := func(p *v1alpha1.AuditPipeline) *nack.Stream {
		return &nack.Stream{ObjectMeta: metav1.ObjectMeta{Namespace: p.Namespace, Name: "audit-stream"}}
	}
	first := onSharedNATS("nats://nats.shared.svc:4222")
	g.Expect(k8s.Create(ctx, first)).To(Succeed())
	g.Eventually(func(g Gomega) {
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(streamCR(first)), streamCR(first))).To(Succeed())
		cur, err := fetch(first)()
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(cur.Status.Stream).NotTo(BeNil())
	}, timeout, interval).Should(Succeed())
	// Creation times count in seconds: the second pipeline is created in a later one.
	time.Sleep(time.Until(first.CreationTimestamp.Add(time.Second)))

	// The same server written otherwise (no port, capitals) is the same server.
	second := onSharedNATS("nats://other.example:4222", "tls://NATS.shared.svc")
	g.Expect(k8s.Create(ctx, second)).To(Succeed())
	g.Eventually(func(g Gomega) {
		cur, err := fetch(second)()
		g.Expect(err).NotTo(HaveOccurred())
		for _, c := range []string{v1alpha1.ConditionStreamReady, v1alpha1.ConditionCollectorReady, v1alpha1.ConditionAggregatorReady} {
			g.Expect(conditionOf(cur, c)).To(Equal("False/"+v1alpha1.ReasonStreamInUse), c)
		}
		g.Expect(conditionOf(cur, v1alpha1.ConditionStalled)).To(Equal("True/" + v1alpha1.ReasonStreamInUse))
		msg := apimeta.FindStatusCondition(cur.Status.Conditions, v1alpha1.ConditionStreamReady).Message
		g.Expect(msg).To(ContainSubstring("JetStream stream AUDIT_EVENTS on nats.shared.svc:4222,other.example:4222, without credentials, is already the stream of AuditPipeline " + first.Namespace + "/audit"))
	}, timeout, interval).Should(Succeed())
	n := vector.NamesFor(second)
	for _, obj := range []client.Object{streamCR(second),
		&appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Namespace: second.Namespace, Name: n.Aggregator}},
		&appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: second.Namespace, Name: n.Collector}}} {
		g.Expect(apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKeyFromObject(obj), obj))).To(BeTrue(), "%T must not be applied", obj)
	}
	g.Consistently(func() (string, error) {
		cur, err := fetch(first)()
		return conditionOf(cur, v1alpha1.ConditionStreamReady), err
	}, 2*time.Second, interval).ShouldNot(HaveSuffix("/" + v1alpha1.ReasonStreamInUse))

	// Another stream and consumer name, or another account, is another stream.
	renamed := onSharedNATS("nats://nats.shared.svc:4222")
	renamed.Spec.NATS.Stream.Name, renamed.Spec.NATS.Consumer.DurableName = "AUDIT_TEST", "test-ingest"
	withCreds := onSharedNATS("nats://nats.shared.svc:4222")
	createSecret(t, withCreds.Namespace, "nats-user", "audit.creds")
	withCreds.Spec.NATS.CredentialsSecretRef = &v1alpha1.SecretKeyReference{Name: "nats-user", Key: "audit.creds"}
	for _, p := range []*v1alpha1.AuditPipeline{renamed, withCreds} {
		g.Expect(k8s.Create(ctx, p)).To(Succeed())
		g.Eventually(func() error { return k8s.Get(ctx, client.ObjectKeyFromObject(streamCR(p)), streamCR(p)) }, timeout, interval).Should(Succeed())
	}

	// Once the first pipeline is gone, the second gets the stream.
	g.Expect(k8s.Delete(ctx, first)).To(Succeed())
	g.Eventually(func() bool { return apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKeyFromObject(first), first)) }, timeout, interval).Should(BeTrue())
	poke(g, second, "first gone")
	g.Eventually(func() error { return k8s.Get(ctx, client.ObjectKeyFromObject(streamCR(second)), streamCR(second)) }, timeout, interval).Should(Succeed())
	g.Eventually(func(g Gomega) {
		state, _ := streamCondition(g, second)
		g.Expect(state).To(Equal("False/" + v1alpha1.ReasonProvisioning))
	}, timeout, interval).Should(Succeed())
}

func TestNATSServerKey(t *testing.T) {
	for in, want := range map[string]string{"nats://NATS.nats.svc": "nats.nats.svc:4222", "tls://10.0.0.1:4223": "10.0.0.1:4223", "nats://[fd00::1]": "[fd00::1]:4222"} {
		if got := natsServerKey(in); got != want {
			t.Errorf("natsServerKey(%q) = %q, want %q", in, got, want)
		}
	}
}
