// Package localenv runs the operator's whole world on one machine, each part
// as the user would meet it and each as a process of its own: a control plane
// (etcd and kube-apiserver from the envtest toolchain, with the CRDs
// installed, run by hack/demo/controlplane), the Twilio API simulator, the
// operator, and the real kubectl.
//
// It is shared by the demo (hack/demo) and the end-to-end suite (test/e2e),
// so the suite proves the very environment a newcomer starts with
// `make demo`, and its process handling (Process, Operator) by every suite
// that runs the operator binary. It holds no controller logic: it starts,
// reads and stops processes. It imports nothing from Kubernetes, so that the
// demo compiles in seconds on a fresh machine and shows progress while the
// rest builds; subpackage kube holds what needs Kubernetes libraries.
package localenv
