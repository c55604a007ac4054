package alerts_test

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	voicev1alpha1 "github.com/twilio-operator/voice-operator/api/v1alpha1"
	"github.com/twilio-operator/voice-operator/internal/localenv"
	"github.com/twilio-operator/voice-operator/internal/localenv/kube"
	"github.com/twilio-operator/voice-operator/internal/voicesim"
)

const (
	root      = "../.."
	rulesPath = "config/prometheus/alerts.yaml"
	testsPath = "config/prometheus/alerts_test.yaml"
)

// rules is the PrometheusRule's spec: what Prometheus loads.
type rules struct {
	Groups []struct {
		Name  string `json:"name"`
		Rules []struct {
			Alert string `json:"alert"`
			Expr  string `json:"expr"`
		} `json:"rules"`
	} `json:"groups"`
}

// TestAlertsFireAsTheirCasesSay runs promtool's rule checks and unit tests.
func TestAlertsFireAsTheirCasesSay(t *testing.T) {
	dir := t.TempDir()
	groups := ruleGroups(t)
	must(t, os.WriteFile(filepath.Join(dir, "alerts.rules.yaml"), groups, 0o600))
	cases, err := os.ReadFile(filepath.Join(root, testsPath))
	must(t, err)
	must(t, os.WriteFile(filepath.Join(dir, "alerts_test.yaml"), cases, 0o600))

	promtool := promtool(t)
	for _, args := range [][]string{{"check", "rules", "alerts.rules.yaml"}, {"test", "rules", "alerts_test.yaml"}} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		t.Logf("promtool %s:\n%s", strings.Join(args, " "), out)
	}
}

// TestAlertsReadMetricsTheOperatorServes scrapes a running operator that
// has created a configuration and corrected a Console edit, and checks
// that each metric the alerts and their test series name is served, with
// every label they use.
func TestAlertsReadMetricsTheOperatorServes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	served := scrapeBusyOperator(ctx, t)

	var spec rules
	must(t, yaml.Unmarshal(ruleGroups(t), &spec))
	used := map[string]map[string]bool{} // metric → labels the rules use
	for _, g := range spec.Groups {
		for _, r := range g.Rules {
			for metric, labels := range labelsUsed(r.Expr) {
				if used[metric] == nil {
					used[metric] = map[string]bool{}
				}
				for l := range labels {
					used[metric][l] = true
				}
			}
		}
	}
	guide, err := os.ReadFile(filepath.Join(root, "docs", "operations.md"))
	must(t, err)
	for _, g := range spec.Groups {
		for _, r := range g.Rules {
			if !strings.Contains(string(guide), "| `"+r.Alert+"` |") {
				t.Errorf("docs/operations.md's table of alerts lacks %s", r.Alert)
			}
		}
	}
	if len(used) < 4 {
		t.Fatalf("found only %v in the rules; the expression parser missed some", used)
	}
	for metric, labels := range used {
		have, ok := served[metric]
		if !ok {
			t.Errorf("the alerts read %s, which the operator does not serve (renamed?)", metric)
			continue
		}
		for l := range labels {
			if !have[l] {
				t.Errorf("the alerts read label %q of %s, which has only %v", l, metric, slices.Sorted(maps.Keys(have)))
			}
		}
	}

	// The test series must look like the real ones, label for label.
	cases, err := os.ReadFile(filepath.Join(root, testsPath))
	must(t, err)
	for _, m := range seriesLine.FindAllStringSubmatch(string(cases), -1) {
		metric, labels := m[1], labelNames(m[2])
		have, ok := served[metric]
		if !ok {
			t.Errorf("alerts_test.yaml feeds %s, which the operator does not serve", metric)
			continue
		}
		if want := slices.Sorted(maps.Keys(have)); !slices.Equal(labels, want) {
			t.Errorf("alerts_test.yaml feeds %s with labels %v; the operator serves it with %v", metric, labels, want)
		}
	}
}

