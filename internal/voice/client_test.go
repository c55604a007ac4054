package voice_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/twilio-operator/voice-operator/internal/voice"
	"github.com/twilio-operator/voice-operator/internal/voicesim"
)

// TestCRUD exercises every endpoint once, against the reference's exact
// shape and against the extended one: fields beyond the reference (dates,
// links) change nothing the client returns.
func TestCRUD(t *testing.T) {
	for name, shape := range map[string]voicesim.Options{voicesim.ShapeReference: {}, voicesim.ShapeExtended: voicesim.Extended()} {
		t.Run(name, func(t *testing.T) { testCRUD(t, shape) })
	}
}

func testCRUD(t *testing.T, shape voicesim.Options) {
	e := newEnv(t, withShape(shape))
	c := ctx(t)
	created := e.mustCreate("my_webhook")
	want := &voice.Configuration{
		ID: created.ID, AccountSID: acctA, UniqueName: "my_webhook", Description: ptr("desc of my_webhook"),
		CallNotification: voice.CallNotification{URL: "https://example.com/my_webhook", Method: "POST"},
	}
	if shape.NormalizeURLs {
		want.CallNotification.URL = "https://example.com/my_webhook" // already canonical
	}
	if diff := cmp.Diff(want, created); diff != "" {
		t.Errorf("create (-want +got):\n%s", diff)
	}
	got, err := e.a.Get(c, created.ID)
	if err != nil {
		t.Fatalf("get %s: %v", created.ID, err)
	}
	if diff := cmp.Diff(created, got); diff != "" {
		t.Errorf("get (-want +got):\n%s", diff)
	}

	upd := voice.ConfigurationInput{UniqueName: "renamed", CallNotification: voice.CallNotification{URL: "https://example.com/new", Method: "GET"}}
	updated, err := e.a.Update(c, created.ID, upd)
	if err != nil {
		t.Fatal(err)
	}
	want = &voice.Configuration{ID: created.ID, AccountSID: acctA, UniqueName: "renamed",
		CallNotification: voice.CallNotification{URL: "https://example.com/new", Method: "GET"}}
	if diff := cmp.Diff(want, updated); diff != "" {
		t.Errorf("update (-want +got):\n%s", diff)
	}

	if err := e.a.SetDefault(c, created.ID); err != nil {
		t.Fatal(err)
	}
	def, err := e.a.GetDefault(c)
	if err != nil || def.ID != created.ID {
		t.Fatalf("get default = %v, %v", def, err)
	}
	if err := e.a.UnsetDefault(c); err != nil {
		t.Fatal(err)
	}
	if _, err := e.a.GetDefault(c); !voice.IsNotFound(err) {
		t.Errorf("get default after unset: %v, want NotFound", err)
	}
	if err := e.a.SetDefault(c, created.ID); err != nil {
		t.Fatal(err)
	}
	// The reference does not say what deleting the default does; the
	// shapes answer it both ways.
	deleteStatus := 204
	if shape.DeleteDefault == voicesim.DeleteDefaultRefused {
		deleteStatus = 400
		if err := e.a.Delete(c, created.ID); voice.ClassOf(err) != voice.ClassInvalid {
			t.Fatalf("deleting the default: %v, want Invalid", err)
		}
		if err := e.a.UnsetDefault(c); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.a.Delete(c, created.ID); err != nil {
		t.Fatal(err)
	}
	if e.sim.Default(acctA) != "" {
		t.Errorf("deleting the default configuration left the default set")
	}
	if err := e.a.Delete(c, created.ID); !voice.IsNotFound(err) {
		t.Errorf("second delete: %v, want NotFound", err)
	}
	if _, err := e.a.Get(c, created.ID); !voice.IsNotFound(err) {
		t.Errorf("get after delete: %v, want NotFound", err)
	}

	noDefault := 404
	if shape.NoDefault != voicesim.NoDefaultNotFound {
		noDefault = 200
	}
	wantRoutes := []attempt{
		{"POST", voice.RouteCollection, 201}, {"GET", voice.RouteInstance, 200},
		{"PUT", voice.RouteInstance, 200}, {"POST", voice.RouteDefault, 204}, {"GET", voice.RouteDefault, 200},
		{"DELETE", voice.RouteDefault, 204}, {"GET", voice.RouteDefault, noDefault}, {"POST", voice.RouteDefault, 204},
	}
	if deleteStatus == 400 {
		wantRoutes = append(wantRoutes, attempt{"DELETE", voice.RouteInstance, 400}, attempt{"DELETE", voice.RouteDefault, 204})
	}
	wantRoutes = append(wantRoutes, attempt{"DELETE", voice.RouteInstance, 204}, attempt{"DELETE", voice.RouteInstance, 404}, attempt{"GET", voice.RouteInstance, 404})
	if diff := cmp.Diff(wantRoutes, e.seen(), cmp.AllowUnexported(attempt{})); diff != "" {
		t.Errorf("observed attempts (-want +got):\n%s", diff)
	}
}

// TestWireFormat checks what goes over the wire: the full-replace body,
// Basic auth, User-Agent, Accept and Content-Type.
func TestWireFormat(t *testing.T) {
	type seenReq struct {
		method, path, user, pass, ua, accept, ctype string
		body                                        map[string]any
	}
	var mu sync.Mutex
	var reqs []seenReq
	record := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(strings.NewReader(string(b)))
			var m map[string]any
			_ = json.Unmarshal(b, &m)
			u, p, _ := r.BasicAuth()
			mu.Lock()
			reqs = append(reqs, seenReq{r.Method, r.URL.EscapedPath(), u, p, r.UserAgent(), r.Header.Get("Accept"), r.Header.Get("Content-Type"), m})
			mu.Unlock()
			next.ServeHTTP(w, r)
		})
	}
	e := newEnv(t, withMiddleware(record))
	c := ctx(t)
	created := e.mustCreate("wire")
	keyClient := e.client(credsAKey)
	if _, err := keyClient.Update(c, created.ID, voice.ConfigurationInput{UniqueName: "wire",
		CallNotification: voice.CallNotification{URL: "https://example.com/u", Method: "POST"}}); err != nil {
		t.Fatal(err)
	}
	if err := keyClient.SetDefault(c, created.ID); err != nil {
		t.Fatal(err)
	}
	uaPattern := regexp.MustCompile(`^voice-operator/1\.2\.3 \(` + runtime.GOOS + ` ` + runtime.GOARCH + `\) go/go\d`)
	for _, r := range reqs {
		if !uaPattern.MatchString(r.ua) {
			t.Errorf("User-Agent %q", r.ua)
		}
		if r.accept != "application/json" {
			t.Errorf("Accept %q", r.accept)
		}
	}
	want := []seenReq{
		{method: "POST", path: voice.RouteCollection, user: acctA, pass: tokenA, ctype: "application/json", body: map[string]any{
			"unique_name": "wire", "description": "desc of wire",
			"configuration": map[string]any{"configurationType": "Client", "callnotification": map[string]any{"url": "https://example.com/wire", "method": "POST"}},
		}},
		// The PUT sends every field: description null, configurationType Client.
		{method: "PUT", path: voice.RouteCollection + "/" + created.ID, user: keyA, pass: secretA, ctype: "application/json", body: map[string]any{
			"unique_name": "wire", "description": nil,
			"configuration": map[string]any{"configurationType": "Client", "callnotification": map[string]any{"url": "https://example.com/u", "method": "POST"}},
		}},
		{method: "POST", path: voice.RouteDefault, user: keyA, pass: secretA, ctype: "application/json", body: map[string]any{"configuration_id": created.ID}},
	}
	if diff := cmp.Diff(want, reqs, cmp.AllowUnexported(seenReq{}), cmpopts.IgnoreFields(seenReq{}, "ua", "accept")); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
	if d := e.sim.Configurations(acctA)[0].Description; d != nil {
		t.Errorf("description after a PUT with nil = %q, want null", *d)
	}
}

