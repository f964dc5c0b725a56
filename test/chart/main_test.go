package chart

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/auditpipeline/auditpipeline-operator/internal/testkit/testenv"
)

// prometheusOperatorModule holds the Prometheus operator's CRDs (example/prometheus-operator-crd), read from
// the Go module cache: the API server then checks the chart's ServiceMonitor and PrometheusRule against
// their real schemas. v0.85.0 is the newest version of the module the Go module proxy serves here.
const prometheusOperatorModule = "github.com/prometheus-operator/prometheus-operator@v0.85.0"

var (
	env  *testenv.Env
	k8s  client.Client
	helm string
	// chartDir is the chart's directory.
	chartDir string
)

func TestMain(m *testing.M) {
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) int {
	var err error
	env, err = testenv.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() {
		if err := env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stop envtest:", err)
		}
	}()
	chartDir = filepath.Join(env.Root, "charts", "auditpipeline-operator")
	if err := installMonitoringCRDs(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if k8s, err = client.New(env.Config, client.Options{Scheme: env.Scheme}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if helm, err = helmBinary(env.Root); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// installMonitoringCRDs installs the ServiceMonitor and PrometheusRule CRDs of the Prometheus operator.
func installMonitoringCRDs() error {
	cmd := exec.Command("go", "mod", "download", "-json", prometheusOperatorModule)
	cmd.Dir = os.TempDir() // outside our module: nothing is added to go.mod or go.sum
	cmd.Env = append(os.Environ(), "GOFLAGS=")
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("go mod download %s: %w", prometheusOperatorModule, err)
	}
	var mod struct{ Dir string }
	if err := json.Unmarshal(out, &mod); err != nil || mod.Dir == "" {
		return fmt.Errorf("go mod download %s: no module directory in %q: %v", prometheusOperatorModule, out, err)
	}
	crds := filepath.Join(mod.Dir, "example", "prometheus-operator-crd")
	_, err = envtest.InstallCRDs(env.Config, envtest.CRDInstallOptions{
		Paths: []string{
			filepath.Join(crds, "monitoring.coreos.com_servicemonitors.yaml"),
			filepath.Join(crds, "monitoring.coreos.com_prometheusrules.yaml"),
		},
		ErrorIfPathMissing: true,
	})
	if err != nil {
		return fmt.Errorf("install the Prometheus operator's CRDs: %w", err)
	}
	return nil
}

// helmBinary is $HELM (make test sets it), or what hack/tools/helm.sh builds or finds in its cache.
func helmBinary(root string) (string, error) {
	if h := os.Getenv("HELM"); h != "" {
		return h, nil
	}
	return testenv.RunScript(root, "hack/tools/helm.sh")
}

// runHelm runs helm with its configuration, cache and data directories in a fresh temporary directory, so
// that nothing of the user's helm setup (repositories, plugins) plays a part.
func runHelm(t *testing.T, args ...string) []byte {
	t.Helper()
	out, stderr, err := helmOutput(t, args...)
	if err != nil {
		t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	return out
}

// runHelmFails runs helm as runHelm does, expects it to fail, and returns its stderr.
func runHelmFails(t *testing.T, args ...string) string {
	t.Helper()
	_, stderr, err := helmOutput(t, args...)
	if err == nil {
		t.Fatalf("helm %s succeeded, want an error", strings.Join(args, " "))
	}
	return stderr
}

func helmOutput(t *testing.T, args ...string) (stdout []byte, stderr string, err error) {
	t.Helper()
	home := t.TempDir()
	cmd := exec.Command(helm, args...)
	cmd.Env = append(os.Environ(),
		"HELM_CONFIG_HOME="+filepath.Join(home, "config"),
		"HELM_CACHE_HOME="+filepath.Join(home, "cache"),
		"HELM_DATA_HOME="+filepath.Join(home, "data"))
	var errBuf bytes.Buffer
	cmd.Stderr = &errBuf
	stdout, err = cmd.Output()
	return stdout, errBuf.String(), err
}
