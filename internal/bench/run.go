// Package bench measures what the operator costs: remote calls, apiserver
// writes, time to Ready, memory and CPU, phase by phase, against a real
// kube-apiserver, the Voice API simulator and the operator binary running as
// its own process (internal/localenv/kube.Env). `make bench` runs it
// through hack/bench; a small size runs inside `make test` (test/bench) as a
// regression check on the counts.
package bench

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	voicev1alpha1 "github.com/twilio-operator/voice-operator/api/v1alpha1"
	"github.com/twilio-operator/voice-operator/internal/localenv"
	"github.com/twilio-operator/voice-operator/internal/localenv/kube"
	"github.com/twilio-operator/voice-operator/internal/voicesim"
)

// Config is one run of the benchmark.
type Config struct {
	// Objects is how many ClientConfigurations are created.
	Objects int `json:"objects"`
	// Accounts is how many Twilio accounts they are spread over.
	Accounts int `json:"accounts"`
	// Observe is the operator's --observe mode: list or get.
	Observe string `json:"observe"`
	// Latency is added by the simulator to every API call.
	Latency time.Duration `json:"latency"`
	// Resync is the operator's --resync-period.
	Resync time.Duration `json:"resync"`
	// SteadyPeriods is how many resync periods the steady phase lasts.
	SteadyPeriods int `json:"steadyPeriods"`
	// Concurrency is the operator's --max-concurrent-reconciles.
	Concurrency int `json:"concurrency"`
	// VoiceQPS is the operator's --voice-api-qps (per account).
	VoiceQPS float64 `json:"voiceQPS"`
	// KubeQPS is the operator's --kube-api-qps (burst is twice it).
	KubeQPS float64 `json:"kubeQPS"`
	// PageSize is the operator's --list-page-size.
	PageSize int `json:"pageSize"`
	// EditPercent is the share of objects whose spec the edit phase changes.
	EditPercent int `json:"editPercent"`
	// ProfileDir, when set, receives a heap profile of the operator at the
	// end of each phase.
	ProfileDir string `json:"-"`
}

// Name labels the run in the table.
func (c Config) Name() string {
	return fmt.Sprintf("N=%d acct=%d %s lat=%s", c.Objects, c.Accounts, c.Observe, c.Latency)
}

// Phases that replace the operator.
const (
	// PhaseRestart stops the operator and starts a new one.
	PhaseRestart = "restart"
	// PhaseHandover stops the leader of two replicas.
	PhaseHandover = "handover"
)

// Phase is what one phase of a run cost.
type Phase struct {
	Name string `json:"name"`
	// Objects the phase acted on (all for create and delete, the edited
	// share for update, all for steady).
	Objects int `json:"objects"`
	// WallSeconds until every object acted on converged.
	WallSeconds float64 `json:"wallSeconds"`
	// ReadyP50Seconds and ReadyP99Seconds: per object, from its write to
	// its Ready (create, update) or disappearance (delete).
	ReadyP50Seconds float64 `json:"readyP50Seconds"`
	ReadyP99Seconds float64 `json:"readyP99Seconds"`
	// Remote is the simulator's count of API calls by "METHOD route".
	Remote map[string]int `json:"remote"`
	// KubeWrites is the operator's writes to ClientConfigurations (object
	// and status); EventWrites its writes of Events.
	KubeWrites  int `json:"kubeWrites"`
	EventWrites int `json:"eventWrites"`
	// Periods is how many resync periods the steady phase lasted.
	Periods int `json:"periods,omitempty"`
	// NotReadyEvents counts, in the restart phase, the watch events that
	// showed an object without Ready=True: goal 0, no object ever leaves
	// Ready because the operator restarted.
	NotReadyEvents int `json:"notReadyEvents,omitempty"`
	// HandoverSeconds is, in the handover phase, the time from the
	// leader's SIGTERM to the end of the standby's first reconcile;
	// LeadSeconds to the moment the standby leads (its
	// leader_election_master_status is 1). Between the two, the first
	// reconcile waits for the account's first List walk, ceil(N / page
	// size) pages at --voice-api-qps.
	HandoverSeconds float64 `json:"handoverSeconds,omitempty"`
	LeadSeconds     float64 `json:"leadSeconds,omitempty"`
	// PeakHeapBytes and PeakAnonBytes are the operator's largest heap in
	// use and anonymous resident memory sampled during the phase (of the
	// process running at its end), to tell which phase sets the run's peak.
	PeakHeapBytes uint64 `json:"peakHeapBytes,omitempty"`
	PeakAnonBytes uint64 `json:"peakAnonBytes,omitempty"`
}