// The two shapes, for cases that depend on an answer the reference leaves
// open.
var reference, extended = voicesim.Options{}, voicesim.Extended()

// TestErrorClasses produces every class from a real answer (or a real
// network failure) and checks how it is reported.
func TestErrorClasses(t *testing.T) {
	type want struct {
		Class      voice.Class
		StatusCode int
		Code       int
		Ambiguous  bool
		Attempts   int
	}
	cases := map[string]struct {
		reason string
		shape  *voicesim.Options // nil: simShape
		faults voicesim.Faults
		script *scripted
		call   func(e *env, id string) error // id: "existing", created before the faults
		want   want
		text   string // a substring of Error()
	}{
		"not found": {reason: "404 with Twilio's body", call: func(e *env, id string) error {
			_, err := e.a.Get(ctx(e.t), "voice_clientconfiguration_00000000000000000000000000000000")
			return err
		}, want: want{voice.ClassNotFound, 404, 20404, false, 1}, text: "get: HTTP 404 Not Found: The requested resource"},
		"conflict": {reason: "409 on a duplicate name, not ambiguous: it was refused", shape: &extended, call: func(e *env, id string) error {
			_, err := e.a.Create(ctx(e.t), input("existing"))
			return err
		}, want: want{voice.ClassConflict, 409, 20409, false, 1}, text: "create: HTTP 409"},
		"duplicate as 400": {reason: "the reference's shape refuses a duplicate with a 400: Invalid, not ambiguous", shape: &reference, call: func(e *env, id string) error {
			_, err := e.a.Create(ctx(e.t), input("existing"))
			return err
		}, want: want{voice.ClassInvalid, 400, 20001, false, 1}, text: "create: HTTP 400"},
		"unauthorized": {reason: "401 for a wrong token, never retried", call: func(e *env, id string) error {
			_, err := e.client(voice.Credentials{AccountSID: acctA, Username: acctA, Password: "wrong"}).Get(ctx(e.t), "x")
			return err
		}, want: want{voice.ClassUnauthorized, 401, 20003, false, 1}, text: "(code 20003)"},
		"forbidden": {reason: "403: the credentials are good, the API is not theirs (a Private Beta); never retried",
			script: &scripted{n: 1, match: method("GET"), respond: status(403, "", `{"code":20403,"message":"Forbidden","status":403}`)},
			call:   func(e *env, id string) error { _, err := e.a.Get(ctx(e.t), "x"); return err },
			want:   want{voice.ClassForbidden, 403, 20403, false, 1}},
		"collection not found": {reason: "a 404 to the List itself is no missing configuration: the API is not the account's",
			script: &scripted{n: 1, match: method("GET"), respond: status(404, "", `{"code":20404,"message":"The requested resource was not found","status":404}`)},
			call:   func(e *env, id string) error { _, err := e.a.ListPage(ctx(e.t), 10, ""); return err },
			want:   want{voice.ClassForbidden, 404, 20404, false, 1}, text: "list of Client Configurations itself was not found"},
		"invalid": {reason: "400 for a name with a space", call: func(e *env, id string) error {
			_, err := e.a.Create(ctx(e.t), input("has space"))
			return err
		}, want: want{voice.ClassInvalid, 400, 20001, false, 1}, text: "unique_name cannot contain spaces"},
		"unprocessable": {reason: "422 is Invalid",
			script: &scripted{n: 1, match: method("PUT"), respond: status(422, "", `{"code":21000,"message":"nope"}`)},
			call:   func(e *env, id string) error { _, err := e.a.Update(ctx(e.t), "x", input("x")); return err },
			want:   want{voice.ClassInvalid, 422, 21000, false, 1}},
		"local invalid": {reason: "an id the path cannot carry is refused before sending",
			call: func(e *env, id string) error { return e.a.Delete(ctx(e.t), "Default") },
			want: want{voice.ClassInvalid, 0, 0, false, 0}},
		"throttled": {reason: "429 retried up to MaxAttempts, then reported", faults: voicesim.Faults{Throttled: 1},
			call: func(e *env, id string) error { _, err := e.a.Get(ctx(e.t), "x"); return err },
			want: want{voice.ClassThrottled, 429, 20429, false, 4}},
		"throttled create": {reason: "a 429'd create was never processed: retried and not ambiguous", faults: voicesim.Faults{Throttled: 1},
			call: func(e *env, id string) error { _, err := e.a.Create(ctx(e.t), input("t")); return err },
			want: want{voice.ClassThrottled, 429, 20429, false, 4}},
		"unavailable": {reason: "503 on a read, retried", faults: voicesim.Faults{Unavailable: 1},
			call: func(e *env, id string) error { _, err := e.a.ListPage(ctx(e.t), 0, ""); return err },
			want: want{voice.ClassUnavailable, 503, 20503, false, 4}},
		"unavailable create": {reason: "503 on a create: not retried, ambiguous", faults: voicesim.Faults{Unavailable: 1},
			call: func(e *env, id string) error { _, err := e.a.Create(ctx(e.t), input("u")); return err },
			want: want{voice.ClassUnavailable, 503, 20503, true, 1}, text: "may have been applied"},
		"bad gateway html": {reason: "a 502 HTML page is Unavailable, its body ignored",
			script: &scripted{n: 4, match: method("DELETE"), respond: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				w.WriteHeader(502)
				_, _ = io.WriteString(w, "<html><body>bad gateway</body></html>")
			}},
			call: func(e *env, id string) error { return e.a.UnsetDefault(ctx(e.t)) },
			want: want{voice.ClassUnavailable, 502, 0, false, 4}, text: "unset-default: HTTP 502 Bad Gateway"},
		"lost create": {reason: "connection dropped after the create was sent", faults: voicesim.Faults{LostCreate: 1},
			call: func(e *env, id string) error { _, err := e.a.Create(ctx(e.t), input("l")); return err },
			want: want{voice.ClassUnavailable, 0, 0, true, 1}, text: "create: POST /v2/Configurations/Client failed"},
		"malformed get": {reason: "an HTML page with 200 on a read: retried, then Malformed",
			faults: voicesim.Faults{Malformed: 1, MalformedKinds: []voicesim.MalformedKind{voicesim.MalformedHTML}},
			call:   func(e *env, id string) error { _, err := e.a.Get(ctx(e.t), id); return err },
			want:   want{voice.ClassMalformed, 200, 0, false, 4}, text: "get: unreadable response (HTTP 200, text/html): invalid character '<'"},
		"malformed create": {reason: "a garbled 201: the create happened, so ambiguous, not retried",
			faults: voicesim.Faults{Malformed: 1, MalformedKinds: []voicesim.MalformedKind{voicesim.MalformedTruncated}},
			call:   func(e *env, id string) error { _, err := e.a.Create(ctx(e.t), input("mc")); return err },
			want:   want{voice.ClassMalformed, 201, 0, true, 1}, text: "create: unreadable response (HTTP 201, application/json): unexpected end of JSON input"},
		"malformed put": {reason: "a garbled PUT answer: applied, so only reads retry unreadable answers",
			faults: voicesim.Faults{Malformed: 1, MalformedKinds: []voicesim.MalformedKind{voicesim.MalformedEmpty}},
			call:   func(e *env, id string) error { _, err := e.a.Update(ctx(e.t), id, input("existing")); return err },
			want:   want{voice.ClassMalformed, 200, 0, false, 1}, text: "update: unreadable response (HTTP 200, application/json): empty body"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var opts []envOption
			if tc.script != nil {
				opts = append(opts, withMiddleware(tc.script.wrap))
			}
			if tc.shape != nil {
				opts = append(opts, withShape(*tc.shape))
			}
			e := newEnv(t, opts...)
			id := e.mustCreate("existing").ID
			e.sim.SetFaults(tc.faults)
			err := tc.call(e, id)
			ve := asError(t, err)
			got := want{ve.Class, ve.StatusCode, ve.Code, ve.Ambiguous, ve.Attempts}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s: %v\n(-want +got):\n%s", tc.reason, err, diff)
			}
			if voice.ClassOf(err) != tc.want.Class || voice.IsAmbiguous(err) != tc.want.Ambiguous {
				t.Errorf("%s: helpers disagree with the fields", tc.reason)
			}
			if !strings.Contains(err.Error(), tc.text) {
				t.Errorf("%s: message %q lacks %q", tc.reason, err.Error(), tc.text)
			}
			if len(err.Error()) > 600 {
				t.Errorf("%s: message is %d bytes long", tc.reason, len(err.Error()))
			}
		})
	}
}

