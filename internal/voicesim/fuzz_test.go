package voicesim

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// FuzzSimulatorRequest throws arbitrary requests at the simulator: it must
// never panic, and its answers must keep their contract (a Twilio-style
// error body on every API error, valid JSON on every JSON success).
func FuzzSimulatorRequest(f *testing.F) {
	seeds := []struct {
		method, path, query, body string
		auth                      bool
	}{
		{"POST", RouteCollection, "", body("my_webhook", "https://myurl.com", "POST"), true},
		{"POST", RouteCollection, "", `{"unique_name":"a","configuration":{"configurationType":"Client","callnotification":{"url":"https://x"}}}`, true},
		{"POST", RouteCollection, "", `{"unique_name":"a b"}`, true},
		{"POST", RouteCollection, "", `{"unique_name":null,"description":5,"configuration":[]}`, true},
		{"POST", RouteCollection, "", `{"unique_name":"x","configuration":{"configurationType":"Client","callnotification":{"url":"http://[::1"}}}`, true},
		{"PUT", RouteCollection + "/existing", "", body("renamed", "https://y.example", "GET"), true},
		{"PUT", RouteCollection + "/existing", "", `{"unique_name":"existing"}`, true},
		{"GET", RouteCollection, "pageSize=1&pageToken=bjE", "", true},
		{"GET", RouteCollection, "PageSize=-5&PageToken=cDk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5", "", true},
		{"GET", RouteCollection + "/a%2Fb", "", "", true},
		{"GET", RouteCollection + "/%zz", "", "", true},
		{"DELETE", RouteCollection + "/existing", "", "", true},
		{"POST", RouteDefault, "", `{"configuration_id":"existing"}`, true},
		{"POST", RouteDefault, "", `{"configuration_id":7}`, true},
		{"GET", RouteDefault, "", "", false},
		{"PUT", "/_sim/faults", "", `{"unavailable":0.5,"latency":"1ms"}`, false},
		{"POST", "/_sim/accounts/" + acctA + "/configurations", "", `{"unique_name":"o"}`, false},
		{"PATCH", "/_sim/accounts/" + acctA + "/configurations/existing", "", `{"description":null,"unique_name":""}`, false},
	}
	for _, s := range seeds {
		f.Add(s.method, s.path, s.query, s.body, s.auth)
	}
	f.Fuzz(func(t *testing.T, method, path, query, reqBody string, auth bool) {
		u, err := url.Parse("http://sim.test" + path)
		if err != nil || !strings.HasPrefix(path, "/") {
			return
		}
		u.RawQuery = query
		sim := New(Options{})
		sim.AddAccount(acctA, tokenA)
		if _, err := sim.CreateOutOfBand(acctA, Record{UniqueName: "existing", CallNotificationURL: "https://e.example"}); err != nil {
			t.Fatal(err)
		}
		req := &http.Request{
			Method:     method,
			URL:        u,
			Host:       u.Host,
			Header:     http.Header{"Content-Type": {"application/json"}},
			Body:       http.NoBody,
			RemoteAddr: "127.0.0.1:9",
		}
		if reqBody != "" {
			req.Body = readCloser{strings.NewReader(reqBody)}
			req.ContentLength = int64(len(reqBody))
		}
		req = req.WithContext(t.Context())
		if auth {
			req.SetBasicAuth(acctA, tokenA)
		}
		rec := httptest.NewRecorder()
		sim.ServeHTTP(rec, req)

		if rec.Code < 100 || rec.Code > 599 {
			t.Fatalf("status %d", rec.Code)
		}
		if strings.HasPrefix(u.Path, "/_sim") {
			return
		}
		b := rec.Body.Bytes()
		if rec.Code >= 400 {
			var e struct {
				Code   int `json:"code"`
				Status int `json:"status"`
			}
			if err := json.Unmarshal(b, &e); err != nil || e.Status != rec.Code || e.Code == 0 {
				t.Fatalf("HTTP %d without a Twilio error body: %q", rec.Code, b)
			}
		} else if len(b) > 0 && !json.Valid(b) {
			t.Fatalf("HTTP %d with invalid JSON: %q", rec.Code, b)
		}
	})
}

type readCloser struct{ *strings.Reader }

func (readCloser) Close() error { return nil }
