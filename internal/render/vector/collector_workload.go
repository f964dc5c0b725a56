package vector

import (
	"fmt"
	"path"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
)

// BufferInitImage runs the collector's init container, which hands the buffer's host directory (created
// by the kubelet, owned by root) to the unprivileged Vector user. It needs a chown binary, which the
// distroless Vector image lacks.
const BufferInitImage = "busybox:1.37.0"

// Collector holds every object rendered for the collector, in the order they are applied.
type Collector struct {
	// Config holds the collector's vector.yaml.
	Config *corev1.ConfigMap
	// WebhookConfig holds the kubeconfig-format file for kube-apiserver's --audit-webhook-config-file.
	WebhookConfig *corev1.ConfigMap
	// Service exposes the webhook (and the metrics) of the collector pods.
	Service *corev1.Service
	// DaemonSet runs the collector.
	DaemonSet *appsv1.DaemonSet
	// ConfigHash is the sha256 of the collector's vector.yaml, stamped on the pod template.
	ConfigHash string
	// WebhookURL is the URL the API server posts audit events to.
	WebhookURL string
}

// RenderCollector renders the collector of p, whose events it names as coming from cluster (ClusterName).
func RenderCollector(p *v1alpha1.AuditPipeline, cluster string) (*Collector, error) {
	names := NamesFor(p)
	config, err := Marshal(CollectorConfig(p, cluster))
	if err != nil {
		return nil, fmt.Errorf("render collector config: %w", err)
	}
	url := WebhookURL(p)
	kubeconfig, err := WebhookKubeconfig(p, url)
	if err != nil {
		return nil, err
	}
	c := &Collector{ConfigHash: configHash(config), WebhookURL: url}
	c.Config = configMap(names.CollectorConfig, ComponentCollector, names.Collector, ConfigFile, config)
	c.WebhookConfig = configMap(names.WebhookConfig, ComponentCollector, names.Collector, WebhookConfigKey, kubeconfig)
	c.Service = collectorService(p, names)
	c.DaemonSet = collectorDaemonSet(p, names, c.ConfigHash)
	return c, nil
}

func collectorService(p *v1alpha1.AuditPipeline, names Names) *corev1.Service {
	return &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{Name: names.Collector, Labels: podLabels(ComponentCollector, names.Collector)},
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeClusterIP,
			Selector: selectorLabels(ComponentCollector, names.Collector),
			Ports: []corev1.ServicePort{
				{Name: "webhook", Port: webhookPort(p), TargetPort: intstr.FromString("webhook"), Protocol: corev1.ProtocolTCP},
				{Name: "metrics", Port: MetricsPort, TargetPort: intstr.FromString("metrics"), Protocol: corev1.ProtocolTCP},
			},
		},
	}
}

// CollectorHostPath is the directory on each node that holds p's collector buffer:
// spec.collector.buffer.hostPath with the pipeline's namespace and name appended, so that two pipelines
// never share a buffer.
func CollectorHostPath(p *v1alpha1.AuditPipeline) string {
	base := p.Spec.Collector.Buffer.HostPath
	if base == "" {
		base = "/var/lib/auditpipeline"
	}
	return path.Join(base, p.Namespace, p.Name)
}

func collectorDaemonSet(p *v1alpha1.AuditPipeline, names Names, hash string) *appsv1.DaemonSet {
	c := &p.Spec.Collector
	container := vectorContainer(string(c.Image), resourcesOr(c.Resources.Requirements(), "100m", "128Mi", "1", "512Mi"),
		[]corev1.ContainerPort{{Name: "webhook", ContainerPort: webhookPort(p), Protocol: corev1.ProtocolTCP}})
	spec := corev1.PodSpec{
		SecurityContext:               podSecurityContext(),
		NodeSelector:                  v1alpha1.PodNodeSelector(c.NodeSelector),
		Tolerations:                   v1alpha1.PodTolerations(c.Tolerations),
		TerminationGracePeriodSeconds: ptr.To(terminationGracePeriod),
		InitContainers:                []corev1.Container{bufferInitContainer()},
		Containers:                    []corev1.Container{container},
		Volumes: []corev1.Volume{
			configVolume(names.CollectorConfig),
			{Name: "data", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{
				Path: CollectorHostPath(p), Type: ptr.To(corev1.HostPathDirectoryOrCreate)}}},
		},
	}
	mounts := natsMounts(p)
	if tls := c.Webhook.TLS; tls != nil {
		mounts = append(mounts, secretMount{"webhook-tls", webhookTLSDir, tls.Name, tlsPairItems()})
	}
	addSecretMounts(&spec, mounts)
	return &appsv1.DaemonSet{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "DaemonSet"},
		ObjectMeta: metav1.ObjectMeta{Name: names.Collector, Labels: podLabels(ComponentCollector, names.Collector)},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: selectorLabels(ComponentCollector, names.Collector)},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{
					Labels:      podLabels(ComponentCollector, names.Collector),
					Annotations: map[string]string{AnnotationConfigHash: hash},
				},
				Spec: spec,
			},
		},
	}
}

// bufferInitContainer gives the buffer's host directory to the Vector user. It is the only part of the
// pipeline that runs as root, with CAP_CHOWN alone.
func bufferInitContainer() corev1.Container {
	owner := fmt.Sprintf("%d:%d", vectorUID, vectorUID)
	return corev1.Container{
		Name:    "buffer-owner",
		Image:   BufferInitImage,
		Command: []string{"chown", owner, DataDir},
		SecurityContext: &corev1.SecurityContext{
			RunAsUser:                ptr.To(int64(0)),
			RunAsNonRoot:             ptr.To(false),
			AllowPrivilegeEscalation: ptr.To(false),
			ReadOnlyRootFilesystem:   ptr.To(true),
			Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}, Add: []corev1.Capability{"CHOWN"}},
		},
		Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("16Mi")},
			Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("32Mi")},
		},
		VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: DataDir}},
	}
}
