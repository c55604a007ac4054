# voice-operator Makefile: the front door. `make help` lists the targets.
#
# Every tool is pinned and built into bin/ by this Makefile, from the Go module
# proxy: controller-gen by hack/tools/controller-gen/go.mod, the envtest
# programs (kube-apiserver, etcd, kubectl) by hack/tools/{envtest,etcd}/go.mod.
# A fresh clone needs only Go.

# Image used by `make deploy`.
IMG ?= ghcr.io/twilio-operator/voice-operator:latest

# Toolchain versions. Each must match its wrapper module's go.mod;
# hack/envtest.sh refuses to build when they disagree.
KUBE_VERSION ?= 1.37.2
ETCD_VERSION ?= 3.6.16
CONTROLLER_GEN_VERSION ?= v0.23.0
GOLANGCI_LINT_VERSION ?= v2.15.0
# Prometheus v3.16's module; promtool tests the alerts of config/prometheus.
PROMETHEUS_VERSION ?= v0.316.0

LOCALBIN := $(CURDIR)/bin
CONTROLLER_GEN := $(LOCALBIN)/controller-gen-$(CONTROLLER_GEN_VERSION)
GOLANGCI_LINT := $(LOCALBIN)/golangci-lint-$(GOLANGCI_LINT_VERSION)
PROMTOOL := $(LOCALBIN)/promtool-$(PROMETHEUS_VERSION)
# Without Prometheus's service-discovery plugins (AWS, Azure, GCE,
# Kubernetes, ...): rule tests need none, and they are most of its build.
PROMTOOL_TAGS := remove_all_sd
ENVTEST_ASSETS := $(LOCALBIN)/k8s/$(KUBE_VERSION)
# The folder the suites get as KUBEBUILDER_ASSETS, decided when a recipe runs:
# the one KUBEBUILDER_ASSETS or setup-envtest already has, completed with
# what it lacks, else ENVTEST_ASSETS, built from source (hack/envtest.sh).
ASSETS = $$(hack/envtest.sh $(KUBE_VERSION) $(ETCD_VERSION))
# kubectl: the one on PATH for real clusters, else the one the toolchain builds.
KUBECTL ?= $(or $(shell command -v kubectl 2>/dev/null),$(ENVTEST_ASSETS)/kubectl)

# Extra flags for `go test`, e.g. GO_TEST_FLAGS='-run TestFoo'.
GO_TEST_FLAGS ?=
# How long each fuzz target runs inside `make test`; `make fuzz FUZZTIME=5m` by hand.
FUZZTIME ?= 3s

SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec

.PHONY: all
all: build

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "\nUsage:\n  make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) } ' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: $(CONTROLLER_GEN) ## Generate the CRDs and the ClusterRole from the markers, docs/reference.md from both, and the Helm chart's copies of them.
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd paths="./api/...;./controllers/..." output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac
	go run ./hack/refdocs
	cd test/helm && go test -count=1 -run TestChartCopiesMatchConfig . -update >/dev/null

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Generate the DeepCopy methods of the API types.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./api/..."

.PHONY: fmt
fmt: ## Run go fmt on every module of the repository.
	go fmt ./...
	@for m in $(NESTED_MODULES) $(TOOL_MODULES); do (cd $$m && go fmt ./... >/dev/null); done

.PHONY: vet
vet: ## Run go vet on the operator's module and the nested test and release modules.
	go vet ./...
	@for m in $(NESTED_MODULES); do echo "go vet in $$m"; (cd $$m && go vet ./...) || exit 1; done

.PHONY: lint
lint: $(GOLANGCI_LINT) ## Run golangci-lint with .golangci.yml on every module (run by `make test` when CI=true).
	$(GOLANGCI_LINT) run ./...
	@for m in $(NESTED_MODULES); do echo "golangci-lint in $$m"; (cd $$m && $(GOLANGCI_LINT) run --config $(CURDIR)/.golangci.yml ./...) || exit 1; done

