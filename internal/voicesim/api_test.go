package voicesim

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var idPattern = regexp.MustCompile(`^voice_clientconfiguration_[0-9a-f]{32}$`)

// TestRequests checks status codes, Twilio error codes and the rules of the
// reference, one request per case against a fresh simulator holding
// "existing" and "other" in account A.
func TestRequests(t *testing.T) {
	cfg := func(inner string) string {
		return `{"unique_name":"n","configuration":{"configurationType":"Client","callnotification":{` + inner + `}}}`
	}
	cases := map[string]struct {
		reason     string
		method     string
		path       string // {existing} is replaced by that configuration's id
		body       string
		user, pass string // default: account A; user "-" sends no credentials
		wantStatus int
		wantCode   int // Twilio error code; 0: no error body expected
	}{
		"create":                 {reason: "the reference's create example", method: "POST", path: RouteCollection, body: body("new", "https://myurl.com", "POST"), wantStatus: 201},
		"create GET method":      {reason: "GET is an allowed webhook method", method: "POST", path: RouteCollection, body: body("new", "https://myurl.com", "GET"), wantStatus: 201},
		"create omitted method":  {reason: "an omitted method defaults to POST", method: "POST", path: RouteCollection, body: cfg(`"url":"https://x.example"`), wantStatus: 201},
		"create no name":         {reason: "unique_name is required", method: "POST", path: RouteCollection, body: `{"configuration":{"configurationType":"Client","callnotification":{"url":"https://x.example"}}}`, wantStatus: 400, wantCode: 20001},
		"create empty name":      {reason: "an empty unique_name is no name", method: "POST", path: RouteCollection, body: body("", "https://x.example", "POST"), wantStatus: 400, wantCode: 20001},
		"create name with space": {reason: "the reference: unique_name cannot contain spaces", method: "POST", path: RouteCollection, body: body("my webhook", "https://x.example", "POST"), wantStatus: 400, wantCode: 20001},
		"create name with tab":   {reason: "any whitespace counts as a space", method: "POST", path: RouteCollection, body: body("my\twebhook", "https://x.example", "POST"), wantStatus: 400, wantCode: 20001},
		"create duplicate":       {reason: "unique per account; the reference does not say which status, the zero Options answer 400", method: "POST", path: RouteCollection, body: body("existing", "https://x.example", "POST"), wantStatus: 400, wantCode: 20001},
		"create no configuration": {reason: "configuration is required", method: "POST", path: RouteCollection,
			body: `{"unique_name":"n"}`, wantStatus: 400, wantCode: 20001},
		"create wrong type": {reason: "configurationType must be Client", method: "POST", path: RouteCollection,
			body: `{"unique_name":"n","configuration":{"configurationType":"Other","callnotification":{"url":"https://x.example"}}}`, wantStatus: 400, wantCode: 20001},
		"create no url":          {reason: "callnotification.url is required", method: "POST", path: RouteCollection, body: cfg(`"method":"POST"`), wantStatus: 400, wantCode: 20001},
		"create relative url":    {reason: "the webhook must be an absolute http(s) URL", method: "POST", path: RouteCollection, body: cfg(`"url":"/calls"`), wantStatus: 400, wantCode: 20001},
		"create underscore host": {reason: "Twilio refuses webhook hosts with underscores (13806)", method: "POST", path: RouteCollection, body: cfg(`"url":"https://my_host.example/x"`), wantStatus: 400, wantCode: 13806},
		"create bad method":      {reason: "method is GET or POST", method: "POST", path: RouteCollection, body: cfg(`"url":"https://x.example","method":"PATCH"`), wantStatus: 400, wantCode: 20001},
		"create lowercase method": {reason: "methods are upper case, as the reference writes them", method: "POST", path: RouteCollection,
			body: cfg(`"url":"https://x.example","method":"post"`), wantStatus: 400, wantCode: 20001},
		"create bad JSON":        {reason: "a body that is not JSON", method: "POST", path: RouteCollection, body: `{"unique_name":`, wantStatus: 400, wantCode: 20001},
		"create trailing data":   {reason: "two JSON values are not one body", method: "POST", path: RouteCollection, body: body("n", "https://x.example", "POST") + `{}`, wantStatus: 400, wantCode: 20001},
		"create wrong JSON type": {reason: "unique_name must be a string", method: "POST", path: RouteCollection, body: `{"unique_name":5}`, wantStatus: 400, wantCode: 20001},
		"create huge body":       {reason: "bodies are capped at 64 KiB", method: "POST", path: RouteCollection, body: body(strings.Repeat("x", 70<<10), "https://x.example", "POST"), wantStatus: 413, wantCode: 20001},
		"get by id":              {reason: "the reference's retrieve", method: "GET", path: RouteCollection + "/{existing}", wantStatus: 200},
		"get by name":            {reason: "the reference shows ids only in the path", method: "GET", path: RouteCollection + "/existing", wantStatus: 404, wantCode: 20404},
		"get unknown":            {reason: "unknown ids are a Twilio-style 404", method: "GET", path: RouteCollection + "/voice_clientconfiguration_00000000000000000000000000000000", wantStatus: 404, wantCode: 20404},
		"put":                    {reason: "full replace", method: "PUT", path: RouteCollection + "/{existing}", body: body("renamed", "https://y.example", "GET"), wantStatus: 200},
		"put same name":          {reason: "keeping its own name is no collision", method: "PUT", path: RouteCollection + "/{existing}", body: body("existing", "https://y.example", "GET"), wantStatus: 200},
		"put collision":          {reason: "a PUT taking another's name is refused like a create", method: "PUT", path: RouteCollection + "/{existing}", body: body("other", "https://y.example", "GET"), wantStatus: 400, wantCode: 20001},
		"put no name":            {reason: "an omitted unique_name is a 400", method: "PUT", path: RouteCollection + "/{existing}", body: `{"configuration":{"configurationType":"Client","callnotification":{"url":"https://x.example"}}}`, wantStatus: 400, wantCode: 20001},
		"put no configuration":   {reason: "an omitted configuration is a 400", method: "PUT", path: RouteCollection + "/{existing}", body: `{"unique_name":"existing"}`, wantStatus: 400, wantCode: 20001},
		"put unknown":            {reason: "PUT does not create", method: "PUT", path: RouteCollection + "/nope", body: body("nope", "https://y.example", "GET"), wantStatus: 404, wantCode: 20404},
		"delete":                 {reason: "the reference's delete", method: "DELETE", path: RouteCollection + "/{existing}", wantStatus: 204},
		"delete by name":         {reason: "names do not address a DELETE either", method: "DELETE", path: RouteCollection + "/existing", wantStatus: 404, wantCode: 20404},
		"delete unknown":         {reason: "unknown ids are a 404", method: "DELETE", path: RouteCollection + "/nope", wantStatus: 404, wantCode: 20404},
		"get default none":       {reason: "GET Default with none set is a 404", method: "GET", path: RouteDefault, wantStatus: 404, wantCode: 20404},
		"set default":            {reason: "the reference: 204 No Content", method: "POST", path: RouteDefault, body: `{"configuration_id":"{existing}"}`, wantStatus: 204},
		"set default unknown":    {reason: "our documented choice: 404", method: "POST", path: RouteDefault, body: `{"configuration_id":"voice_clientconfiguration_00000000000000000000000000000000"}`, wantStatus: 404, wantCode: 20404},
		"set default no id":      {reason: "configuration_id is required", method: "POST", path: RouteDefault, body: `{}`, wantStatus: 400, wantCode: 20001},
		"set default bad JSON":   {reason: "a body that is not JSON", method: "POST", path: RouteDefault, body: `nope`, wantStatus: 400, wantCode: 20001},
		"unset default none":     {reason: "unsetting is idempotent", method: "DELETE", path: RouteDefault, wantStatus: 204},
		"list":                   {reason: "the reference's list", method: "GET", path: RouteCollection, wantStatus: 200},
		"list zero page size":    {reason: "pageSize must be positive", method: "GET", path: RouteCollection + "?pageSize=0", wantStatus: 400, wantCode: 20001},
		"list text page size":    {reason: "pageSize must be a number", method: "GET", path: RouteCollection + "?PageSize=ten", wantStatus: 400, wantCode: 20001},
		"list page too large":    {reason: "pages hold at most 50 unless Options say otherwise", method: "GET", path: RouteCollection + "?pageSize=51", wantStatus: 400, wantCode: 20001},
		"list bad token":         {reason: "tokens are opaque but checked", method: "GET", path: RouteCollection + "?pageToken=garbage!", wantStatus: 400, wantCode: 20001},
		"no auth":                {reason: "Basic auth is required", method: "GET", path: RouteCollection, user: "-", wantStatus: 401, wantCode: 20003},
		"wrong token":            {reason: "a wrong token is a 401", method: "GET", path: RouteCollection, user: acctA, pass: "wrong", wantStatus: 401, wantCode: 20003},
		"other account's token":  {reason: "B's token does not open A", method: "GET", path: RouteCollection, user: acctA, pass: tokenB, wantStatus: 401, wantCode: 20003},
		"api key":                {reason: "an API key of the account authenticates", method: "GET", path: RouteCollection, user: "SK0000000000000000000000000000000a", pass: "key-secret", wantStatus: 200},
		"api key wrong secret":   {reason: "and its secret is checked", method: "GET", path: RouteCollection, user: "SK0000000000000000000000000000000a", pass: "nope", wantStatus: 401, wantCode: 20003},
		"unknown route":          {reason: "paths the API does not have are a 404", method: "GET", path: "/v2/Configurations/Other", wantStatus: 404, wantCode: 20404},
		"trailing slash":         {reason: "an empty id segment is no route", method: "GET", path: RouteCollection + "/", wantStatus: 404, wantCode: 20404},
		"method not allowed":     {reason: "PATCH is not in the API", method: "PATCH", path: RouteCollection + "/{existing}", body: `{}`, wantStatus: 405, wantCode: 20004},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			h.sim.AddAPIKey(acctA, "SK0000000000000000000000000000000a", "key-secret")
			id := h.createA("existing")
			h.createA("other")
			user, pass := tc.user, tc.pass
			switch user {
			case "":
				user, pass = acctA, tokenA
			case "-":
				user = ""
			}
			path := strings.ReplaceAll(tc.path, "{existing}", id)
			reqBody := strings.ReplaceAll(tc.body, "{existing}", id)
			a := h.as(user, pass, tc.method, path, reqBody)
			if a.status != tc.wantStatus {
				t.Fatalf("%s: HTTP %d, want %d: %s", tc.reason, a.status, tc.wantStatus, a.body)
			}
			if tc.wantCode == 0 {
				return
			}
			m := a.json(t)
			got := map[string]any{"code": m["code"], "status": m["status"], "more_info": m["more_info"], "has message": m["message"] != ""}
			want := map[string]any{"code": float64(tc.wantCode), "status": float64(tc.wantStatus),
				"more_info": fmt.Sprintf("https://www.twilio.com/docs/errors/%d", tc.wantCode), "has message": true}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s: error body (-want +got):\n%s", tc.reason, diff)
			}
		})
	}
}

