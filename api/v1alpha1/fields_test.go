package v1alpha1_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
)

// fieldCase sets one field of a valid pipeline to a value, as kubectl would send it (an integer stays an
// integer), and expects the API server to accept it (want "") or to refuse it with a message containing want.
type fieldCase struct {
	base  func(name string) *v1alpha1.AuditPipeline
	path  string
	value any
	want  string
}

func coldBase(name string) *v1alpha1.AuditPipeline { return withCold(managed(name)) }

func replicated(name string) *v1alpha1.AuditPipeline {
	p := managed(name)
	p.Spec.ClickHouse.Managed.Replicas = 3
	return p
}

// Milo's annotations: the tenant is the value of scope.name, its type the value of scope.type.
const (
	scopeName = "platform.miloapis.com/scope.name"
	scopeType = "platform.miloapis.com/scope.type"
)

// typedTenancy takes the tenant and its type from annotations.
func typedTenancy(name string) *v1alpha1.AuditPipeline {
	p := minimal(name)
	p.Spec.Tenancy = v1alpha1.TenancySpec{Source: v1alpha1.TenantSourceAnnotations,
		Annotations: &v1alpha1.TenantAnnotations{Name: scopeName, Type: scopeType}}
	return p
}

// untypedTenancy takes the tenant from an annotation and has no type annotation.
func untypedTenancy(name string) *v1alpha1.AuditPipeline {
	p := typedTenancy(name)
	p.Spec.Tenancy.Annotations.Type = ""
	return p
}

// noAnnotationTenancy has source Annotations without the annotations it needs.
func noAnnotationTenancy(name string) *v1alpha1.AuditPipeline {
	p := typedTenancy(name)
	p.Spec.Tenancy.Annotations = nil
	return p
}

// tenantEntry is an item of spec.clickhouse.retention.tenants: the tenant, its deleteAfter, then more
// fields as key, value pairs.
func tenantEntry(tenant, deleteAfter string, kv ...string) map[string]any {
	e := map[string]any{"tenant": tenant, "deleteAfter": deleteAfter}
	for i := 0; i+1 < len(kv); i += 2 {
		e[kv[i]] = kv[i+1]
	}
	return e
}

// tenantEntries is a list of n distinct tenants.
func tenantEntries(n int) []any {
	l := make([]any, n)
	for i := range l {
		l[i] = tenantEntry(fmt.Sprintf("team-%d", i), "720h")
	}
	return l
}

