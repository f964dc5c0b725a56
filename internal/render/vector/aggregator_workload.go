package vector

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
)

// DefaultAggregatorReplicas is the number of aggregator pods when the spec sets neither replicas nor
// autoscaling.
const DefaultAggregatorReplicas = int32(2)

// Aggregator holds every object rendered for the Vector aggregator, in the order they are applied.
type Aggregator struct {
	// Config holds the aggregator's vector.yaml.
	Config *corev1.ConfigMap
	// Service is the StatefulSet's headless governing Service; it also exposes the metrics.
	Service *corev1.Service
	// StatefulSet runs the aggregator, each pod with its disk buffer on a claim of its own.
	StatefulSet *appsv1.StatefulSet
	// PodDisruptionBudget lets voluntary disruptions take one aggregator pod at a time.
	PodDisruptionBudget *policyv1.PodDisruptionBudget
	// HorizontalPodAutoscaler scales the StatefulSet on CPU; nil unless spec.aggregator.autoscaling is set.
	HorizontalPodAutoscaler *autoscalingv2.HorizontalPodAutoscaler
	// ConfigHash is the sha256 of the aggregator's vector.yaml, stamped on the pod template.
	ConfigHash string
}

// RenderAggregator renders the Vector aggregator of p.
func RenderAggregator(p *v1alpha1.AuditPipeline) (*Aggregator, error) {
	names := NamesFor(p)
	config, err := Marshal(AggregatorConfig(p))
	if err != nil {
		return nil, fmt.Errorf("render aggregator config: %w", err)
	}
	a := &Aggregator{ConfigHash: configHash(config)}
	a.Config = configMap(names.AggregatorConfig, ComponentAggregator, names.Aggregator, ConfigFile, config)
	a.Service = &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{Name: names.Aggregator, Labels: podLabels(ComponentAggregator, names.Aggregator)},
		Spec: corev1.ServiceSpec{
			ClusterIP: corev1.ClusterIPNone,
			Selector:  selectorLabels(ComponentAggregator, names.Aggregator),
			Ports: []corev1.ServicePort{{Name: "metrics", Port: MetricsPort,
				TargetPort: intstr.FromString("metrics"), Protocol: corev1.ProtocolTCP}},
		},
	}
	a.StatefulSet = aggregatorStatefulSet(p, names, a.ConfigHash)
	a.PodDisruptionBudget = &policyv1.PodDisruptionBudget{
		TypeMeta:   metav1.TypeMeta{APIVersion: "policy/v1", Kind: "PodDisruptionBudget"},
		ObjectMeta: metav1.ObjectMeta{Name: names.Aggregator, Labels: podLabels(ComponentAggregator, names.Aggregator)},
		Spec: policyv1.PodDisruptionBudgetSpec{
			MaxUnavailable: ptr.To(intstr.FromInt32(1)),
			Selector:       &metav1.LabelSelector{MatchLabels: selectorLabels(ComponentAggregator, names.Aggregator)},
		},
	}
	if as := p.Spec.Aggregator.Autoscaling; as != nil {
		a.HorizontalPodAutoscaler = aggregatorAutoscaler(as, names)
	}
	return a, nil
}

// BufferClaimSize is the size of each aggregator pod's buffer claim: the buffer's maxSize plus a tenth,
// rounded up to a mebibyte, as Vector's disk buffer may pass its limit by a data file.
func BufferClaimSize(p *v1alpha1.AuditPipeline) resource.Quantity {
	const mi = int64(1 << 20)
	size := diskBuffer(p.Spec.Aggregator.Buffer.MaxSize.Value()).MaxSize
	size += size / 10
	return *resource.NewQuantity((size+mi-1)/mi*mi, resource.BinarySI)
}

