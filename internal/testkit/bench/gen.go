// Package bench measures the audit events table (migrations/00001_events.sql) on a real ClickHouse: a
// deterministic generator of realistic audit.k8s.io/v1 Events, a loader that inserts them in batches
// the way the aggregator does, and the queries the UI and the API run, with their targets (issue 7).
// hack/bench runs it on the test ClickHouse (`make bench`); the tests run it with a small N.
package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"

	"github.com/auditpipeline/auditpipeline-operator/internal/eventrow"
	"github.com/auditpipeline/auditpipeline-operator/internal/render/vector/vrl"
)

// Event is an audit.k8s.io/v1 Event with the fields the API server fills (k8s.io/apiserver's
// pkg/apis/audit/v1 types, kept here to avoid depending on the apiserver module).
type Event struct {
	Kind                     string            `json:"kind"`
	APIVersion               string            `json:"apiVersion"`
	Level                    string            `json:"level"`
	AuditID                  uuid.UUID         `json:"auditID"`
	Stage                    string            `json:"stage"`
	RequestURI               string            `json:"requestURI"`
	Verb                     string            `json:"verb"`
	User                     UserInfo          `json:"user"`
	ImpersonatedUser         *UserInfo         `json:"impersonatedUser,omitempty"`
	SourceIPs                []string          `json:"sourceIPs"`
	UserAgent                string            `json:"userAgent"`
	ObjectRef                *ObjectReference  `json:"objectRef,omitempty"`
	ResponseStatus           *Status           `json:"responseStatus,omitempty"`
	RequestObject            json.RawMessage   `json:"requestObject,omitempty"`
	ResponseObject           json.RawMessage   `json:"responseObject,omitempty"`
	RequestReceivedTimestamp MicroTime         `json:"requestReceivedTimestamp"`
	StageTimestamp           MicroTime         `json:"stageTimestamp"`
	Annotations              map[string]string `json:"annotations,omitempty"`
}

// UserInfo is authentication.k8s.io/v1 UserInfo.
type UserInfo struct {
	Username string              `json:"username"`
	UID      string              `json:"uid,omitempty"`
	Groups   []string            `json:"groups,omitempty"`
	Extra    map[string][]string `json:"extra,omitempty"`
}

// ObjectReference is the audit ObjectReference.
type ObjectReference struct {
	Resource        string `json:"resource,omitempty"`
	Namespace       string `json:"namespace,omitempty"`
	Name            string `json:"name,omitempty"`
	UID             string `json:"uid,omitempty"`
	APIGroup        string `json:"apiGroup,omitempty"`
	APIVersion      string `json:"apiVersion,omitempty"`
	ResourceVersion string `json:"resourceVersion,omitempty"`
	Subresource     string `json:"subresource,omitempty"`
}

// Status is the part of meta/v1 Status an audit event carries.
type Status struct {
	Metadata struct{} `json:"metadata"`
	Status   string   `json:"status,omitempty"`
	Message  string   `json:"message,omitempty"`
	Reason   string   `json:"reason,omitempty"`
	Code     int      `json:"code"`
}

// MicroTime marshals like meta/v1 MicroTime: RFC 3339 with microseconds, UTC.
type MicroTime time.Time

// MarshalJSON implements json.Marshaler.
func (t MicroTime) MarshalJSON() ([]byte, error) {
	return []byte(`"` + time.Time(t).UTC().Format("2006-01-02T15:04:05.000000Z07:00") + `"`), nil
}

// Row is one generated event and its row of the events table, as the aggregator makes it
// (eventrow.FromEvent).
type Row struct {
	eventrow.Row
	// EventJSON is the event as the API server sent it.
	EventJSON string
}

// The annotations that hold a generated event's tenant, as on a platform built from many control planes
// (Milo's): the bench's pipeline has annotation tenancy (Tenancy).
const (
	ScopeTypeAnnotation = "platform.miloapis.com/scope.type"
	ScopeNameAnnotation = "platform.miloapis.com/scope.name"
)

// Tenancy is the spec.tenancy of the bench's pipeline: the tenant from the scope annotations.
var Tenancy = eventrow.Tenancy{TypeAnnotation: ScopeTypeAnnotation, NameAnnotation: ScopeNameAnnotation}

// Cluster is the name the collector gives the generated events (spec.clusterName).
const Cluster = "bench-cluster"

