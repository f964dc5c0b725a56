package servingcert

import (
	"bytes"
	"context"
	"encoding/base64"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// TestLifecycle walks a serving certificate through its renewals and a CA rotation on the real API server.
func TestLifecycle(t *testing.T) {
	f := newFixture(t, "audit.auditpipeline.io", true)

	next, writes := f.round()
	f.expectWrites("first round", writes, "create ca", "patch api", "create serving")
	first := f.check("first round")
	if n := count(t, first.bundle); n != 1 {
		t.Errorf("first round: %d CAs in the bundle", n)
	}
	if nb, na := validity(t, first.cert); !next.Equal(RenewAt(nb, na)) {
		t.Errorf("first round: next %s, want the certificate's renewal %s", next, RenewAt(nb, na))
	}
	if evs := f.events(); len(evs) != 2 || !strings.Contains(evs[0], "CAIssued") || !strings.Contains(evs[1], "ServingCertIssued") {
		t.Errorf("first round: events %q", evs)
	}

	again, writes := f.round()
	f.expectWrites("second round", writes)
	second := f.check("second round")
	if second.serving.ResourceVersion != first.serving.ResourceVersion || second.ca.ResourceVersion != first.ca.ResourceVersion ||
		second.apiServiceRV != first.apiServiceRV || !again.Equal(next) {
		t.Error("second round: something changed")
	}
	if evs := f.events(); len(evs) != 0 {
		t.Errorf("second round: events %q", evs)
	}

	f.now = next.Add(time.Second)
	_, writes = f.round()
	f.expectWrites("certificate renewal", writes, "update serving")
	renewed := f.check("certificate renewal")
	if bytes.Equal(renewed.cert, first.cert) || renewed.ca.ResourceVersion != first.ca.ResourceVersion ||
		renewed.apiServiceRV != first.apiServiceRV || !bytes.Equal(renewed.bundle, first.bundle) {
		t.Error("certificate renewal: want a new certificate of the same CA, the caBundle unchanged")
	}

	caFrom, caTo := validity(t, first.caCert)
	f.now = RenewAt(caFrom, caTo).Add(-time.Hour)
	_, writes = f.round()
	f.expectWrites("just before the CA's renewal", writes, "update serving")
	lastOld := f.check("just before the CA's renewal").cert

	f.now = RenewAt(caFrom, caTo).Add(time.Second)
	next, writes = f.round()
	f.expectWrites("CA renewal", writes, "update ca", "patch api", "update serving")
	rotated := f.check("CA renewal")
	if bytes.Equal(rotated.caCert, first.caCert) || !bytes.Equal(rotated.previous, first.caCert) || count(t, rotated.bundle) != 2 {
		t.Errorf("CA renewal: want a new CA and the old one kept as previous (%d CAs in the bundle)", count(t, rotated.bundle))
	}
	// Pods still serving the old CA's certificate stay trusted.
	if err := verify(lastOld, rotated.bundle, service+"."+f.ns+".svc", f.now); err != nil {
		t.Errorf("CA renewal: the old certificate: %v", err)
	}
	if nb, na := validity(t, rotated.cert); !next.Equal(RenewAt(nb, na)) {
		t.Errorf("CA renewal: next %s, want %s", next, RenewAt(nb, na))
	}

	f.now = caTo.Add(time.Second)
	_, writes = f.round()
	f.expectWrites("the old CA's expiry", writes, "update ca", "patch api", "update serving")
	final := f.check("the old CA's expiry")
	if !bytes.Equal(final.bundle, rotated.caCert) || !bytes.Equal(final.caCert, rotated.caCert) || final.previous != nil {
		t.Errorf("the old CA's expiry: %d CAs in the bundle, want only the new one", count(t, final.bundle))
	}
	_, writes = f.round()
	f.expectWrites("after the old CA's expiry", writes)
}

// TestSchedule follows the returned next times for twelve years: every round leaves a certificate the
// aggregator trusts, and the one served until then stays trusted too.
func TestSchedule(t *testing.T) {
	f := newFixture(t, "schedule.audit.auditpipeline.io", true)
	var served, firstCA []byte
	caRotations := 0
	for f.now.Before(t0.Add(12 * year)) {
		next, _ := f.round()
		s := f.check(f.now.Format(time.DateOnly))
		if served != nil {
			if err := verify(served, s.bundle, service+"."+f.ns+".svc", f.now); err != nil {
				t.Errorf("%s: the certificate served until now: %v", f.now, err)
			}
		}
		if firstCA != nil && !bytes.Equal(firstCA, s.caCert) {
			caRotations++
		}
		if !next.After(f.now) {
			t.Fatalf("%s: next %s is not later", f.now, next)
		}
		served, firstCA, f.now = s.cert, s.caCert, next
	}
	if caRotations != 3 {
		t.Errorf("%d CA rotations in 12 years of 5-year CAs, want 3", caRotations)
	}
}

// TestRepair breaks the objects by hand, one way after another; each round repairs them, writing no more
// than it must.
func TestRepair(t *testing.T) {
	f := newFixture(t, "repair.audit.auditpipeline.io", true)
	f.round()
	foreignCA := mustCA(t, t0, year)
	for _, tc := range []struct {
		name     string
		sabotage func(s state)
		want     []string
	}{
		{"serving Secret deleted", func(s state) { f.deleteSecret(servingSecret) },
			[]string{"create serving"}},
		{"serving key corrupted", func(s state) { f.setData(servingSecret, "tls.key", []byte("garbage")) },
			[]string{"update serving"}},
		{"certificate for other names", func(s state) {
			f.setPair(mustServing(t, KeyPair{Cert: s.caCert, Key: s.ca.Data[KeyCAKey]}, []string{"other.example"}, f.now, year))
		}, []string{"update serving"}},
		{"certificate of another CA", func(s state) {
			f.setPair(mustServing(t, foreignCA, DNSNames(service, f.ns), f.now, year))
		}, []string{"update serving"}},
		{"serving Secret of another type", func(s state) {
			f.deleteSecret(servingSecret)
			opaque := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: servingSecret}, Data: s.serving.Data}
			if err := k8s.Create(context.Background(), opaque); err != nil {
				t.Fatal(err)
			}
		}, []string{"delete serving", "create serving"}},
		{"caBundle edited", func(s state) { f.setCABundle(foreignCA.Cert) },
			[]string{"patch api"}},
		{"caBundle emptied", func(s state) { f.setCABundle(nil) },
			[]string{"patch api"}},
		{"CA key corrupted", func(s state) { f.setData(caSecret, KeyCAKey, []byte("garbage")) },
			[]string{"update ca", "patch api", "update serving"}},
		{"CA Secret deleted", func(s state) { f.deleteSecret(caSecret) },
			[]string{"create ca", "patch api", "update serving"}},
		{"previous CAs corrupted", func(s state) { f.setData(caSecret, KeyPreviousCAs, []byte("garbage")) },
			[]string{"update ca", "patch api", "update serving"}},
	} {
		before := f.check("before " + tc.name)
		tc.sabotage(before)
		_, writes := f.round()
		f.expectWrites(tc.name, writes, tc.want...)
		after := f.check(tc.name)
		caReplaced := !bytes.Equal(after.caCert, before.caCert)
		if caReplaced != strings.HasPrefix(tc.name, "CA ") {
			t.Errorf("%s: CA replaced: %v", tc.name, caReplaced)
		}
		// A replaced CA stays trusted: pods may still serve its certificates.
		if caReplaced && !bytes.Contains(after.bundle, before.caCert) {
			t.Errorf("%s: the replaced CA left the bundle", tc.name)
		}
		f.t.Logf("%s: %d CAs in the bundle", tc.name, count(t, after.bundle))
	}
}