// TestMalformedKinds checks every garbling the simulator knows is reported
// as Malformed with a short, readable message.
func TestMalformedKinds(t *testing.T) {
	cases := map[voicesim.MalformedKind]struct {
		reason string
		text   string
	}{
		voicesim.MalformedTruncated:  {"half a JSON object", "unexpected end of JSON input"},
		voicesim.MalformedWrongTypes: {"fields of the wrong type", "cannot unmarshal"},
		voicesim.MalformedHTML:       {"an HTML error page", "(HTTP 200, text/html)"},
		voicesim.MalformedEmpty:      {"no body", "empty body"},
		voicesim.MalformedHuge:       {"a body over the 1 MiB cap", "body larger than 1048576 bytes"},
	}
	for kind, tc := range cases {
		t.Run(string(kind), func(t *testing.T) {
			e := newEnv(t, withOptions(func(o *voice.Options) { o.MaxAttempts = 2 }))
			cfg := e.mustCreate("k")
			e.sim.SetFaults(voicesim.Faults{Malformed: 1, MalformedKinds: []voicesim.MalformedKind{kind}})
			for _, call := range []func() error{
				func() error { _, err := e.a.Get(ctx(t), cfg.ID); return err },
				func() error { _, err := e.a.ListPage(ctx(t), 10, ""); return err },
			} {
				err := call()
				if voice.ClassOf(err) != voice.ClassMalformed || !strings.Contains(err.Error(), tc.text) || len(err.Error()) > 400 {
					t.Errorf("%s: %v", tc.reason, err)
				}
			}
		})
	}
}

