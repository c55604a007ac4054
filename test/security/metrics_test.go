package security_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/twilio-operator/voice-operator/internal/localenv"
	"github.com/twilio-operator/voice-operator/internal/localenv/kube"
)

// TestMetricsNeedATokenAllowedToReadThem runs the operator as installed:
// metrics over HTTPS, each scrape authenticated and authorized by the
// apiserver with the rights config/rbac gives the operator. A scrape
// without a token, or with the token of a ServiceAccount that lacks the
// metrics-reader ClusterRole, gets nothing; with the role, it gets the
// metrics. Two replicas run with leader election, and the standby, whose
// writes the leadership fence refuses, must answer the same: Prometheus
// scrapes every replica.
func TestMetricsNeedATokenAllowedToReadThem(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	env := kube.StartTestEnv(ctx, t, "../..")

	replicas := map[string]*localenv.Operator{}
	for _, name := range []string{"first", "second"} {
		o := env.OperatorOptions("--leader-elect", "--leader-election-namespace", kube.OperatorNamespace)
		o.SecureMetrics = true
		op, err := localenv.StartOperator(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = op.Stop() })
		replicas[name] = op
	}

	stranger, scraper := serviceAccountToken(ctx, t, env, "stranger"), serviceAccountToken(ctx, t, env, "scraper")
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "scraper-reads-metrics"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "metrics-reader"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: "default", Name: "scraper"}},
	}
	if err := env.Client.Create(ctx, binding); err != nil {
		t.Fatal(err)
	}

	for name, op := range replicas {
		if code, _ := scrape(ctx, t, op, ""); code != http.StatusUnauthorized {
			t.Errorf("%s replica: a scrape without a token got %d, want 401", name, code)
		}
		// controller-runtime's filter answers 500 when the TokenReview
		// carries an error, as it does for a token that is no JWT at all.
		if code, _ := scrape(ctx, t, op, "not-a-token"); code != http.StatusUnauthorized && code != http.StatusInternalServerError {
			t.Errorf("%s replica: a scrape with a made-up token got %d, want it refused", name, code)
		}
		if code, _ := scrape(ctx, t, op, stranger); code != http.StatusForbidden {
			t.Errorf("%s replica: a scrape by a ServiceAccount without metrics-reader got %d, want 403", name, code)
		}
		code, body := scrape(ctx, t, op, scraper)
		if code != http.StatusOK {
			t.Errorf("%s replica: a scrape with the metrics-reader role got %d: %s", name, code, body)
			continue
		}
		if !strings.Contains(body, "voice_operator_") {
			t.Errorf("%s replica: the metrics hold none of the operator's own:\n%.500s", name, body)
		}
	}
}

// serviceAccountToken creates a ServiceAccount in default and returns a
// token of it, as a Pod running under it would hold.
func serviceAccountToken(ctx context.Context, t *testing.T, env *kube.Env, name string) string {
	t.Helper()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name}}
	if err := env.Client.Create(ctx, sa); err != nil {
		t.Fatal(err)
	}
	request := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: new(int64(600))}}
	if err := env.Client.SubResource("token").Create(ctx, sa, request); err != nil {
		t.Fatalf("requesting a token for the ServiceAccount %s: %v", name, err)
	}
	return request.Status.Token
}

// scrape GETs the operator's metrics with a bearer token (none if empty)
// and returns the status code and body.
func scrape(ctx context.Context, t *testing.T, op *localenv.Operator, token string) (int, string) {
	t.Helper()
	if !strings.HasPrefix(op.MetricsURL(), "https://") {
		t.Fatalf("metrics are served at %s, not over HTTPS", op.MetricsURL())
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, op.MetricsURL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	client := &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // the operator's self-signed certificate, on loopback
	}}
	defer client.CloseIdleConnections()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("scraping %s: %v", op.MetricsURL(), err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(fmt.Errorf("reading the metrics: %w", err))
	}
	return resp.StatusCode, string(body)
}
