package main

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
)

// Repository is where the image is published.
const Repository = "ghcr.io/twilio-operator/voice-operator"

// Project is the project's home, for the image's source and url labels.
const Project = "https://github.com/twilio-operator/voice-operator"

// nonroot is the user and group the manager runs as: distroless's nonroot,
// the one config/manager/manager.yaml sets runAsUser and runAsGroup to.
const nonroot = 65532

// managerPath is the manager binary in the image, the Deployment's command.
const managerPath = "manager"

// Meta is what an image says about itself.
type Meta struct {
	// Version is the release, such as 0.1.0.
	Version string
	// Source is the commit it is built from.
	Source Source
}

// Tag is the image's name with the version as its tag.
func (m Meta) Tag() (name.Tag, error) {
	return name.NewTag(Repository+":"+m.Version, name.StrictValidation)
}

// Labels are the OCI annotations the image's configuration carries.
func (m Meta) Labels() map[string]string {
	return map[string]string{
		"org.opencontainers.image.title":       "voice-operator",
		"org.opencontainers.image.description": "Kubernetes operator for Twilio Voice v2 Client Configurations and the account's default configuration",
		"org.opencontainers.image.version":     m.Version,
		"org.opencontainers.image.revision":    m.Source.Revision(),
		"org.opencontainers.image.created":     m.Source.Date(),
		"org.opencontainers.image.source":      Project,
		"org.opencontainers.image.url":         Project,
		"org.opencontainers.image.licenses":    "Apache-2.0",
	}
}

// PlatformImage is the image of one platform.
type PlatformImage struct {
	Platform Platform
	Image    v1.Image
}

// newImage builds the image of one platform on an empty base (nothing but
// what is added here: no shell, no package manager, no libc): a layer with
// the CA bundle at /etc/ssl/certs/ca-certificates.crt, and a layer with the
// manager at /manager, run as nonroot:nonroot from /.
func newImage(binary string, p Platform, m Meta, caPEM []byte) (v1.Image, error) {
	manager, err := os.ReadFile(binary)
	if err != nil {
		return nil, err
	}
	certsLayer, err := newLayer([]file{
		{name: "etc/", mode: 0o755},
		{name: "etc/ssl/", mode: 0o755},
		{name: "etc/ssl/certs/", mode: 0o755},
		{name: caBundlePath, mode: 0o644, data: caPEM},
	}, m.Source.Time)
	if err != nil {
		return nil, err
	}
	managerLayer, err := newLayer([]file{
		{name: managerPath, mode: 0o755, owner: nonroot, data: manager},
	}, m.Source.Time)
	if err != nil {
		return nil, err
	}

	created := v1.Time{Time: m.Source.Time}
	img, err := mutate.ConfigFile(empty.Image, &v1.ConfigFile{
		OS:           p.OS,
		Architecture: p.Arch,
		Created:      created,
		Config: v1.Config{
			User:       fmt.Sprintf("%d:%d", nonroot, nonroot),
			Entrypoint: []string{"/" + managerPath},
			WorkingDir: "/",
			Labels:     m.Labels(),
		},
		RootFS: v1.RootFS{Type: "layers"},
	})
	if err != nil {
		return nil, err
	}
	img = mutate.ConfigMediaType(mutate.MediaType(img, types.OCIManifestSchema1), types.OCIConfigJSON)
	return mutate.Append(img,
		mutate.Addendum{Layer: certsLayer, MediaType: types.OCILayer, History: v1.History{
			Created:   created,
			CreatedBy: fmt.Sprintf("voice-operator release: /%s from %s@%s", caBundlePath, fallbackModule, moduleVersion(fallbackModule)),
		}},
		mutate.Addendum{Layer: managerLayer, MediaType: types.OCILayer, History: v1.History{
			Created:   created,
			CreatedBy: fmt.Sprintf("voice-operator release: /%s, voice-operator %s (commit %s)", managerPath, m.Version, m.Source.Revision()),
		}},
	)
}

// newIndex is the multi-platform image: one manifest per platform.
func newIndex(images []PlatformImage) v1.ImageIndex {
	adds := make([]mutate.IndexAddendum, 0, len(images))
	for _, pi := range images {
		adds = append(adds, mutate.IndexAddendum{
			Add:        pi.Image,
			Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: pi.Platform.OS, Architecture: pi.Platform.Arch}},
		})
	}
	return mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex), adds...)
}

// writeLayout writes the index as an OCI image layout in dir, named by tag:
// `crane push DIR REF` pushes the index itself, so its digest is the one
// the release pins.
func writeLayout(dir string, idx v1.ImageIndex, tag name.Tag) error {
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	return p.AppendIndex(idx, layout.WithAnnotations(map[string]string{
		"org.opencontainers.image.ref.name": tag.TagStr(),
		"io.containerd.image.name":          tag.Name(),
	}))
}

// writeTarball writes one image as a docker-archive tarball, tagged, which
// `docker load` and `crane push` read.
func writeTarball(path string, tag name.Tag, img v1.Image) error {
	return tarball.WriteToFile(path, tag, img)
}

// file is one entry of a layer.
type file struct {
	// name is the path inside the image without the leading slash; a
	// directory's ends in a slash.
	name string
	mode int64
	// owner is the numeric user and group.
	owner int
	// data is a regular file's content.
	data []byte
}

// newLayer makes a gzipped layer of files that depends on nothing but them
// and mtime: entries in name order, each with mtime as its time and numeric
// owners without user or group names (USTAR headers, so no PAX records
// carry access or change times). It is compressed with klauspost/compress
// at a level fixed here, a library pinned by go.sum, so the layer's digest
// does not change with the Go toolchain that runs the release.
func newLayer(files []file, mtime time.Time) (v1.Layer, error) {
	files = slices.SortedFunc(slices.Values(files), func(a, b file) int { return strings.Compare(a.name, b.name) })
	var tarData bytes.Buffer
	tw := tar.NewWriter(&tarData)
	for _, f := range files {
		hdr := &tar.Header{
			Name: f.name, Mode: f.mode, Uid: f.owner, Gid: f.owner,
			ModTime: mtime.UTC(), Format: tar.FormatUSTAR, Typeflag: tar.TypeReg, Size: int64(len(f.data)),
		}
		if strings.HasSuffix(f.name, "/") {
			hdr.Typeflag, hdr.Size = tar.TypeDir, 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, fmt.Errorf("layer entry %s: %w", f.name, err)
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	var gz bytes.Buffer
	zw, err := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(tarData.Bytes()); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	compressed := gz.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(compressed)), nil
	}, tarball.WithMediaType(types.OCILayer))
}
