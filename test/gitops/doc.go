// Package gitops_test runs the repository through a GitOps engine's own
// code: Flux's apply-and-wait (github.com/fluxcd/pkg/ssa and its kstatus
// poller). Argo CD's health checks are tested in test/argocd.
//
// It is a module of its own so that Flux's dependencies never enter the
// operator's go.mod; `make test` runs it.
package gitops_test