// TestFieldValues checks, on the real API server, the forms each field takes and the message of each
// form it refuses.
func TestFieldValues(t *testing.T) {
	const quantityForm = "must be a quantity such as"
	long := func(n int) string { return strings.Repeat("a", n) }
	cases := map[string]fieldCase{
		// Quantities take an integer or a string, and their bounds hold for both.
		"hot volume int":          {managed, "spec.clickhouse.managed.hotVolume.size", int64(107374182400), ""},
		"hot volume string":       {managed, "spec.clickhouse.managed.hotVolume.size", "100Gi", ""},
		"hot volume small int":    {managed, "spec.clickhouse.managed.hotVolume.size", int64(1000), "volume size must be at least 1Gi"},
		"hot volume GB":           {managed, "spec.clickhouse.managed.hotVolume.size", "10 GB", quantityForm + " 100Gi"},
		"cache size int zero":     {coldBase, "spec.clickhouse.storage.cold.cacheSize", int64(0), ""},
		"cache size string zero":  {coldBase, "spec.clickhouse.storage.cold.cacheSize", "0", ""},
		"cache size int":          {coldBase, "spec.clickhouse.storage.cold.cacheSize", int64(104857600), ""},
		"cache size too small":    {coldBase, "spec.clickhouse.storage.cold.cacheSize", int64(1024), "must be 0 (no cache) or at least 100Mi"},
		"cache size GB":           {coldBase, "spec.clickhouse.storage.cold.cacheSize", "10GB", quantityForm + " 10Gi"},
		"stream bytes int":        {minimal, "spec.nats.stream.maxBytes", int64(107374182400), ""},
		"stream bytes string":     {minimal, "spec.nats.stream.maxBytes", "100Gi", ""},
		"stream bytes small":      {minimal, "spec.nats.stream.maxBytes", int64(1000), "maxBytes must be at least 1Mi"},
		"stream bytes MB":         {minimal, "spec.nats.stream.maxBytes", "32MB", quantityForm + " 100Gi"},
		"message size int":        {minimal, "spec.nats.stream.maxMessageSize", int64(1048576), ""},
		"message size string":     {minimal, "spec.nats.stream.maxMessageSize", "2Mi", ""},
		"message size too big":    {minimal, "spec.nats.stream.maxMessageSize", int64(1 << 30), "between 1Ki and 64Mi"},
		"message size space":      {minimal, "spec.nats.stream.maxMessageSize", "1 Mi", quantityForm + " 1Mi"},
		"agent buffer int":        {minimal, "spec.collector.buffer.maxSize", int64(10737418240), ""},
		"agent buffer string":     {minimal, "spec.collector.buffer.maxSize", "10Gi", ""},
		"agent buffer small":      {minimal, "spec.collector.buffer.maxSize", int64(1 << 20), "more than 256Mi"},
		"agent buffer GB":         {minimal, "spec.collector.buffer.maxSize", "10GB", quantityForm + " 10Gi"},
		"batch bytes int":         {minimal, "spec.aggregator.batch.maxBytes", int64(32000000), ""},
		"batch bytes string":      {minimal, "spec.aggregator.batch.maxBytes", "32M", ""},
		"batch bytes small":       {minimal, "spec.aggregator.batch.maxBytes", int64(1000), "between 64Ki and 1Gi"},
		"batch bytes MB":          {minimal, "spec.aggregator.batch.maxBytes", "32MB", quantityForm + " 32M"},
		"aggregator buffer int":   {minimal, "spec.aggregator.buffer.maxSize", int64(10737418240), ""},
		"aggregator buffer str":   {minimal, "spec.aggregator.buffer.maxSize", "10Gi", ""},
		"aggregator buffer small": {minimal, "spec.aggregator.buffer.maxSize", int64(1 << 20), "more than 256Mi"},
		"aggregator buffer GB":    {minimal, "spec.aggregator.buffer.maxSize", "10 Gi", quantityForm + " 10Gi"},

		// Names: the pipeline label holds 63 characters; a managed ClickHouse's derived names hold 37.
		"name 63":              {minimal, "metadata.name", long(63), ""},
		"name 64":              {minimal, "metadata.name", long(64), "metadata.name must be at most 63 characters"},
		"name with dots":       {minimal, "metadata.name", "audit.prod", ""},
		"managed name 37":      {managed, "metadata.name", long(37), ""},
		"managed name 38":      {managed, "metadata.name", long(38), "at most 37 characters and hold no '.'"},
		"managed name dots":    {managed, "metadata.name", "audit.prod", "at most 37 characters and hold no '.'"},
		"database system":      {minimal, "spec.clickhouse.database", "system", "must not be one of ClickHouse's own databases"},
		"database info lower":  {minimal, "spec.clickhouse.database", "information_schema", "must not be one of ClickHouse's own databases"},
		"database info upper":  {minimal, "spec.clickhouse.database", "INFORMATION_SCHEMA", "must not be one of ClickHouse's own databases"},
		"database system_logs": {minimal, "spec.clickhouse.database", "system_audit", ""},

		// NATS servers and subjects.
		"port too high":     {minimal, "spec.nats.servers", []any{"nats://127.0.0.1:99999"}, "ports between 1 and 65535"},
		"port zero":         {minimal, "spec.nats.servers", []any{"nats://nats:0"}, "ports between 1 and 65535"},
		"port highest":      {minimal, "spec.nats.servers", []any{"nats://nats:65535", "nats://[fd00::1]:4222", "tls://[::1]"}, ""},
		"subject > inside":  {minimal, "spec.nats.stream.subjects", []any{"audit.k8s.>", "audit.>.k8s"}, "'>' only as the last token"},
		"subject empty tok": {minimal, "spec.nats.stream.subjects", []any{"audit.k8s.>", "audit..k8s"}, "none empty"},
		"subject space":     {minimal, "spec.nats.stream.subjects", []any{"audit.k8s.>", "audit.k 8s"}, "none with spaces"},
		"subject star part": {minimal, "spec.nats.stream.subjects", []any{"audit.k8s.>", "audit.k8s*.x"}, "'*' only as a whole token"},
		"subject dot start": {minimal, "spec.nats.stream.subjects", []any{"audit.k8s.>", ".audit"}, "NATS subjects"},
		"subjects valid":    {minimal, "spec.nats.stream.subjects", []any{"audit.k8s.>", "audit.*.x", "other_1-2"}, ""},

		// Images.
		"image space":     {minimal, "spec.collector.image", "timberio/vector: 0.59.0", "must be an image reference"},
		"image upper":     {minimal, "spec.aggregator.image", "timberio/Vector:0.59.0", "must be an image reference"},
		"image managed":   {managed, "spec.clickhouse.managed.image", "clickhouse/clickhouse-server:25.8 ", "must be an image reference"},
		"image keeper":    {replicated, "spec.clickhouse.managed.keeper.image", "keeper@sha256:xyz", "must be an image reference"},
		"image registry":  {minimal, "spec.collector.image", "localhost:5000/team/vector:0.59.0-distroless-libc", ""},
		"image digest":    {minimal, "spec.aggregator.image", "timberio/vector@sha256:" + strings.Repeat("0a", 32), ""},
		"image tag+dgst":  {minimal, "spec.aggregator.image", "docker.io/timberio/vector:0.59.0@sha256:" + strings.Repeat("0a", 32), ""},
		"image bare name": {minimal, "spec.collector.image", "vector", ""},

		// Scheduling and resources.
		"selector key":        {minimal, "spec.collector.nodeSelector", map[string]any{"bad key!": "x"}, "nodeSelector keys must be label keys"},
		"selector long name":  {minimal, "spec.collector.nodeSelector", map[string]any{"example.com/" + long(64): "x"}, "nodeSelector keys must be label keys"},
		"selector value":      {minimal, "spec.collector.nodeSelector", map[string]any{"role": "a b"}, "must be a label value"},
		"selector valid":      {minimal, "spec.collector.nodeSelector", map[string]any{"node-role.kubernetes.io/control-plane": "", "zone": "eu-1a"}, ""},
		"toleration operator": {minimal, "spec.collector.tolerations", []any{map[string]any{"key": "a", "operator": "Maybe"}}, `Unsupported value: "Maybe"`},
		"toleration effect":   {minimal, "spec.collector.tolerations", []any{map[string]any{"key": "a", "effect": "Never"}}, `Unsupported value: "Never"`},
		"toleration no key":   {minimal, "spec.collector.tolerations", []any{map[string]any{"operator": "Equal", "value": "x"}}, "without a key must have operator Exists"},
		"toleration bad key":  {minimal, "spec.collector.tolerations", []any{map[string]any{"key": "a b", "operator": "Exists"}}, "must be a taint key"},
		"toleration exists=v": {minimal, "spec.collector.tolerations", []any{map[string]any{"key": "a", "operator": "Exists", "value": "x"}}, "Exists takes no value"},
		"toleration seconds":  {minimal, "spec.collector.tolerations", []any{map[string]any{"key": "a", "operator": "Exists", "effect": "NoSchedule", "tolerationSeconds": int64(30)}}, "applies only to a toleration with effect NoExecute"},
		"tolerations valid": {minimal, "spec.collector.tolerations", []any{
			map[string]any{"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"},
			map[string]any{"operator": "Exists"},
			map[string]any{"key": "dedicated", "value": "audit", "effect": "NoExecute", "tolerationSeconds": int64(60)},
			map[string]any{"key": "dedicated", "operator": "", "value": "audit", "effect": ""},
		}, ""},
		"requests above limits": {minimal, "spec.aggregator.resources", map[string]any{
			"requests": map[string]any{"cpu": "2"}, "limits": map[string]any{"cpu": "1"}}, "requests.cpu must not exceed resources.limits.cpu"},
		"requests int vs limits": {managed, "spec.clickhouse.managed.resources", map[string]any{
			"requests": map[string]any{"memory": int64(4 << 30)}, "limits": map[string]any{"memory": "2Gi"}}, "requests.memory must not exceed resources.limits.memory"},
		"resource name": {minimal, "spec.collector.resources", map[string]any{
			"limits": map[string]any{"gpu": "1"}}, "limits keys must be cpu, memory"},
		"resources valid": {minimal, "spec.collector.resources", map[string]any{
			"requests": map[string]any{"cpu": "100m", "memory": int64(128 << 20), "example.com/dongle": "1", "vendor/widget": "2"},
			"limits":   map[string]any{"cpu": int64(1), "memory": "512Mi", "hugepages-2Mi": "64Mi", "example.com/dongle": "1"}}, ""},
		"storage class":       {managed, "spec.clickhouse.managed.hotVolume.storageClassName", "Fast_SSD", "storageClassName must be the name of a StorageClass"},
		"storage class valid": {managed, "spec.clickhouse.managed.hotVolume.storageClassName", "fast-ssd.csi", ""},

		// Messages that name the field at fault.
		"batch timeout no unit": {minimal, "spec.aggregator.batch.timeout", "10", "spec.aggregator.batch.timeout must be a duration such as 10s"},
		"ackWait no unit":       {minimal, "spec.nats.consumer.ackWait", "60", "spec.nats.consumer.ackWait must be a duration such as 60s"},
		"host in brackets":      {minimal, "spec.clickhouse.external.hosts", []any{"[::1]"}, "IPv6 addresses without brackets, e.g. fd00::1"},
		"host ipv6":             {minimal, "spec.clickhouse.external.hosts", []any{"::1", "fd00::7"}, ""},
		"host with port":        {minimal, "spec.clickhouse.external.hosts", []any{"clickhouse:9000"}, "without scheme or port"},

		// The cluster column: up to 63 letters, digits, '-', '_' or '.', starting and ending with one of the
		// first two.
		"cluster name":        {minimal, "spec.clusterName", "prod-eu-1", ""},
		"cluster name 1":      {minimal, "spec.clusterName", "a", ""},
		"cluster name 63":     {minimal, "spec.clusterName", long(63), ""},
		"cluster name _ .":    {minimal, "spec.clusterName", "Prod_EU.1", ""},
		"cluster name empty":  {minimal, "spec.clusterName", "", "spec.clusterName in body should be at least 1 chars long"},
		"cluster name 64":     {minimal, "spec.clusterName", long(64), "spec.clusterName: Too long: may not be more than 63 bytes"},
		"cluster name -start": {minimal, "spec.clusterName", "-x", "spec.clusterName must be up to 63 letters, digits"},
		"cluster name .end":   {minimal, "spec.clusterName", "x.", "spec.clusterName must be up to 63 letters, digits"},
		"cluster name space":  {minimal, "spec.clusterName", "a b", "spec.clusterName must be up to 63 letters, digits"},
		"cluster name accent": {minimal, "spec.clusterName", "é", "spec.clusterName must be up to 63 letters, digits"},

		// Tenancy: the namespace, or annotations, which are set exactly with source Annotations.
		"tenancy namespace":    {minimal, "spec.tenancy", map[string]any{"source": "Namespace"}, ""},
		"tenancy annotations":  {minimal, "spec.tenancy", map[string]any{"source": "Annotations", "annotations": map[string]any{"name": scopeName, "type": scopeType}}, ""},
		"tenancy name only":    {minimal, "spec.tenancy", map[string]any{"source": "Annotations", "annotations": map[string]any{"name": scopeName}}, ""},
		"tenancy no annots":    {minimal, "spec.tenancy", map[string]any{"source": "Annotations"}, "spec.tenancy.annotations is set exactly when spec.tenancy.source is Annotations"},
		"tenancy ns annots":    {minimal, "spec.tenancy", map[string]any{"source": "Namespace", "annotations": map[string]any{"name": scopeName}}, "spec.tenancy.annotations is set exactly when spec.tenancy.source is Annotations"},
		"tenancy dflt annots":  {minimal, "spec.tenancy", map[string]any{"annotations": map[string]any{"name": scopeName}}, "spec.tenancy.annotations is set exactly when spec.tenancy.source is Annotations"},
		"tenancy no name":      {minimal, "spec.tenancy", map[string]any{"source": "Annotations", "annotations": map[string]any{"type": scopeType}}, "spec.tenancy.annotations.name: Required value"},
		"tenancy same keys":    {minimal, "spec.tenancy", map[string]any{"source": "Annotations", "annotations": map[string]any{"name": scopeName, "type": scopeName}}, "type and name must be different annotations"},
		"tenancy label":        {minimal, "spec.tenancy.source", "Label", `spec.tenancy.source: Unsupported value: "Label": supported values: "Namespace", "Annotations"`},
		"annotation bare":      {typedTenancy, "spec.tenancy.annotations.name", "tenant", ""},
		"annotation name 63":   {typedTenancy, "spec.tenancy.annotations.name", "a/" + long(63), ""},
		"annotation pfx 253":   {typedTenancy, "spec.tenancy.annotations.name", strings.Repeat("a.", 126) + "a/" + long(63), ""},
		"annotation space":     {typedTenancy, "spec.tenancy.annotations.name", "bad key", `spec.tenancy.annotations.name: Invalid value: "bad key": must be an annotation key`},
		"annotation no pfx":    {typedTenancy, "spec.tenancy.annotations.name", "/x", "must be an annotation key"},
		"annotation no name":   {typedTenancy, "spec.tenancy.annotations.name", "platform.miloapis.com/", "must be an annotation key"},
		"annotation name 64":   {typedTenancy, "spec.tenancy.annotations.name", "a/" + long(64), "must be an annotation key"},
		"annotation pfx 254":   {typedTenancy, "spec.tenancy.annotations.name", "a" + strings.Repeat(".a", 126) + "a/x", "must be an annotation key"},
		"annotation pfx upper": {typedTenancy, "spec.tenancy.annotations.name", "Platform.miloapis.com/scope.name", "must be an annotation key"},
		"annotation -name":     {typedTenancy, "spec.tenancy.annotations.name", "-tenant", "must be an annotation key"},
		"annotation empty":     {typedTenancy, "spec.tenancy.annotations.name", "", "spec.tenancy.annotations.name in body should be at least 1 chars long"},
		"annotation 318":       {typedTenancy, "spec.tenancy.annotations.name", long(318), "spec.tenancy.annotations.name: Too long: may not be more than 317 bytes"},
		"annotation type":      {typedTenancy, "spec.tenancy.annotations.type", "scope type", `spec.tenancy.annotations.type: Invalid value: "scope type": must be an annotation key`},

		// Per-tenant retention: one entry per tenant (and type), types only with a type annotation.
		"tenants":              {minimal, "spec.clickhouse.retention.tenants", []any{tenantEntry("team-a", "720h"), tenantEntry("team-b", "61320h"), tenantEntry("", "24h")}, ""},
		"tenants 64":           {minimal, "spec.clickhouse.retention.tenants", tenantEntries(64), ""},
		"tenants 65":           {minimal, "spec.clickhouse.retention.tenants", tenantEntries(65), "spec.clickhouse.retention.tenants: Too many: 65: must have at most 64 items"},
		"tenants duplicate":    {minimal, "spec.clickhouse.retention.tenants", []any{tenantEntry("team-a", "720h"), tenantEntry("team-b", "720h"), tenantEntry("team-a", "8760h")}, "spec.clickhouse.retention.tenants names a tenant twice"},
		"tenants two types":    {typedTenancy, "spec.clickhouse.retention.tenants", []any{tenantEntry("acme", "720h", "tenantType", "Organization"), tenantEntry("acme", "8760h", "tenantType", "Project")}, ""},
		"tenants type twice":   {typedTenancy, "spec.clickhouse.retention.tenants", []any{tenantEntry("acme", "720h", "tenantType", "Project"), tenantEntry("acme", "8760h", "tenantType", "Project")}, "spec.clickhouse.retention.tenants names a tenant twice"},
		"tenants typed+any":    {typedTenancy, "spec.clickhouse.retention.tenants", []any{tenantEntry("acme", "720h", "tenantType", "Project"), tenantEntry("acme", "8760h")}, "spec.clickhouse.retention.tenants names a tenant twice"},
		"tenant type, ns":      {minimal, "spec.clickhouse.retention.tenants", []any{tenantEntry("acme", "720h", "tenantType", "Project")}, "tenantType needs spec.tenancy.source Annotations with annotations.type set"},
		"tenant type, no type": {untypedTenancy, "spec.clickhouse.retention.tenants", []any{tenantEntry("acme", "720h", "tenantType", "Project")}, "tenantType needs spec.tenancy.annotations.type: without it"},
		"tenant type, no anns": {noAnnotationTenancy, "spec.clickhouse.retention.tenants", []any{tenantEntry("acme", "720h", "tenantType", "Project")}, "tenantType needs spec.tenancy.annotations.type: without it"},
		"tenant untyped, anns": {untypedTenancy, "spec.clickhouse.retention.tenants", []any{tenantEntry("acme", "720h")}, ""},
		"tenant type empty":    {typedTenancy, "spec.clickhouse.retention.tenants", []any{tenantEntry("acme", "720h", "tenantType", "")}, "spec.clickhouse.retention.tenants[0].tenantType in body should be at least 1 chars long"},
		"tenant type control":  {typedTenancy, "spec.clickhouse.retention.tenants", []any{tenantEntry("acme", "720h", "tenantType", "Pro\nject")}, "tenants[].tenantType must not hold control characters"},
		"tenant delete 24h":    {minimal, "spec.clickhouse.retention.tenants", []any{tenantEntry("acme", "24h")}, ""},
		"tenant delete 12h":    {minimal, "spec.clickhouse.retention.tenants", []any{tenantEntry("acme", "12h")}, "spec.clickhouse.retention.tenants[].deleteAfter must be at least 24h"},
		"tenant delete 30":     {minimal, "spec.clickhouse.retention.tenants", []any{tenantEntry("acme", "30")}, "spec.clickhouse.retention.tenants[].deleteAfter must be a duration such as 720h"},
		"tenant delete long":   {minimal, "spec.clickhouse.retention.tenants", []any{tenantEntry("acme", "24h"+strings.Repeat("0s", 15))}, "spec.clickhouse.retention.tenants[0].deleteAfter: Too long: may not be more than 32 bytes"},
		"tenant no delete":     {minimal, "spec.clickhouse.retention.tenants", []any{map[string]any{"tenant": "acme"}}, "spec.clickhouse.retention.tenants[0].deleteAfter: Required value"},
		"tenant control char":  {minimal, "spec.clickhouse.retention.tenants", []any{tenantEntry("team\x01a", "720h")}, "spec.clickhouse.retention.tenants[].tenant must not hold control characters"},
		"tenant DEL":           {minimal, "spec.clickhouse.retention.tenants", []any{tenantEntry("team\x7f", "720h")}, "spec.clickhouse.retention.tenants[].tenant must not hold control characters"},
		"tenant empty":         {minimal, "spec.clickhouse.retention.tenants", []any{tenantEntry("", "720h")}, ""},
		"tenant unicode":       {minimal, "spec.clickhouse.retention.tenants", []any{tenantEntry("équipe b/ß", "720h")}, ""},
		"tenant 253":           {minimal, "spec.clickhouse.retention.tenants", []any{tenantEntry(long(253), "720h")}, ""},
		"tenant 254":           {minimal, "spec.clickhouse.retention.tenants", []any{tenantEntry(long(254), "720h")}, "spec.clickhouse.retention.tenants[0].tenant: Too long: may not be more than 253 bytes"},
	}
	ctx := context.Background()
	i := 0
	for name, tc := range cases {
		i++
		t.Run(name, func(t *testing.T) {
			u := unstructuredPipeline(t, tc.base(fmt.Sprintf("field-%d", i)))
			if err := unstructured.SetNestedField(u.Object, tc.value, strings.Split(tc.path, ".")...); err != nil {
				t.Fatal(err)
			}
			err := k8s.Create(ctx, u, client.DryRunAll)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("%s = %v: refused: %v", tc.path, tc.value, err)
			case tc.want != "" && err == nil:
				t.Fatalf("%s = %v: accepted; want an error containing %q", tc.path, tc.value, tc.want)
			case tc.want != "" && !strings.Contains(err.Error(), tc.want):
				t.Fatalf("%s = %v: error = %v\nwant it to contain %q", tc.path, tc.value, err, tc.want)
			}
			// A refused value gets its own message, never a CEL evaluation error.
			if err != nil && (strings.Contains(err.Error(), "no such overload") || strings.Contains(err.Error(), "no such key") ||
				strings.Contains(err.Error(), "compilation failed")) {
				t.Fatalf("%s = %v: error = %v, want only the rules' messages", tc.path, tc.value, err)
			}
		})
	}
}

