package bench

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	voicev1alpha1 "github.com/twilio-operator/voice-operator/api/v1alpha1"
	"github.com/twilio-operator/voice-operator/internal/localenv"
	"github.com/twilio-operator/voice-operator/internal/localenv/kube"
	"github.com/twilio-operator/voice-operator/internal/voicesim"
)

// ThroughputResult is one round of creates against the Twilio rate limit:
// Objects objects in one account, the operator with its default flags
// but --voice-api-qps VoiceQPS.
type ThroughputResult struct {
	VoiceQPS float64 `json:"voiceQPS"`
	Objects  int     `json:"objects"`
	// Seconds runs from the first create until every object is Ready.
	Seconds float64 `json:"seconds"`
	// Calls is every request of the account, Creates its POSTs and Lists
	// its List pages (the name checks before the creates).
	Calls   int `json:"calls"`
	Creates int `json:"creates"`
	Lists   int `json:"lists"`
	// MaxInOneSecond is the most requests that arrived at the API in any
	// one-second window (goal: at most the QPS).
	MaxInOneSecond int `json:"maxInOneSecond"`
}

// CreatesPerSecond is the achieved rate; Ratio is it over the QPS (goal
// ≥ 0.9).
func (r *ThroughputResult) CreatesPerSecond() float64 { return float64(r.Objects) / r.Seconds }

// Ratio is the achieved create rate over the configured QPS.
func (r *ThroughputResult) Ratio() float64 { return r.CreatesPerSecond() / r.VoiceQPS }

// Throughput creates n objects in a fresh account with --voice-api-qps qps
// and otherwise default flags, and measures the create rate and the
// busiest second the API saw. It cleans up after itself without remote
// calls: the operator is stopped first, then the finalizers dropped.
func Throughput(ctx context.Context, env *kube.Env, qps float64, n int, logf func(string, ...any)) (*ThroughputResult, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "throughput-"}}
	if err := env.Client.Create(ctx, ns); err != nil {
		return nil, err
	}
	account := "AC" + localenv.RandomHex(16)
	if err := env.CreateSecret(ctx, ns.Name, "creds-0", account, "token-"+localenv.RandomHex(8)); err != nil {
		return nil, err
	}
	op, err := env.StartOperator(ctx, "--zap-log-level", "error", "--voice-api-qps", strconv.FormatFloat(qps, 'f', -1, 64))
	if err != nil {
		return nil, err
	}
	defer func() { _ = op.Stop() }()
	if err := warmUp(ctx, env); err != nil {
		return nil, err
	}

	objs := make([]*voicev1alpha1.ClientConfiguration, n)
	for i := range objs {
		objs[i] = newObject(ns.Name, i, 1)
	}
	logf("throughput: %d objects at --voice-api-qps %g", n, qps)
	posts, lists := env.Sim.CallCount("POST", voicesim.RouteCollection), env.Sim.CallCount("GET", voicesim.RouteCollection)
	w, err := watchReady(ctx, env.Client, client.InNamespace(ns.Name))
	if err != nil {
		return nil, err
	}
	defer w.stop()
	start := time.Now()
	if _, err := parallel(ctx, objs, func(o *voicev1alpha1.ClientConfiguration) error { return env.Client.Create(ctx, o) }); err != nil {
		return nil, err
	}
	for {
		ready := w.count(func(types.NamespacedName) bool { return true })
		if ready == n {
			break
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("throughput at %g QPS: %d of %d objects Ready: %w", qps, ready, n, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
	res := &ThroughputResult{VoiceQPS: qps, Objects: n, Seconds: time.Since(start).Seconds()}
	arrivals := env.Sim.Arrivals(account)
	res.Calls, res.MaxInOneSecond = len(arrivals), busiestSecond(arrivals)
	_ = op.Stop()
	// No other operator runs meanwhile: the counters' growth is this round's.
	res.Creates = env.Sim.CallCount("POST", voicesim.RouteCollection) - posts
	res.Lists = env.Sim.CallCount("GET", voicesim.RouteCollection) - lists
	return res, dropNamespace(ctx, env, ns.Name, objs)
}

// busiestSecond is the most times within any window [t, t+1s) of sorted
// times.
func busiestSecond(times []time.Time) int {
	most, j := 0, 0
	for i := range times {
		for times[i].Sub(times[j]) >= time.Second {
			j++
		}
		most = max(most, i-j+1)
	}
	return most
}

// dropNamespace removes a round's objects without the operator: their
// finalizers are dropped, then the namespace deleted.
func dropNamespace(ctx context.Context, env *kube.Env, ns string, objs []*voicev1alpha1.ClientConfiguration) error {
	_, err := parallel(ctx, objs, func(o *voicev1alpha1.ClientConfiguration) error {
		patch := client.RawPatch("application/merge-patch+json", []byte(`{"metadata":{"finalizers":null}}`))
		return client.IgnoreNotFound(env.Client.Patch(ctx, o, patch))
	})
	if err != nil {
		return err
	}
	return client.IgnoreNotFound(env.Client.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))
}

// WriteThroughput prints the throughput rounds with their goals.
func WriteThroughput(w io.Writer, rs []*ThroughputResult) {
	fmt.Fprintln(w, "throughput against the Twilio rate limit: 1 account, default flags but --voice-api-qps")
	fmt.Fprintf(w, "  %8s %8s %9s %10s %7s %8s %6s %16s\n", "qps", "objects", "seconds", "creates/s", "ratio", "calls", "lists", "busiest second")
	for _, r := range rs {
		fmt.Fprintf(w, "  %8g %8d %9.1f %10.1f %7.2f %8d %6d %16d\n", r.VoiceQPS, r.Objects, r.Seconds, r.CreatesPerSecond(), r.Ratio(), r.Calls, r.Lists, r.MaxInOneSecond)
	}
	fmt.Fprintln(w, "  goals: ratio ≥ 0.90 (up to what the apiserver allows); busiest second ≤ qps")
}
