package kind

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	"github.com/auditpipeline/auditpipeline-operator/internal/testkit/testenv"
)

// kindCluster is the part of hack/kind/cluster.yaml these tests read.
type kindCluster struct {
	Networking struct {
		ServiceSubnet string `json:"serviceSubnet"`
	} `json:"networking"`
	Nodes []struct {
		Role        string `json:"role"`
		ExtraMounts []struct {
			HostPath      string `json:"hostPath"`
			ContainerPath string `json:"containerPath"`
		} `json:"extraMounts"`
		KubeadmConfigPatches []string `json:"kubeadmConfigPatches"`
	} `json:"nodes"`
}

// clusterConfiguration is the part of the kubeadm ClusterConfiguration patch these tests read.
type clusterConfiguration struct {
	Kind      string `json:"kind"`
	APIServer struct {
		ExtraArgs    map[string]string `json:"extraArgs"`
		ExtraVolumes []struct {
			HostPath  string `json:"hostPath"`
			MountPath string `json:"mountPath"`
		} `json:"extraVolumes"`
	} `json:"apiServer"`
}

// auditEvent is the part of an audit.k8s.io/v1 Event these tests read.
type auditEvent struct {
	Stage string `json:"stage"`
	// StageTimestamp is kept as the API server wrote it: the agent's message id holds it as text.
	StageTimestamp string `json:"stageTimestamp"`
	Level          string `json:"level"`
	Verb           string `json:"verb"`
	AuditID        string `json:"auditID"`
	ObjectRef      *struct {
		Resource  string `json:"resource"`
		Namespace string `json:"namespace"`
		Name      string `json:"name"`
	} `json:"objectRef"`
	UserAgent      string            `json:"userAgent"`
	SourceIPs      []string          `json:"sourceIPs"`
	RequestObject  json.RawMessage   `json:"requestObject"`
	ResponseObject json.RawMessage   `json:"responseObject"`
	Annotations    map[string]string `json:"annotations"`
}

// kindSetup reads hack/kind/cluster.yaml: the control-plane node's mount of hack/kind/audit and the
// kube-apiserver flags and volume of its kubeadm patch, and checks that they fit together.
func kindSetup(t *testing.T, root string) (kindCluster, clusterConfiguration) {
	t.Helper()
	var cluster kindCluster
	readYAML(t, filepath.Join(root, "hack", "kind", "cluster.yaml"), &cluster)
	if len(cluster.Nodes) != 1 || cluster.Nodes[0].Role != "control-plane" || len(cluster.Nodes[0].ExtraMounts) != 1 ||
		len(cluster.Nodes[0].KubeadmConfigPatches) != 1 {
		t.Fatalf("want one control-plane node with one mount and one kubeadm patch: %+v", cluster.Nodes)
	}
	var cc clusterConfiguration
	if err := yaml.Unmarshal([]byte(cluster.Nodes[0].KubeadmConfigPatches[0]), &cc); err != nil {
		t.Fatalf("kubeadm patch: %v", err)
	}
	mount := cluster.Nodes[0].ExtraMounts[0]
	if cc.Kind != "ClusterConfiguration" || len(cc.APIServer.ExtraVolumes) != 1 ||
		cc.APIServer.ExtraVolumes[0].HostPath != mount.ContainerPath || mount.HostPath != "hack/kind/audit" {
		t.Fatalf("the node mounts %+v, the API server pod %+v: they must meet at one path", mount, cc.APIServer.ExtraVolumes)
	}
	return cluster, cc
}

