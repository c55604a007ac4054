package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/x509roots/fallback/bundle"
)

// TestSourceIsTheCommitAndItsTime makes a repository with one commit: the
// release's source is that commit, dated by its committer, and any change
// to the tree, an untracked file included, makes it dirty; its snapshot
// holds the commit's files only.
func TestSourceIsTheCommitAndItsTime(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	runGit := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=a", "GIT_AUTHOR_EMAIL=a@example.com", "GIT_COMMITTER_NAME=c", "GIT_COMMITTER_EMAIL=c@example.com",
			"GIT_AUTHOR_DATE=2020-01-01T00:00:00Z", "GIT_COMMITTER_DATE=2026-11-25T19:05:54+01:00")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	runGit("init", "-q")
	must(t, os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n"), 0o600))
	runGit("add", "main.go")
	runGit("commit", "-q", "-m", "one")
	head, err := git(ctx, dir, "rev-parse", "HEAD")
	must(t, err)

	src, err := readSource(ctx, dir)
	must(t, err)
	if src.Commit != head || src.Dirty || src.Revision() != head {
		t.Errorf("source %+v, want commit %s, clean", src, head)
	}
	if src.Date() != "2026-11-25T18:05:54Z" {
		t.Errorf("date %s, want the committer's time in UTC, 2026-11-25T18:05:54Z", src.Date())
	}

	must(t, os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("draft\n"), 0o600))
	src, err = readSource(ctx, dir)
	must(t, err)
	if !src.Dirty || src.Revision() != head+"-dirty" {
		t.Errorf("with an untracked file: %+v, revision %s; want it dirty", src, src.Revision())
	}

	// What a release builds from is the commit, whatever the work tree
	// holds meanwhile.
	must(t, os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main // edited during the build\n"), 0o600))
	tree, remove, err := snapshot(ctx, dir, head, "1.2.3")
	must(t, err)
	defer remove()
	got, err := os.ReadFile(filepath.Join(tree, "main.go"))
	must(t, err)
	if string(got) != "package main\n" {
		t.Errorf("the snapshot's main.go is %q, want the committed one", got)
	}
	if _, err := os.Stat(filepath.Join(tree, "notes.txt")); !os.IsNotExist(err) {
		t.Errorf("the snapshot holds the untracked notes.txt (%v)", err)
	}
	if tags, err := git(ctx, tree, "tag", "--points-at", "HEAD"); err != nil || tags != "v1.2.3" {
		t.Errorf("the snapshot's HEAD is tagged %q (%v), want v1.2.3 for the SBOM", tags, err)
	}
	if tags, err := git(ctx, dir, "tag"); err != nil || tags != "" {
		t.Errorf("the checkout itself got tags %q (%v); the release tags its clone only", tags, err)
	}
}

// TestVersionIsSemantic: what becomes the image tag and the stamped
// version must be a semantic version an image tag can hold.
func TestVersionIsSemantic(t *testing.T) {
	for _, v := range []string{"0.1.0", "1.12.3", "0.2.0-rc.1", "0.0.0-dev"} {
		if err := checkVersion(v); err != nil {
			t.Errorf("%s refused: %v", v, err)
		}
	}
	for _, v := range []string{"", "v0.1.0", "0.1", "0.1.0+build.5", "01.2.3", "latest", "0.1.0-"} {
		if err := checkVersion(v); err == nil {
			t.Errorf("%q accepted", v)
		}
	}
}

// TestStampSetsEveryVersionVariable: each -X sets its own variable to its
// own value.
func TestStampSetsEveryVersionVariable(t *testing.T) {
	got := Stamp{Version: "0.1.0", Commit: "abc123", Date: "2026-11-25T18:05:54Z"}.ldflags()
	want := "-s -w -X " + versionPackage + ".version=0.1.0 -X " + versionPackage + ".commit=abc123 -X " + versionPackage + ".date=2026-11-25T18:05:54Z"
	if got != want {
		t.Errorf("ldflags\n got %s\nwant %s", got, want)
	}
}

// TestCABundleHoldsTheUnconstrainedFallbackRoots: every root of the pinned
// bundle that NSS trusts without conditions is in the PEM file, in the
// bundle's order, and no constrained one is.
func TestCABundleHoldsTheUnconstrainedFallbackRoots(t *testing.T) {
	data, kept, skipped, err := caBundle()
	must(t, err)
	var want [][]byte
	var constrained [][]byte
	for root := range bundle.Roots() {
		if root.Constraint != nil {
			constrained = append(constrained, root.Certificate)
			continue
		}
		want = append(want, root.Certificate)
	}
	var got [][]byte
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		got = append(got, block.Bytes)
	}
	if len(want) < 100 || len(got) != len(want) || kept != len(want) || skipped != len(constrained) {
		t.Fatalf("%d roots in the PEM file (said %d, %d left out); the bundle has %d unconstrained, %d constrained", len(got), kept, skipped, len(want), len(constrained))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("root %d of the PEM file is not the bundle's", i)
		}
	}
	for _, c := range constrained {
		if bytes.Contains(data, []byte(pemOf(c))) {
			t.Error("a constrained root is in the PEM file")
		}
	}
}

func pemOf(der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// TestLayerDependsOnlyOnItsFilesAndTime: the same files given in another
// order make the same layer; another time makes another.
func TestLayerDependsOnlyOnItsFilesAndTime(t *testing.T) {
	when := time.Date(2026, 11, 25, 18, 5, 54, 0, time.UTC)
	files := []file{{name: "b", mode: 0o644, data: []byte("b")}, {name: "a/", mode: 0o755}, {name: "a/c", mode: 0o600, owner: 7, data: []byte("c")}}
	reversed := []file{files[2], files[1], files[0]}
	digest := func(fs []file, at time.Time) string {
		l, err := newLayer(fs, at)
		must(t, err)
		d, err := l.Digest()
		must(t, err)
		return d.String()
	}
	if digest(files, when) != digest(reversed, when) {
		t.Error("the order the files were given in changed the layer")
	}
	if digest(files, when) == digest(files, when.Add(time.Second)) {
		t.Error("the time did not change the layer")
	}
}

// TestSumsCheckEveryFile: SHA256SUMS lists every file of the release, in
// folders too, in sha256sum's format and path order, and not itself.
func TestSumsCheckEveryFile(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{"b.yaml": "kind: B\n", "a.tar": "tar", "image/oci/index.json": "{}"}
	for name, content := range files {
		must(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755))
		must(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644))
	}
	must(t, writeSums(dir))
	must(t, writeSums(dir)) // again: the first SHA256SUMS is not listed

	data, err := os.ReadFile(filepath.Join(dir, sumsFile))
	must(t, err)
	var names []string
	for s := bufio.NewScanner(bytes.NewReader(data)); s.Scan(); {
		sum, name, ok := strings.Cut(s.Text(), "  ")
		if !ok {
			t.Fatalf("line %q is not in sha256sum's format", s.Text())
		}
		h := sha256.Sum256([]byte(files[name]))
		if sum != hex.EncodeToString(h[:]) {
			t.Errorf("%s: %s, want %x", name, sum, h)
		}
		names = append(names, name)
	}
	if want := []string{"a.tar", "b.yaml", "image/oci/index.json"}; strings.Join(names, ",") != strings.Join(want, ",") {
		t.Errorf("SHA256SUMS lists %v, want %v", names, want)
	}
}
