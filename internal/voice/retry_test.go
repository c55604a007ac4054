package voice_test

import (
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/time/rate"

	"github.com/twilio-operator/voice-operator/internal/voice"
	"github.com/twilio-operator/voice-operator/internal/voicesim"
)

// TestRetries checks which failures are retried, how often, and with what
// outcome, using scripted answers in front of the simulator.
func TestRetries(t *testing.T) {
	cases := map[string]struct {
		reason    string
		script    *scripted
		call      func(e *env) error
		wantErr   voice.Class // ClassUnknown: success
		wantPosts int         // POSTs to the collection the simulator saw
		wantTries int         // attempts the client made
		wantLeft  int         // configurations remotely afterwards
	}{
		"create 429 once": {reason: "a 429'd create is retried and succeeds once",
			script: &scripted{n: 1, match: method("POST"), respond: status(429, "", `{"code":20429,"message":"Too Many Requests","status":429}`)},
			call:   func(e *env) error { _, err := e.a.Create(ctx(e.t), input("c")); return err }, wantPosts: 1, wantTries: 2, wantLeft: 2},
		"create 503 once": {reason: "a 503'd create is not retried: the caller must look it up",
			script: &scripted{n: 1, match: method("POST"), respond: status(503, "", `{}`)},
			call:   func(e *env) error { _, err := e.a.Create(ctx(e.t), input("c")); return err }, wantErr: voice.ClassUnavailable, wantTries: 1, wantLeft: 1},
		"update 503 twice": {reason: "a PUT is idempotent: retried through 5xx",
			script: &scripted{n: 2, match: method("PUT"), respond: status(503, "", `{}`)},
			call:   func(e *env) error { _, err := e.a.Update(ctx(e.t), e.existing, input("existing")); return err }, wantTries: 3, wantLeft: 1},
		"delete 500 thrice": {reason: "a DELETE too, up to MaxAttempts",
			script: &scripted{n: 3, match: method("DELETE"), respond: status(500, "", `{}`)},
			call:   func(e *env) error { return e.a.Delete(ctx(e.t), e.existing) }, wantTries: 4, wantLeft: 0},
		"get 503 four times": {reason: "MaxAttempts (4) bounds the retries",
			script: &scripted{n: 4, match: method("GET"), respond: status(503, "", `{}`)},
			call:   func(e *env) error { _, err := e.a.Get(ctx(e.t), e.existing); return err }, wantErr: voice.ClassUnavailable, wantTries: 4, wantLeft: 1},
		"set default 429": {reason: "setting the default is idempotent",
			script: &scripted{n: 1, match: method("POST"), respond: status(429, "", `{}`)},
			call:   func(e *env) error { return e.a.SetDefault(ctx(e.t), "existing-id") }, wantErr: voice.ClassNotFound, wantTries: 2, wantLeft: 1},
		"get 400": {reason: "terminal classes are never retried",
			script: &scripted{n: 1, match: method("GET"), respond: status(400, "", `{"code":20001}`)},
			call:   func(e *env) error { _, err := e.a.Get(ctx(e.t), e.existing); return err }, wantErr: voice.ClassInvalid, wantTries: 1, wantLeft: 1},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, withMiddleware(tc.script.wrap))
			// Created out of band: the scripted answers are for the call.
			id, err := e.sim.CreateOutOfBand(acctA, voicesim.Record{UniqueName: "existing", CallNotificationURL: "https://x.example"})
			if err != nil {
				t.Fatal(err)
			}
			e.existing = id
			err = tc.call(e)
			if got := voice.ClassOf(err); got != tc.wantErr {
				t.Fatalf("%s: %v (class %v, want %v)", tc.reason, err, got, tc.wantErr)
			}
			if n := len(e.seen()); n != tc.wantTries {
				t.Errorf("%s: %d attempts, want %d", tc.reason, n, tc.wantTries)
			}
			if n := e.sim.CallCount("POST", voicesim.RouteCollection); n != tc.wantPosts {
				t.Errorf("%s: simulator saw %d creates, want %d", tc.reason, n, tc.wantPosts)
			}
			if n := len(e.sim.Configurations(acctA)); n != tc.wantLeft {
				t.Errorf("%s: %d configurations remotely", tc.reason, n)
			}
		})
	}
}

