package voicesim

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

const (
	acctA  = "AC0000000000000000000000000000000a"
	tokenA = "token-a"
	acctB  = "AC0000000000000000000000000000000b"
	tokenB = "token-b"
)

// harness is a simulator behind a real HTTP server, spoken to with plain
// net/http so these tests check the wire format, not a client's view of it.
type harness struct {
	t   *testing.T
	sim *Server
	url string
}

// newHarness serves the reference's exact shape.
func newHarness(t *testing.T) *harness {
	t.Helper()
	return newHarnessWith(t, Options{})
}

// newHarnessWith serves the shape opts describe.
func newHarnessWith(t *testing.T, opts Options) *harness {
	t.Helper()
	sim := New(opts)
	sim.AddAccount(acctA, tokenA)
	sim.AddAccount(acctB, tokenB)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return &harness{t: t, sim: sim, url: srv.URL}
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

// json decodes the body into a generic map for field checks.
func (a answer) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(a.body, &m); err != nil {
		t.Fatalf("answer is not a JSON object: %v: %.200s", err, a.body)
	}
	return m
}

// do sends a request as user:pass ("" user: no auth); it returns the error
// of the round trip instead of failing, for the lost-answer tests.
func (h *harness) try(method, path, body, user, pass string) (answer, error) {
	h.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, h.url+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return answer{}, err
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

func (h *harness) as(user, pass, method, path, body string) answer {
	h.t.Helper()
	a, err := h.try(method, path, body, user, pass)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	return a
}

// a sends as account A.
func (h *harness) a(method, path, body string) answer {
	h.t.Helper()
	return h.as(acctA, tokenA, method, path, body)
}

// createA creates a configuration in account A and returns its id.
func (h *harness) createA(name string) string {
	h.t.Helper()
	a := h.a("POST", RouteCollection, body(name, "https://example.com/calls", "POST"))
	if a.status != http.StatusCreated {
		h.t.Fatalf("create %q: HTTP %d: %s", name, a.status, a.body)
	}
	return a.json(h.t)["id"].(string)
}

// body builds a create/PUT body in the reference's shape.
func body(name, url, method string) string {
	b, _ := json.Marshal(map[string]any{
		"unique_name": name,
		"description": "desc of " + name,
		"configuration": map[string]any{
			"configurationType": "Client",
			"callnotification":  map[string]any{"url": url, "method": method},
		},
	})
	return string(b)
}
