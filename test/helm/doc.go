// Package helm tests the Helm chart in charts/voice-operator with the Helm
// SDK, the same code the helm command runs: the lint action, a client-only
// render (helm template) with default and non-default values, and a real
// install and uninstall into the local control plane (envtest's etcd and
// kube-apiserver, from KUBEBUILDER_ASSETS).
//
// It also keeps the chart's copies of generated files equal to their
// sources: crds/ holds config/crd/bases with the keep annotations of
// config/crd/kustomization.yaml, and files/manager-role.yaml holds
// config/rbac/role.yaml. After `make manifests` changes either, run
//
//	cd test/helm && go test -run TestChartCopiesMatchConfig . -update
//
// (the test fails while they differ).
//
// It is a module of its own, so that the Helm SDK and its dependencies are
// not the operator's: the operator's go.mod stays as it is, and the chart's
// tests run with `cd test/helm && go test ./...`.
package helm
