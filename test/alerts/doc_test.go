// Package alerts_test tests the alerts shipped in
// config/prometheus/alerts.yaml: `promtool test rules` runs the cases of
// alerts_test.yaml (promtool built from the Prometheus module pinned by
// hack/tools/promtool), and every metric and label the rules and their test
// series use is checked against what the operator binary really serves on
// /metrics, so renaming a metric or a label fails here rather than
// silencing an alert in production.
package alerts_test
