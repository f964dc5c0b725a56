package vrl

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
)

// PrivateNetworks are the source networks spec.aggregator.filter.dropPrivateSourceIPs drops: RFC 1918,
// RFC 4193 and loopback.
var PrivateNetworks = []string{"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8", "fc00::/7", "::1/128"}

// StagesCondition is the aggregator's filter that keeps events of the given stages (ResponseComplete
// and Panic, the API's default, when none are given).
func StagesCondition(stages []v1alpha1.AuditStage) string {
	if len(stages) == 0 {
		stages = []v1alpha1.AuditStage{v1alpha1.StageResponseComplete, v1alpha1.StagePanic}
	}
	quoted := make([]string, len(stages))
	for i, s := range stages {
		quoted[i] = strconv.Quote(string(s))
	}
	return fmt.Sprintf("includes([%s], .stage)", strings.Join(quoted, ", "))
}

// maxSourceIPs is how many source IPs PublicSourceCondition reads: an event with more is kept.
const maxSourceIPs = 8

// PublicSourceCondition is the aggregator's filter that drops an event only when it has source IPs and
// every one is in PrivateNetworks. kube-apiserver lists the client's X-Forwarded-For header first and the address the request came from
// last (test/kind): a client can add entries but not remove the real one, so it cannot make its own
// events look private, as it could when only the first was read. An event with no source IP, more than
// maxSourceIPs of them, or one that is not an IP is kept. Built only of what VRL paths and functions the
// aggregator's other programs use: literal indexes (an index past the end is null), string(),
// ip_cidr_contains() with a list of networks.
func PublicSourceCondition() string {
	quoted := make([]string, len(PrivateNetworks))
	for i, n := range PrivateNetworks {
		quoted[i] = strconv.Quote(n)
	}
	networks := strings.Join(quoted, ", ")
	all := []string{".sourceIPs[0] != null"}
	for i := range maxSourceIPs {
		all = append(all, fmt.Sprintf("(.sourceIPs[%d] == null || (ip_cidr_contains([%s], string(.sourceIPs[%d]) ?? \"\") ?? false))",
			i, networks, i))
	}
	all = append(all, fmt.Sprintf(".sourceIPs[%d] == null", maxSourceIPs))
	return "!(" + strings.Join(all, " && ") + ")"
}
