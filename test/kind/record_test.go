package kind

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// recordedEventsFile is where TestRecordEvents writes the events it records when RECORD_EVENTS is set
// (relative to the repository root): the query tests of the kubectl plugin read them, and
// hack/sample-events loads them into the ClickHouse of `make run`.
const recordedEventsFile = "internal/query/testdata/recorded-events.jsonl"

// recorderAgent is the User-Agent of the recording's clients: the recording keeps the events of its own
// requests only, not those of the API server's bootstrap.
const recorderAgent = "auditpipeline-recorder/v1 (test/kind TestRecordEvents)"

// recordedSecretValue is the value of the recording's Secret: no recorded event may hold it.
const recordedSecretValue = "hunter2-recorded-secret-value"

// recordedEvent is the part of an audit event the recording's checks read.
type recordedEvent struct {
	Level          string `json:"level"`
	Stage          string `json:"stage"`
	Verb           string `json:"verb"`
	StageTimestamp string `json:"stageTimestamp"`
	UserAgent      string `json:"userAgent"`
	User           struct {
		Username string `json:"username"`
	} `json:"user"`
	ImpersonatedUser *struct {
		Username string   `json:"username"`
		Groups   []string `json:"groups"`
	} `json:"impersonatedUser"`
	ObjectRef *struct {
		Resource    string `json:"resource"`
		Subresource string `json:"subresource"`
		Namespace   string `json:"namespace"`
		Name        string `json:"name"`
	} `json:"objectRef"`
	ResponseStatus struct {
		Code int `json:"code"`
	} `json:"responseStatus"`
	RequestObject  json.RawMessage `json:"requestObject"`
	ResponseObject json.RawMessage `json:"responseObject"`
}

// recordedOp is one request of the recording: what its ResponseComplete event must say.
type recordedOp struct {
	// resource is resource/subresource for a subresource.
	verb, resource, namespace, name string
	// user is the user the request acts as, impersonated (mallory) or not, "" for the admin itself.
	user string
	code int
}

func (o recordedOp) String() string {
	who := "admin"
	if o.user != "" {
		who = o.user
	}
	return fmt.Sprintf("%s %s %s/%s by %s: %d", o.verb, o.resource, o.namespace, o.name, who, o.code)
}

// matches tells whether e is the event of o.
func (o recordedOp) matches(e recordedEvent) bool {
	user := e.User.Username
	if e.ImpersonatedUser != nil {
		user = e.ImpersonatedUser.Username
	}
	if user == "admin" {
		user = ""
	}
	if e.ObjectRef == nil {
		return false
	}
	resource := e.ObjectRef.Resource
	if e.ObjectRef.Subresource != "" {
		resource += "/" + e.ObjectRef.Subresource
	}
	return e.Verb == o.verb && resource == o.resource &&
		e.ObjectRef.Namespace == o.namespace && e.ObjectRef.Name == o.name && user == o.user &&
		e.ResponseStatus.Code == o.code
}

// level is the level the recording's policy (testdata/record-policy.yaml) gives o's event.
func (o recordedOp) level() string {
	if (o.resource == "configmaps" || o.resource == "deployments") && slices.Contains([]string{"create", "update", "patch", "delete"}, o.verb) {
		return "RequestResponse"
	}
	return "Metadata"
}

