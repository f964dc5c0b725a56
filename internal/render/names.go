package render

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
)

// maxNameLength keeps child names valid DNS-1123 labels, the strictest name rule of any kind we render.
const maxNameLength = 63

// ChildName is the name of p's child object with the given suffix: "<pipeline>-<suffix>" when that is a
// valid DNS-1123 label. A pipeline name with dots or too long for the limit is shortened, its dots replaced
// with '-', and a hash of the full name added, so the name stays deterministic and unique per pipeline.
func ChildName(p *v1alpha1.AuditPipeline, suffix string) string {
	name := p.Name + "-" + suffix
	if len(name) <= maxNameLength && !strings.Contains(p.Name, ".") {
		return name
	}
	sum := sha256.Sum256([]byte(p.Name))
	hash := hex.EncodeToString(sum[:])[:8]
	keep := maxNameLength - len(suffix) - len(hash) - 2
	prefix := strings.ReplaceAll(p.Name, ".", "-")
	if len(prefix) > keep {
		prefix = prefix[:keep]
	}
	return strings.TrimRight(prefix, "-") + "-" + hash + "-" + suffix
}
