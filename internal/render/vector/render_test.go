package vector

import (
	"bytes"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
	"github.com/auditpipeline/auditpipeline-operator/internal/testkit/golden"
)

// testCluster is the cluster name the collector is rendered with in tests: a kube-system UID, as the
// operator reads it when spec.clusterName is unset.
const testCluster = "5c1d8f2e-3b4a-4f6e-9d2c-7a8b9c0d1e2f"

// defaulted is a pipeline with an external ClickHouse and every field the API server defaults set to
// its default, as the operator reads it.
func defaulted() *v1alpha1.AuditPipeline {
	return &v1alpha1.AuditPipeline{
		ObjectMeta: metav1.ObjectMeta{Name: "cluster-audit", Namespace: "audit"},
		Spec: v1alpha1.AuditPipelineSpec{
			ClickHouse: v1alpha1.ClickHouseSpec{
				External: &v1alpha1.ExternalClickHouse{Hosts: []string{"ch-0.db.example", "ch-1.db.example"},
					NativePort: 9000, HTTPPort: 8123},
				Credentials: v1alpha1.ClickHouseCredentials{Username: "audit",
					PasswordSecretRef: v1alpha1.SecretKeyReference{Name: "clickhouse-auth", Key: "password"}},
				Database: "audit",
			},
			NATS: v1alpha1.NATSSpec{
				Servers:  []string{"nats://nats-0.nats.svc:4222", "nats://nats-1.nats.svc:4222"},
				Stream:   v1alpha1.StreamSpec{Name: "AUDIT_EVENTS", Subjects: []string{"audit.k8s.>"}},
				Consumer: v1alpha1.ConsumerSpec{DurableName: "clickhouse-ingest", MaxAckPending: 10000},
			},
			Collector: v1alpha1.CollectorSpec{
				Image:   v1alpha1.DefaultVectorImage,
				Webhook: v1alpha1.WebhookSpec{Port: 8080, Path: "/events"},
				Buffer:  v1alpha1.CollectorBufferSpec{MaxSize: resource.MustParse("10Gi"), HostPath: "/var/lib/auditpipeline"},
			},
			Aggregator: v1alpha1.AggregatorSpec{
				Image: v1alpha1.DefaultVectorImage,
				Batch: v1alpha1.BatchSpec{MaxEvents: 10000, MaxBytes: resource.MustParse("32M"),
					Timeout: metav1.Duration{Duration: 10 * time.Second}},
				Filter: v1alpha1.FilterSpec{Stages: []v1alpha1.AuditStage{v1alpha1.StageResponseComplete, v1alpha1.StagePanic}},
				Buffer: v1alpha1.AggregatorBufferSpec{MaxSize: resource.MustParse("10Gi")},
			},
			DeletionPolicy: v1alpha1.DeletionPolicyRetain,
		},
	}
}

