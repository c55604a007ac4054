package bench

import (
	"context"
	"fmt"
	"io"
	"math"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	voicev1alpha1 "github.com/twilio-operator/voice-operator/api/v1alpha1"
	"github.com/twilio-operator/voice-operator/internal/localenv"
	"github.com/twilio-operator/voice-operator/internal/localenv/kube"
)

// FairnessConfig is the fairness measurement: Accounts accounts of
// PerAccount objects each, one namespace and Secret per account, the
// operator with its default flags. The first account is the one throttled
// in the second round.
type FairnessConfig struct {
	Accounts   int `json:"accounts"`
	PerAccount int `json:"perAccount"`
	// RetryAfter is what the throttled account answers with its 429s.
	RetryAfter time.Duration `json:"retryAfter"`
	// ThrottleFor is how long it stays throttled.
	ThrottleFor time.Duration `json:"throttleFor"`
	// VoiceQPS is the operator's default --voice-api-qps, for the limit.
	VoiceQPS float64 `json:"voiceQPS"`
}

// FairnessResult is what the two rounds measured.
type FairnessResult struct {
	Config FairnessConfig `json:"config"`
	// CleanHealthySeconds: no account throttled, until every object of the
	// other accounts (all but the first) is Ready; CleanAllSeconds: until
	// every object is.
	CleanHealthySeconds float64 `json:"cleanHealthySeconds"`
	CleanAllSeconds     float64 `json:"cleanAllSeconds"`
	// ThrottledHealthySeconds: the same while the first account answers
	// every call 429.
	ThrottledHealthySeconds float64 `json:"throttledHealthySeconds"`
	// RecoverSeconds: from the end of the throttle until the first
	// account's objects are all Ready.
	RecoverSeconds float64 `json:"recoverSeconds"`
	// ThrottledCalls: calls the throttled account received while throttled;
	// AllowedCalls: what its Retry-After allows over that time (one call
	// per Retry-After).
	ThrottledCalls int `json:"throttledCalls"`
	AllowedCalls   int `json:"allowedCalls"`
}

// Ratio is the healthy accounts' time with one account throttled over
// their time with none (goal ≤ 1.2).
func (r *FairnessResult) Ratio() float64 {
	return r.ThrottledHealthySeconds / r.CleanHealthySeconds
}

// Throughput is the creates per second of the clean round, and the limit
// the per-account rate limits allow together (goal: throughput ≥ 0.9 ×
// limit, up to what the apiserver allows).
func (r *FairnessResult) Throughput() (achieved, limit float64) {
	n := float64(r.Config.Accounts * r.Config.PerAccount)
	return n / r.CleanAllSeconds, float64(r.Config.Accounts) * r.Config.VoiceQPS
}

// Fairness runs the two rounds against one operator with default flags.
func Fairness(ctx context.Context, env *kube.Env, cfg FairnessConfig, logf func(string, ...any)) (*FairnessResult, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	op, err := env.StartOperator(ctx, "--zap-log-level", "error")
	if err != nil {
		return nil, err
	}
	defer func() { _ = op.Stop() }()
	if err := warmUp(ctx, env); err != nil {
		return nil, err
	}
	res := &FairnessResult{Config: cfg}

	logf("fairness: %d accounts × %d objects, none throttled", cfg.Accounts, cfg.PerAccount)
	clean, err := fairnessRound(ctx, env, cfg, "clean", false)
	if err != nil {
		return nil, err
	}
	res.CleanHealthySeconds, res.CleanAllSeconds = clean.healthy.Seconds(), clean.all.Seconds()

	logf("fairness: the same, the first account answering 429 with Retry-After %s for %s", cfg.RetryAfter, cfg.ThrottleFor)
	throttled, err := fairnessRound(ctx, env, cfg, "throttled", true)
	if err != nil {
		return nil, err
	}
	res.ThrottledHealthySeconds = throttled.healthy.Seconds()
	res.RecoverSeconds = (throttled.all - cfg.ThrottleFor).Seconds()
	res.ThrottledCalls = throttled.throttledCalls
	res.AllowedCalls = int(math.Ceil(cfg.ThrottleFor.Seconds() / cfg.RetryAfter.Seconds()))
	return res, nil
}

