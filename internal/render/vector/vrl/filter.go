package vrl

import (
	"fmt"
	"net/netip"
	"slices"
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

// KeptByStages is the Go twin of StagesCondition(stages): whether the aggregator's keep_stages filter
// keeps ev (its stage, a string, is one of stages, or of the default ones when stages is empty).
func KeptByStages(stages []v1alpha1.AuditStage, ev map[string]any) bool {
	if len(stages) == 0 {
		stages = []v1alpha1.AuditStage{v1alpha1.StageResponseComplete, v1alpha1.StagePanic}
	}
	stage, ok := ev["stage"].(string)
	return ok && slices.Contains(stages, v1alpha1.AuditStage(stage))
}

// KeptByPublicSource is the Go twin of PublicSourceCondition: whether the aggregator's
// drop_private_source_ips filter keeps ev. An index past the end of sourceIPs (or of a sourceIPs that
// is no array) reads null, as in VRL; an entry that is no string, or no IP address as Rust parses one
// (no zone, no octet with a leading zero), is in no network.
func KeptByPublicSource(ev map[string]any) bool {
	ips, _ := ev["sourceIPs"].([]any)
	at := func(i int) any {
		if i < len(ips) {
			return ips[i]
		}
		return nil
	}
	if at(0) == nil || at(maxSourceIPs) != nil {
		return true
	}
	for i := range maxSourceIPs {
		if ip := at(i); ip != nil && !inPrivateNetwork(ip) {
			return true
		}
	}
	return false
}

// inPrivateNetwork is ip_cidr_contains(PrivateNetworks, string(ip) ?? "") ?? false.
func inPrivateNetwork(ip any) bool {
	s, _ := ip.(string)
	addr, err := netip.ParseAddr(s)
	if err != nil || addr.Zone() != "" {
		return false
	}
	for _, n := range PrivateNetworks {
		if netip.MustParsePrefix(n).Contains(addr) {
			return true
		}
	}
	return false
}