.PHONY: verify
verify: manifests generate fmt ## Fail if code generation or gofmt changed the tree (run by `make test` when CI=true).
	@if [ -n "$$(git status --porcelain)" ]; then \
		echo "make manifests generate fmt changed the tree; commit the regenerated files:"; \
		git status --porcelain; \
		git diff --stat; \
		exit 1; \
	fi

.PHONY: envtest
envtest: ## Find or build kube-apiserver, etcd, kubectl and kube-controller-manager (KUBEBUILDER_ASSETS, setup-envtest, else from source into bin/k8s/$(KUBE_VERSION), once).
	@hack/envtest.sh $(KUBE_VERSION) $(ETCD_VERSION) >/dev/null

# Suites that talk to the Voice API simulator run twice: against the shape
# Twilio's reference documents and nothing more (VOICE_SIM_SHAPE=reference,
# the default), and against the extended shape, which adds every behaviour
# beyond it and answers each question the reference leaves open the other
# way. The second pass also observes with --observe=get.
SHAPE_PACKAGES := ./controllers/ ./internal/voice/ ./test/chaos/ ./test/security/ ./test/export/

# Modules of their own, so that their dependencies never enter the operator's
# go.mod, SBOM or vulnerability scan: the release builder (image, install.yaml),
# the Helm chart's tests (Helm SDK), Flux's apply-and-wait (fluxcd/pkg/ssa).
NESTED_MODULES := hack/release test/helm test/gitops
# Tool wrappers with code of their own to test.
TOOL_MODULES := hack/tools/govulncheck

.PHONY: test
test: $(if $(filter true,$(CI)),verify lint,manifests generate fmt) vet envtest fuzz vulncheck $(PROMTOOL) ## Run every test: fuzzing (briefly), vulnerability scan, unit tests, envtest suites, e2e, the nested modules; simulator suites in both shapes.
	@echo "== every package, simulator in the reference's shape, --observe=list"
	KUBEBUILDER_ASSETS="$(ASSETS)" PROMTOOL=$(PROMTOOL) VOICE_SIM_SHAPE=reference go test -race -count=1 -v ./... $(GO_TEST_FLAGS)
	@echo "== simulator suites again, in the extended shape, --observe=get"
	KUBEBUILDER_ASSETS="$(ASSETS)" VOICE_SIM_SHAPE=extended VOICE_OBSERVE=get go test -race -count=1 $(SHAPE_PACKAGES) $(GO_TEST_FLAGS)
	@assets="$(ASSETS)"; for m in $(NESTED_MODULES); do \
		echo "== $$m (a module of its own)"; \
		(cd $$m && KUBEBUILDER_ASSETS="$$assets" go test -count=1 -v ./... $(GO_TEST_FLAGS)) || exit 1; \
	done

# The ownership model test (controllers/model_test.go) runs 300 sequences in
# every `make test` pass, from a fixed seed; `make soak` runs SOAK_CHECKS (50,000 in all) in
# each simulator shape and observe mode, from RAPID_SEED (the time, unless
# set), and prints the seed and a shrunk sequence for a failure.
SOAK_CHECKS ?= 12500
ifeq ($(origin RAPID_SEED),undefined)
RAPID_SEED := $(shell date +%s)
endif

.PHONY: soak
soak: ## Run the ownership model test long: SOAK_CHECKS (12,500) sequences per simulator shape and observe mode, 50,000 in all, from RAPID_SEED.
	@for shape in reference extended; do for mode in list get; do \
		echo "== model test: $$shape shape, --observe=$$mode, $(SOAK_CHECKS) sequences from seed $(RAPID_SEED)"; \
		VOICE_SIM_SHAPE=$$shape VOICE_OBSERVE=$$mode RAPID_CHECKS=$(SOAK_CHECKS) RAPID_SEED=$(RAPID_SEED) \
			go test -count=1 -timeout 0 -run '^TestModel$$' -v ./controllers/ | grep -v '^=== RUN' || exit 1; \
	done; done

