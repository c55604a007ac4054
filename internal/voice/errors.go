package voice

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Class is what kind of failure an error is, which decides what a caller
// does next. Use ClassOf to get it from any error.
type Class int

// The error classes.
const (
	// ClassUnknown is nil, a foreign error, or an answer no other class fits
	// (a 1xx or 3xx status).
	ClassUnknown Class = iota
	// ClassNotFound is a 404: the configuration (or default) does not exist.
	ClassNotFound
	// ClassConflict is a 409: the unique name is taken in the account.
	ClassConflict
	// ClassUnauthorized is a 401: the credentials were refused.
	ClassUnauthorized
	// ClassInvalid is a 400, 422 or other 4xx: the request itself is wrong
	// and repeating it will not help. Arguments the client refuses before
	// sending anything are ClassInvalid too.
	ClassInvalid
	// ClassThrottled is a 429, or the client-side rate limiter refusing to
	// queue the call; RetryAfter says how long to wait when known.
	ClassThrottled
	// ClassUnavailable is a 5xx, a network failure, a timeout, or the
	// caller's context ending.
	ClassUnavailable
	// ClassMalformed is a successful status whose body cannot be read:
	// truncated or wrongly typed JSON, an HTML page, an empty or oversized
	// body, a configuration without an id or account_sid.
	ClassMalformed
	// ClassAccountMismatch is an answer about a configuration of another
	// account than the credentials claim (Error.Account): the Secret pairs
	// one account's SID with another account's API key, or the API is not
	// the account's. Nothing should be written until a person fixes it.
	ClassAccountMismatch
	// ClassForbidden is a 403, or a 404 to the List of the collection itself
	// (which exists for every account that has the API): the credentials
	// were accepted, but they may not use this API. Client Configurations
	// are a Private Beta; an account Twilio has not enabled, or an API key
	// restricted to other products, gets this.
	ClassForbidden
)

var classNames = [...]string{"Unknown", "NotFound", "Conflict", "Unauthorized", "Invalid", "Throttled", "Unavailable", "Malformed", "AccountMismatch", "Forbidden"}

// String returns the class name, e.g. "Throttled".
func (c Class) String() string {
	if c < 0 || int(c) >= len(classNames) {
		return fmt.Sprintf("Class(%d)", int(c))
	}
	return classNames[c]
}

// Retryable reports whether the same request may succeed later without any
// change: Throttled, Unavailable and Malformed.
func (c Class) Retryable() bool {
	return c == ClassThrottled || c == ClassUnavailable || c == ClassMalformed
}

// classify maps an HTTP status to its class.
func classify(status int) Class {
	switch {
	case status == http.StatusNotFound:
		return ClassNotFound
	case status == http.StatusConflict:
		return ClassConflict
	case status == http.StatusUnauthorized:
		return ClassUnauthorized
	case status == http.StatusForbidden:
		return ClassForbidden
	case status == http.StatusTooManyRequests:
		return ClassThrottled
	case status >= 500 && status <= 599:
		return ClassUnavailable
	case status >= 400 && status <= 499:
		return ClassInvalid
	}
	return ClassUnknown
}

// Error is every error the client returns (the context's own errors are
// wrapped in one too). It never holds credentials.
type Error struct {
	// Op is the client operation: "create", "get", "update", "delete",
	// "list", "find", "set-default", "get-default", "unset-default".
	Op string
	// StatusCode is the HTTP status of the last answer; 0 when there was
	// none (network failure, timeout, or refused before sending).
	StatusCode int
	// Code is Twilio's error code from the answer body, 0 when absent.
	Code int
	// Message is Twilio's message from the answer body, or the client's own
	// description; sanitised and shortened.
	Message string
	// MoreInfo is Twilio's link to the error's documentation.
	MoreInfo string
	// Class says what kind of failure this is.
	Class Class
	// RetryAfter is how long the server (Retry-After) or the client-side
	// rate limiter asks to wait; 0 when unknown.
	RetryAfter time.Duration
	// Ambiguous is true when a non-idempotent request (a create) may have
	// been applied although no success was seen: a timeout, reset or EOF
	// after sending, a 5xx, or an unreadable success answer. Look the
	// unique name up before creating again.
	Ambiguous bool
	// Err is the underlying cause (a network or decoding error), if any.
	Err error
	// ContentType is the answer's Content-Type, kept for Malformed errors.
	ContentType string
	// NotSent is true when the client refused to send the request at all:
	// the account's gate was closed after a 429, or the rate limit would
	// have made the call wait longer than MaxRetryWait. Nothing reached the
	// API; RetryAfter says when to try again.
	NotSent bool
	// Attempts is how many HTTP attempts the operation made.
	Attempts int
	// Account is, for ClassAccountMismatch, the account the API answered
	// for.
	Account string
	// ID is, for ClassAccountMismatch, the configuration the answer was
	// about. After a create it is the configuration just made in the wrong
	// account, which the caller should delete with the same client.
	ID string

	// callerDone marks errors caused by the caller's context, which must
	// never be retried.
	callerDone bool
}

