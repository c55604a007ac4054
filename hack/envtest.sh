#!/usr/bin/env bash
# Builds the programs envtest and the end-to-end suite need (kube-apiserver,
# etcd, kubectl, and kube-controller-manager, whose namespace controller the
# end-to-end control plane runs) from source through the Go module proxy, because the release
# bucket that setup-envtest downloads from is unreachable from our machines.
#
# The versions are pinned by the wrapper modules' go.mod/go.sum under
# hack/tools/; this script only chooses where the binaries land:
#   bin/k8s/<kube version>/{kube-apiserver,etcd,kubectl,kube-controller-manager}
# A folder that already holds all four is left alone, so calling this from
# every `make test` costs nothing after the first time.
#
# Binaries someone already has are used instead of being built:
#   - KUBEBUILDER_ASSETS, when set, names a folder with kube-apiserver and etcd
#     (and perhaps kubectl), as setup-envtest or a CI image provides them;
#   - otherwise setup-envtest, when on PATH, is asked for installed binaries
#     of <kube version> (never to download).
# What such a folder lacks (setup-envtest ships no kube-controller-manager)
# is built, and the folder printed links both: bin/k8s/given-<hash>.
#
# Usage: hack/envtest.sh <kube version> <etcd version>   (prints the folder)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
kube_version=${1:?kube version, e.g. 1.37.2}
etcd_version=${2:?etcd version, e.g. 3.6.16}
dest="$root/bin/k8s/$kube_version"

say() { printf '[envtest] %s\n' "$*" >&2; }

# pinned checks the wrapper modules still ask for the versions we were given,
# so the Makefile and go.mod cannot silently disagree.
pinned() {
	local mod=$1 path=$2 want=$3
	if ! grep -q "^require $path $want\$" "$mod/go.mod"; then
		say "hack/tools/$(basename "$mod")/go.mod does not pin $path $want; update both together"
		exit 1
	fi
}
pinned "$root/hack/tools/envtest" k8s.io/kubernetes "v$kube_version"
pinned "$root/hack/tools/etcd" go.etcd.io/etcd/server/v3 "v$etcd_version"

complete() { [[ -x "$1/kube-apiserver" && -x "$1/etcd" && -x "$1/kubectl" && -x "$1/kube-controller-manager" ]]; }

# given is the folder of binaries someone already has, or nothing.
given() {
	if [[ -n "${KUBEBUILDER_ASSETS:-}" ]]; then
		if [[ ! -x "$KUBEBUILDER_ASSETS/kube-apiserver" || ! -x "$KUBEBUILDER_ASSETS/etcd" ]]; then
			say "KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS holds no kube-apiserver and etcd"
			exit 1
		fi
		echo "$KUBEBUILDER_ASSETS"
	elif command -v setup-envtest >/dev/null; then
		setup-envtest use --installed-only --print path "$kube_version" 2>/dev/null || true
	fi
}

src=$(given)
if [[ -n "$src" ]]; then
	src=$(cd "$src" && pwd)
	if complete "$src"; then
		echo "$src"
		exit 0
	fi
	have=$("$src/kube-apiserver" --version 2>/dev/null || true)
	if [[ "$have" != "Kubernetes v$kube_version" ]]; then
		say "note: $src/kube-apiserver is ${have:-of an unknown version}, not v$kube_version"
	fi
	dest="$root/bin/k8s/given-$(printf '%s' "$src" | sha256sum | cut -c1-12)"
	mkdir -p "$dest"
	for bin in kube-apiserver etcd kubectl kube-controller-manager; do
		if [[ -x "$src/$bin" ]]; then
			ln -sfn "$src/$bin" "$dest/$bin"
		elif [[ -x "$root/bin/k8s/$kube_version/$bin" ]]; then
			ln -sfn "$root/bin/k8s/$kube_version/$bin" "$dest/$bin" # built here before
		fi
	done
	say "using $src, and building what it lacks into $dest"
fi

if complete "$dest"; then
	echo "$dest"
	exit 0
fi
mkdir -p "$dest"

# build runs `go build` in a wrapper module, printing a line every 20 seconds
# so nobody stares at a silent terminal during the first, slow build.
build() {
	local mod=$1 pkg=$2 out=$3 ldflags=${4:-}
	if [[ -x "$out" ]]; then return 0; fi
	say "building $(basename "$out") from $pkg (first time only; a few minutes on 2 cores)"
	local start=$SECONDS
	(cd "$mod" && GOFLAGS=-mod=readonly CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$out.tmp" "$pkg") &
	local pid=$!
	while kill -0 "$pid" 2>/dev/null; do
		sleep 2
		if (( (SECONDS - start) % 20 < 2 && SECONDS > start + 1 )); then
			say "  still building $(basename "$out") ($((SECONDS - start))s)"
			sleep 1
		fi
	done
	wait "$pid"
	mv "$out.tmp" "$out"
	say "built $(basename "$out") in $((SECONDS - start))s"
}

stamp="-s -w -X k8s.io/component-base/version.gitVersion=v$kube_version -X k8s.io/component-base/version.gitMajor=${kube_version%%.*} -X k8s.io/component-base/version.gitMinor=$(cut -d. -f2 <<<"$kube_version")"
build "$root/hack/tools/etcd" go.etcd.io/etcd/server/v3 "$dest/etcd" "-s -w"
build "$root/hack/tools/envtest" k8s.io/kubernetes/cmd/kube-apiserver "$dest/kube-apiserver" "$stamp"
build "$root/hack/tools/envtest" k8s.io/kubernetes/cmd/kubectl "$dest/kubectl" "$stamp"
build "$root/hack/tools/envtest" k8s.io/kubernetes/cmd/kube-controller-manager "$dest/kube-controller-manager" "$stamp"
echo "$dest"
