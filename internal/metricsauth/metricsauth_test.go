package metricsauth

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/go-logr/logr"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// apiserver answers the reviews: tokens maps a token to its user, allowed
// says which users may GET /metrics. It counts the reviews it answered.
type apiserver struct {
	tokens  map[string]string
	allowed map[string]bool
	down    bool

	tokenReviews, accessReviews int
	lastAccess                  authorizationv1.SubjectAccessReviewSpec
}

type tokenReviews struct{ a *apiserver }

func (t tokenReviews) Create(_ context.Context, tr *authenticationv1.TokenReview, _ metav1.CreateOptions) (*authenticationv1.TokenReview, error) {
	t.a.tokenReviews++
	if t.a.down {
		return nil, errors.New("connection refused")
	}
	out := tr.DeepCopy()
	if user, ok := t.a.tokens[tr.Spec.Token]; ok {
		out.Status = authenticationv1.TokenReviewStatus{Authenticated: true,
			User: authenticationv1.UserInfo{Username: user, Groups: []string{"system:serviceaccounts"}, Extra: map[string]authenticationv1.ExtraValue{"k": {"v"}}}}
	}
	return out, nil
}

type accessReviews struct{ a *apiserver }

func (s accessReviews) Create(_ context.Context, sar *authorizationv1.SubjectAccessReview, _ metav1.CreateOptions) (*authorizationv1.SubjectAccessReview, error) {
	s.a.accessReviews++
	s.a.lastAccess = sar.Spec
	out := sar.DeepCopy()
	attrs := sar.Spec.NonResourceAttributes
	out.Status.Allowed = s.a.allowed[sar.Spec.User] && attrs != nil && attrs.Path == "/metrics" && attrs.Verb == "get"
	return out, nil
}

func setUp(t *testing.T) (*apiserver, *Reviewer, *time.Time, http.Handler, *int) {
	t.Helper()
	a := &apiserver{
		tokens:  map[string]string{"prometheus-token": "system:serviceaccount:monitoring:prometheus", "intruder-token": "system:serviceaccount:default:intruder"},
		allowed: map[string]bool{"system:serviceaccount:monitoring:prometheus": true},
	}
	v := NewFromClients(tokenReviews{a}, accessReviews{a})
	now := time.Unix(1_700_000_000, 0)
	v.now = func() time.Time { return now }
	served := 0
	h, err := v.Filter(logr.Discard(), http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		served++
		_, _ = w.Write([]byte("metrics"))
	}))
	if err != nil {
		t.Fatal(err)
	}
	return a, v, &now, h, &served
}

func get(h http.Handler, token string) int {
	r := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Code
}

func TestOnlyAnAuthenticatedAndAllowedCallerReadsTheMetrics(t *testing.T) {
	a, _, _, h, served := setUp(t)
	cases := []struct {
		name, token string
		want        int
	}{
		{"no token", "", http.StatusUnauthorized},
		{"a token the apiserver does not know", "made-up", http.StatusUnauthorized},
		{"a known identity without the permission", "intruder-token", http.StatusForbidden},
		{"an identity allowed to GET /metrics", "prometheus-token", http.StatusOK},
	}
	for _, c := range cases {
		if got := get(h, c.token); got != c.want {
			t.Errorf("%s: %d, want %d", c.name, got, c.want)
		}
	}
	if *served != 1 {
		t.Errorf("the metrics were served %d times, want once (to the allowed caller)", *served)
	}
	if got := a.lastAccess; got.User != "system:serviceaccount:monitoring:prometheus" || len(got.Groups) != 1 || got.Extra["k"][0] != "v" ||
		got.NonResourceAttributes == nil || got.NonResourceAttributes.Verb != "get" || got.NonResourceAttributes.Path != "/metrics" {
		t.Errorf("the access review asked %+v, want the caller's user, groups and extra, for get /metrics", got)
	}
	if a.tokenReviews != 3 {
		t.Errorf("%d token reviews, want 3: a request without a token asks nothing", a.tokenReviews)
	}
}

func TestADecisionIsReusedForAWhileThenAskedAgain(t *testing.T) {
	a, _, now, h, _ := setUp(t)
	for range 3 {
		if got := get(h, "prometheus-token"); got != http.StatusOK {
			t.Fatalf("allowed caller: %d", got)
		}
	}
	if a.tokenReviews != 1 || a.accessReviews != 1 {
		t.Errorf("three scrapes in a row cost %d token and %d access reviews, want 1 each", a.tokenReviews, a.accessReviews)
	}
	// The permission is taken away: within a minute the old answer holds,
	// after it the new one.
	a.allowed = map[string]bool{}
	*now = now.Add(allowedTTL - time.Second)
	if got := get(h, "prometheus-token"); got != http.StatusOK {
		t.Errorf("within the minute: %d, want the remembered 200", got)
	}
	*now = now.Add(2 * time.Second)
	if got := get(h, "prometheus-token"); got != http.StatusForbidden {
		t.Errorf("after the minute: %d, want 403", got)
	}
	// A refusal is kept only briefly.
	a.allowed = map[string]bool{"system:serviceaccount:monitoring:prometheus": true}
	*now = now.Add(refusedTTL + time.Second)
	if got := get(h, "prometheus-token"); got != http.StatusOK {
		t.Errorf("a permission granted %v after a refusal: %d, want 200", refusedTTL, got)
	}
}

func TestAnUnreachableApiserverRefusesWithoutServing(t *testing.T) {
	a, _, _, h, served := setUp(t)
	a.down = true
	if got := get(h, "prometheus-token"); got != http.StatusInternalServerError {
		t.Errorf("apiserver down: %d, want 500", got)
	}
	if *served != 0 {
		t.Error("metrics served without a review")
	}
	a.down = false
	if got := get(h, "prometheus-token"); got != http.StatusOK {
		t.Errorf("apiserver back: %d, want 200 (a failure is not remembered)", got)
	}
}

func TestDecisionsStayBounded(t *testing.T) {
	a, v, now, h, _ := setUp(t)
	for i := range maxEntries + 10 {
		token := "tok-" + string(rune('a'+i%26)) + time.Duration(i).String()
		a.tokens[token] = "user"
		get(h, token)
		*now = now.Add(time.Millisecond)
	}
	v.mu.Lock()
	n := len(v.decisions)
	v.mu.Unlock()
	if n > maxEntries {
		t.Errorf("%d decisions kept, want at most %d", n, maxEntries)
	}
}

func TestDecisionKeysDoNotCollideAcrossFields(t *testing.T) {
	if decisionKey("get", "/a b", "T") == decisionKey("get", "/a", "b T") {
		t.Error("a path with a space and a token with a space share a key")
	}
	same := "T"
	if decisionKey("get", "/metrics", same) != decisionKey("get", "/metrics", "T") {
		t.Error("the same request gets two keys")
	}
}
