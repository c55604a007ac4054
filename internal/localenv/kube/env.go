package kube

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

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

// Env is what the suites that run the operator binary share: a control
// plane in this process (envtest, binaries from KUBEBUILDER_ASSETS) with
// the CRDs and config/rbac installed, the simulator in this process, and
// the operator built once. Tests use their own namespaces and accounts.
type Env struct {
	// Root is the repository root (CRDs, RBAC, operator source).
	Root string
	// Operator is the path of the built operator binary.
	Operator string
	// Kubeconfig acts as the operator's ServiceAccount, with the roles of
	// config/rbac: operators started here run with it, never as cluster
	// admins, so a missing permission fails a test.
	Kubeconfig string
	// Client talks to the control plane as its admin, without a cache.
	Client client.WithWatch
	// Admin is the admin's rest config, for tests that put something
	// between the operator and the apiserver.
	Admin *rest.Config
	// Sim is the simulator, in the shape VOICE_SIM_SHAPE names (the
	// reference's by default); SimURL is where it listens.
	Sim    *voicesim.Server
	SimURL string

	testEnv *envtest.Environment
	server  *httptest.Server
	dir     string
	// admin is a kubeconfig of a cluster admin, the base of the
	// impersonating ones.
	admin []byte
}

// Scheme knows the core kinds and ours.
var Scheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(s)
	_ = voicev1alpha1.AddToScheme(s)
	return s
}()

// Option changes what StartEnv sets up.
type Option func(*envtest.Environment)

// WithoutCRDs starts the control plane without the CRDs, for a test that
// installs them as a user does.
func WithoutCRDs() Option {
	return func(e *envtest.Environment) { e.CRDDirectoryPaths, e.ErrorIfCRDPathMissing = nil, false }
}

// StartEnv builds the operator, starts the control plane (with the CRDs of
// config/crd/bases, unless an option says otherwise) and the simulator, and
// installs the operator's identity.
func StartEnv(ctx context.Context, root string, logf func(string, ...any), opts ...Option) (*Env, error) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		return nil, errors.New("KUBEBUILDER_ASSETS is not set: run through make (make bench, make test)")
	}
	dir, err := os.MkdirTemp("", "voice-env-")
	if err != nil {
		return nil, err
	}
	e := &Env{Root: root, dir: dir, Operator: filepath.Join(dir, "manager")}
	shape, err := voicesim.Shape(os.Getenv("VOICE_SIM_SHAPE"))
	if err != nil {
		e.Stop()
		return nil, err
	}

	logf("building the operator")
	if err := localenv.GoBuild(ctx, root, e.Operator, "."); err != nil {
		e.Stop()
		return nil, err
	}

	logf("starting the control plane")
	e.testEnv = &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join(root, "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	for _, opt := range opts {
		opt(e.testEnv)
	}
	// The apiserver's default request limits would throttle a burst of
	// thousands of objects; the operator is what is measured, not them.
	apiserver := e.testEnv.ControlPlane.GetAPIServer()
	apiserver.Configure().Set("max-requests-inflight", "2000").Set("max-mutating-requests-inflight", "1000")
	if e.Admin, err = e.testEnv.Start(); err != nil {
		e.Stop()
		return nil, fmt.Errorf("starting envtest: %w", err)
	}
	clientCfg := rest.CopyConfig(e.Admin)
	clientCfg.QPS, clientCfg.Burst = 2000, 4000
	if e.Client, err = client.NewWithWatch(clientCfg, client.Options{Scheme: Scheme}); err != nil {
		e.Stop()
		return nil, err
	}
	if err := e.writeKubeconfig(ctx); err != nil {
		e.Stop()
		return nil, err
	}

	logf("simulator shape %+v", shape)
	e.Sim = voicesim.New(shape)
	e.server = httptest.NewServer(e.Sim)
	e.SimURL = e.server.URL
	return e, nil
}

// StartTestEnv is StartEnv for a test: it fails the test if the env cannot
// start, and stops it when the test ends.
func StartTestEnv(ctx context.Context, t testing.TB, root string, opts ...Option) *Env {
	t.Helper()
	env, err := StartEnv(ctx, root, t.Logf, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(env.Stop)
	return env
}

// writeKubeconfig installs config/rbac and writes a kubeconfig that
// impersonates the operator's ServiceAccount, for the operator.
func (e *Env) writeKubeconfig(ctx context.Context) error {
	if err := InstallRBAC(ctx, e.Client, e.Root); err != nil {
		return err
	}
	user, err := e.testEnv.ControlPlane.AddUser(envtest.User{Name: "env-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return fmt.Errorf("adding a user: %w", err)
	}
	if e.admin, err = user.KubeConfig(); err != nil {
		return fmt.Errorf("writing a kubeconfig: %w", err)
	}
	e.Kubeconfig, err = e.KubeconfigFor(OperatorUser)
	return err
}

// KubeconfigFor writes a kubeconfig that acts as user (impersonated by an
// admin) and returns its path: for an operator run under an identity a
// test grants other rights than config/rbac's.
func (e *Env) KubeconfigFor(user string) (string, error) {
	data, err := ImpersonatingKubeconfig(e.admin, user)
	if err != nil {
		return "", err
	}
	path := filepath.Join(e.dir, "kubeconfig-"+strings.NewReplacer(":", "-", "/", "-").Replace(user))
	return path, os.WriteFile(path, data, 0o600)
}

// AdminKubeconfig writes a kubeconfig of a cluster admin and returns its
// path: for kubectl run as the person applying YAML, never for the
// operator.
func (e *Env) AdminKubeconfig() (string, error) {
	path := filepath.Join(e.dir, "kubeconfig-admin")
	return path, os.WriteFile(path, e.admin, 0o600)
}

// StartOperator starts the built operator against the control plane and
// the simulator, with args added to the connection flags (a later flag
// wins), its metrics on a free port, and its log in a file of the env.
func (e *Env) StartOperator(ctx context.Context, args ...string) (*localenv.Operator, error) {
	return localenv.StartOperator(ctx, e.OperatorOptions(args...))
}

// OperatorOptions are the options StartOperator runs the operator with,
// for a test that changes some of them (its identity, its metrics, or the
// binary itself: an earlier version, for upgrade tests).
func (e *Env) OperatorOptions(args ...string) localenv.OperatorOptions {
	return localenv.OperatorOptions{
		Binary: e.Operator, Kubeconfig: e.Kubeconfig, VoiceAPIURL: e.SimURL,
		Args: args, Metrics: true, LogDir: e.dir,
	}
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