// TestRetryAfter checks Retry-After is honoured inline when short and
// handed back when longer than MaxRetryWait.
func TestRetryAfter(t *testing.T) {
	t.Run("short: waited inline", func(t *testing.T) {
		s := &scripted{n: 1, respond: status(429, "1", `{"code":20429}`)}
		e := newEnv(t, withMiddleware(s.wrap))
		start := time.Now()
		if _, err := e.a.ListPage(ctx(t), 0, ""); err != nil {
			t.Fatal(err)
		}
		// Backoff would be milliseconds; only Retry-After explains a second.
		if d := time.Since(start); d < time.Second {
			t.Errorf("answered after %v, want the 1s Retry-After honoured", d)
		}
		if n := len(e.seen()); n != 2 {
			t.Errorf("%d attempts, want 2", n)
		}
	})
	t.Run("long: handed back", func(t *testing.T) {
		s := &scripted{n: 1, respond: status(503, "120", `{"code":20503}`)}
		e := newEnv(t, withMiddleware(s.wrap))
		start := time.Now()
		_, err := e.a.ListPage(ctx(t), 0, "")
		if voice.ClassOf(err) != voice.ClassUnavailable || voice.RetryAfterOf(err) != 2*time.Minute {
			t.Errorf("got %v, RetryAfter %v; want Unavailable after 2m", err, voice.RetryAfterOf(err))
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("waited %v for a Retry-After it should hand back", d)
		}
		if !strings.Contains(err.Error(), "retry after 2m0s") {
			t.Errorf("message %q does not say when to retry", err)
		}
	})
	t.Run("simulator fault", func(t *testing.T) {
		e := newEnv(t, withOptions(func(o *voice.Options) { o.MaxRetryWait = 100 * time.Millisecond }))
		e.sim.SetFaults(voicesim.Faults{Throttled: 1, RetryAfter: 3 * time.Second})
		_, err := e.a.Create(ctx(t), input("x"))
		if voice.ClassOf(err) != voice.ClassThrottled || voice.RetryAfterOf(err) != 3*time.Second || voice.IsAmbiguous(err) {
			t.Errorf("got %v", err)
		}
	})
}

// TestConnectionRefused checks a failure before sending is retried even
// for a create, and is not ambiguous: nothing reached a server.
func TestConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	f := voice.NewFactory(voice.Options{BaseURL: "http://" + addr, BackoffBase: time.Millisecond, BackoffMax: time.Millisecond, RateLimit: rate.Inf})
	c, err := f.For(credsA)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Create(ctx(t), input("x"))
	ve := asError(t, err)
	if ve.Class != voice.ClassUnavailable || ve.Ambiguous || ve.Attempts != 4 || ve.StatusCode != 0 {
		t.Errorf("refused connection: %v (attempts %d, ambiguous %v)", err, ve.Attempts, ve.Ambiguous)
	}
}

// TestLostCreateRecovered is the crash-safe create in miniature: the answer
// is lost, the caller looks the name up and finds exactly one object.
func TestLostCreateRecovered(t *testing.T) {
	e := newEnv(t)
	e.sim.SetFaults(voicesim.Faults{LostCreate: 1})
	_, err := e.a.Create(ctx(t), input("lost"))
	if !voice.IsAmbiguous(err) {
		t.Fatalf("lost create: %v, want ambiguous", err)
	}
	e.sim.SetFaults(voicesim.Faults{})
	got, err := e.a.FindByUniqueName(ctx(t), "lost")
	if err != nil {
		t.Fatalf("looking the name up: %v", err)
	}
	recs := e.sim.Configurations(acctA)
	if len(recs) != 1 || recs[0].ID != got.ID {
		t.Errorf("remote state %+v, found %+v; want exactly the one object", recs, got)
	}
	if n := e.sim.CallCount("POST", voicesim.RouteCollection); n != 1 {
		t.Errorf("%d creates sent, want 1", n)
	}
}

