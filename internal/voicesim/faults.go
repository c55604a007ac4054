package voicesim

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// randSource draws every fault; guarded by Server.faultsMu.
type randSource = *rand.Rand

// MalformedKind is one way of garbling a successful answer.
type MalformedKind string

// The malformed-answer kinds. Each is something a proxy, a load balancer or
// a half-deployed backend has been seen to send with a 2xx status.
const (
	// MalformedTruncated cuts the JSON body in half.
	MalformedTruncated MalformedKind = "truncated"
	// MalformedWrongTypes answers JSON whose fields have the wrong types
	// (id a number, content a string, ...).
	MalformedWrongTypes MalformedKind = "wrong-types"
	// MalformedHTML answers 200 with an HTML error page.
	MalformedHTML MalformedKind = "html"
	// MalformedEmpty answers 200 with an empty body.
	MalformedEmpty MalformedKind = "empty"
	// MalformedHuge answers valid JSON padded past 2 MiB, larger than any
	// sane client reads.
	MalformedHuge MalformedKind = "huge"
)

// AllMalformedKinds lists every MalformedKind, the set used when
// Faults.MalformedKinds is empty.
var AllMalformedKinds = []MalformedKind{MalformedTruncated, MalformedWrongTypes, MalformedHTML, MalformedEmpty, MalformedHuge}

// Fault counter keys, as returned by FaultCounts. Malformed answers are
// counted per kind as "malformed-<kind>".
const (
	FaultUnavailable = "unavailable"
	FaultThrottled   = "throttled"
	FaultLostCreate  = "lost-create"
	FaultLostDelete  = "lost-delete"
)

// Faults says which failures the simulator injects into API calls (never
// into /_sim/ calls). Fractions are probabilities in [0, 1] drawn per
// request from a generator seeded with Seed, so a run is repeatable when
// requests arrive in the same order.
type Faults struct {
	// Unavailable is the fraction of calls answered 503 before any
	// processing: nothing is changed remotely.
	Unavailable float64
	// Throttled is the fraction of calls answered 429 before any processing
	// (Twilio documents that a 429'd request was never processed).
	Throttled float64
	// RetryAfter is sent as the Retry-After header (whole seconds, rounded
	// up) on injected 429 and 503 answers; zero sends no header.
	RetryAfter time.Duration
	// Latency delays every API call by this much before it is handled.
	Latency time.Duration
	// LatencyJitter adds a uniformly drawn [0, LatencyJitter) on top.
	LatencyJitter time.Duration
	// LostCreate is the fraction of successful creates that are committed
	// and then answered by dropping the connection: the client cannot know
	// the configuration exists.
	LostCreate float64
	// LostDelete is the same for successful deletes.
	LostDelete float64
	// Malformed is the fraction of successful answers with a JSON body that
	// are garbled after the request was processed normally (so a garbled
	// create has been committed).
	Malformed float64
	// MalformedKinds restricts the garbling to these kinds, drawn uniformly;
	// empty means all of AllMalformedKinds.
	MalformedKinds []MalformedKind
	// Seed seeds the generator that draws every fault and jitter.
	Seed int64
}

// Validate reports a fraction outside [0, 1], a negative duration or an
// unknown malformed kind.
func (f Faults) Validate() error {
	for name, v := range map[string]float64{
		"unavailable": f.Unavailable, "throttled": f.Throttled, "lost_create": f.LostCreate,
		"lost_delete": f.LostDelete, "malformed": f.Malformed,
	} {
		if math.IsNaN(v) || v < 0 || v > 1 {
			return fmt.Errorf("fault %s: fraction %v is outside [0, 1]", name, v)
		}
	}
	if f.Unavailable+f.Throttled > 1 {
		return fmt.Errorf("faults unavailable+throttled add up to more than 1")
	}
	for name, d := range map[string]time.Duration{"retry_after": f.RetryAfter, "latency": f.Latency, "latency_jitter": f.LatencyJitter} {
		if d < 0 {
			return fmt.Errorf("fault %s: negative duration %v", name, d)
		}
	}
	for _, k := range f.MalformedKinds {
		if !knownKind(k) {
			return fmt.Errorf("unknown malformed kind %q", k)
		}
	}
	return nil
}

func knownKind(k MalformedKind) bool {
	for _, known := range AllMalformedKinds {
		if k == known {
			return true
		}
	}
	return false
}

// faultsJSON is the admin endpoint's shape: durations as Go duration strings
// ("250ms") so a person can write them with curl.
type faultsJSON struct {
	Unavailable    float64         `json:"unavailable"`
	Throttled      float64         `json:"throttled"`
	RetryAfter     string          `json:"retry_after,omitempty"`
	Latency        string          `json:"latency,omitempty"`
	LatencyJitter  string          `json:"latency_jitter,omitempty"`
	LostCreate     float64         `json:"lost_create"`
	LostDelete     float64         `json:"lost_delete"`
	Malformed      float64         `json:"malformed"`
	MalformedKinds []MalformedKind `json:"malformed_kinds,omitempty"`
	Seed           int64           `json:"seed"`
}

// MarshalJSON writes durations as strings such as "1.5s".
func (f Faults) MarshalJSON() ([]byte, error) {
	dur := func(d time.Duration) string {
		if d == 0 {
			return ""
		}
		return d.String()
	}
	return json.Marshal(faultsJSON{
		Unavailable: f.Unavailable, Throttled: f.Throttled, RetryAfter: dur(f.RetryAfter),
		Latency: dur(f.Latency), LatencyJitter: dur(f.LatencyJitter), LostCreate: f.LostCreate,
		LostDelete: f.LostDelete, Malformed: f.Malformed, MalformedKinds: f.MalformedKinds, Seed: f.Seed,
	})
}

