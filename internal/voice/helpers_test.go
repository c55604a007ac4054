package voice_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/twilio-operator/voice-operator/internal/voice"
	"github.com/twilio-operator/voice-operator/internal/voicesim"
)

const (
	acctA   = "AC0000000000000000000000000000000a"
	tokenA  = "tokenA-5ec4e7-never-print-me"
	acctB   = "AC0000000000000000000000000000000b"
	tokenB  = "tokenB-5ec4e7-never-print-me"
	keyA    = "SK0000000000000000000000000000000a"
	secretA = "keysecretA-never-print-me"
)

var (
	credsA    = voice.Credentials{AccountSID: acctA, Username: acctA, Password: tokenA}
	credsB    = voice.Credentials{AccountSID: acctB, Username: acctB, Password: tokenB}
	credsAKey = voice.Credentials{AccountSID: acctA, Username: keyA, Password: secretA}
)

// attempt is one HTTP attempt as the Observer saw it.
type attempt struct {
	method, route string
	status        int
}

// env is the real client talking over real HTTP to the simulator, with an
// optional middleware in between for answers the simulator does not give.
type env struct {
	t   *testing.T
	sim *voicesim.Server
	srv *httptest.Server
	f   *voice.Factory
	a   *voice.Client // account A, auth token
	b   *voice.Client // account B
	// existing is the id of a configuration a test made before its call.
	existing string

	mu       sync.Mutex
	attempts []attempt
}

type envOption func(*envConfig)

type envConfig struct {
	opts  voice.Options
	shape voicesim.Options
	wrap  func(http.Handler) http.Handler
}

// simShape is the simulator's shape for every env without withShape:
// VOICE_SIM_SHAPE (reference, the default, or extended).
var simShape = func() voicesim.Options {
	opts, err := voicesim.Shape(os.Getenv("VOICE_SIM_SHAPE"))
	if err != nil {
		panic(err)
	}
	return opts
}()

// withShape serves the simulator in this shape.
func withShape(opts voicesim.Options) envOption {
	return func(c *envConfig) { c.shape = opts }
}

// withOptions edits the client options.
func withOptions(fn func(*voice.Options)) envOption {
	return func(c *envConfig) { fn(&c.opts) }
}

// withMiddleware puts a handler in front of the simulator.
func withMiddleware(wrap func(http.Handler) http.Handler) envOption {
	return func(c *envConfig) { c.wrap = wrap }
}

// newEnv starts a simulator with accounts A (token and API key) and B, and
// a factory with tiny backoffs so retries cost milliseconds. Its client
// retries 429s inline (RetryThrottled), as the export command's does; the
// gate's tests set it off, as the operator runs.
func newEnv(t *testing.T, options ...envOption) *env {
	t.Helper()
	cfg := envConfig{shape: simShape, opts: voice.Options{
		RequestTimeout: 5 * time.Second,
		MaxRetryWait:   3 * time.Second,
		BackoffBase:    time.Millisecond,
		BackoffMax:     4 * time.Millisecond,
		RateLimit:      rate.Inf,
		RetryThrottled: true,
		Version:        "1.2.3",
	}}
	for _, o := range options {
		o(&cfg)
	}
	e := &env{t: t, sim: voicesim.New(cfg.shape)}
	e.sim.AddAccount(acctA, tokenA)
	e.sim.AddAPIKey(acctA, keyA, secretA)
	e.sim.AddAccount(acctB, tokenB)
	var h http.Handler = e.sim
	if cfg.wrap != nil {
		h = cfg.wrap(h)
	}
	e.srv = httptest.NewServer(h)
	t.Cleanup(e.srv.Close)
	cfg.opts.BaseURL = e.srv.URL
	userObserver := cfg.opts.Observer
	cfg.opts.Observer = func(method, route string, status int, d time.Duration) {
		e.mu.Lock()
		e.attempts = append(e.attempts, attempt{method, route, status})
		e.mu.Unlock()
		if userObserver != nil {
			userObserver(method, route, status, d)
		}
	}
	e.f = voice.NewFactory(cfg.opts)
	e.a = e.client(credsA)
	e.b = e.client(credsB)
	return e
}

func (e *env) client(c voice.Credentials) *voice.Client {
	e.t.Helper()
	cl, err := e.f.For(c)
	if err != nil {
		e.t.Fatalf("For(%v): %v", c, err)
	}
	return cl
}

// seen returns and clears the observed attempts.
func (e *env) seen() []attempt {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := e.attempts
	e.attempts = nil
	return out
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

func ptr(s string) *string { return &s }

func input(name string) voice.ConfigurationInput {
	return voice.ConfigurationInput{
		UniqueName:       name,
		Description:      ptr("desc of " + name),
		CallNotification: voice.CallNotification{URL: "https://example.com/" + url.PathEscape(name), Method: "POST"},
	}
}

// mustCreate creates in account A.
func (e *env) mustCreate(name string) *voice.Configuration {
	e.t.Helper()
	cfg, err := e.a.Create(ctx(e.t), input(name))
	if err != nil {
		e.t.Fatalf("create %q: %v", name, err)
	}
	return cfg
}

// asError returns err as *voice.Error or fails.
func asError(t *testing.T, err error) *voice.Error {
	t.Helper()
	ve, ok := err.(*voice.Error)
	if !ok {
		t.Fatalf("error %T %v is not a *voice.Error", err, err)
	}
	return ve
}

// scripted answers the first n matching requests itself, then lets the
// rest through. It is safe for concurrent use.
type scripted struct {
	mu      sync.Mutex
	n       int
	match   func(*http.Request) bool
	respond func(http.ResponseWriter, *http.Request)
}

func (s *scripted) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		fire := s.n > 0 && (s.match == nil || s.match(r))
		if fire {
			s.n--
		}
		s.mu.Unlock()
		if fire {
			s.respond(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func method(m string) func(*http.Request) bool {
	return func(r *http.Request) bool { return r.Method == m }
}

func status(code int, retryAfter, body string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_, _ = w.Write([]byte(body))
	}
}