// TestLostDelete checks the retry after a lost delete answer ends in
// NotFound, which callers treat as done.
func TestLostDelete(t *testing.T) {
	e := newEnv(t)
	cfg := e.mustCreate("d")
	e.sim.SetFaults(voicesim.Faults{LostDelete: 1})
	err := e.a.Delete(ctx(t), cfg.ID)
	if !voice.IsNotFound(err) || len(e.sim.Configurations(acctA)) != 0 {
		t.Errorf("lost delete: %v", err)
	}
	if n := e.sim.CallCount("DELETE", voicesim.RouteInstance); n != 2 {
		t.Errorf("%d deletes sent, want 2", n)
	}
}

// TestCreateUnderFaults creates 100 configurations through the recovery
// loop a controller uses (create; on an ambiguous or refused create, look
// the name up; create again only when it is absent) and reports the calls
// it took. The seed makes the numbers repeatable.
func TestCreateUnderFaults(t *testing.T) {
	cases := map[string]struct {
		reason string
		faults voicesim.Faults
	}{
		"30% 503": {reason: "the issue's measurement: 30% of all calls answered 503", faults: voicesim.Faults{Unavailable: 0.3, Seed: 1}},
		"30% lost creates": {reason: "creates that happen but whose answer is lost",
			faults: voicesim.Faults{LostCreate: 0.3, Seed: 1}},
		"mixed": {reason: "503s, 429s, lost creates and garbled answers together",
			faults: voicesim.Faults{Unavailable: 0.15, Throttled: 0.1, LostCreate: 0.1, Malformed: 0.1, Seed: 1}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			e.sim.SetFaults(tc.faults)
			const n = 100
			var created, recovered, recreated, lookupsFailed int
			for i := range n {
				name := fmt.Sprintf("load-%03d", i)
				done := false
				for try := 0; try < 20 && !done; try++ {
					_, err := e.a.Create(ctx(t), input(name))
					if err == nil {
						created++
						done = true
						break
					}
					if voice.ClassOf(err) == voice.ClassInvalid || voice.ClassOf(err) == voice.ClassUnauthorized {
						t.Fatalf("%s: %v", name, err)
					}
					// Any other failed create: look the name up before concluding.
					if _, ferr := e.a.FindByUniqueName(ctx(t), name); ferr == nil {
						recovered++
						done = true
					} else if voice.IsNotFound(ferr) {
						recreated++
					} else {
						lookupsFailed++
					}
				}
				if !done {
					t.Fatalf("%s: not created after 20 rounds", name)
				}
			}
			recs := e.sim.Configurations(acctA)
			names := map[string]int{}
			for _, r := range recs {
				names[r.UniqueName]++
			}
			dups := 0
			for _, c := range names {
				dups += c - 1
			}
			if len(names) != n || dups != 0 {
				t.Errorf("%s: %d distinct names, %d duplicates; want %d and 0", tc.reason, len(names), dups, n)
			}
			attempts := e.seen()
			sent := created + recovered + recreated + lookupsFailed // creates sent by the loop
			// Every 429, and every 503 outside a create, was retried, except
			// the last attempt of a lookup that gave up.
			retries := -lookupsFailed
			for _, a := range attempts {
				if a.status == 429 || a.status == 503 && (a.method != "POST" || a.route != voice.RouteCollection) {
					retries++
				}
			}
			calls := e.sim.Calls()
			keys := slices.Sorted(func(yield func(string) bool) {
				for k := range calls {
					if !yield(k) {
						return
					}
				}
			})
			var b strings.Builder
			for _, k := range keys {
				fmt.Fprintf(&b, "\n    %-40s %d", k, calls[k])
			}
			t.Logf("%s: %d objects, %d duplicates; %d Create calls: %d answered, %d failed then found (recovered), "+
				"%d failed then not found (created again), %d lookups failed; %d HTTP attempts, %d of them client retries after 429/503; "+
				"simulator calls:%s\n    faults injected: %v",
				name, len(names), dups, sent, created, recovered, recreated, lookupsFailed, len(attempts), retries, b.String(), e.sim.FaultCounts())
		})
	}
}

