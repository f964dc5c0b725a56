package controller

import (
	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
)

const (
	// FieldManager is the server-side apply field manager of every object the operator writes.
	FieldManager = "auditpipeline-operator"

	// Finalizer holds an AuditPipeline until its deletion policy has been carried out.
	Finalizer = "auditpipeline.io/finalizer"

	// LabelPipeline is set on every object rendered for a pipeline to the pipeline's name.
	LabelPipeline = "auditpipeline.io/pipeline"

	// LabelManagedBy is the app.kubernetes.io/managed-by label.
	LabelManagedBy = "app.kubernetes.io/managed-by"
)

// childLabels are the labels of every object the operator creates for p.
func childLabels(p *v1alpha1.AuditPipeline) map[string]string {
	return map[string]string{
		LabelPipeline:  p.Name,
		LabelManagedBy: FieldManager,
	}
}