// UnmarshalJSON reads the shape MarshalJSON writes; absent fields are zero.
func (f *Faults) UnmarshalJSON(b []byte) error {
	var j faultsJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	var durs [3]time.Duration
	for i, s := range []string{j.RetryAfter, j.Latency, j.LatencyJitter} {
		if s == "" {
			continue
		}
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("faults: %w", err)
		}
		durs[i] = d
	}
	*f = Faults{
		Unavailable: j.Unavailable, Throttled: j.Throttled, RetryAfter: durs[0], Latency: durs[1],
		LatencyJitter: durs[2], LostCreate: j.LostCreate, LostDelete: j.LostDelete, Malformed: j.Malformed,
		MalformedKinds: j.MalformedKinds, Seed: j.Seed,
	}
	return nil
}

// clamp01 keeps a fraction usable even when a caller skipped Validate.
func clamp01(v float64) float64 {
	if math.IsNaN(v) || v < 0 {
		return 0
	}
	return min(v, 1)
}

// SetFaults replaces the fault configuration and reseeds the generator. It
// is safe to call while requests are in flight. Out-of-range fractions are
// clamped to [0, 1] and unknown malformed kinds dropped; call Validate first
// to reject them instead.
func (s *Server) SetFaults(f Faults) {
	f.Unavailable, f.Throttled = clamp01(f.Unavailable), clamp01(f.Throttled)
	f.LostCreate, f.LostDelete, f.Malformed = clamp01(f.LostCreate), clamp01(f.LostDelete), clamp01(f.Malformed)
	f.RetryAfter, f.Latency, f.LatencyJitter = max(f.RetryAfter, 0), max(f.Latency, 0), max(f.LatencyJitter, 0)
	kinds := make([]MalformedKind, 0, len(f.MalformedKinds))
	for _, k := range f.MalformedKinds {
		if knownKind(k) {
			kinds = append(kinds, k)
		}
	}
	f.MalformedKinds = kinds
	s.faultsMu.Lock()
	defer s.faultsMu.Unlock()
	s.faults = f
	s.rng = rand.New(rand.NewPCG(uint64(f.Seed), 0x9e3779b97f4a7c15))
}

// CurrentFaults returns the fault configuration in force.
func (s *Server) CurrentFaults() Faults {
	s.faultsMu.Lock()
	defer s.faultsMu.Unlock()
	f := s.faults
	f.MalformedKinds = append([]MalformedKind(nil), f.MalformedKinds...)
	return f
}

// preFault is what happens to a request before it is handled.
type preFault struct {
	delay  time.Duration
	status int // 0, 503 or 429
	retry  time.Duration
}

// drawPre draws the latency and the before-processing faults of one call.
func (s *Server) drawPre() preFault {
	s.faultsMu.Lock()
	defer s.faultsMu.Unlock()
	f := s.faults
	p := preFault{delay: f.Latency, retry: f.RetryAfter}
	if f.LatencyJitter > 0 {
		p.delay += time.Duration(s.rng.Int64N(int64(f.LatencyJitter)))
	}
	if f.Unavailable == 0 && f.Throttled == 0 {
		return p
	}
	// One draw for both, so the fractions are of all calls and never overlap.
	switch x := s.rng.Float64(); {
	case x < f.Unavailable:
		p.status = 503
	case x < f.Unavailable+f.Throttled:
		p.status = 429
	}
	return p
}

// draw reports whether a fault of the given fraction fires now.
func (s *Server) draw(pick func(Faults) float64) bool {
	s.faultsMu.Lock()
	defer s.faultsMu.Unlock()
	p := pick(s.faults)
	return p > 0 && s.rng.Float64() < p
}

// drawMalformed returns the kind of garbling for this answer, or "".
func (s *Server) drawMalformed() MalformedKind {
	s.faultsMu.Lock()
	defer s.faultsMu.Unlock()
	f := s.faults
	if f.Malformed == 0 || s.rng.Float64() >= f.Malformed {
		return ""
	}
	kinds := f.MalformedKinds
	if len(kinds) == 0 {
		kinds = AllMalformedKinds
	}
	return kinds[s.rng.IntN(len(kinds))]
}

// garble turns a good JSON answer into the given kind of bad one; it returns
// the content type and body to send.
func garble(kind MalformedKind, good []byte) (contentType string, body []byte) {
	const jsonType = "application/json; charset=utf-8"
	switch kind {
	case MalformedTruncated:
		return jsonType, good[:len(good)/2]
	case MalformedWrongTypes:
		// Valid JSON, but every field a client reads has the wrong type, for
		// single objects and pages alike.
		return jsonType, []byte(`{"id":12345,"account_sid":true,"unique_name":["x"],"description":7,` +
			`"configuration":"Client","date_created":{},"content":"none","meta":42}`)
	case MalformedHTML:
		return "text/html; charset=utf-8", []byte("<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>" +
			"<body><h1>Bad Gateway</h1><p>The upstream server sent an invalid response.</p></body></html>\n")
	case MalformedEmpty:
		return jsonType, nil
	case MalformedHuge:
		// Valid JSON (the real answer plus one huge unknown field), so only a
		// size cap protects the client.
		const pad = 2<<20 + 17
		b := make([]byte, 0, len(good)+pad+16)
		b = append(b, `{"padding":"`...)
		for range pad {
			b = append(b, 'x')
		}
		b = append(b, `",`...)
		if len(good) > 1 && good[0] == '{' {
			b = append(b, good[1:]...)
		} else {
			b = append(b, `"x":0}`...)
		}
		return jsonType, b
	}
	return jsonType, good
}
