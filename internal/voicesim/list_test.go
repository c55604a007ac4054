package voicesim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// listAnswer is the list shape of the reference.
type listAnswer struct {
	Content []struct {
		ID         string `json:"id"`
		UniqueName string `json:"unique_name"`
	} `json:"content"`
	Meta struct {
		DirectToken   bool    `json:"direct_token"`
		ListKey       string  `json:"list_key"`
		NextToken     *string `json:"next_token"`
		PageSize      int     `json:"page_size"`
		PreviousToken *string `json:"previous_token"`
	} `json:"meta"`
}

func (h *harness) list(query string) listAnswer {
	h.t.Helper()
	a := h.a("GET", RouteCollection+query, "")
	if a.status != http.StatusOK {
		h.t.Fatalf("list %s: HTTP %d: %s", query, a.status, a.body)
	}
	var l listAnswer
	if err := json.Unmarshal(a.body, &l); err != nil {
		h.t.Fatal(err)
	}
	return l
}

func names(l listAnswer) []string {
	out := []string{}
	for _, c := range l.Content {
		out = append(out, c.UniqueName)
	}
	return out
}

// TestPagination walks 7 configurations in pages of 3 with both spellings
// of the query parameters.
func TestPagination(t *testing.T) {
	cases := map[string]struct {
		reason          string
		sizeKey, tokKey string
	}{
		"reference spelling": {reason: "the reference writes pageSize/pageToken", sizeKey: "pageSize", tokKey: "pageToken"},
		"SDK spelling":       {reason: "Twilio's SDKs send PageSize/PageToken", sizeKey: "PageSize", tokKey: "PageToken"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			var all []string
			for i := range 7 {
				n := fmt.Sprintf("cfg-%d", i)
				h.createA(n)
				all = append(all, n)
			}
			var got [][]string
			token := ""
			for {
				q := url.Values{tc.sizeKey: {"3"}}
				if token != "" {
					q.Set(tc.tokKey, token)
				}
				l := h.list("?" + q.Encode())
				if l.Meta.PageSize != 3 || l.Meta.ListKey != "content" || !l.Meta.DirectToken {
					t.Errorf("%s: meta = %+v", tc.reason, l.Meta)
				}
				if (len(got) == 0) != (l.Meta.PreviousToken == nil) {
					t.Errorf("%s: page %d previous_token = %v", tc.reason, len(got), l.Meta.PreviousToken)
				}
				got = append(got, names(l))
				if l.Meta.NextToken == nil {
					break
				}
				token = *l.Meta.NextToken
			}
			want := [][]string{all[0:3], all[3:6], all[6:7]}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s: pages (-want +got):\n%s", tc.reason, diff)
			}
		})
	}
}

// TestPaginationStable checks tokens survive deletions and creations
// between pages, and that previous tokens go back.
func TestPaginationStable(t *testing.T) {
	h := newHarness(t)
	ids := map[string]string{}
	for i := range 6 {
		n := fmt.Sprintf("cfg-%d", i)
		ids[n] = h.createA(n)
	}
	first := h.list("?pageSize=2")
	// Delete the last item of page one and the first of page two.
	h.a("DELETE", RouteCollection+"/"+ids["cfg-1"], "")
	h.a("DELETE", RouteCollection+"/"+ids["cfg-2"], "")
	h.createA("cfg-6")
	second := h.list("?pageSize=2&pageToken=" + url.QueryEscape(*first.Meta.NextToken))
	if diff := cmp.Diff([]string{"cfg-3", "cfg-4"}, names(second)); diff != "" {
		t.Errorf("page after deletions (-want +got):\n%s", diff)
	}
	back := h.list("?pageSize=2&pageToken=" + url.QueryEscape(*second.Meta.PreviousToken))
	if diff := cmp.Diff([]string{"cfg-0"}, names(back)); diff != "" {
		t.Errorf("previous page (-want +got):\n%s", diff)
	}
	if back.Meta.PreviousToken != nil {
		t.Errorf("the first page has a previous token")
	}
	third := h.list("?pageSize=2&pageToken=" + url.QueryEscape(*second.Meta.NextToken))
	if diff := cmp.Diff([]string{"cfg-5", "cfg-6"}, names(third)); diff != "" {
		t.Errorf("last page (-want +got):\n%s", diff)
	}
	if third.Meta.NextToken != nil {
		t.Errorf("the last page has a next token")
	}
}

