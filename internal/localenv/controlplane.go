package localenv

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"
)

// ControlPlane is etcd and kube-apiserver from the envtest toolchain, with
// the operator's CRDs installed, run by the controlplane command
// (hack/demo/controlplane) as a process of its own.
type ControlPlane struct {
	*Process
	// Server is the apiserver's URL.
	Server string
	// Kubeconfig is the path of the admin user's kubeconfig file.
	Kubeconfig string
	// OperatorKubeconfig is the path of a kubeconfig that acts as the
	// operator's ServiceAccount, with the roles of config/rbac: the operator
	// runs with it, never as the admin, so a missing permission shows.
	OperatorKubeconfig string
	// Kubectl runs the kubectl of the toolchain with that kubeconfig.
	Kubectl Kubectl
	// lifeline is the write end of the command's standard input; when this
	// process ends, however it ends, the pipe closes and the control plane
	// stops.
	lifeline io.Closer
}

// ControlPlaneOptions say how to start the control plane.
type ControlPlaneOptions struct {
	// Binary is the controlplane command (Binaries.ControlPlane).
	Binary string
	// Root is the checkout, whose config/crd/bases is installed.
	Root string
	// Assets is the folder with etcd, kube-apiserver and kubectl.
	Assets string
	// Kubeconfig is the file to write the admin user's kubeconfig to.
	Kubeconfig string
	// Log receives what the command prints besides its ready line.
	Log io.Writer
}

// StartControlPlane starts the control plane and waits until it serves the
// CRDs (a few seconds).
func StartControlPlane(ctx context.Context, o ControlPlaneOptions) (*ControlPlane, error) {
	if err := CheckAssets(o.Assets); err != nil {
		return nil, err
	}
	// envtest's own stop timeouts are 20 s per component.
	cmd, stop := command(o.Binary, 45*time.Second,
		"--assets", o.Assets,
		"--crds", filepath.Join(o.Root, "config", "crd", "bases"),
		"--kubeconfig", o.Kubeconfig,
		"--operator-kubeconfig", o.Kubeconfig+"-operator",
		"--stop-on-stdin-eof",
	)
	lifeline, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	// Starting etcd and the apiserver can take a while on a busy machine;
	// envtest's own timeouts (20s per component, five tries) come first.
	line, p, err := startAnnounced(ctx, "control plane", cmd, stop, o.Log, 2*time.Minute)
	if err != nil {
		_ = lifeline.Close()
		return nil, err
	}
	server, ok := strings.CutPrefix(line, "ready ")
	if !ok {
		_ = lifeline.Close()
		_ = p.Stop()
		return nil, fmt.Errorf("the control plane said %q, not \"ready <URL>\"", line)
	}
	return &ControlPlane{
		Process:            p,
		Server:             server,
		Kubeconfig:         o.Kubeconfig,
		OperatorKubeconfig: o.Kubeconfig + "-operator",
		Kubectl:            Kubectl{Path: filepath.Join(o.Assets, "kubectl"), Kubeconfig: o.Kubeconfig, Dir: o.Root},
		lifeline:           lifeline,
	}, nil
}

// Stop stops kube-apiserver and etcd and removes their data.
func (c *ControlPlane) Stop() error {
	defer func() { _ = c.lifeline.Close() }()
	return c.Process.Stop()
}
