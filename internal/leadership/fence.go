// Package leadership keeps a replica that is no longer the leader from
// writing anything, remote or to the apiserver.
//
// Leader election alone does not: a leader frozen past its lease (a stopped
// process, a long GC pause, a VM migration) resumes with reconciles in
// flight and believes itself leader until its next renewal fails, while a
// standby has already taken over. In that window both write. A Fence closes
// it: every write first checks that this replica renewed its lease less
// than one renew deadline ago, by the monotonic clock. A standby takes the
// lease only after seeing it unrenewed for a whole lease duration, which is
// longer, so the two never write at the same time.
//
// One gap remains, unavoidable without fencing tokens on the remote side:
// a replica frozen between the check and the write itself.
package leadership

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// ErrNotLeader is the error a fenced write fails with.
var ErrNotLeader = errors.New("not the leader: this replica's lease was not renewed in time, so it writes nothing")

// Fence allows writes while the lease it watches is fresh. The zero value
// is not usable; use NewFence. A nil *Fence allows everything (leader
// election off).
type Fence struct {
	window  time.Duration
	renewed atomic.Pointer[time.Time]
}

// NewFence returns a fence that allows writes for window after each
// successful renewal (see Window).
func NewFence(window time.Duration) *Fence {
	return &Fence{window: window}
}

// Window is how long after a renewal the fence lets a write start: the
// renew deadline, but short enough that a request sent just before it
// closes has ended (answered or timed out, after requestTimeout) before a
// standby may take the lease, a lease duration after the last renewal.
// Otherwise a POST still on its way at a handover would make two writers.
// It fails when no such window exists.
func Window(renewDeadline, leaseDuration, requestTimeout time.Duration) (time.Duration, error) {
	window := min(renewDeadline, leaseDuration-requestTimeout)
	if window <= 0 {
		return 0, fmt.Errorf("a request may take %s, as long as the lease (%s): a write still on its way at a handover could meet the new leader's; make the request timeout shorter than the lease duration", requestTimeout, leaseDuration)
	}
	return window, nil
}

// Allow returns nil while this replica holds a fresh lease, ErrNotLeader
// otherwise.
func (f *Fence) Allow() error {
	if f == nil {
		return nil
	}
	at := f.renewed.Load()
	if at == nil || time.Since(*at) >= f.window {
		return ErrNotLeader
	}
	return nil
}

// Lock wraps the leader election's lock so the fence learns of every
// renewal: the time a Create or Update that names this replica as holder
// was sent, once it succeeded. Releasing the lease closes the fence.
func (f *Fence) Lock(inner resourcelock.Interface) resourcelock.Interface {
	return &watchedLock{Interface: inner, fence: f}
}

type watchedLock struct {
	resourcelock.Interface
	fence *Fence
}

func (l *watchedLock) Create(ctx context.Context, ler resourcelock.LeaderElectionRecord) error {
	return l.observe(ler, func() error { return l.Interface.Create(ctx, ler) })
}

func (l *watchedLock) Update(ctx context.Context, ler resourcelock.LeaderElectionRecord) error {
	return l.observe(ler, func() error { return l.Interface.Update(ctx, ler) })
}

// observe runs a write of the lease record. The time is taken before it is
// sent: the lease can only have been renewed later than that.
func (l *watchedLock) observe(ler resourcelock.LeaderElectionRecord, write func() error) error {
	sent := time.Now()
	err := write()
	switch {
	case ler.HolderIdentity != l.Identity():
		l.fence.renewed.Store(nil) // released, or taken by another
	case err == nil:
		l.fence.renewed.Store(&sent)
	}
	return err
}

// WrapTransport refuses writes (any method but GET, HEAD and OPTIONS) that
// the fence does not allow, before they are sent.
func (f *Fence) WrapTransport(rt http.RoundTripper) http.RoundTripper {
	if f == nil {
		return rt
	}
	return roundTripper(func(r *http.Request) (*http.Response, error) {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
		default:
			if err := f.Allow(); err != nil {
				return nil, fmt.Errorf("%s %s: %w", r.Method, r.URL.Path, err)
			}
		}
		return rt.RoundTrip(r)
	})
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
