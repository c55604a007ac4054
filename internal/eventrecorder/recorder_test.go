package eventrecorder

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/events"
)

// sink records what it is asked to write, answering from errs first.
type sink struct {
	mu      sync.Mutex
	errs    []error
	tries   int
	written []*eventsv1.Event
}

func (s *sink) Create(_ context.Context, event *eventsv1.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tries++
	if len(s.errs) > 0 {
		err := s.errs[0]
		s.errs = s.errs[1:]
		if err != nil {
			return err
		}
	}
	s.written = append(s.written, event)
	return nil
}

func (s *sink) state() (tries int, written []*eventsv1.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tries, append([]*eventsv1.Event(nil), s.written...)
}

func pod(name string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: name, UID: types.UID("uid-" + name)}}
}

// started runs r until the test ends.
func started(t *testing.T, r *Recorder) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = r.Start(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

// eventually waits up to 5 s for cond.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestEachEventIsWrittenOnceAsClientGoWouldWriteIt(t *testing.T) {
	s := &sink{}
	r := New(clientgoscheme.Scheme, s, "voice-operator", logr.Discard(), Options{})
	started(t, r)

	r.Eventf(pod("a"), nil, corev1.EventTypeNormal, "Created", "Create", "Created remote configuration %s", "voice_clientconfiguration_1")
	r.Eventf(pod("a"), pod("b"), corev1.EventTypeNormal, "Created", "Create", "Created remote configuration %s", "voice_clientconfiguration_1")
	eventually(t, "both Events are written", func() bool { _, w := s.state(); return len(w) == 2 })

	tries, written := s.state()
	if tries != 2 {
		t.Errorf("%d writes, want 2: one per Event, a repeat is written as it is", tries)
	}
	e := written[0]
	if e.Namespace != "team" || e.Regarding.Name != "a" || e.Regarding.Kind != "Pod" || e.Regarding.UID != "uid-a" {
		t.Errorf("Event is in %q about %+v, want the Pod team/a", e.Namespace, e.Regarding)
	}
	if e.Note != "Created remote configuration voice_clientconfiguration_1" || e.Reason != "Created" || e.Action != "Create" || e.Type != corev1.EventTypeNormal {
		t.Errorf("Event says %q %q %q %q", e.Type, e.Reason, e.Action, e.Note)
	}
	if e.ReportingController != "voice-operator" || e.ReportingInstance == "" || e.EventTime.IsZero() {
		t.Errorf("Event reports %q from %q at %v; events.k8s.io/v1 requires all three", e.ReportingController, e.ReportingInstance, e.EventTime)
	}
	if written[1].Related == nil || written[1].Related.Name != "b" {
		t.Errorf("related = %+v, want the Pod team/b", written[1].Related)
	}
	if written[0].Name == written[1].Name {
		t.Errorf("two Events of one object have the same name %q", written[0].Name)
	}
	if r.Lost() != 0 {
		t.Errorf("%d Events lost", r.Lost())
	}
}

func TestAnEventIsTriedAgainOnlyWhenWritingAgainCanHelp(t *testing.T) {
	unavailable := apierrors.NewServiceUnavailable("etcd is down")
	invalid := apierrors.NewInvalid(schema.GroupKind{Group: "events.k8s.io", Kind: "Event"}, "x", nil)
	cases := []struct {
		name      string
		errs      []error
		tries     int
		written   int
		lost      int64
		unwritten string
	}{
		{name: "an unavailable apiserver, then a write", errs: []error{unavailable, unavailable}, tries: 3, written: 1},
		{name: "no connection, then a write", errs: []error{errors.New("connection refused")}, tries: 2, written: 1},
		{name: "an Event the apiserver refuses", errs: []error{invalid}, tries: 1, lost: 1},
		{name: "an Event already written (a lost answer)", errs: []error{apierrors.NewAlreadyExists(schema.GroupResource{Resource: "events"}, "x")}, tries: 1},
		{name: "an apiserver unavailable for every try", errs: []error{unavailable, unavailable, unavailable, unavailable}, tries: 3, lost: 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := &sink{errs: c.errs}
			r := New(clientgoscheme.Scheme, s, "voice-operator", logr.Discard(), Options{Tries: 3, Backoff: time.Millisecond})
			started(t, r)
			r.Eventf(pod("a"), nil, corev1.EventTypeWarning, "Failed", "Reconcile", "boom")
			eventually(t, fmt.Sprintf("%d tries", c.tries), func() bool { n, _ := s.state(); return n >= c.tries })
			time.Sleep(20 * time.Millisecond) // a try too many would come now
			tries, written := s.state()
			if tries != c.tries || len(written) != c.written || r.Lost() != c.lost {
				t.Errorf("%d tries, %d written, %d lost; want %d, %d, %d", tries, len(written), r.Lost(), c.tries, c.written, c.lost)
			}
		})
	}
}