// TestAPIServiceMissing: an APIService that does not exist yet is no error, and is retried soon.
func TestAPIServiceMissing(t *testing.T) {
	f := newFixture(t, "missing.audit.auditpipeline.io", false)
	next, writes := f.round()
	f.expectWrites("without the APIService", writes, "create ca", "create serving")
	if want := f.now.Add(missingRetry); !next.Equal(want) {
		t.Errorf("without the APIService: next %s, want %s", next, want)
	}
	f.createAPIService()
	f.now = f.now.Add(missingRetry)
	next, writes = f.round()
	f.expectWrites("with the APIService", writes, "patch api")
	s := f.check("with the APIService")
	if nb, na := validity(t, s.cert); !next.Equal(RenewAt(nb, na)) {
		t.Errorf("with the APIService: next %s, want the certificate's renewal", next)
	}
}

// TestConcurrentWriter: another writer edits each object between the Rotator's read and its write during
// a CA rotation; the Rotator's write fails on the resourceVersion, the round runs again, and the other
// writer's edit survives.
func TestConcurrentWriter(t *testing.T) {
	f := newFixture(t, "conflict.audit.auditpipeline.io", true)
	f.round()
	first := f.check("first round")
	caFrom, caTo := validity(t, first.caCert)
	f.now = RenewAt(caFrom, caTo).Add(time.Second)
	edited := map[string]bool{}
	f.before = func(verb string, obj client.Object) {
		if edited[obj.GetName()] {
			return
		}
		edited[obj.GetName()] = true
		f.annotate(obj)
	}
	_, writes := f.round()
	f.expectWrites("rotation with a concurrent writer", writes,
		"update ca", "update ca", "patch api", "patch api", "update serving", "update serving")
	s := f.check("rotation with a concurrent writer")
	if count(t, s.bundle) != 2 {
		t.Errorf("%d CAs in the bundle, want the new and the old", count(t, s.bundle))
	}
	for name, annotations := range map[string]map[string]string{
		"CA Secret": s.ca.Annotations, "serving Secret": s.serving.Annotations, "APIService": f.getAPIService().GetAnnotations(),
	} {
		if annotations["test/edited"] != "yes" {
			t.Errorf("the %s lost the other writer's edit", name)
		}
	}
}