// Error describes the failure in one line, e.g.
// "get: HTTP 404 Not Found: The requested resource was not found (code 20404)".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Op)
	b.WriteString(": ")
	switch {
	case e.Class == ClassMalformed && e.StatusCode != 0:
		ct := e.ContentType
		if ct == "" {
			ct = "no content type"
		}
		fmt.Fprintf(&b, "unreadable response (HTTP %d, %s)", e.StatusCode, ct)
	case e.StatusCode != 0:
		fmt.Fprintf(&b, "HTTP %d", e.StatusCode)
		if t := http.StatusText(e.StatusCode); t != "" {
			b.WriteString(" " + t)
		}
	}
	if e.Message != "" {
		if e.StatusCode != 0 {
			b.WriteString(": ")
		}
		b.WriteString(e.Message)
	} else if e.StatusCode == 0 {
		b.WriteString("request failed")
	}
	if e.Code != 0 {
		fmt.Fprintf(&b, " (code %d)", e.Code)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	if e.Attempts > 1 {
		fmt.Fprintf(&b, " (after %d attempts)", e.Attempts)
	}
	if e.Ambiguous {
		b.WriteString("; the request may have been applied")
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, "; retry after %v", e.RetryAfter)
	}
	return b.String()
}

// Unwrap returns the underlying cause, so errors.Is finds
// context.DeadlineExceeded and friends.
func (e *Error) Unwrap() error { return e.Err }

// ClassOf returns the class of err: its *Error's class, ClassUnavailable for
// a bare context.Canceled or context.DeadlineExceeded, ClassUnknown for nil
// and for any other error.
func ClassOf(err error) Class {
	if err == nil {
		return ClassUnknown
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Class
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return ClassUnavailable
	}
	return ClassUnknown
}

// IsNotFound reports whether err is ClassNotFound. Callers deleting a
// configuration treat it as done.
func IsNotFound(err error) bool { return ClassOf(err) == ClassNotFound }

// IsConflict reports whether err is ClassConflict (unique name taken).
func IsConflict(err error) bool { return ClassOf(err) == ClassConflict }

// IsRetryable reports whether err's class may succeed later unchanged.
func IsRetryable(err error) bool { return ClassOf(err).Retryable() }

// IsAmbiguous reports whether err is from a create that may have been
// applied; the caller must look the unique name up before creating again.
func IsAmbiguous(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Ambiguous
}

// IsNotSent reports whether err is a request the client never sent (see
// Error.NotSent): nothing happened remotely, and RetryAfterOf says when to
// come back.
func IsNotSent(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.NotSent
}

// RetryAfterOf returns how long err asks the caller to wait, 0 if it does
// not say.
func RetryAfterOf(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}

// userinfo matches the credentials part of any URL in a text.
var userinfo = regexp.MustCompile(`(?i)\b([a-z][a-z0-9+.-]*://)[^\s/?#@"'<>]*@`)

// scrub removes credentials from text that came from the network: the
// user:password@ of any URL, and every secret the request carried, in the
// forms an answer could quote it (as is, URL-escaped, JSON-escaped).
func scrub(text string, secrets []string) string {
	text = userinfo.ReplaceAllString(text, "${1}redacted@")
	for _, secret := range secrets {
		if len(secret) < 4 {
			continue // too short to tell apart from ordinary text
		}
		quoted, _ := json.Marshal(secret)
		for _, form := range []string{secret, url.QueryEscape(secret), url.PathEscape(secret), string(quoted[1 : len(quoted)-1])} {
			text = strings.ReplaceAll(text, form, "redacted")
		}
	}
	return text
}

// maxMessage caps a message taken from an answer, so a hostile or broken
// server cannot flood conditions and logs.
const maxMessage = 300

// sanitize makes text from the network safe for one log line: invalid
// UTF-8 and control characters become spaces, and it is cut to max bytes.
func sanitize(s string, max int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
