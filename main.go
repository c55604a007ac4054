// Command voice-operator runs the controllers that manage Twilio Voice v2
// Client Configurations and account defaults from Kubernetes objects.
package main

import (
	"context"
	"flag"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"
	"time"

	"go.uber.org/zap/zapcore"
	"golang.org/x/time/rate"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/apimachinery/pkg/util/validation"
	coordinationv1client "k8s.io/client-go/kubernetes/typed/coordination/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	voicev1alpha1 "github.com/twilio-operator/voice-operator/api/v1alpha1"
	"github.com/twilio-operator/voice-operator/controllers"
	"github.com/twilio-operator/voice-operator/internal/export"
	"github.com/twilio-operator/voice-operator/internal/leadership"
	"github.com/twilio-operator/voice-operator/internal/metricsauth"
	"github.com/twilio-operator/voice-operator/internal/version"
	"github.com/twilio-operator/voice-operator/internal/voice"
)

// scheme holds the kinds the manager's client and cache handle: the two of
// this operator, core/v1 (Secrets, Events' involved objects), and the
// Leases and Events it writes; not every built-in kind, whose registration
// would cost memory for nothing.
var scheme = runtime.NewScheme()

func init() {
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, coordinationv1.AddToScheme, eventsv1.AddToScheme, voicev1alpha1.AddToScheme,
	} {
		utilruntime.Must(add(scheme))
	}
}

// options are the command-line flags.
type options struct {
	metricsAddr, probeAddr string
	metricsSecure          bool
	metricsCertDir         string
	watchNamespaces        string
	pprofAddr              string
	leaderElect            bool
	leaderElectionNS       string
	leaseDuration          time.Duration
	renewDeadline          time.Duration
	retryPeriod            time.Duration

	voiceAPIURL    string
	resync         time.Duration
	observe        string
	pageSize       int
	concurrency    int
	voiceQPS       float64
	voiceBurst     int
	requestTimeout time.Duration
	lateCommit     time.Duration
	kubeQPS        float64
	kubeBurst      int

	printVersion bool
}

