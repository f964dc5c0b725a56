package testenv

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	nack "github.com/nats-io/nack/pkg/jetstream/apis/jetstream/v1beta2"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
	"github.com/auditpipeline/auditpipeline-operator/internal/altinity"
	"github.com/auditpipeline/auditpipeline-operator/internal/testkit/chtest"
)

// nackModule is the Go module of NACK, whose deploy/crds.yml holds the Stream, Consumer and Account CRDs.
const nackModule = "github.com/nats-io/nack"

// Env is a running control plane with the CRDs installed.
type Env struct {
	// Config reaches the API server as a cluster admin.
	Config *rest.Config
	// Scheme knows the core types, the AuditPipeline API and NACK's jetstream.nats.io/v1beta2.
	Scheme *runtime.Scheme
	// Root is the repository's root directory.
	Root string

	env *envtest.Environment
	dir string // the options' files
}

// Start builds (or reuses) the control-plane binaries, starts kube-apiserver and etcd, and installs the
// CRDs. KUBEBUILDER_ASSETS, when set, names the binaries' directory and skips the build.
func Start(opts ...Option) (*Env, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		assets, err := installAssets(root)
		if err != nil {
			return nil, err
		}
		if err := os.Setenv("KUBEBUILDER_ASSETS", assets); err != nil {
			return nil, err
		}
	}
	altinityCRDs := filepath.Join(root, "..", "shared", "crds", "altinity")
	if _, err := os.Stat(altinityCRDs); err != nil {
		return nil, fmt.Errorf("the Altinity CRDs are expected in %s (the shared folder beside the clone): %w", altinityCRDs, err)
	}
	nackCRDs, err := NACKCRDs(root)
	if err != nil {
		return nil, err
	}
	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(v1alpha1.AddToScheme(scheme))
	utilruntime.Must(altinity.AddToScheme(scheme))
	utilruntime.Must(nack.AddToScheme(scheme))

	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join(root, "config", "crd", "bases"), altinityCRDs, nackCRDs},
		ErrorIfCRDPathMissing: true,
		Scheme:                scheme,
	}
	var dir string
	if len(opts) > 0 {
		if dir, err = os.MkdirTemp("", "testenv-"); err != nil {
			return nil, err
		}
	}
	for _, o := range opts {
		if err := o(env, dir); err != nil {
			return nil, err
		}
	}
	cfg, err := env.Start()
	if err != nil {
		// envtest leaves its kube-apiserver and etcd running when a later step (e.g. a CRD the API server
		// refuses) fails: stop them, or they outlive the test process.
		if stopErr := env.ControlPlane.Stop(); stopErr != nil {
			err = errors.Join(err, fmt.Errorf("stop the control plane: %w", stopErr))
		}
		return nil, fmt.Errorf("start envtest (KUBEBUILDER_ASSETS=%s): %w", os.Getenv("KUBEBUILDER_ASSETS"), err)
	}
	return &Env{Config: cfg, Scheme: scheme, Root: root, env: env, dir: dir}, nil
}

// Stop stops the control plane.
func (e *Env) Stop() error {
	err := e.env.Stop()
	if e.dir != "" {
		err = errors.Join(err, os.RemoveAll(e.dir))
	}
	return err
}

// RepoRoot finds the repository root: the directory of the main module's go.mod.
func RepoRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("not inside the operator's Go module")
	}
	return filepath.Dir(gomod), nil
}

// NACKCRDs is the path of NACK's CRDs (deploy/crds.yml) in the module cache, at the version go.mod pins.
func NACKCRDs(root string) (string, error) {
	dir, err := moduleDir(root, nackModule)
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "deploy", "crds.yml"), nil
}

// moduleDir is the directory of a dependency module in the module cache, downloaded if need be.
func moduleDir(root, module string) (string, error) {
	list := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", module)
	list.Dir = root
	out, err := list.Output()
	if dir := strings.TrimSpace(string(out)); err == nil && dir != "" {
		return dir, nil
	}
	download := exec.Command("go", "mod", "download", "-json", module)
	download.Dir = root
	out, err = download.Output()
	if err != nil {
		return "", fmt.Errorf("go mod download %s: %w", module, err)
	}
	var info struct{ Dir, Error string }
	if err := json.Unmarshal(out, &info); err != nil || info.Dir == "" {
		return "", fmt.Errorf("go mod download %s: no directory (%s): %v", module, info.Error, err)
	}
	return info.Dir, nil
}

func installAssets(root string) (string, error) {
	return RunScript(root, "hack/envtest/install.sh")
}

// RunScript runs one of the repository's install scripts (a path relative to root) with bash and returns
// what it printed on stdout, trimmed: the path of what it built or found. Its progress goes to stderr.
func RunScript(root, script string) (string, error) {
	cmd := exec.Command("bash", filepath.Join(root, filepath.FromSlash(script)))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s: %w", script, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// Run is a TestMain's body for tests of a control plane: it starts the control plane with opts, hands it
// and an admin client to ready (which keeps them for the tests), runs the tests, and stops the control
// plane before it returns the exit code (deferred calls would not run past os.Exit):
// func TestMain(m *testing.M) { os.Exit(testenv.Run(m, set)) }.
func Run(m *testing.M, ready func(*Env, client.Client), opts ...Option) int {
	return run(m.Run, ready, opts...)
}

// RunWithClickHouse is Run for tests of a control plane and ClickHouse: the tests run with chtest's
// shared server, stopped with the control plane.
func RunWithClickHouse(m *testing.M, ready func(*Env, client.Client), opts ...Option) int {
	return run(func() int { return chtest.Run(m) }, ready, opts...)
}

func run(tests func() int, ready func(*Env, client.Client), opts ...Option) int {
	env, err := Start(opts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code := 1
	if k, err := client.New(env.Config, client.Options{Scheme: env.Scheme}); err != nil {
		fmt.Fprintln(os.Stderr, err)
	} else {
		ready(env, k)
		code = tests()
	}
	if err := env.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stop the control plane:", err)
		code = max(code, 1)
	}
	return code
}
