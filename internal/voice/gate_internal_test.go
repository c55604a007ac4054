package voice

import (
	"testing"
	"time"

	"golang.org/x/time/rate"
)

func TestAnAnswerToARequestSentBeforeThe429DoesNotReopenTheGate(t *testing.T) {
	g := newGate(10, 10)
	now := time.Unix(1_700_000_000, 0)
	g.answered(false, true, true, 30*time.Second, now)              // the 429
	g.answered(false, true, false, 0, now.Add(50*time.Millisecond)) // a 200 to a request already out
	if a := g.throttle(now.Add(time.Second), false); a.wait < 28*time.Second {
		t.Fatalf("after a late 200 the gate waits %v, want the rest of the 30 s Retry-After", a.wait)
	}
	g.answered(false, true, true, time.Second, now.Add(2*time.Second)) // a later 429 with a shorter Retry-After
	if a := g.throttle(now.Add(3*time.Second), false); a.wait < 26*time.Second {
		t.Errorf("a shorter Retry-After shortened the hold to %v", a.wait)
	}
	after := now.Add(31 * time.Second)
	if a := g.throttle(after, true); a.wait != 0 || !a.probe {
		t.Fatalf("after the Retry-After: %+v, want to be the probe", a)
	}
	if a := g.throttle(after, true); a.wait == 0 {
		t.Error("a second caller went out while the probe was out")
	}
	g.answered(true, true, false, 0, after.Add(time.Millisecond))
	if a := g.throttle(after.Add(time.Second), true); a.wait != 0 || a.probe {
		t.Errorf("after the probe was accepted: %+v, want the gate open", a)
	}
}

func TestTheWindowNeverLetsMoreThanTheRateIntoOneSecond(t *testing.T) {
	for _, limit := range []rate.Limit{0.5, 1, 1.5, 2.5, 10} {
		g := newGate(limit, 100)
		now := time.Unix(1_700_000_000, 0)
		var sent []time.Time
		for range 40 {
			d, ok := g.send(now, time.Hour)
			if !ok {
				t.Fatal("refused a slot within an hour")
			}
			sent = append(sent, now.Add(d))
		}
		allowed := max(1, int(float64(limit)))
		for i, from := range sent {
			n := 0
			for _, at := range sent[i:] {
				if at.Sub(from) < time.Second {
					n++
				}
			}
			if n > allowed {
				t.Errorf("rate %v: %d requests in the second from %v, want at most %d", limit, n, from.Sub(now), allowed)
				break
			}
		}
	}
}
