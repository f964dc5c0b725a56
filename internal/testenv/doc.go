// Package testenv starts a real control plane for tests: kube-apiserver and etcd built by
// hack/envtest/install.sh (controller-runtime envtest), with the operator's CRDs and the dependency CRDs
// (Altinity's ClickHouseInstallation and ClickHouseKeeperInstallation from ../shared/crds/altinity)
// installed. It is imported only by tests.
package testenv