.PHONY: vulncheck
vulncheck: ## Fail on a known vulnerability the operator calls in a required module (offline govulncheck; stdlib findings reported, VULNCHECK_STDLIB=fail to fail on them).
	@for m in $(TOOL_MODULES); do (cd $$m && go test -count=1 ./...) || exit 1; done
	hack/vulncheck.sh

# Fuzz targets as package:Func. `go test ./...` runs their seed corpora; this
# explores beyond them for FUZZTIME each.
FUZZ_TARGETS := internal/voice:FuzzDecodeConfiguration internal/voice:FuzzDecodePage internal/voice:FuzzDecodeError internal/voicesim:FuzzSimulatorRequest

.PHONY: fuzz
fuzz: ## Fuzz the client's decoders and the simulator's request decoding for FUZZTIME each (make fuzz FUZZTIME=5m).
	@for target in $(FUZZ_TARGETS); do \
		pkg=$${target%%:*}; fn=$${target##*:}; \
		echo "fuzzing $$fn in ./$$pkg for $(FUZZTIME)"; \
		go test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) ./$$pkg || exit 1; \
	done

##@ Build

.PHONY: build
build: manifests generate fmt vet ## Build the manager binary into bin/manager.
	go build -o $(LOCALBIN)/manager .

.PHONY: run
run: manifests generate fmt vet ## Run the operator locally against the current kubeconfig's cluster.
	go run . $(RUN_ARGS)

##@ Deployment

.PHONY: install
install: manifests ## Install the CRDs into the current kubeconfig's cluster.
	$(KUBECTL) apply --server-side -k config/crd

.PHONY: uninstall
uninstall: manifests ## Remove the CRDs (and so every object of these kinds) from the cluster.
	$(KUBECTL) delete --ignore-not-found -k config/crd

.PHONY: deploy
deploy: manifests ## Deploy the operator (image IMG) to the current kubeconfig's cluster.
	$(KUBECTL) kustomize config/default | sed 's|controller:latest|$(IMG)|' | $(KUBECTL) apply --server-side -f -

.PHONY: undeploy
undeploy: ## Remove the operator's Deployment, RBAC and namespace (the CRDs, and so every object, stay).
	$(KUBECTL) kustomize config/default | go run ./hack/withoutcrds | $(KUBECTL) delete --ignore-not-found -f -

##@ Tools

$(CONTROLLER_GEN):
	@mkdir -p $(LOCALBIN)
	@grep -q 'sigs.k8s.io/controller-tools $(CONTROLLER_GEN_VERSION)' hack/tools/controller-gen/go.mod || { echo "hack/tools/controller-gen/go.mod does not pin controller-tools $(CONTROLLER_GEN_VERSION)"; exit 1; }
	cd hack/tools/controller-gen && GOFLAGS=-mod=readonly go build -o $(CONTROLLER_GEN) sigs.k8s.io/controller-tools/cmd/controller-gen

$(PROMTOOL):
	@mkdir -p $(LOCALBIN)
	@grep -q 'github.com/prometheus/prometheus $(PROMETHEUS_VERSION)' hack/tools/promtool/go.mod || { echo "hack/tools/promtool/go.mod does not pin prometheus $(PROMETHEUS_VERSION)"; exit 1; }
	cd hack/tools/promtool && GOFLAGS=-mod=readonly go build -tags $(PROMTOOL_TAGS) -o $(PROMTOOL) github.com/prometheus/prometheus/cmd/promtool

$(GOLANGCI_LINT):
	@mkdir -p $(LOCALBIN)
	@grep -q 'github.com/golangci/golangci-lint/v2 $(GOLANGCI_LINT_VERSION)' hack/tools/golangci-lint/go.mod || { echo "hack/tools/golangci-lint/go.mod does not pin golangci-lint $(GOLANGCI_LINT_VERSION)"; exit 1; }
	cd hack/tools/golangci-lint && GOFLAGS=-mod=readonly go build -o $(GOLANGCI_LINT) github.com/golangci/golangci-lint/v2/cmd/golangci-lint

