package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/twilio-operator/voice-operator/internal/localenv"
)

// Images is the manager built for each platform and made into images.
type Images struct {
	// Toolchain is the Go release the binaries say built them.
	Toolchain string
	// Binaries are the manager's paths, one per platform, in Images' order.
	Binaries []string
	Images   []PlatformImage
	// Index holds every platform's image.
	Index v1.ImageIndex
	// Roots is how many CA roots the images trust; Skipped how many
	// constrained roots of the bundle were left out.
	Roots, Skipped int
}

// binaryName is the manager's file name for one platform.
func binaryName(version string, p Platform) string {
	return fmt.Sprintf("voice-operator-%s-%s-%s", version, p.OS, p.Arch)
}

// tarballName is the docker-archive file of one platform's image: the
// linux/amd64 one, which most machines load, has the plain name.
func tarballName(version string, p Platform) string {
	if p.Arch == "amd64" {
		return fmt.Sprintf("voice-operator-%s-image.tar", version)
	}
	return fmt.Sprintf("voice-operator-%s-image-%s.tar", version, p.Arch)
}

// layoutDir is where the OCI image layout goes in the release folder.
const layoutDir = "image/oci"

// buildImages builds the manager of the checkout at root for each platform
// into out, and an image from each.
func buildImages(ctx context.Context, progress *localenv.Progress, root, out string, platforms []Platform, meta Meta, toolchain string) (*Images, error) {
	caPEM, kept, skipped, err := caBundle()
	if err != nil {
		return nil, err
	}
	b := &Images{Roots: kept, Skipped: skipped}
	stamp := Stamp{Version: meta.Version, Commit: meta.Source.Revision(), Date: meta.Source.Date()}
	for _, p := range platforms {
		binary := filepath.Join(out, binaryName(meta.Version, p))
		what := fmt.Sprintf("Building the manager for %s", p)
		if toolchain != "" {
			what += " with " + toolchain + " (fetched once from the module proxy)"
		}
		var goVersion string
		if err := progress.Step(what, "building", func() (err error) {
			goVersion, err = buildManager(ctx, root, binary, p, stamp, toolchain)
			return err
		}); err != nil {
			return nil, err
		}
		if b.Toolchain != "" && goVersion != b.Toolchain {
			return nil, fmt.Errorf("the manager for %s was built with %s, the one before with %s", p, goVersion, b.Toolchain)
		}
		b.Toolchain = goVersion
		img, err := newImage(binary, p, meta, caPEM)
		if err != nil {
			return nil, fmt.Errorf("the image for %s: %w", p, err)
		}
		b.Binaries = append(b.Binaries, binary)
		b.Images = append(b.Images, PlatformImage{Platform: p, Image: img})
	}
	b.Index = newIndex(b.Images)
	return b, nil
}

// writeImages writes the index as an OCI layout and each platform's image
// as a docker-archive tarball into out, and returns which tarball holds
// which platform.
func writeImages(out string, b *Images, meta Meta) (map[string]Platform, error) {
	tag, err := meta.Tag()
	if err != nil {
		return nil, err
	}
	if err := writeLayout(filepath.Join(out, layoutDir), b.Index, tag); err != nil {
		return nil, fmt.Errorf("writing the OCI layout: %w", err)
	}
	tarballs := map[string]Platform{}
	for _, pi := range b.Images {
		file := tarballName(meta.Version, pi.Platform)
		if err := writeTarball(filepath.Join(out, file), tag, pi.Image); err != nil {
			return nil, fmt.Errorf("writing %s: %w", file, err)
		}
		tarballs[file] = pi.Platform
	}
	return tarballs, nil
}

// writeManifests writes crds.yaml and install.yaml into out, the latter
// pinning the index's digest.
func writeManifests(root, out string, meta Meta, b *Images) error {
	digest, err := b.Index.Digest()
	if err != nil {
		return err
	}
	if err := writeCRDs(root, out, meta); err != nil {
		return err
	}
	install, err := installYAML(root, digest)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(out, "install.yaml"), append([]byte(manifestHeader(meta)+"# Everything: kubectl apply --server-side -f install.yaml\n"), install...), 0o644)
}

// writeCRDs writes crds.yaml into out.
func writeCRDs(root, out string, meta Meta) error {
	crds, err := crdsYAML(root)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(out, "crds.yaml"), append([]byte(manifestHeader(meta)+"# The CRDs alone: kubectl apply --server-side -f crds.yaml\n"), crds...), 0o644)
}

// manifestHeader is the comment that opens crds.yaml and install.yaml.
func manifestHeader(meta Meta) string {
	return fmt.Sprintf("# voice-operator %s (commit %s)\n", meta.Version, meta.Source.Revision())
}

// writeSBOM runs cyclonedx-gomod on the main module of the checkout at root
// with the build constraints of the release build for p, so it lists the
// modules and the standard library of the toolchain linked into that
// binary, with their licenses (read from the module cache). It has no
// serial number and no timestamp, so that it too depends on the commit
// alone.
func writeSBOM(ctx context.Context, tool, root, path string, p Platform, toolchain string) error {
	cmd := exec.CommandContext(ctx, tool, "app", "-json", "-licenses", "-std", "-noserial", "-notimestamp",
		"-output", path, "-main", ".", root)
	cmd.Dir = root
	cmd.Env = buildEnv(p, toolchain)
	if output, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s app: %w\n%s", tool, err, strings.TrimSpace(string(output)))
	}
	return nil
}

// writeNotes writes RELEASE-NOTES.md, listing every file written so far.
func writeNotes(out string, meta Meta, b *Images, tarballs map[string]Platform) error {
	index, err := b.Index.Digest()
	if err != nil {
		return err
	}
	notes := Notes{Meta: meta, Toolchain: b.Toolchain, Index: index, Roots: b.Roots, Skipped: b.Skipped, Tarballs: tarballs}
	for _, pi := range b.Images {
		d, err := pi.Image.Digest()
		if err != nil {
			return err
		}
		notes.Images = append(notes.Images, PlatformDigest{Platform: pi.Platform, Digest: d})
	}
	files, err := hashFiles(out)
	if err != nil {
		return err
	}
	notes.Artifacts = topLevel(files)
	return os.WriteFile(filepath.Join(out, notesFile), []byte(notes.Markdown()), 0o644)
}