// TestRecordEvents records the audit events of a real kube-apiserver, for the query tests of the kubectl
// plugin and for `make sample-events`: under a policy of its own (testdata/record-policy.yaml: bodies for
// the changes of ConfigMaps and Deployments, Metadata for the rest, Secrets included), a cluster admin
// creates namespaces team-a and team-b and a Secret, creates, updates (twice), patches and deletes
// ConfigMap team-a/web-config, creates, updates, patches and deletes Deployment team-a/web, and reads
// some of them (a 404 and a 409 among them); mallory, impersonated by the admin, is refused (403)
// reading, listing and deleting Secrets and ConfigMaps in team-a; ServiceAccount team-b/deployer, with
// a token and a Role of its own, creates, patches and deletes a ConfigMap in team-b and is refused one
// in team-a. It keeps the ResponseComplete events of those requests (by their User-Agent), in
// stageTimestamp order, and checks that each request left exactly one event, at the level the policy
// gives it, with bodies where the level has them, and that no event holds a secret (the Secret's value,
// the token). That takes a few seconds, in parallel with the other tests. With RECORD_EVENTS set, it
// writes them to internal/query/testdata/recorded-events.jsonl, one compact event a line as the API
// server sent it:
//
//	RECORD_EVENTS=1 go test ./test/kind/ -count=1 -run TestRecordEvents
func TestRecordEvents(t *testing.T) {
	t.Parallel()
	hook := &webhook{}
	_, cfg := startAuditedAPIServer(t, hook, map[string]string{
		"audit-policy-file":            filepath.Join(repoRoot(t), "test", "kind", "testdata", "record-policy.yaml"),
		"audit-webhook-batch-max-wait": "1s",
	})
	ctx := context.Background()
	adminCfg := rest.CopyConfig(cfg)
	adminCfg.UserAgent = recorderAgent
	admin := kubernetes.NewForConfigOrDie(adminCfg)
	malloryCfg := rest.CopyConfig(adminCfg)
	malloryCfg.Impersonate = rest.ImpersonationConfig{UserName: "mallory", Groups: []string{"system:authenticated"}}
	mallory := kubernetes.NewForConfigOrDie(malloryCfg)

	var ops []recordedOp
	// do records op and checks that the request it made ended as op says.
	do := func(op recordedOp, err error) {
		t.Helper()
		var status apierrors.APIStatus
		switch {
		case op.code < 300 && err != nil:
			t.Fatalf("%s: %v", op, err)
		case op.code >= 300 && (!errors.As(err, &status) || int(status.Status().Code) != op.code):
			t.Fatalf("%s: error %v", op, err)
		}
		ops = append(ops, op)
	}

	for _, ns := range []string{"team-a", "team-b"} {
		_, err := admin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
		do(recordedOp{"create", "namespaces", "", ns, "", 201}, err)
	}
	secrets := admin.CoreV1().Secrets("team-a")
	_, err := secrets.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "db-password"},
		StringData: map[string]string{"password": recordedSecretValue}}, metav1.CreateOptions{})
	do(recordedOp{"create", "secrets", "team-a", "db-password", "", 201}, err)

	// ConfigMap team-a/web-config: created, edited twice (get, then update), patched, read, refused to
	// mallory, deleted, and not found.
	cms := admin.CoreV1().ConfigMaps("team-a")
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "web-config", Labels: map[string]string{"app": "web"}},
		Data: map[string]string{"LOG_LEVEL": "info", "GREETING": "hello"}}
	_, err = cms.Create(ctx, cm, metav1.CreateOptions{})
	do(recordedOp{"create", "configmaps", "team-a", "web-config", "", 201}, err)
	_, err = cms.Create(ctx, cm, metav1.CreateOptions{})
	do(recordedOp{"create", "configmaps", "team-a", "web-config", "", 409}, err)
	for _, change := range []map[string]string{{"LOG_LEVEL": "debug"}, {"FEATURE_SEARCH": "on"}} {
		got, err := cms.Get(ctx, "web-config", metav1.GetOptions{})
		do(recordedOp{"get", "configmaps", "team-a", "web-config", "", 200}, err)
		for k, v := range change {
			got.Data[k] = v
		}
		_, err = cms.Update(ctx, got, metav1.UpdateOptions{})
		do(recordedOp{"update", "configmaps", "team-a", "web-config", "", 200}, err)
	}
	_, err = cms.Patch(ctx, "web-config", types.MergePatchType,
		[]byte(`{"metadata":{"labels":{"tier":"frontend"}},"data":{"GREETING":"hi","LOG_LEVEL":null}}`), metav1.PatchOptions{})
	do(recordedOp{"patch", "configmaps", "team-a", "web-config", "", 200}, err)
	_, err = cms.List(ctx, metav1.ListOptions{})
	do(recordedOp{"list", "configmaps", "team-a", "", "", 200}, err)

	mSecrets, mCMs := mallory.CoreV1().Secrets("team-a"), mallory.CoreV1().ConfigMaps("team-a")
	_, err = mSecrets.Get(ctx, "db-password", metav1.GetOptions{})
	do(recordedOp{"get", "secrets", "team-a", "db-password", "mallory", 403}, err)
	_, err = mSecrets.List(ctx, metav1.ListOptions{})
	do(recordedOp{"list", "secrets", "team-a", "", "mallory", 403}, err)
	do(recordedOp{"delete", "secrets", "team-a", "db-password", "mallory", 403}, mSecrets.Delete(ctx, "db-password", metav1.DeleteOptions{}))
	_, err = mCMs.Get(ctx, "web-config", metav1.GetOptions{})
	do(recordedOp{"get", "configmaps", "team-a", "web-config", "mallory", 403}, err)
	_, err = mCMs.List(ctx, metav1.ListOptions{})
	do(recordedOp{"list", "configmaps", "team-a", "", "mallory", 403}, err)
	do(recordedOp{"delete", "configmaps", "team-a", "web-config", "mallory", 403}, mCMs.Delete(ctx, "web-config", metav1.DeleteOptions{}))

	do(recordedOp{"delete", "configmaps", "team-a", "web-config", "", 200}, cms.Delete(ctx, "web-config", metav1.DeleteOptions{}))
	_, err = cms.Get(ctx, "web-config", metav1.GetOptions{})
	do(recordedOp{"get", "configmaps", "team-a", "web-config", "", 404}, err)

	// Deployment team-a/web: created, scaled (get, then update), its image patched, listed, deleted.
	deployments := admin.AppsV1().Deployments("team-a")
	labels := map[string]string{"app": "web"}
	replicas := int32(1)
	_, err = deployments.Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx:1.27",
					Ports: []corev1.ContainerPort{{ContainerPort: 80}}}}},
			},
		},
	}, metav1.CreateOptions{})
	do(recordedOp{"create", "deployments", "team-a", "web", "", 201}, err)
	got, err := deployments.Get(ctx, "web", metav1.GetOptions{})
	do(recordedOp{"get", "deployments", "team-a", "web", "", 200}, err)
	replicas = 3
	got.Spec.Replicas = &replicas
	_, err = deployments.Update(ctx, got, metav1.UpdateOptions{})
	do(recordedOp{"update", "deployments", "team-a", "web", "", 200}, err)
	_, err = deployments.Patch(ctx, "web", types.StrategicMergePatchType,
		[]byte(`{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"nginx:1.28"}]}}}}`), metav1.PatchOptions{})
	do(recordedOp{"patch", "deployments", "team-a", "web", "", 200}, err)
	_, err = deployments.List(ctx, metav1.ListOptions{})
	do(recordedOp{"list", "deployments", "team-a", "", "", 200}, err)
	do(recordedOp{"delete", "deployments", "team-a", "web", "", 200}, deployments.Delete(ctx, "web", metav1.DeleteOptions{}))

	// A second identity, not impersonated: ServiceAccount team-b/deployer, which may edit team-b only. It
	// creates, patches and deletes ConfigMap team-b/settings and is refused ConfigMap team-a/web-config.
	_, err = admin.CoreV1().ServiceAccounts("team-b").Create(ctx,
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "deployer"}}, metav1.CreateOptions{})
	do(recordedOp{"create", "serviceaccounts", "team-b", "deployer", "", 201}, err)
	// A Role of its own: envtest runs no kube-controller-manager, so the aggregated ClusterRole edit is empty.
	_, err = admin.RbacV1().Roles("team-b").Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "configmap-editor"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"},
			Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete"}}},
	}, metav1.CreateOptions{})
	do(recordedOp{"create", "roles", "team-b", "configmap-editor", "", 201}, err)
	_, err = admin.RbacV1().RoleBindings("team-b").Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "deployer-configmap-editor"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "configmap-editor"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: "team-b", Name: "deployer"}},
	}, metav1.CreateOptions{})
	do(recordedOp{"create", "rolebindings", "team-b", "deployer-configmap-editor", "", 201}, err)
	expiry := int64(600)
	token, err := admin.CoreV1().ServiceAccounts("team-b").CreateToken(ctx, "deployer",
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &expiry}}, metav1.CreateOptions{})
	do(recordedOp{"create", "serviceaccounts/token", "team-b", "deployer", "", 201}, err)
	deployerCfg := rest.AnonymousClientConfig(adminCfg)
	deployerCfg.BearerToken = token.Status.Token
	deployer := kubernetes.NewForConfigOrDie(deployerCfg)
	teamB := deployer.CoreV1().ConfigMaps("team-b")
	const deployerName = "system:serviceaccount:team-b:deployer"
	_, err = teamB.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "settings"},
		Data: map[string]string{"region": "eu-west-1"}}, metav1.CreateOptions{})
	do(recordedOp{"create", "configmaps", "team-b", "settings", deployerName, 201}, err)
	_, err = teamB.Patch(ctx, "settings", types.MergePatchType, []byte(`{"data":{"region":"eu-central-1"}}`), metav1.PatchOptions{})
	do(recordedOp{"patch", "configmaps", "team-b", "settings", deployerName, 200}, err)
	do(recordedOp{"delete", "configmaps", "team-b", "settings", deployerName, 200}, teamB.Delete(ctx, "settings", metav1.DeleteOptions{}))
	_, err = deployer.CoreV1().ConfigMaps("team-a").Get(ctx, "web-config", metav1.GetOptions{})
	do(recordedOp{"get", "configmaps", "team-a", "web-config", deployerName, 403}, err)
	_, err = admin.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	do(recordedOp{"list", "namespaces", "", "", "", 200}, err)

	var lines [][]byte
	var events []recordedEvent
	waitFor(t, 30*time.Second, fmt.Sprintf("the events of the recording's %d requests", len(ops)), func() bool {
		lines, events = recorded(t, hook)
		return len(unmatched(ops, events)) == 0
	})
	checkRecording(t, ops, lines, events, recordedSecretValue, token.Status.Token)
	logSummary(t, lines, events)

	if os.Getenv("RECORD_EVENTS") == "" {
		return
	}
	out := filepath.Join(repoRoot(t), recordedEventsFile)
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out, bytes.Join(append(lines, nil), []byte("\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %d events to %s", len(lines), recordedEventsFile)
}

