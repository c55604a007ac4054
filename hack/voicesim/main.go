// Command voicesim serves the Voice v2 Client Configurations simulator
// (internal/voicesim) on a loopback address, for the demo, the e2e test and
// the benchmarks, which run it as a separate process and drive it through
// its /_sim/ admin endpoints.
//
// It is a hack/ command rather than a sub-mode of the manager so that the
// operator binary never carries a fake Twilio, and so that the simulator can
// be started before, and outlive, the operator under test.
//
//	go run ./hack/voicesim --addr 127.0.0.1:8099 --account AC...:token --unavailable 0.3
//
// --shape reference (the default) answers exactly as Twilio's reference
// documents and no more; --shape extended adds every behaviour beyond it
// (dates, lookups by unique name, 409 for duplicates, ...): see
// voicesim.Options.
//
// It prints "listening on http://HOST:PORT" on stdout once it accepts
// connections, and stops gracefully on SIGINT or SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/twilio-operator/voice-operator/internal/voicesim"
)

// Demo credentials: not a secret, only the simulator accepts them.
const (
	demoAccount = "AC00000000000000000000000000000001"
	demoToken   = "demo-auth-token-not-secret"
)

// listFlag collects a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "voicesim:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("voicesim", flag.ContinueOnError)
	var (
		addr     = fs.String("addr", "127.0.0.1:0", "loopback address to listen on (port 0 picks a free one)")
		accounts listFlag
		apiKeys  listFlag
		faults   voicesim.Faults
		kinds    = fs.String("malformed-kinds", "", "comma-separated malformed kinds (truncated,wrong-types,html,empty,huge); empty means all")
		shape    = fs.String("shape", voicesim.ShapeReference, "how the API answers: "+voicesim.ShapeReference+" (exactly as Twilio's reference documents) or "+voicesim.ShapeExtended+" (every behaviour beyond it; see voicesim.Options)")
		maxPage  = fs.Int("max-page-size", 0, "largest pageSize a List accepts (0: the shape's own)")
	)
	fs.Var(&accounts, "account", "ACCOUNT_SID:AUTH_TOKEN to accept (repeatable); default "+demoAccount+":"+demoToken)
	fs.Var(&apiKeys, "api-key", "ACCOUNT_SID:KEY_SID:SECRET to accept (repeatable)")
	fs.Float64Var(&faults.Unavailable, "unavailable", 0, "fraction of API calls answered 503")
	fs.Float64Var(&faults.Throttled, "throttled", 0, "fraction of API calls answered 429")
	fs.DurationVar(&faults.RetryAfter, "retry-after", 0, "Retry-After sent with injected 429/503 (rounded up to seconds; 0 sends none)")
	fs.DurationVar(&faults.Latency, "latency", 0, "latency added to every API call")
	fs.DurationVar(&faults.LatencyJitter, "latency-jitter", 0, "random extra latency, uniform in [0, jitter)")
	fs.Float64Var(&faults.LostCreate, "lost-create", 0, "fraction of creates committed and then answered by dropping the connection")
	fs.Float64Var(&faults.LostDelete, "lost-delete", 0, "fraction of deletes committed and then answered by dropping the connection")
	fs.Float64Var(&faults.Malformed, "malformed", 0, "fraction of successful JSON answers garbled")
	fs.Int64Var(&faults.Seed, "seed", 1, "seed of the fault generator")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *kinds != "" {
		for _, k := range strings.Split(*kinds, ",") {
			faults.MalformedKinds = append(faults.MalformedKinds, voicesim.MalformedKind(strings.TrimSpace(k)))
		}
	}
	if err := faults.Validate(); err != nil {
		return err
	}
	if err := requireLoopback(*addr); err != nil {
		return err
	}

	opts, err := voicesim.Shape(*shape)
	if err != nil {
		return err
	}
	if *maxPage > 0 {
		opts.MaxPageSize = *maxPage
	}
	sim := voicesim.New(opts)
	if len(accounts) == 0 && len(apiKeys) == 0 {
		accounts = listFlag{demoAccount + ":" + demoToken}
	}
	for _, a := range accounts {
		sid, token, ok := strings.Cut(a, ":")
		if !ok || sid == "" || token == "" {
			return fmt.Errorf("--account wants ACCOUNT_SID:AUTH_TOKEN")
		}
		sim.AddAccount(sid, token)
	}
	for _, k := range apiKeys {
		parts := strings.SplitN(k, ":", 3)
		if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
			return fmt.Errorf("--api-key wants ACCOUNT_SID:KEY_SID:SECRET")
		}
		sim.AddAPIKey(parts[0], parts[1], parts[2])
	}
	sim.SetFaults(faults)

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second}
	fmt.Printf("listening on http://%s\n", ln.Addr())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

// requireLoopback refuses any address that is not a loopback IP or
// "localhost": the simulator accepts demo credentials and its /_sim/
// endpoints rewrite state without authentication.
func requireLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--addr: %w", err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("--addr %q is not a loopback address; refusing to serve the simulator beyond this machine", addr)
}
