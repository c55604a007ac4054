package bench_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/twilio-operator/voice-operator/internal/bench"
	"github.com/twilio-operator/voice-operator/internal/localenv/kube"
)

// TestCountsPerObject runs the benchmark at a small size and holds the
// operator to its costs, as counts (never seconds): one POST per created
// object and no read or update by id, at most two full Lists per account
// to prove the unique names free (creates that arrive together share one),
// at most three apiserver writes per created object (the finalizer with the
// create attempt, its outcome, the status), nothing written at
// steady state and at most
// ceil(N/pageSize)+1 reads per account per resync period; a restart with
// every object in sync writes nothing anywhere, reads one List walk per
// account and never shows an object leaving Ready; one PUT per edited
// object, one DELETE per deleted object.
func TestCountsPerObject(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	env := kube.StartTestEnv(ctx, t, "../..")

	cfg := bench.Config{Objects: 40, Accounts: 2, Observe: "list", Resync: 2 * time.Second, SteadyPeriods: 3,
		Concurrency: 4, VoiceQPS: 200, KubeQPS: 200, PageSize: 8, EditPercent: 10}
	res, err := bench.Run(ctx, env, cfg, t.Logf)
	if err != nil {
		t.Fatal(err)
	}

	create, steady, restart, update, del := res.Phase("create"), res.Phase("steady"), res.Phase(bench.PhaseRestart), res.Phase("update"), res.Phase("delete")
	handover := res.Phase(bench.PhaseHandover)
	perAccount := float64(cfg.Objects / cfg.Accounts)
	maxReadsPerPeriod := float64(cfg.Accounts) * (math.Ceil(perAccount/float64(cfg.PageSize)) + 1)
	checks := []struct {
		what      string
		got, want float64
		// rel is how got must compare with want: "=", "≤", or "≥" (for
		// Events: one lost is the failure; one more, a conflict told of,
		// is not).
		rel string
	}{
		{"POST per created object", create.PerObject(create.Remote[bench.RoutePost]), 1, "="},
		{"GET by id per created object", create.PerObject(create.Remote[bench.RouteGet]), 0, "="},
		{"List pages to check the names free", float64(create.Remote[bench.RouteList]), 2 * maxReadsPerPeriod, "≤"},
		{"PUT per created object", create.PerObject(create.Remote[bench.RoutePut]), 0, "="},
		{"apiserver writes per created object", create.PerObject(create.KubeWrites), 3, "≤"},
		{"Events per created object", create.PerObject(create.EventWrites), 1, "≥"},
		{"remote writes per steady period", steady.PerPeriod(steady.Writes()), 0, "="},
		{"apiserver writes per steady period", steady.PerPeriod(steady.KubeWrites), 0, "="},
		{"remote reads per steady period", steady.PerPeriod(steady.Reads()), maxReadsPerPeriod, "≤"},
		{"remote writes after a restart", float64(restart.Writes()), 0, "="},
		{"apiserver writes after a restart", float64(restart.KubeWrites), 0, "="},
		{"Events after a restart", float64(restart.EventWrites), 0, "="},
		{"not-Ready events during a restart", float64(restart.NotReadyEvents), 0, "="},
		{"remote reads after a restart", float64(restart.Reads()), maxReadsPerPeriod, "≤"},
		{"remote writes after a handover", float64(handover.Writes()), 0, "="},
		{"apiserver writes after a handover", float64(handover.KubeWrites + handover.EventWrites), 0, "="},
		{"not-Ready events during a handover", float64(handover.NotReadyEvents), 0, "="},
		{"remote reads after a handover", float64(handover.Reads()), maxReadsPerPeriod, "≤"},
		{"PUT per edited object", update.PerObject(update.Remote[bench.RoutePut]), 1, "="},
		{"POST during the edit", float64(update.Remote[bench.RoutePost]), 0, "="},
		{"Events per edited object", update.PerObject(update.EventWrites), 1, "≥"},
		{"DELETE per deleted object", del.PerObject(del.Remote[bench.RouteDelete]), 1, "="},
		{"Events per deleted object", del.PerObject(del.EventWrites), 1, "≥"},
	}
	for _, c := range checks {
		if (c.rel == "≤" && c.got > c.want) || (c.rel == "≥" && c.got < c.want) || (c.rel == "=" && c.got != c.want) {
			t.Errorf("%s: got %.3f, want %s %.3f", c.what, c.got, c.rel, c.want)
		}
	}
	if steady.Reads() == 0 {
		t.Errorf("no remote read during %d steady periods: the resync did not run", steady.Periods)
	}
	if handover.LeadSeconds <= 0 || handover.LeadSeconds > handover.HandoverSeconds {
		t.Errorf("the standby led %.2f s after the SIGTERM, its first reconcile ended %.2f s after it", handover.LeadSeconds, handover.HandoverSeconds)
	}
	if handover.HandoverSeconds <= 0 {
		t.Error("the handover phase measured no handover")
	}
	if restart.Objects != cfg.Objects {
		t.Errorf("the restart phase covered %d objects, want %d", restart.Objects, cfg.Objects)
	}
	t.Logf("counts: create %v, kube writes %d; steady %v over %d periods; restart %v, kube writes %d, not-Ready events %d; handover in %.2fs, %v; update %v; delete %v",
		create.Remote, create.KubeWrites, steady.Remote, steady.Periods, restart.Remote, restart.KubeWrites, restart.NotReadyEvents,
		handover.HandoverSeconds, handover.Remote, update.Remote, del.Remote)
}