// TestContext checks the caller's context and the per-attempt timeout.
func TestContext(t *testing.T) {
	t.Run("cancelled", func(t *testing.T) {
		e := newEnv(t)
		c, cancel := context.WithCancel(t.Context())
		cancel()
		_, err := e.a.Get(c, "x")
		if voice.ClassOf(err) != voice.ClassUnavailable || !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled context: %v", err)
		}
		if calls := e.sim.Calls(); len(calls) != 0 {
			t.Errorf("a cancelled call reached the server: %v", calls)
		}
	})
	t.Run("attempt timeout", func(t *testing.T) {
		e := newEnv(t, withOptions(func(o *voice.Options) { o.RequestTimeout = 50 * time.Millisecond }))
		e.sim.SetFaults(voicesim.Faults{Latency: 2 * time.Second})
		_, err := e.a.Get(ctx(t), "x")
		ve := asError(t, err)
		if ve.Class != voice.ClassUnavailable || ve.Attempts != 4 || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("timeouts on a read: %v (attempts %d)", err, ve.Attempts)
		}
		_, err = e.a.Create(ctx(t), input("slow"))
		if ve := asError(t, err); !ve.Ambiguous || ve.Attempts != 1 {
			t.Errorf("a timed-out create must be ambiguous and not retried: %v", err)
		}
	})
}

