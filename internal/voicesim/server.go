package voicesim

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Route templates, the keys of the call counters (prefixed by the method,
// as in "POST /v2/Configurations/Client").
const (
	// RouteCollection lists and creates configurations.
	RouteCollection = "/v2/Configurations/Client"
	// RouteInstance reads, replaces and deletes one configuration by id or
	// unique name.
	RouteInstance = "/v2/Configurations/Client/{id}"
	// RouteDefault reads, sets and unsets the account's default.
	RouteDefault = "/v2/Configurations/Client/Default"
	// RouteOther counts requests to any path the API does not have.
	RouteOther = "other"
)

// Values of the API that several handlers use.
const (
	// configurationType is the only configurationType the API accepts.
	configurationType = "Client"
	// defaultMethod is the webhook method when a request gives none.
	defaultMethod = http.MethodPost
	schemeHTTP    = "http"
	schemeHTTPS   = "https"
)

const (
	// maxRequestBody caps what the simulator reads of a request; a real API
	// gateway refuses larger bodies too.
	maxRequestBody  = 64 << 10
	defaultPageSize = 50
	// timeLayout is ISO 8601 in UTC with milliseconds, so two changes within
	// one second still get different date_updated values.
	timeLayout = "2006-01-02T15:04:05.000Z"
)

// Server is the simulator: an http.Handler serving the Voice v2 Client
// Configurations API and the /_sim/ admin surface. Create it with New; all
// methods are safe for concurrent use.
type Server struct {
	opts atomic.Pointer[Options]

	mu       sync.Mutex
	accounts map[string]*account
	keys     map[string]apiKey

	faultsMu sync.Mutex
	faults   Faults
	rng      randSource

	countMu     sync.Mutex
	calls       map[string]int
	faultCounts map[string]int

	adminOnce sync.Once
	admin     *http.ServeMux

	// now is the clock, truncated to the milliseconds the API shows, so a
	// Record's dates equal what a client decodes.
	now func() time.Time
}

// apiKey is an API key (SK...) and the account it belongs to.
type apiKey struct {
	account string
	secret  string
}

// New returns an empty simulator with no accounts and no faults, answering
// in the shape opts describe (Options{} is the reference's exact shape).
func New(opts Options) *Server {
	s := &Server{
		accounts:    map[string]*account{},
		keys:        map[string]apiKey{},
		calls:       map[string]int{},
		faultCounts: map[string]int{},
		now:         func() time.Time { return time.Now().UTC().Truncate(time.Millisecond) },
	}
	s.SetOptions(opts)
	s.SetFaults(Faults{})
	return s
}

// SetOptions changes the shape the simulator answers in; it is safe to call
// while requests are in flight.
func (s *Server) SetOptions(opts Options) {
	o := opts.withDefaults()
	s.opts.Store(&o)
}

// Options returns the shape the simulator answers in.
func (s *Server) Options() Options { return *s.opts.Load() }

// AddAccount registers an account that authenticates with its SID and auth
// token. Calling it again for the same SID replaces the token (a rotation)
// and keeps the account's configurations.
func (s *Server) AddAccount(accountSID, authToken string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.accounts[accountSID]; a != nil {
		a.token = authToken
		return
	}
	s.accounts[accountSID] = newAccount(accountSID, authToken)
}

// AddAPIKey registers an API key (SK...) with its secret for an account,
// registering the account (without a usable auth token) if it is new.
func (s *Server) AddAPIKey(accountSID, keySID, secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.accounts[accountSID] == nil {
		s.accounts[accountSID] = newAccount(accountSID, "")
	}
	s.keys[keySID] = apiKey{account: accountSID, secret: secret}
}

// DenyAPI takes the account's access to the API away: its credentials
// still authenticate, and every request answers status (403, code 20403;
// or 404, code 20404, as if the API did not exist), as an account Twilio
// has not enabled for the Private Beta might be answered. The reference
// shows neither, so only tests that ask for it see it. 0 gives access back.
func (s *Server) DenyAPI(accountSID string, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.accounts[accountSID]; a != nil {
		a.denied = status
	}
}

// ThrottleAccount makes every request of the account answer 429 (code
// 20429) with Retry-After: retryAfter, as Twilio answers an account over
// its rate limit; 0 lifts it. The reference documents no rate limit, so
// only tests that ask for it see it. ThrottledAnswers returns when each
// such answer was sent.
func (s *Server) ThrottleAccount(accountSID string, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.accounts[accountSID]; a != nil {
		a.throttle = retryAfter
	}
}

// ThrottledAnswers returns the times of the 429s ThrottleAccount made the
// account answer.
func (s *Server) ThrottledAnswers(accountSID string) []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.accounts[accountSID]; a != nil {
		return slices.Clone(a.throttled)
	}
	return nil
}