func parseFlags() (options, zap.Options) {
	var o options
	flag.StringVar(&o.metricsAddr, "metrics-bind-address", ":8443", "Address the Prometheus metrics endpoint binds to; 0 disables it.")
	flag.BoolVar(&o.metricsSecure, "metrics-secure", true, "Serve metrics over HTTPS, to callers whose bearer token the apiserver authenticates (TokenReview) and authorizes to GET /metrics (SubjectAccessReview; the metrics-reader ClusterRole). false serves plain HTTP to anyone who reaches the port.")
	flag.StringVar(&o.metricsCertDir, "metrics-cert-dir", "", "Directory holding tls.crt and tls.key for the metrics endpoint (e.g. from cert-manager); without it a self-signed certificate is generated at start.")
	flag.StringVar(&o.watchNamespaces, "watch-namespaces", "", "Comma-separated namespaces whose objects and Secrets the operator watches and reconciles; empty means all. With a list, RoleBindings in those namespaces are all the operator needs.")
	flag.StringVar(&o.probeAddr, "health-probe-bind-address", ":8081", "Address the health and readiness probes bind to; 0 disables them.")
	flag.StringVar(&o.pprofAddr, "pprof-bind-address", "0", "Address for Go's pprof endpoints (/debug/pprof/), for profiling; 0 disables them.")
	flag.BoolVar(&o.leaderElect, "leader-elect", false, "Elect a leader, so that only one replica reconciles at a time.")
	flag.StringVar(&o.leaderElectionNS, "leader-election-namespace", "", "Namespace of the leader-election Lease (default: the operator's own namespace).")
	flag.DurationVar(&o.leaseDuration, "leader-elect-lease-duration", 15*time.Second, "How long a standby waits, after the leader's last renewal, before it takes the lease over.")
	flag.DurationVar(&o.renewDeadline, "leader-elect-renew-deadline", 10*time.Second, "How long the leader keeps retrying to renew its lease before it gives leadership up; shorter than the lease duration.")
	flag.DurationVar(&o.retryPeriod, "leader-elect-retry-period", 750*time.Millisecond, "How often candidates try to acquire the lease (at most 2.2 times this apart), and the leader renews it. A standby takes over a released lease within about 2.2 times this.")
	flag.StringVar(&o.voiceAPIURL, "voice-api-url", "", "Base URL of the Voice API, overriding https://voice.twilio.com and any region/edge (for the simulator and tests). Only this flag can change it; never a Secret.")
	flag.DurationVar(&o.resync, "resync-period", 10*time.Minute, "How often an unchanged object is compared with the remote side (jittered by 10%), so remote drift is caught.")
	flag.StringVar(&o.observe, "observe", "list", "How remote configurations are observed: list (one paged List per account per resync period, shared by all objects) or get (one GET per object per resync period).")
	flag.IntVar(&o.pageSize, "list-page-size", voice.DefaultPageSize, "Page size of the List requests (resyncs with --observe=list, and the check that a unique name is free before a create). A size the API refuses falls back to the API's own.")
	flag.IntVar(&o.concurrency, "max-concurrent-reconciles", 8, "ClientConfigurations reconciled in parallel; a reconcile waiting for its account's turn is requeued and never holds a worker (AccountDefaults are reconciled one at a time, as one account has one default).")
	flag.Float64Var(&o.voiceQPS, "voice-api-qps", 10, "Requests per second to the Voice API, per Twilio account and credential. No second carries more than this (rounded down, at least 1); a 429 holds every request of the account back until its Retry-After has passed.")
	flag.IntVar(&o.voiceBurst, "voice-api-burst", 10, "Requests of one account that may be scheduled at once after a quiet spell; the per-second cap of --voice-api-qps holds whatever it is.")
	flag.DurationVar(&o.requestTimeout, "voice-api-timeout", 10*time.Second, "Timeout of one request to the Voice API.")
	flag.DurationVar(&o.lateCommit, "late-commit-window", controllers.DefaultLateCommitWindow, "How long after a create whose answer was lost (a timeout, a 5xx) the API may still make it. Until a List that starts this long after shows nothing, the attempt counts as possibly made: the object is not deleted and no other object creates the name.")
	flag.Float64Var(&o.kubeQPS, "kube-api-qps", 200, "Requests per second to the Kubernetes apiserver (client-side; the apiserver's priority and fairness protects it too). A create costs three object writes, so this bounds creates across all accounts to a third of it.")
	flag.IntVar(&o.kubeBurst, "kube-api-burst", 400, "Burst of requests to the Kubernetes apiserver.")
	flag.BoolVar(&o.printVersion, "version", false, "Print the version, commit and build date, and exit.")
	// JSON lines, as a log pipeline wants them; stack traces only for a
	// panic: an error the operator logs says what failed in its message.
	// --zap-devel, --zap-encoder and --zap-stacktrace-level still override.
	zapOpts := zap.Options{StacktraceLevel: zapcore.PanicLevel}
	zapOpts.BindFlags(flag.CommandLine)
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "Usage: %s [flags]          run the operator\n       %s export [flags]   write an existing account's configurations as YAML (export --help)\n\nFlags:\n", os.Args[0], os.Args[0])
		flag.PrintDefaults()
	}
	flag.Parse()
	return o, zapOpts
}

// defaultGCPercent is the operator's garbage-collection target unless GOGC
// says otherwise. Go's default, 100, lets garbage double the heap between
// collections; when thousands of objects converge at once that doubles the
// peak memory too. 50 keeps the peak near 1.5x the live heap for a few
// percent more CPU (see docs/performance.md).
const defaultGCPercent = 50