// Result is a run: its configuration, its phases, and the operator's
// resource use over the whole run.
type Result struct {
	Config        Config  `json:"config"`
	Phases        []Phase `json:"phases"`
	PeakRSSBytes  uint64  `json:"peakRSSBytes"`
	PeakHeapBytes uint64  `json:"peakHeapBytes"`
	// PeakAnonBytes and PeakFileBytes split the resident memory, sampled:
	// anonymous (heap, stacks, runtime) and file-backed (the binary).
	PeakAnonBytes uint64  `json:"peakAnonBytes"`
	PeakFileBytes uint64  `json:"peakFileBytes"`
	CPUSeconds    float64 `json:"cpuSeconds"`
}

// bench is one environment the benchmark runs in.
type bench struct{ *kube.Env }

// Run runs one configuration in env: create, steady, edit, delete.
func Run(ctx context.Context, env *kube.Env, cfg Config, logf func(string, ...any)) (*Result, error) {
	return (&bench{env}).run(ctx, cfg, logf)
}

func (e *bench) run(ctx context.Context, cfg Config, logf func(string, ...any)) (*Result, error) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "bench-"}}
	if err := e.Client.Create(ctx, ns); err != nil {
		return nil, err
	}
	accounts := make([]string, cfg.Accounts)
	for i := range accounts {
		accounts[i] = "AC" + localenv.RandomHex(16)
		if err := e.CreateSecret(ctx, ns.Name, fmt.Sprintf("creds-%d", i), accounts[i], "token-"+localenv.RandomHex(8)); err != nil {
			return nil, err
		}
	}
	e.Sim.SetFaults(voicesim.Faults{Latency: cfg.Latency})
	defer e.Sim.SetFaults(voicesim.Faults{})

	tracker, err := e.track(ctx, ns.Name)
	if err != nil {
		return nil, err
	}
	defer tracker.stop()
	op, err := e.startOperator(ctx, cfg, logf)
	if err != nil {
		return nil, err
	}
	defer func() { op.stop() }() // the one running at the end: restart replaces it

	res := &Result{Config: cfg}
	objs := make([]*voicev1alpha1.ClientConfiguration, cfg.Objects)
	for i := range objs {
		objs[i] = newObject(ns.Name, i, cfg.Accounts)
	}
	phases := []struct {
		name string
		run  func() (Phase, error)
	}{
		{"create", func() (Phase, error) { return e.createPhase(ctx, tracker, objs) }},
		{"steady", func() (Phase, error) { return steadyPhase(ctx, cfg, len(objs)) }},
		{PhaseRestart, func() (Phase, error) { return e.restartPhase(ctx, cfg, tracker, &op, res, logf) }},
		{PhaseHandover, func() (Phase, error) { return e.handoverPhase(ctx, cfg, tracker, &op, res, logf) }},
		{"update", func() (Phase, error) { return e.updatePhase(ctx, tracker, objs[:cfg.Objects*cfg.EditPercent/100]) }},
		{"delete", func() (Phase, error) { return e.deletePhase(ctx, tracker, ns.Name, objs) }},
	}
	for _, p := range phases {
		logf("%s: %s", cfg.Name(), p.name)
		e.Sim.ResetCalls()
		counted := op // restart replaces op, and counts its writes itself
		counted.phasePeaks()
		before, err := counted.kubeWrites()
		if err != nil {
			return nil, err
		}
		phase, err := p.run()
		if err != nil {
			return nil, fmt.Errorf("%s phase: %w", p.name, err)
		}
		// Let trailing writes (status after the last Ready, Events) land.
		if err := op.settle(ctx); err != nil {
			return nil, fmt.Errorf("%s phase: %w", p.name, err)
		}
		phase.Name, phase.Remote = p.name, e.Sim.Calls()
		phase.PeakHeapBytes, phase.PeakAnonBytes = op.phasePeaks()
		if cfg.ProfileDir != "" {
			if err := op.saveHeapProfile(filepath.Join(cfg.ProfileDir, fmt.Sprintf("heap-%d-%s-%s.pprof", cfg.Objects, cfg.Observe, p.name))); err != nil {
				logf("heap profile: %v", err)
			}
		}
		after, err := op.kubeWrites()
		if err != nil {
			return nil, err
		}
		if op != counted {
			before = writes{} // a new operator: all its writes are the phase's
		}
		phase.KubeWrites = after.objects - before.objects
		phase.EventWrites = after.events - before.events
		if p.name == PhaseRestart || p.name == PhaseHandover {
			phase.NotReadyEvents = tracker.countNotReady(false)
		}
		res.Phases = append(res.Phases, phase)
	}
	res.retire(op)
	_ = e.Client.Delete(ctx, ns)
	return res, nil
}

