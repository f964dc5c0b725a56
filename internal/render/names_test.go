package render

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
)

// kindRules are the kinds ChildName names, each with the suffix the operator gives it, its limit, and
// the check Kubernetes (or the controller that runs its pods) applies to its name.
var kindRules = []struct {
	kind   Kind
	suffix string
	limit  int
	valid  func(name string) []string
	// digitFirst: a digit-leading pipeline name stays as it is (NACK's kinds), rather than gaining "ap-".
	digitFirst bool
}{
	{KindDaemonSet, "collector", 52, workloadName, false},
	{KindStatefulSet, "aggregator", 52, workloadName, false},
	{KindService, "collector", 63, validation.IsDNS1035Label, false},
	{KindConfigMap, "aggregator-config", 52, validation.IsDNS1123Subdomain, false},
	{KindJob, "validate", 63, jobName, false},
	{KindNATSStream, StreamSuffix, 63, validation.IsDNS1123Subdomain, true},
	{KindNATSConsumer, ConsumerSuffix, 63, validation.IsDNS1123Subdomain, true},
	{KindNATSAccount, NATSAccountSuffix, 63, validation.IsDNS1123Subdomain, true},
}

// workloadName checks a DaemonSet's or StatefulSet's name: a DNS-1123 label (a StatefulSet's rule), and
// with "-" and a 10-character hash appended still a label value (a StatefulSet pod's
// controller-revision-hash) and a Job name (the workload's validation Job).
func workloadName(name string) []string {
	errs := validation.IsDNS1123Label(name)
	return append(errs, jobName(name+"-0123456789")...)
}

// jobName checks a Job's name: a DNS-1123 subdomain that is also a label value (the job-name label of
// its pods).
func jobName(name string) []string {
	return append(validation.IsDNS1123Subdomain(name), validation.IsValidLabelValue(name)...)
}

func hashOf(name string) string {
	sum := sha256.Sum256([]byte(name))
	return hex.EncodeToString(sum[:])[:8]
}

// TestChildNameAtEachKindsLimit holds ChildName, for every kind, to its name exactly at the kind's limit,
// one character over, dotted, starting with a digit, and 253 characters long (the longest object name),
// and checks every name it gives with Kubernetes' own validation for that kind and as a DNS-1035 label
// (the rule's promise, which lets one name serve several kinds).
func TestChildNameAtEachKindsLimit(t *testing.T) {
	for _, r := range kindRules {
		if got := MaxNameLength(r.kind); got != r.limit {
			t.Errorf("MaxNameLength(%s) = %d, want %d", r.kind, got, r.limit)
		}
		fits := strings.Repeat("a", r.limit-len(r.suffix)-1)
		over := fits + "b"
		keep := r.limit - len(r.suffix) - 10 // what is left for the name beside "-<hash>-<suffix>"
		long := strings.Repeat("c", 253)
		ap, apCut := "ap-", 4
		if r.digitFirst {
			ap, apCut = "", 1
		}
		cases := []struct{ pipeline, want string }{
			{"audit", "audit-" + r.suffix},
			{fits, fits + "-" + r.suffix},
			{over, over[:keep] + "-" + hashOf(over) + "-" + r.suffix},
			{"a.b", "a-b-" + hashOf("a.b") + "-" + r.suffix},
			{"a-b", "a-b-" + r.suffix},
			{"ap-1st", "ap-1st-" + r.suffix},
			{"9.lives", ap + "9-lives-" + hashOf("9.lives") + "-" + r.suffix},
			{long, long[:keep] + "-" + hashOf(long) + "-" + r.suffix},
			{"x." + long[2:], "x-" + long[:keep-2] + "-" + hashOf("x."+long[2:]) + "-" + r.suffix},
			{"7" + long[1:], ap + "7" + long[:keep-apCut] + "-" + hashOf("7"+long[1:]) + "-" + r.suffix},
			{strings.Repeat("a.", 126) + "b", strings.TrimRight(strings.Repeat("a-", 126)[:keep], "-") + "-" +
				hashOf(strings.Repeat("a.", 126)+"b") + "-" + r.suffix},
			// A cut that ends in '-' loses it rather than doubling the separator.
			{strings.Repeat("d", keep-1) + "-" + strings.Repeat("e", 60), strings.Repeat("d", keep-1) + "-" +
				hashOf(strings.Repeat("d", keep-1)+"-"+strings.Repeat("e", 60)) + "-" + r.suffix},
		}
		for _, c := range cases {
			p := &v1alpha1.AuditPipeline{ObjectMeta: metav1.ObjectMeta{Name: c.pipeline}}
			got := ChildName(p, r.kind, r.suffix)
			if got != c.want {
				t.Errorf("ChildName(%.20q… (%d), %s) = %q, want %q", c.pipeline, len(c.pipeline), r.kind, got, c.want)
			}
			if len(got) > r.limit {
				t.Errorf("ChildName(%.20q…, %s) = %q: %d characters, over %d", c.pipeline, r.kind, got, len(got), r.limit)
			}
			msgs := r.valid(got)
			if !r.digitFirst {
				msgs = append(msgs, validation.IsDNS1035Label(got)...)
			}
			for _, msg := range msgs {
				t.Errorf("ChildName(%.20q…, %s) = %q: %s", c.pipeline, r.kind, got, msg)
			}
		}
		first := ChildName(&v1alpha1.AuditPipeline{ObjectMeta: metav1.ObjectMeta{Name: "1st"}}, r.kind, r.suffix)
		if want := "ap-1st-" + hashOf("1st") + "-" + r.suffix; r.digitFirst {
			if first != "1st-"+r.suffix {
				t.Errorf("ChildName(1st, %s) = %q, want %q", r.kind, first, "1st-"+r.suffix)
			}
		} else if first != want {
			t.Errorf("ChildName(1st, %s) = %q, want %q", r.kind, first, want)
		}
	}
}

