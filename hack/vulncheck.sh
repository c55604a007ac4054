#!/usr/bin/env bash
# Checks the operator for known vulnerabilities with govulncheck, offline:
# the vulnerability database is generated from the golang.org/x/vulndb module,
# which the Go module proxy serves like any other, instead of being fetched
# from vuln.go.dev, which our machines cannot reach.
#
# Versions are pinned by the wrapper modules under hack/tools/; this script
# only chooses where things land:
#   bin/govulncheck-<x/vuln version>-<go version>
#                                       hack/tools/govulncheck/go.mod
#   bin/gendb-<x/vulndb version>        hack/tools/vulndb/go.mod
#   bin/vulndb-<x/vulndb version>/      the database, built by gendb once and
#                                       reused until the pin changes
#   bin/vulngate                        hack/tools/govulncheck/vulngate, which
#                                       reads govulncheck's JSON and decides
#
# The check fails when the code calls a vulnerable function of a required
# module (a symbol-level finding). Called vulnerabilities in the Go standard
# library are printed but only fail with VULNCHECK_STDLIB=fail: CI builds with
# a Go release that has known, since fixed, ones, while release builds pin a
# patched Go through GOTOOLCHAIN and must be clean. Vulnerable packages that
# are imported but not called, and modules that are only required, are listed
# and never fail.
#
# Usage: hack/vulncheck.sh [module dir]   (default: the repository root)
#   VULNCHECK_STDLIB=report|fail          (default: report)
# Exit status: 0 passed, 1 something called is vulnerable, 2 the scan failed.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
dir=$(cd "${1:-$root}" && pwd)
stdlib=${VULNCHECK_STDLIB:-report}
tools="$root/hack/tools"
bin="$root/bin"

say() { printf '[vulncheck] %s\n' "$*" >&2; }

case "$stdlib" in
report | fail) ;;
*)
	say "VULNCHECK_STDLIB must be report or fail, not '$stdlib'"
	exit 2
	;;
esac

# pin prints the version of module path that the wrapper module mod requires.
pin() {
	local mod=$1 path=$2 version
	version=$(awk -v p="$path" '$1 == p { print $2 }' "$tools/$mod/go.mod")
	if [[ -z "$version" ]]; then
		say "hack/tools/$mod/go.mod does not require $path"
		exit 1
	fi
	echo "$version"
}
vuln_version=$(pin govulncheck golang.org/x/vuln)
vulndb_version=$(pin vulndb golang.org/x/vulndb)

# govulncheck type-checks the standard library of the Go that builds the
# module with its own go/types, so it must be built by that same Go: one built
# by go1.26 cannot parse go1.27's library. Hence one binary per Go version,
# built under GOTOOLCHAIN set to the Go the module selects.
goversion=$(cd "$dir" && go env GOVERSION)
govulncheck="$bin/govulncheck-$vuln_version-$goversion"
gendb="$bin/gendb-$vulndb_version"
db="$bin/vulndb-$vulndb_version"
vulngate="$bin/vulngate"

# build compiles pkg in wrapper module mod into out, unless out exists.
build() {
	local mod=$1 pkg=$2 out=$3
	if [[ -x "$out" ]]; then return 0; fi
	say "building $(basename "$out") (first time only)"
	local start=$SECONDS
	mkdir -p "$bin"
	(cd "$tools/$mod" && GOFLAGS=-mod=readonly go build -o "$out.tmp" "$pkg")
	mv "$out.tmp" "$out"
	say "built $(basename "$out") in $((SECONDS - start))s"
}

# build_db generates the database from the x/vulndb module's data/osv, the
# OSV entries its own deployment serves. gendb reads them from the HEAD commit
# of a git repository and takes each entry's modified (and, when unset,
# published) time from git history; the module zip has no history, so the
# snapshot is one commit dated at the vulndb commit the pin names. That date
# is the database's last-modified time, and the same pin always gives the
# same database.
build_db() {
	if [[ -d "$db" ]]; then return 0; fi
	build vulndb golang.org/x/vulndb/cmd/gendb "$gendb"
	say "generating the vulnerability database from golang.org/x/vulndb@$vulndb_version (first time only)"
	local start=$SECONDS src stamp
	(cd "$tools/vulndb" && GOFLAGS=-mod=readonly go mod download golang.org/x/vulndb)
	src=$(cd "$tools/vulndb" && GOFLAGS=-mod=readonly go list -m -f '{{.Dir}}' golang.org/x/vulndb)
	stamp=$(cd "$tools/vulndb" && GOFLAGS=-mod=readonly go list -m -f '{{.Time.UTC.Format "2006-01-02T15:04:05Z"}}' golang.org/x/vulndb)
	if [[ ! -d "$src/data/osv" ]]; then
		say "golang.org/x/vulndb@$vulndb_version has no data/osv in $src"
		exit 1
	fi

	snapshot=$(mktemp -d)
	dbtmp=$(mktemp -d "$db.XXXXXX")
	trap 'rm -rf "$snapshot" "$dbtmp"' EXIT
	mkdir -p "$snapshot/data"
	cp -R "$src/data/osv" "$snapshot/data/osv"
	chmod -R u+w "$snapshot" # the module cache is read-only
	(
		cd "$snapshot"
		export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1
		export GIT_AUTHOR_NAME=vulncheck GIT_AUTHOR_EMAIL=vulncheck@localhost GIT_AUTHOR_DATE=$stamp
		export GIT_COMMITTER_NAME=vulncheck GIT_COMMITTER_EMAIL=vulncheck@localhost GIT_COMMITTER_DATE=$stamp
		git init -q
		git add data
		git commit -q -m "golang.org/x/vulndb@$vulndb_version data/osv"
	)
	"$gendb" -repo "$snapshot" -out "$dbtmp"
	# Another run may have finished first; its database is the same.
	if [[ ! -d "$db" ]]; then mv "$dbtmp" "$db"; fi
	rm -rf "$snapshot" "$dbtmp"
	trap - EXIT
	say "generated $(find "$db/ID" -name '*.json' | wc -l) entries into bin/$(basename "$db") in $((SECONDS - start))s"
}

GOTOOLCHAIN=$goversion build govulncheck golang.org/x/vuln/cmd/govulncheck "$govulncheck"
build_db
# vulngate is this repository's own code: rebuild it every time (go build's
# cache makes that instant) so that it is never stale.
(cd "$tools/govulncheck" && GOFLAGS=-mod=readonly go build -o "$vulngate" ./vulngate)

# govulncheck runs in the module so that `go env GOVERSION`, which decides the
# standard library it checks, sees the same toolchain selection as `go build`.
# Its JSON goes through a file: govulncheck has no end-of-stream marker, so a
# scan that failed halfway must be caught by its exit status, before vulngate
# could mistake a truncated stream for a clean one.
cd "$dir"
say "scanning ./... in $dir with $goversion (standard library findings: $stdlib)"
start=$SECONDS
json=$(mktemp)
trap 'rm -f "$json"' EXIT
if ! "$govulncheck" -db "file://$db" -format json ./... >"$json"; then
	say "govulncheck failed after $((SECONDS - start))s"
	exit 2
fi
say "scanned in $((SECONDS - start))s"
"$vulngate" -stdlib "$stdlib" <"$json"
