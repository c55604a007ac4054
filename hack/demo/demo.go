package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/twilio-operator/voice-operator/internal/localenv"
)

// errProcessExited is why a step was cut short when a child process ended.
var errProcessExited = errors.New("a process of the demo exited")

// demo is the running local environment. Each start step fills in one part;
// teardown stops whatever was started, in reverse order.
type demo struct {
	root, dir, assets string
	options           options
	progress          *localenv.Progress

	bins        localenv.Binaries
	cp          *localenv.ControlPlane
	cpLog       *os.File
	sim         *localenv.Simulator
	simLog      *os.File
	operator    *localenv.Operator
	operatorLog *os.File
}

// start brings everything up, step by step, until the samples are Ready.
func (d *demo) start(ctx context.Context) error {
	steps := []func(context.Context) error{
		d.checkToolchain,
		d.build,
		d.startControlPlane,
		d.startSimulator,
		d.startOperator,
		d.applySamples,
		d.waitReady,
	}
	for _, step := range steps {
		if err := step(ctx); err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return nil
}

// checkToolchain fails early, with the command that fixes it, when the
// envtest programs have not been built; then it makes the scratch folder.
func (d *demo) checkToolchain(context.Context) error {
	if err := localenv.CheckAssets(d.assets); err != nil {
		return err
	}
	return os.MkdirAll(d.dir, 0o755)
}

func (d *demo) build(ctx context.Context) error {
	return d.progress.Step("Building the operator, the simulator and the control plane into bin/ (the first build takes a few minutes)", "building", func() error {
		var err error
		d.bins, err = localenv.Build(ctx, d.root, filepath.Join(d.root, "bin"))
		return err
	})
}

func (d *demo) startControlPlane(ctx context.Context) error {
	var err error
	if d.cpLog, err = os.Create(filepath.Join(d.dir, "controlplane.log")); err != nil {
		return err
	}
	err = d.progress.Step("Starting the control plane (etcd, kube-apiserver "+localenv.KubeVersion+") and installing the CRDs", "starting", func() (err error) {
		d.cp, err = localenv.StartControlPlane(ctx, localenv.ControlPlaneOptions{
			Binary:     d.bins.ControlPlane,
			Root:       d.root,
			Assets:     d.assets,
			Kubeconfig: filepath.Join(d.dir, "kubeconfig"),
			Log:        d.cpLog,
		})
		return err
	})
	if err == nil {
		d.progress.Printf("  apiserver %s, kubeconfig %s", d.cp.Server, d.rel(d.cp.Kubeconfig))
	}
	return err
}

func (d *demo) startSimulator(ctx context.Context) error {
	var err error
	if d.simLog, err = os.Create(filepath.Join(d.dir, "voicesim.log")); err != nil {
		return err
	}
	if d.sim, err = localenv.StartSimulator(ctx, d.bins.Simulator, d.simLog); err != nil {
		return err
	}
	d.progress.Printf("Started the Twilio API simulator at %s (pid %d; demo account %s)", d.sim.URL, d.sim.Pid(), localenv.DemoAccountSID)
	return nil
}

func (d *demo) startOperator(ctx context.Context) error {
	var err error
	if d.operatorLog, err = os.Create(filepath.Join(d.dir, "operator.log")); err != nil {
		return err
	}
	d.operator, err = localenv.StartOperator(ctx, localenv.OperatorOptions{
		Binary:      d.bins.Operator,
		Kubeconfig:  d.cp.OperatorKubeconfig,
		VoiceAPIURL: d.sim.URL,
		Args:        []string{"--resync-period", d.options.resync.String()},
		Log:         d.operatorLog,
	})
	if err != nil {
		return err
	}
	d.progress.Printf("Started the operator (pid %d; --resync-period %s; log %s)", d.operator.Pid(), d.options.resync, d.rel(d.operatorLog.Name()))
	return nil
}

func (d *demo) applySamples(ctx context.Context) error {
	d.progress.Printf("$ kubectl apply -f config/demo/twilio-credentials.yaml -n %s", namespace)
	secret, err := d.cp.Kubectl.Run(ctx, "apply", "-f", "config/demo/twilio-credentials.yaml", "-n", namespace)
	if err != nil {
		return err
	}
	d.progress.Printf("  %s", strings.TrimSpace(secret))
	d.progress.Printf("$ kubectl apply -k config/samples -n %s", namespace)
	out, err := d.cp.Kubectl.Run(ctx, "apply", "-k", "config/samples", "-n", namespace)
	if err != nil {
		return err
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		d.progress.Printf("  %s", line)
	}
	return nil
}

// waitReady waits with `kubectl wait`, as a person would, but gives up at
// once if one of the demo's processes exits meanwhile.
func (d *demo) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		select {
		case p := <-d.anyExited():
			cancel(fmt.Errorf("%w: the %s (%v)", errProcessExited, p.Name, p.ExitError()))
		case <-ctx.Done():
		}
	}()
	timeout := fmt.Sprintf("--timeout=%s", d.options.readyTimeout)
	return d.progress.Step("Waiting until every object is Ready (kubectl wait --for=condition=Ready)", "waiting", func() error {
		_, err := d.cp.Kubectl.Run(ctx, "wait", "--for=condition=Ready", timeout, "-n", namespace, "clientconfiguration,accountdefault", "--all")
		if cause := context.Cause(ctx); cause != nil && cause != context.Canceled {
			return cause
		}
		return err
	})
}

// anyExited delivers the first of the demo's processes to end by itself.
func (d *demo) anyExited() <-chan *localenv.Process {
	exited := make(chan *localenv.Process, 3)
	for _, p := range []*localenv.Process{d.operator.Process, d.sim.Process, d.cp.Process} {
		go func() {
			<-p.Done()
			exited <- p
		}()
	}
	return exited
}

// explainFailure shows what a person needs to see when start-up failed after
// the operator started: the objects and the end of the operator's log.
func (d *demo) explainFailure() {
	if d.cp == nil || d.operatorLog == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if out, err := d.cp.Kubectl.Run(ctx, "get", "twilio", "-o", "wide", "-n", namespace); err == nil {
		fmt.Printf("\n$ kubectl get twilio -o wide\n%s", out)
	}
	fmt.Printf("\nLast lines of %s:\n", d.rel(d.operatorLog.Name()))
	for _, line := range tail(d.operatorLog.Name(), 20) {
		fmt.Println("  " + line)
	}
}

// teardown stops the operator first (so it never sees its apiserver vanish
// mid-reconcile), then the simulator, then the control plane. It runs
// however the demo ends.
func (d *demo) teardown() {
	if d.operator != nil {
		d.stop(d.operator.Process, d.operator.Stop)
	}
	if d.sim != nil {
		d.stop(d.sim.Process, d.sim.Stop)
	}
	if d.cp != nil {
		d.stop(d.cp.Process, d.cp.Stop)
	}
	for _, f := range []*os.File{d.operatorLog, d.simLog, d.cpLog} {
		if f != nil {
			_ = f.Close()
		}
	}
	if d.cp != nil {
		d.progress.Printf("Stopped everything; logs stay in %s", d.rel(d.dir))
	}
}

func (d *demo) stop(p *localenv.Process, stop func() error) {
	d.progress.Printf("Stopping the %s (pid %d)", p.Name, p.Pid())
	if err := stop(); err != nil {
		d.progress.Printf("  %v", err)
	}
}

// tail returns up to n last lines of a file.
func tail(path string, n int) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer func() { _ = f.Close() }() // read only
	var lines []string
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 64<<10), 1<<20)
	for s.Scan() {
		lines = append(lines, s.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return lines
}