var (
	metricName = regexp.MustCompile(`\b((?:voice_operator|controller_runtime)_[a-z_]+)\b(\{[^}]*\})?`)
	byClause   = regexp.MustCompile(`\bby\s*\(([^)]*)\)`)
	matcher    = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)`)
	seriesLine = regexp.MustCompile(`series:\s*'([a-z_]+)\{([^}]*)\}'`)
)

// labelsUsed reads, from an expression of the simple shape the rules have
// (selectors with matchers, sum by (...)), each metric with the labels its
// matchers name plus those of every by clause of the expression.
func labelsUsed(expr string) map[string]map[string]bool {
	var grouped []string
	for _, m := range byClause.FindAllStringSubmatch(expr, -1) {
		for l := range strings.SplitSeq(m[1], ",") {
			grouped = append(grouped, strings.TrimSpace(l))
		}
	}
	out := map[string]map[string]bool{}
	for _, m := range metricName.FindAllStringSubmatch(expr, -1) {
		labels := out[m[1]]
		if labels == nil {
			labels = map[string]bool{}
			out[m[1]] = labels
		}
		for _, l := range matcher.FindAllStringSubmatch(m[2], -1) {
			labels[l[1]] = true
		}
		for _, l := range grouped {
			labels[l] = true
		}
	}
	return out
}

// labelNames are the label names of a series' {a="1",b="2"}, sorted.
func labelNames(inner string) []string {
	var names []string
	for _, m := range matcher.FindAllStringSubmatch(inner, -1) {
		names = append(names, m[1])
	}
	slices.Sort(names)
	return names
}

// scrapeBusyOperator runs the operator, has it create a configuration and
// put back a Console edit (so every metric the alerts read has a series),
// and returns what its /metrics serves: metric → label names.
func scrapeBusyOperator(ctx context.Context, t *testing.T) map[string]map[string]bool {
	env := kube.StartTestEnv(ctx, t, root)
	op, err := env.StartOperator(ctx, "--resync-period", "1s")
	must(t, err)
	t.Cleanup(func() { _ = op.Stop() })

	ns := "alerts-" + localenv.RandomHex(3)
	must(t, env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))
	account := "AC" + localenv.RandomHex(16)
	must(t, env.CreateSecret(ctx, ns, "twilio", account, "token"))
	obj := &voicev1alpha1.ClientConfiguration{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"},
		Spec: voicev1alpha1.ClientConfigurationSpec{
			UniqueName:       "web",
			CallNotification: voicev1alpha1.CallNotification{URL: "https://example.com/notify"},
			CredentialsRef:   voicev1alpha1.SecretReference{Name: "twilio"},
		},
	}
	must(t, env.Client.Create(ctx, obj))
	kube.WaitFor(ctx, t, "the object Ready", func() bool {
		return ready(ctx, env, obj)
	})
	must(t, env.Sim.EditOutOfBand(account, obj.Status.ID, func(r *voicesim.Record) { r.CallNotificationURL = "https://console.example.com/" }))
	var families map[string]*dto.MetricFamily
	kube.WaitFor(ctx, t, "the Console edit put back", func() bool {
		families = scrape(t, op.MetricsURL())
		return families["voice_operator_drift_corrections_total"] != nil
	})
	served := map[string]map[string]bool{}
	for name, f := range families {
		labels := map[string]bool{}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = true
			}
		}
		served[name] = labels
	}
	return served
}

func ready(ctx context.Context, env *kube.Env, obj *voicev1alpha1.ClientConfiguration) bool {
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
		return false
	}
	c := meta.FindStatusCondition(obj.Status.Conditions, voicev1alpha1.ConditionReady)
	return c != nil && c.Status == metav1.ConditionTrue && obj.Status.ID != ""
}

func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url) //nolint:gosec,noctx // the test's own loopback endpoint
	must(t, err)
	defer func() { _ = resp.Body.Close() }()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	must(t, err)
	return families
}

// ruleGroups is the PrometheusRule's spec (its groups) as a rules file.
func ruleGroups(t *testing.T) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, rulesPath))
	must(t, err)
	var rule struct {
		Kind string          `json:"kind"`
		Spec json.RawMessage `json:"spec"`
	}
	must(t, yaml.Unmarshal(data, &rule))
	if rule.Kind != "PrometheusRule" {
		t.Fatalf("%s is a %q, want a PrometheusRule", rulesPath, rule.Kind)
	}
	groups, err := yaml.JSONToYAML(rule.Spec)
	must(t, err)
	return groups
}

// promtool is $PROMTOOL (make test builds it), or else built here from
// hack/tools/promtool, where the Prometheus module is pinned, as make does:
// without the service-discovery plugins.
func promtool(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("PROMTOOL"); p != "" {
		return p
	}
	out := filepath.Join(t.TempDir(), "promtool")
	cmd := exec.Command("go", "build", "-tags", "remove_all_sd", "-o", out, "github.com/prometheus/prometheus/cmd/promtool")
	cmd.Dir = filepath.Join(root, "hack", "tools", "promtool")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("building promtool: %v\n%s", err, stderr.String())
	}
	return out
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
