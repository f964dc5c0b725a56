package v1alpha1

import corev1 "k8s.io/api/core/v1"

// ImageReference is a container image: [registry[:port]/]repository[:tag][@digest], the repository in
// lower case, e.g. timberio/vector:0.59.0-distroless-libc.
// +kubebuilder:validation:MinLength=1
// +kubebuilder:validation:MaxLength=512
// +kubebuilder:validation:XValidation:rule="self.matches('^(([a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?([.][a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?)*|[[][0-9a-fA-F:]+[]])(:[0-9]+)?/)?[a-z0-9]+(([._]|__|-+)[a-z0-9]+)*(/[a-z0-9]+(([._]|__|-+)[a-z0-9]+)*)*(:[a-zA-Z0-9_][-a-zA-Z0-9_.]{0,127})?(@[A-Za-z][A-Za-z0-9]*([-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$')",message="must be an image reference, [registry[:port]/]repository[:tag][@digest] with a lower-case repository and no spaces, e.g. timberio/vector:0.59.0-distroless-libc"
type ImageReference string

// LabelValue is the value of a label: empty, or up to 63 letters, digits, '-', '_' or '.' that start and
// end with a letter or digit.
// +kubebuilder:validation:MaxLength=63
// +kubebuilder:validation:XValidation:rule="self.matches('^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$')",message="must be a label value: empty, or up to 63 letters, digits, '-', '_' or '.' starting and ending with a letter or digit"
type LabelValue string

// Toleration lets pods run on nodes with a matching taint, as in a Pod (corev1.Toleration).
// +kubebuilder:validation:XValidation:rule="(has(self.key) && self.key.size() > 0) || (has(self.operator) && self.operator == 'Exists')",message="a toleration without a key must have operator Exists (it then tolerates every taint)"
// +kubebuilder:validation:XValidation:rule="!has(self.value) || self.value.size() == 0 || !has(self.operator) || self.operator != 'Exists'",message="a toleration with operator Exists takes no value: remove value or use operator Equal"
// +kubebuilder:validation:XValidation:rule="!has(self.tolerationSeconds) || (has(self.effect) && self.effect == 'NoExecute')",message="tolerationSeconds applies only to a toleration with effect NoExecute"
type Toleration struct {
	// key is the taint key, e.g. node-role.kubernetes.io/control-plane; empty with operator Exists, the
	// toleration matches every taint.
	// +optional
	// +kubebuilder:validation:MaxLength=317
	// +kubebuilder:validation:XValidation:rule="self == '' || (self.matches('^([a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$') && (!self.contains('/') || self.indexOf('/') <= 253))",message="must be a taint key: an optional DNS prefix and '/', then up to 63 letters, digits, '-', '_' or '.', e.g. node-role.kubernetes.io/control-plane"
	Key string `json:"key,omitempty"`

	// operator is Equal (the taint's value must equal value; the default) or Exists (any value).
	// +optional
	// +kubebuilder:validation:Enum=Exists;Equal;""
	Operator corev1.TolerationOperator `json:"operator,omitempty"`

	// value is the taint value the toleration matches, with operator Equal.
	// +optional
	Value LabelValue `json:"value,omitempty"`

	// effect is the taint effect matched: NoSchedule, PreferNoSchedule or NoExecute; empty matches all.
	// +optional
	// +kubebuilder:validation:Enum=NoSchedule;PreferNoSchedule;NoExecute;""
	Effect corev1.TaintEffect `json:"effect,omitempty"`

	// tolerationSeconds is how long a pod stays bound to a node after a NoExecute taint is added; unset,
	// forever.
	// +optional
	TolerationSeconds *int64 `json:"tolerationSeconds,omitempty"`
}

// PodTolerations returns ts as a Pod's tolerations.
func PodTolerations(ts []Toleration) []corev1.Toleration {
	if ts == nil {
		return nil
	}
	out := make([]corev1.Toleration, len(ts))
	for i, t := range ts {
		out[i] = corev1.Toleration{Key: t.Key, Operator: t.Operator, Value: string(t.Value), Effect: t.Effect,
			TolerationSeconds: t.TolerationSeconds}
	}
	return out
}

// PodNodeSelector returns sel as a Pod's node selector.
func PodNodeSelector(sel map[string]LabelValue) map[string]string {
	if sel == nil {
		return nil
	}
	out := make(map[string]string, len(sel))
	for k, v := range sel {
		out[k] = string(v)
	}
	return out
}