// TestTwoRotators: two operators' first rounds at once agree on one CA.
func TestTwoRotators(t *testing.T) {
	f := newFixture(t, "two.audit.auditpipeline.io", true)
	other, err := New(Options{
		Namespace: f.ns, SecretName: servingSecret, ServiceName: service, APIServiceNames: []string{f.apiService},
		Now: func() time.Time { return t0 }, Client: k8s,
	})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, r := range []*Rotator{f.rotator, other} {
		wg.Go(func() { _, errs[i] = r.Ensure(context.Background()) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	s := f.check("two rotators")
	if count(t, s.bundle) != 1 {
		t.Errorf("%d CAs in the bundle, want one", count(t, s.bundle))
	}
	_, writes := f.round()
	f.expectWrites("after two rotators", writes)
}

// TestStart: Start issues at once on the real clock and returns when its context ends.
func TestStart(t *testing.T) {
	g := NewWithT(t)
	f := newFixture(t, "start.audit.auditpipeline.io", true)
	f.now = time.Now()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- f.rotator.Start(ctx) }()
	g.Eventually(func() error {
		return k8s.Get(ctx, client.ObjectKey{Namespace: f.ns, Name: servingSecret}, &corev1.Secret{})
	}).WithTimeout(20 * time.Second).WithPolling(100 * time.Millisecond).Should(Succeed())
	f.check("started")
	cancel()
	g.Eventually(done).WithTimeout(5 * time.Second).Should(Receive(BeNil()))
	if !f.rotator.NeedLeaderElection() {
		t.Error("the Rotator must run on the leader only")
	}
}

func TestNewOptions(t *testing.T) {
	valid := Options{Namespace: "ns", SecretName: "tls", ServiceName: "api", Client: k8s}
	r, err := New(valid)
	if err != nil {
		t.Fatal(err)
	}
	if r.opts.CASecretName != "tls-ca" || r.opts.CAValidity != DefaultCAValidity || r.opts.CertValidity != DefaultCertValidity {
		t.Errorf("defaults: %+v", r.opts)
	}
	for name, edit := range map[string]func(*Options){
		"no namespace":         func(o *Options) { o.Namespace = "" },
		"no Secret":            func(o *Options) { o.SecretName = "" },
		"no Service":           func(o *Options) { o.ServiceName = "" },
		"no client":            func(o *Options) { o.Client = nil },
		"CA Secret is serving": func(o *Options) { o.CASecretName = "tls" },
		"negative validity":    func(o *Options) { o.CertValidity = -time.Hour },
	} {
		o := valid
		edit(&o)
		if _, err := New(o); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func (f *fixture) deleteSecret(name string) {
	f.t.Helper()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: name}}
	if err := k8s.Delete(context.Background(), s); err != nil {
		f.t.Fatal(err)
	}
}

// edit reads obj (with its name and namespace set), changes it and updates it.
func (f *fixture) edit(obj client.Object, change func()) {
	f.t.Helper()
	ctx := context.Background()
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
		f.t.Fatal(err)
	}
	change()
	if err := k8s.Update(ctx, obj); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) setData(secret, key string, value []byte) {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: secret}}
	f.edit(s, func() { s.Data[key] = value })
}

func (f *fixture) setPair(pair KeyPair) {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: servingSecret}}
	f.edit(s, func() { s.Data["tls.crt"], s.Data["tls.key"] = pair.Cert, pair.Key })
}

func (f *fixture) setCABundle(bundle []byte) {
	obj := f.getAPIService()
	f.edit(obj, func() {
		if bundle == nil {
			unstructured.RemoveNestedField(obj.Object, "spec", "caBundle")
			return
		}
		_ = unstructured.SetNestedField(obj.Object, base64.StdEncoding.EncodeToString(bundle), "spec", "caBundle")
	})
}

// annotate is another writer's edit of the object the Rotator is about to write.
func (f *fixture) annotate(target client.Object) {
	var obj client.Object = &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: target.GetName()}}
	if target.GetName() == f.apiService {
		obj = f.getAPIService()
	}
	f.edit(obj, func() {
		a := obj.GetAnnotations()
		if a == nil {
			a = map[string]string{}
		}
		a["test/edited"] = "yes"
		obj.SetAnnotations(a)
	})
}
