package voice

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// Defaults of Options.
const (
	DefaultBaseURL        = "https://voice.twilio.com"
	DefaultRequestTimeout = 10 * time.Second
	DefaultMaxAttempts    = 4
	DefaultMaxRetryWait   = 5 * time.Second
	DefaultRateLimit      = rate.Limit(10)
	DefaultBurst          = 10
	DefaultBackoffBase    = 250 * time.Millisecond
	DefaultBackoffMax     = 4 * time.Second

	// MaxBodyBytes caps what the client reads of an answer holding at most
	// one configuration. Pages are capped by maxPageBytes instead.
	MaxBodyBytes = 1 << 20
	// DefaultPageSize is the page size of List and of lookups by unique
	// name: the largest page the reference's shape of the API is known to
	// serve. A larger Options.PageSize the API refuses falls back to the
	// API's own default.
	DefaultPageSize = 50
	// maxConfigBytes bounds one configuration in a page. The CRD allows a
	// unique name of 256 characters, a description of 1024 and a URL of
	// 2048 (MaxUniqueNameLength & co.), at most 6 bytes each once JSON-
	// escaped: about 20 KiB; 32 KiB leaves room for webhook credentials and
	// for fields this client does not know.
	maxConfigBytes = 32 << 10
	// maxRetryAfter caps a server's Retry-After, so a broken or hostile
	// answer cannot park an object for days.
	maxRetryAfter = time.Hour
	// maxPageSize is the largest page the client ever asks for.
	maxPageSize = 1000
)

// Length limits of a configuration's fields as the CRD enforces them;
// api/v1alpha1 states the same numbers in its validation markers (a test
// holds them equal). They size the read cap of a page.
const (
	MaxUniqueNameLength  = 256
	MaxDescriptionLength = 1024
	MaxURLLength         = 2048
)

// maxPageBytes is the read cap of a page of size configurations (size 0:
// the API's default, assumed as large as maxPageSize).
func maxPageBytes(size int) int64 {
	if size <= 0 {
		size = maxPageSize
	}
	return max(MaxBodyBytes, 64<<10+int64(size)*maxConfigBytes)
}

// Options configure a Factory. The zero value is usable: every zero field
// takes its default.
type Options struct {
	// BaseURL overrides the whole base URL (the manager's --voice-api-url
	// flag; the simulator's address in tests). Empty: https://voice.twilio.com,
	// or the regional host the credentials' region and edge select. Nothing
	// else can change the host.
	BaseURL string
	// HTTPClient sends the requests. Default: a client with transport
	// timeouts, TLS verification on, and redirects not followed (a redirect
	// would resend the Basic credentials to wherever it points). A client
	// whose transport skips TLS verification is refused.
	HTTPClient *http.Client
	// RequestTimeout bounds each HTTP attempt. Default 10s.
	RequestTimeout time.Duration
	// MaxAttempts is the number of attempts for a retryable failure,
	// including the first. Default 4.
	MaxAttempts int
	// MaxRetryWait is the longest wait (backoff, a slot under the
	// per-second cap, or with RetryThrottled a Retry-After) the client sits
	// out inline. A longer one ends the call
	// with a Throttled or Unavailable error carrying RetryAfter, so the
	// caller's work queue waits instead of a worker. Default 5s; negative
	// means never wait inline.
	MaxRetryWait time.Duration
	// RateLimit is the per-account request rate (token bucket). Default 10
	// per second; rate.Inf disables limiting. Whatever the burst, no more
	// than RateLimit requests (rounded down, at least one) go out in any
	// one second.
	RateLimit rate.Limit
	// Burst is the per-account bucket size. Default 10.
	Burst int
	// RetryThrottled retries a 429 inline once its Retry-After has passed
	// (if that is at most MaxRetryWait), as a command-line tool wants. The
	// operator leaves it off: the call ends at once, the account's gate
	// holds back every other call until the Retry-After has passed, and
	// the object's work queue, not a worker, does the waiting.
	RetryThrottled bool
	// BackoffBase is the first retry's backoff, doubled per retry, with
	// jitter. Default 250ms; tests set it tiny.
	BackoffBase time.Duration
	// BackoffMax caps the backoff. Default 4s.
	BackoffMax time.Duration
	// PageSize is the page size of List walks and lookups by unique name.
	// Default DefaultPageSize; at most 1000.
	PageSize int
	// Version is the operator version, sent in the User-Agent.
	Version string
	// WrapTransport, if set, wraps the transport every request goes
	// through; the manager uses it to refuse writes once it is no longer
	// the leader. A request it refuses was never sent, so it is never
	// ambiguous.
	WrapTransport func(http.RoundTripper) http.RoundTripper
	// Observer, if set, is called after every HTTP attempt with the method,
	// the route template (e.g. "/v2/Configurations/Client/{id}"), the status
	// (0 for a network failure) and the attempt's duration. It must be fast
	// and safe for concurrent use.
	Observer func(method, route string, status int, d time.Duration)
}

