package v1alpha1_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
	"github.com/auditpipeline/auditpipeline-operator/internal/testkit/testenv"
)

var k8s client.Client

func TestMain(m *testing.M) {
	env, err := testenv.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := apiextensionsv1.AddToScheme(env.Scheme); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	k8s, err = client.New(env.Config, client.Options{Scheme: env.Scheme})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	if err := env.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stop envtest:", err)
	}
	os.Exit(code)
}

// minimal is the smallest valid AuditPipeline: an external ClickHouse, a NATS server and a password.
func minimal(name string) *v1alpha1.AuditPipeline {
	return &v1alpha1.AuditPipeline{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: v1alpha1.AuditPipelineSpec{
			ClickHouse: v1alpha1.ClickHouseSpec{
				External: &v1alpha1.ExternalClickHouse{Hosts: []string{"clickhouse.db.svc"}},
				Credentials: v1alpha1.ClickHouseCredentials{
					PasswordSecretRef: v1alpha1.SecretKeyReference{Name: "clickhouse-auth", Key: "password"},
				},
			},
			NATS: v1alpha1.NATSSpec{Servers: []string{"nats://nats.nats.svc:4222"}},
		},
	}
}

func managed(name string) *v1alpha1.AuditPipeline {
	p := minimal(name)
	p.Spec.ClickHouse.External = nil
	p.Spec.ClickHouse.Managed = &v1alpha1.ManagedClickHouse{}
	return p
}

func withCold(p *v1alpha1.AuditPipeline) *v1alpha1.AuditPipeline {
	p.Spec.ClickHouse.Storage = &v1alpha1.StorageSpec{Cold: &v1alpha1.ColdStorageSpec{
		Endpoint: "https://s3.eu-west-1.amazonaws.com", Bucket: "audit-cold",
		CredentialsSecretRef: v1alpha1.SecretReference{Name: "s3-auth"},
	}}
	return p
}

func duration(s string) metav1.Duration {
	d, err := time.ParseDuration(s)
	if err != nil {
		panic(err)
	}
	return metav1.Duration{Duration: d}
}

func TestCRDIsInstalledWithNamesAndColumns(t *testing.T) {
	var crd apiextensionsv1.CustomResourceDefinition
	if err := k8s.Get(context.Background(), client.ObjectKey{Name: "auditpipelines.auditpipeline.io"}, &crd); err != nil {
		t.Fatal(err)
	}
	if got := crd.Spec.Names.ShortNames; len(got) != 1 || got[0] != "ap" {
		t.Errorf("short names = %v, want [ap]", got)
	}
	if got := crd.Spec.Names.Categories; len(got) != 1 || got[0] != "audit" {
		t.Errorf("categories = %v, want [audit]", got)
	}
	if crd.Spec.Scope != apiextensionsv1.NamespaceScoped {
		t.Errorf("scope = %s, want Namespaced", crd.Spec.Scope)
	}
	var cols []string
	for _, c := range crd.Spec.Versions[0].AdditionalPrinterColumns {
		if c.Priority == 0 {
			cols = append(cols, c.Name)
		}
	}
	if strings.Join(cols, ",") != "Ready,Schema,Age" {
		t.Errorf("printer columns = %v, want Ready, Schema, Age", cols)
	}
	established := false
	for _, c := range crd.Status.Conditions {
		if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
			established = true
		}
	}
	if !established {
		t.Error("the CRD is not Established")
	}
}

