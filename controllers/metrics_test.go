package controllers

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/types"
)

func TestKubeResource(t *testing.T) {
	cases := map[string]struct{ path, want string }{
		"status subresource":   {"/apis/voice.twilio-operator.io/v1alpha1/namespaces/ns/clientconfigurations/web/status", "clientconfigurations/status"},
		"named object":         {"/apis/voice.twilio-operator.io/v1alpha1/namespaces/ns/clientconfigurations/web", "clientconfigurations"},
		"collection":           {"/apis/events.k8s.io/v1/namespaces/ns/events", "events"},
		"core group":           {"/api/v1/namespaces/ns/secrets/creds", "secrets"},
		"cluster-wide watch":   {"/apis/voice.twilio-operator.io/v1alpha1/clientconfigurations", "clientconfigurations"},
		"cluster-wide core":    {"/api/v1/secrets", "secrets"},
		"discovery and others": {"/apis", "other"},
	}
	for reason, c := range cases {
		if got := kubeResource(c.path); got != c.want {
			t.Errorf("%s: kubeResource(%q) = %q, want %q", reason, c.path, got, c.want)
		}
	}
}

// TestMetricsAreServedAsDefined: each metric the operator registers is one
// of MetricDefinitions, which the docs' table is generated from, with that
// type, help and set of labels; and each definition is registered.
func TestMetricsAreServedAsDefined(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	// Vectors are gathered once they have a series.
	m.ObserveRequest("GET", "/v2/Configurations/Client", 200, time.Millisecond)
	m.kube.WithLabelValues("PATCH", "clientconfigurations/status").Inc()
	m.driftCorrected(kindClientConfiguration, sourceRemote)
	m.observeReason(kindClientConfiguration, types.NamespacedName{Namespace: "ns", Name: "web"}, "Synced")
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	defs := map[string]MetricDefinition{}
	for _, d := range MetricDefinitions() {
		defs[d.Name] = d
	}
	for _, f := range families {
		d, ok := defs[f.GetName()]
		if !ok {
			t.Errorf("%s is registered but not in MetricDefinitions, so not in the docs", f.GetName())
			continue
		}
		delete(defs, f.GetName())
		if got := strings.ToLower(f.GetType().String()); got != d.Type {
			t.Errorf("%s is a %s, defined as a %s", f.GetName(), got, d.Type)
		}
		if f.GetHelp() != d.Help {
			t.Errorf("%s's help is %q, defined as %q", f.GetName(), f.GetHelp(), d.Help)
		}
		var labels []string
		for _, l := range f.GetMetric()[0].GetLabel() {
			labels = append(labels, l.GetName())
		}
		if want := slices.Sorted(slices.Values(d.Labels)); !slices.Equal(labels, want) {
			t.Errorf("%s has labels %v, defined with %v", f.GetName(), labels, want)
		}
	}
	for name := range defs {
		t.Errorf("%s is defined but not registered", name)
	}
}
