package chaos_test

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	voicev1alpha1 "github.com/twilio-operator/voice-operator/api/v1alpha1"
	"github.com/twilio-operator/voice-operator/internal/localenv"
	"github.com/twilio-operator/voice-operator/internal/localenv/kube"
	"github.com/twilio-operator/voice-operator/internal/voicesim"
)

var (
	long     = flag.Bool("chaos.long", false, "Run the long storms: 300 objects, 6 kills.")
	seedFlag = flag.Int64("chaos.seed", 0, "Seed of the storms, kills and faults; 0 draws one (each test prints its seed).")
)

// env is the control plane, simulator and operator binary all tests share.
var env *kube.Env

func TestMain(m *testing.M) {
	flag.Parse()
	e, err := kube.StartEnv(context.Background(), "../..", log.Printf)
	if err != nil {
		log.Print(err)
		os.Exit(1)
	}
	env = e
	code := m.Run()
	e.Stop()
	os.Exit(code)
}

// size is how big a storm is.
type size struct {
	objects int
	kills   int
	storm   time.Duration
	// converge bounds the wait for the end state after the storm.
	converge time.Duration
}

func stormSize() size {
	if *long {
		return size{objects: 300, kills: 6, storm: 60 * time.Second, converge: 5 * time.Minute}
	}
	return size{objects: 60, kills: 3, storm: 24 * time.Second, converge: 3 * time.Minute}
}

// operatorArgs are the flags every operator of these tests runs with: a
// Voice API budget large enough that the storm, not the rate limit, is what
// the operator works through.
var operatorArgs = []string{"--voice-api-qps", "100", "--voice-api-burst", "100", "--kube-api-qps", "200", "--kube-api-burst", "400", "--zap-log-level", "info",
	"--observe", cmp.Or(os.Getenv("VOICE_OBSERVE"), "list")}

// The faults of the second scenario: 20% 503, 10% 429 with
// Retry-After, 2% lost answers to creates and deletes, 50–150 ms latency.
var remoteFaults = voicesim.Faults{
	Unavailable: 0.20, Throttled: 0.10, RetryAfter: time.Second,
	LostCreate: 0.02, LostDelete: 0.02,
	Latency: 50 * time.Millisecond, LatencyJitter: 100 * time.Millisecond,
}

// TestKillsDuringAStormLoseNothing SIGKILLs the operator at random moments
// of a storm, restarting it at once each time, first against a healthy
// remote API and then against one that fails, throttles, loses answers and
// lags. After the storm the end state must be exact: no leak, no duplicate,
// every field as last asked, every finalizer released.
func TestKillsDuringAStormLoseNothing(t *testing.T) {
	for _, tc := range []struct {
		name   string
		faults voicesim.Faults
	}{
		{name: "healthy remote"},
		{name: "faulty remote", faults: remoteFaults},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sz, seed := stormSize(), chaosSeed(t)
			ctx, cancel := stormContext(t, sz)
			s := startStorm(ctx, t, seed, sz.objects)
			faults := tc.faults
			faults.Seed = seed
			env.Sim.SetFaults(faults)
			defer env.Sim.SetFaults(voicesim.Faults{})

			op, err := startOperator(ctx, t)
			if err != nil {
				t.Fatal(err)
			}
			at := killTimes(rand.New(rand.NewPCG(uint64(seed), 2)), sz.kills, sz.storm)
			stormBeside(ctx, t, cancel, s, sz, "restarts", func() (struct{}, error) {
				start := time.Now()
				for _, d := range at {
					if !pause(ctx, time.Until(start.Add(d))) {
						break
					}
					op.Kill()
					t.Logf("SIGKILLed the operator at %s of the storm", d.Round(time.Millisecond))
					restarted, err := startOperator(ctx, t)
					if err != nil {
						return struct{}{}, err
					}
					op = restarted
				}
				return struct{}{}, nil
			})

			env.Sim.SetFaults(voicesim.Faults{})
			objs := s.convergeExactly(ctx, t, sz, len(at), env.Sim.FaultCounts())
			// The storm deletes too few objects for 2% lost answers to show
			// up reliably, so the final delete of everything runs under the
			// same faults: every finalizer must still be released, and only
			// after its remote configuration is gone.
			env.Sim.ResetCalls()
			env.Sim.SetFaults(faults)
			if err := s.deleteAll(ctx, sz.converge); err != nil {
				t.Fatalf("deleting every object: %v", err)
			}
			env.Sim.SetFaults(voicesim.Faults{})
			if left := env.Sim.Configurations(s.account); len(left) != 0 {
				t.Fatalf("every object is gone but %d remote configurations remain: %+v", len(left), left)
			}
			t.Logf("deleting the %d live objects at the end cost remote calls %v; faults injected: %v",
				len(objs), sortedMap(env.Sim.Calls()), sortedMap(env.Sim.FaultCounts()))
		})
	}
}