// RowOf maps an event to its row, through the collector's and the aggregator's own mapping: the event is
// encoded as the API server sends it, decoded as Vector's nats source decodes it, named with Cluster
// (vrl.WithCluster) and split by Tenancy.FromEvent.
func RowOf(e *Event) (Row, error) {
	js, err := json.Marshal(e)
	if err != nil {
		return Row{}, fmt.Errorf("encode audit event %s: %w", e.AuditID, err)
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.UseNumber()
	var ev map[string]any
	if err := dec.Decode(&ev); err != nil {
		return Row{}, fmt.Errorf("decode audit event %s: %w", e.AuditID, err)
	}
	return Row{Row: Tenancy.FromEvent(vrl.WithCluster(ev, Cluster), time.Time(e.StageTimestamp)), EventJSON: string(js)}, nil
}

// DefaultEnd is when generated events end by default: fixed, so that runs and their queries repeat.
var DefaultEnd = time.Date(2026, time.November, 1, 0, 0, 0, 0, time.UTC)

// GenOptions shape the generated events.
type GenOptions struct {
	// Seed of the random source; the same seed and options give the same events.
	Seed uint64
	// N is the number of events.
	N int
	// End is the time of the last event (DefaultEnd when zero); Span how far back the first one is
	// (90 days when zero). Event times increase strictly.
	End  time.Time
	Span time.Duration
	// Tenants is the number of tenants (150 when zero), each with a namespace of its own.
	Tenants int
}

func (o GenOptions) withDefaults() GenOptions {
	if o.End.IsZero() {
		o.End = DefaultEnd
	}
	if o.Span == 0 {
		o.Span = 90 * 24 * time.Hour
	}
	if o.Tenants == 0 {
		o.Tenants = 150
	}
	return o
}

// kind is a resource the generator touches, with how often and how many objects a tenant has.
type kind struct {
	resource, group, version string
	weight                   int // relative frequency of requests
	perTenant                int // objects per tenant
	prefix                   string
}

var kinds = []kind{
	{"pods", "", "v1", 30, 60, ""},
	{"configmaps", "", "v1", 12, 12, ""},
	{"secrets", "", "v1", 10, 10, ""},
	{"deployments", "apps", "v1", 8, 6, ""},
	{"replicasets", "apps", "v1", 6, 12, ""},
	{"services", "", "v1", 6, 6, ""},
	{"endpointslices", "discovery.k8s.io", "v1", 6, 6, ""},
	{"leases", "coordination.k8s.io", "v1", 14, 4, ""},
	{"serviceaccounts", "", "v1", 3, 4, ""},
	{"events", "", "v1", 5, 0, ""},
}

// verbs by frequency: reads dominate.
var verbWeights = []struct {
	verb   string
	weight int
}{
	{"get", 34}, {"list", 17}, {"watch", 15}, {"update", 14}, {"patch", 10}, {"create", 7}, {"delete", 3},
}

// WriteVerbs are the verbs that change objects.
var WriteVerbs = []string{"create", "update", "patch", "delete"}

func isWrite(v string) bool {
	switch v {
	case "create", "update", "patch", "delete":
		return true
	}
	return false
}

var controllers = []string{
	"deployment-controller", "replicaset-controller", "endpointslice-controller", "namespace-controller",
	"generic-garbage-collector", "horizontal-pod-autoscaler", "statefulset-controller", "job-controller",
	"resourcequota-controller", "service-account-controller",
}

var humans = []struct{ name, uid string }{
	{"alice@example.com", "oidc:5f1c"}, {"bob@example.com", "oidc:8a21"}, {"carol@example.com", "oidc:13e7"},
	{"dave@example.com", "oidc:c0de"}, {"erin@example.com", "oidc:77b2"},
}

var kubectlAgents = []string{
	"kubectl/v1.37.2 (linux/amd64) kubernetes/9c1f2a4",
	"kubectl/v1.36.4 (darwin/arm64) kubernetes/0b4d7e1",
	"k9s/v0.50.6 (linux/amd64) kubernetes/$Format",
}

// Generator yields events in increasing time; Next is deterministic for a seed and options.
type Generator struct {
	o       GenOptions
	rnd     *rand.Rand
	i       int
	start   time.Time
	step    time.Duration
	tenants []Tenant
	cum     []float64 // cumulative Zipf-like tenant weights (tenantSkew)
	rv      uint64    // resourceVersion counter
	nodes   int
}

// NewGenerator returns a generator for o.
func NewGenerator(o GenOptions) *Generator {
	o = o.withDefaults()
	g := &Generator{o: o, rnd: rand.New(rand.NewPCG(o.Seed, 0x9e3779b97f4a7c15)), nodes: 50, rv: 1_000_000}
	g.start = o.End.Add(-o.Span)
	if o.N > 1 {
		g.step = o.Span / time.Duration(o.N-1)
	}
	g.tenants = make([]Tenant, o.Tenants)
	total := 0.0
	for i := range g.tenants {
		g.tenants[i] = newTenant(i)
		total += math.Pow(float64(i+1), -tenantSkew)
		g.cum = append(g.cum, total)
	}
	for i := range g.cum {
		g.cum[i] /= total
	}
	return g
}

var teams = []string{"payments", "search", "checkout", "identity", "billing", "catalog", "ml", "ledger", "media", "growth"}
var envs = []string{"prod", "staging", "dev", "qa"}

// tenantSkew is the exponent s of the tenants' Zipf-like activity: the i-th busiest tenant (from 1) is
// picked with weight 1/i^s. With the default 150 tenants, s = 0.9 gives the busiest 1/H(150, 0.9) =
// 14.1% of the events (the queries' worst case), the ten busiest 45% and the least busy 0.16%; s = 1,
// the plain Zipf law, would give the busiest 17.9%.
const tenantSkew = 0.9

// The scope types of the generated tenants (ScopeTypeAnnotation): Projects, and every tenth tenant an
// Organization.
const (
	ScopeProject      = "Project"
	ScopeOrganization = "Organization"
)

// Tenant is a generated tenant: its scope, which every one of its events carries in the annotations
// ScopeTypeAnnotation and ScopeNameAnnotation, and the namespace its objects live in.
type Tenant struct {
	Type, Name, Namespace string
}

// newTenant is the i-th busiest tenant (from 0): a Project, or an Organization for every tenth (the
// 10th, 20th, ...), named like its namespace.
func newTenant(i int) Tenant {
	name := fmt.Sprintf("%s-%s-%03d", teams[i%len(teams)], envs[(i/len(teams))%len(envs)], i)
	typ := ScopeProject
	if i%10 == 9 {
		typ = ScopeOrganization
	}
	return Tenant{Type: typ, Name: name, Namespace: name}
}

// app is the prefix of a tenant's workload names: the namespace without its number.
func app(ns string) string { return ns[:len(ns)-4] }

// Tenants returns the tenants, busiest first.
func (g *Generator) Tenants() []Tenant { return g.tenants }

func (g *Generator) pick(weights []int) int {
	total := 0
	for _, w := range weights {
		total += w
	}
	n := g.rnd.IntN(total)
	for i, w := range weights {
		if n < w {
			return i
		}
		n -= w
	}
	return len(weights) - 1
}

func (g *Generator) tenant() Tenant {
	x := g.rnd.Float64()
	for i, c := range g.cum {
		if x < c {
			return g.tenants[i]
		}
	}
	return g.tenants[len(g.tenants)-1]
}

func (g *Generator) uuid() uuid.UUID {
	var u uuid.UUID
	a, b := g.rnd.Uint64(), g.rnd.Uint64()
	for i := range 8 {
		u[i] = byte(a >> (8 * i))
		u[8+i] = byte(b >> (8 * i))
	}
	u[6] = (u[6] & 0x0f) | 0x40
	u[8] = (u[8] & 0x3f) | 0x80
	return u
}

// objectUID is a stable uid for an object (same name, same uid), as the API server keeps it.
func objectUID(ns, resource, name string) string {
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte(ns+"/"+resource+"/"+name)).String()
}

