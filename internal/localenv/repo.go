package localenv

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ModulePath is the module whose checkout RepoRoot looks for.
const ModulePath = "github.com/twilio-operator/voice-operator"

// KubeVersion is the version of the envtest toolchain `make envtest` builds
// into bin/k8s/KubeVersion; it must follow KUBE_VERSION in the Makefile.
const KubeVersion = "1.37.2"

// RepoRoot returns the root of the voice-operator checkout that holds the
// working directory, found by walking up to its go.mod. Both `go run` and
// `go test` start somewhere inside it.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if isModuleRoot(dir) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod of %s above the working directory; run from inside the checkout", ModulePath)
		}
		dir = parent
	}
}

func isModuleRoot(dir string) bool {
	f, err := os.Open(filepath.Join(dir, "go.mod"))
	if err != nil {
		return false
	}
	defer func() { _ = f.Close() }() // read only
	s := bufio.NewScanner(f)
	for s.Scan() {
		if line := strings.TrimSpace(s.Text()); strings.HasPrefix(line, "module ") {
			return strings.TrimSpace(strings.TrimPrefix(line, "module ")) == ModulePath
		}
	}
	return false
}

// AssetsDir is where the envtest programs are: KUBEBUILDER_ASSETS when set
// (as `make test` sets it), else the folder `make envtest` builds them into.
func AssetsDir(root string) string {
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
		return dir
	}
	return filepath.Join(root, "bin", "k8s", KubeVersion)
}

// CheckAssets reports, with the command that fixes it, a folder that lacks
// one of the programs the local environment runs.
func CheckAssets(dir string) error {
	var missing []string
	for _, name := range []string{"etcd", "kube-apiserver", "kubectl", "kube-controller-manager"} {
		info, err := os.Stat(filepath.Join(dir, name))
		if err != nil || info.IsDir() || info.Mode()&0o111 == 0 {
			missing = append(missing, name)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return errors.New("the envtest toolchain is not built: " + strings.Join(missing, ", ") + " missing from " + dir +
		"; run `make envtest` once (it builds them from source, about 4 minutes) or point KUBEBUILDER_ASSETS at a folder that has them")
}