// TestRateLimiterShared checks one limiter per identity (account and
// credential), shared by every Client of the factory with those
// credentials, and separate between identities: a Secret that claims an
// account with some other credential draws nothing from its budget.
func TestRateLimiterShared(t *testing.T) {
	t.Run("spacing", func(t *testing.T) {
		e := newEnv(t, withOptions(func(o *voice.Options) { o.RateLimit = 5; o.Burst = 1 }))
		first, second := e.client(credsA), e.client(credsA)
		start := time.Now()
		var wg sync.WaitGroup
		for i := range 11 {
			c := first
			if i%2 == 1 {
				c = second
			}
			wg.Go(func() {
				if _, err := c.ListPage(ctx(t), 0, ""); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		// 11 requests at 5/s: 5 in the first second, 5 in the next, the
		// 11th in the third.
		if d := time.Since(start); d < 2*time.Second {
			t.Errorf("11 requests through two clients of one identity took %v, want ≥ 2s", d)
		}
	})
	t.Run("queue handed back", func(t *testing.T) {
		e := newEnv(t, withOptions(func(o *voice.Options) { o.RateLimit = 0.5; o.Burst = 1; o.MaxRetryWait = 10 * time.Millisecond }))
		if _, err := e.a.ListPage(ctx(t), 0, ""); err != nil {
			t.Fatal(err)
		}
		// A second client with the same credentials finds the bucket empty.
		_, err := e.client(credsA).ListPage(ctx(t), 0, "")
		if voice.ClassOf(err) != voice.ClassThrottled || voice.RetryAfterOf(err) < time.Second {
			t.Errorf("second call of account A: %v (RetryAfter %v), want client-side Throttled", err, voice.RetryAfterOf(err))
		}
		// Another identity has its own bucket: B, an API key of A, and a
		// Secret that claims B's SID with A's key.
		for name, creds := range map[string]voice.Credentials{"account B": credsB, "A's API key": credsAKey,
			"B's SID with A's key": {AccountSID: acctB, Username: keyA, Password: secretA}} {
			if _, err := e.client(creds).ListPage(ctx(t), 0, ""); voice.ClassOf(err) == voice.ClassThrottled {
				t.Errorf("%s throttled by A's use: %v", name, err)
			}
		}
		want := map[string]int{"GET " + voicesim.RouteCollection: 4}
		if diff := cmp.Diff(want, e.sim.Calls()); diff != "" {
			t.Errorf("calls (-want +got):\n%s", diff)
		}
	})
}

// TestObserver checks the metrics hook sees every attempt with its route
// template, including network failures as status 0.
func TestObserver(t *testing.T) {
	e := newEnv(t)
	e.sim.SetFaults(voicesim.Faults{LostCreate: 1})
	_, _ = e.a.Create(ctx(t), input("o"))
	e.sim.SetFaults(voicesim.Faults{})
	_, _ = e.a.Get(ctx(t), e.sim.Configurations(acctA)[0].ID)
	want := []attempt{{"POST", voice.RouteCollection, 0}, {"GET", voice.RouteInstance, 200}}
	if diff := cmp.Diff(want, e.seen(), cmp.AllowUnexported(attempt{})); diff != "" {
		t.Errorf("attempts (-want +got):\n%s", diff)
	}
}

// TestTLS checks the default transport verifies certificates: a server
// with a self-signed certificate is refused, not trusted.
func TestTLS(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.NotFoundHandler())
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is the point
	srv.StartTLS()
	t.Cleanup(srv.Close)
	f := voice.NewFactory(voice.Options{BaseURL: srv.URL, MaxAttempts: 1})
	c, err := f.For(credsA)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Get(ctx(t), "x")
	if voice.ClassOf(err) != voice.ClassUnavailable || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("self-signed server: %v", err)
	}
}
