//go:build tools

// Package tools pins the Kubernetes programs envtest needs (kube-apiserver),
// the kubectl the end-to-end suite drives and the kube-controller-manager
// whose namespace controller its control plane runs, so that hack/envtest.sh can
// build them from the Go module proxy at exactly this version.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
