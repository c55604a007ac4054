// Command release builds a voice-operator release from the commit checked
// out, without Docker, into one folder (dist/ when run by `make release`):
//
//	voice-operator-<version>-linux-<arch>    the manager, static and stamped, per platform
//	image/oci/                               the image as an OCI layout: an index of one image per platform
//	voice-operator-<version>-image.tar       the linux/amd64 image as a docker-archive (docker load)
//	voice-operator-<version>-image-<arch>.tar  the same for each other architecture
//	crds.yaml                                the CRDs (kustomize build config/crd)
//	install.yaml                             everything, the image pinned by digest (config/default)
//	voice-operator-<version>.sbom.cdx.json   CycloneDX SBOM of the manager (with -sbom-tool)
//	RELEASE-NOTES.md, SHA256SUMS
//
// Everything depends only on the commit: each timestamp is the commit's
// time, so building the same commit again gives the same bytes and the same
// image digest. `image` stops after the binaries and the image; `crds`
// writes crds.yaml alone, as the release does (for tests that apply it).
//
//	cd hack/release && go run . -version 0.1.0 -toolchain go1.27.3 -sbom-tool ../../bin/cyclonedx-gomod-v1.10.0 release
//	cd hack/release && go run . -version 0.0.0-dev -allow-dirty image
//
// It is a module of its own so that its dependencies (go-containerregistry,
// kustomize, the CA bundle) never enter the operator's go.mod, SBOM or
// vulnerability scan.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"syscall"
	"time"

	"github.com/twilio-operator/voice-operator/internal/localenv"
)

// options are the command line.
type options struct {
	command    string // "release", "image" or "crds"
	root, out  string
	version    string
	toolchain  string
	platforms  []Platform
	sbomTool   string
	allowDirty bool
}

func main() {
	o, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "release:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "release:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (options, error) {
	var o options
	var platforms string
	fs := flag.NewFlagSet("release", flag.ContinueOnError)
	fs.StringVar(&o.root, "root", "", "the voice-operator checkout (default: the one holding the working directory)")
	fs.StringVar(&o.out, "out", "", "the folder to write the release to; it must be empty or absent (default: dist/ in the checkout)")
	fs.StringVar(&o.version, "version", "", "the release's version, such as 0.1.0 (semantic versioning, no leading v)")
	fs.StringVar(&o.toolchain, "toolchain", "", "the Go toolchain to build the manager with, such as go1.27.3 (GOTOOLCHAIN); empty: the environment's")
	fs.StringVar(&platforms, "platforms", "linux/amd64,linux/arm64", "the platforms to build the manager and the image for")
	fs.StringVar(&o.sbomTool, "sbom-tool", "", "the cyclonedx-gomod binary (release only; required there)")
	fs.BoolVar(&o.allowDirty, "allow-dirty", false, "build from a work tree with changes not committed, stamped <commit>-dirty")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: release [flags] release|image|crds\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() != 1 || (fs.Arg(0) != "release" && fs.Arg(0) != "image" && fs.Arg(0) != "crds") {
		fs.Usage()
		return o, errors.New("say what to build: release, image or crds")
	}
	o.command = fs.Arg(0)
	if err := checkVersion(o.version); err != nil {
		return o, err
	}
	if o.command == "release" && o.sbomTool == "" {
		return o, errors.New("-sbom-tool is required for a release")
	}
	var err error
	if o.platforms, err = parsePlatforms(platforms); err != nil {
		return o, err
	}
	if o.root == "" {
		if o.root, err = localenv.RepoRoot(); err != nil {
			return o, err
		}
	}
	if o.out == "" {
		o.out = filepath.Join(o.root, "dist")
	}
	return o, nil
}

// semver is a semantic version without build metadata, whose "+" an image
// tag cannot hold.
var semver = regexp.MustCompile(`^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$`)

// checkVersion accepts a version such as 0.1.0 or 0.2.0-rc.1.
func checkVersion(v string) error {
	if v == "" {
		return errors.New("-version is required, such as -version 0.1.0")
	}
	if !semver.MatchString(v) {
		return fmt.Errorf("version %q: want a semantic version such as 0.1.0 or 0.2.0-rc.1, without a leading v or +metadata", v)
	}
	return nil
}

func run(ctx context.Context, o options, log io.Writer) error {
	progress := localenv.NewProgress(log)
	progress.Every = 15 * time.Second
	src, err := readSource(ctx, o.root)
	if err != nil {
		return err
	}
	if src.Dirty && !o.allowDirty {
		return fmt.Errorf("the work tree has changes not committed (see git status): a release is built from a commit; commit them, or allow a trial build stamped %s-dirty (ALLOW_DIRTY=1)", src.Commit)
	}
	if err := emptyFolder(o.out); err != nil {
		return err
	}
	meta := Meta{Version: o.version, Source: src}
	progress.Printf("voice-operator %s from %s (%s) into %s", meta.Version, src.Revision(), src.Date(), o.out)
	if !src.Dirty {
		// Build from the commit itself, not from a work tree someone may
		// edit while this runs; a trial build of a dirty tree takes it as
		// it is.
		tree, remove, err := snapshot(ctx, o.root, src.Commit, o.version)
		if err != nil {
			return err
		}
		defer remove()
		o.root = tree
	}
	if o.command == "crds" {
		return writeCRDs(o.root, o.out, meta)
	}

	images, err := buildImages(ctx, progress, o.root, o.out, o.platforms, meta, o.toolchain)
	if err != nil {
		return err
	}
	tarballs, err := writeImages(o.out, images, meta)
	if err != nil {
		return err
	}
	index, err := images.Index.Digest()
	if err != nil {
		return err
	}
	progress.Printf("image %s:%s, digest %s", Repository, meta.Version, index)
	if o.command == "image" {
		return nil
	}

	if err := progress.Step("Writing crds.yaml and install.yaml (kustomize)", "writing", func() error {
		return writeManifests(o.root, o.out, meta, images)
	}); err != nil {
		return err
	}
	sbom := filepath.Join(o.out, fmt.Sprintf("voice-operator-%s.sbom.cdx.json", meta.Version))
	if err := progress.Step("Writing the SBOM (cyclonedx-gomod)", "writing", func() error {
		return writeSBOM(ctx, o.sbomTool, o.root, sbom, o.platforms[0], o.toolchain)
	}); err != nil {
		return err
	}
	if err := writeNotes(o.out, meta, images, tarballs); err != nil {
		return err
	}
	if err := writeSums(o.out); err != nil {
		return err
	}
	progress.Printf("release %s written to %s; see %s", meta.Version, o.out, notesFile)
	return nil
}

// emptyFolder makes sure dir exists and holds nothing, so that no file of an
// earlier build ends up in the checksums. It never deletes: `make release`
// clears dist/ itself.
func emptyFolder(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return os.MkdirAll(dir, 0o755)
	}
	if err != nil {
		return err
	}
	if len(entries) > 0 {
		return fmt.Errorf("%s is not empty; remove it first (make release does)", dir)
	}
	return nil
}
