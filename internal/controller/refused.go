package controller

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// childRefusedError is the API server's Invalid (422) answer to the apply of a child: something in the
// spec passed the CRD's validation but not the child kind's (or an admission policy refused it). Retrying
// soon cannot help: the step waits for the spec to change, or refusalRetry.
type childRefusedError struct {
	kind, name string
	causes     []metav1.StatusCause
	message    string
}

// refused turns an Invalid apply error into a *childRefusedError; other errors are returned as they are.
func refused(kind, name string, err error) error {
	var status apierrors.APIStatus
	if !apierrors.IsInvalid(err) || !errors.As(err, &status) {
		return err
	}
	e := &childRefusedError{kind: kind, name: name, message: status.Status().Message}
	if d := status.Status().Details; d != nil {
		e.causes = d.Causes
	}
	return e
}

func (e *childRefusedError) Error() string {
	return fmt.Sprintf("the API server refused %s %s: %s", e.kind, e.name, e.message)
}

// specField maps a field of a child rendered from the spec back to the spec field, by child kind and
// field path prefix, so that a refusal names the field the user can fix. With keep, the rest of the
// child's path (a map key, a list index) is kept. Only kinds whose fields the API server itself validates
// are listed: the Altinity installations' CRDs do not validate their pod and claim templates.
type specField struct {
	child, spec string
	keep        bool
}

var specFields = map[string][]specField{
	"DaemonSet": {
		{"spec.template.spec.nodeSelector", "spec.collector.nodeSelector", true},
		{"spec.template.spec.tolerations", "spec.collector.tolerations", true},
		{"spec.template.spec.containers[0].resources", "spec.collector.resources", true},
		{"spec.template.spec.containers[0].image", "spec.collector.image", false},
	},
	"StatefulSet": {
		{"spec.template.spec.containers[0].resources", "spec.aggregator.resources", true},
		{"spec.template.spec.containers[0].image", "spec.aggregator.image", false},
		{"spec.volumeClaimTemplates[0].spec.storageClassName", "spec.aggregator.buffer.storageClassName", false},
		{"spec.volumeClaimTemplates[0].spec.resources", "spec.aggregator.buffer.maxSize", false},
	},
}

// toSpec returns the spec field a child's field comes from, or "" when it cannot be told.
func toSpec(kind, field string) string {
	for _, m := range specFields[kind] {
		if field == m.child || strings.HasPrefix(field, m.child+".") || strings.HasPrefix(field, m.child+"[") {
			if m.keep {
				return m.spec + strings.TrimPrefix(field, m.child)
			}
			return m.spec
		}
	}
	return ""
}

// conditionMessage says what was refused, in terms of the spec where the field can be mapped.
func (e *childRefusedError) conditionMessage() string {
	var parts []string
	for _, c := range e.causes {
		if f := toSpec(e.kind, c.Field); f != "" {
			parts = append(parts, fmt.Sprintf("%s: %s", f, c.Message))
		} else {
			parts = append(parts, fmt.Sprintf("%s field %s: %s", e.kind, c.Field, c.Message))
		}
	}
	if len(parts) == 0 {
		parts = append(parts, e.message)
	}
	slices.Sort(parts) // the API server lists map entries in no set order
	return fmt.Sprintf("the API server refused %s %s: %s; fix the spec: the operator applies it again when the spec changes (or in 10 minutes)",
		e.kind, e.name, strings.Join(parts, "; "))
}
