package voice_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/twilio-operator/voice-operator/internal/voice"
	"github.com/twilio-operator/voice-operator/internal/voicesim"
)

// These tests cover what the reference leaves open or what a beta API may
// get wrong: every guess must cost at most a request, never a wrong write.

// TestAccountVerified checks every configuration the API answers is
// checked against the account the credentials claim. An API key belongs to
// one account; a Secret pairing it with another account's SID must be
// caught on the first answer, before anything is written in the wrong
// account, and a create that already happened there is handed back so it
// can be deleted.
func TestAccountVerified(t *testing.T) {
	e := newEnv(t)
	mine := e.mustCreate("in-a")
	// B's SID with A's API key: the wire speaks for A.
	liar := e.client(voice.Credentials{AccountSID: acctB, Username: keyA, Password: secretA})
	c := ctx(t)

	_, err := liar.Get(c, mine.ID)
	checkMismatch(t, "get", err, mine.ID)
	for _, err := range liar.List(c, 0) {
		checkMismatch(t, "list", err, mine.ID)
	}
	if err := e.a.SetDefault(c, mine.ID); err != nil {
		t.Fatal(err)
	}
	_, err = liar.GetDefault(c)
	checkMismatch(t, "get-default", err, mine.ID)

	created, err := liar.Create(c, input("made-in-a"))
	checkMismatch(t, "create", err, "")
	if created == nil || created.AccountSID != acctA {
		t.Fatalf("a create answered for the wrong account must hand back what it made: %+v", created)
	}
	if asError(t, err).ID != created.ID {
		t.Errorf("the error names %q, the create made %q", asError(t, err).ID, created.ID)
	}
	// Deleting it needs no answer body to verify, and undoes the mistake.
	if err := liar.Delete(c, created.ID); err != nil {
		t.Fatalf("deleting the stray create: %v", err)
	}
	if got := len(e.sim.Configurations(acctA)); got != 1 {
		t.Errorf("account A holds %d configurations, want only its own", got)
	}
}

func checkMismatch(t *testing.T, op string, err error, id string) {
	t.Helper()
	ve := asError(t, err)
	if ve.Class != voice.ClassAccountMismatch || ve.Account != acctA || ve.Op != op {
		t.Fatalf("%s: %v (class %v, account %q, op %q), want AccountMismatch naming %s", op, err, ve.Class, ve.Account, ve.Op, acctA)
	}
	if id != "" && ve.ID != id {
		t.Errorf("%s: error names configuration %q, want %q", op, ve.ID, id)
	}
	if !strings.Contains(err.Error(), acctA) || !strings.Contains(err.Error(), acctB) {
		t.Errorf("%s: message %q should name both accounts", op, err)
	}
}