// TestPagination walks 7 configurations in pages of 3, with the simulator
// reading either spelling of the query parameters.
func TestPagination(t *testing.T) {
	// sdkSpelling rewrites the query to the SDK spelling, so the simulator
	// only sees PageSize/PageToken.
	sdkSpelling := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			q := r.URL.Query()
			for from, to := range map[string]string{"pageSize": "PageSize", "pageToken": "PageToken"} {
				if v, ok := q[from]; ok {
					q[to] = v
					delete(q, from)
				}
			}
			r.URL.RawQuery = q.Encode()
			next.ServeHTTP(w, r)
		})
	}
	cases := map[string]struct {
		reason string
		opts   []envOption
	}{
		"pageSize":          {reason: "the spelling the reference and the client use"},
		"PageSize rewrites": {reason: "the SDK spelling, which the simulator accepts too", opts: []envOption{withMiddleware(sdkSpelling)}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, tc.opts...)
			var want []string
			for i := range 7 {
				want = append(want, e.mustCreate(fmt.Sprintf("p%d", i)).UniqueName)
			}
			e.seen()
			var pages [][]string
			token := ""
			for {
				p, err := e.a.ListPage(ctx(t), 3, token)
				if err != nil {
					t.Fatal(err)
				}
				var names []string
				for _, c := range p.Configurations {
					names = append(names, c.UniqueName)
				}
				pages = append(pages, names)
				if p.NextToken == "" {
					break
				}
				token = p.NextToken
			}
			if diff := cmp.Diff([][]string{want[0:3], want[3:6], want[6:7]}, pages); diff != "" {
				t.Errorf("%s: pages (-want +got):\n%s", tc.reason, diff)
			}
			var walked []string
			for c, err := range e.a.List(ctx(t), 2) {
				if err != nil {
					t.Fatal(err)
				}
				walked = append(walked, c.UniqueName)
			}
			if diff := cmp.Diff(want, walked); diff != "" {
				t.Errorf("%s: List (-want +got):\n%s", tc.reason, diff)
			}
			// 3 pages by hand, 4 by List.
			if n := len(e.seen()); n != 7 {
				t.Errorf("%s: %d list calls, want 7", tc.reason, n)
			}
		})
	}
}

