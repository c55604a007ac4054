package main

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	cranecmd "github.com/google/go-containerregistry/cmd/crane/cmd"
	"github.com/google/go-containerregistry/pkg/crane"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// openedImage is the release's image as one tool reads it.
type openedImage struct {
	from string
	img  v1.Image
}

// openLayoutImage reads the OCI layout as `crane push DIR` does (its one
// entry, an index) and returns the index's image for platform.
func openLayoutImage(t *testing.T, dir string, p Platform) v1.Image {
	t.Helper()
	outer, err := layout.ImageIndexFromPath(dir)
	must(t, err)
	entries, err := outer.IndexManifest()
	must(t, err)
	if len(entries.Manifests) != 1 || entries.Manifests[0].MediaType != types.OCIImageIndex {
		t.Fatalf("index.json holds %+v; want exactly one entry, the image's index", entries.Manifests)
	}
	idx, err := outer.ImageIndex(entries.Manifests[0].Digest)
	must(t, err)
	manifest, err := idx.IndexManifest()
	must(t, err)
	for _, desc := range manifest.Manifests {
		if desc.Platform != nil && desc.Platform.OS == p.OS && desc.Platform.Architecture == p.Arch {
			img, err := idx.Image(desc.Digest)
			must(t, err)
			return img
		}
	}
	t.Fatalf("the index has no image for %s: %+v", p, manifest.Manifests)
	return nil
}

// openedImages are the image as the OCI layout and as the tarball hold it.
func openedImages(t *testing.T, r *testRelease) []openedImage {
	t.Helper()
	fromLayout := openLayoutImage(t, r.layoutPath(), r.platform)
	fromTarball, err := tarball.ImageFromPath(r.tarballPath(), nil)
	must(t, err)
	return []openedImage{{"OCI layout", fromLayout}, {"docker-archive tarball", fromTarball}}
}

// eachEntry calls fn with every entry of every layer of img, in layer
// order, and a reader of the entry's content.
func eachEntry(t *testing.T, img v1.Image, fn func(layer int, hdr *tar.Header, content io.Reader)) {
	t.Helper()
	layers, err := img.Layers()
	must(t, err)
	for i, l := range layers {
		rc, err := l.Uncompressed()
		must(t, err)
		tr := tar.NewReader(rc)
		for {
			hdr, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			must(t, err)
			fn(i, hdr, tr)
		}
		must(t, rc.Close())
	}
}

// TestImageRunsTheManagerAsNonRoot reads the image back from both the OCI
// layout and the tarball: the manager is the entrypoint, run as
// 65532:65532 from /, and the labels say which release and commit it is.
func TestImageRunsTheManagerAsNonRoot(t *testing.T) {
	r := release(t)
	for _, o := range openedImages(t, r) {
		t.Run(o.from, func(t *testing.T) {
			cfg, err := o.img.ConfigFile()
			must(t, err)
			if cfg.OS != "linux" || cfg.Architecture != r.platform.Arch {
				t.Errorf("platform %s/%s, want %s", cfg.OS, cfg.Architecture, r.platform)
			}
			if cfg.Config.User != "65532:65532" {
				t.Errorf("User %q, want 65532:65532 (nonroot)", cfg.Config.User)
			}
			if !slices.Equal(cfg.Config.Entrypoint, []string{"/manager"}) || len(cfg.Config.Cmd) != 0 {
				t.Errorf("Entrypoint %q Cmd %q, want [/manager] and no Cmd", cfg.Config.Entrypoint, cfg.Config.Cmd)
			}
			if cfg.Config.WorkingDir != "/" {
				t.Errorf("WorkingDir %q, want /", cfg.Config.WorkingDir)
			}
			if !cfg.Created.Equal(r.meta.Source.Time) {
				t.Errorf("created %s, want the commit's time %s", cfg.Created, r.meta.Source.Date())
			}
			want := map[string]string{
				"org.opencontainers.image.title":       "voice-operator",
				"org.opencontainers.image.description": "Kubernetes operator for Twilio Voice v2 Client Configurations and the account's default configuration",
				"org.opencontainers.image.version":     testVersion,
				"org.opencontainers.image.revision":    r.meta.Source.Revision(),
				"org.opencontainers.image.created":     r.meta.Source.Time.Format(time.RFC3339),
				"org.opencontainers.image.source":      "https://github.com/twilio-operator/voice-operator",
				"org.opencontainers.image.url":         "https://github.com/twilio-operator/voice-operator",
				"org.opencontainers.image.licenses":    "Apache-2.0",
			}
			if diff := cmp.Diff(want, cfg.Config.Labels); diff != "" {
				t.Errorf("labels (-want +got):\n%s", diff)
			}
		})
	}
}