// TestChildNameTellsPipelinesApart checks that pipelines whose names the rule rewrites to the same text
// get different names.
func TestChildNameTellsPipelinesApart(t *testing.T) {
	for _, pair := range [][2]string{{"a.b", "a-b"}, {"1st", "ap-1st"}, {strings.Repeat("a", 60), strings.Repeat("a", 61)}} {
		a := ChildName(&v1alpha1.AuditPipeline{ObjectMeta: metav1.ObjectMeta{Name: pair[0]}}, KindService, "collector")
		b := ChildName(&v1alpha1.AuditPipeline{ObjectMeta: metav1.ObjectMeta{Name: pair[1]}}, KindService, "collector")
		if a == b {
			t.Errorf("pipelines %.20q and %.20q share the name %q", pair[0], pair[1], a)
		}
	}
}

func TestMaxNameLengthRefusesAnUnknownKind(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("MaxNameLength of an unknown kind did not panic")
		}
	}()
	MaxNameLength("Deployment")
}

// TestChildNameKeepsItsNames pins names the rule gives, hashes included: a change here renames live
// objects. Every name here is the one the two former rules (render's for NACK, vector's for the rest)
// gave.
func TestChildNameKeepsItsNames(t *testing.T) {
	long := strings.Repeat("a", 253)
	cutAtDash := strings.Repeat("b", 46) + "-" + strings.Repeat("c", 10)
	a80 := strings.Repeat("a", 80)
	for _, c := range []struct {
		kind             Kind
		suffix, pipeline string
		want             string
	}{
		{KindNATSStream, StreamSuffix, "audit", "audit-stream"},
		{KindNATSStream, StreamSuffix, "a-b", "a-b-stream"},
		{KindNATSStream, StreamSuffix, "a.b", "a-b-2e7336dc-stream"},
		{KindNATSStream, StreamSuffix, "1st", "1st-stream"},
		{KindNATSStream, StreamSuffix, "ends-.with", "ends--with-780920bd-stream"},
		{KindNATSStream, StreamSuffix, long, strings.Repeat("a", 47) + "-32859a3a-stream"},
		{KindNATSStream, StreamSuffix, "a" + long, strings.Repeat("a", 47) + "-136496c2-stream"},
		{KindNATSStream, StreamSuffix, "x." + long, "x-" + strings.Repeat("a", 45) + "-4feff3d6-stream"},
		{KindNATSStream, StreamSuffix, cutAtDash, strings.Repeat("b", 46) + "-50a5a081-stream"},
		{KindDaemonSet, "collector", "cluster-audit", "cluster-audit-collector"},
		{KindDaemonSet, "collector", "prod.cluster-audit", "prod-cluster-audit-1b260250-collector"},
		{KindDaemonSet, "collector", "1st", "ap-1st-e01ddf65-collector"},
		{KindDaemonSet, "collector", a80, strings.Repeat("a", 33) + "-0f45e858-collector"},
		{KindConfigMap, "collector-config", a80, strings.Repeat("a", 26) + "-0f45e858-collector-config"},
	} {
		p := &v1alpha1.AuditPipeline{ObjectMeta: metav1.ObjectMeta{Name: c.pipeline}}
		if got := ChildName(p, c.kind, c.suffix); got != c.want {
			t.Errorf("ChildName(%.20q…, %s, %s) = %q, want %q", c.pipeline, c.kind, c.suffix, got, c.want)
		}
	}
}