func TestInvalidPipelinesAreRejected(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(p *v1alpha1.AuditPipeline) *v1alpha1.AuditPipeline
		want   string
	}{
		{"neither managed nor external", func(p *v1alpha1.AuditPipeline) *v1alpha1.AuditPipeline {
			p.Spec.ClickHouse.External = nil
			return p
		}, "spec.clickhouse needs exactly one of managed"},
		{"both managed and external", func(p *v1alpha1.AuditPipeline) *v1alpha1.AuditPipeline {
			p.Spec.ClickHouse.Managed = &v1alpha1.ManagedClickHouse{}
			return p
		}, "spec.clickhouse needs exactly one of managed"},
		{"cold storage with external", func(p *v1alpha1.AuditPipeline) *v1alpha1.AuditPipeline {
			return withCold(p)
		}, "storage.cold configures the S3 disk of a managed ClickHouse"},
		{"retention shorter than move to cold", func(p *v1alpha1.AuditPipeline) *v1alpha1.AuditPipeline {
			p = withCold(managed(p.Name))
			p.Spec.ClickHouse.Storage.Cold.MoveAfter = duration("2160h")
			p.Spec.ClickHouse.Retention = &v1alpha1.RetentionSpec{DeleteAfter: ptr.To(duration("720h"))}
			return p
		}, "retention.deleteAfter must be longer than spec.clickhouse.storage.cold.moveAfter"},
		{"retention under a day", func(p *v1alpha1.AuditPipeline) *v1alpha1.AuditPipeline {
			p.Spec.ClickHouse.Retention = &v1alpha1.RetentionSpec{DeleteAfter: ptr.To(duration("1h"))}
			return p
		}, "deleteAfter must be at least 24h"},
		{"move to cold too soon", func(p *v1alpha1.AuditPipeline) *v1alpha1.AuditPipeline {
			p = withCold(managed(p.Name))
			p.Spec.ClickHouse.Storage.Cold.MoveAfter = duration("30m")
			return p
		}, "moveAfter must be at least 1h"},
		{"keeper with one replica", func(p *v1alpha1.AuditPipeline) *v1alpha1.AuditPipeline {
			p = managed(p.Name)
			p.Spec.ClickHouse.Managed.Keeper = &v1alpha1.KeeperSpec{Replicas: 3}
			return p
		}, "keeper is used only to coordinate replicas"},
		{"keeper of even size", func(p *v1alpha1.AuditPipeline) *v1alpha1.AuditPipeline {
			p = managed(p.Name)
			p.Spec.ClickHouse.Managed.Replicas = 3
			p.Spec.ClickHouse.Managed.Keeper = &v1alpha1.KeeperSpec{Replicas: 2}
			return p
		}, `Unsupported value: 2: supported values: "1", "3", "5"`},
		{"too many replicas", func(p *v1alpha1.AuditPipeline) *v1alpha1.AuditPipeline {
			p = managed(p.Name)
			p.Spec.ClickHouse.Managed.Replicas = 12
			return p
		}, "spec.clickhouse.managed.replicas: Invalid value: 12: spec.clickhouse.managed.replicas in body should be less than or equal to 9"},
		{"bad database name", func(p *v1alpha1.AuditPipeline) *v1alpha1.AuditPipeline {
			p.Spec.ClickHouse.Database = "audit-events"
			return p
		}, "spec.clickhouse.database must start with a letter or '_'"},
		{"host with scheme", func(p *v1alpha1.AuditPipeline) *v1alpha1.AuditPipeline {
			p.Spec.ClickHouse.External.Hosts = []string{"http://clickhouse:8123"}
			return p
		}, "hosts must be host names or IP addresses, without scheme or port"},
		{"bad secret name", func(p *v1alpha1.AuditPipeline) *v1alpha1.AuditPipeline {
			p.Spec.ClickHouse.Credentials.PasswordSecretRef.Name = "ClickHouse_Auth"
			return p
		}, "must be the name of a Secret"},
		{"S3 endpoint with bucket path", func(p *v1alpha1.AuditPipeline) *v1alpha1.AuditPipeline {
			p = withCold(managed(p.Name))
			p.Spec.ClickHouse.Storage.Cold.Endpoint = "https://s3.amazonaws.com/audit-cold/data"
			return p
		}, "endpoint must be an http:// or https:// URL of the S3 service without a path"},
		{"S3 bucket with capitals", func(p *v1alpha1.AuditPipeline) *v1alpha1.AuditPipeline {
			p = withCold(managed(p.Name))
			p.Spec.ClickHouse.Storage.Cold.Bucket = "Audit_Cold"
			return p
		}, "bucket must be an S3 bucket name"},
		{"S3 path without trailing slash", func(p *v1alpha1.AuditPipeline) *v1alpha1.AuditPipeline {
			p = withCold(managed(p.Name))
			p.Spec.ClickHouse.Storage.Cold.Path = "audit"
			return p
		}, "path must end with '/'"},
		{"small cold cache", func(p *v1alpha1.AuditPipeline) *v1alpha1.AuditPipeline {
			p = withCold(managed(p.Name))
			p.Spec.ClickHouse.Storage.Cold.CacheSize = ptr.To(resource.MustParse("10Mi"))
			return p
		}, "cacheSize must be 0 (no cache) or at least 100Mi"},
		{"no NATS server", func(p *v1alpha1.AuditPipeline) *v1alpha1.AuditPipeline {
			p.Spec.NATS.Servers = nil
			return p
		}, "spec.nats.servers: Required value"},
		{"NATS server over http", func(p *v1alpha1.AuditPipeline) *v1alpha1.AuditPipeline {
			p.Spec.NATS.Servers = []string{"http://nats:4222"}
			return p
		}, "spec.nats.servers must be nats:// or tls:// URLs"},
		{"NATS server with a password", func(p *v1alpha1.AuditPipeline) *v1alpha1.AuditPipeline {
			p.Spec.NATS.Servers = []string{"nats://nats:4222", "nats://audit:s3cret@nats:4222"}
			return p
		}, "spec.nats.servers must not hold a user or password (user:password@)"},
		{"NATS server that is no host", func(p *v1alpha1.AuditPipeline) *v1alpha1.AuditPipeline {
			p.Spec.NATS.Servers = []string{"nats://${NATS_HOST}:4222"}
			return p
		}, "spec.nats.servers must name a host name, an IPv4 address or a bracketed IPv6 address"},
		{"NATS server with a port that is no number", func(p *v1alpha1.AuditPipeline) *v1alpha1.AuditPipeline {
			p.Spec.NATS.Servers = []string{"tls://nats:client"}
			return p
		}, "spec.nats.servers must name a host name"},
		{"S3 endpoint with keys", func(p *v1alpha1.AuditPipeline) *v1alpha1.AuditPipeline {
			p = withCold(managed(p.Name))
			p.Spec.ClickHouse.Storage.Cold.Endpoint = "https://AKIA:secret@s3.amazonaws.com"
			return p
		}, "spec.clickhouse.storage.cold.endpoint must not hold a user or key"},
		{"duplicate window longer than max age", func(p *v1alpha1.AuditPipeline) *v1alpha1.AuditPipeline {
			p.Spec.NATS.Stream.MaxAge = duration("1h")
			p.Spec.NATS.Stream.DuplicateWindow = duration("2h")
			return p
		}, "duplicateWindow must not be longer than spec.nats.stream.maxAge"},
		{"stream replicas 2", func(p *v1alpha1.AuditPipeline) *v1alpha1.AuditPipeline {
			p.Spec.NATS.Stream.Replicas = 2
			return p
		}, `spec.nats.stream.replicas: Unsupported value: 2: supported values: "1", "3", "5"`},
		{"stream name with a dot", func(p *v1alpha1.AuditPipeline) *v1alpha1.AuditPipeline {
			p.Spec.NATS.Stream.Name = "audit.events"
			return p
		}, "spec.nats.stream.name must hold only letters, digits"},
		{"subjects that miss the agent's", func(p *v1alpha1.AuditPipeline) *v1alpha1.AuditPipeline {
			p.Spec.NATS.Stream.Subjects = []string{"events.>"}
			return p
		}, "must capture the subjects the agent publishes to"},
		{"stream storage unknown", func(p *v1alpha1.AuditPipeline) *v1alpha1.AuditPipeline {
			p.Spec.NATS.Stream.Storage = "Disk"
			return p
		}, `Unsupported value: "Disk": supported values: "File", "Memory"`},
		{"ack wait shorter than batch timeout", func(p *v1alpha1.AuditPipeline) *v1alpha1.AuditPipeline {
			p.Spec.NATS.Consumer.AckWait = duration("5s")
			p.Spec.Aggregator.Batch.Timeout = duration("10s")
			return p
		}, "spec.nats.consumer.ackWait must be longer than spec.aggregator.batch.timeout"},
		{"aggregator with no replicas", func(p *v1alpha1.AuditPipeline) *v1alpha1.AuditPipeline {
			p.Spec.Aggregator.Replicas = ptr.To[int32](0)
			return p
		}, "spec.aggregator.replicas in body should be greater than or equal to 1"},
		{"max ack pending zero or less", func(p *v1alpha1.AuditPipeline) *v1alpha1.AuditPipeline {
			p.Spec.NATS.Consumer.MaxAckPending = -5
			return p
		}, "spec.nats.consumer.maxAckPending in body should be greater than or equal to 1"},
		{"webhook path without slash", func(p *v1alpha1.AuditPipeline) *v1alpha1.AuditPipeline {
			p.Spec.Collector.Webhook.Path = "events"
			return p
		}, "spec.collector.webhook.path must start with '/'"},
		{"webhook on a privileged port", func(p *v1alpha1.AuditPipeline) *v1alpha1.AuditPipeline {
			p.Spec.Collector.Webhook.Port = 80
			return p
		}, "spec.collector.webhook.port in body should be greater than or equal to 1024"},
		{"collector buffer too small", func(p *v1alpha1.AuditPipeline) *v1alpha1.AuditPipeline {
			p.Spec.Collector.Buffer.MaxSize = resource.MustParse("100Mi")
			return p
		}, "spec.collector.buffer.maxSize must be more than 256Mi"},
		{"collector buffer on a relative path", func(p *v1alpha1.AuditPipeline) *v1alpha1.AuditPipeline {
			p.Spec.Collector.Buffer.HostPath = "/var/lib/../../etc"
			return p
		}, "hostPath must be an absolute path without '..'"},
		{"replicas and autoscaling", func(p *v1alpha1.AuditPipeline) *v1alpha1.AuditPipeline {
			p.Spec.Aggregator.Replicas = ptr.To[int32](3)
			p.Spec.Aggregator.Autoscaling = &v1alpha1.AutoscalingSpec{MinReplicas: 2, MaxReplicas: 5}
			return p
		}, "spec.aggregator takes replicas or autoscaling, not both"},
		{"autoscaling min above max", func(p *v1alpha1.AuditPipeline) *v1alpha1.AuditPipeline {
			p.Spec.Aggregator.Autoscaling = &v1alpha1.AutoscalingSpec{MinReplicas: 6, MaxReplicas: 3}
			return p
		}, "minReplicas must not be above maxReplicas"},
		{"batch of a million and one", func(p *v1alpha1.AuditPipeline) *v1alpha1.AuditPipeline {
			p.Spec.Aggregator.Batch.MaxEvents = 1000001
			return p
		}, "spec.aggregator.batch.maxEvents in body should be less than or equal to 1000000"},
		{"batch timeout in hours", func(p *v1alpha1.AuditPipeline) *v1alpha1.AuditPipeline {
			p.Spec.Aggregator.Batch.Timeout = duration("1h")
			p.Spec.NATS.Consumer.AckWait = duration("1h")
			return p
		}, "spec.aggregator.batch.timeout must be a duration such as 10s"},
		{"unknown audit stage", func(p *v1alpha1.AuditPipeline) *v1alpha1.AuditPipeline {
			p.Spec.Aggregator.Filter.Stages = []v1alpha1.AuditStage{"Done"}
			return p
		}, `Unsupported value: "Done"`},
		{"target version not a number", func(p *v1alpha1.AuditPipeline) *v1alpha1.AuditPipeline {
			p.Spec.Schema.TargetVersion = "v3"
			return p
		}, `spec.schema.targetVersion must be "latest" or a migration version number`},
		{"unknown deletion policy", func(p *v1alpha1.AuditPipeline) *v1alpha1.AuditPipeline {
			p.Spec.DeletionPolicy = "Orphan"
			return p
		}, `Unsupported value: "Orphan": supported values: "Retain", "Delete"`},
	}
	ctx := context.Background()
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.mutate(minimal(fmt.Sprintf("invalid-%d", i)))
			err := k8s.Create(ctx, p)
			if err == nil {
				_ = k8s.Delete(ctx, p)
				t.Fatalf("the API server accepted the pipeline; want an error containing %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v\nwant it to contain %q", err, tc.want)
			}
		})
	}
}

