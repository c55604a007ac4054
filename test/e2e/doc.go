// Package e2e holds the end-to-end suite: the user's path through kubectl,
// against the operator running as its own process (the binary `make build`
// makes), the Twilio API simulator as another, a real kube-apiserver, and the
// kubectl the toolchain builds. It runs the same local environment as
// `make demo` (internal/localenv) and needs KUBEBUILDER_ASSETS, which
// `make test` sets.
package e2e
