package render

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
	"github.com/auditpipeline/auditpipeline-operator/internal/testkit/golden"
)

// natsPipeline is a pipeline whose spec.nats holds only what the user must set.
func natsPipeline(name string) *v1alpha1.AuditPipeline {
	return &v1alpha1.AuditPipeline{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "audit"},
		Spec: v1alpha1.AuditPipelineSpec{
			NATS: v1alpha1.NATSSpec{Servers: []string{"nats://nats.nats.svc:4222"}},
		},
	}
}

func dur(s string) metav1.Duration {
	d, err := time.ParseDuration(s)
	if err != nil {
		panic(err)
	}
	return metav1.Duration{Duration: d}
}

func TestNATSGolden(t *testing.T) {
	cases := []struct {
		golden string
		spec   func(p *v1alpha1.AuditPipeline)
	}{
		// The replaced hand-made deployment: AUDIT_EVENTS and clickhouse-ingest, from the API's defaults.
		{"nats-defaults", func(*v1alpha1.AuditPipeline) {}},
		{"nats-tuned-delete", func(p *v1alpha1.AuditPipeline) {
			p.Spec.DeletionPolicy = v1alpha1.DeletionPolicyDelete
			p.Spec.NATS.Servers = []string{"nats://nats-0.nats:4222", "nats://nats-1.nats:4222", "nats://nats-2.nats:4222"}
			p.Spec.NATS.Stream = v1alpha1.StreamSpec{
				Name: "AUDIT_PROD", Subjects: []string{"audit.k8s.>", "audit.extra.>"}, MaxAge: dur("24h"),
				MaxBytes: resource.MustParse("10Gi"), MaxMessageSize: resource.MustParse("8Mi"), Replicas: 3,
				DuplicateWindow: dur("2m"), Storage: v1alpha1.StreamStorageMemory,
			}
			p.Spec.NATS.Consumer = v1alpha1.ConsumerSpec{DurableName: "ingest-prod", MaxAckPending: 500,
				AckWait: dur("2m"), MaxDeliver: 10}
		}},
		{"nats-credentials-mtls", func(p *v1alpha1.AuditPipeline) {
			p.Spec.NATS.Servers = []string{"tls://nats.nats.svc:4222"}
			p.Spec.NATS.CredentialsSecretRef = &v1alpha1.SecretKeyReference{Name: "nats-user", Key: "audit.creds"}
			p.Spec.NATS.TLS = &v1alpha1.TLSSpec{
				CASecretRef:         &v1alpha1.SecretKeyReference{Name: "nats-client-tls", Key: "ca.crt"},
				ClientCertSecretRef: &v1alpha1.SecretReference{Name: "nats-client-tls"},
			}
		}},
		{"nats-tls-ca-only", func(p *v1alpha1.AuditPipeline) {
			p.Spec.NATS.Servers = []string{"tls://nats.nats.svc:4222"}
			p.Spec.NATS.TLS = &v1alpha1.TLSSpec{CASecretRef: &v1alpha1.SecretKeyReference{Name: "nats-ca", Key: "ca.pem"}}
		}},
		// insecureSkipVerify alone references no Secret: no Account.
		{"nats-insecure-only", func(p *v1alpha1.AuditPipeline) {
			p.Spec.NATS.TLS = &v1alpha1.TLSSpec{InsecureSkipVerify: true}
		}},
		{"nats-long-dotted-name", func(p *v1alpha1.AuditPipeline) {
			p.Name = "cluster.audit.example.com-" + strings.Repeat("x", 60)
			p.Spec.NATS.CredentialsSecretRef = &v1alpha1.SecretKeyReference{Name: "nats-user", Key: "user.creds"}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.golden, func(t *testing.T) {
			p := natsPipeline("audit")
			tc.spec(p)
			objs, err := NATS(p)
			if err != nil {
				t.Fatal(err)
			}
			list := []runtime.Object{objs.Stream, objs.Consumer}
			if objs.Account != nil {
				list = append([]runtime.Object{objs.Account}, list...)
			}
			golden.Assert(t, tc.golden+".yaml", objectsYAML(t, list...))
		})
	}
}

func TestNATSRejectsTwoTLSSecrets(t *testing.T) {
	p := natsPipeline("audit")
	p.Spec.NATS.TLS = &v1alpha1.TLSSpec{
		CASecretRef:         &v1alpha1.SecretKeyReference{Name: "ca", Key: "ca.crt"},
		ClientCertSecretRef: &v1alpha1.SecretReference{Name: "client"},
	}
	_, err := NATS(p)
	if !errors.Is(err, ErrInvalidSpec) {
		t.Fatalf("NATS() error = %v, want ErrInvalidSpec", err)
	}
	if !strings.Contains(err.Error(), `put the CA into "client"`) {
		t.Errorf("error does not say what to change: %v", err)
	}
}

func TestNATSPreventDeleteFollowsDeletionPolicy(t *testing.T) {
	for policy, want := range map[v1alpha1.DeletionPolicy]bool{
		"": true, v1alpha1.DeletionPolicyRetain: true, v1alpha1.DeletionPolicyDelete: false,
	} {
		p := natsPipeline("audit")
		p.Spec.DeletionPolicy = policy
		objs, err := NATS(p)
		if err != nil {
			t.Fatal(err)
		}
		if objs.Stream.Spec.PreventDelete != want || objs.Consumer.Spec.PreventDelete != want {
			t.Errorf("deletionPolicy %q: preventDelete stream=%v consumer=%v, want %v", policy,
				objs.Stream.Spec.PreventDelete, objs.Consumer.Spec.PreventDelete, want)
		}
	}
}

// TestNATSDefaultsMatchTheCRD keeps withNATSDefaults in step with the defaults the API server applies.
func TestNATSDefaultsMatchTheCRD(t *testing.T) {
	got := withNATSDefaults(v1alpha1.NATSSpec{})
	var want v1alpha1.NATSSpec
	for field, target := range map[string]any{"stream": &want.Stream, "consumer": &want.Consumer} {
		if err := json.Unmarshal(crdDefaults(t, "nats", field), target); err != nil {
			t.Fatal(err)
		}
	}
	if !equality.Semantic.DeepEqual(got, want) {
		t.Errorf("withNATSDefaults = %+v\nCRD defaults = %+v", got, want)
	}
}

// crdDefaults collects the defaults of the properties of spec.<path> in the generated CRD as one JSON object.
func crdDefaults(t *testing.T, path ...string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "config", "crd", "bases", "auditpipeline.io_auditpipelines.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.Unmarshal(data, &crd); err != nil {
		t.Fatal(err)
	}
	props := crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"]
	for _, p := range path {
		props = props.Properties[p]
	}
	defaults := map[string]json.RawMessage{}
	for name, prop := range props.Properties {
		if prop.Default != nil {
			defaults[name] = prop.Default.Raw
		}
	}
	out, err := json.Marshal(defaults)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// objectsYAML renders the objects as one multi-document YAML, without status and server fields.
func objectsYAML(t *testing.T, objs ...runtime.Object) []byte {
	t.Helper()
	var docs []string
	for _, obj := range objs {
		u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
		if err != nil {
			t.Fatal(err)
		}
		delete(u, "status")
		delete(u["metadata"].(map[string]any), "creationTimestamp")
		out, err := yaml.Marshal(u)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, string(out))
	}
	return []byte(strings.Join(docs, "---\n"))
}