// The NATS server forms NATS clients take are accepted.
func TestNATSServerFormsAreAccepted(t *testing.T) {
	p := minimal("nats-servers")
	p.Spec.NATS.Servers = []string{"nats://nats.nats.svc:4222", "tls://nats-0.nats.nats.svc.cluster.local:4222",
		"nats://10.0.0.7:4222", "nats://[fd00::1]:4222", "nats://[::1]", "nats://nats"}
	if err := k8s.Create(context.Background(), p, client.DryRunAll); err != nil {
		t.Fatal(err)
	}
}

// TestZeroMaxDeliverIsRejected sends maxDeliver: 0 as kubectl would; Go clients omit zero values.
func TestZeroMaxDeliverIsRejected(t *testing.T) {
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(minimal("zero-max-deliver"))
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{Object: obj}
	u.SetGroupVersionKind(v1alpha1.GroupVersion.WithKind("AuditPipeline"))
	if err := unstructured.SetNestedField(u.Object, int64(0), "spec", "nats", "consumer", "maxDeliver"); err != nil {
		t.Fatal(err)
	}
	err = k8s.Create(context.Background(), u)
	want := "spec.nats.consumer.maxDeliver must be -1 (unlimited) or at least 1"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error = %v, want it to contain %q", err, want)
	}
}

