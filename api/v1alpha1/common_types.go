package v1alpha1

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