// TestListStopsEarly checks breaking out of List makes no further calls.
func TestListStopsEarly(t *testing.T) {
	e := newEnv(t)
	for i := range 5 {
		e.mustCreate(fmt.Sprintf("s%d", i))
	}
	e.seen()
	for c, err := range e.a.List(ctx(t), 2) {
		if err != nil {
			t.Fatal(err)
		}
		if c.UniqueName == "s0" {
			break
		}
	}
	if n := len(e.seen()); n != 1 {
		t.Errorf("%d calls after breaking on the first item, want 1", n)
	}
}

// TestListLoop checks a server repeating its next_token cannot make List
// loop forever.
func TestListLoop(t *testing.T) {
	loop := func(http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"content":[{"id":"voice_clientconfiguration_1","account_sid":"`+acctA+`","unique_name":"a"}],"meta":{"next_token":"same","list_key":"content"}}`)
		})
	}
	e := newEnv(t, withMiddleware(loop))
	n := 0
	var last error
	for _, err := range e.a.List(ctx(t), 0) {
		n++
		last = err
	}
	if voice.ClassOf(last) != voice.ClassMalformed || n != 3 {
		t.Errorf("after %d yields: %v", n, last)
	}
}

// TestFindByUniqueName covers the lookup by name: the reference has no
// GET by name, so it walks the list, a page of Options.PageSize at a time,
// and stops at the first exact match.
func TestFindByUniqueName(t *testing.T) {
	type calls = map[string]int
	list := "GET " + voicesim.RouteCollection
	cases := map[string]struct {
		reason    string
		find      string
		wantFound bool
		wantCalls calls
	}{
		"first page": {reason: "found on the first page: one read", find: "n1", wantFound: true, wantCalls: calls{list: 1}},
		"last page":  {reason: "found on the third page of two", find: "target", wantFound: true, wantCalls: calls{list: 3}},
		"absent":     {reason: "absent is NotFound after every page", find: "absent", wantCalls: calls{list: 3}},
		"Default":    {reason: "a name the instance path could not carry is found all the same", find: "Default", wantFound: true, wantCalls: calls{list: 2}},
		"escaped":    {reason: "names needing escapes", find: "a/b?c#d%e", wantFound: true, wantCalls: calls{list: 2}},
		"prefix":     {reason: "matching is exact", find: "targ", wantCalls: calls{list: 3}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, withOptions(func(o *voice.Options) { o.PageSize = 2 }))
			ids := map[string]string{}
			for _, n := range []string{"n1", "n2", "Default", "a/b?c#d%e", "target"} {
				ids[n] = e.mustCreate(n).ID
			}
			e.sim.ResetCalls()
			got, err := e.a.FindByUniqueName(ctx(t), tc.find)
			switch {
			case tc.wantFound && (err != nil || got.ID != ids[tc.find] || got.UniqueName != tc.find):
				t.Errorf("%s: got %+v, %v", tc.reason, got, err)
			case !tc.wantFound && !voice.IsNotFound(err):
				t.Errorf("%s: got %+v, %v; want NotFound", tc.reason, got, err)
			}
			if diff := cmp.Diff(tc.wantCalls, e.sim.Calls()); diff != "" {
				t.Errorf("%s: calls (-want +got):\n%s", tc.reason, diff)
			}
		})
	}
}

// TestFindNameThatIsAnID checks a unique name equal to another
// configuration's id: GET by that path answers the other one, so the
// client must not take it and must walk the list instead.
func TestFindNameThatIsAnID(t *testing.T) {
	e := newEnv(t)
	first := e.mustCreate("first")
	second := e.mustCreate(first.ID)
	got, err := e.a.FindByUniqueName(ctx(t), first.ID)
	if err != nil || got.ID != second.ID {
		t.Errorf("found %+v, %v; want the configuration named %s", got, err, first.ID)
	}
}

// TestEscaping checks names needing escapes survive the round trip, and
// ids the path cannot carry are refused before anything is sent.
func TestEscaping(t *testing.T) {
	e := newEnv(t)
	for _, name := range []string{"a/b", "100%", "..x", "q?x=1", "hash#tag", "ünï"} {
		cfg := e.mustCreate(name)
		got, err := e.a.Get(ctx(t), cfg.ID)
		if err != nil || got.UniqueName != name {
			t.Errorf("get %q: %+v, %v", name, got, err)
		}
	}
	e.sim.ResetCalls()
	for _, bad := range []string{"", ".", "..", "Default"} {
		if _, err := e.a.Get(ctx(t), bad); voice.ClassOf(err) != voice.ClassInvalid {
			t.Errorf("get %q: %v, want Invalid", bad, err)
		}
		if _, err := e.a.Update(ctx(t), bad, input("x")); voice.ClassOf(err) != voice.ClassInvalid {
			t.Errorf("update %q: %v, want Invalid", bad, err)
		}
		if err := e.a.Delete(ctx(t), bad); voice.ClassOf(err) != voice.ClassInvalid {
			t.Errorf("delete %q: %v, want Invalid", bad, err)
		}
	}
	if calls := e.sim.Calls(); len(calls) != 0 {
		t.Errorf("refused ids were sent: %v", calls)
	}
}

// TestIsolation checks a client of one account never sees another's.
func TestIsolation(t *testing.T) {
	e := newEnv(t)
	c := ctx(t)
	a := e.mustCreate("mine")
	if err := e.a.SetDefault(c, a.ID); err != nil {
		t.Fatal(err)
	}
	checks := map[string]struct {
		reason string
		err    error
	}{
		"get":          {"B cannot read A's by id", errOf(e.b.Get(c, a.ID))},
		"find":         {"nor find it by name", errOf(e.b.FindByUniqueName(c, "mine"))},
		"update":       {"nor replace it", errOf(e.b.Update(c, a.ID, input("x")))},
		"delete":       {"nor delete it", e.b.Delete(c, a.ID)},
		"set default":  {"nor make it its default", e.b.SetDefault(c, a.ID)},
		"get default":  {"A's default is not B's", errOf(e.b.GetDefault(c))},
		"unset (noop)": {"B unsetting leaves A's default", nil},
	}
	_ = e.b.UnsetDefault(c)
	for name, ch := range checks {
		if ch.err != nil && !voice.IsNotFound(ch.err) {
			t.Errorf("%s: %s: %v", name, ch.reason, ch.err)
		}
		if name != "unset (noop)" && ch.err == nil {
			t.Errorf("%s: %s: no error", name, ch.reason)
		}
	}
	if _, err := e.b.Create(c, input("mine")); err != nil {
		t.Errorf("B cannot use a name A uses: %v", err)
	}
	for cfg, err := range e.b.List(c, 0) {
		if err != nil || cfg.AccountSID != acctB {
			t.Errorf("B lists %+v, %v", cfg, err)
		}
	}
	if got, err := e.a.GetDefault(c); err != nil || got.ID != a.ID {
		t.Errorf("A's default after B's calls: %+v, %v", got, err)
	}
	if e.a.AccountSID() != acctA || e.b.AccountSID() != acctB {
		t.Errorf("AccountSID() = %s, %s", e.a.AccountSID(), e.b.AccountSID())
	}
}

func errOf[T any](_ T, err error) error { return err }

// TestBaseURLOverride checks the override is used as is, and refused when
// it would leak credentials or is not a URL.
func TestBaseURLOverride(t *testing.T) {
	cases := map[string]struct {
		reason string
		url    string
		want   string // "" means For fails
	}{
		"plain":         {"an http URL for the simulator", "http://127.0.0.1:8080", "http://127.0.0.1:8080"},
		"trailing":      {"a trailing slash is dropped", "https://voice.example/", "https://voice.example"},
		"prefix":        {"a path prefix is kept (a proxy)", "https://proxy.example/twilio", "https://proxy.example/twilio"},
		"userinfo":      {"credentials in the URL would reach errors", "https://u:p@voice.example", ""},
		"no scheme":     {"must be absolute", "voice.example", ""},
		"ftp":           {"http or https only", "ftp://voice.example", ""},
		"query":         {"no query", "https://voice.example?x=1", ""},
		"not parseable": {"garbage", "http://[::1", ""},
	}
	for name, tc := range cases {
		f := voice.NewFactory(voice.Options{BaseURL: tc.url})
		creds := credsA
		creds.Region, creds.Edge = "ie1", "dublin"
		c, err := f.For(creds)
		switch {
		case tc.want == "" && err == nil:
			t.Errorf("%s: %s: accepted as %s", name, tc.reason, c.BaseURL())
		case tc.want != "" && (err != nil || c.BaseURL() != tc.want):
			t.Errorf("%s: %s: %v, %v", name, tc.reason, c, err)
		}
		if err != nil && strings.Contains(err.Error(), "p@") {
			t.Errorf("%s: error shows the URL's credentials: %v", name, err)
		}
	}
}

// TestInsecureClientRefused checks TLS verification cannot be turned off.
func TestInsecureClientRefused(t *testing.T) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig.InsecureSkipVerify = true
	f := voice.NewFactory(voice.Options{HTTPClient: &http.Client{Transport: tr}})
	if _, err := f.For(credsA); err == nil {
		t.Error("a client skipping TLS verification was accepted")
	}
}
