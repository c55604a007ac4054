package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// managerImage is the image name config/manager/manager.yaml uses, for the
// release (and `make deploy`) to replace.
const managerImage = "controller"

// crdsYAML is `kustomize build config/crd`: the CRDs alone, for a cluster
// whose operator is installed some other way.
func crdsYAML(root string) ([]byte, error) {
	return kustomize(filepath.Join(root, "config", "crd"))
}

// installYAML is `kustomize build config/default` with the manager's image
// pinned by digest (repository@sha256:...), so that what runs is exactly
// the image released, whatever happens to its tag later.
func installYAML(root string, digest v1.Hash) ([]byte, error) {
	overlay, err := os.MkdirTemp("", "voice-operator-install-")
	if err != nil {
		return nil, err
	}
	defer func() { _ = os.RemoveAll(overlay) }()
	// kustomize takes a relative path to another kustomization only.
	base, err := filepath.Rel(overlay, filepath.Join(root, "config", "default"))
	if err != nil {
		return nil, err
	}
	kustomization := fmt.Sprintf(`resources:
- %s
images:
- name: %s
  newName: %s
  digest: %s
`, filepath.ToSlash(base), managerImage, Repository, digest)
	if err := os.WriteFile(filepath.Join(overlay, "kustomization.yaml"), []byte(kustomization), 0o600); err != nil {
		return nil, err
	}
	out, err := kustomize(overlay)
	if err != nil {
		return nil, err
	}
	pinned := Repository + "@" + digest.String()
	if !bytes.Contains(out, []byte("image: "+pinned+"\n")) || bytes.Contains(out, []byte("image: "+managerImage)) {
		return nil, fmt.Errorf("config/default's manager image is no longer %q: install.yaml would not run %s", managerImage, pinned)
	}
	return out, nil
}

// kustomize builds the kustomization in dir as `kubectl kustomize` does:
// in kustomize's legacy order (Namespaces and CRDs first, so that a plain
// apply of the output succeeds in one go) unless the kustomization says
// otherwise with sortOptions.
func kustomize(dir string) ([]byte, error) {
	opts := krusty.MakeDefaultOptions()
	opts.Reorder = krusty.ReorderOptionUnspecified
	resources, err := krusty.MakeKustomizer(opts).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", dir, err)
	}
	return resources.AsYaml()
}
