// Package metricsauth guards the metrics endpoint the way Kubernetes
// components guard theirs: a caller presents a bearer token, the apiserver
// says whose it is (TokenReview) and whether that identity may GET the
// path (SubjectAccessReview, a non-resource URL such as /metrics). No
// token or one the apiserver does not know is 401; an identity without
// the permission is 403.
//
// controller-runtime's filters.WithAuthenticationAndAuthorization does the
// same through k8s.io/apiserver's delegating authenticator and authorizer,
// which bring some 260 packages into the binary (CEL, OpenTelemetry, gRPC
// among them) and 15 MiB of resident memory for its pages alone; these
// two reviews are all the operator needs of them (docs/performance.md).
package metricsauth

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	authenticationv1client "k8s.io/client-go/kubernetes/typed/authentication/v1"
	authorizationv1client "k8s.io/client-go/kubernetes/typed/authorization/v1"
	"k8s.io/client-go/rest"
)

// How long a decision is reused for the same token, verb and path. The
// apiserver's own webhook authenticator keeps a TokenReview 2 minutes; a
// Prometheus scraping every 15 s then costs the apiserver two reviews a
// minute instead of eight. A refusal is kept shorter, so that a newly
// granted permission works soon.
const (
	allowedTTL = time.Minute
	refusedTTL = 10 * time.Second
	// maxEntries bounds the decisions kept; past it, expired ones go.
	maxEntries = 1024
	// reviewTimeout bounds the reviews of one request.
	reviewTimeout = 10 * time.Second
)

// Reviewer asks the apiserver about callers. It is safe for concurrent use.
type Reviewer struct {
	tokens authenticationv1client.TokenReviewInterface
	access authorizationv1client.SubjectAccessReviewInterface
	now    func() time.Time

	mu        sync.Mutex
	decisions map[[sha256.Size]byte]decision
}

// decision is a reviewed request's HTTP status and until when it holds.
type decision struct {
	status int
	until  time.Time
}

// New returns a Reviewer that sends its reviews through cfg and client.
func New(cfg *rest.Config, client *http.Client) (*Reviewer, error) {
	authn, err := authenticationv1client.NewForConfigAndClient(cfg, client)
	if err != nil {
		return nil, fmt.Errorf("metrics authentication client: %w", err)
	}
	authz, err := authorizationv1client.NewForConfigAndClient(cfg, client)
	if err != nil {
		return nil, fmt.Errorf("metrics authorization client: %w", err)
	}
	return NewFromClients(authn.TokenReviews(), authz.SubjectAccessReviews()), nil
}

// NewFromClients returns a Reviewer that uses these clients.
func NewFromClients(tokens authenticationv1client.TokenReviewInterface, access authorizationv1client.SubjectAccessReviewInterface) *Reviewer {
	return &Reviewer{tokens: tokens, access: access, now: time.Now, decisions: map[[sha256.Size]byte]decision{}}
}

// Filter wraps handler so that only callers the apiserver authenticates
// and allows through reach it. Its signature is controller-runtime's
// metrics server filter.
func (v *Reviewer) Filter(log logr.Logger, handler http.Handler) (http.Handler, error) {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := bearerToken(r)
		if !ok {
			http.Error(w, "Unauthorized: a bearer token is required", http.StatusUnauthorized)
			return
		}
		status, err := v.decide(r.Context(), token, strings.ToLower(r.Method), r.URL.Path)
		switch {
		case err != nil:
			log.Error(err, "Could not review a metrics request")
			http.Error(w, "Internal Server Error: the request could not be reviewed", http.StatusInternalServerError)
		case status == http.StatusUnauthorized:
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
		case status == http.StatusForbidden:
			http.Error(w, fmt.Sprintf("Forbidden: %s %s is not allowed for this identity", r.Method, r.URL.Path), http.StatusForbidden)
		default:
			handler.ServeHTTP(w, r)
		}
	}), nil
}

// bearerToken is the token of an "Authorization: Bearer <token>" header.
func bearerToken(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	token = strings.TrimSpace(token)
	return token, ok && strings.EqualFold(scheme, "Bearer") && token != ""
}

// decide returns 200, 401 or 403 for token asking verb on path, from a
// recent decision or from the apiserver.
func (v *Reviewer) decide(ctx context.Context, token, verb, path string) (int, error) {
	key := decisionKey(verb, path, token)
	now := v.now()
	v.mu.Lock()
	d, ok := v.decisions[key]
	v.mu.Unlock()
	if ok && now.Before(d.until) {
		return d.status, nil
	}
	status, err := v.review(ctx, token, verb, path)
	if err != nil {
		return 0, err
	}
	ttl := refusedTTL
	if status == http.StatusOK {
		ttl = allowedTTL
	}
	v.remember(key, decision{status: status, until: now.Add(ttl)}, now)
	return status, nil
}

// decisionKey identifies a decision: each field length-prefixed, so that
// no two different (verb, path, token) share a key, whatever they hold.
func decisionKey(verb, path, token string) [sha256.Size]byte {
	h := sha256.New()
	for _, field := range []string{verb, path, token} {
		_, _ = fmt.Fprintf(h, "%d:%s", len(field), field)
	}
	var key [sha256.Size]byte
	h.Sum(key[:0])
	return key
}

// review asks the apiserver who holds token, and whether they may.
func (v *Reviewer) review(ctx context.Context, token, verb, path string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, reviewTimeout)
	defer cancel()
	tr, err := v.tokens.Create(ctx, &authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: token}}, metav1.CreateOptions{})
	if err != nil {
		return 0, fmt.Errorf("reviewing a token: %w", err)
	}
	if !tr.Status.Authenticated {
		return http.StatusUnauthorized, nil
	}
	user := tr.Status.User
	extra := make(map[string]authorizationv1.ExtraValue, len(user.Extra))
	for k, vals := range user.Extra {
		extra[k] = authorizationv1.ExtraValue(vals)
	}
	sar, err := v.access.Create(ctx, &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User: user.Username, UID: user.UID, Groups: user.Groups, Extra: extra,
		NonResourceAttributes: &authorizationv1.NonResourceAttributes{Path: path, Verb: verb},
	}}, metav1.CreateOptions{})
	if err != nil {
		return 0, fmt.Errorf("reviewing access to %s %s: %w", verb, path, err)
	}
	if !sar.Status.Allowed {
		return http.StatusForbidden, nil
	}
	return http.StatusOK, nil
}

// remember keeps d, dropping expired decisions when there are too many.
func (v *Reviewer) remember(key [sha256.Size]byte, d decision, now time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.decisions) >= maxEntries {
		for k, old := range v.decisions {
			if !now.Before(old.until) {
				delete(v.decisions, k)
			}
		}
		if len(v.decisions) >= maxEntries {
			clear(v.decisions)
		}
	}
	v.decisions[key] = d
}