func unstructuredPipeline(t *testing.T, p *v1alpha1.AuditPipeline) *unstructured.Unstructured {
	t.Helper()
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(p)
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{Object: obj}
	u.SetGroupVersionKind(v1alpha1.GroupVersion.WithKind("AuditPipeline"))
	return u
}

// A pipeline whose name an older CRD admitted (here: the CRD without its name rules) stays updatable and
// deletable under the current CRD: the name rules hold on create only.
func TestNameRulesHoldOnCreateOnly(t *testing.T) {
	ctx := context.Background()
	crd := &apiextensionsv1.CustomResourceDefinition{}
	key := client.ObjectKey{Name: "auditpipelines.auditpipeline.io"}
	if err := k8s.Get(ctx, key, crd); err != nil {
		t.Fatal(err)
	}
	current := crd.DeepCopy()
	root := &crd.Spec.Versions[0].Schema.OpenAPIV3Schema
	var kept apiextensionsv1.ValidationRules
	for _, r := range (*root).XValidations {
		if !strings.Contains(r.Rule, "metadata.name") {
			kept = append(kept, r)
		}
	}
	(*root).XValidations = kept
	setCRD := func(from *apiextensionsv1.CustomResourceDefinition) {
		t.Helper()
		latest := &apiextensionsv1.CustomResourceDefinition{}
		if err := k8s.Get(ctx, key, latest); err != nil {
			t.Fatal(err)
		}
		latest.Spec = from.Spec
		if err := k8s.Update(ctx, latest); err != nil {
			t.Fatal(err)
		}
	}
	setCRD(crd)
	p := minimal(strings.Repeat("b", 70))
	p.Finalizers = []string{"auditpipeline.io/test"}
	// The API server may take a moment to serve the changed schema.
	deadline := time.Now().Add(10 * time.Second)
	for err := k8s.Create(ctx, p); err != nil; err = k8s.Create(ctx, p) {
		if time.Now().After(deadline) {
			setCRD(current)
			t.Fatalf("create under the CRD without name rules: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	setCRD(current)
	deadline = time.Now().Add(10 * time.Second)
	for k8s.Create(ctx, minimal(strings.Repeat("c", 70)), client.DryRunAll) == nil { // until it is served again
		if time.Now().After(deadline) {
			t.Fatal("the restored CRD admits a 70-character name")
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err := k8s.Delete(ctx, p); err != nil {
		t.Fatal(err)
	}
	cur := &v1alpha1.AuditPipeline{}
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(p), cur); err != nil {
		t.Fatal(err)
	}
	cur.Finalizers = nil
	if err := k8s.Update(ctx, cur); err != nil {
		t.Fatalf("removing the finalizer of a pipeline an older CRD admitted: %v", err)
	}
}
