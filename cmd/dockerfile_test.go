package main

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// TestDockerfileCopiesEveryPackage: the image build copies each top-level directory that holds a package
// the manager is built from (no Docker here to build the image; a missing COPY fails only there).
func TestDockerfileCopiesEveryPackage(t *testing.T) {
	b, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	copied := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^COPY ([a-z][a-z0-9-]*)/ `).FindAllStringSubmatch(string(b), -1) {
		copied[m[1]] = true
	}
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", ".").Output()
	if err != nil {
		t.Fatal(err)
	}
	const module = "github.com/auditpipeline/auditpipeline-operator/"
	for _, pkg := range strings.Fields(string(out)) {
		if rest, ok := strings.CutPrefix(pkg, module); ok {
			dir, _, _ := strings.Cut(rest, "/")
			if !copied[dir] {
				t.Errorf("the manager imports %s, but the Dockerfile does not COPY %s/", pkg, dir)
			}
		}
	}
}
