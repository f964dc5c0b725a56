// Package testenv starts a real control plane for tests: kube-apiserver and etcd built by
// hack/envtest/install.sh (controller-runtime envtest), with the operator's CRDs and the dependency CRDs
// installed: Altinity's ClickHouseInstallation and ClickHouseKeeperInstallation from
// ../shared/crds/altinity, and NACK's Stream, Consumer and Account from deploy/crds.yml of the NACK
// module that go.mod pins. It is imported only by tests and the local run.
package testenv
