package bench

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape reads the operator's metrics as "name{k="v",...}" → value.
func (op *operator) scrape() (map[string]float64, error) {
	client := http.Client{Timeout: 2 * time.Second}
	req, err := http.NewRequest(http.MethodGet, op.MetricsURL(), nil)
	if err != nil {
		return nil, err
	}
	// Uncompressed: the operator keeps a gzip writer (~0.9 MB) pooled
	// after each compressed answer, and the bench reads its metrics four
	// times a second, far more often than Prometheus; the pool it would
	// keep alive is the bench's own weight, not the operator's.
	req.Header.Set("Accept-Encoding", "identity")
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("metrics: HTTP %d", resp.StatusCode)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for name, family := range families {
		for _, m := range family.GetMetric() {
			out[metricKey(name, m)] = metricValue(m)
		}
	}
	return out, nil
}

func metricKey(name string, m *dto.Metric) string {
	if len(m.GetLabel()) == 0 {
		return name
	}
	labels := make([]string, 0, len(m.GetLabel()))
	for _, l := range m.GetLabel() {
		labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
	}
	slices.Sort(labels)
	return name + "{" + strings.Join(labels, ",") + "}"
}

func metricValue(m *dto.Metric) float64 {
	switch {
	case m.GetCounter() != nil:
		return m.GetCounter().GetValue()
	case m.GetGauge() != nil:
		return m.GetGauge().GetValue()
	case m.GetUntyped() != nil:
		return m.GetUntyped().GetValue()
	}
	return 0
}

// Route keys of the simulator's counters.
const (
	RoutePost   = "POST /v2/Configurations/Client"
	RouteList   = "GET /v2/Configurations/Client"
	RouteGet    = "GET /v2/Configurations/Client/{id}"
	RoutePut    = "PUT /v2/Configurations/Client/{id}"
	RouteDelete = "DELETE /v2/Configurations/Client/{id}"
)

// Reads sums the phase's remote reads (List pages and GETs by id).
func (p Phase) Reads() int { return p.Remote[RouteList] + p.Remote[RouteGet] }

// Writes sums the phase's remote writes (POST, PUT, DELETE).
func (p Phase) Writes() int { return p.Remote[RoutePost] + p.Remote[RoutePut] + p.Remote[RouteDelete] }

// PerObject divides a count by the phase's objects.
func (p Phase) PerObject(n int) float64 {
	if p.Objects == 0 {
		return 0
	}
	return float64(n) / float64(p.Objects)
}

// PerPeriod divides a count by the steady phase's periods.
func (p Phase) PerPeriod(n int) float64 {
	if p.Periods == 0 {
		return 0
	}
	return float64(n) / float64(p.Periods)
}

// Phase returns the run's phase of that name.
func (r *Result) Phase(name string) Phase {
	for _, p := range r.Phases {
		if p.Name == name {
			return p
		}
	}
	return Phase{}
}

// WriteTable prints the results as one table.
func WriteTable(w io.Writer, results []*Result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight|tabwriter.Debug)
	fmt.Fprintln(tw, "run\tphase\tobjects\twall s\tp50 s\tp99 s\tPOST/obj\tGET/obj\tLIST/obj\tPUT/obj\tDELETE/obj\tkube writes/obj\tevents/obj\t")
	for _, r := range results {
		for _, p := range r.Phases {
			if p.Name == PhaseRestart || p.Name == PhaseHandover {
				handover := ""
				if p.Name == PhaseHandover {
					handover = fmt.Sprintf("leads %.2f s, first reconcile %.2f s after SIGTERM", p.LeadSeconds, p.HandoverSeconds)
				}
				fmt.Fprintf(tw, "%s\t%s\t%d\t%.1f\t\t\tin all:\treads %d\t(LIST %d)\twrites %d\t\tkube writes %d\tevents %d\tnot-Ready events %d\t%s\t\n",
					r.Config.Name(), p.Name, p.Objects, p.WallSeconds, p.Reads(), p.Remote[RouteList],
					p.Writes(), p.KubeWrites, p.EventWrites, p.NotReadyEvents, handover)
				continue
			}
			if p.Name == "steady" {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%.1f\t\t\tper period:\treads %.1f\t(LIST %.1f)\twrites %.1f\t\tkube writes %.1f\tevents %.1f\t\n",
					r.Config.Name(), p.Name, p.Objects, p.WallSeconds, p.PerPeriod(p.Reads()), p.PerPeriod(p.Remote[RouteList]),
					p.PerPeriod(p.Writes()), p.PerPeriod(p.KubeWrites), p.PerPeriod(p.EventWrites))
				continue
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%.1f\t%.2f\t%.2f\t%.2f\t%.2f\t%.3f\t%.2f\t%.2f\t%.2f\t%.2f\t\n",
				r.Config.Name(), p.Name, p.Objects, p.WallSeconds, p.ReadyP50Seconds, p.ReadyP99Seconds,
				p.PerObject(p.Remote[RoutePost]), p.PerObject(p.Remote[RouteGet]), p.PerObject(p.Remote[RouteList]),
				p.PerObject(p.Remote[RoutePut]), p.PerObject(p.Remote[RouteDelete]), p.PerObject(p.KubeWrites), p.PerObject(p.EventWrites))
		}
		perObject := float64(max(r.Config.Objects, 1))
		fmt.Fprintf(tw, "%s\toperator\tpeak RSS %.0f MiB (%.1f KiB/obj)\tpeak heap %.0f MiB (%.1f KiB/obj)\tpeak anonymous %.0f MiB, file-backed %.0f MiB\tCPU %.1f s\t\t\t\t\t\t\t\t\n",
			r.Config.Name(), float64(r.PeakRSSBytes)/(1<<20), float64(r.PeakRSSBytes)/1024/perObject,
			float64(r.PeakHeapBytes)/(1<<20), float64(r.PeakHeapBytes)/1024/perObject,
			float64(r.PeakAnonBytes)/(1<<20), float64(r.PeakFileBytes)/(1<<20), r.CPUSeconds)
	}
	_ = tw.Flush() // to w, as every line above
}
