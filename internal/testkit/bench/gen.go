// Package bench measures the audit events table (migrations/00001_events.sql) on a real ClickHouse: a
// deterministic generator of realistic audit.k8s.io/v1 Events, a loader that inserts them in batches
// the way the aggregator does, and the queries the UI and the API run, with their targets (issue 7).
// hack/bench runs it on the test ClickHouse (`make bench`); the tests run it with a small N.
package bench

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"regexp"
	"strings"
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
	{"configmaps", "", "v1", 24, 12, ""},
	{"secrets", "", "v1", 10, 10, ""},
	{"deployments", "apps", "v1", 8, 6, ""},
	{"replicasets", "apps", "v1", 4, 12, ""},
	{"services", "", "v1", 4, 6, ""},
	{"endpointslices", "discovery.k8s.io", "v1", 4, 6, ""},
	{"leases", "coordination.k8s.io", "v1", leaseWeight, 4, ""},
	{"serviceaccounts", "", "v1", 2, 4, ""},
	{"events", "", "v1", 5, 0, ""},
	{"localsubjectaccessreviews", "authorization.k8s.io", "v1", reviewWeight, 0, ""},
}

// The weights of leases, whose holders renew them in a steady stream of updates, and of access reviews
// (created by authorizing proxies): with verbWeights, they set the mix of RequestResponse writes, calibrated
// to the realism targets (RealismTargets).
const (
	leaseWeight  = 3
	reviewWeight = 5
	// bigWriteShare is the share of Pods' and Deployments' picked writes kept as writes (the others
	// become gets).
	bigWriteShare = 0.11
)