// newObject is the i-th ClientConfiguration of a run.
func newObject(ns string, i, accounts int) *voicev1alpha1.ClientConfiguration {
	name := fmt.Sprintf("cc-%05d", i)
	return &voicev1alpha1.ClientConfiguration{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: voicev1alpha1.ClientConfigurationSpec{
			UniqueName:       name,
			Description:      "benchmark " + name,
			CallNotification: voicev1alpha1.CallNotification{URL: "https://example.com/notify/" + name, Method: voicev1alpha1.HTTPMethodPOST},
			CredentialsRef:   voicev1alpha1.SecretReference{Name: fmt.Sprintf("creds-%d", i%accounts)},
		},
	}
}

// createPhase creates every object and waits until all are Ready.
func (e *bench) createPhase(ctx context.Context, t *tracker, objs []*voicev1alpha1.ClientConfiguration) (Phase, error) {
	start := time.Now()
	written, err := parallel(ctx, objs, func(o *voicev1alpha1.ClientConfiguration) error { return e.Client.Create(ctx, o) })
	if err != nil {
		return Phase{}, err
	}
	return t.waitReady(ctx, start, written, 1)
}

// steadyPhase only waits: nothing changes, so nothing should be written.
func steadyPhase(ctx context.Context, cfg Config, n int) (Phase, error) {
	start := time.Now()
	select {
	case <-ctx.Done():
		return Phase{}, ctx.Err()
	case <-time.After(time.Duration(cfg.SteadyPeriods) * cfg.Resync):
	}
	return Phase{Objects: n, WallSeconds: time.Since(start).Seconds(), Periods: cfg.SteadyPeriods}, nil
}

// restartPhase stops the operator (SIGTERM, as a rollout does) with every
// object Ready and in sync, starts a new one, and waits until it has
// reconciled each object once (the first resync after its start) and
// settled. The goals: no remote write, no apiserver write, reads of one
// List walk per account, and no object seen leaving Ready meanwhile.
func (e *bench) restartPhase(ctx context.Context, cfg Config, t *tracker, op **operator, res *Result, logf func(string, ...any)) (Phase, error) {
	old := *op
	res.retire(old)
	old.stop()
	e.Sim.ResetCalls()
	t.countNotReady(true)
	start := time.Now()
	started, err := e.startOperator(ctx, cfg, logf)
	if err != nil {
		return Phase{}, err
	}
	*op = started
	if _, err := started.waitReconciles(ctx, cfg.Objects); err != nil {
		return Phase{}, err
	}
	if err := started.settle(ctx); err != nil {
		return Phase{}, err
	}
	return Phase{Objects: cfg.Objects, WallSeconds: time.Since(start).Seconds()}, nil
}

// handoverPhase starts a second replica, lets it stand by, and stops the
// leader gracefully (SIGTERM: it releases its lease). It measures the time
// from the SIGTERM to the standby's first reconcile, and, as a restart
// does, every write until the new leader has reconciled each object once.
func (e *bench) handoverPhase(ctx context.Context, cfg Config, t *tracker, op **operator, res *Result, logf func(string, ...any)) (Phase, error) {
	leader := *op
	standby, err := e.startOperator(ctx, cfg, logf)
	if err != nil {
		return Phase{}, err
	}
	*op = standby
	// Let the standby fill its caches; it reconciles nothing until it leads.
	select {
	case <-ctx.Done():
		leader.stop()
		return Phase{}, ctx.Err()
	case <-time.After(3 * time.Second):
	}
	if m, err := standby.scrape(); err != nil || sumOf(m, "controller_runtime_reconcile_total{") > 0 {
		leader.stop()
		return Phase{}, fmt.Errorf("the standby reconciled before the leader stopped (%v): is leader election on?", err)
	}
	e.Sim.ResetCalls()
	t.countNotReady(true)
	res.retire(leader)
	start := time.Now()
	stopped := make(chan struct{})
	go func() {
		leader.stop()
		close(stopped)
	}()
	leads, err := standby.waitLeading(ctx)
	if err != nil {
		return Phase{}, err
	}
	first, err := standby.waitReconciles(ctx, 1)
	if err != nil {
		return Phase{}, err
	}
	handover := first.Sub(start)
	if _, err := standby.waitReconciles(ctx, cfg.Objects); err != nil {
		return Phase{}, err
	}
	<-stopped
	if err := standby.settle(ctx); err != nil {
		return Phase{}, err
	}
	return Phase{Objects: cfg.Objects, WallSeconds: time.Since(start).Seconds(), HandoverSeconds: handover.Seconds(), LeadSeconds: leads.Sub(start).Seconds()}, nil
}

