package voicesim

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// TestOutOfBand checks the Go API for changes made "in the Console".
func TestOutOfBand(t *testing.T) {
	h := newHarness(t)
	id, err := h.sim.CreateOutOfBand(acctA, Record{UniqueName: "console", CallNotificationURL: "https://c.example"})
	if err != nil {
		t.Fatal(err)
	}
	// Visible through the API like any other.
	if a := h.a("GET", RouteCollection+"/"+id, ""); a.json(t)["unique_name"] != "console" {
		t.Fatalf("out-of-band create not visible: %s", a.body)
	}
	before := h.sim.Configurations(acctA)[0]
	desc := "edited"
	if err := h.sim.EditOutOfBand(acctA, id, func(r *Record) {
		r.ID = "hijacked"
		r.Description = &desc
		r.CallNotificationMethod = "GET"
	}); err != nil {
		t.Fatal(err)
	}
	after := h.sim.Configurations(acctA)[0]
	if after.ID != id || *after.Description != "edited" || after.CallNotificationMethod != "GET" || after.DateUpdated.Before(before.DateUpdated) {
		t.Errorf("after edit: %+v", after)
	}
	if got := h.a("GET", RouteCollection+"/"+id, "").json(t)["description"]; got != "edited" {
		t.Errorf("API shows description %v after the edit", got)
	}
	other, _ := h.sim.CreateOutOfBand(acctA, Record{UniqueName: "other"})

	errCases := map[string]struct {
		reason string
		err    error
		want   error
	}{
		"edit to taken name":  {"names stay unique", h.sim.EditOutOfBand(acctA, id, func(r *Record) { r.UniqueName = "other" }), ErrConflict},
		"edit to bad name":    {"names stay valid", h.sim.EditOutOfBand(acctA, id, func(r *Record) { r.UniqueName = "a b" }), ErrInvalid},
		"edit unknown":        {"unknown ids are reported", h.sim.EditOutOfBand(acctA, "nope", func(*Record) {}), ErrNotFound},
		"unknown account":     {"accounts are checked", h.sim.DeleteOutOfBand("ACnope", id), ErrUnknownAccount},
		"create duplicate":    {"a console refuses duplicates too", errOf(h.sim.CreateOutOfBand(acctA, Record{UniqueName: "other"})), ErrConflict},
		"create invalid":      {"and whitespace", errOf(h.sim.CreateOutOfBand(acctA, Record{UniqueName: ""})), ErrInvalid},
		"default unknown":     {"the default must exist", h.sim.SetDefaultOutOfBand(acctA, "nope"), ErrNotFound},
		"default other acct":  {"isolation holds out of band too", h.sim.SetDefaultOutOfBand(acctB, id), ErrNotFound},
		"delete other acct":   {"isolation holds out of band too", h.sim.DeleteOutOfBand(acctB, id), ErrNotFound},
		"edit other acct":     {"isolation holds out of band too", h.sim.EditOutOfBand(acctB, id, func(*Record) {}), ErrNotFound},
		"create unknown acct": {"accounts are checked", errOf(h.sim.CreateOutOfBand("ACnope", Record{UniqueName: "x"})), ErrUnknownAccount},
	}
	for name, tc := range errCases {
		if !errors.Is(tc.err, tc.want) {
			t.Errorf("%s: %s: got %v, want %v", name, tc.reason, tc.err, tc.want)
		}
	}

	if err := h.sim.SetDefaultOutOfBand(acctA, "console"); err != nil || h.sim.Default(acctA) != id {
		t.Fatalf("set default by name: %v, default %q", err, h.sim.Default(acctA))
	}
	if err := h.sim.DeleteOutOfBand(acctA, id); err != nil {
		t.Fatal(err)
	}
	if h.sim.Default(acctA) != "" {
		t.Errorf("deleting the default out of band left it set")
	}
	if err := h.sim.SetDefaultOutOfBand(acctA, other); err != nil {
		t.Fatal(err)
	}
	if err := h.sim.SetDefaultOutOfBand(acctA, ""); err != nil || h.sim.Default(acctA) != "" {
		t.Errorf("clearing the default: %v, default %q", err, h.sim.Default(acctA))
	}
	// Out-of-band calls are not API calls.
	if got := h.sim.CallCount("DELETE", RouteInstance); got != 0 {
		t.Errorf("out-of-band delete counted as %d API calls", got)
	}
}

