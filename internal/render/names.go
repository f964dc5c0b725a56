package render

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
)

// Kind is a kind of object the operator creates for a pipeline, as far as its name goes: the kind
// decides how long ChildName lets the name be.
type Kind string

// The kinds ChildName names.
const (
	KindDaemonSet    Kind = "DaemonSet"
	KindStatefulSet  Kind = "StatefulSet"
	KindService      Kind = "Service"
	KindConfigMap    Kind = "ConfigMap"
	KindJob          Kind = "Job"
	KindNATSStream   Kind = "Stream"
	KindNATSConsumer Kind = "Consumer"
	KindNATSAccount  Kind = "Account"
)

const (
	// dnsLabelLength is the longest DNS label (RFC 1123 and RFC 1035), and the longest label value.
	dnsLabelLength = 63
	// workloadSuffixLength is what is appended to a DaemonSet's or StatefulSet's name where it must
	// still fit dnsLabelLength: "-" and 10 characters, for a StatefulSet's pods the hash in their
	// controller-revision-hash label, for either workload the config hash in the name of its validation
	// Job (vector.ValidationName).
	workloadSuffixLength = 11
)

// MaxNameLength is the longest name ChildName gives an object of kind k:
//   - DaemonSet, StatefulSet: 52, so that the name with workloadSuffixLength appended is still a
//     label value and a Job name;
//   - ConfigMap: 52, the limit of the workloads it configures, which its names have always had;
//   - Job: 63, as its pods carry its name in the job-name label;
//   - Service: 63, a DNS-1035 label (Kubernetes' rule for Service names);
//   - NACK's Stream, Consumer and Account: DNS-1123 subdomains, up to 253 characters, held to 63 like
//     every other name.
//
// It panics for a kind it does not know: name a new kind here first.
func MaxNameLength(k Kind) int {
	switch k {
	case KindDaemonSet, KindStatefulSet, KindConfigMap:
		return dnsLabelLength - workloadSuffixLength
	case KindJob, KindService, KindNATSStream, KindNATSConsumer, KindNATSAccount:
		return dnsLabelLength
	}
	panic(fmt.Sprintf("render: no name rule for kind %q", k))
}

// ChildName is the name of p's child object of kind k with the given suffix, the one rule for every
// object the operator names: "<pipeline>-<suffix>" when the pipeline's name holds no dot, starts with
// a letter (for a kind whose name must, see below) and the whole fits MaxNameLength(k). Otherwise the
// name's dots become '-', a name that starts with a digit gets the prefix "ap-" where the kind needs a
// letter first, the result is cut to fit, and a hash of the full pipeline name comes before the suffix:
// "<prefix>-<8 hex>-<suffix>", unique per pipeline and the same on every pass. Every name ChildName
// returns for a Kubernetes kind is a DNS-1035 label (it starts with a letter: Services must, and the
// workloads share their names with Services), so one name can serve objects of several kinds: name it
// after the kind with the shortest limit. NACK's kinds take a digit first, as their names always have. Names derived from these
// (vector.ValidationName: "-" and 10 characters after a workload's or a ConfigMap's name) stay valid
// through MaxNameLength's margins.
//
// The ClickHouseInstallation and ClickHouseKeeperInstallation are named after the pipeline itself, not
// by this rule: the Altinity operator derives its own objects' names from theirs, and the API limits the
// name of a pipeline with a managed ClickHouse to fit.
func ChildName(p *v1alpha1.AuditPipeline, k Kind, suffix string) string {
	limit := MaxNameLength(k)
	label := strings.ReplaceAll(p.Name, ".", "-")
	if label != "" && label[0] >= '0' && label[0] <= '9' && letterFirst(k) {
		label = "ap-" + label
	}
	name := label + "-" + suffix
	if label == p.Name && len(name) <= limit {
		return name
	}
	sum := sha256.Sum256([]byte(p.Name))
	hash := hex.EncodeToString(sum[:])[:8]
	keep := min(len(label), limit-len(suffix)-len(hash)-2)
	return strings.TrimRight(label[:keep], "-") + "-" + hash + "-" + suffix
}

// letterFirst says whether names of kind k must start with a letter; NACK's kinds need not.
func letterFirst(k Kind) bool {
	return k != KindNATSStream && k != KindNATSConsumer && k != KindNATSAccount
}