// renderCases are the specs the golden files cover.
func renderCases() map[string]*v1alpha1.AuditPipeline {
	tlsPipeline := defaulted()
	tlsPipeline.Spec.Collector.Webhook.TLS = &v1alpha1.SecretReference{Name: "webhook-cert"}
	tlsPipeline.Spec.NATS.Servers = []string{"tls://nats.nats.svc:4222"}
	tlsPipeline.Spec.NATS.TLS = &v1alpha1.TLSSpec{
		CASecretRef:         &v1alpha1.SecretKeyReference{Name: "nats-ca", Key: "ca.pem"},
		ClientCertSecretRef: &v1alpha1.SecretReference{Name: "nats-client"},
	}
	tlsPipeline.Spec.ClickHouse.External.HTTPPort = 8443
	tlsPipeline.Spec.ClickHouse.External.TLS = &v1alpha1.TLSSpec{
		CASecretRef: &v1alpha1.SecretKeyReference{Name: "clickhouse-ca", Key: "ca.crt"}, InsecureSkipVerify: true}

	autoscaled := defaulted()
	autoscaled.Spec.ClickHouse.External = nil
	autoscaled.Spec.ClickHouse.Managed = &v1alpha1.ManagedClickHouse{Shards: 1, Replicas: 1}
	autoscaled.Spec.Aggregator.Autoscaling = &v1alpha1.AutoscalingSpec{MinReplicas: 3, MaxReplicas: 10, TargetCPUUtilizationPercentage: 60}
	autoscaled.Spec.Aggregator.Buffer.StorageClassName = ptr.To("fast-ssd")
	autoscaled.Spec.Aggregator.Resources = v1alpha1.ComputeResources{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("1Gi")}}

	private := defaulted()
	private.Spec.Aggregator.Replicas = ptr.To(int32(3))
	private.Spec.Aggregator.Filter = v1alpha1.FilterSpec{DropPrivateSourceIPs: true,
		Stages: []v1alpha1.AuditStage{v1alpha1.StageResponseComplete, v1alpha1.StagePanic}}
	private.Spec.Aggregator.Batch = v1alpha1.BatchSpec{MaxEvents: 50000, MaxBytes: resource.MustParse("32Mi"),
		Timeout: metav1.Duration{Duration: 2500 * time.Millisecond}}

	creds := defaulted()
	creds.Spec.NATS.CredentialsSecretRef = &v1alpha1.SecretKeyReference{Name: "nats-user", Key: "user.creds"}
	creds.Spec.NATS.Consumer.MaxAckPending = 500
	creds.Spec.Collector.NodeSelector = map[string]v1alpha1.LabelValue{"node-role.kubernetes.io/control-plane": ""}
	creds.Spec.Collector.Tolerations = []v1alpha1.Toleration{{Key: "node-role.kubernetes.io/control-plane",
		Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}}
	creds.Spec.Collector.Webhook = v1alpha1.WebhookSpec{Port: 9443, Path: "/audit/k8s"}

	tenancy := defaulted()
	tenancy.Spec.Tenancy = v1alpha1.TenancySpec{Source: v1alpha1.TenantSourceAnnotations,
		Annotations: &v1alpha1.TenantAnnotations{Type: "platform.miloapis.com/scope.type", Name: "platform.miloapis.com/scope.name"}}
	tenancy.Spec.ClusterName = "prod-eu-1"

	return map[string]*v1alpha1.AuditPipeline{
		"tenancy":     tenancy,
		"defaults":    defaulted(),
		"tls":         tlsPipeline,
		"autoscaling": autoscaled,
		"private-ips": private,
		"nats-creds":  creds,
	}
}

// objectsYAML renders objects as one multi-document YAML stream, without the status and creation
// time the renderers never set (and the operator never applies).
func objectsYAML(t *testing.T, objs ...runtime.Object) []byte {
	t.Helper()
	var out bytes.Buffer
	for _, o := range objs {
		u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o)
		if err != nil {
			t.Fatal(err)
		}
		delete(u, "status")
		unstructured.RemoveNestedField(u, "metadata", "creationTimestamp")
		b, err := yaml.Marshal(u)
		if err != nil {
			t.Fatal(err)
		}
		out.WriteString("---\n")
		out.Write(b)
	}
	return out.Bytes()
}

func TestRenderGolden(t *testing.T) {
	for name, p := range renderCases() {
		t.Run(name, func(t *testing.T) {
			col, err := RenderCollector(p, ClusterName(p, testCluster))
			if err != nil {
				t.Fatal(err)
			}
			agg, err := RenderAggregator(p)
			if err != nil {
				t.Fatal(err)
			}
			golden.Assert(t, name+"/collector.yaml", []byte(col.Config.Data[ConfigFile]))
			golden.Assert(t, name+"/aggregator.yaml", []byte(agg.Config.Data[ConfigFile]))
			golden.Assert(t, name+"/apiserver-webhook.yaml", []byte(col.WebhookConfig.Data[WebhookConfigKey]))
			golden.Assert(t, name+"/collector-objects.yaml", objectsYAML(t, col.Service, col.DaemonSet))
			objs := []runtime.Object{agg.Service, agg.StatefulSet, agg.PodDisruptionBudget}
			if agg.HorizontalPodAutoscaler != nil {
				objs = append(objs, agg.HorizontalPodAutoscaler)
			}
			golden.Assert(t, name+"/aggregator-objects.yaml", objectsYAML(t, objs...))
		})
	}
}