func errOf(_ string, err error) error { return err }

// TestAdminHTTP drives the /_sim/ surface as the demo and the benchmarks do.
func TestAdminHTTP(t *testing.T) {
	h := newHarness(t)
	noAuth := func(method, path, body string) answer {
		t.Helper()
		return h.as("", "", method, path, body)
	}
	// Faults: PUT, GET back, then an API call feels them.
	put := noAuth("PUT", "/_sim/faults", `{"unavailable":1,"retry_after":"1s","latency":"1ms","malformed_kinds":["html"],"seed":3}`)
	if put.status != http.StatusOK {
		t.Fatalf("PUT faults: HTTP %d %s", put.status, put.body)
	}
	want := Faults{Unavailable: 1, RetryAfter: time.Second, Latency: time.Millisecond, MalformedKinds: []MalformedKind{MalformedHTML}, Seed: 3}
	if diff := cmp.Diff(want, h.sim.CurrentFaults()); diff != "" {
		t.Errorf("faults after PUT (-want +got):\n%s", diff)
	}
	var back Faults
	if err := json.Unmarshal(noAuth("GET", "/_sim/faults", "").body, &back); err != nil || !cmp.Equal(want, back) {
		t.Errorf("GET faults = %+v, %v", back, err)
	}
	if a := h.a("GET", RouteCollection, ""); a.status != http.StatusServiceUnavailable {
		t.Errorf("API under faults: HTTP %d", a.status)
	}
	if a := noAuth("PUT", "/_sim/faults", `{"unavailable":2}`); a.status != http.StatusBadRequest {
		t.Errorf("invalid faults accepted: HTTP %d", a.status)
	}
	if a := noAuth("PUT", "/_sim/faults", `{"latency":"soon"}`); a.status != http.StatusBadRequest {
		t.Errorf("invalid duration accepted: HTTP %d", a.status)
	}
	noAuth("PUT", "/_sim/faults", `{}`)

	// Calls and their reset.
	var calls CallsReport
	if err := json.Unmarshal(noAuth("GET", "/_sim/calls", "").body, &calls); err != nil {
		t.Fatal(err)
	}
	wantCalls := CallsReport{Calls: map[string]int{"GET " + RouteCollection: 1}, Faults: map[string]int{FaultUnavailable: 1}}
	if diff := cmp.Diff(wantCalls, calls); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
	if a := noAuth("POST", "/_sim/reset-calls", ""); a.status != http.StatusNoContent || len(h.sim.Calls()) != 0 || len(h.sim.FaultCounts()) != 0 {
		t.Errorf("reset-calls: HTTP %d, calls %v", a.status, h.sim.Calls())
	}

	// Accounts added at run time, by token and by API key.
	const acctC = "AC0000000000000000000000000000000c"
	noAuth("POST", "/_sim/accounts", `{"account_sid":"`+acctC+`","auth_token":"tc"}`)
	noAuth("POST", "/_sim/accounts", `{"account_sid":"`+acctC+`","api_key":"SKc","api_secret":"sc"}`)
	if a := h.as(acctC, "tc", "GET", RouteCollection, ""); a.status != http.StatusOK {
		t.Errorf("runtime account: HTTP %d", a.status)
	}
	if a := h.as("SKc", "sc", "GET", RouteCollection, ""); a.status != http.StatusOK {
		t.Errorf("runtime API key: HTTP %d", a.status)
	}

	// Out-of-band create, edit, default and delete over HTTP.
	cr := noAuth("POST", "/_sim/accounts/"+acctA+"/configurations", `{"unique_name":"oob","callnotification_url":"https://o.example"}`)
	if cr.status != http.StatusCreated {
		t.Fatalf("oob create: HTTP %d %s", cr.status, cr.body)
	}
	id := cr.json(t)["id"].(string)
	if a := noAuth("PATCH", "/_sim/accounts/"+acctA+"/configurations/"+id, `{"description":"d","callnotification_method":"GET"}`); a.status != http.StatusNoContent {
		t.Errorf("oob edit: HTTP %d %s", a.status, a.body)
	}
	if a := noAuth("PATCH", "/_sim/accounts/"+acctA+"/configurations/"+id, `{"description":null}`); a.status != http.StatusNoContent {
		t.Errorf("oob edit to null: HTTP %d %s", a.status, a.body)
	}
	if a := noAuth("PUT", "/_sim/accounts/"+acctA+"/default", `{"configuration_id":"`+id+`"}`); a.status != http.StatusNoContent {
		t.Errorf("oob default: HTTP %d %s", a.status, a.body)
	}
	var state struct {
		Accounts []AccountState `json:"accounts"`
	}
	if err := json.Unmarshal(noAuth("GET", "/_sim/state", "").body, &state); err != nil {
		t.Fatal(err)
	}
	wantState := []AccountState{
		{AccountSID: acctA, Default: id, Configurations: []Record{{ID: id, AccountSID: acctA, UniqueName: "oob", ConfigurationType: "Client",
			CallNotificationURL: "https://o.example", CallNotificationMethod: "GET"}}},
		{AccountSID: acctB, Configurations: []Record{}},
		{AccountSID: acctC, Configurations: []Record{}},
	}
	if diff := cmp.Diff(wantState, state.Accounts, cmpopts.IgnoreFields(Record{}, "DateCreated", "DateUpdated")); diff != "" {
		t.Errorf("state (-want +got):\n%s", diff)
	}
	if strings.Contains(string(noAuth("GET", "/_sim/state", "").body), tokenA) {
		t.Errorf("state shows an auth token")
	}
	if a := noAuth("DELETE", "/_sim/accounts/"+acctA+"/configurations/"+id, ""); a.status != http.StatusNoContent || len(h.sim.Configurations(acctA)) != 0 {
		t.Errorf("oob delete: HTTP %d", a.status)
	}
	if a := noAuth("DELETE", "/_sim/accounts/"+acctA+"/configurations/"+id, ""); a.status != http.StatusNotFound {
		t.Errorf("oob delete of a gone id: HTTP %d", a.status)
	}
	if a := noAuth("GET", "/_sim/nothing", ""); a.status != http.StatusNotFound {
		t.Errorf("unknown admin path: HTTP %d", a.status)
	}
	// The admin surface never counts as API calls.
	if diff := cmp.Diff(map[string]int{"GET " + RouteCollection: 2}, h.sim.Calls()); diff != "" {
		t.Errorf("calls after admin traffic (-want +got):\n%s", diff)
	}
}