// recorded is the ResponseComplete events of the recording's requests received so far, in
// stageTimestamp order: each as the API server sent it (compacted) and decoded.
func recorded(t *testing.T, hook *webhook) ([][]byte, []recordedEvent) {
	t.Helper()
	responseComplete := func(e auditEvent) bool { return e.Stage == "ResponseComplete" }
	type item struct {
		line []byte
		ev   recordedEvent
		at   time.Time
	}
	var items []item
	for _, post := range hook.postsWith(responseComplete) {
		if post.status != 200 {
			continue
		}
		var list struct {
			Items []json.RawMessage `json:"items"`
		}
		if err := json.Unmarshal(post.body, &list); err != nil {
			t.Fatal(err)
		}
		for _, raw := range list.Items {
			var e recordedEvent
			if err := json.Unmarshal(raw, &e); err != nil {
				t.Fatal(err)
			}
			if e.Stage != "ResponseComplete" || e.UserAgent != recorderAgent {
				continue
			}
			var line bytes.Buffer
			if err := json.Compact(&line, raw); err != nil {
				t.Fatal(err)
			}
			at, err := time.Parse(time.RFC3339Nano, e.StageTimestamp)
			if err != nil {
				t.Fatalf("stageTimestamp %q: %v", e.StageTimestamp, err)
			}
			items = append(items, item{line.Bytes(), e, at})
		}
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].at.Before(items[j].at) })
	lines := make([][]byte, len(items))
	events := make([]recordedEvent, len(items))
	for i, it := range items {
		lines[i], events[i] = it.line, it.ev
	}
	return lines, events
}

