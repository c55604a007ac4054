// Package argocd holds the tests of the Argo CD health checks shipped in
// config/argocd: the Lua script runs in gopher-lua, the interpreter Argo CD
// embeds, set up the way Argo CD sets it up for a script from argocd-cm, against
// table cases of object JSON. Each case also records what kstatus (Flux,
// `kubectl wait`) computes for the same object, so the two judges are compared
// in one place. The same harness runs the health_test.yaml files of
// config/argocd/resource_customizations, the layout of Argo CD's own
// repository.
package argocd