// TestAdminLoopbackOnly checks a non-loopback client is refused.
func TestAdminLoopbackOnly(t *testing.T) {
	sim := New(Options{})
	for _, remote := range []string{"192.0.2.1:1234", "[2001:db8::1]:80", "garbage"} {
		req := httptest.NewRequest("GET", "/_sim/state", nil)
		req.RemoteAddr = remote
		rec := httptest.NewRecorder()
		sim.ServeHTTP(rec, req)
		if rec.Code != http.StatusForbidden {
			t.Errorf("admin from %s: HTTP %d, want 403", remote, rec.Code)
		}
	}
}

// TestThrottleAccount: a throttled account answers every request 429 with
// its Retry-After, and is counted; another account is not affected; 0
// lifts it.
func TestThrottleAccount(t *testing.T) {
	h := newHarness(t)
	h.sim.ThrottleAccount(acctA, 30*time.Second)
	a := h.a("GET", RouteCollection, "")
	if a.status != http.StatusTooManyRequests || a.header.Get("Retry-After") != "30" || a.json(t)["code"] != float64(20429) {
		t.Errorf("throttled account: %d, Retry-After %q, %s", a.status, a.header.Get("Retry-After"), a.body)
	}
	if b := h.as(acctB, tokenB, "GET", RouteCollection, ""); b.status != http.StatusOK {
		t.Errorf("the other account answered %d while A was throttled", b.status)
	}
	if n := len(h.sim.ThrottledAnswers(acctA)); n != 1 {
		t.Errorf("%d throttled answers counted, want 1", n)
	}
	h.sim.ThrottleAccount(acctA, 0)
	if a := h.a("GET", RouteCollection, ""); a.status != http.StatusOK {
		t.Errorf("after the throttle was lifted: %d", a.status)
	}
}
