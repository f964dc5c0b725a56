package chtest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
)

const (
	// EnvLibrary names the environment variable that gives the path of libchdb.so.
	EnvLibrary = "CHDB_LIB"
	// EnvSkip names the environment variable that, set to 1, makes tests skip instead of starting
	// ClickHouse.
	EnvSkip = "CHTEST_SKIP"

	installScript = "hack/clickhouse/install.sh"
	serverPackage = "./internal/testkit/chtest/chserver"
)

var (
	libraryOnce sync.Once
	libraryPath string
	libraryErr  error

	binaryOnce sync.Once
	binaryPath string
	binaryErr  error
)

// Library returns the absolute path of libchdb.so: $CHDB_LIB when set, else the path that
// hack/clickhouse/install.sh prints (it downloads the library on first use). The answer is computed
// once per process.
func Library() (string, error) {
	libraryOnce.Do(func() { libraryPath, libraryErr = findLibrary() })
	return libraryPath, libraryErr
}

func findLibrary() (string, error) {
	if path := os.Getenv(EnvLibrary); path != "" {
		abs, err := filepath.Abs(path)
		if err != nil {
			return "", fmt.Errorf("%s=%s: %w", EnvLibrary, path, err)
		}
		if _, err := os.Stat(abs); err != nil {
			return "", fmt.Errorf("%s=%s: %w", EnvLibrary, path, err)
		}
		return abs, nil
	}
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command("bash", filepath.Join(root, installScript))
	cmd.Dir = root
	cmd.Stdout = &stdout
	// Progress shows as it happens; the tail goes into the error.
	cmd.Stderr = io.MultiWriter(os.Stderr, &stderr)
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s: %w: %s", installScript, err, lastLines(stderr.String(), 10))
	}
	lines := strings.Fields(stdout.String())
	if len(lines) == 0 {
		return "", fmt.Errorf("%s printed no path", installScript)
	}
	path := lines[len(lines)-1]
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("%s printed %s: %w", installScript, path, err)
	}
	return path, nil
}

// moduleRoot returns the directory of the go.mod of the current directory's module: the repository root.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err == nil {
		if gomod := strings.TrimSpace(string(out)); gomod != "" && gomod != os.DevNull {
			return filepath.Dir(gomod), nil
		}
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find the module root: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("find the module root: no go.mod above the current directory")
		}
		dir = parent
	}
}

// serverBinary builds ./chserver once per process and returns its path. The binary is stored under the
// user's cache directory, named after its own hash, so that processes building it at the same time (or
// from different clones) never replace a file another one runs.
func serverBinary() (string, error) {
	binaryOnce.Do(func() { binaryPath, binaryErr = buildServer() })
	return binaryPath, binaryErr
}

func buildServer() (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("build chserver: %w", err)
	}
	dir := filepath.Join(cache, "auditpipeline-operator", "chtest")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("build chserver: %w", err)
	}
	tmpDir, err := os.MkdirTemp(dir, ".build-")
	if err != nil {
		return "", fmt.Errorf("build chserver: %w", err)
	}
	defer os.RemoveAll(tmpDir)
	tmp := filepath.Join(tmpDir, "chserver")

	cmd := exec.Command("go", "build", "-buildvcs=false", "-o", tmp, serverPackage)
	cmd.Dir = root
	// purego needs no cgo, so no C compiler either.
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build chserver: go build %s: %w: %s", serverPackage, err, out)
	}
	sum, err := fileSHA256(tmp)
	if err != nil {
		return "", fmt.Errorf("build chserver: %w", err)
	}
	final := filepath.Join(dir, "chserver-"+sum[:16])
	if _, err := os.Stat(final); err == nil {
		return final, nil
	}
	if err := os.Rename(tmp, final); err != nil {
		return "", fmt.Errorf("build chserver: %w", err)
	}
	return final, nil
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
