package voice

import (
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// probeInterval is how soon a caller turned away because another request
// is probing a throttled account asks again: a probe takes one round trip.
const probeInterval = 250 * time.Millisecond

// bookingTTL is how long a booking waits for its caller to come back
// before it is forgotten (the object was deleted, say).
const bookingTTL = time.Minute

// gate decides when the requests of one identity (account and credential)
// go out. Three rules, in order:
//
//   - After a 429 nothing is sent until its Retry-After has passed; then
//     one request at a time (a probe) until an answer is not a 429. One
//     Retry-After thus holds back every caller of the account, not only
//     the one that received it.
//   - pace, a token bucket, schedules the requests. Every request takes a
//     token; a caller may book its token ahead (Client.Admit) and come
//     back when it is due, so that no worker sleeps on the bucket. A
//     request without a booking (a read) takes its token as it goes.
//   - window caps the requests sent in any trailing interval: at most
//     the rate per second (rounded down, at least one), whatever the
//     burst, as the API counts them.
type gate struct {
	pace *rate.Limiter
	// reached is set once an answer to this identity named its account;
	// elsewhere holds another account an answer named instead.
	reached   atomic.Bool
	elsewhere atomic.Pointer[string]

	mu        sync.Mutex
	window    []time.Time // send times of the last len(window) requests, a ring
	next      int         // the ring's oldest entry
	span      time.Duration
	notBefore time.Time // after a 429: nothing is sent before then
	throttled bool      // a 429 was answered, and no probe since was accepted
	probing   bool      // a probe of the throttled account is out
	bookings  map[string]booking
}

// booking is a token of pace reserved for one caller, due at a time.
type booking struct {
	res *rate.Reservation
	due time.Time
}

func newGate(limit rate.Limit, burst int) *gate {
	g := &gate{pace: rate.NewLimiter(limit, burst), bookings: map[string]booking{}}
	if limit != rate.Inf {
		// n requests per span: for a rate of 1 or more, floor(rate) per
		// second; below 1, one per 1/rate seconds.
		n := max(1, int(float64(limit)))
		g.window = make([]time.Time, n)
		span := max(time.Second, time.Duration(float64(n)/float64(limit)*float64(time.Second)))
		// 2% more: the API counts arrivals, a little later and less evenly
		// spaced than the client sends them.
		g.span = span + span/50
	}
	return g
}

// admission is what the gate says to a caller that wants to send now.
type admission struct {
	// wait is how long the caller must stay away; 0 means go.
	wait time.Duration
	// probe is set when the caller's request is the probe of a throttled
	// account: its answer must be reported (answered) either way.
	probe bool
	// reason says why the caller waits.
	reason string
}

// throttle checks the 429 rule. With claim, a caller allowed to probe
// becomes the probe.
func (g *gate) throttle(now time.Time, claim bool) admission {
	switch {
	case !g.throttled:
		return admission{}
	case now.Before(g.notBefore):
		return admission{wait: g.notBefore.Sub(now), reason: "the API answered 429 Too Many Requests for this account; waiting out its Retry-After"}
	case g.probing:
		return admission{wait: probeInterval, reason: "the API answered 429 Too Many Requests for this account; another request is testing whether that ended"}
	}
	if claim {
		g.probing = true
	}
	return admission{probe: claim}
}

// admit books a token for key. It returns 0 and true when the token is
// the caller's to use now (a booking that came due, or a free token), or
// how long to stay away; a booking is kept for key meanwhile, so callers
// are served in the order they first asked, each once.
func (g *gate) admit(key string, now time.Time) (time.Duration, string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if a := g.throttle(now, false); a.wait > 0 {
		return a.wait, a.reason
	}
	if b, ok := g.bookings[key]; ok {
		if now.Before(b.due) {
			return b.due.Sub(now), "waiting for its turn under --voice-api-qps"
		}
		delete(g.bookings, key)
		return 0, ""
	}
	g.prune(now)
	res := g.pace.ReserveN(now, 1)
	if !res.OK() {
		return probeInterval, "the client-side rate limit admits no request"
	}
	d := res.DelayFrom(now)
	if d == 0 {
		return 0, ""
	}
	g.bookings[key] = booking{res: res, due: now.Add(d)}
	return d, "waiting for its turn under --voice-api-qps"
}

// prune forgets bookings whose callers did not come back.
func (g *gate) prune(now time.Time) {
	for key, b := range g.bookings {
		if now.Sub(b.due) > bookingTTL {
			delete(g.bookings, key)
		}
	}
}

// take spends a token of pace for a request without a booking, pushing
// the turns booked after it later; the request itself does not wait.
func (g *gate) take(now time.Time) {
	g.pace.ReserveN(now, 1)
}

// send reserves a slot in the window for a request about to go out, and
// returns how long to wait for it first (0: go now). A slot further away
// than maxWait is not reserved, and ok is false: the caller hands the
// request back instead of sleeping that long.
func (g *gate) send(now time.Time, maxWait time.Duration) (wait time.Duration, ok bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.window == nil {
		return 0, true
	}
	at := now
	if oldest := g.window[g.next]; !oldest.IsZero() && oldest.Add(g.span).After(now) {
		at = oldest.Add(g.span)
	}
	if at.Sub(now) > maxWait {
		return at.Sub(now), false
	}
	g.window[g.next] = at
	g.next = (g.next + 1) % len(g.window)
	return at.Sub(now), true
}

// answered records the outcome of a request: a 429 closes the gate for
// retryAfter (never shortening a longer hold), and then to all but one
// probe at a time; only the probe's accepted answer opens it again, not an
// answer to a request that was already out when the 429 came. probe says
// whether the request was the probe; a probe that got no answer (sent is
// false) frees the probe for another caller.
func (g *gate) answered(probe, sent, tooMany bool, retryAfter time.Duration, now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if probe {
		g.probing = false
	}
	switch {
	case !sent:
	case tooMany:
		g.throttled = true
		if until := now.Add(retryAfter); until.After(g.notBefore) {
			g.notBefore = until
		}
	case probe:
		g.throttled = false
	}
}