// waitLeading returns when the operator leads.
func (op *operator) waitLeading(ctx context.Context) (time.Time, error) {
	return op.waitMetric(ctx, "leader_election_master_status{", 1, "the standby to lead")
}

// waitReconciles returns when the operator's ClientConfiguration controller
// has reconciled n times.
func (op *operator) waitReconciles(ctx context.Context, n int) (time.Time, error) {
	return op.waitMetric(ctx, `controller_runtime_reconcile_total{controller="clientconfiguration"`, float64(n),
		fmt.Sprintf("the operator to reconcile %d objects", n))
}

// waitMetric polls the operator's metrics every 20 ms until the series
// whose keys start with prefix add up to at least want, and returns when it
// saw that.
func (op *operator) waitMetric(ctx context.Context, prefix string, want float64, what string) (time.Time, error) {
	for {
		m, err := op.scrape()
		if err == nil && sumOf(m, prefix) >= want {
			return time.Now(), nil
		}
		select {
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// sumOf adds the values of every series whose key starts with prefix.
func sumOf(m map[string]float64, prefix string) float64 {
	total := 0.0
	for key, v := range m {
		if strings.HasPrefix(key, prefix) {
			total += v
		}
	}
	return total
}

// updatePhase changes the description of each object and waits until all
// are Ready for their new generation.
func (e *bench) updatePhase(ctx context.Context, t *tracker, objs []*voicev1alpha1.ClientConfiguration) (Phase, error) {
	start := time.Now()
	patch := client.RawPatch("application/merge-patch+json", []byte(`{"spec":{"description":"benchmark, edited"}}`))
	written, err := parallel(ctx, objs, func(o *voicev1alpha1.ClientConfiguration) error { return e.Client.Patch(ctx, o, patch) })
	if err != nil {
		return Phase{}, err
	}
	return t.waitReady(ctx, start, written, 2)
}

// deletePhase deletes every object and waits until all are gone.
func (e *bench) deletePhase(ctx context.Context, t *tracker, ns string, objs []*voicev1alpha1.ClientConfiguration) (Phase, error) {
	start := time.Now()
	// A collection delete of thousands of objects can outlast the
	// apiserver's request timeout on a busy machine (a timeout status, or
	// over HTTP/2 a reset stream); it goes on, and asking again is harmless.
	for try := 1; ; try++ {
		err := e.Client.DeleteAllOf(ctx, &voicev1alpha1.ClientConfiguration{}, client.InNamespace(ns))
		if err == nil {
			break
		}
		if try == 5 || ctx.Err() != nil {
			return Phase{}, err
		}
	}
	written := map[string]time.Time{}
	for _, o := range objs {
		written[o.Name] = start
	}
	return t.waitGone(ctx, start, written)
}

// parallel applies write to every object with a few workers and returns
// when each write returned.
func parallel(ctx context.Context, objs []*voicev1alpha1.ClientConfiguration, write func(*voicev1alpha1.ClientConfiguration) error) (map[string]time.Time, error) {
	var mu sync.Mutex
	written := make(map[string]time.Time, len(objs))
	work := make(chan *voicev1alpha1.ClientConfiguration)
	errs := make(chan error, 8)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for o := range work {
				if err := write(o); err != nil {
					errs <- fmt.Errorf("%s: %w", o.Name, err)
					return
				}
				mu.Lock()
				written[o.Name] = time.Now()
				mu.Unlock()
			}
		})
	}
	for _, o := range objs {
		select {
		case work <- o:
		case err := <-errs:
			close(work)
			return nil, err
		case <-ctx.Done():
			close(work)
			return nil, ctx.Err()
		}
	}
	close(work)
	wg.Wait()
	select {
	case err := <-errs:
		return nil, err
	default:
	}
	return written, nil
}

