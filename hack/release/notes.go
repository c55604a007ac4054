package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// sumsFile and notesFile are the release's own two files.
const (
	sumsFile  = "SHA256SUMS"
	notesFile = "RELEASE-NOTES.md"
)

// Artifact is one file of the release, or the image layout folder as a
// whole.
type Artifact struct {
	// Name is the path relative to the release folder, with slashes.
	Name   string
	Size   int64
	SHA256 string
}

// hashFiles hashes every regular file under dir, SHA256SUMS aside, in path
// order (filepath.WalkDir's lexical order).
func hashFiles(dir string) ([]Artifact, error) {
	var out []Artifact
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil || rel == sumsFile {
			return err
		}
		sum, size, err := hashFile(path)
		if err != nil {
			return err
		}
		out = append(out, Artifact{Name: filepath.ToSlash(rel), Size: size, SHA256: sum})
		return nil
	})
	return out, err
}

func hashFile(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer func() { _ = f.Close() }() // read only
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// writeSums writes SHA256SUMS in sha256sum's format over every file of the
// release, the image layout's blobs included, so that `sha256sum -c
// SHA256SUMS` in the folder checks all of it.
func writeSums(dir string) error {
	files, err := hashFiles(dir)
	if err != nil {
		return err
	}
	var b strings.Builder
	for _, f := range files {
		fmt.Fprintf(&b, "%s  %s\n", f.SHA256, f.Name)
	}
	return os.WriteFile(filepath.Join(dir, sumsFile), []byte(b.String()), 0o644)
}

// topLevel turns the list of every file into what a person downloads: the
// files at the top, and each folder (the image layout) as one entry with
// its total size and no checksum.
func topLevel(files []Artifact) []Artifact {
	var out []Artifact
	folders := map[string]int{} // folder → index in out
	for _, f := range files {
		folder, _, nested := strings.Cut(f.Name, "/")
		if !nested {
			out = append(out, f)
			continue
		}
		i, seen := folders[folder]
		if !seen {
			i = len(out)
			folders[folder] = i
			out = append(out, Artifact{Name: folder + "/"})
		}
		out[i].Size += f.Size
	}
	return out
}

// Notes is what RELEASE-NOTES.md says.
type Notes struct {
	Meta Meta
	// Toolchain is the Go release the binaries say built them.
	Toolchain string
	// Index is the digest of the multi-platform image, the one install.yaml
	// pins; Images are its platforms' manifests.
	Index  v1.Hash
	Images []PlatformDigest
	// Roots is how many CA roots the image trusts, Skipped how many of the
	// fallback bundle's constrained roots were left out.
	Roots, Skipped int
	// Tarballs names each docker-archive tarball's platform.
	Tarballs map[string]Platform
	// Artifacts are the release's files, as topLevel lists them.
	Artifacts []Artifact
}

// PlatformDigest is the manifest digest of one platform's image.
type PlatformDigest struct {
	Platform Platform
	Digest   v1.Hash
}

// Markdown renders the notes.
func (n Notes) Markdown() string {
	var b strings.Builder
	m := n.Meta
	tag := Repository + ":" + m.Version
	fmt.Fprintf(&b, "# voice-operator %s\n\n", m.Version)
	fmt.Fprintf(&b, "| | |\n| --- | --- |\n")
	fmt.Fprintf(&b, "| Version | %s |\n", m.Version)
	fmt.Fprintf(&b, "| Commit | `%s` |\n", m.Source.Revision())
	fmt.Fprintf(&b, "| Commit time (every timestamp of the release) | %s |\n", m.Source.Date())
	fmt.Fprintf(&b, "| Go toolchain | %s |\n", n.Toolchain)
	fmt.Fprintf(&b, "| Image | `%s` |\n", tag)
	fmt.Fprintf(&b, "| Image digest (index, pinned by install.yaml) | `%s` |\n", n.Index)
	for _, pd := range n.Images {
		fmt.Fprintf(&b, "| %s manifest | `%s` |\n", pd.Platform, pd.Digest)
	}
	fmt.Fprintf(&b, "| CA roots in the image | %d, from %s %s (%d constrained roots left out) |\n",
		n.Roots, fallbackModule, moduleVersion(fallbackModule), n.Skipped)

	fmt.Fprintf(&b, "\n## Install\n\n```sh\nkubectl apply --server-side -f install.yaml\n```\n\n")
	fmt.Fprintf(&b, "install.yaml runs `%s@%s`. crds.yaml holds the CRDs alone.\n", Repository, n.Index)

	fmt.Fprintf(&b, "\n## Publish the image\n\n```sh\ncrane push image/oci %s\n```\n\n", tag)
	fmt.Fprintf(&b, "pushes the index, every platform, under the digest install.yaml pins.")
	for _, a := range n.Artifacts {
		if p, ok := n.Tarballs[a.Name]; ok {
			fmt.Fprintf(&b, " %s is the %s image alone, tagged `%s`, for `docker load` or `kind load image-archive`.", a.Name, p, tag)
		}
	}
	fmt.Fprintf(&b, "\n\n## Artifacts\n\n`sha256sum -c SHA256SUMS` checks every file, the image layout's included.\n\n")
	fmt.Fprintf(&b, "| File | Size | SHA-256 |\n| --- | ---: | --- |\n")
	for _, a := range n.Artifacts {
		sum := "(see SHA256SUMS)"
		if a.SHA256 != "" {
			sum = "`" + a.SHA256 + "`"
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", a.Name, humanSize(a.Size), sum)
	}
	return b.String()
}

// humanSize is a size in MiB or KiB, with the exact bytes.
func humanSize(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB (%d bytes)", float64(n)/(1<<20), n)
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB (%d bytes)", float64(n)/(1<<10), n)
	}
	return fmt.Sprintf("%d bytes", n)
}