// TestNoAccountIsMalformed checks an answer without account_sid, which the
// reference shows in every answer, cannot pass for any account.
func TestNoAccountIsMalformed(t *testing.T) {
	strip := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"id":"voice_clientconfiguration_1","unique_name":"a","configuration":{"callnotification":{"url":"https://x","method":"POST"}}}`))
		})
	}
	e := newEnv(t, withMiddleware(strip))
	_, err := e.a.Get(ctx(t), "voice_clientconfiguration_1")
	if voice.ClassOf(err) != voice.ClassMalformed || !strings.Contains(err.Error(), "account_sid") {
		t.Errorf("get: %v, want Malformed naming account_sid", err)
	}
}

// TestPageSizeRefused checks a page size the API refuses costs one extra
// request, once: the page is asked again without a size, and later Lists of
// the factory let the API choose.
func TestPageSizeRefused(t *testing.T) {
	e := newEnv(t, withShape(voicesim.Options{}), withOptions(func(o *voice.Options) { o.PageSize = 100 }))
	for _, n := range []string{"a", "b", "c"} {
		e.mustCreate(n)
	}
	e.sim.ResetCalls()
	e.seen()
	for round := range 2 {
		var names []string
		for cfg, err := range e.a.List(ctx(t), 0) {
			if err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
			names = append(names, cfg.UniqueName)
		}
		if diff := cmp.Diff([]string{"a", "b", "c"}, names); diff != "" {
			t.Errorf("round %d (-want +got):\n%s", round, diff)
		}
	}
	got := e.seen()
	want := []attempt{{"GET", voice.RouteCollection, 400}, {"GET", voice.RouteCollection, 200}, {"GET", voice.RouteCollection, 200}}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(attempt{})); diff != "" {
		t.Errorf("attempts (-want +got):\n%s", diff)
	}
	if _, err := e.a.FindByUniqueName(ctx(t), "c"); err != nil {
		t.Errorf("a lookup after the refusal: %v", err)
	}
}

// TestNoDefault checks every way an API may say that no default is set.
func TestNoDefault(t *testing.T) {
	for name, answer := range map[string]voicesim.NoDefaultAnswer{
		"404": voicesim.NoDefaultNotFound, "empty 200": voicesim.NoDefaultEmpty, "null": voicesim.NoDefaultNull,
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, withShape(voicesim.Options{NoDefault: answer}))
			if _, err := e.a.GetDefault(ctx(t)); !voice.IsNotFound(err) {
				t.Errorf("GetDefault with none set: %v, want NotFound", err)
			}
		})
	}
	t.Run("object without id", func(t *testing.T) {
		e := newEnv(t, withMiddleware(func(http.Handler) http.Handler {
			return http.HandlerFunc(status(200, "", `{"account_sid":"`+acctA+`","configuration":null,"id":null}`))
		}))
		if _, err := e.a.GetDefault(ctx(t)); !voice.IsNotFound(err) {
			t.Errorf("GetDefault answered a configuration without id: %v, want NotFound", err)
		}
	})
}

// TestWebhookPasswordScrubbed checks an API that quotes the request's URL
// in an error never gets the webhook password (or the token) into the
// error a caller logs.
func TestWebhookPasswordScrubbed(t *testing.T) {
	const password = "Hunter2-w3bhook"
	e := newEnv(t, withShape(voicesim.Options{EchoURLInErrors: true}))
	in := input("leaky")
	in.CallNotification.URL = "https://alice:" + password + "@bad_host.example/calls"
	_, err := e.a.Create(ctx(t), in)
	if voice.ClassOf(err) != voice.ClassInvalid {
		t.Fatalf("create: %v, want Invalid", err)
	}
	raw := e.sim.Calls()
	if raw["POST "+voicesim.RouteCollection] != 1 {
		t.Fatalf("calls %v", raw)
	}
	for _, leak := range []string{password, "alice:", tokenA} {
		if strings.Contains(err.Error(), leak) {
			t.Errorf("error %q holds %q", err, leak)
		}
	}
	if !strings.Contains(err.Error(), "redacted@bad_host.example") {
		t.Errorf("error %q should still show where the URL pointed", err)
	}
}

// TestLargePage checks a page as large as the CRD's length limits allow is
// read whole: the read cap of a page grows with its size. Characters that
// JSON escapes as \u00XX make each configuration about 20 KiB on the wire,
// so 60 of them are past the 1 MiB cap of a single answer.
func TestLargePage(t *testing.T) {
	e := newEnv(t, withShape(voicesim.Options{MaxPageSize: 60}))
	long := strings.Repeat("<", voice.MaxDescriptionLength)
	for i := range 60 {
		in := input(strings.Repeat("<", voice.MaxUniqueNameLength-2) + string(rune('A'+i%26)) + string(rune('a'+i/26)))
		in.Description = &long
		in.CallNotification.URL = "https://example.com/?" + strings.Repeat("&", voice.MaxURLLength-21)
		if _, err := e.a.Create(ctx(t), in); err != nil {
			t.Fatal(err)
		}
	}
	var size int
	e2 := newEnv(t, withShape(voicesim.Options{MaxPageSize: 60}), withMiddleware(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rec := &countingWriter{ResponseWriter: w}
			e.sim.ServeHTTP(rec, r)
			size = rec.n
		})
	}))
	page, err := e2.a.ListPage(ctx(t), 60, "")
	if err != nil || len(page.Configurations) != 60 {
		t.Fatalf("a page of 60 long configurations: %v", err)
	}
	if size <= voice.MaxBodyBytes {
		t.Errorf("the page was %d bytes: the test needs one above %d", size, voice.MaxBodyBytes)
	}
}

// countingWriter counts the bytes of an answer.
type countingWriter struct {
	http.ResponseWriter
	n int
}

func (c *countingWriter) Write(b []byte) (int, error) {
	c.n += len(b)
	return c.ResponseWriter.Write(b)
}
