package voicesim

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestPreFaults checks 503 and 429 answers: Twilio-style bodies, the
// Retry-After header, nothing changed remotely, and every call counted.
func TestPreFaults(t *testing.T) {
	cases := map[string]struct {
		reason     string
		faults     Faults
		wantStatus int
		wantCode   int
		wantRetry  string
		wantKey    string
	}{
		"unavailable": {reason: "503 before processing", faults: Faults{Unavailable: 1}, wantStatus: 503, wantCode: 20503, wantKey: FaultUnavailable},
		"unavailable with retry-after": {reason: "Retry-After is whole seconds, rounded up",
			faults: Faults{Unavailable: 1, RetryAfter: 1500 * time.Millisecond}, wantStatus: 503, wantCode: 20503, wantRetry: "2", wantKey: FaultUnavailable},
		"throttled": {reason: "429 with Retry-After", faults: Faults{Throttled: 1, RetryAfter: time.Second},
			wantStatus: 429, wantCode: 20429, wantRetry: "1", wantKey: FaultThrottled},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			h.sim.SetFaults(tc.faults)
			a := h.a("POST", RouteCollection, body("n", "https://x.example", "POST"))
			if a.status != tc.wantStatus || a.header.Get("Retry-After") != tc.wantRetry {
				t.Fatalf("%s: HTTP %d Retry-After %q", tc.reason, a.status, a.header.Get("Retry-After"))
			}
			if got := a.json(t)["code"]; got != float64(tc.wantCode) {
				t.Errorf("%s: code %v, want %d", tc.reason, got, tc.wantCode)
			}
			// Faults come before authentication, as at a gateway.
			h.as(acctA, "wrong", "GET", RouteCollection, "")
			if n := len(h.sim.Configurations(acctA)); n != 0 {
				t.Errorf("%s: %d configurations exist after a faulted create", tc.reason, n)
			}
			wantCalls := map[string]int{"POST " + RouteCollection: 1, "GET " + RouteCollection: 1}
			if diff := cmp.Diff(wantCalls, h.sim.Calls()); diff != "" {
				t.Errorf("calls (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(map[string]int{tc.wantKey: 2}, h.sim.FaultCounts()); diff != "" {
				t.Errorf("fault counts (-want +got):\n%s", diff)
			}
		})
	}
}

// TestFaultFractions checks a fraction is roughly honoured and that a seed
// makes a run repeatable.
func TestFaultFractions(t *testing.T) {
	run := func() (map[string]int, []int) {
		h := newHarness(t)
		h.sim.SetFaults(Faults{Unavailable: 0.3, Throttled: 0.1, Seed: 42})
		var statuses []int
		for range 400 {
			statuses = append(statuses, h.a("GET", RouteCollection, "").status)
		}
		return h.sim.FaultCounts(), statuses
	}
	counts, first := run()
	if u := counts[FaultUnavailable]; u < 80 || u > 160 {
		t.Errorf("503s = %d of 400 at 30%%", u)
	}
	if th := counts[FaultThrottled]; th < 20 || th > 70 {
		t.Errorf("429s = %d of 400 at 10%%", th)
	}
	if _, second := run(); !cmp.Equal(first, second) {
		t.Errorf("the same seed gave a different sequence")
	}
}

// TestLostAnswers checks a lost create and a lost delete are committed but
// answered by a dropped connection.
func TestLostAnswers(t *testing.T) {
	h := newHarness(t)
	h.sim.SetFaults(Faults{LostCreate: 1, LostDelete: 1})
	if _, err := h.try("POST", RouteCollection, body("lost", "https://x.example", "POST"), acctA, tokenA); err == nil {
		t.Fatal("a lost create got an answer")
	}
	recs := h.sim.Configurations(acctA)
	if len(recs) != 1 || recs[0].UniqueName != "lost" {
		t.Fatalf("after a lost create the state is %+v, want the configuration committed", recs)
	}
	// A failed create is not lost: there is nothing to lose.
	if a := h.a("POST", RouteCollection, body("lost", "https://x.example", "POST")); a.status != http.StatusBadRequest {
		t.Errorf("duplicate create under LostCreate: HTTP %d, want 400", a.status)
	}
	if _, err := h.try("DELETE", RouteCollection+"/"+recs[0].ID, "", acctA, tokenA); err == nil {
		t.Fatal("a lost delete got an answer")
	}
	if n := len(h.sim.Configurations(acctA)); n != 0 {
		t.Errorf("after a lost delete %d configurations remain", n)
	}
	if diff := cmp.Diff(map[string]int{FaultLostCreate: 1, FaultLostDelete: 1}, h.sim.FaultCounts()); diff != "" {
		t.Errorf("fault counts (-want +got):\n%s", diff)
	}
}

