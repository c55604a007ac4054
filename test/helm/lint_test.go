package helm_test

import (
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/v2/lint/support"
)

// TestLintPasses runs the SDK's lint action (helm lint --strict) with the
// default values and with each non-default values file: no warning and no
// error, so a warning about the chart fails here rather than in a user's CI.
func TestLintPasses(t *testing.T) {
	for _, tc := range []struct {
		name   string
		values map[string]any
	}{
		{"default values", nil},
		{"custom-values.yaml", valuesFile(t, "custom-values.yaml")},
		{"secure-monitoring.yaml", valuesFile(t, "secure-monitoring.yaml")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			result := lintChart(t, tc.values)
			if result.TotalChartsLinted != 1 {
				t.Errorf("linted %d charts, want 1", result.TotalChartsLinted)
			}
			for _, msg := range result.Messages {
				if msg.Severity > support.InfoSev {
					t.Errorf("lint: %s", msg)
				} else {
					t.Logf("lint (info only): %s", msg)
				}
			}
			for _, err := range result.Errors {
				t.Errorf("lint error: %v", err)
			}
		})
	}
}

// TestSchemaRejectsBadValues checks that values.schema.json stops a wrong
// value before anything is rendered, with an error that names the value's
// path and says what is allowed: at install (and template) time, and in
// lint.
func TestSchemaRejectsBadValues(t *testing.T) {
	for _, tc := range []struct {
		name   string
		values string
		// want are the parts the error must contain.
		want []string
	}{
		{"observe is list or get", "observe: poll", []string{"/observe", "'list'", "'get'"}},
		{"at least one replica", "replicas: 0", []string{"/replicas", "minimum"}},
		{"replicas are whole", "replicas: 1.5", []string{"/replicas", "integer"}},
		{"watchNamespaces is a list", "watchNamespaces: a,b", []string{"/watchNamespaces", "array"}},
		{"watched namespaces are DNS labels", "watchNamespaces: [Team_A]", []string{"/watchNamespaces/0", "Team_A"}},
		{"a digest is sha256", "image: {digest: latest}", []string{"/image/digest", "latest"}},
		{"a misspelt key", "metrics: {secured: false}", []string{"/metrics", "secured"}},
		{"log levels", "logLevel: verbose", []string{"/logLevel"}},
		{"resync period is a duration", "resyncPeriod: 10 minutes", []string{"/resyncPeriod"}},
		{"extraArgs are flags", "extraArgs: [list-page-size=50]", []string{"/extraArgs/0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tryTemplate(t, "voice-operator", values(t, tc.values))
			if err == nil {
				t.Fatalf("rendering with %q succeeded; want the schema to refuse it", tc.values)
			}
			t.Logf("%s: %v", tc.values, err)
			for _, part := range tc.want {
				if !strings.Contains(err.Error(), part) {
					t.Errorf("rendering with %q failed with\n%v\nwhich does not mention %q", tc.values, err, part)
				}
			}
		})
	}

	t.Run("lint reports it", func(t *testing.T) {
		result := lintChart(t, values(t, "observe: poll"))
		var found bool
		for _, msg := range result.Messages {
			if msg.Severity == support.ErrorSev && strings.Contains(msg.Err.Error(), "/observe") {
				found = true
				t.Logf("lint: %s", msg)
			}
		}
		if !found {
			t.Errorf("lint with observe: poll reported no error about /observe: %v", result.Messages)
		}
	})
}

// lintChart lints the chart as `helm lint --strict --kube-version` does.
func lintChart(t testing.TB, vals map[string]any) *action.LintResult {
	t.Helper()
	lint := action.NewLint()
	lint.Strict = true
	lint.Namespace = namespace
	lint.KubeVersion = kubeVersion(t)
	return lint.Run([]string{chartDir}, vals)
}
