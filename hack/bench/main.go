// Command bench measures the operator's cost (`make bench`): it starts a
// control plane, the Voice API simulator and the operator binary, runs each
// configuration through create, steady, restart, handover, update and
// delete, measures fairness across accounts, prints one table and writes one
// JSON file. See internal/bench for what is measured and how.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/twilio-operator/voice-operator/internal/bench"
	"github.com/twilio-operator/voice-operator/internal/localenv/kube"
)

func main() {
	var (
		sizes    = flag.String("sizes", "100,1000,5000", "Object counts to run (comma-separated).")
		quick    = flag.Bool("quick", false, "Run only a small set (100 and 1000 objects), for a first look.")
		extras   = flag.Bool("extras", true, "Also run 1,000 objects in get mode, over 10 accounts, and with 50 ms latency.")
		resync   = flag.Duration("resync", 5*time.Second, "The operator's --resync-period.")
		periods  = flag.Int("steady-periods", 3, "Resync periods the steady phase lasts.")
		conc     = flag.Int("concurrency", 8, "The operator's --max-concurrent-reconciles.")
		qps      = flag.Float64("voice-qps", 500, "The operator's --voice-api-qps (per account).")
		kubeQPS  = flag.Float64("kube-qps", 500, "The operator's --kube-api-qps.")
		pageSize = flag.Int("page-size", 50, "The operator's --list-page-size (50: the largest page the reference's shape of the API serves).")
		out      = flag.String("out", "bench-results", "Folder for the JSON results.")
		profile  = flag.Bool("pprof", false, "Save a heap profile of the operator after each phase, into the -out folder.")
		through  = flag.String("throughput", "10,50,200", "Create 1,000 objects in one account at each of these --voice-api-qps values, default flags otherwise (empty: skip).")
		fairness = flag.Bool("fairness", true, "Also measure fairness across accounts with default flags: 10 accounts × 50 objects, then the same with one account answering 429 (Retry-After 30s) for 45 s.")
	)
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	logf := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "[bench %s] %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
	}

	root, err := os.Getwd()
	if err != nil {
		fail(err)
	}
	env, err := kube.StartEnv(ctx, root, logf)
	if err != nil {
		fail(err)
	}
	defer env.Stop()

	runs := matrix(*sizes, *quick, *extras)
	results := make([]*bench.Result, 0, len(runs))
	for _, cfg := range runs {
		cfg.Resync, cfg.SteadyPeriods, cfg.Concurrency = *resync, *periods, *conc
		cfg.VoiceQPS, cfg.KubeQPS, cfg.PageSize, cfg.EditPercent = *qps, *kubeQPS, *pageSize, 10
		if *profile {
			cfg.ProfileDir = *out
		}
		res, err := bench.Run(ctx, env, cfg, logf)
		if err != nil {
			fail(fmt.Errorf("%s: %w", cfg.Name(), err))
		}
		results = append(results, res)
	}

	var rounds []*bench.ThroughputResult
	for _, q := range strings.Split(*through, ",") {
		qps, err := strconv.ParseFloat(strings.TrimSpace(q), 64)
		if err != nil || qps <= 0 {
			continue
		}
		r, err := bench.Throughput(ctx, env, qps, 1000, logf)
		if err != nil {
			fail(fmt.Errorf("throughput: %w", err))
		}
		rounds = append(rounds, r)
	}

	var fair *bench.FairnessResult
	if *fairness {
		fair, err = bench.Fairness(ctx, env, bench.FairnessConfig{Accounts: 10, PerAccount: 50, RetryAfter: 30 * time.Second,
			ThrottleFor: 45 * time.Second, VoiceQPS: defaultVoiceQPS}, logf)
		if err != nil {
			fail(fmt.Errorf("fairness: %w", err))
		}
	}

	fmt.Printf("voice-operator benchmark, %s, %s/%s, %d CPUs\n\n", time.Now().UTC().Format(time.RFC3339), runtime.GOOS, runtime.GOARCH, runtime.NumCPU())
	bench.WriteTable(os.Stdout, results)
	printRatio(results)
	if len(rounds) > 0 {
		fmt.Println()
		bench.WriteThroughput(os.Stdout, rounds)
	}
	if fair != nil {
		fmt.Println()
		bench.WriteFairness(os.Stdout, fair)
	}
	if err := writeJSON(*out, map[string]any{"runs": results, "throughput": rounds, "fairness": fair}); err != nil {
		fail(err)
	}
}

// defaultVoiceQPS is the operator's default --voice-api-qps, which the
// fairness measurement runs with.
const defaultVoiceQPS = 10

// matrix is the default set of runs: every size in list mode, the middle
// size in get mode too (for the ratio), over ten accounts, and with 50 ms of
// simulated latency (throughput at the configured QPS).
func matrix(sizes string, quick, extras bool) []bench.Config {
	var ns []int
	for _, s := range strings.Split(sizes, ",") {
		var n int
		if _, err := fmt.Sscan(strings.TrimSpace(s), &n); err == nil && n > 0 && (!quick || n <= 1000) {
			ns = append(ns, n)
		}
	}
	var runs []bench.Config
	for _, n := range ns {
		runs = append(runs, bench.Config{Objects: n, Accounts: 1, Observe: observeList})
	}
	if !extras {
		return runs
	}
	mid := 1000
	runs = append(runs,
		bench.Config{Objects: mid, Accounts: 1, Observe: observeGet},
		bench.Config{Objects: mid, Accounts: 10, Observe: observeList},
		bench.Config{Objects: mid, Accounts: 1, Observe: observeList, Latency: 50 * time.Millisecond},
	)
	return runs
}

// printRatio compares steady-state reads of get and list at the same size.
func printRatio(results []*bench.Result) {
	for _, get := range results {
		if get.Config.Observe != observeGet {
			continue
		}
		for _, list := range results {
			c := list.Config
			if c.Observe == observeList && c.Objects == get.Config.Objects && c.Accounts == get.Config.Accounts && c.Latency == get.Config.Latency {
				g, l := get.Phase("steady"), list.Phase("steady")
				lr := l.PerPeriod(l.Reads())
				if lr > 0 {
					fmt.Printf("\nsteady-state remote reads per resync period, %d objects in %d account(s): get %.0f, list %.1f: list reads %.0fx less\n",
						c.Objects, c.Accounts, g.PerPeriod(g.Reads()), lr, g.PerPeriod(g.Reads())/lr)
				}
			}
		}
	}
}

func writeJSON(dir string, results any) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	path := filepath.Join(dir, "bench-"+time.Now().UTC().Format("20060102-150405")+".json")
	data, err := json.MarshalIndent(results, "", "  ")
	if err != nil {
		return err
	}
	fmt.Printf("\nresults: %s\n", path)
	return os.WriteFile(path, data, 0o644)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}

// The operator's --observe modes.
const (
	observeList = "list"
	observeGet  = "get"
)
