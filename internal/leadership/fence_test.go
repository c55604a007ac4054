package leadership

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// fakeLock records nothing and fails when told to.
type fakeLock struct {
	resourcelock.Interface
	fail error
}

func (l *fakeLock) Create(context.Context, resourcelock.LeaderElectionRecord) error { return l.fail }
func (l *fakeLock) Update(context.Context, resourcelock.LeaderElectionRecord) error { return l.fail }
func (l *fakeLock) Identity() string                                                { return "me" }

func TestFence(t *testing.T) {
	ctx := context.Background()
	inner := &fakeLock{}
	f := NewFence(50 * time.Millisecond)
	lock := f.Lock(inner)
	mine, theirs := resourcelock.LeaderElectionRecord{HolderIdentity: "me"}, resourcelock.LeaderElectionRecord{HolderIdentity: "other"}
	steps := []struct {
		reason string
		do     func()
		want   error
	}{
		{"closed before the lease is held", func() {}, ErrNotLeader},
		{"open once the lease is created", func() { _ = lock.Create(ctx, mine) }, nil},
		{"closed once the renew deadline passed", func() { time.Sleep(60 * time.Millisecond) }, ErrNotLeader},
		{"open after a renewal", func() { _ = lock.Update(ctx, mine) }, nil},
		{"closed when the lease is released", func() { _ = lock.Update(ctx, resourcelock.LeaderElectionRecord{}) }, ErrNotLeader},
		{"still closed when another holds it", func() { _ = lock.Update(ctx, theirs) }, ErrNotLeader},
		{"still closed after a failed renewal", func() { inner.fail = errors.New("conflict"); _ = lock.Update(ctx, mine) }, ErrNotLeader},
	}
	for _, s := range steps {
		s.do()
		if got := f.Allow(); !errors.Is(got, s.want) && got != s.want {
			t.Fatalf("%s: Allow() = %v, want %v", s.reason, got, s.want)
		}
	}
	if (*Fence)(nil).Allow() != nil {
		t.Error("a nil fence (no leader election) must allow everything")
	}
}

func TestWrapTransportRefusesWritesOnly(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	closed := NewFence(time.Second)
	c := &http.Client{Transport: closed.WrapTransport(http.DefaultTransport)}
	for method, refused := range map[string]bool{"GET": false, "HEAD": false, "POST": true, "PUT": true, "PATCH": true, "DELETE": true} {
		req, _ := http.NewRequest(method, srv.URL, nil)
		resp, err := c.Do(req)
		if resp != nil {
			_ = resp.Body.Close()
		}
		if got := errors.Is(err, ErrNotLeader); got != refused {
			t.Errorf("%s: refused %v, want %v (%v)", method, got, refused, err)
		}
	}
}

// TestWindowEndsEveryWriteBeforeAStandbyMayLead holds the fence's window to
// the lease: a request sent at the last moment the fence allows ends before
// a standby may take the lease over.
func TestWindowEndsEveryWriteBeforeAStandbyMayLead(t *testing.T) {
	cases := map[string]struct {
		renew, lease, request, want time.Duration
		fails                       bool
	}{
		"the defaults: 15 s lease, 10 s requests": {renew: 10 * time.Second, lease: 15 * time.Second, request: 10 * time.Second, want: 5 * time.Second},
		"short requests: the renew deadline":      {renew: 10 * time.Second, lease: 15 * time.Second, request: 2 * time.Second, want: 10 * time.Second},
		"requests as long as the lease":           {renew: 10 * time.Second, lease: 15 * time.Second, request: 15 * time.Second, fails: true},
	}
	for name, c := range cases {
		got, err := Window(c.renew, c.lease, c.request)
		if (err != nil) != c.fails {
			t.Errorf("%s: error %v, want failure %v", name, err, c.fails)
			continue
		}
		if !c.fails && (got != c.want || got+c.request > c.lease) {
			t.Errorf("%s: window %s, want %s, and window + request ≤ lease", name, got, c.want)
		}
	}
}
