package voice_test

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/twilio-operator/voice-operator/internal/voice"
)

// asOperator sets the client up as the operator runs it: a 429 ends the
// call at once, and nothing waits inline for it.
func asOperator(o *voice.Options) { o.RetryThrottled = false }

func TestOne429HoldsBackEveryCallerOfTheAccount(t *testing.T) {
	s := &scripted{n: 1, respond: status(http.StatusTooManyRequests, "2", `{"code":20429}`)}
	e := newEnv(t, withOptions(asOperator), withMiddleware(s.wrap))

	_, err := e.a.ListPage(ctx(t), 0, "")
	if voice.ClassOf(err) != voice.ClassThrottled || voice.IsNotSent(err) || voice.RetryAfterOf(err) != 2*time.Second {
		t.Fatalf("the answered 429: got %v (not sent %v), want Throttled with its Retry-After of 2s", err, voice.IsNotSent(err))
	}
	if n := len(e.seen()); n != 1 {
		t.Fatalf("the 429 was retried inline: %d attempts, want 1", n)
	}

	// Another client of the same credentials, right after.
	_, err = e.client(credsA).Get(ctx(t), "voice_clientconfiguration_x")
	if !voice.IsNotSent(err) || voice.ClassOf(err) != voice.ClassThrottled {
		t.Fatalf("a second caller of the throttled identity: got %v, want Throttled, not sent", err)
	}
	if after := voice.RetryAfterOf(err); after <= time.Second || after > 2*time.Second {
		t.Errorf("the second caller is told to come back in %v, want what is left of the 2s Retry-After", after)
	}
	if _, err := e.b.ListPage(ctx(t), 0, ""); err != nil {
		t.Errorf("another account is not held back: %v", err)
	}
	if got := e.seen(); len(got) != 1 || got[0].status != http.StatusOK {
		t.Errorf("requests sent while account A was throttled: %v, want account B's one List only", got)
	}
}

func TestAfterRetryAfterOneProbeAtATime(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	probing := make(chan struct{})
	// The first request is answered 429 with no Retry-After; the second
	// (the probe) is held until the test releases it.
	s := &scripted{n: 1, respond: status(http.StatusTooManyRequests, "", `{"code":20429}`)}
	hold := func(next http.Handler) http.Handler {
		inner := s.wrap(next)
		calls := 0
		var mu sync.Mutex
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			calls++
			n := calls
			mu.Unlock()
			if n == 2 {
				once.Do(func() { close(probing) })
				<-release
			}
			inner.ServeHTTP(w, r)
		})
	}
	e := newEnv(t, withOptions(asOperator), withMiddleware(hold))
	if _, err := e.a.ListPage(ctx(t), 0, ""); voice.ClassOf(err) != voice.ClassThrottled {
		t.Fatalf("first call: %v, want the 429", err)
	}

	probe := make(chan error, 1)
	go func() { _, err := e.a.ListPage(ctx(t), 0, ""); probe <- err }()
	<-probing
	_, err := e.client(credsA).ListPage(ctx(t), 0, "")
	if !voice.IsNotSent(err) {
		t.Fatalf("a call while the probe is out: %v, want it not sent", err)
	}
	close(release)
	if err := <-probe; err != nil {
		t.Fatalf("the probe: %v", err)
	}
	if _, err := e.client(credsA).ListPage(ctx(t), 0, ""); err != nil {
		t.Errorf("after the probe was answered, the account is open again: %v", err)
	}
	if n := len(e.seen()); n != 3 {
		t.Errorf("%d requests sent, want 3: the 429, the probe, the call after it", n)
	}
}

func TestAdmitBooksTurnsInOrderWithoutSleeping(t *testing.T) {
	e := newEnv(t, withOptions(func(o *voice.Options) { o.RateLimit, o.Burst = 2, 1 }))
	first, second, third := e.client(credsA), e.client(credsA), e.client(credsA)

	start := time.Now()
	if wait, _ := first.Admit("first"); wait != 0 {
		t.Fatalf("the first caller waits %v, want 0 (a free token)", wait)
	}
	w2, why := second.Admit("second")
	w3, _ := third.Admit("third")
	if took := time.Since(start); took > 100*time.Millisecond {
		t.Errorf("Admit slept %v; it must only book", took)
	}
	if w2 < 400*time.Millisecond || w2 > 500*time.Millisecond || w3 < 900*time.Millisecond || w3 > time.Second {
		t.Errorf("bookings due in %v and %v, want about 0.5s and 1s at 2 per second", w2, w3)
	}
	if why == "" {
		t.Error("a booked caller is not told why it waits")
	}
	if again, _ := second.Admit("second"); again <= 0 || again > w2 {
		t.Errorf("asking again before its turn: wait %v, want what is left of %v (its booking kept)", again, w2)
	}
	time.Sleep(w2)
	if wait, _ := e.client(credsA).Admit("second"); wait != 0 {
		t.Errorf("back when due: wait %v, want 0", wait)
	}
	// The admitted client's request uses the booked token: it goes out at
	// once although the bucket is empty.
	sent := time.Now()
	if _, err := first.ListPage(ctx(t), 0, ""); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(sent); d > 100*time.Millisecond {
		t.Errorf("an admitted request waited %v on the rate limit", d)
	}
}

func TestNoSecondHoldsMoreRequestsThanTheRate(t *testing.T) {
	const qps = 20
	var mu sync.Mutex
	var sent []time.Time
	stamp := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			sent = append(sent, time.Now())
			mu.Unlock()
			next.ServeHTTP(w, r)
		})
	}
	// A burst far above the rate: the bucket alone would let 100 go at once.
	e := newEnv(t, withMiddleware(stamp), withOptions(func(o *voice.Options) { o.RateLimit, o.Burst = rate.Limit(qps), 100 }))
	var wg sync.WaitGroup
	for range 3 * qps {
		wg.Go(func() {
			if _, err := e.client(credsA).ListPage(ctx(t), 0, ""); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(sent) != 3*qps {
		t.Fatalf("%d requests reached the API, want %d", len(sent), 3*qps)
	}
	most := 0
	for i, from := range sent {
		n := 0
		for _, at := range sent[i:] {
			if at.Sub(from) < time.Second {
				n++
			}
		}
		most = max(most, n)
	}
	// The server stamps on arrival, a little after the client's slot: allow
	// one for that jitter at the edge of a window.
	if most > qps+1 {
		t.Errorf("%d requests arrived within one second, want at most %d", most, qps)
	}
}
