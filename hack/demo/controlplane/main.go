// Command controlplane runs etcd and kube-apiserver from the envtest
// toolchain with the operator's CRDs installed, for the demo and the
// end-to-end suite, which start it through internal/localenv. It writes the
// admin user's kubeconfig, prints "ready <apiserver URL>" once the CRDs are
// served, and stops the control plane on SIGINT or SIGTERM, or, with
// --stop-on-stdin-eof, when its standard input closes: the program that
// started it holds that pipe open, so even if that program is killed outright
// the control plane does not outlive it.
//
// It is a command of its own, rather than code in the demo, so that the demo
// itself compiles from the standard library alone and can show progress
// while the heavy Kubernetes packages compile on a fresh machine.
//
//	go run ./hack/demo/controlplane --assets bin/k8s/1.37.2 --crds config/crd/bases --kubeconfig /tmp/kubeconfig
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/go-logr/logr"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/twilio-operator/voice-operator/internal/localenv/kube"
)

// options are the command-line flags.
type options struct {
	assets, crds, kubeconfig string
	operatorKubeconfig       string
	stopOnStdinEOF           bool
}

func main() {
	var o options
	// A flag set of its own: controller-runtime registers --kubeconfig on the
	// global one, with another meaning (the file to read).
	fs := flag.NewFlagSet("controlplane", flag.ExitOnError)
	fs.StringVar(&o.assets, "assets", os.Getenv("KUBEBUILDER_ASSETS"), "folder with etcd and kube-apiserver (default $KUBEBUILDER_ASSETS)")
	fs.StringVar(&o.crds, "crds", "config/crd/bases", "folder of the CRDs to install")
	fs.StringVar(&o.kubeconfig, "kubeconfig", "", "file to write the admin user's kubeconfig to (mode 0600)")
	fs.StringVar(&o.operatorKubeconfig, "operator-kubeconfig", "", "file to write a kubeconfig to that acts as the operator's ServiceAccount, with the roles of config/rbac installed (mode 0600); empty: none")
	fs.BoolVar(&o.stopOnStdinEOF, "stop-on-stdin-eof", false, "stop when standard input closes (the parent's lifeline)")
	_ = fs.Parse(os.Args[1:]) // ExitOnError: a bad flag exits with the usage
	// envtest logs through controller-runtime; its errors come back as errors.
	ctrllog.SetLogger(logr.Discard())

	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "controlplane:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	if o.assets == "" || o.kubeconfig == "" {
		return errors.New("--assets (or KUBEBUILDER_ASSETS) and --kubeconfig are required")
	}
	// Caught from the start, so that a stop requested while the control plane
	// is still starting stops it once it is up instead of leaving it behind.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	env := &envtest.Environment{
		BinaryAssetsDirectory: o.assets,
		CRDDirectoryPaths:     []string{o.crds},
		ErrorIfCRDPathMissing: true,
	}
	cfg, err := env.Start()
	if err != nil {
		// Start may fail after etcd is up; stop whatever did start.
		return errors.Join(fmt.Errorf("starting the control plane from %s: %w", o.assets, err), env.Stop())
	}
	if err := writeKubeconfig(o.kubeconfig, env.KubeConfig); err != nil {
		return errors.Join(err, env.Stop())
	}
	if o.operatorKubeconfig != "" {
		if err := installOperatorIdentity(ctx, cfg, checkoutOf(o.crds), o.operatorKubeconfig, env.KubeConfig); err != nil {
			return errors.Join(err, env.Stop())
		}
	}
	// The namespace controller, so that deleting a namespace deletes what
	// is in it, and the ClusterRole aggregation controller, so that roles
	// labelled aggregate-to-edit reach edit, as in a cluster (envtest runs
	// no controllers of its own).
	kcm, err := startControllerManager(o.assets, o.kubeconfig)
	if err != nil {
		return errors.Join(err, env.Stop())
	}
	fmt.Printf("ready %s\n", strings.TrimSuffix(cfg.Host, "/"))

	select {
	case <-ctx.Done():
	case <-parentGone(o.stopOnStdinEOF):
	}
	_ = kcm.Process.Signal(syscall.SIGTERM)
	_ = kcm.Wait()
	if err := env.Stop(); err != nil {
		return fmt.Errorf("stopping the control plane: %w", err)
	}
	return nil
}

// parentGone is closed when standard input reaches its end, if asked to
// watch it; otherwise never.
func parentGone(watch bool) <-chan struct{} {
	gone := make(chan struct{})
	if watch {
		go func() {
			_, _ = io.Copy(io.Discard, os.Stdin)
			close(gone)
		}()
	}
	return gone
}

// startControllerManager runs kube-controller-manager from assets with only
// its namespace and ClusterRole aggregation controllers, as the admin of kubeconfig, its output on this
// program's standard error.
func startControllerManager(assets, kubeconfig string) (*exec.Cmd, error) {
	cmd := exec.Command(filepath.Join(assets, "kube-controller-manager"),
		"--kubeconfig", kubeconfig,
		"--controllers", "namespace,clusterrole-aggregation",
		"--leader-elect=false",
		"--secure-port=0",
	)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting kube-controller-manager: %w", err)
	}
	return cmd, nil
}

// checkoutOf is the checkout that holds a config/crd/bases folder.
func checkoutOf(crds string) string {
	return filepath.Dir(filepath.Dir(filepath.Dir(filepath.Clean(crds))))
}

// installOperatorIdentity installs config/rbac (root is the folder that
// holds config/) and writes a kubeconfig that impersonates the operator's
// ServiceAccount, so the operator runs with exactly those permissions.
func installOperatorIdentity(ctx context.Context, cfg *rest.Config, root, path string, admin []byte) error {
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		return err
	}
	if err := kube.InstallRBAC(ctx, c, root); err != nil {
		return err
	}
	content, err := kube.OperatorKubeconfig(admin)
	if err != nil {
		return err
	}
	return writeKubeconfig(path, content)
}

func writeKubeconfig(path string, content []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("writing the kubeconfig: %w", err)
	}
	if err := os.WriteFile(path, content, 0o600); err != nil {
		return fmt.Errorf("writing the kubeconfig: %w", err)
	}
	return nil
}
