package controller

import (
	"context"
	"testing"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

func TestApplyChildOwnsAndDoesNotRewriteUnchangedObjects(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := newNamespace(t)
	p := pipeline(ns, "apply")
	p.Spec.Suspend = true // keep the reconciler out of this test
	g.Expect(k8s.Create(ctx, p)).To(Succeed())
	r := &AuditPipelineReconciler{Client: k8s}

	render := func(value string) *corev1.ConfigMap {
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "apply-config"}, Data: map[string]string{"k": value}}
	}
	first := render("v1")
	g.Expect(r.applyChild(ctx, p, first)).To(Succeed())
	g.Expect(first.ResourceVersion).NotTo(BeEmpty())
	g.Expect(first.Labels).To(HaveKeyWithValue(LabelPipeline, p.Name))
	g.Expect(metav1.IsControlledBy(first, p)).To(BeTrue())

	// A user's own label survives our applies: we own only what we render.
	live := &corev1.ConfigMap{}
	g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(first), live)).To(Succeed())
	live.Labels["team"] = "platform"
	g.Expect(k8s.Update(ctx, live)).To(Succeed())

	second := render("v1")
	g.Expect(r.applyChild(ctx, p, second)).To(Succeed())
	g.Expect(second.ResourceVersion).To(Equal(live.ResourceVersion), "an unchanged apply must not write")
	g.Expect(second.Labels).To(HaveKeyWithValue("team", "platform"))

	third := render("v2")
	g.Expect(r.applyChild(ctx, p, third)).To(Succeed())
	g.Expect(third.ResourceVersion).NotTo(Equal(live.ResourceVersion))
	g.Expect(third.Data).To(HaveKeyWithValue("k", "v2"))
}