// TestMalformed checks each kind of garbled answer, and that the request
// behind it was processed.
func TestMalformed(t *testing.T) {
	cases := map[MalformedKind]struct {
		reason string
		check  func(t *testing.T, a answer)
	}{
		MalformedTruncated: {"half a JSON object", func(t *testing.T, a answer) {
			if json.Valid(a.body) || len(a.body) == 0 {
				t.Errorf("truncated body is valid JSON or empty: %q", a.body)
			}
		}},
		MalformedWrongTypes: {"valid JSON, wrong types", func(t *testing.T, a answer) {
			if _, isNum := a.json(t)["id"].(float64); !isNum {
				t.Errorf("id is not a number: %s", a.body)
			}
		}},
		MalformedHTML: {"an HTML page with a 2xx", func(t *testing.T, a answer) {
			if !strings.HasPrefix(a.header.Get("Content-Type"), "text/html") || !bytes.Contains(a.body, []byte("<html>")) {
				t.Errorf("not an HTML page: %s %q", a.header.Get("Content-Type"), a.body)
			}
		}},
		MalformedEmpty: {"nothing at all", func(t *testing.T, a answer) {
			if len(a.body) != 0 {
				t.Errorf("body %q, want empty", a.body)
			}
		}},
		MalformedHuge: {"valid JSON past 2 MiB", func(t *testing.T, a answer) {
			if len(a.body) < 2<<20 || !json.Valid(a.body) || a.json(t)["unique_name"] != "n" {
				t.Errorf("huge body: %d bytes, valid %v", len(a.body), json.Valid(a.body))
			}
		}},
	}
	for kind, tc := range cases {
		t.Run(string(kind), func(t *testing.T) {
			h := newHarness(t)
			h.sim.SetFaults(Faults{Malformed: 1, MalformedKinds: []MalformedKind{kind}})
			a := h.a("POST", RouteCollection, body("n", "https://x.example", "POST"))
			if a.status != http.StatusCreated {
				t.Fatalf("%s: HTTP %d, want the create's own 201", tc.reason, a.status)
			}
			tc.check(t, a)
			if n := len(h.sim.Configurations(acctA)); n != 1 {
				t.Errorf("%s: the garbled create was not committed (%d configurations)", tc.reason, n)
			}
			// Answers without a body and error answers are never garbled.
			if a := h.a("DELETE", RouteCollection+"/"+h.sim.Configurations(acctA)[0].ID, ""); a.status != http.StatusNoContent || len(a.body) != 0 {
				t.Errorf("delete under Malformed: HTTP %d %q", a.status, a.body)
			}
			if a := h.a("GET", RouteDefault, ""); a.status != http.StatusNotFound || a.json(t)["code"] != float64(20404) {
				t.Errorf("404 under Malformed: HTTP %d %q", a.status, a.body)
			}
			if diff := cmp.Diff(map[string]int{"malformed-" + string(kind): 1}, h.sim.FaultCounts()); diff != "" {
				t.Errorf("fault counts (-want +got):\n%s", diff)
			}
		})
	}
}

// TestLatency checks added latency is at least what was asked; only a lower
// bound is asserted, so a slow machine cannot fail it.
func TestLatency(t *testing.T) {
	h := newHarness(t)
	h.sim.SetFaults(Faults{Latency: 30 * time.Millisecond, LatencyJitter: 10 * time.Millisecond})
	start := time.Now()
	h.a("GET", RouteCollection, "")
	if d := time.Since(start); d < 30*time.Millisecond {
		t.Errorf("answered after %v, want at least 30ms", d)
	}
}

// TestFaultsValidate checks what Validate refuses and that SetFaults clamps.
func TestFaultsValidate(t *testing.T) {
	cases := map[string]struct {
		reason string
		f      Faults
		ok     bool
	}{
		"zero":          {"no faults is valid", Faults{}, true},
		"full":          {"every kind at once", Faults{Unavailable: 0.5, Throttled: 0.5, RetryAfter: time.Second, LostCreate: 1, MalformedKinds: AllMalformedKinds}, true},
		"negative":      {"fractions are probabilities", Faults{Unavailable: -0.1}, false},
		"above one":     {"fractions are probabilities", Faults{LostDelete: 1.5}, false},
		"sum above one": {"503 and 429 share one draw", Faults{Unavailable: 0.7, Throttled: 0.7}, false},
		"negative time": {"durations are not negative", Faults{Latency: -time.Second}, false},
		"unknown kind":  {"kinds are a closed set", Faults{MalformedKinds: []MalformedKind{"gzip-bomb"}}, false},
	}
	for name, tc := range cases {
		if err := tc.f.Validate(); (err == nil) != tc.ok {
			t.Errorf("%s: %s: Validate() = %v", name, tc.reason, err)
		}
	}
	s := New(Options{})
	s.SetFaults(Faults{Unavailable: 7, Latency: -time.Second, MalformedKinds: []MalformedKind{"nope", MalformedHTML}})
	got := s.CurrentFaults()
	want := Faults{Unavailable: 1, MalformedKinds: []MalformedKind{MalformedHTML}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("clamped faults (-want +got):\n%s", diff)
	}
}