// tracker follows the run's objects through a watch: when each became Ready
// for a generation, and when each disappeared.
type tracker struct {
	mu    sync.Mutex
	ready map[string]map[int64]time.Time // name → generation → first seen Ready
	gone  map[string]time.Time
	seen  map[string]bool // every name a watch event or List showed
	w     watch.Interface

	ctx     context.Context
	c       client.WithWatch
	ns      string
	stopped atomic.Bool
	// counting, when set, counts in notReady every event that shows an
	// object without Ready=True.
	counting bool
	notReady int
}

// countNotReady starts or stops counting events of objects not Ready, and
// returns the count so far.
func (t *tracker) countNotReady(on bool) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := t.notReady
	t.counting, t.notReady = on, 0
	return n
}

// track starts watching the namespace's ClientConfigurations.
func (e *bench) track(ctx context.Context, ns string) (*tracker, error) {
	w, err := e.Client.Watch(ctx, &voicev1alpha1.ClientConfigurationList{}, client.InNamespace(ns))
	if err != nil {
		return nil, err
	}
	t := &tracker{ready: map[string]map[int64]time.Time{}, gone: map[string]time.Time{}, seen: map[string]bool{}, w: w,
		ctx: ctx, c: e.Client, ns: ns}
	go t.follow()
	return t, nil
}

// follow records the watch's events. When the apiserver ends the watch (its
// timeout, or under load a reset stream), it catches up with a List and
// watches on from there.
func (t *tracker) follow() {
	for {
		t.mu.Lock()
		w := t.w
		t.mu.Unlock()
		for ev := range w.ResultChan() {
			if obj, ok := ev.Object.(*voicev1alpha1.ClientConfiguration); ok {
				t.observe(obj, ev.Type == watch.Deleted, true)
			}
		}
		for !t.stopped.Load() && t.ctx.Err() == nil {
			if err := t.resume(); err == nil {
				break
			}
			time.Sleep(time.Second)
		}
		if t.stopped.Load() || t.ctx.Err() != nil {
			return
		}
	}
}

// resume lists the objects, records what changed while no watch ran, and
// starts a new watch from the List.
func (t *tracker) resume() error {
	var list voicev1alpha1.ClientConfigurationList
	if err := t.c.List(t.ctx, &list, client.InNamespace(t.ns)); err != nil {
		return err
	}
	present := map[string]bool{}
	for i := range list.Items {
		present[list.Items[i].Name] = true
		t.observe(&list.Items[i], false, false)
	}
	t.mu.Lock()
	for name := range t.seen {
		if _, done := t.gone[name]; !present[name] && !done {
			t.gone[name] = time.Now()
		}
	}
	t.mu.Unlock()
	w, err := t.c.Watch(t.ctx, &voicev1alpha1.ClientConfigurationList{}, client.InNamespace(t.ns),
		&client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: list.ResourceVersion}})
	if err != nil {
		return err
	}
	t.mu.Lock()
	t.w = w
	t.mu.Unlock()
	if t.stopped.Load() {
		w.Stop()
	}
	return nil
}

// observe records one state of an object: gone, or Ready at its
// generation; event says it came from the watch (a List's catch-up is not
// counted as a not-Ready event).
func (t *tracker) observe(obj *voicev1alpha1.ClientConfiguration, deleted, event bool) {
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.seen[obj.Name] = true
	if event && t.counting && !deleted && !meta.IsStatusConditionTrue(obj.Status.Conditions, voicev1alpha1.ConditionReady) {
		t.notReady++
	}
	switch {
	case deleted:
		t.gone[obj.Name] = now
	case obj.Status.ObservedGeneration == obj.Generation && meta.IsStatusConditionTrue(obj.Status.Conditions, voicev1alpha1.ConditionReady):
		if t.ready[obj.Name] == nil {
			t.ready[obj.Name] = map[int64]time.Time{}
		}
		if _, seen := t.ready[obj.Name][obj.Generation]; !seen {
			t.ready[obj.Name][obj.Generation] = now
		}
	}
}

func (t *tracker) stop() {
	t.stopped.Store(true)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.w.Stop()
}

// waitReady waits until every written object is Ready at generation.
func (t *tracker) waitReady(ctx context.Context, start time.Time, written map[string]time.Time, generation int64) (Phase, error) {
	return t.wait(ctx, start, written, func(name string) (time.Time, bool) {
		at, ok := t.ready[name][generation]
		return at, ok
	})
}

