//go:build tools

// Package tools pins the etcd server that envtest starts beside kube-apiserver,
// so that hack/envtest.sh can build it from the Go module proxy.
package tools

import _ "go.etcd.io/etcd/server/v3"
