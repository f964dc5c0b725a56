package kind

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/auditpipeline/auditpipeline-operator/internal/testkit/testenv"
)

// TestKindDecodesClusterConfig runs the pinned kind (hack/tools/kind.sh) on hack/kind/cluster.yaml with a
// Docker endpoint that does not exist: kind decodes the configuration strictly (unknown fields fail) before it
// asks Docker anything, so the run must fail at Docker and not at the configuration. A configuration with an
// unknown field shows the difference. No cluster is ever created, even where Docker runs.
func TestKindDecodesClusterConfig(t *testing.T) {
	root := repoRoot(t)
	kind, err := testenv.RunScript(root, "hack/tools/kind.sh")
	if err != nil {
		t.Fatal(err)
	}

	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodez: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		config    string
		decodesOK bool
	}{{filepath.Join("hack", "kind", "cluster.yaml"), true}, {bad, false}} {
		create := exec.Command(kind, "create", "cluster", "--name", "auditpipeline-config-check",
			"--config", c.config, "--kubeconfig", filepath.Join(t.TempDir(), "kubeconfig"))
		create.Dir = root // cluster.yaml's hostPath is relative to the repository root
		create.Env = append(withoutEnv(os.Environ(), "DOCKER_CONTEXT", "DOCKER_HOST"),
			"KIND_EXPERIMENTAL_PROVIDER=docker", "DOCKER_HOST=unix:///nonexistent/auditpipeline/docker.sock")
		msg, err := create.CombinedOutput()
		decodeFailed := strings.Contains(string(msg), "decode config")
		switch {
		case err == nil:
			t.Fatalf("kind created a cluster with no Docker endpoint?\n%s", msg)
		case decodeFailed == c.decodesOK:
			t.Errorf("kind create cluster --config %s: decodes=%v, want %v:\n%s", c.config, !decodeFailed, c.decodesOK, msg)
		case c.decodesOK && !strings.Contains(string(msg), "docker"):
			t.Errorf("kind create cluster --config %s failed before reaching Docker:\n%s", c.config, msg)
		}
	}
}

func withoutEnv(env []string, names ...string) []string {
	var kept []string
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		drop := false
		for _, n := range names {
			drop = drop || name == n
		}
		if !drop {
			kept = append(kept, kv)
		}
	}
	return kept
}
