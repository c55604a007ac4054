package voice

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestParseRetryAfter covers both forms of Retry-After and odd values.
func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	cases := map[string]struct {
		reason string
		in     string
		want   time.Duration
	}{
		"absent":   {"no header, no wait", "", 0},
		"seconds":  {"delay-seconds", "7", 7 * time.Second},
		"spaces":   {"surrounding spaces", " 3 ", 3 * time.Second},
		"zero":     {"zero means now", "0", 0},
		"negative": {"nonsense is ignored", "-5", 0},
		"date":     {"an HTTP date", now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		"past":     {"a date in the past means now", now.Add(-time.Hour).Format(http.TimeFormat), 0},
		"huge":     {"capped at an hour", "99999999999", time.Hour},
		"far date": {"capped at an hour", now.AddDate(1, 0, 0).Format(http.TimeFormat), time.Hour},
		"garbage":  {"unreadable is ignored", "soon", 0},
		"fraction": {"not an integer", "1.5", 0},
	}
	for name, tc := range cases {
		if got := parseRetryAfter(tc.in, now); got != tc.want {
			t.Errorf("%s: %s: parseRetryAfter(%q) = %v, want %v", name, tc.reason, tc.in, got, tc.want)
		}
	}
}

// TestClassify covers the status → class table.
func TestClassify(t *testing.T) {
	cases := map[int]struct {
		reason string
		want   Class
	}{
		200: {"not an error status", ClassUnknown},
		301: {"redirects are not followed", ClassUnknown},
		400: {"bad request", ClassInvalid},
		401: {"credentials refused", ClassUnauthorized},
		403: {"accepted credentials, refused API", ClassForbidden},
		404: {"not found", ClassNotFound},
		405: {"another 4xx", ClassInvalid},
		409: {"name taken", ClassConflict},
		413: {"too large", ClassInvalid},
		422: {"unprocessable", ClassInvalid},
		429: {"throttled", ClassThrottled},
		500: {"server error", ClassUnavailable},
		503: {"unavailable", ClassUnavailable},
		599: {"any 5xx", ClassUnavailable},
		600: {"not HTTP", ClassUnknown},
	}
	for code, tc := range cases {
		if got := classify(code); got != tc.want {
			t.Errorf("%d: %s: %v, want %v", code, tc.reason, got, tc.want)
		}
	}
}

// TestErrorText checks messages read well and stay short whatever the
// server sent.
func TestErrorText(t *testing.T) {
	cases := map[string]struct {
		reason string
		err    *Error
		want   string
	}{
		"twilio": {"a Twilio error body", &Error{Op: "get", StatusCode: 404, Code: 20404, Message: "The requested resource was not found", Class: ClassNotFound},
			"get: HTTP 404 Not Found: The requested resource was not found (code 20404)"},
		"network": {"a network failure", &Error{Op: "create", Message: "POST /v2/Configurations/Client failed", Err: errors.New("EOF"), Ambiguous: true, Class: ClassUnavailable},
			"create: POST /v2/Configurations/Client failed: EOF; the request may have been applied"},
		"throttled": {"with a wait", &Error{Op: "list", StatusCode: 429, Class: ClassThrottled, RetryAfter: 2 * time.Second},
			"list: HTTP 429 Too Many Requests; retry after 2s"},
		"malformed": {"an unreadable answer", &Error{Op: "get", StatusCode: 200, ContentType: "text/html", Class: ClassMalformed, Err: errors.New("x")},
			"get: unreadable response (HTTP 200, text/html): x"},
		"bare": {"nothing known", &Error{Op: "delete"}, "delete: request failed"},
	}
	for name, tc := range cases {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("%s: %s:\n got %q\nwant %q", name, tc.reason, got, tc.want)
		}
	}
	// A hostile error body: long, with control characters.
	e := &Error{Op: "get", StatusCode: 400}
	decodeErrorBody(e, []byte(`{"code":"20001","message":"line1\nline2\u0000`+strings.Repeat("x", 5000)+`","more_info":7}`), nil)
	if e.Code != 20001 || strings.ContainsAny(e.Message, "\n\x00") || len(e.Message) > maxMessage+4 || e.MoreInfo != "" {
		t.Errorf("hostile body decoded to %+v", e)
	}
}

// TestClassHelpers checks ClassOf and friends on wrapped and foreign errors.
func TestClassHelpers(t *testing.T) {
	inner := &Error{Op: "create", Class: ClassUnavailable, Ambiguous: true, RetryAfter: time.Second}
	wrapped := fmt.Errorf("reconcile: %w", inner)
	type got struct {
		Class      Class
		NotFound   bool
		Ambiguous  bool
		RetryAfter time.Duration
	}
	cases := map[string]struct {
		reason string
		err    error
		want   got
	}{
		"nil":      {"no error has no class", nil, got{ClassUnknown, false, false, 0}},
		"foreign":  {"other errors are Unknown", errors.New("x"), got{ClassUnknown, false, false, 0}},
		"canceled": {"the caller's context", fmt.Errorf("x: %w", errContextCanceled()), got{ClassUnavailable, false, false, 0}},
		"wrapped":  {"found through wrapping", wrapped, got{ClassUnavailable, false, true, time.Second}},
		"notfound": {"the helper", &Error{Class: ClassNotFound}, got{ClassNotFound, true, false, 0}},
	}
	for name, tc := range cases {
		g := got{ClassOf(tc.err), IsNotFound(tc.err), IsAmbiguous(tc.err), RetryAfterOf(tc.err)}
		if diff := cmp.Diff(tc.want, g); diff != "" {
			t.Errorf("%s: %s (-want +got):\n%s", name, tc.reason, diff)
		}
	}
	if ClassMalformed.String() != "Malformed" || Class(42).String() != "Class(42)" {
		t.Errorf("Class.String: %v %v", ClassMalformed, Class(42))
	}
}

func errContextCanceled() error {
	c, cancel := contextWithCancel()
	cancel()
	return c.Err()
}

// TestUserAgent checks odd versions cannot break the header.
func TestUserAgent(t *testing.T) {
	for in, want := range map[string]string{"": "voice-operator/dev ", "v1.2.3": "voice-operator/v1.2.3 ", "1 (x)\r\n": "voice-operator/1x "} {
		if got := userAgent(in); !strings.HasPrefix(got, want) {
			t.Errorf("userAgent(%q) = %q, want prefix %q", in, got, want)
		}
	}
}
