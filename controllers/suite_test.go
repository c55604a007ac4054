package controllers_test

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	voicev1alpha1 "github.com/twilio-operator/voice-operator/api/v1alpha1"
	"github.com/twilio-operator/voice-operator/controllers"
	"github.com/twilio-operator/voice-operator/internal/localenv/kube"
	"github.com/twilio-operator/voice-operator/internal/voice"
	"github.com/twilio-operator/voice-operator/internal/voicesim"
)

// These tests run against a real kube-apiserver and etcd (envtest), built from
// source by `make envtest`; `make test` points KUBEBUILDER_ASSETS at them.

var (
	testEnv *envtest.Environment
	cfg     *rest.Config
	scheme  = runtime.NewScheme()

	// k8sClient talks to the apiserver directly, never through a cache, so an
	// assertion never reads a stale copy.
	k8sClient client.Client

	// sim is the Twilio Voice API simulator every spec talks to, behind
	// simCalls, which counts its calls per account.
	sim      *voicesim.Server
	simCalls = &remoteCalls{calls: map[string]map[string]int{}}
	simURL   string

	// writesSeen counts the manager's writes to the apiserver.
	writesSeen = &apiserverWrites{counts: map[string]int{}}
)

// resyncPeriod is short so that drift specs see a resync within seconds.
const resyncPeriod = 2 * time.Second

// lateCommitWindow is how long after a POST whose answer was lost the
// suite's simulator may still make it: its faults answer at once.
const lateCommitWindow = 3 * time.Second

// observeMode is how the controller observes remote configurations in this
// run: "list" (the default, as in main.go) or "get". `make test` runs the
// suite in both, so drift detection is proven for each.
var observeMode = func() string {
	if m := os.Getenv("VOICE_OBSERVE"); m != "" {
		return m
	}
	return "list"
}()

// simShape is the simulator's shape in this run: VOICE_SIM_SHAPE,
// "reference" (the default: exactly what Twilio's reference documents) or
// "extended" (every behaviour beyond it, and the other answer to each
// question the reference leaves open). `make test` runs the suite in both.
var simShape = func() string {
	if s := os.Getenv("VOICE_SIM_SHAPE"); s != "" {
		return s
	}
	return voicesim.ShapeReference
}()

func TestControllers(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Controllers Suite")
}

var _ = BeforeSuite(func() {
	logf.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	// Every Eventually here gets the spec's context; without this, Gomega
	// would wait on such an assertion until the context ends, not 30 s.
	EnforceDefaultTimeoutsWhenUsingContexts()
	SetDefaultEventuallyTimeout(30 * time.Second)
	SetDefaultEventuallyPollingInterval(50 * time.Millisecond)
	SetDefaultConsistentlyDuration(2 * time.Second)
	SetDefaultConsistentlyPollingInterval(100 * time.Millisecond)

	Expect(clientgoscheme.AddToScheme(scheme)).To(Succeed())
	Expect(voicev1alpha1.AddToScheme(scheme)).To(Succeed())

	testEnv = &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	var err error
	cfg, err = testEnv.Start()
	Expect(err).NotTo(HaveOccurred(), "start envtest; run through `make test` so KUBEBUILDER_ASSETS is set")
	// Cleanups run last-in first-out: the manager (registered later) stops
	// before the apiserver it watches.
	DeferCleanup(testEnv.Stop)

	k8sClient, err = client.New(cfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())
	// The controllers run as the operator's ServiceAccount with exactly the
	// permissions config/rbac grants, never as the admin the tests are.
	Expect(kube.InstallRBAC(context.Background(), k8sClient, "..")).To(Succeed())

	shape, err := voicesim.Shape(simShape)
	Expect(err).NotTo(HaveOccurred())
	GinkgoWriter.Printf("simulator shape: %s %+v\n", simShape, shape)
	sim = voicesim.New(shape)
	server := httptest.NewServer(simCalls.wrap(sim))
	DeferCleanup(server.Close)
	simURL = server.URL

	startManager()
})

// startManager runs both controllers, as main.go wires them, in a goroutine
// until the suite ends.
func startManager() {
	mgrCfg := kube.AsOperator(cfg)
	mgrCfg.WrapTransport = writesSeen.wrap
	mgr, err := ctrl.NewManager(mgrCfg, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Controller:             config.Controller{SkipNameValidation: ptr.To(true)},
		// The cache holds what it holds in production.
		Cache: cache.Options{DefaultTransform: controllers.CompactForCache},
	})
	Expect(err).NotTo(HaveOccurred())

	factory := voice.NewFactory(voice.Options{
		BaseURL:        simURL,
		RequestTimeout: 2 * time.Second,
		MaxRetryWait:   100 * time.Millisecond,
		RateLimit:      1000,
		Burst:          1000,
		Version:        "test",
	})
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	DeferCleanup(func() {
		cancel()
		<-stopped
	})
	GinkgoWriter.Printf("observing remote configurations with --observe=%s\n", observeMode)
	recorder, err := controllers.NewEventRecorder(mgr, "voice-operator", 8)
	Expect(err).NotTo(HaveOccurred())
	deps := controllers.Deps{
		Client:       mgr.GetClient(),
		APIReader:    mgr.GetAPIReader(),
		Clients:      controllers.NewClientFactory(factory),
		Recorder:     recorder,
		ResyncPeriod: resyncPeriod,
	}
	Expect((&controllers.ClientConfigurationReconciler{
		Deps:                    deps,
		MaxConcurrentReconciles: 4,
		Observe:                 controllers.ObserveMode(observeMode),
		PageSize:                10,
		// The suite's API answers or fails within its 2 s request timeout:
		// nothing commits later than that.
		LateCommitWindow: lateCommitWindow,
	}).SetupWithManager(ctx, mgr)).To(Succeed())
	Expect((&controllers.AccountDefaultReconciler{Deps: deps}).SetupWithManager(ctx, mgr)).To(Succeed())

	go func() {
		defer GinkgoRecover()
		defer close(stopped)
		Expect(mgr.Start(ctx)).To(Succeed())
	}()
}

// newNamespace creates a namespace with a generated name for one spec, so
// specs never see each other's objects.
func newNamespace(ctx context.Context) string {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "test-"}}
	Expect(k8sClient.Create(ctx, ns)).To(Succeed())
	DeferCleanup(func(ctx SpecContext) {
		Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, ns))).To(Succeed())
	})
	return ns.Name
}

// metaIn names an object in a namespace.
func metaIn(ns, name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Namespace: ns, Name: name}
}