func readYAML(t *testing.T, path string, into any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, into); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// TestWebhookAddressIsAStaticClusterIP checks that the webhook file points at a cluster IP that e2e.sh can
// give a Service: inside the service range, in its lower band that Kubernetes leaves to static assignment
// (so no Service created earlier can hold it), and the same IP e2e.sh uses.
func TestWebhookAddressIsAStaticClusterIP(t *testing.T) {
	root := repoRoot(t)
	cluster, _ := kindSetup(t, root)
	server := webhookServer(t, root)
	u, port, ok := strings.Cut(strings.TrimPrefix(server, "http://"), ":")
	ip := net.ParseIP(u)
	_, subnet, err := net.ParseCIDR(cluster.Networking.ServiceSubnet)
	if !ok || ip == nil || err != nil || !strings.HasPrefix(port, "8080/") {
		t.Fatalf("webhook server %q, serviceSubnet %q (%v): want http://<IP>:8080/...", server, cluster.Networking.ServiceSubnet, err)
	}
	ones, bits := subnet.Mask.Size()
	// The static band of a range of n addresses is min(max(16, n/16), 256) addresses from its start.
	size := 1 << (bits - ones)
	band := min(max(16, size/16), 256)
	if ip.To4() == nil || !subnet.Contains(ip) {
		t.Fatalf("%s is not an IPv4 address in %s", ip, subnet)
	}
	offset := int(binary.BigEndian.Uint32(ip.To4())) - int(binary.BigEndian.Uint32(subnet.IP.To4()))
	if offset < 11 || offset >= band {
		t.Errorf("%s is not in the static band of %s (addresses 11 to %d; 10 is kube-dns)", ip, subnet, band-1)
	}
	script, err := os.ReadFile(filepath.Join(root, "hack", "kind", "e2e.sh"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(script), "hack/kind/audit/webhook.yaml") {
		t.Error("e2e.sh does not read the webhook address from hack/kind/audit/webhook.yaml")
	}
}

// webhookServer is the server URL of hack/kind/audit/webhook.yaml.
func webhookServer(t *testing.T, root string) string {
	t.Helper()
	var kubeconfig struct {
		Clusters []struct {
			Cluster struct {
				Server string `json:"server"`
			} `json:"cluster"`
		} `json:"clusters"`
	}
	readYAML(t, filepath.Join(root, "hack", "kind", "audit", "webhook.yaml"), &kubeconfig)
	if len(kubeconfig.Clusters) != 1 {
		t.Fatalf("webhook.yaml: want one cluster, got %d", len(kubeconfig.Clusters))
	}
	return kubeconfig.Clusters[0].Cluster.Server
}

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// TestKubeAPIServerSendsAuditEvents starts kube-apiserver with exactly the audit flags of the kind cluster,
// its policy file, and its webhook file pointed at a local server instead of the cluster IP, then creates and
// deletes a ConfigMap and waits for both events: posted as EventList batches, ResponseComplete only, at the
// Metadata level the policy gives ConfigMaps (no content), and no events for leases.
func TestKubeAPIServerSendsAuditEvents(t *testing.T) {
	t.Parallel()
	hook := &webhook{}
	k8s, _ := startAuditedAPIServer(t, hook, nil)
	ctx := context.Background()
	name := fmt.Sprintf("kind-audit-probe-%d", time.Now().UnixNano())
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}, Data: map[string]string{"k": "secret-ish"}}
	if err := k8s.Create(ctx, cm); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Delete(ctx, cm); err != nil {
		t.Fatal(err)
	}

	deadline := time.Now().Add(30 * time.Second)
	for {
		found := map[string]auditEvent{}
		for _, e := range hook.received() {
			if e.ObjectRef != nil && e.ObjectRef.Resource == "configmaps" && e.ObjectRef.Name == name {
				found[e.Verb] = e
			}
		}
		if len(found) == 2 || time.Now().After(deadline) {
			for _, verb := range []string{"create", "delete"} {
				e, ok := found[verb]
				switch {
				case !ok:
					t.Errorf("no %s event for ConfigMap %s after 30s (%d events received)", verb, name, len(hook.received()))
				case e.Stage != "ResponseComplete" || e.Level != "Metadata" || len(e.RequestObject) > 0 || e.AuditID == "":
					t.Errorf("%s event: stage %s, level %s, request body %d bytes: want ResponseComplete at Metadata without body",
						verb, e.Stage, e.Level, len(e.RequestObject))
				}
			}
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	for _, e := range hook.received() {
		if e.Stage == "RequestReceived" || (e.ObjectRef != nil && e.ObjectRef.Resource == "leases") {
			t.Errorf("the policy should drop this event: %s %s %+v", e.Stage, e.Verb, e.ObjectRef)
		}
	}
	if hook.badRequests() > 0 {
		t.Errorf("%d posts were not EventList batches", hook.badRequests())
	}
}

// startAuditedAPIServer starts kube-apiserver with the audit flags of the kind cluster
// (hack/kind/cluster.yaml), its policy file, and its webhook file pointed at hook, served locally, instead
// of the cluster IP. overrides replace some flags or add others; with hook nil, they must name the
// webhook file. It returns a cluster-admin client and config; the server stops with the test.
func startAuditedAPIServer(t *testing.T, hook http.Handler, overrides map[string]string) (client.Client, *rest.Config) {
	t.Helper()
	root := repoRoot(t)
	_, cc := kindSetup(t, root)
	auditDir := filepath.Join(root, "hack", "kind", "audit")
	mountPath := cc.APIServer.ExtraVolumes[0].MountPath
	webhookFile := filepath.Join(t.TempDir(), "webhook.yaml")
	if hook != nil {
		srv := httptest.NewServer(hook)
		t.Cleanup(srv.Close)
		data, err := os.ReadFile(filepath.Join(auditDir, "webhook.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		server := webhookServer(t, root)
		if err := os.WriteFile(webhookFile, []byte(strings.Replace(string(data), server, srv.URL+"/events", 1)), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	dir, err := assets()
	if err != nil {
		t.Fatal(err)
	}
	env := &envtest.Environment{BinaryAssetsDirectory: dir}
	args := env.ControlPlane.GetAPIServer().Configure()
	for flag, value := range cc.APIServer.ExtraArgs {
		if strings.HasPrefix(value, mountPath+"/") {
			value = filepath.Join(auditDir, strings.TrimPrefix(value, mountPath+"/"))
			if flag == "audit-webhook-config-file" {
				if hook == nil {
					if overrides[flag] == "" {
						t.Fatalf("without a hook, the overrides must name --%s", flag)
					}
					continue
				}
				value = webhookFile
			}
			if _, err := os.Stat(value); err != nil {
				t.Fatalf("--%s names a file hack/kind/audit lacks: %v", flag, err)
			}
		}
		args.Set(flag, value)
	}
	for flag, value := range overrides {
		args.Set(flag, value)
	}
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("kube-apiserver refuses the kind cluster's audit flags: %v", err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Error(err)
		}
	})
	k8s, err := client.New(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return k8s, cfg
}

// assets is the directory of the control-plane binaries: $KUBEBUILDER_ASSETS, else what
// hack/envtest/install.sh builds or finds, once for all the tests (which run in parallel).
var assets = sync.OnceValues(func() (string, error) {
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
		return dir, nil
	}
	root, err := testenv.RepoRoot()
	if err != nil {
		return "", err
	}
	return testenv.RunScript(root, "hack/envtest/install.sh")
})

// webhook records the audit events kube-apiserver posts to /events. answer, when set, picks the status
// code of each well-formed post from its events (200 otherwise); only the events of posts answered 200 are
// received, and every post is recorded.
type webhook struct {
	mu     sync.Mutex
	answer func([]auditEvent) int
	events []auditEvent
	posts  []webhookPost
	bad    int
}

// webhookPost is one well-formed post: its body, its events and the status code it was answered with.
type webhookPost struct {
	body   []byte
	events []auditEvent
	status int
}

func (h *webhook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var list struct {
		Kind       string       `json:"kind"`
		APIVersion string       `json:"apiVersion"`
		Items      []auditEvent `json:"items"`
	}
	body, err := io.ReadAll(r.Body)
	if err == nil {
		err = json.Unmarshal(body, &list)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if err != nil || r.URL.Path != "/events" || r.Method != http.MethodPost || list.Kind != "EventList" ||
		list.APIVersion != "audit.k8s.io/v1" {
		h.bad++
		http.Error(w, "not an audit.k8s.io/v1 EventList on POST /events", http.StatusBadRequest)
		return
	}
	status := http.StatusOK
	if h.answer != nil {
		status = h.answer(list.Items)
	}
	h.posts = append(h.posts, webhookPost{body: body, events: list.Items, status: status})
	if status != http.StatusOK {
		http.Error(w, "refused by the test", status)
		return
	}
	h.events = append(h.events, list.Items...)
}

// setAnswer replaces the answer function.
func (h *webhook) setAnswer(answer func([]auditEvent) int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.answer = answer
}

func (h *webhook) received() []auditEvent {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]auditEvent(nil), h.events...)
}

// postsWith are the posts holding an event that match picks, in the order they came.
func (h *webhook) postsWith(match func(auditEvent) bool) []webhookPost {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []webhookPost
	for _, p := range h.posts {
		if slices.ContainsFunc(p.events, match) {
			out = append(out, p)
		}
	}
	return out
}

func (h *webhook) badRequests() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.bad
}
