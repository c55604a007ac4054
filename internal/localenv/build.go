package localenv

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
)

// Binaries are the programs of the local environment that come from this
// repository.
type Binaries struct {
	// Operator is the manager binary (`go build .`).
	Operator string
	// Simulator is the Voice API simulator (`go build ./hack/voicesim`).
	Simulator string
	// ControlPlane runs etcd and kube-apiserver (`go build ./hack/demo/controlplane`).
	ControlPlane string
}

// Build compiles the operator, the simulator and the control plane command
// of the checkout at root into dir, with the go command on PATH. The operator
// comes first: on a fresh machine it is the long one, and the others then
// reuse most of its build cache.
func Build(ctx context.Context, root, dir string) (Binaries, error) {
	bins := Binaries{
		Operator:     filepath.Join(dir, "manager"),
		Simulator:    filepath.Join(dir, "voicesim"),
		ControlPlane: filepath.Join(dir, "controlplane"),
	}
	for _, b := range []struct{ out, pkg string }{
		{bins.Operator, "."},
		{bins.Simulator, "./hack/voicesim"},
		{bins.ControlPlane, "./hack/demo/controlplane"},
	} {
		if err := GoBuild(ctx, root, b.out, b.pkg); err != nil {
			return Binaries{}, err
		}
	}
	return bins, nil
}

// GoBuild builds package pkg of the checkout at root into out.
func GoBuild(ctx context.Context, root, out, pkg string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
	cmd.Dir = root
	output, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go build -o %s %s: %w\n%s", out, pkg, err, strings.TrimSpace(string(output)))
	}
	return nil
}
