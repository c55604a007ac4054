package controllers

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/types"
)

const (
	kindClientConfiguration = "ClientConfiguration"
	kindAccountDefault      = "AccountDefault"
)

// Metrics are the operator's own Prometheus metrics, beside
// controller-runtime's: remote API traffic, drift corrections, and how many
// objects sit at each condition reason. A nil *Metrics records nothing.
type Metrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	kube     *prometheus.CounterVec
	drift    *prometheus.CounterVec
	objects  *prometheus.GaugeVec

	mu      sync.Mutex
	reasons map[string]map[types.NamespacedName]string // kind → object → reason
}

// MetricDefinition describes one of the operator's own metrics. The
// metrics are made from these, and docs/operations.md's table of metrics is
// generated from them (hack/refdocs), so the two cannot disagree.
type MetricDefinition struct {
	// Name is the metric's full name.
	Name string
	// Type is counter, gauge or histogram.
	Type string
	// Help is its HELP text, and its meaning in the docs.
	Help string
	// Labels are its label names.
	Labels []string
}

// Metric types, as MetricDefinition.Type names them.
const (
	metricCounter   = "counter"
	metricGauge     = "gauge"
	metricHistogram = "histogram"
)

// The operator's metrics.
var (
	defRemoteRequests = MetricDefinition{
		Name: "voice_operator_remote_requests_total", Type: metricCounter, Labels: []string{"method", "route", "code"},
		Help: "Requests to the Twilio Voice API, by method, route template and HTTP status code (0: no answer).",
	}
	defRemoteLatency = MetricDefinition{
		Name: "voice_operator_remote_request_duration_seconds", Type: metricHistogram, Labels: []string{"method", "route"},
		Help: "Latency of requests to the Twilio Voice API, by method and route template.",
	}
	defKubeRequests = MetricDefinition{
		Name: "voice_operator_kube_requests_total", Type: metricCounter, Labels: []string{"verb", "resource"},
		Help: "Requests the operator sent to the Kubernetes apiserver, by verb (HTTP method) and namespaced resource (with subresource), so its write load can be watched and benchmarked.",
	}
	defDriftCorrections = MetricDefinition{
		Name: "voice_operator_drift_corrections_total", Type: metricCounter, Labels: []string{"kind", "source"},
		Help: "Remote writes that corrected a difference from the spec, by kind and by source (spec: the spec changed; remote: the remote side was changed; Secret: the webhook's basic-auth Secret changed).",
	}
	defObjects = MetricDefinition{
		Name: "voice_operator_objects", Type: metricGauge, Labels: []string{"kind", "reason"},
		Help: "Objects by kind and by the reason of their Ready condition.",
	}
)

// MetricDefinitions lists the operator's own metrics, in the order of the
// docs.
func MetricDefinitions() []MetricDefinition {
	return []MetricDefinition{defRemoteRequests, defRemoteLatency, defKubeRequests, defDriftCorrections, defObjects}
}

func newCounterVec(d MetricDefinition) *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{Name: d.Name, Help: d.Help}, d.Labels)
}

// NewMetrics creates the metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: newCounterVec(defRemoteRequests),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: defRemoteLatency.Name, Help: defRemoteLatency.Help,
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 12),
		}, defRemoteLatency.Labels),
		kube:    newCounterVec(defKubeRequests),
		drift:   newCounterVec(defDriftCorrections),
		objects: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: defObjects.Name, Help: defObjects.Help}, defObjects.Labels),
		reasons: map[string]map[types.NamespacedName]string{},
	}
	reg.MustRegister(m.requests, m.latency, m.kube, m.drift, m.objects)
	return m
}

// ObserveRequest is the internal/voice Observer hook: one call per HTTP attempt.
func (m *Metrics) ObserveRequest(method, route string, status int, d time.Duration) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(method, route).Observe(d.Seconds())
}

func (m *Metrics) driftCorrected(kind, source string) {
	if m == nil {
		return
	}
	m.drift.WithLabelValues(kind, source).Inc()
}

// observeReason moves an object's count to its current Ready reason.
func (m *Metrics) observeReason(kind string, key types.NamespacedName, reason string) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	byObject := m.reasons[kind]
	if byObject == nil {
		byObject = map[types.NamespacedName]string{}
		m.reasons[kind] = byObject
	}
	if prev, ok := byObject[key]; ok {
		if prev == reason {
			return
		}
		m.objects.WithLabelValues(kind, prev).Dec()
	}
	byObject[key] = reason
	m.objects.WithLabelValues(kind, reason).Inc()
}

// forget drops an object that no longer exists from the gauge.
func (m *Metrics) forget(kind string, key types.NamespacedName) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if prev, ok := m.reasons[kind][key]; ok {
		m.objects.WithLabelValues(kind, prev).Dec()
		delete(m.reasons[kind], key)
	}
}

// WrapKubeTransport counts the requests sent through rt in
// voice_operator_kube_requests_total; use it as rest.Config.WrapTransport.
func (m *Metrics) WrapKubeTransport(rt http.RoundTripper) http.RoundTripper {
	return roundTripper(func(r *http.Request) (*http.Response, error) {
		if resource := kubeResource(r.URL.Path); resource != "" {
			m.kube.WithLabelValues(r.Method, resource).Inc()
		}
		return rt.RoundTrip(r)
	})
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// kubeResource extracts "resource" or "resource/subresource" from an API
// path such as /apis/g/v/namespaces/ns/resource/name/subresource; the label
// stays bounded by the resources the operator uses.
func kubeResource(path string) string {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	for i, p := range parts {
		if p == "namespaces" && i+2 < len(parts) {
			rest := parts[i+2:]
			if len(rest) >= 3 {
				return rest[0] + "/" + rest[2]
			}
			return rest[0]
		}
	}
	// Cluster-wide lists and watches: /apis/g/v/resource or /api/v1/resource.
	switch {
	case len(parts) == 4 && parts[0] == "apis":
		return parts[3]
	case len(parts) == 3 && parts[0] == "api":
		return parts[2]
	}
	return "other"
}