func main() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(defaultGCPercent)
	}
	if len(os.Args) > 1 && os.Args[1] == "export" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := export.Main(ctx, os.Args[2:], os.Stdout, os.Stderr, os.Getenv, version.Get().Version)
		stop()
		os.Exit(code)
	}
	o, zapOpts := parseFlags()
	if o.printVersion {
		fmt.Println(version.Get())
		return
	}
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
	if err := run(ctrl.SetupSignalHandler(), o); err != nil {
		ctrl.Log.WithName("setup").Error(err, "Operator stopped with an error")
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	log := ctrl.Log.WithName("setup")
	if o.voiceAPIURL != "" {
		if u, err := url.Parse(o.voiceAPIURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("--voice-api-url %q is not an absolute http(s) URL", o.voiceAPIURL)
		}
	}

	if o.observe != "list" && o.observe != "get" {
		return fmt.Errorf("--observe must be list or get, not %q", o.observe)
	}
	namespaces, err := parseNamespaces(o.watchNamespaces)
	if err != nil {
		return err
	}

	m := controllers.NewMetrics(metrics.Registry)
	restCfg := ctrl.GetConfigOrDie()
	restCfg.QPS, restCfg.Burst = float32(o.kubeQPS), o.kubeBurst
	// The lease is renewed through a client of its own; every other write,
	// to the apiserver or to Twilio, passes the fence, so a replica that was
	// frozen past its lease writes nothing once it resumes.
	electionCfg := rest.CopyConfig(restCfg)
	// Scrapes are authenticated and authorized on every replica, the
	// standbys included, so the reviews bypass the fence too.
	reviewCfg := rest.AddUserAgent(rest.CopyConfig(restCfg), "metrics-auth")
	var fence *leadership.Fence
	var lock resourcelock.Interface
	if o.leaderElect {
		window, err := leadership.Window(o.renewDeadline, o.leaseDuration, o.requestTimeout)
		if err != nil {
			return fmt.Errorf("--voice-api-timeout and --leader-elect-lease-duration: %w", err)
		}
		fence = leadership.NewFence(window)
		if lock, err = leaseLock(electionCfg, o); err != nil {
			return err
		}
		lock = fence.Lock(lock)
	}
	restCfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper { return m.WrapKubeTransport(fence.WrapTransport(rt)) }
	mgr, err := ctrl.NewManager(restCfg, ctrl.Options{
		Scheme:                  scheme,
		Metrics:                 metricsOptions(o, reviewCfg),
		HealthProbeBindAddress:  o.probeAddr,
		PprofBindAddress:        o.pprofAddr,
		LeaderElection:          o.leaderElect,
		LeaderElectionID:        leaderElectionID,
		LeaderElectionNamespace: o.leaderElectionNS,
		LeaderElectionConfig:    electionCfg,
		// Set only with leader election on; then it is the fenced lease.
		LeaderElectionResourceLockInterface: lock,
		LeaseDuration:                       &o.leaseDuration,
		RenewDeadline:                       &o.renewDeadline,
		RetryPeriod:                         &o.retryPeriod,
		// The new leader starts at once when the old one exits cleanly.
		LeaderElectionReleaseOnCancel: true,
		// With thousands of objects the cache is most of the memory:
		// CompactForCache drops what no controller reads and stores shared
		// strings once.
		Cache: cache.Options{DefaultTransform: controllers.CompactForCache, DefaultNamespaces: namespaces},
	})
	if err != nil {
		return fmt.Errorf("creating the manager: %w", err)
	}

	factory := voice.NewFactory(voice.Options{
		BaseURL:        o.voiceAPIURL,
		RequestTimeout: o.requestTimeout,
		RateLimit:      rate.Limit(o.voiceQPS),
		Burst:          o.voiceBurst,
		PageSize:       o.pageSize,
		Version:        version.Get().Version,
		Observer:       m.ObserveRequest,
		WrapTransport:  fence.WrapTransport,
	})
	recorder, err := controllers.NewEventRecorder(mgr, "voice-operator", o.concurrency)
	if err != nil {
		return err
	}
	deps := controllers.Deps{
		Client:       mgr.GetClient(),
		APIReader:    mgr.GetAPIReader(),
		Clients:      controllers.NewClientFactory(factory),
		Recorder:     recorder,
		ResyncPeriod: o.resync,
		Metrics:      m,
	}
	if err := (&controllers.ClientConfigurationReconciler{
		Deps:                    deps,
		LateCommitWindow:        o.lateCommit,
		MaxConcurrentReconciles: o.concurrency,
		Observe:                 controllers.ObserveMode(o.observe),
		PageSize:                o.pageSize,
	}).SetupWithManager(ctx, mgr); err != nil {
		return fmt.Errorf("setting up the ClientConfiguration controller: %w", err)
	}
	if err := (&controllers.AccountDefaultReconciler{Deps: deps}).SetupWithManager(ctx, mgr); err != nil {
		return fmt.Errorf("setting up the AccountDefault controller: %w", err)
	}

	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return fmt.Errorf("adding the health check: %w", err)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return fmt.Errorf("adding the readiness check: %w", err)
	}
	build := version.Get()
	log.Info("Starting the manager", "version", build.Version, "commit", build.Commit, "namespaces", watched(namespaces), "resyncPeriod", o.resync, "observe", o.observe, "voiceAPI", apiDescription(o.voiceAPIURL))
	return mgr.Start(ctx)
}

