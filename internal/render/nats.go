package render

import (
	"errors"
	"fmt"
	"time"

	nack "github.com/nats-io/nack/pkg/jetstream/apis/jetstream/v1beta2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
)

// Suffixes of the names of a pipeline's NACK objects (see ChildName).
const (
	// StreamSuffix names the NACK Stream object.
	StreamSuffix = "stream"
	// ConsumerSuffix names the NACK Consumer object.
	ConsumerSuffix = "consumer"
	// NATSAccountSuffix names the NACK Account object that holds the connection when Secrets are referenced.
	NATSAccountSuffix = "nats"
)

// DefaultSubject is the subject tree the collector publishes to (audit.k8s.<verb>); the stream captures
// it unless spec.nats.stream.subjects says otherwise.
const DefaultSubject = "audit.k8s.>"

// ErrInvalidSpec marks a spec that passed the API server's validation but cannot be rendered. The error
// message says what to change.
var ErrInvalidSpec = errors.New("invalid spec")

// NATSObjects are the NACK (jetstream.nats.io/v1beta2) objects of one pipeline.
type NATSObjects struct {
	// Account holds the connection (servers, credentials file, TLS) when the pipeline references Secrets
	// for NATS; nil otherwise, and the Stream and Consumer then name the servers themselves.
	Account *nack.Account
	// Stream is the JetStream stream of audit events.
	Stream *nack.Stream
	// Consumer is the aggregator's durable pull consumer of the stream.
	Consumer *nack.Consumer
}

// NATS renders the NACK objects of p from spec.nats: a limits-retention stream that discards the oldest
// events at its limits and drops duplicate auditIDs within the duplicate window, and a durable pull
// consumer with explicit acks that delivers every event and, by default, redelivers without limit.
// Zero-valued fields take the API's defaults. Both objects have preventDelete set unless
// spec.deletionPolicy is Delete, so NACK keeps the JetStream stream when their objects go.
//
// NACK cannot read a Secret named in a Stream or Consumer (their creds and tls fields are file paths in
// NACK's own pod), but it reads the Secrets named by an Account in the same namespace. So when
// spec.nats.credentialsSecretRef or a TLS Secret is set, the connection goes into an Account that names
// those Secrets, and the Stream and Consumer refer to the Account. NACK reads the CA and the client
// certificate from one Secret: two different Secrets are an ErrInvalidSpec. tls.insecureSkipVerify has
// no NACK equivalent and is not rendered. NACK must run with --control-loop (recommended) or --crd-connect
// to use the connection of each object.
func NATS(p *v1alpha1.AuditPipeline) (*NATSObjects, error) {
	spec := withNATSDefaults(p.Spec.NATS)
	account, err := natsAccount(p, spec)
	if err != nil {
		return nil, err
	}
	conn := nack.ConnectionOpts{Servers: spec.Servers}
	if account != nil {
		conn = nack.ConnectionOpts{Account: account.Name}
	}
	base := nack.BaseStreamConfig{PreventDelete: p.Spec.DeletionPolicy != v1alpha1.DeletionPolicyDelete, ConnectionOpts: conn}
	return &NATSObjects{Account: account, Stream: stream(p, spec, base), Consumer: consumer(p, spec, base)}, nil
}

func stream(p *v1alpha1.AuditPipeline, spec v1alpha1.NATSSpec, base nack.BaseStreamConfig) *nack.Stream {
	s := spec.Stream
	return &nack.Stream{
		TypeMeta:   metav1.TypeMeta{APIVersion: nack.SchemeGroupVersion.String(), Kind: "Stream"},
		ObjectMeta: metav1.ObjectMeta{Name: ChildName(p, KindNATSStream, StreamSuffix), Namespace: p.Namespace},
		Spec: nack.StreamSpec{
			Name:             s.Name,
			Description:      fmt.Sprintf("Audit events of AuditPipeline %s/%s", p.Namespace, p.Name),
			Subjects:         s.Subjects,
			Retention:        "limits",
			MaxBytes:         int(s.MaxBytes.Value()),
			MaxAge:           s.MaxAge.Duration.String(),
			MaxMsgSize:       int(s.MaxMessageSize.Value()),
			Storage:          storageOf(s.Storage),
			Discard:          "old",
			Replicas:         int(s.Replicas),
			DuplicateWindow:  s.DuplicateWindow.Duration.String(),
			BaseStreamConfig: base,
		},
	}
}

