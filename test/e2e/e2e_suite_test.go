package e2e_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/twilio-operator/voice-operator/internal/localenv"
)

// resyncPeriod is the operator's --resync-period: short, so that a spec sees
// several quiet resyncs within seconds.
const resyncPeriod = 2 * time.Second

var (
	// root is the checkout; kubectl runs there, as a person would.
	root string
	// cp is the control plane; cp.Kubectl is the toolchain's kubectl with the
	// admin kubeconfig.
	cp *localenv.ControlPlane
	// sim is the simulator process; specs read the remote side from it.
	sim *localenv.Simulator
	// operator is the operator process.
	operator *localenv.Operator
	// operatorLog is the file the operator logs to, shown when a spec fails.
	operatorLog string
)

func TestE2E(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "End-to-end Suite")
}

var _ = BeforeSuite(func(ctx SpecContext) {
	EnforceDefaultTimeoutsWhenUsingContexts()
	SetDefaultEventuallyTimeout(30 * time.Second)
	SetDefaultEventuallyPollingInterval(100 * time.Millisecond)

	assets := os.Getenv("KUBEBUILDER_ASSETS")
	Expect(assets).NotTo(BeEmpty(),
		"KUBEBUILDER_ASSETS is not set: run the suite through `make test`, or set it to the folder `make envtest` prints (bin/k8s/%s)", localenv.KubeVersion)
	Expect(localenv.CheckAssets(assets)).To(Succeed())

	var err error
	root, err = localenv.RepoRoot()
	Expect(err).NotTo(HaveOccurred())
	work, err := os.MkdirTemp("", "voice-operator-e2e-")
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(os.RemoveAll, work)
	progress := localenv.NewProgress(GinkgoWriter)

	// Built into a scratch folder, not bin/, so that the suite never replaces
	// the binary someone is running.
	var bins localenv.Binaries
	Expect(progress.Step("Building the operator, the simulator and the control plane", "building", func() (err error) {
		bins, err = localenv.Build(ctx, root, work)
		return err
	})).To(Succeed())

	Expect(progress.Step("Starting the control plane", "starting", func() (err error) {
		cp, err = localenv.StartControlPlane(ctx, localenv.ControlPlaneOptions{
			Binary:     bins.ControlPlane,
			Root:       root,
			Assets:     assets,
			Kubeconfig: filepath.Join(work, "kubeconfig"),
			Log:        GinkgoWriter,
		})
		return err
	})).To(Succeed())
	// Cleanups run last-in first-out: the operator stops before the
	// simulator, and both before the control plane.
	DeferCleanup(cp.Stop)

	sim, err = localenv.StartSimulator(ctx, bins.Simulator, GinkgoWriter)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(sim.Stop)

	operatorLog = filepath.Join(work, "operator.log")
	logFile, err := os.Create(operatorLog)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(logFile.Close)
	operator, err = localenv.StartOperator(ctx, localenv.OperatorOptions{
		Binary:      bins.Operator,
		Kubeconfig:  cp.OperatorKubeconfig,
		VoiceAPIURL: sim.URL,
		Args:        []string{"--resync-period", resyncPeriod.String()},
		Log:         logFile,
	})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() error { return operator.Stop() })
}, NodeTimeout(5*time.Minute))

// Every spec starts with every process alive, so a crash shows up as such and
// not as a timeout somewhere later.
var _ = BeforeEach(func() {
	Expect(operator.Done()).NotTo(BeClosed(), "the operator exited: %v\n%s", exitError(operator.Process), logTail(operatorLog, 40))
	Expect(sim.Done()).NotTo(BeClosed(), "the simulator exited: %v", exitError(sim.Process))
	Expect(cp.Done()).NotTo(BeClosed(), "the control plane exited: %v", exitError(cp.Process))
})

// When a spec fails, what a person would look at next: every object as
// kubectl shows it, and the end of the operator's log.
var _ = AfterEach(func(ctx SpecContext) {
	if !CurrentSpecReport().Failed() {
		return
	}
	out, err := cp.Kubectl.Run(ctx, "get", "twilio", "-A", "-o", "wide")
	GinkgoWriter.Printf("\n$ kubectl get twilio -A -o wide\n%s%v\n", out, err)
	GinkgoWriter.Printf("\nLast lines of the operator's log:\n%s\n", logTail(operatorLog, 60))
}, NodeTimeout(15*time.Second))

func exitError(p *localenv.Process) error {
	select {
	case <-p.Done():
		return p.ExitError()
	default:
		return nil
	}
}

// logTail returns up to n last lines of a file.
func logTail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// kubectl runs the toolchain's kubectl in the checkout and returns its
// standard output; any failure fails the spec with kubectl's standard error.
func kubectl(ctx context.Context, args ...string) string {
	GinkgoHelper()
	out, err := cp.Kubectl.Run(ctx, args...)
	Expect(err).NotTo(HaveOccurred())
	return out
}