// leaseLock is the Lease the replicas elect their leader with, as
// controller-runtime would make it, built here so the fence can watch it.
func leaseLock(cfg *rest.Config, o options) (resourcelock.Interface, error) {
	ns := o.leaderElectionNS
	if ns == "" {
		raw, err := os.ReadFile("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
		if err != nil {
			return nil, fmt.Errorf("--leader-election-namespace is required outside a cluster: %w", err)
		}
		ns = strings.TrimSpace(string(raw))
	}
	host, err := os.Hostname()
	if err != nil {
		return nil, err
	}
	cfg = rest.AddUserAgent(rest.CopyConfig(cfg), "leader-election")
	// One hung request must not cost the lease: half the renew deadline.
	cfg.Timeout = max(o.renewDeadline/2, time.Second)
	coordination, err := coordinationv1client.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	core, err := corev1client.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return resourcelock.New(resourcelock.LeasesResourceLock, ns, leaderElectionID, core, coordination,
		resourcelock.ResourceLockConfig{Identity: host + "_" + string(uuid.NewUUID())})
}

// metricsOptions serves the metrics as --metrics-secure says: HTTPS with
// authentication and authorization delegated to the apiserver (through
// reviewCfg, the same on every replica), or plain HTTP.
func metricsOptions(o options, reviewCfg *rest.Config) metricsserver.Options {
	opts := metricsserver.Options{BindAddress: o.metricsAddr}
	if !o.metricsSecure {
		return opts
	}
	opts.SecureServing = true
	opts.CertDir = o.metricsCertDir
	opts.FilterProvider = func(*rest.Config, *http.Client) (metricsserver.Filter, error) {
		client, err := rest.HTTPClientFor(reviewCfg)
		if err != nil {
			return nil, err
		}
		reviewer, err := metricsauth.New(reviewCfg, client)
		if err != nil {
			return nil, err
		}
		return reviewer.Filter, nil
	}
	return opts
}

// parseNamespaces reads --watch-namespaces: nil (every namespace) when
// empty, else the cache configuration of each listed namespace.
func parseNamespaces(flagValue string) (map[string]cache.Config, error) {
	if strings.TrimSpace(flagValue) == "" {
		return nil, nil
	}
	namespaces := map[string]cache.Config{}
	for _, ns := range strings.Split(flagValue, ",") {
		ns = strings.TrimSpace(ns)
		if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
			return nil, fmt.Errorf("--watch-namespaces: %q is not a namespace name: %s", ns, strings.Join(errs, "; "))
		}
		namespaces[ns] = cache.Config{}
	}
	return namespaces, nil
}

// watched describes the namespaces for the log.
func watched(namespaces map[string]cache.Config) string {
	if len(namespaces) == 0 {
		return "all"
	}
	return strings.Join(slices.Sorted(maps.Keys(namespaces)), ",")
}

// leaderElectionID names the Lease.
const leaderElectionID = "voice-operator.voice.twilio-operator.io"

// apiDescription says which Voice API the operator talks to, for the log.
func apiDescription(override string) string {
	if override != "" {
		return override
	}
	return "https://voice.twilio.com (or the region/edge of each Secret)"
}