func consumer(p *v1alpha1.AuditPipeline, spec v1alpha1.NATSSpec, base nack.BaseStreamConfig) *nack.Consumer {
	c := spec.Consumer
	return &nack.Consumer{
		TypeMeta:   metav1.TypeMeta{APIVersion: nack.SchemeGroupVersion.String(), Kind: "Consumer"},
		ObjectMeta: metav1.ObjectMeta{Name: ChildName(p, KindNATSConsumer, ConsumerSuffix), Namespace: p.Namespace},
		Spec: nack.ConsumerSpec{
			Description:      fmt.Sprintf("ClickHouse ingest of AuditPipeline %s/%s", p.Namespace, p.Name),
			StreamName:       spec.Stream.Name,
			DurableName:      c.DurableName,
			DeliverPolicy:    "all",
			AckPolicy:        "explicit",
			AckWait:          c.AckWait.Duration.String(),
			MaxAckPending:    int(c.MaxAckPending),
			MaxDeliver:       int(c.MaxDeliver),
			ReplayPolicy:     "instant",
			BaseStreamConfig: base,
		},
	}
}

// natsAccount is the Account that carries the connection when spec.nats references Secrets, else nil.
func natsAccount(p *v1alpha1.AuditPipeline, spec v1alpha1.NATSSpec) (*nack.Account, error) {
	tls, err := accountTLS(spec.TLS)
	if err != nil {
		return nil, err
	}
	if tls == nil && spec.CredentialsSecretRef == nil {
		return nil, nil
	}
	a := &nack.Account{
		TypeMeta:   metav1.TypeMeta{APIVersion: nack.SchemeGroupVersion.String(), Kind: "Account"},
		ObjectMeta: metav1.ObjectMeta{Name: ChildName(p, KindNATSAccount, NATSAccountSuffix), Namespace: p.Namespace},
		Spec:       nack.AccountSpec{Servers: spec.Servers, TLS: tls},
	}
	if ref := spec.CredentialsSecretRef; ref != nil {
		a.Spec.Creds = &nack.CredsSecret{Secret: &nack.SecretRef{Name: ref.Name}, File: ref.Key}
	}
	return a, nil
}

// accountTLS names the Secret and keys NACK reads the CA and the client certificate from.
func accountTLS(tls *v1alpha1.TLSSpec) (*nack.TLSSecret, error) {
	if tls == nil || (tls.CASecretRef == nil && tls.ClientCertSecretRef == nil) {
		return nil, nil
	}
	out := &nack.TLSSecret{}
	if ca := tls.CASecretRef; ca != nil {
		out.Secret, out.RootCAs = &nack.SecretRef{Name: ca.Name}, ca.Key
	}
	if cert := tls.ClientCertSecretRef; cert != nil {
		if out.Secret != nil && out.Secret.Name != cert.Name {
			return nil, fmt.Errorf("%w: spec.nats.tls.caSecretRef names Secret %q and clientCertSecretRef names %q, "+
				"but NACK reads the CA and the client certificate from one Secret: put the CA into %q (as cert-manager "+
				"does with ca.crt) and reference that Secret in both", ErrInvalidSpec, out.Secret.Name, cert.Name, cert.Name)
		}
		out.Secret = &nack.SecretRef{Name: cert.Name}
		out.ClientCert, out.ClientKey = corev1.TLSCertKey, corev1.TLSPrivateKeyKey
	}
	return out, nil
}

func storageOf(s v1alpha1.StreamStorage) string {
	if s == v1alpha1.StreamStorageMemory {
		return "memory"
	}
	return "file"
}

// withNATSDefaults fills the zero fields of spec with the API's defaults (the +kubebuilder:default markers
// of api/v1alpha1/nats_types.go; a test keeps the two in step). The API server applies them to stored
// objects; this keeps the builder safe for specs that did not pass through it.
func withNATSDefaults(spec v1alpha1.NATSSpec) v1alpha1.NATSSpec {
	s, c := &spec.Stream, &spec.Consumer
	setDefault(&s.Name, "AUDIT_EVENTS")
	if len(s.Subjects) == 0 {
		s.Subjects = []string{DefaultSubject}
	}
	setDefault(&s.MaxAge.Duration, 7*24*time.Hour)
	setDefault(&s.DuplicateWindow.Duration, 10*time.Minute)
	setDefault(&s.Replicas, 1)
	setDefault(&s.Storage, v1alpha1.StreamStorageFile)
	setQuantityDefault(&s.MaxBytes, "100Gi")
	setQuantityDefault(&s.MaxMessageSize, "1Mi")
	setDefault(&c.DurableName, "clickhouse-ingest")
	setDefault(&c.MaxAckPending, 10000)
	setDefault(&c.AckWait.Duration, time.Minute)
	setDefault(&c.MaxDeliver, -1)
	return spec
}

func setDefault[T comparable](field *T, value T) {
	var zero T
	if *field == zero {
		*field = value
	}
}

func setQuantityDefault(q *resource.Quantity, value string) {
	if q.IsZero() {
		*q = resource.MustParse(value)
	}
}