func TestEventfNeverWaitsForTheApiserver(t *testing.T) {
	s := &sink{}
	r := New(clientgoscheme.Scheme, s, "voice-operator", logr.Discard(), Options{Queue: 2})
	// Not started: nothing drains the queue.
	done := make(chan struct{})
	go func() {
		for range 5 {
			r.Eventf(pod("a"), nil, corev1.EventTypeNormal, "Created", "Create", "note")
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Eventf blocked on a full queue")
	}
	if r.Lost() != 3 {
		t.Errorf("%d Events lost, want 3 (5 recorded, room for 2)", r.Lost())
	}
	started(t, r)
	eventually(t, "the 2 queued Events are written", func() bool { _, w := s.state(); return len(w) == 2 })
}

// BenchmarkHeldAfterABurst reports the heap an Event recorder still holds
// per Event once a burst of Events has been written: client-go's broadcaster
// (which the manager hands out) and this package's recorder.
func BenchmarkHeldAfterABurst(b *testing.B) {
	const n = 2000
	recorders := []struct {
		name string
		make func(ctx context.Context, s *sink) events.EventRecorder
	}{
		{"client-go", func(ctx context.Context, s *sink) events.EventRecorder {
			broadcaster := events.NewBroadcaster(sinkAdapter{s})
			if err := broadcaster.StartRecordingToSinkWithContext(ctx); err != nil {
				b.Fatal(err)
			}
			return broadcaster.NewRecorder(clientgoscheme.Scheme, "voice-operator")
		}},
		{"eventrecorder", func(ctx context.Context, s *sink) events.EventRecorder {
			r := New(clientgoscheme.Scheme, s, "voice-operator", logr.Discard(), Options{Queue: n})
			go func() { _ = r.Start(ctx) }()
			return r
		}},
	}
	for _, rec := range recorders {
		b.Run(rec.name, func(b *testing.B) {
			var held uint64
			for b.Loop() {
				ctx, cancel := context.WithCancel(context.Background())
				s := &sink{}
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				r := rec.make(ctx, s)
				for i := range n {
					r.Eventf(pod(fmt.Sprintf("object-%05d", i)), nil, corev1.EventTypeNormal, "Created", "Create",
						"Created remote configuration voice_clientconfiguration_%032x", i)
				}
				for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
					if _, w := s.state(); len(w) == n || time.Now().After(deadline) {
						break
					}
				}
				s.mu.Lock()
				s.written = nil // what the apiserver keeps is not the recorder's
				s.mu.Unlock()
				runtime.GC()
				runtime.ReadMemStats(&after)
				held = (after.HeapAlloc - min(after.HeapAlloc, before.HeapAlloc)) / n
				runtime.KeepAlive(r)
				cancel()
			}
			b.ReportMetric(float64(held), "held-B/event")
		})
	}
}

// sinkAdapter is client-go's EventSink over a sink.
type sinkAdapter struct{ s *sink }

func (a sinkAdapter) Create(ctx context.Context, event *eventsv1.Event) (*eventsv1.Event, error) {
	return event, a.s.Create(ctx, event)
}

func (a sinkAdapter) Update(_ context.Context, event *eventsv1.Event) (*eventsv1.Event, error) {
	return event, nil
}

func (a sinkAdapter) Patch(_ context.Context, event *eventsv1.Event, _ []byte) (*eventsv1.Event, error) {
	return event, nil
}

// slowSink takes delay per write and notes how many it ran at once.
type slowSink struct {
	sink
	delay         time.Duration
	now, mostSeen atomic.Int64
}

func (s *slowSink) Create(ctx context.Context, event *eventsv1.Event) error {
	n := s.now.Add(1)
	defer s.now.Add(-1)
	for seen := s.mostSeen.Load(); n > seen && !s.mostSeen.CompareAndSwap(seen, n); seen = s.mostSeen.Load() {
	}
	time.Sleep(s.delay)
	return s.sink.Create(ctx, event)
}

// TestABurstIsWrittenByParallelWriters checks that a burst of Events as
// reconciles make them (8 at a time) is written in full, however slowly the
// apiserver answers each: the writers write in parallel as the reconciles
// record, and the queue absorbs the rest.
func TestABurstIsWrittenByParallelWriters(t *testing.T) {
	s := &slowSink{delay: 5 * time.Millisecond}
	r := New(clientgoscheme.Scheme, s, "voice-operator", logr.Discard(), Options{Queue: 100, Writers: 8})
	started(t, r)
	const n = 400
	var reconciles sync.WaitGroup
	for w := range 8 {
		reconciles.Go(func() {
			for i := w; i < n; i += 8 {
				r.Eventf(pod(fmt.Sprintf("object-%03d", i)), nil, corev1.EventTypeNormal, "Created", "Create", "note")
				time.Sleep(2 * s.delay) // a reconcile makes two writes of its own
			}
		})
	}
	reconciles.Wait()
	eventually(t, "every Event is written", func() bool { _, w := s.state(); return len(w) == n })
	if r.Lost() != 0 {
		t.Errorf("%d of %d Events lost", r.Lost(), n)
	}
	if s.mostSeen.Load() < 2 {
		t.Errorf("at most %d write at once; the writers do not write in parallel", s.mostSeen.Load())
	}
}