// TestLeaderFailoverDuringAStorm runs two operators with leader election,
// each talking to the simulator through its own listener, and SIGKILLs the
// leader in the middle of a storm. The standby must take over within the
// lease duration (plus slack for its retry period), the end state must be
// exact, and no remote write of the standby may overlap, or come before,
// any write of the dead leader.
func TestLeaderFailoverDuringAStorm(t *testing.T) {
	const lease, renew, retry = 4 * time.Second, 3 * time.Second, 500 * time.Millisecond
	sz, seed := stormSize(), chaosSeed(t)
	ctx, cancel := stormContext(t, sz)
	s := startStorm(ctx, t, seed, sz.objects)

	leaderWrites, standbyWrites := &writeLog{}, &writeLog{}
	leaderAPI, standbyAPI := httptest.NewServer(leaderWrites.wrap(env.Sim)), httptest.NewServer(standbyWrites.wrap(env.Sim))
	defer leaderAPI.Close()
	defer standbyAPI.Close()
	electing := []string{"--leader-elect", "--leader-election-namespace", kube.OperatorNamespace,
		"--leader-elect-lease-duration", lease.String(), "--leader-elect-renew-deadline", renew.String(), "--leader-elect-retry-period", retry.String(),
		// A request ends well within the lease, so the fence may stay open
		// for most of it (leadership.Window).
		"--voice-api-timeout", "2s"}

	// The later --voice-api-url wins over the one StartOperator sets.
	leader, err := startOperator(ctx, t, append(electing, "--voice-api-url", leaderAPI.URL)...)
	if err != nil {
		t.Fatal(err)
	}
	// A lease left by an earlier run (-count) expires within the lease time.
	if _, err := waitForLease(ctx, leader.LogPath, 2*lease+10*time.Second); err != nil {
		t.Fatalf("the first operator never became leader: %v", err)
	}
	standby, err := startOperator(ctx, t, append(electing, "--voice-api-url", standbyAPI.URL)...)
	if err != nil {
		t.Fatal(err)
	}

	killAt := time.Duration(0.3*float64(sz.storm)) + time.Duration(rand.New(rand.NewPCG(uint64(seed), 2)).Int64N(int64(sz.storm/3)))
	type failover struct{ killed, acquired time.Time }
	f := stormBeside(ctx, t, cancel, s, sz, "failover", func() (failover, error) {
		if !pause(ctx, killAt) {
			return failover{}, ctx.Err()
		}
		if logged(standby.LogPath, acquiredLease) {
			return failover{}, fmt.Errorf("the standby held the lease before the leader died")
		}
		leader.Kill()
		killed := time.Now()
		acquired, err := waitForLease(ctx, standby.LogPath, lease+30*time.Second)
		return failover{killed: killed, acquired: acquired}, err
	})
	s.convergeExactly(ctx, t, sz, 1, nil)

	takeover := f.acquired.Sub(f.killed)
	dead, survivor := leaderWrites.spans(), standbyWrites.spans()
	t.Logf("leader SIGKILLed at %s of the storm; standby acquired the lease %s later (lease %s, retry %s); writes: leader %d, standby %d",
		killAt.Round(time.Millisecond), takeover.Round(time.Millisecond), lease, retry, len(dead), len(survivor))
	if len(dead) == 0 || len(survivor) == 0 {
		t.Fatalf("each operator must have written while it led: leader %d writes, standby %d", len(dead), len(survivor))
	}
	t.Logf("standby's first remote write %s after the kill", survivor[0].start.Sub(f.killed).Round(time.Millisecond))
	// The lease can have been renewed just before the kill; the standby
	// notices expiry on its next try, one retry period (jittered) later.
	if limit := lease + 2*retry + 2*time.Second; takeover > limit {
		t.Errorf("the standby took %s to take over, more than the lease time plus slack (%s)", takeover, limit)
	}
	lastDead := slices.MaxFunc(dead, func(a, b span) int { return a.end.Compare(b.end) })
	if !lastDead.end.Before(survivor[0].start) {
		t.Errorf("writes interleaved: the dead leader's %s ended at %s, after the standby's first write (%s) started at %s",
			lastDead.what, lastDead.end.Format(time.StampMicro), survivor[0].what, survivor[0].start.Format(time.StampMicro))
	}
	if !lastDead.end.Before(f.acquired) {
		t.Errorf("the dead leader's last write ended at %s, after the standby acquired the lease at %s",
			lastDead.end.Format(time.StampMicro), f.acquired.Format(time.StampMicro))
	}
	if err := s.deleteAll(ctx, sz.converge); err != nil {
		t.Fatalf("deleting every object: %v", err)
	}
	if left := env.Sim.Configurations(s.account); len(left) != 0 {
		t.Fatalf("every object is gone but %d remote configurations remain: %+v", len(left), left)
	}
}