func objectName(k kind, ns string, i int) string {
	app := fmt.Sprintf("%s-app-%d", app(ns), i%3)
	switch k.resource {
	case "pods":
		return fmt.Sprintf("%s-%08x-%05x", app, uint32(i*2654435761), uint32(i*40503)&0xfffff)
	case "replicasets":
		return fmt.Sprintf("%s-%08x", app, uint32(i*2654435761))
	case "leases":
		return fmt.Sprintf("%s-leader-%d", app, i)
	case "secrets":
		return fmt.Sprintf("%s-credentials-%d", app, i)
	case "configmaps":
		return fmt.Sprintf("%s-config-%d", app, i)
	case "serviceaccounts":
		return fmt.Sprintf("%s-sa-%d", app, i)
	}
	return fmt.Sprintf("%s-%d", app, i)
}

// Next returns the next event; it is valid until the next call only through its pointer fields.
func (g *Generator) Next() *Event {
	// Evenly spaced, each a little earlier by a random jitter of under half a step: strictly
	// increasing, the first at End-Span, the last by End.
	t := g.start.Add(time.Duration(g.i) * g.step)
	if g.i > 0 && g.step > 2*time.Millisecond {
		t = t.Add(-time.Duration(g.rnd.Int64N(int64(g.step / 2))))
	}
	t = t.Truncate(time.Microsecond)
	g.i++

	tenant := g.tenant()
	ns := tenant.Namespace
	kw := make([]int, len(kinds))
	for i, k := range kinds {
		kw[i] = k.weight
	}
	k := kinds[g.pick(kw)]
	vw := make([]int, len(verbWeights))
	for i, v := range verbWeights {
		vw[i] = v.weight
	}
	verb := verbWeights[g.pick(vw)].verb
	if k.resource == "events" {
		verb = []string{"create", "create", "patch", "list", "watch"}[g.rnd.IntN(5)]
	}
	if k.resource == "leases" && verb != "get" && verb != "watch" {
		verb = "update"
	}

	e := &Event{
		Kind: "Event", APIVersion: "audit.k8s.io/v1", Level: "Metadata", AuditID: g.uuid(), Stage: "ResponseComplete",
		Verb: verb, StageTimestamp: MicroTime(t),
	}
	e.RequestReceivedTimestamp = MicroTime(t.Add(-time.Duration(200+g.rnd.IntN(30_000)) * time.Microsecond))

	// Who: controllers, nodes, the tenant's own workloads, a few humans.
	switch r := g.rnd.IntN(100); {
	case r < 45:
		c := controllers[g.rnd.IntN(len(controllers))]
		e.User = UserInfo{Username: "system:serviceaccount:kube-system:" + c, UID: objectUID("kube-system", "serviceaccounts", c),
			Groups: []string{"system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"}}
		e.UserAgent = "kube-controller-manager/v1.37.2 (linux/amd64) kubernetes/9c1f2a4/system:serviceaccount:kube-system:" + c
		e.SourceIPs = []string{"10.0.0.10"}
	case r < 70:
		node := fmt.Sprintf("ip-10-0-%d-%d.ec2.internal", g.rnd.IntN(g.nodes)/10, 10+g.rnd.IntN(g.nodes))
		e.User = UserInfo{Username: "system:node:" + node, Groups: []string{"system:nodes", "system:authenticated"}}
		e.UserAgent = "kubelet/v1.37.2 (linux/amd64) kubernetes/9c1f2a4"
		e.SourceIPs = []string{fmt.Sprintf("10.0.%d.%d", g.rnd.IntN(g.nodes)/10, 10+g.rnd.IntN(g.nodes))}
	case r < 96:
		sa := fmt.Sprintf("%s-app-%d", app(ns), g.rnd.IntN(3))
		e.User = UserInfo{Username: "system:serviceaccount:" + ns + ":" + sa, UID: objectUID(ns, "serviceaccounts", sa),
			Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"},
			Extra:  map[string][]string{"authentication.kubernetes.io/pod-name": {sa + "-7d9f8b6c5-x2k4q"}}}
		e.UserAgent = "app/v2.3.1 (linux/amd64) client-go/v0.37.2"
		e.SourceIPs = []string{fmt.Sprintf("10.244.%d.%d", g.rnd.IntN(64), 2+g.rnd.IntN(250))}
	default:
		h := humans[g.rnd.IntN(len(humans))]
		e.User = UserInfo{Username: h.name, UID: h.uid, Groups: []string{"oidc:" + app(ns) + "-devs", "system:authenticated"}}
		e.UserAgent = kubectlAgents[g.rnd.IntN(len(kubectlAgents))]
		e.SourceIPs = []string{fmt.Sprintf("203.0.113.%d", 1+g.rnd.IntN(40))}
		if g.rnd.IntN(50) == 0 {
			e.ImpersonatedUser = &UserInfo{Username: "system:serviceaccount:" + ns + ":deployer", Groups: []string{"system:serviceaccounts"}}
		}
	}

	// What.
	ref := &ObjectReference{Resource: k.resource, Namespace: ns, APIGroup: k.group, APIVersion: k.version}
	e.ObjectRef = ref
	path := "/api/v1"
	if k.group != "" {
		path = "/apis/" + k.group + "/" + k.version
	}
	collection := path + "/namespaces/" + ns + "/" + k.resource
	switch verb {
	case "list", "watch":
		e.RequestURI = collection + "?limit=500&resourceVersion=0"
		if verb == "watch" {
			e.RequestURI = fmt.Sprintf("%s?allowWatchBookmarks=true&resourceVersion=%d&timeout=7m%ds&watch=true", collection, g.rv, g.rnd.IntN(60))
		}
	default:
		var name string
		if k.perTenant == 0 || verb == "create" && k.resource != "pods" && g.rnd.IntN(4) == 0 {
			name = fmt.Sprintf("%s-%x", app(ns), g.rnd.Uint32())
		} else {
			// Objects are hit unevenly: the first ones of a tenant most.
			i := int(float64(k.perTenant) * g.rnd.Float64() * g.rnd.Float64())
			name = objectName(k, ns, i)
		}
		ref.Name = name
		ref.UID = objectUID(ns, k.resource, name)
		if verb == "create" {
			e.RequestURI = collection
		} else {
			e.RequestURI = collection + "/" + name
		}
		if k.resource == "pods" && verb == "patch" && g.rnd.IntN(2) == 0 {
			ref.Subresource = "status"
			e.RequestURI += "/status"
		}
		if isWrite(verb) {
			g.rv += uint64(1 + g.rnd.IntN(40))
			ref.ResourceVersion = fmt.Sprint(g.rv)
		}
	}

	code := g.code(verb)
	e.ResponseStatus = &Status{Code: code}
	if code >= 400 {
		e.ResponseStatus.Status = "Failure"
		switch code {
		case 403:
			e.ResponseStatus.Reason = "Forbidden"
			e.ResponseStatus.Message = fmt.Sprintf("%s %q is forbidden: User %q cannot %s resource %q in API group %q in the namespace %q",
				k.resource, ref.Name, e.User.Username, verb, k.resource, k.group, ns)
		case 404:
			e.ResponseStatus.Reason = "NotFound"
			e.ResponseStatus.Message = fmt.Sprintf("%s %q not found", k.resource, ref.Name)
		case 409:
			e.ResponseStatus.Reason = "Conflict"
			if verb == "create" {
				e.ResponseStatus.Reason = "AlreadyExists"
				e.ResponseStatus.Message = fmt.Sprintf("%s %q already exists", k.resource, ref.Name)
			} else {
				e.ResponseStatus.Message = fmt.Sprintf("Operation cannot be fulfilled on %s %q: the object has been modified; please apply your changes to the latest version and try again", k.resource, ref.Name)
			}
		}
	}

	// The authorizer's annotations, and the tenant's scope, which the bench's pipeline takes the tenant
	// from (Tenancy).
	e.Annotations = map[string]string{"authorization.k8s.io/decision": "allow",
		"authorization.k8s.io/reason": "RBAC: allowed by ClusterRoleBinding \"system:controller:" + k.resource + "\" of ClusterRole \"system:controller\""}
	if code == 403 {
		e.Annotations = map[string]string{"authorization.k8s.io/decision": "forbid", "authorization.k8s.io/reason": ""}
	}
	e.Annotations[ScopeTypeAnnotation] = tenant.Type
	e.Annotations[ScopeNameAnnotation] = tenant.Name

	// RequestResponse for some writes of non-secret objects: the bodies, as the policy asks.
	if isWrite(verb) && verb != "delete" && k.resource != "secrets" && k.resource != "events" && g.rnd.IntN(3) == 0 {
		e.Level = "RequestResponse"
		e.RequestObject, e.ResponseObject = g.bodies(k, ref, t, code)
	}
	return e
}