// TestPageSizes checks the default, the reference shape's maximum and the
// clamp of Options.ClampPageSize.
func TestPageSizes(t *testing.T) {
	reference, clamped := newHarness(t), newHarnessWith(t, Options{MaxPageSize: 1000, ClampPageSize: true})
	for _, h := range []*harness{reference, clamped} {
		for i := range 55 {
			h.createA(fmt.Sprintf("n%d", i))
		}
	}
	cases := map[string]struct {
		reason   string
		h        *harness
		query    string
		wantSize int
		wantLen  int
	}{
		"default":    {reason: "no pageSize means 50", h: reference, query: "", wantSize: 50, wantLen: 50},
		"at the max": {reason: "50 is the largest page of the zero Options", h: reference, query: "?pageSize=50", wantSize: 50, wantLen: 50},
		"clamped":    {reason: "with ClampPageSize, above the max is lowered to it", h: clamped, query: "?pageSize=5000", wantSize: 1000, wantLen: 55},
		"one":        {reason: "the reference's example uses 1", h: reference, query: "?pageSize=1", wantSize: 1, wantLen: 1},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			l := tc.h.list(tc.query)
			got := [2]int{l.Meta.PageSize, len(l.Content)}
			if diff := cmp.Diff([2]int{tc.wantSize, tc.wantLen}, got); diff != "" {
				t.Errorf("%s: [page_size, items] (-want +got):\n%s", tc.reason, diff)
			}
		})
	}
}

// TestIsolation checks one account never sees or touches another's
// configurations or default.
func TestIsolation(t *testing.T) {
	h := newHarness(t)
	idA := h.createA("shared-name")
	if a := h.a("POST", RouteDefault, `{"configuration_id":"`+idA+`"}`); a.status != http.StatusNoContent {
		t.Fatalf("set default A: HTTP %d", a.status)
	}
	b := func(method, path, body string) int { return h.as(acctB, tokenB, method, path, body).status }
	cases := map[string]struct {
		reason string
		status int
		want   int
	}{
		"get by id":        {"B cannot read A's configuration by id", b("GET", RouteCollection+"/"+idA, ""), 404},
		"get by name":      {"nor by name", b("GET", RouteCollection+"/shared-name", ""), 404},
		"put":              {"nor replace it", b("PUT", RouteCollection+"/"+idA, body("x", "https://x.example", "POST")), 404},
		"delete":           {"nor delete it", b("DELETE", RouteCollection+"/"+idA, ""), 404},
		"set default":      {"nor make it B's default", b("POST", RouteDefault, `{"configuration_id":"`+idA+`"}`), 404},
		"get default":      {"A's default is not B's", b("GET", RouteDefault, ""), 404},
		"create same name": {"names are unique per account only", b("POST", RouteCollection, body("shared-name", "https://x.example", "POST")), 201},
		"unset default":    {"B unsetting its default leaves A's", b("DELETE", RouteDefault, ""), 204},
	}
	for name, tc := range cases {
		if tc.status != tc.want {
			t.Errorf("%s: %s: HTTP %d, want %d", name, tc.reason, tc.status, tc.want)
		}
	}
	l := h.list("")
	if diff := cmp.Diff([]string{"shared-name"}, names(l)); diff != "" {
		t.Errorf("A's list (-want +got):\n%s", diff)
	}
	if got := h.sim.Default(acctA); got != idA {
		t.Errorf("A's default = %q, want %q", got, idA)
	}
	if got := len(h.sim.Configurations(acctB)); got != 1 {
		t.Errorf("B holds %d configurations, want 1", got)
	}
}