func TestDefaultsAreApplied(t *testing.T) {
	ctx := context.Background()
	p := withCold(managed("defaults"))
	p.Spec.ClickHouse.Managed.Replicas = 3
	if err := k8s.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8s.Delete(ctx, p) })
	got := &v1alpha1.AuditPipeline{}
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(p), got); err != nil {
		t.Fatal(err)
	}
	s := got.Spec
	checks := []struct {
		field     string
		got, want any
	}{
		{"clickhouse.database", s.ClickHouse.Database, "audit"},
		{"clickhouse.credentials.username", s.ClickHouse.Credentials.Username, "audit"},
		{"clickhouse.managed.image", string(s.ClickHouse.Managed.Image), "clickhouse/clickhouse-server:25.8"},
		{"clickhouse.managed.shards", s.ClickHouse.Managed.Shards, int32(1)},
		{"clickhouse.managed.hotVolume.size", s.ClickHouse.Managed.HotVolume.Size.String(), "100Gi"},
		{"clickhouse.storage.cold.path", s.ClickHouse.Storage.Cold.Path, "clickhouse/"},
		{"clickhouse.storage.cold.cacheSize", s.ClickHouse.Storage.Cold.CacheSize.String(), "10Gi"},
		{"clickhouse.storage.cold.moveAfter", s.ClickHouse.Storage.Cold.MoveAfter.Duration, 90 * 24 * time.Hour},
		{"nats.stream.name", s.NATS.Stream.Name, "AUDIT_EVENTS"},
		{"nats.stream.subjects", strings.Join(s.NATS.Stream.Subjects, ","), "audit.k8s.>"},
		{"nats.stream.maxAge", s.NATS.Stream.MaxAge.Duration, 7 * 24 * time.Hour},
		{"nats.stream.maxBytes", s.NATS.Stream.MaxBytes.String(), "100Gi"},
		{"nats.stream.maxMessageSize", s.NATS.Stream.MaxMessageSize.String(), "1Mi"},
		{"nats.stream.replicas", s.NATS.Stream.Replicas, int32(1)},
		{"nats.stream.duplicateWindow", s.NATS.Stream.DuplicateWindow.Duration, 10 * time.Minute},
		{"nats.stream.storage", s.NATS.Stream.Storage, v1alpha1.StreamStorageFile},
		{"nats.consumer.durableName", s.NATS.Consumer.DurableName, "clickhouse-ingest"},
		{"nats.consumer.maxAckPending", s.NATS.Consumer.MaxAckPending, int32(10000)},
		{"nats.consumer.ackWait", s.NATS.Consumer.AckWait.Duration, 60 * time.Second},
		{"nats.consumer.maxDeliver", s.NATS.Consumer.MaxDeliver, int32(-1)},
		{"collector.image", string(s.Collector.Image), v1alpha1.DefaultVectorImage},
		{"collector.webhook.port", s.Collector.Webhook.Port, int32(8080)},
		{"collector.webhook.path", s.Collector.Webhook.Path, "/events"},
		{"collector.buffer.maxSize", s.Collector.Buffer.MaxSize.String(), "10Gi"},
		{"collector.buffer.hostPath", s.Collector.Buffer.HostPath, "/var/lib/auditpipeline"},
		{"aggregator.image", string(s.Aggregator.Image), v1alpha1.DefaultVectorImage},
		{"aggregator.batch.maxEvents", s.Aggregator.Batch.MaxEvents, int32(10000)},
		{"aggregator.batch.maxBytes", s.Aggregator.Batch.MaxBytes.Value(), int64(32_000_000)},
		{"aggregator.batch.timeout", s.Aggregator.Batch.Timeout.Duration, 10 * time.Second},
		{"aggregator.filter.stages", fmt.Sprint(s.Aggregator.Filter.Stages), "[ResponseComplete Panic]"},
		{"aggregator.buffer.maxSize", s.Aggregator.Buffer.MaxSize.String(), "10Gi"},
		{"schema.targetVersion", s.Schema.TargetVersion, v1alpha1.SchemaTargetLatest},
		{"deletionPolicy", s.DeletionPolicy, v1alpha1.DeletionPolicyRetain},
		{"tenancy.source", s.Tenancy.Source, v1alpha1.TenantSourceNamespace},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("spec.%s defaulted to %v, want %v", c.field, c.got, c.want)
		}
	}
	if s.Tenancy.Annotations != nil {
		t.Errorf("tenancy.annotations must stay unset with namespace tenancy")
	}
	// An empty spec.tenancy, as kubectl sends it, gets the default source too.
	u := unstructuredPipeline(t, minimal("defaults-tenancy"))
	if err := unstructured.SetNestedField(u.Object, map[string]any{}, "spec", "tenancy"); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Create(ctx, u, client.DryRunAll); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := unstructured.NestedString(u.Object, "spec", "tenancy", "source"); got != "Namespace" {
		t.Errorf("spec.tenancy: {} defaulted source to %q, want Namespace", got)
	}
	if s.Aggregator.Replicas != nil || s.Aggregator.Autoscaling != nil {
		t.Errorf("aggregator replicas/autoscaling must stay unset so the user can choose either")
	}
	if s.ClickHouse.Managed.Keeper != nil {
		t.Errorf("clickhouse.managed.keeper must stay unset (the operator runs a 3-node Keeper when replicas > 1)")
	}
}