func (g *Generator) code(verb string) int {
	r := g.rnd.IntN(1000)
	switch {
	case r < 8:
		return 403
	case verb == "create" && r < 40:
		return 409
	case (verb == "update" || verb == "patch") && r < 45:
		return 409
	case (verb == "get" || verb == "delete" || verb == "patch") && r < 50:
		return 404
	case verb == "create":
		return 201
	}
	return 200
}

// bodies returns the request and response objects of a write: the object's spec as the client sent
// it and the object as stored.
func (g *Generator) bodies(k kind, ref *ObjectReference, t time.Time, code int) (json.RawMessage, json.RawMessage) {
	meta := map[string]any{"name": ref.Name, "namespace": ref.Namespace, "labels": map[string]string{
		"app.kubernetes.io/name": ref.Name[:min(len(ref.Name), 20)], "app.kubernetes.io/part-of": ref.Namespace,
	}}
	var body map[string]any
	switch k.resource {
	case "configmaps":
		body = map[string]any{"data": map[string]string{
			"LOG_LEVEL": []string{"info", "debug", "warn"}[g.rnd.IntN(3)], "FEATURE_FLAGS": fmt.Sprintf("checkout-v%d,search-beta", g.rnd.IntN(9)),
			"config.yaml": fmt.Sprintf("server:\n  port: 8080\n  replicas: %d\ncache:\n  ttl: %ds\n", 1+g.rnd.IntN(5), 30*(1+g.rnd.IntN(10))),
		}}
	case "deployments":
		body = map[string]any{"spec": map[string]any{"replicas": 1 + g.rnd.IntN(6), "selector": map[string]any{"matchLabels": map[string]string{"app": ref.Name}},
			"template": map[string]any{"spec": map[string]any{"containers": []map[string]any{{"name": "app",
				"image":     fmt.Sprintf("registry.example.com/%s/app:1.%d.%d", ref.Namespace, g.rnd.IntN(30), g.rnd.IntN(10)),
				"resources": map[string]any{"requests": map[string]string{"cpu": "250m", "memory": "256Mi"}}}}}}}}
	case "leases":
		body = map[string]any{"spec": map[string]any{"holderIdentity": fmt.Sprintf("%s_%08x", ref.Name, g.rnd.Uint32()&0xff),
			"leaseDurationSeconds": 15, "renewTime": t.Format("2006-01-02T15:04:05.000000Z"), "leaseTransitions": g.rnd.IntN(5)}}
	case "pods":
		body = map[string]any{"status": map[string]any{"phase": "Running", "conditions": []map[string]string{
			{"type": "Ready", "status": "True", "lastTransitionTime": t.Format(time.RFC3339)}}}}
	default:
		body = map[string]any{"spec": map[string]any{"ports": []map[string]any{{"port": 80, "targetPort": 8080, "protocol": "TCP"}}}}
	}
	req := map[string]any{"kind": kindName(k.resource), "apiVersion": apiVersion(k), "metadata": meta}
	maps(req, body)
	reqJS, _ := json.Marshal(req)
	if code >= 400 {
		return reqJS, nil
	}
	stored := map[string]any{"name": ref.Name, "namespace": ref.Namespace, "uid": ref.UID, "resourceVersion": ref.ResourceVersion,
		"generation": 1 + g.rnd.IntN(20), "creationTimestamp": t.Add(-72 * time.Hour).Truncate(24 * time.Hour).Format(time.RFC3339),
		"labels": meta["labels"], "managedFields": []map[string]any{{"manager": "kube-controller-manager", "operation": "Update",
			"apiVersion": apiVersion(k), "time": t.Format(time.RFC3339), "fieldsType": "FieldsV1"}}}
	resp := map[string]any{"kind": kindName(k.resource), "apiVersion": apiVersion(k), "metadata": stored}
	maps(resp, body)
	respJS, _ := json.Marshal(resp)
	return reqJS, respJS
}

func maps(dst, src map[string]any) {
	for k, v := range src {
		dst[k] = v
	}
}

func apiVersion(k kind) string {
	if k.group == "" {
		return k.version
	}
	return k.group + "/" + k.version
}

func kindName(resource string) string {
	switch resource {
	case "pods":
		return "Pod"
	case "configmaps":
		return "ConfigMap"
	case "deployments":
		return "Deployment"
	case "leases":
		return "Lease"
	case "services":
		return "Service"
	case "replicasets":
		return "ReplicaSet"
	case "endpointslices":
		return "EndpointSlice"
	case "serviceaccounts":
		return "ServiceAccount"
	}
	return "Object"
}
