// Package bench measures what the operator costs: remote calls, apiserver
// writes, time to Ready, memory and CPU, phase by phase, against a real
// kube-apiserver (envtest), the Voice API simulator and the operator binary
// running as its own process. `make bench` runs it through hack/bench; a
// small size runs inside `make test` as a regression check on the counts.
package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	voicev1alpha1 "github.com/twilio-operator/voice-operator/api/v1alpha1"
	"github.com/twilio-operator/voice-operator/internal/localenv"
	"github.com/twilio-operator/voice-operator/internal/voicesim"
)

// Env is what every run shares: one control plane, one simulator, one
// operator binary. Runs use their own namespaces and accounts.
type Env struct {
	// Root is the repository root (CRDs, operator source).
	Root string
	// Operator is the path of the built operator binary.
	Operator string
	// Kubeconfig is a kubeconfig file that acts as the operator's
	// ServiceAccount, with the roles of config/rbac: operators started here
	// run with it, never as cluster admins, so a missing permission fails.
	Kubeconfig string
	// Client talks to the control plane without a cache.
	Client client.WithWatch
	// Admin is the control plane's admin rest config, for tests that put
	// something between the operator and the apiserver.
	Admin *rest.Config
	// Sim is the simulator; SimURL is where it listens.
	Sim    *voicesim.Server
	SimURL string

	testEnv *envtest.Environment
	server  *httptest.Server
	dir     string
}

// Scheme knows the core kinds and ours.
var Scheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(s)
	_ = voicev1alpha1.AddToScheme(s)
	return s
}()

// StartEnv starts the control plane (binaries from KUBEBUILDER_ASSETS),
// installs the CRDs, starts the simulator and builds the operator.
func StartEnv(ctx context.Context, root string, logf func(string, ...any)) (*Env, error) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		return nil, errors.New("KUBEBUILDER_ASSETS is not set: run through make (make bench, make test)")
	}
	dir, err := os.MkdirTemp("", "voice-bench-")
	if err != nil {
		return nil, err
	}
	e := &Env{Root: root, dir: dir, Operator: filepath.Join(dir, "manager")}

	logf("building the operator")
	build := exec.CommandContext(ctx, "go", "build", "-o", e.Operator, ".")
	build.Dir, build.Stdout, build.Stderr = root, os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return nil, fmt.Errorf("building the operator: %w", err)
	}

	logf("starting the control plane")
	e.testEnv = &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join(root, "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	// The apiserver's default request limits would throttle a burst of
	// thousands of objects; the operator is what is measured, not them.
	apiserver := e.testEnv.ControlPlane.GetAPIServer()
	apiserver.Configure().Set("max-requests-inflight", "2000").Set("max-mutating-requests-inflight", "1000")
	cfg, err := e.testEnv.Start()
	if err != nil {
		return nil, fmt.Errorf("starting envtest: %w", err)
	}
	e.Admin = cfg
	benchCfg := rest.CopyConfig(cfg)
	benchCfg.QPS, benchCfg.Burst = 2000, 4000
	if e.Client, err = client.NewWithWatch(benchCfg, client.Options{Scheme: Scheme}); err != nil {
		e.Stop()
		return nil, err
	}
	if err := e.writeKubeconfig(ctx); err != nil {
		e.Stop()
		return nil, err
	}

	shape, err := voicesim.Shape(os.Getenv("VOICE_SIM_SHAPE"))
	if err != nil {
		e.Stop()
		return nil, err
	}
	logf("simulator shape %+v", shape)
	e.Sim = voicesim.New(shape)
	e.server = httptest.NewServer(e.Sim)
	e.SimURL = e.server.URL
	return e, nil
}

// writeKubeconfig installs config/rbac and writes a kubeconfig that
// impersonates the operator's ServiceAccount, for the operator.
func (e *Env) writeKubeconfig(ctx context.Context) error {
	if err := localenv.InstallRBAC(ctx, e.Client, e.Root); err != nil {
		return err
	}
	user, err := e.testEnv.ControlPlane.AddUser(envtest.User{Name: "bench-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return fmt.Errorf("adding a user: %w", err)
	}
	admin, err := user.KubeConfig()
	if err != nil {
		return fmt.Errorf("writing a kubeconfig: %w", err)
	}
	data, err := localenv.OperatorKubeconfig(admin)
	if err != nil {
		return err
	}
	e.Kubeconfig = filepath.Join(e.dir, "kubeconfig")
	return os.WriteFile(e.Kubeconfig, data, 0o600)
}

// Stop stops everything StartEnv started.
func (e *Env) Stop() {
	if e.server != nil {
		e.server.Close()
	}
	if e.testEnv != nil {
		_ = e.testEnv.Stop()
	}
	_ = os.RemoveAll(e.dir)
}

// CreateSecret creates a credentials Secret for a simulator account.
func (e *Env) CreateSecret(ctx context.Context, ns, name, account, token string) error {
	e.Sim.AddAccount(account, token)
	return e.Client.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		StringData: map[string]string{voicev1alpha1.SecretKeyAccountSID: account, voicev1alpha1.SecretKeyAuthToken: token},
	})
}

// freePort returns a loopback address with a free port.
func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