// ComputeResources are the requests and limits of a container's CPU, memory and other resources, as in a
// Pod (corev1.ResourceRequirements without claims). A CPU or memory request must not exceed its limit;
// the API server checks the other resources when the workload is applied.
// +kubebuilder:validation:XValidation:rule="(!has(self.requests) || !has(self.limits) || !('cpu' in self.requests) || !('cpu' in self.limits) || !isQuantity(string(self.requests['cpu'])) || !isQuantity(string(self.limits['cpu'])) || quantity(string(self.requests['cpu'])).compareTo(quantity(string(self.limits['cpu']))) <= 0)",message="resources.requests.cpu must not exceed resources.limits.cpu: lower the request or raise the limit"
// +kubebuilder:validation:XValidation:rule="(!has(self.requests) || !has(self.limits) || !('memory' in self.requests) || !('memory' in self.limits) || !isQuantity(string(self.requests['memory'])) || !isQuantity(string(self.limits['memory'])) || quantity(string(self.requests['memory'])).compareTo(quantity(string(self.limits['memory']))) <= 0)",message="resources.requests.memory must not exceed resources.limits.memory: lower the request or raise the limit"
type ComputeResources struct {
	// limits are the most the container may use, e.g. {cpu: "2", memory: 2Gi}.
	// +optional
	// +kubebuilder:validation:MaxProperties=16
	// +kubebuilder:validation:XValidation:rule="self.all(k, k.matches('^(cpu|memory|ephemeral-storage|hugepages-[-A-Za-z0-9_.]+|[a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*/[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)$'))",message="resources.limits keys must be cpu, memory, ephemeral-storage, hugepages-<size> or a prefixed extended resource such as example.com/gpu"
	Limits corev1.ResourceList `json:"limits,omitempty"`

	// requests are what the scheduler reserves for the container, e.g. {cpu: 500m, memory: 512Mi}.
	// +optional
	// +kubebuilder:validation:MaxProperties=16
	// +kubebuilder:validation:XValidation:rule="self.all(k, k.matches('^(cpu|memory|ephemeral-storage|hugepages-[-A-Za-z0-9_.]+|[a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*/[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)$'))",message="resources.requests keys must be cpu, memory, ephemeral-storage, hugepages-<size> or a prefixed extended resource such as example.com/gpu"
	Requests corev1.ResourceList `json:"requests,omitempty"`
}

// Requirements returns r as a container's resource requirements.
func (r ComputeResources) Requirements() corev1.ResourceRequirements {
	return corev1.ResourceRequirements{Limits: r.Limits, Requests: r.Requests}
}

// SecretKeyReference names one key of a Secret in the AuditPipeline's namespace. Secrets are always
// referenced, never copied into specs, ConfigMaps or logs.
type SecretKeyReference struct {
	// name of the Secret, in the namespace of the AuditPipeline.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')",message="must be the name of a Secret: lower case letters, digits, '-' and '.'"
	Name string `json:"name"`

	// key in the Secret's data.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self.matches('^[-._a-zA-Z0-9]+$')",message="must be a Secret data key: letters, digits, '-', '_' and '.'"
	Key string `json:"key"`
}

// SecretReference names a whole Secret in the AuditPipeline's namespace.
type SecretReference struct {
	// name of the Secret, in the namespace of the AuditPipeline.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')",message="must be the name of a Secret: lower case letters, digits, '-' and '.'"
	Name string `json:"name"`
}

// TLSSpec configures TLS towards a server.
type TLSSpec struct {
	// caSecretRef is the key of a Secret holding the PEM CA bundle that signs the server's certificate.
	// Unset, the system roots are used. A value without a PEM certificate sets the components that read
	// it False, reason SecretUnusable.
	// +optional
	CASecretRef *SecretKeyReference `json:"caSecretRef,omitempty"`

	// clientCertSecretRef names a Secret of type kubernetes.io/tls (keys tls.crt and tls.key, PEM, the
	// key unencrypted) used as the client certificate, for servers that require mutual TLS. A value of
	// another form sets the components that read it False, reason SecretUnusable.
	// +optional
	ClientCertSecretRef *SecretReference `json:"clientCertSecretRef,omitempty"`

	// insecureSkipVerify turns off verification of the server's certificate. For tests only; defaults to false.
	// +optional
	InsecureSkipVerify bool `json:"insecureSkipVerify,omitempty"`
}