// roundTimes are the times of one round, from its first create.
type roundTimes struct {
	healthy, all   time.Duration
	throttledCalls int
}

func fairnessRound(ctx context.Context, env *kube.Env, cfg FairnessConfig, round string, throttle bool) (roundTimes, error) {
	accounts := make([]string, cfg.Accounts)
	var objs []*voicev1alpha1.ClientConfiguration
	label := map[string]string{"bench-round": round + "-" + localenv.RandomHex(3)}
	for i := range accounts {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: fmt.Sprintf("fair-%s-%d-", round, i)}}
		if err := env.Client.Create(ctx, ns); err != nil {
			return roundTimes{}, err
		}
		accounts[i] = "AC" + localenv.RandomHex(16)
		if err := env.CreateSecret(ctx, ns.Name, "creds-0", accounts[i], "token-"+localenv.RandomHex(8)); err != nil {
			return roundTimes{}, err
		}
		for j := range cfg.PerAccount {
			obj := newObject(ns.Name, j, 1)
			obj.Labels = label
			obj.Spec.UniqueName = fmt.Sprintf("%s-%d-%03d", round, i, j)
			objs = append(objs, obj)
		}
	}
	if throttle {
		env.Sim.ThrottleAccount(accounts[0], cfg.RetryAfter)
	}
	w, err := watchReady(ctx, env.Client, client.MatchingLabels(label))
	if err != nil {
		return roundTimes{}, err
	}
	defer w.stop()
	start := time.Now()
	throttleEnds := start.Add(cfg.ThrottleFor)
	if _, err := parallel(ctx, objs, func(o *voicev1alpha1.ClientConfiguration) error { return env.Client.Create(ctx, o) }); err != nil {
		return roundTimes{}, err
	}
	var t roundTimes
	lifted := !throttle
	for t.all == 0 {
		if !lifted && time.Now().After(throttleEnds) {
			env.Sim.ThrottleAccount(accounts[0], 0)
			t.throttledCalls = len(env.Sim.ThrottledAnswers(accounts[0]))
			lifted = true
		}
		firstNS := objs[0].Namespace
		firstReady := w.count(func(k types.NamespacedName) bool { return k.Namespace == firstNS })
		healthyReady := w.count(func(k types.NamespacedName) bool { return k.Namespace != firstNS })
		now := time.Since(start)
		if t.healthy == 0 && healthyReady == (cfg.Accounts-1)*cfg.PerAccount {
			t.healthy = now
		}
		if t.healthy != 0 && firstReady == cfg.PerAccount && lifted {
			t.all = now
		}
		select {
		case <-ctx.Done():
			return roundTimes{}, fmt.Errorf("fairness round %s: %d + %d of %d objects Ready: %w", round, healthyReady, firstReady, len(objs), ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
	return t, nil
}

// WriteFairness prints the fairness result with each goal.
func WriteFairness(w io.Writer, r *FairnessResult) {
	achieved, limit := r.Throughput()
	c := r.Config
	fmt.Fprintf(w, "fairness: %d accounts × %d objects, default flags (%.0f QPS per account)\n", c.Accounts, c.PerAccount, c.VoiceQPS)
	fmt.Fprintf(w, "  none throttled:   the %d healthy accounts Ready in %.1f s, all in %.1f s: %.1f creates/s of %.0f allowed (%.2f; goal ≥ 0.90)\n",
		c.Accounts-1, r.CleanHealthySeconds, r.CleanAllSeconds, achieved, limit, achieved/limit)
	fmt.Fprintf(w, "  one throttled:    the %d healthy accounts Ready in %.1f s (%.2f × the clean round; goal ≤ 1.20)\n",
		c.Accounts-1, r.ThrottledHealthySeconds, r.Ratio())
	fmt.Fprintf(w, "  throttled account: %d calls during %s of 429s with Retry-After %s (the Retry-After allows %d); Ready %.1f s after the 429s stopped\n",
		r.ThrottledCalls, c.ThrottleFor, c.RetryAfter, r.AllowedCalls, r.RecoverSeconds)
}