func TestRenderIsDeterministicAndHashFollowsConfig(t *testing.T) {
	p := defaulted()
	first, err := RenderAggregator(p)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := RenderAggregator(p)
	if first.ConfigHash != again.ConfigHash || first.Config.Data[ConfigFile] != again.Config.Data[ConfigFile] {
		t.Fatal("rendering the same spec twice gave different configurations")
	}
	if got := first.StatefulSet.Spec.Template.Annotations[AnnotationConfigHash]; got != first.ConfigHash {
		t.Fatalf("pod template hash %q, want %q", got, first.ConfigHash)
	}
	p.Spec.Aggregator.Batch.MaxEvents = 20000
	changed, _ := RenderAggregator(p)
	if changed.ConfigHash == first.ConfigHash {
		t.Fatal("a batch change must change the config hash, so the pods roll")
	}
}

func TestSecretsStayOutOfConfigMaps(t *testing.T) {
	for name, p := range renderCases() {
		agg, err := RenderAggregator(p)
		if err != nil {
			t.Fatal(err)
		}
		config := agg.Config.Data[ConfigFile]
		if !strings.Contains(config, "password: |2-\n        ${CLICKHOUSE_PASSWORD}\n") {
			t.Errorf("%s: the ClickHouse password must come from ${CLICKHOUSE_PASSWORD}, a literal block:\n%s", name, config)
		}
		// Vector interpolates $NAME and ${NAME} anywhere in the text: nothing else may hold a '$'.
		rest := strings.NewReplacer("${CLICKHOUSE_PASSWORD}", "", "${CLICKHOUSE_USER}", "").Replace(config)
		if strings.Contains(rest, "$") {
			t.Errorf("%s: aggregator config holds a '$' Vector would interpolate:\n%s", name, config)
		}
		col, _ := RenderCollector(p, ClusterName(p, testCluster))
		if strings.Contains(col.Config.Data[ConfigFile], "$") {
			t.Errorf("%s: collector config holds a '$' Vector would interpolate", name)
		}
	}
}

func TestClickHouseEndpointAndWebhookURL(t *testing.T) {
	cases := renderCases()
	for name, want := range map[string][2]string{
		"defaults":    {"http://ch-0.db.example:8123", "http://cluster-audit-collector.audit.svc:8080/events"},
		"tls":         {"https://ch-0.db.example:8443", "https://cluster-audit-collector.audit.svc:8080/events"},
		"autoscaling": {"http://clickhouse-cluster-audit.audit.svc:8123", "http://cluster-audit-collector.audit.svc:8080/events"},
		"nats-creds":  {"http://ch-0.db.example:8123", "http://cluster-audit-collector.audit.svc:9443/audit/k8s"},
	} {
		sink := AggregatorConfig(cases[name]).Sinks[clickHouseWrite].(*ClickHouseSink)
		if sink.Endpoint != want[0] {
			t.Errorf("%s: endpoint %q, want %q", name, sink.Endpoint, want[0])
		}
		if got := WebhookURL(cases[name]); got != want[1] {
			t.Errorf("%s: webhook URL %q, want %q", name, got, want[1])
		}
	}
}

// The kubelet must give Vector longer than Vector gives itself to shut down (60 s unless
// --graceful-shutdown-limit-secs says otherwise), so that it exits by itself.
func TestPodsOutlastVectorsShutdownLimit(t *testing.T) {
	p := defaulted()
	col, err := RenderCollector(p, ClusterName(p, testCluster))
	if err != nil {
		t.Fatal(err)
	}
	agg, err := RenderAggregator(p)
	if err != nil {
		t.Fatal(err)
	}
	for name, spec := range map[string]corev1.PodSpec{"collector": col.DaemonSet.Spec.Template.Spec, "aggregator": agg.StatefulSet.Spec.Template.Spec} {
		if g := spec.TerminationGracePeriodSeconds; g == nil || *g <= 60 {
			t.Errorf("%s: terminationGracePeriodSeconds %v, want more than 60", name, g)
		}
		for _, c := range spec.Containers {
			for _, arg := range c.Args {
				if strings.Contains(arg, "graceful-shutdown") {
					t.Errorf("%s: Vector's shutdown limit is set (%s): compare it with the grace period", name, arg)
				}
			}
		}
	}
}