// waitGone waits until every written object has disappeared.
func (t *tracker) waitGone(ctx context.Context, start time.Time, written map[string]time.Time) (Phase, error) {
	return t.wait(ctx, start, written, func(name string) (time.Time, bool) {
		at, ok := t.gone[name]
		return at, ok
	})
}

// wait polls the tracker until done holds for every written object, then
// summarises the per-object latencies.
func (t *tracker) wait(ctx context.Context, start time.Time, written map[string]time.Time, done func(string) (time.Time, bool)) (Phase, error) {
	for {
		t.mu.Lock()
		var latencies []float64
		last := start
		for name, at := range written {
			if when, ok := done(name); ok {
				latencies = append(latencies, when.Sub(at).Seconds())
				if when.After(last) {
					last = when
				}
			}
		}
		t.mu.Unlock()
		if len(latencies) == len(written) {
			slices.Sort(latencies)
			return Phase{
				Objects:         len(written),
				WallSeconds:     last.Sub(start).Seconds(),
				ReadyP50Seconds: percentile(latencies, 0.50),
				ReadyP99Seconds: percentile(latencies, 0.99),
			}, nil
		}
		select {
		case <-ctx.Done():
			return Phase{}, fmt.Errorf("%d of %d objects converged: %w", len(latencies), len(written), ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[max(i, 0)]
}

// operator is the operator process of a run, with what the benchmark
// samples of it.
type operator struct {
	*localenv.Operator
	pprofAddr  string
	stopSample chan struct{}
	sampled    chan struct{}
	mu         sync.Mutex
	heapPeak   uint64
	anonPeak   uint64
	filePeak   uint64
	// phaseHeap and phaseAnon are the peaks since phasePeaks last ran.
	phaseHeap, phaseAnon uint64
}

// phasePeaks returns the peaks of heap and anonymous memory since it was
// last called, and starts again.
func (op *operator) phasePeaks() (heap, anon uint64) {
	op.mu.Lock()
	defer op.mu.Unlock()
	heap, anon = op.phaseHeap, op.phaseAnon
	op.phaseHeap, op.phaseAnon = 0, 0
	return heap, anon
}

// startOperator starts the operator binary for a benchmark run, and
// samples its heap until it stops.
func (e *bench) startOperator(ctx context.Context, cfg Config, logf func(string, ...any)) (*operator, error) {
	pprofAddr := "0"
	if cfg.ProfileDir != "" {
		var err error
		if pprofAddr, err = localenv.FreeAddr(); err != nil {
			return nil, err
		}
	}
	started, err := e.StartOperator(ctx,
		"--resync-period", cfg.Resync.String(),
		"--observe", cfg.Observe,
		"--list-page-size", strconv.Itoa(cfg.PageSize),
		"--max-concurrent-reconciles", strconv.Itoa(cfg.Concurrency),
		"--voice-api-qps", strconv.FormatFloat(cfg.VoiceQPS, 'f', -1, 64),
		"--voice-api-burst", strconv.Itoa(int(cfg.VoiceQPS)),
		"--kube-api-qps", strconv.FormatFloat(cfg.KubeQPS, 'f', -1, 64),
		"--kube-api-burst", strconv.Itoa(int(2*cfg.KubeQPS)),
		"--zap-log-level", "error",
		"--pprof-bind-address", pprofAddr,
		// With the default lease settings: the handover phase measures them.
		"--leader-elect", "--leader-election-namespace", kube.OperatorNamespace,
	)
	if err != nil {
		return nil, err
	}
	op := &operator{Operator: started, pprofAddr: pprofAddr, stopSample: make(chan struct{}), sampled: make(chan struct{})}
	logf("operator started (pid %d, log %s)", op.Pid(), op.LogPath)
	go op.sampleHeap()
	return op, nil
}

// sampleHeap keeps the largest heap in use, and the largest anonymous and
// file-backed resident memory, seen every 250 ms.
func (op *operator) sampleHeap() {
	defer close(op.sampled)
	for {
		if m, err := op.scrape(); err == nil {
			heap := uint64(m["go_memstats_heap_inuse_bytes"])
			op.mu.Lock()
			op.heapPeak, op.phaseHeap = max(op.heapPeak, heap), max(op.phaseHeap, heap)
			op.mu.Unlock()
		}
		anon, file := op.resident()
		op.mu.Lock()
		op.anonPeak, op.filePeak = max(op.anonPeak, anon), max(op.filePeak, file)
		op.phaseAnon = max(op.phaseAnon, anon)
		op.mu.Unlock()
		select {
		case <-op.stopSample:
			return
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func (op *operator) peakHeap() uint64 {
	op.mu.Lock()
	defer op.mu.Unlock()
	return op.heapPeak
}

// resident reads the process's resident memory now, split into anonymous
// (heap, stacks, runtime) and file-backed (the binary's own pages).
func (op *operator) resident() (anon, file uint64) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", op.Pid()))
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(status), "\n") {
		key, value, ok := strings.Cut(line, ":")
		if !ok || (key != "RssAnon" && key != "RssFile") {
			continue
		}
		kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
		if key == "RssAnon" {
			anon = kb * 1024
		} else {
			file = kb * 1024
		}
	}
	return anon, file
}

// settle waits until the operator is idle: no object queued or being
// reconciled by either controller, and no apiserver write since the last
// look, twice in a row (controller-runtime's workqueue_depth and
// controller_runtime_active_workers, and the operator's own write count).
func (op *operator) settle(ctx context.Context) error {
	var last writes
	calm := 0
	for calm < 2 {
		m, err := op.scrape()
		if err != nil {
			return err
		}
		busy := 0.0
		for key, v := range m {
			if strings.HasPrefix(key, "workqueue_depth{") || strings.HasPrefix(key, "controller_runtime_active_workers{") {
				busy += v
			}
		}
		now, err := op.kubeWrites()
		if err != nil {
			return err
		}
		if busy == 0 && now == last {
			calm++
		} else {
			calm = 0
		}
		last = now
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the operator to settle: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}

// writes is the operator's apiserver writes so far.
type writes struct{ objects, events int }

// kubeWrites reads the operator's own count of apiserver requests.
func (op *operator) kubeWrites() (writes, error) {
	m, err := op.scrape()
	if err != nil {
		return writes{}, err
	}
	var w writes
	for key, v := range m {
		name, labels, ok := strings.Cut(key, "{")
		if name != "voice_operator_kube_requests_total" || !ok || strings.Contains(labels, `verb="GET"`) {
			continue
		}
		switch {
		case strings.Contains(labels, `resource="clientconfigurations"`), strings.Contains(labels, `resource="clientconfigurations/status"`):
			w.objects += int(v)
		case strings.Contains(labels, `resource="events"`):
			w.events += int(v)
		}
	}
	return w, nil
}

// retire adds an operator process's resource use to the run's: the peak
// of the peaks, and the sum of CPU times.
func (r *Result) retire(op *operator) {
	rss, cpu := op.usage()
	r.PeakRSSBytes = max(r.PeakRSSBytes, rss)
	r.PeakHeapBytes = max(r.PeakHeapBytes, op.peakHeap())
	op.mu.Lock()
	r.PeakAnonBytes, r.PeakFileBytes = max(r.PeakAnonBytes, op.anonPeak), max(r.PeakFileBytes, op.filePeak)
	op.mu.Unlock()
	r.CPUSeconds += cpu
}

// usage reads the process's peak resident memory and CPU time from /proc.
func (op *operator) usage() (peakRSS uint64, cpuSeconds float64) {
	pid := op.Pid()
	if status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
		for _, line := range strings.Split(string(status), "\n") {
			if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
				kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
				peakRSS = kb * 1024
			}
		}
	}
	if stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		// Fields after the command name (which may hold spaces) start at ")".
		fields := strings.Fields(string(stat)[strings.LastIndexByte(string(stat), ')')+2:])
		if len(fields) > 12 {
			utime, _ := strconv.ParseFloat(fields[11], 64)
			stime, _ := strconv.ParseFloat(fields[12], 64)
			cpuSeconds = (utime + stime) / 100 // USER_HZ is 100 on Linux
		}
	}
	return peakRSS, cpuSeconds
}

// stop ends the heap sampling and the operator.
func (op *operator) stop() {
	close(op.stopSample)
	<-op.sampled
	_ = op.Stop()
}

// saveHeapProfile writes the operator's heap profile (after a GC) to path.
func (op *operator) saveHeapProfile(path string) error {
	resp, err := http.Get("http://" + op.pprofAddr + "/debug/pprof/heap?gc=1")
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, io.LimitReader(resp.Body, 64<<20)); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