func TestImmutableFieldsAreRefused(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name   string
		mutate func(p *v1alpha1.AuditPipeline)
		want   string
	}{
		{"database", func(p *v1alpha1.AuditPipeline) { p.Spec.ClickHouse.Database = "audit2" },
			"spec.clickhouse.database cannot be changed"},
		{"stream name", func(p *v1alpha1.AuditPipeline) { p.Spec.NATS.Stream.Name = "OTHER" },
			"spec.nats.stream.name cannot be changed"},
		{"stream storage", func(p *v1alpha1.AuditPipeline) { p.Spec.NATS.Stream.Storage = v1alpha1.StreamStorageMemory },
			"spec.nats.stream.storage cannot be changed"},
		{"consumer durable name", func(p *v1alpha1.AuditPipeline) { p.Spec.NATS.Consumer.DurableName = "other" },
			"spec.nats.consumer.durableName cannot be changed"},
		{"external to managed", func(p *v1alpha1.AuditPipeline) {
			p.Spec.ClickHouse.External = nil
			p.Spec.ClickHouse.Managed = &v1alpha1.ManagedClickHouse{}
		}, "spec.clickhouse cannot switch between managed and external"},
		{"tenancy", func(p *v1alpha1.AuditPipeline) {
			p.Spec.Tenancy = v1alpha1.TenancySpec{Source: v1alpha1.TenantSourceAnnotations,
				Annotations: &v1alpha1.TenantAnnotations{Name: "platform.miloapis.com/scope.name"}}
		}, "spec.tenancy cannot be changed"},
	}
	p := minimal("immutable")
	if err := k8s.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8s.Delete(ctx, p) })
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cur := &v1alpha1.AuditPipeline{}
			if err := k8s.Get(ctx, client.ObjectKeyFromObject(p), cur); err != nil {
				t.Fatal(err)
			}
			tc.mutate(cur)
			err := k8s.Update(ctx, cur)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("update error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
	// Mutable fields still change.
	cur := &v1alpha1.AuditPipeline{}
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(p), cur); err != nil {
		t.Fatal(err)
	}
	cur.Spec.NATS.Stream.MaxAge = duration("336h")
	cur.Spec.Aggregator.Batch.MaxEvents = 5000
	if err := k8s.Update(ctx, cur); err != nil {
		t.Fatalf("changing mutable fields: %v", err)
	}
	// spec.clusterName is set, changed and unset: it changes only the rows written from then on.
	for _, name := range []string{"prod-eu-1", "prod-eu-2", ""} {
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(p), cur); err != nil {
			t.Fatal(err)
		}
		cur.Spec.ClusterName = name
		if err := k8s.Update(ctx, cur); err != nil {
			t.Fatalf("changing spec.clusterName to %q: %v", name, err)
		}
	}
}

// TestSamplesAreAccepted creates every object of config/samples/*.yaml on the API server.
func TestSamplesAreAccepted(t *testing.T) {
	ctx := context.Background()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	if err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "audit"}}); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(root, "config", "samples", "auditpipeline*.yaml"))
	if err != nil || len(files) < 2 {
		t.Fatalf("samples: %v %v", files, err)
	}
	for _, f := range files {
		objs, err := testenv.ReadObjects(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range objs {
			if err := k8s.Create(ctx, o, client.DryRunAll); err != nil {
				t.Errorf("%s: %s %s: %v", filepath.Base(f), o.GetKind(), o.GetName(), err)
			}
		}
	}
}