// verbs by frequency: reads dominate.
var verbWeights = []struct {
	verb   string
	weight int
}{
	{"get", 42}, {"list", 20}, {"watch", 21}, {"update", 6}, {"patch", 5}, {"create", 4}, {"delete", 2},
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
	switch k.resource {
	case "leases":
		// Renewals: an update every few seconds, and now and then a get.
		verb = "update"
		if g.rnd.IntN(10) < 4 {
			verb = "get"
		}
	case "localsubjectaccessreviews":
		verb = "create"
	case "pods", "deployments":
		// Their writes are rarer than their reads, and mostly patches (a kubelet's status, a rollout's
		// restart): the large bodies make the tail of the sizes, not their bulk.
		if isWrite(verb) && g.rnd.Float64() >= bigWriteShare {
			verb = "get"
		} else if verb == "update" && g.rnd.IntN(10) < 7 {
			verb = "patch"
		}
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
		if k.resource == "localsubjectaccessreviews" {
			name = ""
		} else if k.perTenant == 0 || verb == "create" && k.resource != "pods" && g.rnd.IntN(4) == 0 {
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

	// The recommended policy's levels: Metadata for reads, and for the writes of Secrets (whose bodies
	// must not be kept) and Events (too many, too little said); RequestResponse for the other writes.
	if isWrite(verb) && k.resource != "secrets" && k.resource != "events" {
		e.Level = "RequestResponse"
		e.RequestObject, e.ResponseObject = g.bodies(k, verb, ref, t, code)
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

// The objects kube-apiserver returned for a ConfigMap, a Deployment, a Lease and a Pod
// (test/kind TestRecordBodies): the shapes of the generated bodies of those kinds.
//
//go:embed testdata/bodies/*.json
var recordedBodies embed.FS

// A bodyTemplate is a recorded object as compact JSON cut at the values the generator varies: pieces at
// even indices are literal JSON, at odd indices the byte of a token (tokName...).
type bodyTemplate []string

// The tokens of a bodyTemplate.
const (
	tokName      = "N" // metadata.name
	tokNamespace = "S" // the namespace, wherever it occurs
	tokUID       = "U" // metadata.uid
	tokRV        = "R" // metadata.resourceVersion
	tokTime      = "T" // creationTimestamp and managedFields' times (the recording's second)
	tokHour      = "H" // the date and minute of the status' and spec's times
	tokImage     = "I" // the image's tag
	tokApp       = "A" // the app.kubernetes.io/name label
	tokFlags     = "F" // a ConfigMap's FEATURE_FLAGS value: its size varies
)

// recorded are the templates of the recorded kinds: the object as stored (resp), and as a client
// creates it (req: without status and the fields the server sets).
var recorded = func() map[string][2]bodyTemplate {
	out := map[string][2]bodyTemplate{}
	for resource, file := range map[string]string{"configmaps": "configmap", "deployments": "deployment", "leases": "lease", "pods": "pod"} {
		data, err := recordedBodies.ReadFile("testdata/bodies/" + file + ".json")
		if err != nil {
			panic(err)
		}
		var obj map[string]any
		if err := json.Unmarshal(data, &obj); err != nil {
			panic(fmt.Sprintf("testdata/bodies/%s.json: %v", file, err))
		}
		resp := templateOf(obj)
		meta := obj["metadata"].(map[string]any)
		for _, k := range []string{"managedFields", "uid", "resourceVersion", "creationTimestamp", "generation"} {
			delete(meta, k)
		}
		delete(obj, "status")
		out[resource] = [2]bodyTemplate{templateOf(obj), resp}
	}
	return out
}()

var recordedTime = regexp.MustCompile(`20\d\d-\d\d-\d\dT\d\d:\d\d:\d\dZ`)

// templateOf cuts obj's compact JSON at the recorded values.
func templateOf(obj map[string]any) bodyTemplate {
	js, err := json.Marshal(obj)
	if err != nil {
		panic(err)
	}
	s := string(js)
	meta := obj["metadata"].(map[string]any)
	tok := func(t string) string { return "\x00" + t + "\x00" }
	if uid, ok := meta["uid"].(string); ok {
		s = strings.ReplaceAll(s, `"uid":"`+uid+`"`, `"uid":"`+tok(tokUID)+`"`)
	}
	if rv, ok := meta["resourceVersion"].(string); ok {
		s = strings.ReplaceAll(s, `"resourceVersion":"`+rv+`"`, `"resourceVersion":"`+tok(tokRV)+`"`)
	}
	name, ns := meta["name"].(string), meta["namespace"].(string)
	s = strings.ReplaceAll(s, `"name":"`+name+`","namespace":"`, `"name":"`+tok(tokName)+`","namespace":"`)
	s = strings.ReplaceAll(s, `\"name\":\"`+name+`\",\"namespace\":\"`, `\"name\":\"`+tok(tokName)+`\",\"namespace\":\"`)
	s = strings.ReplaceAll(s, ns, tok(tokNamespace))
	s = strings.ReplaceAll(s, `app.kubernetes.io/name":"web"`, `app.kubernetes.io/name":"`+tok(tokApp)+`"`)
	s = strings.ReplaceAll(s, `app.kubernetes.io/name\":\"web\"`, `app.kubernetes.io/name\":\"`+tok(tokApp)+`\"`)
	s = strings.ReplaceAll(s, "2026-10-01T10:00", tok(tokHour))
	s = recordedTime.ReplaceAllString(s, tok(tokTime))
	s = strings.ReplaceAll(s, "web:1.14.2", "web:"+tok(tokImage))
	s = strings.ReplaceAll(s, "checkout-v2,search-beta", tok(tokFlags))
	return strings.Split(s, "\x00")
}

// fill writes t with the values of vals (by token).
func (t bodyTemplate) fill(vals map[string]string) json.RawMessage {
	n := 0
	for i, p := range t {
		if i%2 == 0 {
			n += len(p)
		} else {
			n += len(vals[p])
		}
	}
	b := make([]byte, 0, n)
	for i, p := range t {
		if i%2 == 0 {
			b = append(b, p...)
		} else {
			b = append(b, vals[p]...)
		}
	}
	return b
}

// featureFlags are the words of a generated ConfigMap's FEATURE_FLAGS.
var featureFlags = []string{"checkout-v2", "search-beta", "new-cart", "fast-refunds", "dark-mode", "ledger-sync", "geo-routing", "ab-pricing"}

// flags is a FEATURE_FLAGS value whose length is spread like real ConfigMaps' data: mostly a few
// flags, a tail of large ones (a config file's worth).
func (g *Generator) flags() string {
	n := 2 + int(math.Exp(g.rnd.NormFloat64()*configMapSpread+configMapMedian))
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(featureFlags[(i*7+n)%len(featureFlags)])
		if i >= len(featureFlags) {
			fmt.Fprintf(&b, "-%d", i)
		}
	}
	return b.String()
}

// The spread of generated ConfigMaps' sizes: FEATURE_FLAGS holds about e^(median ± spread·N(0,1))
// flags (calibrated to the realism targets, RealismTargets).
const (
	configMapMedian = 1.0
	configMapSpread = 1.0
)

// bodies returns the request and response objects of a write at RequestResponse: the recorded shapes
// for ConfigMaps, Deployments, Leases and Pods, small hand-made ones for the other kinds, and a
// Status for a failed request.
func (g *Generator) bodies(k kind, verb string, ref *ObjectReference, t time.Time, code int) (json.RawMessage, json.RawMessage) {
	if k.resource == "localsubjectaccessreviews" {
		return g.review(ref, t)
	}
	var req, resp json.RawMessage
	if tpl, ok := recorded[k.resource]; ok {
		i := 0
		for _, c := range ref.Name {
			i += int(c)
		}
		vals := map[string]string{
			tokName: ref.Name, tokNamespace: ref.Namespace, tokUID: ref.UID, tokRV: ref.ResourceVersion,
			tokTime: t.Format(time.RFC3339), tokHour: t.Add(-time.Duration(g.rnd.IntN(72*60)) * time.Minute).Format("2006-01-02T15:04"),
			tokImage: fmt.Sprintf("1.%d.%d", i%30, g.rnd.IntN(10)), tokApp: app(ref.Namespace) + "-app-" + fmt.Sprint(i%3),
			tokFlags: g.flags(),
		}
		resp = tpl[1].fill(vals)
		switch verb {
		case "create":
			req = tpl[0].fill(vals)
		case "update":
			req = resp
		case "patch":
			req = g.patch(k, ref, t)
		case "delete":
			req = json.RawMessage(`{"kind":"DeleteOptions","apiVersion":"meta.k8s.io/v1","propagationPolicy":"Background"}`)
		}
	} else {
		req, resp = g.smallBodies(k, ref, t)
		if verb == "delete" {
			req = json.RawMessage(`{"kind":"DeleteOptions","apiVersion":"meta.k8s.io/v1","propagationPolicy":"Background"}`)
		}
	}
	if code >= 400 {
		st, _ := json.Marshal(map[string]any{"kind": "Status", "apiVersion": "v1", "metadata": map[string]any{}, "status": "Failure",
			"message": fmt.Sprintf("%s %q: %s", k.resource, ref.Name, http.StatusText(code)), "reason": strings.ReplaceAll(http.StatusText(code), " ", ""),
			"details": map[string]any{"name": ref.Name, "group": k.group, "kind": k.resource}, "code": code})
		return req, st
	}
	return req, resp
}

// patch is the body of a patch: a strategic merge patch of a Pod's status as a kubelet sends it, or of
// labels and an annotation.
func (g *Generator) patch(k kind, ref *ObjectReference, t time.Time) json.RawMessage {
	if ref.Subresource == "status" {
		at := t.Format(time.RFC3339)
		return json.RawMessage(fmt.Sprintf(`{"metadata":{"uid":"%s"},"status":{"$setElementOrder/conditions":[{"type":"PodReadyToStartContainers"},{"type":"Initialized"},{"type":"Ready"},{"type":"ContainersReady"},{"type":"PodScheduled"}],"conditions":[{"lastTransitionTime":"%s","status":"True","type":"Ready"},{"lastTransitionTime":"%s","status":"True","type":"ContainersReady"}],"containerStatuses":[{"containerID":"containerd://%016x%016x","image":"registry.example.com/shop/web:1.%d.0","imageID":"registry.example.com/shop/web@sha256:%016x%016x%016x%016x","lastState":{},"name":"web","ready":true,"restartCount":%d,"started":true,"state":{"running":{"startedAt":"%s"}}}]}}`,
			ref.UID, at, at, g.rnd.Uint64(), g.rnd.Uint64(), g.rnd.IntN(30), g.rnd.Uint64(), g.rnd.Uint64(), g.rnd.Uint64(), g.rnd.Uint64(), g.rnd.IntN(3), at))
	}
	return json.RawMessage(fmt.Sprintf(`{"metadata":{"annotations":{"kubectl.kubernetes.io/restartedAt":"%s"},"labels":{"app.kubernetes.io/version":"1.%d.%d"}}}`,
		t.Format(time.RFC3339), g.rnd.IntN(30), g.rnd.IntN(10)))
}

// review is a LocalSubjectAccessReview of a tenant's app (as an authorizing proxy asks it) and its answer.
func (g *Generator) review(ref *ObjectReference, t time.Time) (json.RawMessage, json.RawMessage) {
	sa := fmt.Sprintf("system:serviceaccount:%s:%s-app-%d", ref.Namespace, app(ref.Namespace), g.rnd.IntN(3))
	verb := []string{"get", "list", "create"}[g.rnd.IntN(3)]
	spec := fmt.Sprintf(`"spec":{"resourceAttributes":{"namespace":"%s","verb":"%s","group":"metrics.k8s.io","resource":"pods"},"user":"%s"}`,
		ref.Namespace, verb, sa)
	req := `{"kind":"LocalSubjectAccessReview","apiVersion":"authorization.k8s.io/v1","metadata":{"namespace":"` + ref.Namespace + `"},` + spec + `}`
	resp := `{"kind":"LocalSubjectAccessReview","apiVersion":"authorization.k8s.io/v1","metadata":{"namespace":"` + ref.Namespace +
		`","creationTimestamp":null},` + spec + `,"status":{"allowed":true}}`
	return json.RawMessage(req), json.RawMessage(resp)
}

// smallBodies are the bodies of the kinds without a recorded shape: the object's spec as the client
// sent it and the object as stored.
func (g *Generator) smallBodies(k kind, ref *ObjectReference, t time.Time) (json.RawMessage, json.RawMessage) {
	meta := map[string]any{"name": ref.Name, "namespace": ref.Namespace, "labels": map[string]string{
		"app.kubernetes.io/name": ref.Name[:min(len(ref.Name), 20)], "app.kubernetes.io/part-of": ref.Namespace,
	}}
	body := map[string]any{"spec": map[string]any{"ports": []map[string]any{{"port": 80, "targetPort": 8080, "protocol": "TCP"}}}}
	req := map[string]any{"kind": kindName(k.resource), "apiVersion": apiVersion(k), "metadata": meta}
	maps(req, body)
	reqJS, _ := json.Marshal(req)
	stored := map[string]any{"name": ref.Name, "namespace": ref.Namespace, "uid": ref.UID, "resourceVersion": ref.ResourceVersion,
		"generation": 1 + g.rnd.IntN(20), "creationTimestamp": t.Add(-72 * time.Hour).Truncate(24 * time.Hour).Format(time.RFC3339),
		"labels": meta["labels"], "managedFields": []map[string]any{{"manager": "kube-controller-manager", "operation": "Update",
			"apiVersion": apiVersion(k), "time": t.Format(time.RFC3339), "fieldsType": "FieldsV1",
			"fieldsV1": map[string]any{"f:spec": map[string]any{"f:ports": map[string]any{".": map[string]any{}}}}}}}
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