// assign is, for each op, the index of its event (-1 when none), each event going to one op at most.
func assign(ops []recordedOp, events []recordedEvent) []int {
	used := make([]bool, len(events))
	out := make([]int, len(ops))
	for k, op := range ops {
		out[k] = -1
		for i, e := range events {
			if !used[i] && op.matches(e) {
				used[i], out[k] = true, i
				break
			}
		}
	}
	return out
}

// unmatched is the ops no event matches.
func unmatched(ops []recordedOp, events []recordedEvent) []recordedOp {
	var missing []recordedOp
	for k, i := range assign(ops, events) {
		if i < 0 {
			missing = append(missing, ops[k])
		}
	}
	return missing
}

// checkRecording checks the shape of the recorded events: one per op, each at its policy level, with the bodies of successful changes at RequestResponse and none at Metadata, the
// impersonated user's groups, and no trace of secrets (the Secret's value, in the clear and in base64, and
// the ServiceAccount's token).
func checkRecording(t *testing.T, ops []recordedOp, lines [][]byte, events []recordedEvent, secrets ...string) {
	t.Helper()
	if len(events) != len(ops) {
		t.Errorf("%d events for %d requests", len(events), len(ops))
	}
	for k, i := range assign(ops, events) {
		op := ops[k]
		if i < 0 {
			t.Errorf("no event for %s", op)
			continue
		}
		e := events[i]
		if e.Level != op.level() {
			t.Errorf("%s: level %s, want %s", op, e.Level, op.level())
		}
		if op.user == "mallory" && (e.User.Username != "admin" || !slices.Equal(e.ImpersonatedUser.Groups, []string{"system:authenticated"})) {
			t.Errorf("%s: user %s impersonating %+v, want admin impersonating mallory in system:authenticated", op, e.User.Username, e.ImpersonatedUser)
		}
		bodies := len(e.RequestObject) > 0 || len(e.ResponseObject) > 0
		switch {
		case e.Level == "Metadata" && bodies:
			t.Errorf("%s: a Metadata event with a body: %s", op, lines[i])
		case e.Level == "RequestResponse" && op.code < 300 && op.verb != "delete" && (len(e.RequestObject) == 0 || len(e.ResponseObject) == 0):
			t.Errorf("%s: want both bodies: %s", op, lines[i])
		case e.Level == "RequestResponse" && op.code < 300 && len(e.ResponseObject) == 0:
			t.Errorf("%s: want the response body: %s", op, lines[i])
		}
	}
	all := bytes.Join(lines, nil)
	for _, secret := range append(secrets, base64.StdEncoding.EncodeToString([]byte(recordedSecretValue))) {
		if bytes.Contains(all, []byte(secret)) {
			t.Errorf("the recorded events hold a secret (%.20s...)", secret)
		}
	}
}

// logSummary logs the recorded events' counts by verb, resource, code and level, and their sizes.
func logSummary(t *testing.T, lines [][]byte, events []recordedEvent) {
	t.Helper()
	counts := map[string]int{}
	total, largest := 0, 0
	for i, e := range events {
		resource := ""
		if e.ObjectRef != nil {
			resource = e.ObjectRef.Resource
			if e.ObjectRef.Subresource != "" {
				resource += "/" + e.ObjectRef.Subresource
			}
		}
		user := e.User.Username
		if e.ImpersonatedUser != nil {
			user += " as " + e.ImpersonatedUser.Username
		}
		counts[fmt.Sprintf("%-6s %-21s %d %-15s %s", e.Verb, resource, e.ResponseStatus.Code, e.Level, user)]++
		total += len(lines[i]) + 1
		largest = max(largest, len(lines[i]))
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "  %3d  %s\n", counts[k], k)
	}
	t.Logf("%d events, %d bytes (largest %d):\n%s", len(events), total, largest, b.String())
}