// Arrivals returns when each authenticated request of the account
// arrived, in order: what a server-side rate limit would count. It is a
// measurement, not a behaviour; ResetCalls clears it.
func (s *Server) Arrivals(accountSID string) []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.accounts[accountSID]; a != nil {
		return slices.Clone(a.arrivals)
	}
	return nil
}

// throttledFor records the request's arrival, and reports the account's
// Retry-After if ThrottleAccount throttles it (recording that answer).
func (s *Server) throttledFor(a *account) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	a.arrivals = append(a.arrivals, time.Now())
	if a.throttle > 0 {
		a.throttled = append(a.throttled, time.Now())
	}
	return a.throttle
}

// ServeHTTP serves the API and, under /_sim/, the admin surface.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/_sim" || strings.HasPrefix(r.URL.Path, "/_sim/") {
		s.serveAdmin(w, r)
		return
	}
	route, key := matchRoute(r.URL.EscapedPath())
	s.countCall(r.Method, route)
	// The body is read before anything else, as a gateway would buffer it;
	// it also lets net/http notice a client that gives up during the
	// injected latency, which it only watches for once the body is consumed.
	body, errResp := readBody(r)

	pre := s.drawPre()
	if pre.delay > 0 {
		t := time.NewTimer(pre.delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	switch pre.status {
	case http.StatusServiceUnavailable:
		s.countFault(FaultUnavailable)
		setRetryAfter(w, pre.retry)
		s.write(w, apiError(http.StatusServiceUnavailable, 20503, "Service Unavailable"))
		return
	case http.StatusTooManyRequests:
		s.countFault(FaultThrottled)
		setRetryAfter(w, pre.retry)
		s.write(w, apiError(http.StatusTooManyRequests, 20429, "Too Many Requests"))
		return
	}

	acct := s.authenticate(r)
	if acct == nil {
		w.Header().Set("WWW-Authenticate", `Basic realm="Twilio API"`)
		s.write(w, apiError(http.StatusUnauthorized, 20003, "Authenticate"))
		return
	}
	if retry := s.throttledFor(acct); retry > 0 {
		setRetryAfter(w, retry)
		s.write(w, apiError(http.StatusTooManyRequests, 20429, "Too Many Requests"))
		return
	}
	if denied := s.deniedStatus(acct); denied != 0 {
		if denied == http.StatusNotFound {
			s.write(w, apiError(http.StatusNotFound, 20404, "The requested resource was not found"))
		} else {
			s.write(w, apiError(denied, 20000+denied, http.StatusText(denied)))
		}
		return
	}
	resp := errResp
	if resp == nil {
		ok := s.handle(acct, r, route, key, body)
		resp = &ok
	}
	s.finish(w, r, route, *resp)
}

// setRetryAfter writes whole seconds, rounded up, as HTTP requires.
func setRetryAfter(w http.ResponseWriter, d time.Duration) {
	if d > 0 {
		w.Header().Set("Retry-After", strconv.FormatInt(int64(math.Ceil(d.Seconds())), 10))
	}
}

// matchRoute maps an escaped path to its route template and, for
// RouteInstance, the unescaped {id} segment. Matching on the escaped path
// keeps "a%2Fb" one segment, as a real router does.
func matchRoute(escaped string) (route, key string) {
	rest, ok := strings.CutPrefix(escaped, RouteCollection)
	switch {
	case !ok:
		return RouteOther, ""
	case rest == "":
		return RouteCollection, ""
	case rest == "/Default":
		return RouteDefault, ""
	}
	seg, ok := strings.CutPrefix(rest, "/")
	if !ok || seg == "" || strings.Contains(seg, "/") {
		return RouteOther, ""
	}
	key, err := url.PathUnescape(seg)
	if err != nil || key == "" {
		return RouteOther, ""
	}
	return RouteInstance, key
}

// authenticate returns the account the Basic credentials belong to, or nil.
// Either the account SID with its auth token or an API key with its secret
// is accepted, as Twilio does.
func (s *Server) authenticate(r *http.Request) *account {
	user, pass, ok := r.BasicAuth()
	if !ok {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.accounts[user]; a != nil && a.token != "" && equal(a.token, pass) {
		return a
	}
	if k, ok := s.keys[user]; ok && equal(k.secret, pass) {
		return s.accounts[k.account]
	}
	return nil
}

// deniedStatus is the status DenyAPI set for the account, 0 if none.
func (s *Server) deniedStatus(a *account) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return a.denied
}

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// response is an answer not yet written, so faults can act after the
// request was processed.
type response struct {
	status int
	body   []byte // JSON, nil for no content
	allow  string // Allow header for 405
}

// apiError builds a Twilio-style error answer.
func apiError(status, code int, message string) response {
	b, _ := json.Marshal(struct {
		Code     int    `json:"code"`
		Message  string `json:"message"`
		MoreInfo string `json:"more_info"`
		Status   int    `json:"status"`
	}{code, message, fmt.Sprintf("https://www.twilio.com/docs/errors/%d", code), status})
	return response{status: status, body: b}
}

func jsonResponse(status int, v any) response {
	b, err := json.Marshal(v)
	if err != nil {
		return apiError(http.StatusInternalServerError, 20500, "Internal Server Error")
	}
	return response{status: status, body: b}
}

func (s *Server) write(w http.ResponseWriter, resp response) {
	if resp.allow != "" {
		w.Header().Set("Allow", resp.allow)
	}
	if resp.body == nil {
		w.WriteHeader(resp.status)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(resp.status)
	_, _ = w.Write(resp.body)
}

// finish writes the answer, unless a fault that acts after processing (a
// lost answer, a garbled answer) fires.
func (s *Server) finish(w http.ResponseWriter, r *http.Request, route string, resp response) {
	switch {
	case route == RouteCollection && r.Method == http.MethodPost && resp.status == http.StatusCreated &&
		s.draw(func(f Faults) float64 { return f.LostCreate }):
		s.countFault(FaultLostCreate)
		drop(w)
		return
	case route == RouteInstance && r.Method == http.MethodDelete && resp.status == http.StatusNoContent &&
		s.draw(func(f Faults) float64 { return f.LostDelete }):
		s.countFault(FaultLostDelete)
		drop(w)
		return
	}
	if resp.status/100 == 2 && resp.body != nil {
		if kind := s.drawMalformed(); kind != "" {
			s.countFault("malformed-" + string(kind))
			ct, body := garble(kind, resp.body)
			w.Header().Set("Content-Type", ct)
			w.WriteHeader(resp.status)
			_, _ = w.Write(body)
			return
		}
	}
	s.write(w, resp)
}

// drop closes the connection without an answer. With HTTP/1 it hijacks and
// closes the connection; otherwise it uses net/http's documented way of
// aborting a response, which the server recovers from silently.
func drop(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			_ = conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}

// handle runs one authenticated API call against the account.
func (s *Server) handle(a *account, r *http.Request, route, key string, body []byte) response {
	switch route {
	case RouteCollection:
		switch r.Method {
		case http.MethodGet:
			return s.list(a, r)
		case http.MethodPost:
			return s.create(a, r, body)
		}
		return methodNotAllowed("GET, POST")
	case RouteInstance:
		switch r.Method {
		case http.MethodGet:
			return s.get(a, r, key)
		case http.MethodPut:
			return s.put(a, r, key, body)
		case http.MethodDelete:
			return s.delete(a, key)
		}
		return methodNotAllowed("GET, PUT, DELETE")
	case RouteDefault:
		switch r.Method {
		case http.MethodGet:
			return s.getDefault(a, r)
		case http.MethodPost:
			return s.setDefault(a, body)
		case http.MethodDelete:
			return s.unsetDefault(a)
		}
		return methodNotAllowed("GET, POST, DELETE")
	}
	return apiError(http.StatusNotFound, 20404, "The requested resource was not found")
}

func methodNotAllowed(allow string) response {
	resp := apiError(http.StatusMethodNotAllowed, 20004, "Method not allowed")
	resp.allow = allow
	return resp
}

func notFound(what string) response {
	return apiError(http.StatusNotFound, 20404, fmt.Sprintf("The requested resource %s was not found", what))
}

// wireConfiguration is a configuration as the API answers it: the
// reference's five fields, plus the extras Options turn on.
type wireConfiguration struct {
	AccountSID    string          `json:"account_sid"`
	Configuration wireConfigBlock `json:"configuration"`
	Description   *string         `json:"description"`
	UniqueName    string          `json:"unique_name"`
	ID            string          `json:"id"`
	DateCreated   string          `json:"date_created,omitempty"`
	DateUpdated   string          `json:"date_updated,omitempty"`
	URL           string          `json:"url,omitempty"`
}

type wireConfigBlock struct {
	ConfigurationType string           `json:"configurationType"`
	CallNotification  wireNotification `json:"callnotification"`
}

type wireNotification struct {
	Method string `json:"method"`
	URL    string `json:"url"`
}

func (s *Server) toWire(r *http.Request, rec Record) wireConfiguration {
	w := wireConfiguration{
		AccountSID: rec.AccountSID,
		Configuration: wireConfigBlock{
			ConfigurationType: rec.ConfigurationType,
			CallNotification:  wireNotification{Method: rec.CallNotificationMethod, URL: rec.CallNotificationURL},
		},
		Description: rec.Description,
		UniqueName:  rec.UniqueName,
		ID:          rec.ID,
	}
	if s.Options().Dates {
		w.DateCreated = rec.DateCreated.UTC().Format(timeLayout)
		w.DateUpdated = rec.DateUpdated.UTC().Format(timeLayout)
	}
	if s.Options().SelfURL {
		scheme := schemeHTTP
		if r.TLS != nil {
			scheme = schemeHTTPS
		}
		w.URL = scheme + "://" + r.Host + RouteCollection + "/" + url.PathEscape(rec.ID)
	}
	return w
}

// input is the body of a create or a full-replace PUT. Pointers tell an
// absent field from an empty one.
type input struct {
	UniqueName    *string `json:"unique_name"`
	Description   *string `json:"description"`
	Configuration *struct {
		ConfigurationType *string `json:"configurationType"`
		CallNotification  *struct {
			URL    *string `json:"url"`
			Method *string `json:"method"`
		} `json:"callnotification"`
	} `json:"configuration"`
}

// readBody reads at most maxRequestBody bytes of the request body.
func readBody(r *http.Request) ([]byte, *response) {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody+1))
	if err != nil {
		resp := apiError(http.StatusBadRequest, 20001, "Could not read the request body")
		return nil, &resp
	}
	if len(b) > maxRequestBody {
		resp := apiError(http.StatusRequestEntityTooLarge, 20001, "Request body too large")
		return nil, &resp
	}
	return b, nil
}

