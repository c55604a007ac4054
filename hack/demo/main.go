// Command demo runs voice-operator on one machine with no cluster and no
// Twilio account: a local control plane (etcd and kube-apiserver from the
// envtest toolchain, CRDs installed), the Twilio Voice API simulator and the
// operator, each as its own process. It applies config/samples/, waits until
// every object is Ready, shows the objects and the remote side, and keeps
// running so a person can kubectl apply, edit and delete more, until Ctrl-C
// stops everything.
//
//	make demo                                # builds the toolchain once, then this
//	go run ./hack/demo                       # the same, once `make envtest` has run
//	go run ./hack/demo --exit-after-ready    # or DEMO_EXIT=1: print the summary, stop, exit 0
//
// Scratch files (the kubeconfig, the logs) go to .demo/ in the checkout. The
// demo itself imports nothing from Kubernetes, so that on a fresh machine it
// starts within seconds and reports progress while the operator and the
// control plane (hack/demo/controlplane) compile.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/twilio-operator/voice-operator/internal/localenv"
)

// namespace is where the samples go: the kubeconfig's default, so that a
// plain `kubectl get twilio` finds them.
const namespace = "default"

// options are the command-line flags.
type options struct {
	exitAfterReady bool
	resync         time.Duration
	readyTimeout   time.Duration
}

func parseFlags() options {
	var o options
	flag.BoolVar(&o.exitAfterReady, "exit-after-ready", os.Getenv("DEMO_EXIT") == "1",
		"Print the summary once everything is Ready, then stop everything and exit (also DEMO_EXIT=1).")
	flag.DurationVar(&o.resync, "resync-period", 30*time.Second,
		"The operator's --resync-period: how soon a change made on the remote side is put back.")
	flag.DurationVar(&o.readyTimeout, "ready-timeout", 2*time.Minute, "How long to wait for the samples to become Ready.")
	flag.Parse()
	return o
}

func main() {
	o := parseFlags()
	// Signals are caught for the whole run, teardown included, so that a
	// second Ctrl-C cannot cut the teardown short and leave processes behind.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintf(os.Stderr, "\ndemo: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	root, err := localenv.RepoRoot()
	if err != nil {
		return err
	}
	d := &demo{
		root:     root,
		dir:      filepath.Join(root, ".demo"),
		assets:   localenv.AssetsDir(root),
		options:  o,
		progress: localenv.NewProgress(os.Stdout),
	}
	defer d.teardown()

	d.progress.Printf("voice-operator demo: local control plane + Twilio API simulator + operator (Ctrl-C stops it all)")
	err = d.start(ctx)
	if ctx.Err() != nil {
		// Ctrl-C during start-up is a request to stop, not a failure.
		d.progress.Printf("Interrupted")
		return nil
	}
	if err != nil {
		d.explainFailure()
		return err
	}
	if err := d.printSummary(ctx); err != nil {
		return err
	}
	if o.exitAfterReady {
		return nil
	}
	return d.waitForStop(ctx)
}

// waitForStop keeps the demo running until Ctrl-C, or until one of its
// processes ends on its own, which is a failure worth a pointer to the logs.
func (d *demo) waitForStop(ctx context.Context) error {
	select {
	case <-ctx.Done():
		fmt.Println()
		d.progress.Printf("Stopping (Ctrl-C)")
		return nil
	case p := <-d.anyExited():
		return fmt.Errorf("the %s exited (%v); its log is in %s", p.Name, p.ExitError(), d.rel(d.dir))
	}
}

// rel shortens a path inside the checkout for printing.
func (d *demo) rel(path string) string {
	if r, err := filepath.Rel(d.root, path); err == nil {
		return r
	}
	return path
}
