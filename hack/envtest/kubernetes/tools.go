//go:build tools

// Package tools pins the kube-apiserver and kubectl main packages so that go mod tidy keeps
// their dependencies; scripts build them with `go build` inside this module.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