// stormBeside runs the storm while side runs beside it, and fails the test
// if either failed; it returns what side returned. A failed storm cancels
// ctx, so side stops too.
func stormBeside[T any](ctx context.Context, t *testing.T, cancel context.CancelFunc, s *storm, sz size, what string, side func() (T, error)) T {
	t.Helper()
	type outcome struct {
		value T
		err   error
	}
	done := make(chan outcome, 1)
	go func() {
		v, err := side()
		done <- outcome{v, err}
	}()
	stormErr := s.run(ctx, sz.storm)
	if stormErr != nil {
		cancel()
	}
	o := <-done
	if stormErr != nil || o.err != nil {
		t.Fatalf("storm: %v; %s: %v", stormErr, what, o.err)
	}
	return o.value
}

// convergeExactly waits until every object converged after the storm,
// reports the run, and fails the test unless the remote state is exactly
// what the objects ask for: no leak, no duplicate, no wrong field or id.
func (s *storm) convergeExactly(ctx context.Context, t *testing.T, sz size, kills int, faults map[string]int) map[string]*voicev1alpha1.ClientConfiguration {
	t.Helper()
	objs, took, err := s.waitConverged(ctx, sz.converge)
	if err != nil {
		t.Fatal(err)
	}
	check := s.checkRemote(objs)
	report(t, s, kills, env.Sim.Calls(), faults, took, check)
	if !check.ok() {
		t.Fatalf("remote state differs from the objects: %s", check)
	}
	return objs
}

// acquiredLease is what client-go's leader election logs when it wins
// (capitalised through controller-runtime's logger, not through klog's).
const acquiredLease = "successfully acquired lease"

// chaosSeed is -chaos.seed, or a fresh seed; it is printed either way.
func chaosSeed(t *testing.T) int64 {
	seed := *seedFlag
	if seed == 0 {
		seed = time.Now().UnixNano()
	}
	t.Logf("seed %d (replay with -chaos.seed=%d)", seed, seed)
	return seed
}

// stormContext bounds a storm test: the storm, twice the time to converge,
// and a minute of slack. It is cancelled when the test ends.
func stormContext(t *testing.T, sz size) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), sz.storm+2*sz.converge+time.Minute)
	t.Cleanup(cancel)
	return ctx, cancel
}

// startStorm makes a namespace, an account and its Secret, and a storm
// over them drawing from the seed; the simulator's counters start from
// zero.
func startStorm(ctx context.Context, t *testing.T, seed int64, n int) *storm {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "chaos-"}}
	if err := env.Client.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	account := fmt.Sprintf("AC%032x", time.Now().UnixNano())
	if err := env.CreateSecret(ctx, ns.Name, "creds", account, fmt.Sprintf("token-%x", seed)); err != nil {
		t.Fatal(err)
	}
	env.Sim.ResetCalls()
	return newStorm(env, ns.Name, "creds", account, n, rand.New(rand.NewPCG(uint64(seed), 1)))
}

// startOperator starts an operator process; if the test fails, its log is
// kept for the post-mortem.
func startOperator(ctx context.Context, t *testing.T, args ...string) (*localenv.Operator, error) {
	op, err := env.StartOperator(ctx, append(slices.Clone(operatorArgs), args...)...)
	if err != nil {
		return nil, fmt.Errorf("starting the operator: %w", err)
	}
	t.Cleanup(func() {
		if err := op.Stop(); err != nil {
			t.Error(err)
		}
		keepLogOnFailure(t, op.LogPath)
	})
	return op, nil
}

// pause waits d, which paces the storm's kills (it synchronises with
// nothing); false if ctx ended first.
func pause(ctx context.Context, d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}

