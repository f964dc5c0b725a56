package kind

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// recordedBodiesDir is where TestRecordBodies writes the objects it records when RECORD_BODIES is set
// (relative to the repository root): the bench's generator (internal/testkit/bench) shapes its
// requestObjects and responseObjects on them.
const recordedBodiesDir = "internal/testkit/bench/testdata/bodies"

// lastApplied is the annotation kubectl's client-side apply keeps the applied manifest in.
const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// TestRecordBodies records the objects a real kube-apiserver returns for the writes the bench generates
// most, as an audit event's responseObject holds them, managedFields included: a ConfigMap and a
// Deployment created the way kubectl's client-side apply creates them (the last-applied annotation,
// field manager kubectl-client-side-apply), then updated, the Deployment's status written as the
// deployment controller writes it; a leader-election Lease created and renewed; a Pod created as the
// ReplicaSet controller creates it, bound to a node and given the status a kubelet writes (envtest has
// neither scheduler nor kubelet). With RECORD_BODIES set it writes each object, indented, to
// internal/testkit/bench/testdata/bodies/<kind>.json:
//
//	RECORD_BODIES=1 go test ./test/kind/ -count=1 -run TestRecordBodies
//
// Without it, it checks that every key of the recorded objects (every path of object keys, list
// elements merged) is still in what the server returns, so the bench's shapes stay those of the pinned
// kube-apiserver.
func TestRecordBodies(t *testing.T) {
	t.Parallel()
	_, cfg := startAuditedAPIServer(t, &webhook{}, nil)
	cs := kubernetes.NewForConfigOrDie(rest.CopyConfig(cfg))
	ctx := context.Background()
	const ns = "team-a"

	// send makes one request with a JSON body and returns the object the server answers with.
	send := func(rc rest.Interface, method, resource, name, sub, manager string, body any) map[string]any {
		t.Helper()
		js, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		req := rc.Verb(method).Resource(resource).Body(js).SetHeader("Content-Type", "application/json")
		if resource != "namespaces" {
			req = req.Namespace(ns)
		}
		if name != "" {
			req = req.Name(name)
		}
		if sub != "" {
			req = req.SubResource(sub)
		}
		if manager != "" {
			req = req.Param("fieldManager", manager)
		}
		out, err := req.DoRaw(ctx)
		if err != nil {
			t.Fatalf("%s %s %s/%s: %v: %s", method, resource, name, sub, err, out)
		}
		var obj map[string]any
		if err := json.Unmarshal(out, &obj); err != nil {
			t.Fatal(err)
		}
		return obj
	}
	core, apps, coord := cs.CoreV1().RESTClient(), cs.AppsV1().RESTClient(), cs.CoordinationV1().RESTClient()
	send(core, "POST", "namespaces", "", "", "", map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns}})

	// applied returns manifest with kubectl's last-applied annotation: the manifest itself, compact.
	applied := func(manifest map[string]any) map[string]any {
		js, err := json.Marshal(manifest)
		if err != nil {
			t.Fatal(err)
		}
		meta := manifest["metadata"].(map[string]any)
		meta["annotations"] = map[string]any{lastApplied: string(js) + "\n"}
		return manifest
	}
	recorded := map[string]map[string]any{}

	// The ConfigMap: applied, then applied again with one more key (kubectl apply's update sends the whole
	// object back, with the new last-applied annotation).
	cmManifest := func(extra map[string]any) map[string]any {
		data := map[string]any{
			"LOG_LEVEL": "info", "FEATURE_FLAGS": "checkout-v2,search-beta",
			"config.yaml": "server:\n  port: 8080\n  readTimeout: 15s\n  writeTimeout: 15s\ncache:\n  ttl: 300s\n  size: 10000\n" +
				"upstreams:\n  - name: catalog\n    url: http://catalog.team-a.svc.cluster.local:8080\n  - name: payments\n    url: http://payments.team-a.svc.cluster.local:8080\n",
		}
		for k, v := range extra {
			data[k] = v
		}
		return map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "web-config", "namespace": ns,
			"labels": map[string]any{"app.kubernetes.io/name": "web", "app.kubernetes.io/part-of": "shop"}}, "data": data}
	}
	cm := send(core, "POST", "configmaps", "", "", "kubectl-client-side-apply", applied(cmManifest(nil)))
	next := applied(cmManifest(map[string]any{"GREETING": "hello"}))
	cm["metadata"].(map[string]any)["annotations"] = next["metadata"].(map[string]any)["annotations"]
	cm["data"] = next["data"]
	recorded["configmap"] = send(core, "PUT", "configmaps", "web-config", "", "kubectl-client-side-apply", cm)

	// The Deployment: applied, then its status as the deployment controller writes it.
	labels := map[string]any{"app.kubernetes.io/name": "web", "app.kubernetes.io/part-of": "shop"}
	dep := send(apps, "POST", "deployments", "", "", "kubectl-client-side-apply", applied(map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": "web", "namespace": ns, "labels": labels},
		"spec": map[string]any{"replicas": 3, "selector": map[string]any{"matchLabels": labels},
			"template": map[string]any{"metadata": map[string]any{"labels": labels}, "spec": map[string]any{
				"serviceAccountName": "web",
				"containers": []any{map[string]any{"name": "web", "image": "registry.example.com/shop/web:1.14.2",
					"ports": []any{map[string]any{"name": "http", "containerPort": 8080}},
					"env":   []any{map[string]any{"name": "LOG_LEVEL", "valueFrom": map[string]any{"configMapKeyRef": map[string]any{"name": "web-config", "key": "LOG_LEVEL"}}}},
					"resources": map[string]any{"requests": map[string]any{"cpu": "250m", "memory": "256Mi"},
						"limits": map[string]any{"memory": "512Mi"}},
					"readinessProbe": map[string]any{"httpGet": map[string]any{"path": "/healthz", "port": "http"}, "periodSeconds": 10}}}}}}}))
	dep["status"] = map[string]any{"observedGeneration": 1, "replicas": 3, "updatedReplicas": 3, "readyReplicas": 3, "availableReplicas": 3,
		"conditions": []any{
			map[string]any{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable", "message": "Deployment has minimum availability.",
				"lastUpdateTime": "2026-10-01T10:00:05Z", "lastTransitionTime": "2026-10-01T10:00:05Z"},
			map[string]any{"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable",
				"message": "ReplicaSet \"web-7d9f8b6c5\" has successfully progressed.", "lastUpdateTime": "2026-10-01T10:00:05Z", "lastTransitionTime": "2026-10-01T10:00:00Z"}}}
	recorded["deployment"] = send(apps, "PUT", "deployments", "web", "status", "kube-controller-manager", dep)

	// The Lease: taken, then renewed by its holder.
	lease := send(coord, "POST", "leases", "", "", "web", map[string]any{"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
		"metadata": map[string]any{"name": "web-leader", "namespace": ns},
		"spec": map[string]any{"holderIdentity": "web-7d9f8b6c5-x2k4q_6f1d2c3b-8e4a-4b7c-9d0e-1f2a3b4c5d6e", "leaseDurationSeconds": 15,
			"acquireTime": "2026-10-01T10:00:00.000000Z", "renewTime": "2026-10-01T10:00:00.000000Z", "leaseTransitions": 2}})
	lease["spec"].(map[string]any)["renewTime"] = "2026-10-01T10:00:10.000000Z"
	recorded["lease"] = send(coord, "PUT", "leases", "web-leader", "", "web", lease)

	// The Pod: created by the ReplicaSet controller, bound, and given a kubelet's status.
	rsUID := "5b0f3c1e-2d4a-4e6b-8c7d-9e0f1a2b3c4d"
	podLabels := map[string]any{"app.kubernetes.io/name": "web", "app.kubernetes.io/part-of": "shop", "pod-template-hash": "7d9f8b6c5"}
	pod := send(core, "POST", "pods", "", "", "kube-controller-manager", map[string]any{"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{"name": "web-7d9f8b6c5-x2k4q", "generateName": "web-7d9f8b6c5-", "namespace": ns, "labels": podLabels,
			"ownerReferences": []any{map[string]any{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7d9f8b6c5", "uid": rsUID,
				"controller": true, "blockOwnerDeletion": true}}},
		"spec": map[string]any{
			"containers": []any{map[string]any{"name": "web", "image": "registry.example.com/shop/web:1.14.2",
				"ports":          []any{map[string]any{"name": "http", "containerPort": 8080, "protocol": "TCP"}},
				"env":            []any{map[string]any{"name": "LOG_LEVEL", "valueFrom": map[string]any{"configMapKeyRef": map[string]any{"name": "web-config", "key": "LOG_LEVEL"}}}},
				"resources":      map[string]any{"requests": map[string]any{"cpu": "250m", "memory": "256Mi"}, "limits": map[string]any{"memory": "512Mi"}},
				"readinessProbe": map[string]any{"httpGet": map[string]any{"path": "/healthz", "port": "http"}, "periodSeconds": 10}}}}})
	send(core, "POST", "pods", "web-7d9f8b6c5-x2k4q", "binding", "", map[string]any{"apiVersion": "v1", "kind": "Binding",
		"metadata": map[string]any{"name": "web-7d9f8b6c5-x2k4q", "namespace": ns},
		"target":   map[string]any{"apiVersion": "v1", "kind": "Node", "name": "ip-10-0-1-23.ec2.internal"}})
	pod = send(core, "GET", "pods", "web-7d9f8b6c5-x2k4q", "", "", nil)
	cond := func(typ, at string) map[string]any {
		return map[string]any{"type": typ, "status": "True", "lastProbeTime": nil, "lastTransitionTime": at}
	}
	pod["status"] = map[string]any{"phase": "Running", "hostIP": "10.0.1.23", "hostIPs": []any{map[string]any{"ip": "10.0.1.23"}},
		"podIP": "10.244.3.17", "podIPs": []any{map[string]any{"ip": "10.244.3.17"}}, "startTime": "2026-10-01T10:00:01Z", "qosClass": "Burstable",
		"conditions": []any{cond("PodReadyToStartContainers", "2026-10-01T10:00:03Z"), cond("Initialized", "2026-10-01T10:00:01Z"),
			cond("Ready", "2026-10-01T10:00:12Z"), cond("ContainersReady", "2026-10-01T10:00:12Z"), cond("PodScheduled", "2026-10-01T10:00:01Z")},
		"containerStatuses": []any{map[string]any{"name": "web", "ready": true, "started": true, "restartCount": 0,
			"image": "registry.example.com/shop/web:1.14.2", "imageID": "registry.example.com/shop/web@sha256:" + strings.Repeat("3f9a1c7e", 8),
			"containerID": "containerd://" + strings.Repeat("b7e4d2a9", 8),
			"state":       map[string]any{"running": map[string]any{"startedAt": "2026-10-01T10:00:03Z"}}, "lastState": map[string]any{}}}}
	recorded["pod"] = send(core, "PUT", "pods", "web-7d9f8b6c5-x2k4q", "status", "kubelet", pod)

	dir := filepath.Join(repoRoot(t), recordedBodiesDir)
	names := make([]string, 0, len(recorded))
	for name := range recorded {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		obj := recorded[name]
		path := filepath.Join(dir, name+".json")
		if os.Getenv("RECORD_BODIES") != "" {
			js, err := json.MarshalIndent(obj, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, append(js, '\n'), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (record the bodies with RECORD_BODIES=1)", err)
		}
		var want any
		if err := json.NewDecoder(bytes.NewReader(data)).Decode(&want); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		got := keyPaths(obj, "", map[string]bool{})
		for p := range keyPaths(want, "", map[string]bool{}) {
			if !got[p] {
				t.Errorf("%s: the server's %s lacks %s, which the recorded one has: record the bodies again (RECORD_BODIES=1)", path, name, p)
			}
		}
		if m := obj["metadata"].(map[string]any); m["managedFields"] == nil {
			t.Errorf("the server's %s has no managedFields", name)
		}
	}
}

// keyPaths adds to into the paths of object keys in v, list elements merged ("[]").
func keyPaths(v any, prefix string, into map[string]bool) map[string]bool {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			p := prefix + "." + k
			into[p] = true
			keyPaths(x, p, into)
		}
	case []any:
		for _, x := range v {
			keyPaths(x, prefix+"[]", into)
		}
	}
	return into
}