func aggregatorStatefulSet(p *v1alpha1.AuditPipeline, names Names, hash string) *appsv1.StatefulSet {
	a := &p.Spec.Aggregator
	container := vectorContainer(string(a.Image), resourcesOr(a.Resources.Requirements(), "500m", "512Mi", "2", "2Gi"), nil)
	container.Env = []corev1.EnvVar{
		{Name: EnvAllowInterpolation, Value: "true"},
		{Name: EnvClickHouseUser, Value: ClickHouseUser(p)},
		{Name: EnvClickHousePassword, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: p.Spec.ClickHouse.Credentials.PasswordSecretRef.Name},
			Key:                  p.Spec.ClickHouse.Credentials.PasswordSecretRef.Key,
		}}},
	}
	spec := corev1.PodSpec{
		SecurityContext:               podSecurityContext(),
		TerminationGracePeriodSeconds: ptr.To(terminationGracePeriod),
		Containers:                    []corev1.Container{container},
		Volumes:                       []corev1.Volume{configVolume(names.AggregatorConfig)},
	}
	mounts := natsMounts(p)
	if ext := p.Spec.ClickHouse.External; ext != nil {
		mounts = append(mounts, tlsMounts("clickhouse", ext.TLS, clickHouseCADir, clickHouseClientDir)...)
	}
	addSecretMounts(&spec, mounts)
	var replicas *int32
	if a.Autoscaling == nil {
		replicas = ptr.To(DefaultAggregatorReplicas)
		if a.Replicas != nil {
			replicas = a.Replicas
		}
	}
	return &appsv1.StatefulSet{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "StatefulSet"},
		ObjectMeta: metav1.ObjectMeta{Name: names.Aggregator, Labels: podLabels(ComponentAggregator, names.Aggregator)},
		Spec: appsv1.StatefulSetSpec{
			Replicas:            replicas,
			ServiceName:         names.Aggregator,
			PodManagementPolicy: appsv1.ParallelPodManagement,
			Selector:            &metav1.LabelSelector{MatchLabels: selectorLabels(ComponentAggregator, names.Aggregator)},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{
					Labels:      podLabels(ComponentAggregator, names.Aggregator),
					Annotations: map[string]string{AnnotationConfigHash: hash},
				},
				Spec: spec,
			},
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{bufferClaim(p)},
		},
	}
}

func bufferClaim(p *v1alpha1.AuditPipeline) corev1.PersistentVolumeClaim {
	return corev1.PersistentVolumeClaim{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "PersistentVolumeClaim"},
		ObjectMeta: metav1.ObjectMeta{Name: "data"},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			StorageClassName: p.Spec.Aggregator.Buffer.StorageClassName,
			Resources: corev1.VolumeResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceStorage: BufferClaimSize(p)}},
		},
	}
}

func aggregatorAutoscaler(as *v1alpha1.AutoscalingSpec, names Names) *autoscalingv2.HorizontalPodAutoscaler {
	minReplicas, maxReplicas, target := as.MinReplicas, as.MaxReplicas, as.TargetCPUUtilizationPercentage
	if minReplicas == 0 {
		minReplicas = 2
	}
	if maxReplicas == 0 {
		maxReplicas = max(5, minReplicas)
	}
	if target == 0 {
		target = 70
	}
	return &autoscalingv2.HorizontalPodAutoscaler{
		TypeMeta:   metav1.TypeMeta{APIVersion: "autoscaling/v2", Kind: "HorizontalPodAutoscaler"},
		ObjectMeta: metav1.ObjectMeta{Name: names.Aggregator, Labels: podLabels(ComponentAggregator, names.Aggregator)},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "StatefulSet", Name: names.Aggregator},
			MinReplicas:    ptr.To(minReplicas),
			MaxReplicas:    maxReplicas,
			Metrics: []autoscalingv2.MetricSpec{{
				Type: autoscalingv2.ResourceMetricSourceType,
				Resource: &autoscalingv2.ResourceMetricSource{Name: corev1.ResourceCPU, Target: autoscalingv2.MetricTarget{
					Type: autoscalingv2.UtilizationMetricType, AverageUtilization: ptr.To(target)}},
			}},
		},
	}
}