// keepLogOnFailure copies an operator log out of the environment's
// directory, which is removed when the tests end.
func keepLogOnFailure(t *testing.T, path string) {
	if !t.Failed() {
		return
	}
	dir := filepath.Join(os.TempDir(), "voice-chaos-logs")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return
	}
	src, err := os.Open(path)
	if err != nil {
		return
	}
	defer func() { _ = src.Close() }()
	dst, err := os.Create(filepath.Join(dir, strings.ReplaceAll(t.Name(), "/", "_")+"-"+filepath.Base(path)))
	if err != nil {
		return
	}
	defer func() { _ = dst.Close() }()
	_, _ = io.Copy(dst, src)
	t.Logf("operator log kept at %s", dst.Name())
}

// killTimes draws n moments in the storm's first 90% (after its first 10%),
// in order.
func killTimes(rng *rand.Rand, n int, storm time.Duration) []time.Duration {
	at := make([]time.Duration, n)
	for i := range at {
		at[i] = storm/10 + time.Duration(rng.Int64N(int64(storm*8/10)))
	}
	slices.Sort(at)
	return at
}

// report logs what the storm did and what it cost.
func report(t *testing.T, s *storm, kills int, calls, faults map[string]int, took time.Duration, check remoteCheck) {
	t.Helper()
	minimal := s.created + s.editCount() + s.deletes
	writes := calls["POST "+voicesim.RouteCollection] + calls["PUT "+voicesim.RouteInstance] + calls["DELETE "+voicesim.RouteInstance]
	t.Logf("objects: %d created, %d edited %v, %d deleted, %d live; kills: %d; converged %s after the storm",
		s.created, s.editCount(), s.edits, s.deletes, len(s.live), kills, took.Round(time.Millisecond))
	t.Logf("remote calls by route: %v", sortedMap(calls))
	reads := calls["GET "+voicesim.RouteCollection] + calls["GET "+voicesim.RouteInstance]
	t.Logf("remote writes: %d, against a nominal %d (1 POST per create, 1 PUT per edit, 1 DELETE per delete): %+d; reads: %d",
		writes, minimal, writes-minimal, reads)
	if faults != nil {
		total := 0
		for _, n := range calls {
			total += n
		}
		// A 503 or 429 is a call that did nothing; a lost answer costs the
		// lookup (GET) that finds out what happened. Fewer writes than the
		// nominal count is no saving of the faults: an operator that falls
		// behind folds edits into one PUT, or into the create itself.
		rejected := faults[voicesim.FaultUnavailable] + faults[voicesim.FaultThrottled]
		t.Logf("faults injected: %v; %d of %d remote calls (%.0f%%) were rejected by a fault and repeated",
			sortedMap(faults), rejected, total, 100*float64(rejected)/float64(max(total, 1)))
	}
	t.Logf("leaks found: %d, duplicates: %d, wrong fields or ids: %d", len(check.Leaks), len(check.Duplicates), len(check.Wrong))
}

func sortedMap(m map[string]int) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(m)) {
		fmt.Fprintf(&b, "%s=%d ", k, m[k])
	}
	return strings.TrimSpace(b.String())
}

// waitForLease polls the operator log at path until it says the lease was
// acquired, and returns when the test first saw it; bounded by within.
func waitForLease(ctx context.Context, path string, within time.Duration) (time.Time, error) {
	const text = acquiredLease
	deadline := time.Now().Add(within)
	for {
		if logged(path, text) {
			return time.Now(), nil
		}
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("%q not in %s after %s", text, path, within)
		}
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func logged(path, text string) bool {
	b, err := os.ReadFile(path)
	return err == nil && strings.Contains(strings.ToLower(string(b)), strings.ToLower(text))
}

// span is one remote write, from its arrival to its answer.
type span struct {
	start, end time.Time
	what       string
}

// writeLog records the remote writes that pass through one listener.
type writeLog struct {
	mu     sync.Mutex
	writes []span
}

// wrap records every write (any method but GET) that h serves. The span
// ends when h returns, even when h drops the connection (a lost answer).
func (l *writeLog) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			h.ServeHTTP(w, r)
			return
		}
		s := span{start: time.Now(), what: r.Method + " " + r.URL.Path}
		defer func() {
			s.end = time.Now()
			l.mu.Lock()
			l.writes = append(l.writes, s)
			l.mu.Unlock()
		}()
		h.ServeHTTP(w, r)
	})
}

// spans returns the writes in order of arrival.
func (l *writeLog) spans() []span {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := slices.Clone(l.writes)
	slices.SortFunc(out, func(a, b span) int { return a.start.Compare(b.start) })
	return out
}

// since returns the writes that arrived at or after t, in order.
func (l *writeLog) since(t time.Time) []span {
	var out []span
	for _, s := range l.spans() {
		if !s.start.Before(t) {
			out = append(out, s)
		}
	}
	return out
}