// cmpOr returns a unless it is nil, then b.
func cmpOr(a, b http.RoundTripper) http.RoundTripper {
	if a != nil {
		return a
	}
	return b
}

// withDefaults fills zero fields.
func (o Options) withDefaults() Options {
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = DefaultRequestTimeout
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = DefaultMaxAttempts
	}
	switch {
	case o.MaxRetryWait == 0:
		o.MaxRetryWait = DefaultMaxRetryWait
	case o.MaxRetryWait < 0:
		o.MaxRetryWait = 0
	}
	if o.RateLimit <= 0 {
		o.RateLimit = DefaultRateLimit
	}
	if o.Burst <= 0 {
		o.Burst = DefaultBurst
	}
	if o.BackoffBase <= 0 {
		o.BackoffBase = DefaultBackoffBase
	}
	if o.BackoffMax <= 0 {
		o.BackoffMax = DefaultBackoffMax
	}
	if o.PageSize <= 0 {
		o.PageSize = DefaultPageSize
	}
	o.PageSize = min(o.PageSize, maxPageSize)
	if o.HTTPClient == nil {
		o.HTTPClient = defaultHTTPClient()
	}
	return o
}

func defaultHTTPClient() *http.Client {
	t, ok := http.DefaultTransport.(*http.Transport)
	if ok {
		t = t.Clone()
	} else {
		t = &http.Transport{Proxy: http.ProxyFromEnvironment}
	}
	t.DialContext = (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	t.TLSHandshakeTimeout = 5 * time.Second
	t.ResponseHeaderTimeout = 0 // the per-attempt context bounds the whole exchange
	t.ExpectContinueTimeout = time.Second
	t.IdleConnTimeout = 90 * time.Second
	t.MaxIdleConns = 100
	// Many reconcile workers talk to one host; keep their connections.
	t.MaxIdleConnsPerHost = 32
	t.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	return &http.Client{
		Transport: t,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// Factory hands out Clients per credentials. It shares one HTTP client
// across all of them, and one gate (rate limit and 429 state) per account
// and credential, so a
// burst of objects using one set of credentials is throttled as one however
// many Clients serve it, while a Secret that merely claims another
// account's SID shares nothing with that account's real users.
// It is safe for concurrent use.
type Factory struct {
	opts      Options
	userAgent string
	// http sends the requests: Options.HTTPClient behind WrapTransport.
	http *http.Client

	mu    sync.Mutex
	gates map[string]*gate
	// refusedPageSize is the smallest pageSize the API answered 400 to (0:
	// none); List then lets the API choose its page size.
	refusedPageSize atomic.Int64
}

// NewFactory returns a Factory; zero fields of opts take their defaults.
func NewFactory(opts Options) *Factory {
	opts = opts.withDefaults()
	hc := opts.HTTPClient
	if opts.WrapTransport != nil {
		wrapped := *hc
		wrapped.Transport = opts.WrapTransport(cmpOr(hc.Transport, http.DefaultTransport))
		hc = &wrapped
	}
	return &Factory{
		opts:      opts,
		http:      hc,
		userAgent: userAgent(opts.Version),
		gates:     map[string]*gate{},
	}
}

// userAgent follows the shape of Twilio's Go SDK:
// voice-operator/<version> (<os> <arch>) go/<go version>.
func userAgent(version string) string {
	version = strings.Map(func(r rune) rune {
		if r <= ' ' || r > '~' || r == '(' || r == ')' {
			return -1
		}
		return r
	}, version)
	if version == "" {
		version = "dev"
	}
	return fmt.Sprintf("voice-operator/%s (%s %s) go/%s", version, runtime.GOOS, runtime.GOARCH, runtime.Version())
}

// gate returns the shared gate of one identity (see Credentials.Identity),
// creating it on first use.
func (f *Factory) gate(identity string) *gate {
	f.mu.Lock()
	defer f.mu.Unlock()
	g := f.gates[identity]
	if g == nil {
		g = newGate(f.opts.RateLimit, f.opts.Burst)
		f.gates[identity] = g
	}
	return g
}

// For returns a Client for the credentials. It fails, without any network
// call, when the credentials are incomplete or malformed, when the base URL
// is unusable, or when the HTTP client skips TLS verification.
func (f *Factory) For(creds Credentials) (*Client, error) {
	if err := creds.Validate(); err != nil {
		return nil, err
	}
	base, err := baseURL(f.opts.BaseURL, creds.Region, creds.Edge)
	if err != nil {
		return nil, err
	}
	if t, ok := f.opts.HTTPClient.Transport.(*http.Transport); ok && t.TLSClientConfig != nil && t.TLSClientConfig.InsecureSkipVerify {
		return nil, errors.New("voice: refusing an HTTP client that skips TLS verification")
	}
	c := creds
	return &Client{
		f:     f,
		base:  base,
		creds: &c,
		gate:  f.gate(creds.Identity()),
	}, nil
}

// baseURL picks the API's base URL: the override if any, else the host
// Twilio's SDKs build from region and edge: voice.<edge>.<region>.twilio.com,
// with region us1 when only an edge is given.
func baseURL(override, region, edge string) (string, error) {
	if override != "" {
		u, err := url.Parse(override)
		switch {
		case err != nil:
			return "", fmt.Errorf("voice: base URL does not parse: %w", err)
		case u.Scheme != "http" && u.Scheme != "https", u.Host == "":
			return "", errors.New("voice: base URL must be an absolute http or https URL")
		case u.User != nil:
			// Credentials in the URL would end up in error messages.
			return "", errors.New("voice: base URL must not carry credentials")
		case u.RawQuery != "" || u.Fragment != "":
			return "", errors.New("voice: base URL must not have a query or fragment")
		}
		return strings.TrimRight(u.String(), "/"), nil
	}
	for key, v := range map[string]string{KeyRegion: region, KeyEdge: edge} {
		if v != "" && !hostLabel.MatchString(v) {
			return "", fmt.Errorf("%w: %s must be lowercase letters and digits only", ErrInvalidCredentials, key)
		}
	}
	switch {
	case region == "" && edge == "":
		return DefaultBaseURL, nil
	case edge == "":
		return "https://voice." + region + ".twilio.com", nil
	case region == "":
		region = "us1"
	}
	return "https://voice." + edge + "." + region + ".twilio.com", nil
}

// Client talks to the API for one account. It is safe for concurrent use.
// Its credentials sit behind a pointer so that even a reflective print of
// the struct shows an address, not the secret.
type Client struct {
	f     *Factory
	base  string
	creds *Credentials
	gate  *gate
	// admitted is set by Admit: the next request's token is booked.
	admitted atomic.Bool
}

// Admit asks, before a caller commits to work that ends in a request (a
// create marker written, say), whether that request may go out now. It
// returns 0 when it may: the token is then held for this Client's next
// request. Otherwise it returns how long the caller should stay away and
// why, and books a token for key (the caller's identity, e.g. an object's
// UID) that is waiting for it when the caller comes back then. Nothing
// sleeps: the caller requeues instead. A caller that does not come back
// within a minute loses its booking.
func (c *Client) Admit(key string) (time.Duration, string) {
	if c.admitted.Load() {
		return 0, ""
	}
	wait, why := c.gate.admit(key, time.Now())
	if wait == 0 {
		c.admitted.Store(true)
	}
	return wait, why
}

// AccountSID returns the account the client acts for, as its credentials
// claim it; every configuration the API answers is checked against it
// (ClassAccountMismatch).
func (c *Client) AccountSID() string { return c.creds.AccountSID }

// AnsweredForAnother returns the other account an answer to these
// credentials named (an API key of another account than the SID says),
// or "". Credentials never move between accounts, so it stays so: a
// caller need not send another request to learn it again.
func (c *Client) AnsweredForAnother() string {
	if p := c.gate.elsewhere.Load(); p != nil {
		return *p
	}
	return ""
}

// Location is the region and edge the credentials select, as
// "region/edge" ("" when neither is set: Twilio's default).
func (c *Client) Location() string {
	if c.creds.Region == "" && c.creds.Edge == "" {
		return ""
	}
	return c.creds.Region + "/" + c.creds.Edge
}

// Username is who the requests authenticate as: the account SID or an
// API key SID (never the secret).
func (c *Client) Username() string { return c.creds.Username }

// Verified reports whether the credentials are known to act on AccountSID:
// the user is the account SID itself (Twilio authenticates it with that
// account's token only), or an answer to these credentials named the
// account. An API key says nothing of its account until then, and a 404
// to it may be another account's.
func (c *Client) Verified() bool {
	return c.creds.Username == c.creds.AccountSID || c.gate.reached.Load()
}

// Identity names the account and credential the client uses, without the
// secret: caches of what one credential can see are keyed by it.
func (c *Client) Identity() string { return c.creds.Identity() }

// BaseURL returns the base URL requests go to.
func (c *Client) BaseURL() string { return c.base }

// String describes the client without its secret.
func (c *Client) String() string {
	return fmt.Sprintf("voice.Client{%s at %s}", c.creds.String(), c.base)
}

// GoString is String, for %#v.
func (c *Client) GoString() string { return c.String() }

// request is one logical API call, possibly several HTTP attempts.
type request struct {
	op     string
	method string
	route  string // template, for the Observer
	path   string // escaped
	query  url.Values
	body   []byte
	// idempotent calls are retried on every retryable failure; the create
	// is not, and its failures after sending are Ambiguous.
	idempotent bool
	// retryMalformed retries unreadable answers: safe for reads only.
	retryMalformed bool
	// maxBody caps what is read of the answer; 0 means MaxBodyBytes.
	maxBody int64
	// secrets are strings the request carries (a webhook password) that
	// must never come back in an error, should the API quote them.
	secrets []string
	// decode reads a 2xx body; nil means the body is ignored.
	decode func([]byte) error
}

// do runs req with rate limiting and retries.
func (c *Client) do(ctx context.Context, req request) error {
	opts := c.f.opts
	for attempt := 1; ; attempt++ {
		probe, err := c.waitTurn(ctx, req.op)
		if err != nil {
			err.Attempts = attempt - 1
			return err
		}
		e := c.attemptThroughGate(ctx, req, probe)
		if e == nil {
			return nil
		}
		e.Attempts = attempt
		if attempt >= opts.MaxAttempts || !c.retryable(req, e) {
			return e
		}
		wait := c.backoff(attempt)
		switch {
		case e.RetryAfter > opts.MaxRetryWait:
			// Too long to hold a worker: the caller's queue waits instead.
			return e
		case e.RetryAfter > 0:
			// Honour the server, with a little jitter (within MaxRetryWait)
			// so that workers told the same Retry-After do not return in
			// lockstep.
			wait = e.RetryAfter + min(rand.N(e.RetryAfter/10+1), opts.MaxRetryWait-e.RetryAfter)
		case wait > opts.MaxRetryWait:
			e.RetryAfter = wait
			return e
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			return e
		}
		if !sleep(ctx, wait) {
			return e
		}
	}
}

// attemptThroughGate makes one attempt and tells the account's gate how
// it was answered, whatever happens (a panic in a decoder or observer
// included), so that a probe is never left out.
func (c *Client) attemptThroughGate(ctx context.Context, req request, probe bool) (e *Error) {
	answered := false
	defer func() {
		if !answered {
			c.gate.answered(probe, false, false, 0, time.Now())
		}
	}()
	e = c.attempt(ctx, req)
	answered = true
	c.gate.answered(probe, e == nil || e.StatusCode != 0, e != nil && e.StatusCode == http.StatusTooManyRequests, retryAfterOf(e), time.Now())
	return e
}

// retryable decides whether a failed attempt is tried again.
func (c *Client) retryable(req request, e *Error) bool {
	switch {
	case e.callerDone:
		return false
	case e.Class == ClassThrottled:
		// A 429 was never processed (Twilio documents it), so even a create
		// is safe to repeat; but only a command-line caller waits for it.
		return c.f.opts.RetryThrottled
	case e.Class == ClassUnavailable:
		return req.idempotent || !e.Ambiguous
	case e.Class == ClassMalformed:
		return req.retryMalformed
	}
	return false
}

// backoff is capped exponential backoff with "equal jitter": half fixed,
// half random, so retries spread out but never collapse to zero.
func (c *Client) backoff(attempt int) time.Duration {
	opts := c.f.opts
	d := opts.BackoffBase
	for i := 1; i < attempt && d < opts.BackoffMax; i++ {
		d *= 2
	}
	d = min(d, opts.BackoffMax)
	return d/2 + rand.N(d/2+1)
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// waitTurn clears req with the account's gate: not while a 429's
// Retry-After runs (then it fails at once, unsent), a token of the rate
// limit (booked by Admit, or taken now without waiting), and a slot in the
// per-second cap, the one wait (short: few callers send at once). probe
// says that the request tests whether a throttled account accepts
// requests again.
func (c *Client) waitTurn(ctx context.Context, op string) (probe bool, _ *Error) {
	if err := ctx.Err(); err != nil {
		return false, contextError(op, err, false)
	}
	g := c.gate
	var a admission
	for {
		g.mu.Lock()
		a = g.throttle(time.Now(), true)
		g.mu.Unlock()
		if a.wait == 0 {
			break
		}
		if !c.f.opts.RetryThrottled || a.wait > c.f.opts.MaxRetryWait {
			return false, &Error{Op: op, Class: ClassThrottled, RetryAfter: a.wait, NotSent: true, Message: a.reason}
		}
		if !sleep(ctx, a.wait) {
			return false, contextError(op, ctx.Err(), false)
		}
	}
	giveUp := func(e *Error) (bool, *Error) {
		g.answered(a.probe, false, false, 0, time.Now())
		e.NotSent = true
		return false, e
	}
	if !c.admitted.CompareAndSwap(true, false) {
		// Not booked: the request takes its token now, so that the turns
		// booked later are later, but never queues behind the booked
		// ones; a read that a booked create waits for must not wait for
		// that create's turn.
		g.take(time.Now())
	}
	maxWait := c.f.opts.MaxRetryWait
	if dl, ok := ctx.Deadline(); ok {
		maxWait = min(maxWait, time.Until(dl))
	}
	d, ok := g.send(time.Now(), maxWait)
	if !ok {
		return giveUp(&Error{Op: op, Class: ClassThrottled, RetryAfter: d,
			Message: "client-side rate limit: too many requests queued for this account"})
	}
	if d > 0 && !sleep(ctx, d) {
		return giveUp(contextError(op, ctx.Err(), false))
	}
	if d > 0 && !a.probe {
		// A 429 may have come while this request waited for its slot.
		g.mu.Lock()
		closed, wait := g.throttled, time.Until(g.notBefore)
		g.mu.Unlock()
		if closed {
			return giveUp(&Error{Op: op, Class: ClassThrottled, RetryAfter: max(wait, probeInterval),
				Message: "the API answered 429 Too Many Requests for this account while this request waited for its turn"})
		}
	}
	return a.probe, nil
}

// retryAfterOf is e's RetryAfter, 0 for nil.
func retryAfterOf(e *Error) time.Duration {
	if e == nil {
		return 0
	}
	return e.RetryAfter
}

func contextError(op string, err error, ambiguous bool) *Error {
	return &Error{Op: op, Class: ClassUnavailable, Message: "gave up", Err: err, Ambiguous: ambiguous, callerDone: true}
}

// attempt makes one HTTP exchange and turns its outcome into nil or an
// *Error.
func (c *Client) attempt(ctx context.Context, req request) *Error {
	opts := c.f.opts
	actx, cancel := context.WithTimeout(ctx, opts.RequestTimeout)
	defer cancel()
	// Whether the whole request went out decides whether a failed create is
	// ambiguous: before that, the server cannot have applied it.
	var wrote atomic.Bool
	actx = httptrace.WithClientTrace(actx, &httptrace.ClientTrace{
		WroteRequest: func(info httptrace.WroteRequestInfo) {
			if info.Err == nil {
				wrote.Store(true)
			}
		},
	})
	target := c.base + req.path
	if len(req.query) > 0 {
		target += "?" + req.query.Encode()
	}
	var body io.Reader
	if req.body != nil {
		body = bytes.NewReader(req.body)
	}
	hreq, err := http.NewRequestWithContext(actx, req.method, target, body)
	if err != nil {
		return &Error{Op: req.op, Class: ClassInvalid, Message: "could not build the request", Err: err}
	}
	hreq.Header.Set("User-Agent", c.f.userAgent)
	hreq.Header.Set("Accept", "application/json")
	if req.body != nil {
		hreq.Header.Set("Content-Type", "application/json")
	}
	hreq.SetBasicAuth(c.creds.Username, c.creds.Password)

	start := time.Now()
	resp, err := c.f.http.Do(hreq)
	if err != nil {
		c.observe(req, 0, time.Since(start))
		ambiguous := !req.idempotent && wrote.Load()
		if ctx.Err() != nil {
			return contextError(req.op, ctx.Err(), ambiguous)
		}
		return &Error{Op: req.op, Class: ClassUnavailable, Message: req.method + " " + req.route + " failed",
			Err: stripURL(err), Ambiguous: ambiguous}
	}
	defer func() { _ = resp.Body.Close() }()
	limit := req.maxBody
	if limit <= 0 {
		limit = MaxBodyBytes
	}
	data, readErr := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	c.observe(req, resp.StatusCode, time.Since(start))

	status, ctype := resp.StatusCode, resp.Header.Get("Content-Type")
	if status < 200 || status > 299 {
		e := &Error{Op: req.op, StatusCode: status, Class: classify(status), ContentType: ctype}
		e.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
		if readErr == nil && int64(len(data)) <= limit {
			decodeErrorBody(e, data, c.secretsOf(req))
		}
		// A 5xx may come from a gateway after the backend applied the
		// request; only a 429 is documented as never processed.
		e.Ambiguous = !req.idempotent && e.Class == ClassUnavailable
		return e
	}
	// From here on the server accepted the request: a create has happened,
	// so any failure to read the answer leaves its id unknown.
	switch {
	case readErr != nil:
		if ctx.Err() != nil {
			return contextError(req.op, ctx.Err(), !req.idempotent)
		}
		return &Error{Op: req.op, StatusCode: status, Class: ClassUnavailable, ContentType: ctype,
			Message: "answer cut off", Err: stripURL(readErr), Ambiguous: !req.idempotent}
	case int64(len(data)) > limit:
		return malformed(req, status, ctype, fmt.Errorf("body larger than %d bytes", limit), data, c.secretsOf(req))
	case req.decode == nil:
		return nil
	}
	if err := req.decode(data); err != nil {
		var mismatch *Error
		if errors.As(err, &mismatch) {
			mismatch.Op = req.op
			return mismatch
		}
		return malformed(req, status, ctype, err, data, c.secretsOf(req))
	}
	return nil
}

// secretsOf lists what must never be quoted back from an answer to req:
// the request's own secrets and the client's password.
func (c *Client) secretsOf(req request) []string {
	return append(slices.Clone(req.secrets), c.creds.Password)
}

// verify checks that a configuration the API answered lives in the
// account the credentials claim. An API key authenticates as the account
// it belongs to, so a Secret pairing one account's SID with another's key
// is caught here, before anything is written in the wrong account.
func (c *Client) verify(cfg *Configuration) error {
	if cfg.AccountSID != c.creds.AccountSID {
		account := sanitize(cfg.AccountSID, 64)
		c.gate.elsewhere.Store(&account)
		return &Error{Class: ClassAccountMismatch, Account: cfg.AccountSID, ID: cfg.ID,
			Message: fmt.Sprintf("the API answered for account %s, not %s as the credentials claim", sanitize(cfg.AccountSID, 64), c.creds.AccountSID)}
	}
	c.gate.reached.Store(true)
	// The same string, shared: a caller that keeps thousands of
	// configurations (a List snapshot) keeps one copy of it, not one each.
	cfg.AccountSID = c.creds.AccountSID
	switch cfg.CallNotification.Method {
	case http.MethodGet:
		cfg.CallNotification.Method = http.MethodGet
	case http.MethodPost:
		cfg.CallNotification.Method = http.MethodPost
	}
	return nil
}

func (c *Client) observe(req request, status int, d time.Duration) {
	if obs := c.f.opts.Observer; obs != nil {
		obs(req.method, req.route, status, d)
	}
}

// malformed builds a readable error for an answer that cannot be decoded,
// quoting only its first bytes, scrubbed of secrets.
func malformed(req request, status int, ctype string, cause error, data []byte, secrets []string) *Error {
	const snippet = 64
	head := data[:min(len(data), snippet)]
	if len(data) > 0 {
		cause = fmt.Errorf("%w; body starts %q", cause, scrub(sanitize(string(head), snippet), secrets))
	}
	if mt, _, err := mime.ParseMediaType(ctype); err == nil {
		ctype = mt
	} else {
		ctype = sanitize(ctype, 64)
	}
	return &Error{Op: req.op, StatusCode: status, Class: ClassMalformed, ContentType: ctype, Err: cause,
		Ambiguous: !req.idempotent}
}

// stripURL drops the request URL that net/http puts in its errors: it is
// noise in a condition message, and an override base URL is the one place
// a careless user could have put credentials.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// parseRetryAfter reads Retry-After as seconds or an HTTP date; 0 when
// absent or unreadable, capped at maxRetryAfter.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > int64(maxRetryAfter/time.Second) {
			return maxRetryAfter
		}
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), maxRetryAfter)
}