// TestImageHoldsTheManagerAndCABundleOnly lists every file of every layer:
// the CA bundle and the manager, nothing else (so no shell, no libc), each
// owned by number with no user names and dated at the commit, so that no
// detail of the machine that built it gets in.
func TestImageHoldsTheManagerAndCABundleOnly(t *testing.T) {
	r := release(t)
	type file struct {
		layer     int
		name      string
		mode      int64
		uid, gid  int
		directory bool
	}
	want := []file{
		{0, "etc/", 0o755, 0, 0, true},
		{0, "etc/ssl/", 0o755, 0, 0, true},
		{0, "etc/ssl/certs/", 0o755, 0, 0, true},
		{0, "etc/ssl/certs/ca-certificates.crt", 0o644, 0, 0, false},
		{1, "manager", 0o755, 65532, 65532, false},
	}
	for _, o := range openedImages(t, r) {
		t.Run(o.from, func(t *testing.T) {
			var got []file
			eachEntry(t, o.img, func(layer int, h *tar.Header, _ io.Reader) {
				got = append(got, file{layer, h.Name, h.Mode, h.Uid, h.Gid, h.Typeflag == tar.TypeDir})
				if shell := path.Base(h.Name); slices.Contains([]string{"sh", "bash", "ash", "dash", "zsh", "busybox"}, shell) || strings.HasPrefix(h.Name, "bin/") {
					t.Errorf("the image holds %s: no shell belongs in it", h.Name)
				}
				if h.Uname != "" || h.Gname != "" {
					t.Errorf("%s is owned by the names %q:%q; only numbers belong in the image", h.Name, h.Uname, h.Gname)
				}
				if !h.ModTime.Equal(r.meta.Source.Time) || h.Format != tar.FormatUSTAR {
					t.Errorf("%s: time %s in %s format, want the commit's time %s in USTAR", h.Name, h.ModTime, h.Format, r.meta.Source.Date())
				}
			})
			if diff := cmp.Diff(want, got, cmp.AllowUnexported(file{})); diff != "" {
				t.Errorf("layer entries (-want +got):\n%s", diff)
			}
		})
	}
}

// TestSameSourceGivesTheSameImage builds the release a second time from
// the same commit: the image digest, the OCI layout and the tarball are the
// same to the byte.
func TestSameSourceGivesTheSameImage(t *testing.T) {
	first := release(t)
	second, err := buildTestRelease(context.Background(), first.root, t.TempDir())
	must(t, err)
	firstDigest, err := first.images.Index.Digest()
	must(t, err)
	secondDigest, err := second.images.Index.Digest()
	must(t, err)
	if firstDigest != secondDigest {
		t.Errorf("the image digest changed between two builds of one commit: %s, then %s", firstDigest, secondDigest)
	}
	firstFiles, err := hashFiles(first.dir)
	must(t, err)
	secondFiles, err := hashFiles(second.dir)
	must(t, err)
	if diff := cmp.Diff(firstFiles, secondFiles); diff != "" {
		t.Errorf("the files of two builds of one commit differ (-first +second):\n%s", diff)
	}
}

// TestTarballHoldsTheLayoutsImage: the docker-archive holds the same
// configuration and layers as the layout's image of its platform, under the
// release's tag.
func TestTarballHoldsTheLayoutsImage(t *testing.T) {
	r := release(t)
	opened := openedImages(t, r)
	fromLayout, fromTarball := opened[0].img, opened[1].img
	for _, get := range []struct {
		what   string
		digest func(v1.Image) ([]v1.Hash, error)
	}{
		{"config", func(img v1.Image) ([]v1.Hash, error) {
			h, err := img.ConfigName()
			return []v1.Hash{h}, err
		}},
		{"layers", layerDigests},
	} {
		want, err := get.digest(fromLayout)
		must(t, err)
		got, err := get.digest(fromTarball)
		must(t, err)
		if !slices.Equal(want, got) {
			t.Errorf("the tarball's %s are %v, the layout's %v", get.what, got, want)
		}
	}
	manifest, err := tarball.LoadManifest(func() (io.ReadCloser, error) { return os.Open(r.tarballPath()) })
	must(t, err)
	if len(manifest) != 1 || !slices.Equal(manifest[0].RepoTags, []string{Repository + ":" + testVersion}) {
		t.Errorf("the tarball's manifest.json is %+v; want one image tagged %s:%s", manifest, Repository, testVersion)
	}
}

func layerDigests(img v1.Image) ([]v1.Hash, error) {
	layers, err := img.Layers()
	if err != nil {
		return nil, err
	}
	var out []v1.Hash
	for _, l := range layers {
		d, err := l.Digest()
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// TestCranePushKeepsTheDigestInstallYAMLPins runs crane's own push command
// against a registry in this process: pushing the OCI layout stores the
// index under the digest the release pins, and the tarball pushes too.
func TestCranePushKeepsTheDigestInstallYAMLPins(t *testing.T) {
	r := release(t)
	reg := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer reg.Close()
	host := strings.TrimPrefix(reg.URL, "http://")
	want, err := r.images.Index.Digest()
	must(t, err)

	pushed := cranePush(t, r.layoutPath(), host+"/twilio-operator/voice-operator:"+testVersion)
	if pushed != host+"/twilio-operator/voice-operator@"+want.String() {
		t.Errorf("crane push of the layout printed %s; want the index digest %s", pushed, want)
	}
	got, err := crane.Digest(host+"/twilio-operator/voice-operator:"+testVersion, crane.Insecure)
	must(t, err)
	if got != want.String() {
		t.Errorf("the registry holds %s under the tag, want %s", got, want)
	}

	tarballRef := host + "/twilio-operator/voice-operator:" + testVersion + "-tarball"
	_ = cranePush(t, r.tarballPath(), tarballRef)
	config, err := crane.Config(tarballRef, crane.Insecure)
	must(t, err)
	wantConfig, err := r.images.Images[0].Image.RawConfigFile()
	must(t, err)
	if !bytes.Equal(config, wantConfig) {
		t.Errorf("the image pushed from the tarball has another configuration than the release's:\n%s", config)
	}
}

// cranePush runs `crane push path ref` and returns what it prints: the
// reference by digest.
func cranePush(t *testing.T, from, ref string) string {
	t.Helper()
	opts := []crane.Option{crane.Insecure}
	cmd := cranecmd.NewCmdPush(&opts)
	var stdout bytes.Buffer
	cmd.SetOut(&stdout)
	cmd.SetArgs([]string{from, ref})
	if err := cmd.Execute(); err != nil {
		t.Fatalf("crane push %s %s: %v", filepath.Base(from), ref, err)
	}
	return strings.TrimSpace(stdout.String())
}

// must fails the test at once on an error.
func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