// decodeInput validates a create or PUT body by the reference's rules and
// returns the record it describes (without id or dates).
func (s *Server) decodeInput(body []byte) (Record, *response) {
	bad := func(code int, msg string) (Record, *response) {
		resp := apiError(http.StatusBadRequest, code, msg)
		return Record{}, &resp
	}
	var in input
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&in); err != nil {
		return bad(20001, "Invalid JSON body")
	}
	if _, err := dec.Token(); err != io.EOF {
		return bad(20001, "Invalid JSON body: trailing data")
	}
	if in.UniqueName == nil || *in.UniqueName == "" {
		return bad(20001, "Missing required parameter unique_name")
	}
	if err := validUniqueName(*in.UniqueName); err != nil {
		return bad(20001, "unique_name cannot contain spaces")
	}
	if in.Configuration == nil {
		return bad(20001, "Missing required parameter configuration")
	}
	if t := in.Configuration.ConfigurationType; t == nil || *t != configurationType {
		return bad(20001, "configuration.configurationType must be Client")
	}
	cn := in.Configuration.CallNotification
	if cn == nil || cn.URL == nil || *cn.URL == "" {
		return bad(20001, "Missing required parameter configuration.callnotification.url")
	}
	// Credentials in the URL (https://user:pass@host/...) are how Twilio
	// takes HTTP basic auth for webhooks, so they are accepted and stored.
	// EchoURLInErrors quotes the URL as it came, credentials and all.
	quoted := ""
	if s.Options().EchoURLInErrors {
		quoted = fmt.Sprintf(" (got %q)", *cn.URL)
	}
	u, err := url.Parse(*cn.URL)
	if err != nil || (u.Scheme != schemeHTTP && u.Scheme != schemeHTTPS) || u.Host == "" {
		return bad(20001, "configuration.callnotification.url must be an absolute http or https URL"+quoted)
	}
	if strings.Contains(u.Hostname(), "_") {
		return bad(13806, "configuration.callnotification.url host must not contain underscores"+quoted)
	}
	stored := *cn.URL
	if s.Options().NormalizeURLs {
		stored = normalizeURL(stored)
	}
	// An omitted method is POST, the webhook default Twilio uses elsewhere.
	method := defaultMethod
	if cn.Method != nil && *cn.Method != "" {
		method = *cn.Method
	}
	if method != "GET" && method != "POST" {
		return bad(20001, "configuration.callnotification.method must be GET or POST")
	}
	return Record{
		UniqueName:             *in.UniqueName,
		Description:            in.Description,
		ConfigurationType:      configurationType,
		CallNotificationURL:    stored,
		CallNotificationMethod: method,
	}, nil
}

