package chart

import (
	"bytes"
	"errors"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
)

// TestManagerAcceptsChartArgs parses the manager arguments the chart renders with the real manager binary:
// `manager ARGS... --help` exits 0 only when every argument before --help is a known flag with a valid
// value (an unknown flag or a bad value exits 2 before --help is reached, 1 for `manager audit-api`). The
// audit API's container arguments are parsed the same way.
func TestManagerAcceptsChartArgs(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "manager")
	build := exec.Command("go", "build", "-o", bin, "./cmd")
	build.Dir = env.Root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd: %v\n%s", err, out)
	}
	releases := []release{
		{name: "args-default", namespace: "chart-args"},
		{name: "args-custom", namespace: "chart-args", args: []string{
			"--set", "metrics.port=0", "--set", "metrics.secure=false", "--set", "leaderElection.enabled=false",
			"--set", "manager.logLevel=debug", "--set", "manager.logEncoder=console", "--set", "manager.waitInterval=1m30s",
			"--set", "manager.maxConcurrentReconciles=8",
			"--set-json", `manager.extraArgs=["--zap-stacktrace-level=panic","--zap-time-encoding=rfc3339"]`,
		}},
		// The manager with --audit-api-service, and `manager audit-api` with the chart's flags.
		{name: "args-audit-api", namespace: "chart-args", args: auditAPIValues("audit/cluster-audit",
			"--set", "auditAPI.port=9443", "--set-json", `auditAPI.extraArgs=["--pipeline-refresh=30s"]`,
			"--set", "auditAPI.tenant.name=p1", "--set", "auditAPI.tenant.type=Project", "--set", "auditAPI.queryTimeout=1m")},
	}
	for _, r := range releases {
		objs := r.render(t)
		var d appsv1.Deployment
		fromUnstructured(t, find(t, objs, "Deployment", r.name+"-auditpipeline-operator"), &d)
		args := d.Spec.Template.Spec.Containers[0].Args
		if code := runManager(t, bin, append(args, "--help")...); code != 0 {
			t.Errorf("%s: the manager refuses %v (exit %d)", r.name, args, code)
		}
		if !slices.Contains(kindsNamed(objs, "Deployment"), r.name+"-auditpipeline-operator-audit-api") {
			continue
		}
		// The container's args start with the subcommand: `manager audit-api --pipeline=... --help`.
		args = deployment(t, objs, r.name+"-auditpipeline-operator-audit-api").Spec.Template.Spec.Containers[0].Args
		if code := runManager(t, bin, append(args, "--help")...); code != 0 || args[0] != "audit-api" {
			t.Errorf("%s: the audit API refuses %v (exit %d)", r.name, args, code)
		}
	}
	// The method itself: a flag the manager or the audit API does not know must fail.
	if code := runManager(t, bin, "--leader-elect=true", "--no-such-flag", "--help"); code == 0 {
		t.Error("the manager accepted --no-such-flag: this test proves nothing")
	}
	if code := runManager(t, bin, "audit-api", "--pipeline=audit/cluster-audit", "--no-such-flag", "--help"); code == 0 {
		t.Error("the audit API accepted --no-such-flag: this test proves nothing")
	}
}

// runManager runs the manager binary and returns its exit code.
func runManager(t *testing.T, bin string, args ...string) int {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit):
		t.Logf("manager %v: exit %d: %s", args, exit.ExitCode(), lastLine(out.String()))
		return exit.ExitCode()
	default:
		t.Fatalf("run manager: %v", err)
		return -1
	}
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	return s[strings.LastIndexByte(s, '\n')+1:]
}
