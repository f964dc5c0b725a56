//go:build tools

// Package tools pins the etcd server main package so that go mod tidy keeps its dependencies;
// scripts build it with `go build` inside this module.
package tools

import _ "go.etcd.io/etcd/server/v3"
