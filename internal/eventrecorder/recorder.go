// Package eventrecorder records Kubernetes Events (events.k8s.io/v1) and
// forgets them once written.
//
// client-go's events broadcaster, which controller-runtime's manager hands
// out, keeps a copy of every Event it recorded for 6 to 12 minutes, to fold
// repeats into a series. The operator never repeats an Event: each one
// tells of an action or a change of state, and a failure is announced only
// when it differs from the one status already tells (see controllers'
// warnOnChange). So the copies are never used, and after a burst of
// thousands of creates they were about 500 bytes per object of the
// operator's memory. This recorder writes each Event once, in the
// background, and keeps nothing.
package eventrecorder

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	eventsv1client "k8s.io/client-go/kubernetes/typed/events/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/tools/reference"
)

// Sink writes an Event.
type Sink interface {
	Create(ctx context.Context, event *eventsv1.Event) error
}

// APISink writes Events to the apiserver.
type APISink struct {
	Client eventsv1client.EventsV1Interface
}

// Create writes event into its namespace.
func (s APISink) Create(ctx context.Context, event *eventsv1.Event) error {
	_, err := s.Client.Events(event.Namespace).Create(ctx, event, metav1.CreateOptions{})
	return err
}

// Options tune a Recorder; the zero value is the default.
type Options struct {
	// Queue is how many Events may wait to be written (default 1000, as
	// client-go's broadcaster); an Event that finds the queue full is
	// dropped and counted, never waited for.
	Queue int
	// Writers is how many Events are written at once (default 8). As many
	// writers as parallel reconciles keep up with them: a reconcile that
	// records an Event, as a rule one, also makes writes of its own.
	Writers int
	// Tries is how often an Event is tried before it is dropped (default
	// 5), with Backoff (default 1 s) doubled between tries.
	Tries   int
	Backoff time.Duration
}

// Recorder is an events.EventRecorder that writes each Event once, from
// background writers (Start), and keeps no copy.
type Recorder struct {
	scheme             *runtime.Scheme
	sink               Sink
	controller         string
	instance           string
	queue              chan *eventsv1.Event
	writers, tries     int
	backoff            time.Duration
	log                logr.Logger
	dropped, abandoned atomic.Int64
	lastName           atomic.Int64
}

var _ events.EventRecorder = (*Recorder)(nil)

// New returns a Recorder that reports as controller, from this host, and
// refers to objects through scheme.
func New(scheme *runtime.Scheme, sink Sink, controller string, logger logr.Logger, o Options) *Recorder {
	host, _ := os.Hostname()
	if o.Queue <= 0 {
		o.Queue = 1000
	}
	if o.Writers <= 0 {
		o.Writers = 8
	}
	if o.Tries <= 0 {
		o.Tries = 5
	}
	if o.Backoff <= 0 {
		o.Backoff = time.Second
	}
	return &Recorder{
		scheme: scheme, sink: sink, controller: controller, instance: controller + "-" + host, log: logger,
		queue: make(chan *eventsv1.Event, o.Queue), writers: o.Writers, tries: o.Tries, backoff: o.Backoff,
	}
}

// Eventf queues an Event about regarding (and related, which may be nil).
// It never blocks: with the queue full the Event is dropped and counted.
func (r *Recorder) Eventf(regarding runtime.Object, related runtime.Object, eventtype, reason, action, note string, args ...any) {
	ref, err := reference.GetReference(r.scheme, regarding)
	if err != nil {
		r.abandoned.Add(1)
		r.log.Error(err, "Cannot refer to the object of an Event; dropped it", "reason", reason)
		return
	}
	event := &eventsv1.Event{
		ObjectMeta: metav1.ObjectMeta{Name: r.name(ref.Name), Namespace: ref.Namespace},
		EventTime:  metav1.NowMicro(), ReportingController: r.controller, ReportingInstance: r.instance,
		Action: action, Reason: reason, Regarding: *ref, Note: fmt.Sprintf(note, args...), Type: eventtype,
	}
	if event.Namespace == "" {
		event.Namespace = metav1.NamespaceDefault
	}
	if related != nil {
		if ref, err := reference.GetReference(r.scheme, related); err == nil {
			event.Related = ref
		}
	}
	select {
	case r.queue <- event:
	default:
		if n := r.dropped.Add(1); n&(n-1) == 0 { // the 1st, 2nd, 4th, 8th, ...
			r.log.Info("The Event queue is full; dropped an Event", "regarding", ref.Name, "namespace", ref.Namespace, "reason", reason, "droppedSoFar", n)
		}
	}
}

// name is the Event's name, <object>.<hex nanoseconds> as client-go names
// them, made unique within this process even for Events in the same
// nanosecond.
func (r *Recorder) name(object string) string {
	now := time.Now().UnixNano()
	for {
		last := r.lastName.Load()
		if now <= last {
			now = last + 1
		}
		if r.lastName.CompareAndSwap(last, now) {
			return fmt.Sprintf("%s.%x", object, now)
		}
	}
}

// Start writes queued Events until ctx ends (a manager Runnable).
func (r *Recorder) Start(ctx context.Context) error {
	var writers sync.WaitGroup
	for range r.writers {
		writers.Go(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case event := <-r.queue:
					r.write(ctx, event)
				}
			}
		})
	}
	writers.Wait()
	return nil
}

// NeedLeaderElection is false: a replica that is not the leader records
// nothing, and one that just lost the lease still writes what it queued.
func (r *Recorder) NeedLeaderElection() bool { return false }

// write tries event until it is written, refused for good, or out of
// tries.
func (r *Recorder) write(ctx context.Context, event *eventsv1.Event) {
	wait := r.backoff
	for try := 1; ; try++ {
		err := r.sink.Create(ctx, event)
		if err == nil || apierrors.IsAlreadyExists(err) {
			return
		}
		if !retryable(err) || try == r.tries {
			r.abandoned.Add(1)
			r.log.Error(err, "Could not write an Event; dropped it", "regarding", event.Regarding.Name, "namespace", event.Namespace, "reason", event.Reason, "tries", try)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait *= 2
	}
}

// retryable reports whether writing again may succeed: an error that is
// not the apiserver's answer (no connection), or an answer that says to
// come back.
func retryable(err error) bool {
	status, ok := err.(apierrors.APIStatus)
	if !ok {
		return true
	}
	code := status.Status().Code
	return code == 0 || code == 429 || code >= 500 || apierrors.IsConflict(err)
}

// Lost is how many Events were not written: dropped with the queue full,
// refused, out of tries, or about an object they could not refer to.
func (r *Recorder) Lost() int64 { return r.dropped.Load() + r.abandoned.Load() }