// newID returns voice_clientconfiguration_ and 32 lowercase hex digits.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "voice_clientconfiguration_" + hex.EncodeToString(b[:])
}

func (s *Server) create(a *account, r *http.Request, body []byte) response {
	rec, errResp := s.decodeInput(body)
	if errResp != nil {
		return *errResp
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	rec.ID, rec.AccountSID, rec.DateCreated, rec.DateUpdated = newID(), a.sid, now, now
	st, err := a.insert(rec)
	if err != nil {
		return s.duplicate(rec)
	}
	return jsonResponse(http.StatusCreated, s.toWire(r, st.Record))
}

func (s *Server) get(a *account, r *http.Request, key string) response {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.lookup(a, key)
	if st == nil {
		return notFound(RouteCollection + "/" + url.PathEscape(key))
	}
	return jsonResponse(http.StatusOK, s.toWire(r, st.Record))
}

func (s *Server) put(a *account, r *http.Request, key string, body []byte) response {
	s.mu.Lock()
	defer s.mu.Unlock()
	// Not-found is checked before the body so a PUT to a deleted id says so
	// whatever it carries.
	st := s.lookup(a, key)
	if st == nil {
		return notFound(RouteCollection + "/" + url.PathEscape(key))
	}
	rec, errResp := s.decodeInput(body)
	if errResp != nil {
		return *errResp
	}
	rec.DateUpdated = s.now()
	if err := a.replace(st, rec); err != nil {
		return s.duplicate(rec)
	}
	return jsonResponse(http.StatusOK, s.toWire(r, st.Record))
}

func (s *Server) delete(a *account, key string) response {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.lookup(a, key)
	if st == nil {
		return notFound(RouteCollection + "/" + url.PathEscape(key))
	}
	if a.def == st.ID && s.Options().DeleteDefault == DeleteDefaultRefused {
		return apiError(http.StatusBadRequest, 20001, "The configuration is the account's default client configuration; unset the default before deleting it")
	}
	a.remove(st)
	return response{status: http.StatusNoContent}
}

// lookup finds the configuration a path segment names: by id, and by unique
// name only with NameInPath.
func (s *Server) lookup(a *account, key string) *stored {
	if st := a.byID[key]; st != nil || !s.Options().NameInPath {
		return st
	}
	return a.byName[key]
}

// duplicate is the answer to a create or PUT of rec onto a unique name
// already in use.
func (s *Server) duplicate(rec Record) response {
	echo := ""
	if s.Options().EchoURLInErrors {
		echo = fmt.Sprintf(" (request url %q)", rec.CallNotificationURL)
	}
	if s.Options().DuplicateStatus == http.StatusConflict {
		return apiError(http.StatusConflict, 20409, "A configuration with this unique_name already exists"+echo)
	}
	return apiError(http.StatusBadRequest, 20001, "unique_name must be unique within the account"+echo)
}

// wirePage is the list answer: the reference's content + meta shape.
type wirePage struct {
	Content []wireConfiguration `json:"content"`
	Meta    wireMeta            `json:"meta"`
}

type wireMeta struct {
	DirectToken   bool    `json:"direct_token"`
	ListKey       string  `json:"list_key"`
	NextToken     *string `json:"next_token"`
	PageSize      int     `json:"page_size"`
	PreviousToken *string `json:"previous_token"`
}

// queryParam returns the first non-empty value among the spellings: the
// reference writes pageSize, Twilio's SDKs send PageSize.
func queryParam(q url.Values, names ...string) string {
	for _, n := range names {
		if v := q.Get(n); v != "" {
			return v
		}
	}
	return ""
}

func (s *Server) list(a *account, r *http.Request) response {
	q := r.URL.Query()
	size := min(defaultPageSize, s.Options().MaxPageSize)
	if v := queryParam(q, "pageSize", "PageSize"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return apiError(http.StatusBadRequest, 20001, "pageSize must be a positive integer")
		}
		if n > s.Options().MaxPageSize && !s.Options().ClampPageSize {
			return apiError(http.StatusBadRequest, 20001, fmt.Sprintf("pageSize must be at most %d", s.Options().MaxPageSize))
		}
		size = min(n, s.Options().MaxPageSize)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	items, next, prev, err := a.page(size, queryParam(q, "pageToken", "PageToken"))
	if err != nil {
		return apiError(http.StatusBadRequest, 20001, "Invalid pageToken")
	}
	page := wirePage{
		Content: make([]wireConfiguration, 0, len(items)),
		Meta:    wireMeta{DirectToken: true, ListKey: "content", PageSize: size},
	}
	for _, st := range items {
		page.Content = append(page.Content, s.toWire(r, st.Record))
	}
	if next != "" {
		page.Meta.NextToken = &next
	}
	if prev != "" {
		page.Meta.PreviousToken = &prev
	}
	return jsonResponse(http.StatusOK, page)
}

func (s *Server) getDefault(a *account, r *http.Request) response {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := a.byID[a.def]
	if a.def == "" || st == nil {
		switch s.Options().NoDefault {
		case NoDefaultEmpty:
			return response{status: http.StatusOK, body: []byte{}}
		case NoDefaultNull:
			return response{status: http.StatusOK, body: []byte("null")}
		}
		return apiError(http.StatusNotFound, 20404, "No default client configuration is set for this account")
	}
	return jsonResponse(http.StatusOK, s.toWire(r, st.Record))
}

func (s *Server) setDefault(a *account, body []byte) response {
	var in struct {
		ConfigurationID *string `json:"configuration_id"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return apiError(http.StatusBadRequest, 20001, "Invalid JSON body")
	}
	if in.ConfigurationID == nil || *in.ConfigurationID == "" {
		return apiError(http.StatusBadRequest, 20001, "Missing required parameter configuration_id")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := a.byID[*in.ConfigurationID]
	if st == nil {
		return notFound(RouteCollection + "/" + url.PathEscape(*in.ConfigurationID))
	}
	a.def = st.ID
	return response{status: http.StatusNoContent}
}

func (s *Server) unsetDefault(a *account) response {
	s.mu.Lock()
	defer s.mu.Unlock()
	a.def = ""
	return response{status: http.StatusNoContent}
}

func (s *Server) countCall(method, route string) {
	// Methods are bounded to the ones net/http can parse, but a fuzzer or a
	// hostile client can still send anything; fold the unusual ones so the
	// counter map cannot grow without bound.
	switch method {
	case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch, http.MethodHead, http.MethodOptions:
	default:
		method = "OTHER"
	}
	s.countMu.Lock()
	defer s.countMu.Unlock()
	s.calls[method+" "+route]++
}

func (s *Server) countFault(kind string) {
	s.countMu.Lock()
	defer s.countMu.Unlock()
	s.faultCounts[kind]++
}
