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
// spec passed the CRD's validation but not the child kind's. Retrying cannot help until the spec changes.
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

// specFields maps the fields of the children the operator renders from a spec field back to that field,
// by child kind and field path prefix, so that a refusal names the field the user can fix.
var specFields = map[string][][2]string{
	"DaemonSet": {
		{"spec.template.spec.nodeSelector", "spec.collector.nodeSelector"},
		{"spec.template.spec.tolerations", "spec.collector.tolerations"},
		{"spec.template.spec.containers[0].resources", "spec.collector.resources"},
		{"spec.template.spec.containers[0].image", "spec.collector.image"},
	},
	"StatefulSet": {
		{"spec.template.spec.containers[0].resources", "spec.aggregator.resources"},
		{"spec.template.spec.containers[0].image", "spec.aggregator.image"},
		{"spec.volumeClaimTemplates[0].spec.storageClassName", "spec.aggregator.buffer.storageClassName"},
		{"spec.volumeClaimTemplates[0].spec.resources", "spec.aggregator.buffer.maxSize"},
	},
	"ClickHouseInstallation": {
		{"spec.templates.podTemplates[0].spec.containers[0].resources", "spec.clickhouse.managed.resources"},
		{"spec.templates.podTemplates[0].spec.containers[0].image", "spec.clickhouse.managed.image"},
		{"spec.templates.volumeClaimTemplates[0].spec.storageClassName", "spec.clickhouse.managed.hotVolume.storageClassName"},
		{"spec.templates.volumeClaimTemplates[0].spec.resources", "spec.clickhouse.managed.hotVolume.size"},
	},
	"ClickHouseKeeperInstallation": {
		{"spec.templates.podTemplates[0].spec.containers[0].image", "spec.clickhouse.managed.keeper.image"},
		{"spec.templates.volumeClaimTemplates[0].spec.storageClassName", "spec.clickhouse.managed.keeper.volume.storageClassName"},
		{"spec.templates.volumeClaimTemplates[0].spec.resources", "spec.clickhouse.managed.keeper.volume.size"},
	},
}

// specField returns the spec field a child's field comes from, or "" when it cannot be told.
func specField(kind, field string) string {
	for _, m := range specFields[kind] {
		if field == m[0] || strings.HasPrefix(field, m[0]+".") || strings.HasPrefix(field, m[0]+"[") {
			return m[1] + strings.TrimPrefix(field, m[0])
		}
	}
	return ""
}

// conditionMessage says what was refused, in terms of the spec where the field can be mapped.
func (e *childRefusedError) conditionMessage() string {
	var parts []string
	for _, c := range e.causes {
		if f := specField(e.kind, c.Field); f != "" {
			parts = append(parts, fmt.Sprintf("%s: %s", f, c.Message))
		} else {
			parts = append(parts, fmt.Sprintf("%s field %s: %s", e.kind, c.Field, c.Message))
		}
	}
	if len(parts) == 0 {
		parts = append(parts, e.message)
	}
	slices.Sort(parts) // the API server lists map entries in no set order
	return fmt.Sprintf("the API server refused %s %s: %s; fix the spec, the operator applies it again when the spec changes",
		e.kind, e.name, strings.Join(parts, "; "))
}
