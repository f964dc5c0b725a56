package vector

import (
	"crypto/sha256"
	"encoding/hex"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
)

// Labels and annotations of the rendered workloads.
const (
	// LabelName, LabelComponent, LabelInstance and LabelPartOf are the recommended app.kubernetes.io labels;
	// the first three select a workload's pods.
	LabelName      = "app.kubernetes.io/name"
	LabelComponent = "app.kubernetes.io/component"
	LabelInstance  = "app.kubernetes.io/instance"
	LabelPartOf    = "app.kubernetes.io/part-of"

	// AnnotationConfigHash on a pod template is the sha256 of the Vector configuration its pods run, so a
	// configuration change rolls the pods.
	AnnotationConfigHash = "auditpipeline.io/config-hash"

	// ComponentCollector and ComponentAggregator are the values of LabelComponent.
	ComponentCollector  = "collector"
	ComponentAggregator = "aggregator"
)

// Paths inside the Vector containers. Secrets are mounted read-only, one directory each under
// secretsDir.
const (
	// ConfigDir holds vector.yaml, mounted from the component's ConfigMap.
	ConfigDir = "/etc/vector"
	// ConfigFile is the key of the rendered configuration in the ConfigMap.
	ConfigFile = "vector.yaml"

	secretsDir = "/etc/vector-secrets"
)

// vectorUID is the unprivileged user and group the Vector containers run as.
const vectorUID = int64(65532)

// configHash is the hex sha256 of a rendered configuration.
func configHash(config []byte) string {
	sum := sha256.Sum256(config)
	return hex.EncodeToString(sum[:])
}

func selectorLabels(component, instance string) map[string]string {
	return map[string]string{LabelName: "vector", LabelComponent: component, LabelInstance: instance}
}

func podLabels(component, instance string) map[string]string {
	l := selectorLabels(component, instance)
	l[LabelPartOf] = "auditpipeline"
	return l
}

// podSecurityContext runs every container as vectorUID unless it says otherwise; fsGroup makes Secret,
// ConfigMap and claimed volumes readable and writable by that group.
func podSecurityContext() *corev1.PodSecurityContext {
	return &corev1.PodSecurityContext{
		RunAsUser:      ptr.To(vectorUID),
		RunAsGroup:     ptr.To(vectorUID),
		FSGroup:        ptr.To(vectorUID),
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
}

// restrictedContainer is the security context of the Vector container: non-root, no privilege
// escalation, no capabilities, read-only root filesystem.
func restrictedContainer() *corev1.SecurityContext {
	return &corev1.SecurityContext{
		RunAsNonRoot:             ptr.To(true),
		AllowPrivilegeEscalation: ptr.To(false),
		ReadOnlyRootFilesystem:   ptr.To(true),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
	}
}

// terminationGracePeriod is the Vector pods' grace period: longer than Vector's own limit on a graceful
// shutdown (--graceful-shutdown-limit-secs, 60 by default), so that Vector flushes what it can, writes
// its disk buffer's state and exits by itself before the kubelet kills it.
const terminationGracePeriod = int64(90)

// vectorContainer is the Vector container common to the collector and the aggregator.
func vectorContainer(image string, resources corev1.ResourceRequirements, ports []corev1.ContainerPort) corev1.Container {
	if image == "" {
		image = v1alpha1.DefaultVectorImage
	}
	probe := func(period int32) *corev1.Probe {
		return &corev1.Probe{
			ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
				Path: "/health", Port: intstr.FromString("api")}},
			PeriodSeconds: period, TimeoutSeconds: 3, FailureThreshold: 3,
		}
	}
	return corev1.Container{
		Name:  "vector",
		Image: image,
		Args:  []string{"--config-yaml", ConfigDir + "/" + ConfigFile},
		Ports: append([]corev1.ContainerPort{
			{Name: "api", ContainerPort: APIPort, Protocol: corev1.ProtocolTCP},
			{Name: "metrics", ContainerPort: MetricsPort, Protocol: corev1.ProtocolTCP},
		}, ports...),
		Resources:       resources,
		LivenessProbe:   probe(10),
		ReadinessProbe:  probe(5),
		SecurityContext: restrictedContainer(),
		VolumeMounts: []corev1.VolumeMount{
			{Name: "config", MountPath: ConfigDir, ReadOnly: true},
			{Name: "data", MountPath: DataDir},
		},
	}
}

// resourcesOr returns spec when it sets anything, else the defaults.
func resourcesOr(spec corev1.ResourceRequirements, cpuRequest, memRequest, cpuLimit, memLimit string) corev1.ResourceRequirements {
	if len(spec.Requests) > 0 || len(spec.Limits) > 0 || len(spec.Claims) > 0 {
		return spec
	}
	return corev1.ResourceRequirements{
		Requests: corev1.ResourceList{
			corev1.ResourceCPU: resource.MustParse(cpuRequest), corev1.ResourceMemory: resource.MustParse(memRequest)},
		Limits: corev1.ResourceList{
			corev1.ResourceCPU: resource.MustParse(cpuLimit), corev1.ResourceMemory: resource.MustParse(memLimit)},
	}
}

func configVolume(configMap string) corev1.Volume {
	return corev1.Volume{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
		LocalObjectReference: corev1.LocalObjectReference{Name: configMap}}}}
}

// secretMount is a Secret mounted read-only into the Vector container, with chosen keys at chosen paths.
type secretMount struct {
	volume, dir, secret string
	items               []corev1.KeyToPath
}

func (m secretMount) volumeAndMount() (corev1.Volume, corev1.VolumeMount) {
	return corev1.Volume{Name: m.volume, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
			SecretName: m.secret, Items: m.items, DefaultMode: ptr.To(int32(0o440))}}},
		corev1.VolumeMount{Name: m.volume, MountPath: m.dir, ReadOnly: true}
}

func tlsPairItems() []corev1.KeyToPath {
	return []corev1.KeyToPath{{Key: corev1.TLSCertKey, Path: "tls.crt"}, {Key: corev1.TLSPrivateKeyKey, Path: "tls.key"}}
}

// addSecretMounts adds each Secret as a volume of spec and a mount of its first container.
func addSecretMounts(spec *corev1.PodSpec, mounts []secretMount) {
	for _, m := range mounts {
		v, vm := m.volumeAndMount()
		spec.Volumes = append(spec.Volumes, v)
		spec.Containers[0].VolumeMounts = append(spec.Containers[0].VolumeMounts, vm)
	}
}

// configMap is a ConfigMap holding data under key, labelled as the component's pods.
func configMap(name, component, instance, key string, data []byte) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: podLabels(component, instance)},
		Data:       map[string]string{key: string(data)},
	}
}