##@ Benchmark

BENCH_ARGS ?=
.PHONY: bench
bench: envtest ## Measure remote calls, apiserver writes, latency, memory and CPU for 100/1,000/5,000 objects (BENCH_ARGS=-quick for a first look).
	KUBEBUILDER_ASSETS="$(ASSETS)" go run ./hack/bench $(BENCH_ARGS)

##@ Demo

.PHONY: demo
demo: envtest ## Run the operator on a local control plane against the local API simulator (no cluster, no Twilio account).
	@echo "Compiling the demo (a few seconds; longer on a cold Go cache)..."
	go run ./hack/demo $(DEMO_ARGS)

# ---- Release: `make release`, `make image` (hack/release/, no Docker needed) ----
##@ Release

# The Go release that builds the shipped binaries: a patched one, fetched once
# (about 76 MB) from the module proxy through GOTOOLCHAIN.
RELEASE_TOOLCHAIN ?= go1.27.3
RELEASE_PLATFORMS ?= linux/amd64,linux/arm64
CYCLONEDX_GOMOD_VERSION ?= v1.10.0
CYCLONEDX_GOMOD := $(LOCALBIN)/cyclonedx-gomod-$(CYCLONEDX_GOMOD_VERSION)
# Where releases are written; gitignored, emptied by each release.
DIST := $(CURDIR)/dist
RELEASE_TOOL = cd hack/release && go run . -root $(CURDIR) -out $(DIST) -toolchain $(RELEASE_TOOLCHAIN) -platforms $(RELEASE_PLATFORMS)

# The dirty-tree check is made here as well as in hack/release, so that it
# fails before the vulnerability scan.
.PHONY: release
release: $(CYCLONEDX_GOMOD) ## Release VERSION (x.y.z) of the commit into dist/: binaries, image, crds.yaml, install.yaml, SBOM, notes, SHA256SUMS (ALLOW_DIRTY=1 for a trial).
	@if [ -z "$(VERSION)" ]; then echo "make release needs a version: make release VERSION=0.1.0"; exit 1; fi
	@if [ "$(ALLOW_DIRTY)" != 1 ] && [ -n "$$(git status --porcelain)" ]; then \
		echo "the work tree has changes not committed (git status): commit them, or ALLOW_DIRTY=1 for a trial release stamped <commit>-dirty"; exit 1; \
	fi
	VULNCHECK_STDLIB=fail GOTOOLCHAIN=$(RELEASE_TOOLCHAIN) hack/vulncheck.sh
	rm -rf $(DIST)
	$(RELEASE_TOOL) -version $(VERSION) -sbom-tool $(CYCLONEDX_GOMOD) $(if $(filter 1,$(ALLOW_DIRTY)),-allow-dirty) release

.PHONY: image
image: ## Build the image without Docker into dist/ (OCI layout, docker-archive tarball); VERSION defaults to 0.0.0-dev.
	rm -rf $(DIST)
	$(RELEASE_TOOL) -version $(or $(VERSION),0.0.0-dev) -allow-dirty image

$(CYCLONEDX_GOMOD):
	@mkdir -p $(LOCALBIN)
	@grep -q 'github.com/CycloneDX/cyclonedx-gomod $(CYCLONEDX_GOMOD_VERSION)' hack/tools/cyclonedx-gomod/go.mod || { echo "hack/tools/cyclonedx-gomod/go.mod does not pin cyclonedx-gomod $(CYCLONEDX_GOMOD_VERSION)"; exit 1; }
	cd hack/tools/cyclonedx-gomod && GOFLAGS=-mod=readonly go build -o $(CYCLONEDX_GOMOD) github.com/CycloneDX/cyclonedx-gomod/cmd/cyclonedx-gomod
# ---- end of Release ----