// TestLifecycle walks one configuration through the API and checks the
// JSON shapes against the reference.
func TestLifecycle(t *testing.T) {
	h := newHarness(t)
	created := h.a("POST", RouteCollection, body("my_webhook", "https://myurl.com", "POST"))
	if created.status != http.StatusCreated {
		t.Fatalf("create: HTTP %d: %s", created.status, created.body)
	}
	m := created.json(t)
	id, _ := m["id"].(string)
	if !idPattern.MatchString(id) {
		t.Fatalf("id %q does not look like voice_clientconfiguration_<32 hex>", id)
	}
	want := map[string]any{
		"account_sid": acctA,
		"configuration": map[string]any{
			"configurationType": "Client",
			"callnotification":  map[string]any{"method": "POST", "url": "https://myurl.com"},
		},
		"description": "desc of my_webhook",
		"unique_name": "my_webhook",
		"id":          id,
	}
	// Exactly the reference's fields: no dates, no links.
	if diff := cmp.Diff(want, m); diff != "" {
		t.Errorf("create answer (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, h.a("GET", RouteCollection+"/"+id, "").json(t)); diff != "" {
		t.Errorf("get answer (-want +got):\n%s", diff)
	}

	// The reference's update omits description: it must become null.
	upd := h.a("PUT", RouteCollection+"/"+id, `{"unique_name":"my_updated_webhook","configuration":{"configurationType":"Client","callnotification":{"url":"https://my_updated_url.com","method":"POST"}}}`)
	if upd.status != http.StatusBadRequest {
		t.Fatalf("an underscore host must be refused, got HTTP %d", upd.status)
	}
	upd = h.a("PUT", RouteCollection+"/"+id, `{"unique_name":"my_updated_webhook","configuration":{"configurationType":"Client","callnotification":{"url":"https://my-updated-url.com","method":"POST"}}}`)
	if upd.status != http.StatusOK {
		t.Fatalf("put: HTTP %d: %s", upd.status, upd.body)
	}
	um := upd.json(t)
	if d, ok := um["description"]; !ok || d != nil {
		t.Errorf("description after a PUT without it = %#v, want null", d)
	}
	recs := h.sim.Configurations(acctA)
	if len(recs) != 1 || recs[0].UniqueName != "my_updated_webhook" || recs[0].Description != nil || recs[0].ID != id {
		t.Errorf("stored state after PUT = %+v", recs)
	}
	if !recs[0].DateUpdated.After(recs[0].DateCreated) && !recs[0].DateUpdated.Equal(recs[0].DateCreated) {
		t.Errorf("date_updated %v before date_created %v", recs[0].DateUpdated, recs[0].DateCreated)
	}

	// Default: set, read, and cleared by deleting its configuration.
	if a := h.a("POST", RouteDefault, `{"configuration_id":"`+id+`"}`); a.status != http.StatusNoContent || len(a.body) != 0 {
		t.Fatalf("set default: HTTP %d %q", a.status, a.body)
	}
	if got := h.a("GET", RouteDefault, "").json(t)["id"]; got != id {
		t.Errorf("default id = %v, want %s", got, id)
	}
	if a := h.a("DELETE", RouteCollection+"/"+id, ""); a.status != http.StatusNoContent {
		t.Fatalf("delete: HTTP %d", a.status)
	}
	if got := h.sim.Default(acctA); got != "" {
		t.Errorf("default after deleting its configuration = %q, want none", got)
	}
	if a := h.a("GET", RouteDefault, ""); a.status != http.StatusNotFound {
		t.Errorf("GET default after delete: HTTP %d, want 404", a.status)
	}
	if a := h.a("GET", RouteCollection+"/"+id, ""); a.status != http.StatusNotFound {
		t.Errorf("GET after delete: HTTP %d, want 404", a.status)
	}
}

// TestEscapedNames checks names that need escaping reach the right object.
func TestEscapedNames(t *testing.T) {
	h := newHarnessWith(t, Options{NameInPath: true})
	for _, name := range []string{"a/b", "100%", "ü-name", "q?x=1", "hash#tag", "Default"} {
		id := h.createA(name)
		if name == "Default" {
			// The path is the default route; only the id reaches it.
			if a := h.a("GET", RouteCollection+"/"+id, ""); a.json(t)["unique_name"] != name {
				t.Errorf("GET by id of %q answered %s", name, a.body)
			}
			continue
		}
		a := h.a("GET", RouteCollection+"/"+url.PathEscape(name), "")
		if a.status != http.StatusOK || a.json(t)["id"] != id {
			t.Errorf("GET by escaped name %q: HTTP %d %s", name, a.status, a.body)
		}
	}
}
