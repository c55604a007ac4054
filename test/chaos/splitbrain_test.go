package chaos_test

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/twilio-operator/voice-operator/internal/localenv/kube"
)

// TestSplitBrainFrozenLeaderWritesNothing freezes the leader (SIGSTOP) in
// the middle of a storm for longer than its lease, lets the standby take
// over, and thaws it (SIGCONT). The thawed replica believes itself leader
// until its next renewal fails, with reconciles in flight: it must not
// write anything, to Twilio or to the apiserver, from the moment it
// resumes. Each replica reaches the simulator and the apiserver through
// listeners of its own, which record every write with its time. The end
// state must be exact.
func TestSplitBrainFrozenLeaderWritesNothing(t *testing.T) {
	const lease, renew, retry = 4 * time.Second, 3 * time.Second, 500 * time.Millisecond
	sz, seed := stormSize(), chaosSeed(t)
	ctx, cancel := stormContext(t, sz)
	s := startStorm(ctx, t, seed, sz.objects)

	type replica struct {
		remote, apiserver *writeLog
		args              []string
	}
	replicas := make([]replica, 2)
	for i := range replicas {
		remote, apiserver := &writeLog{}, &writeLog{}
		api := httptest.NewServer(remote.wrap(env.Sim))
		defer api.Close()
		kubeconfig := apiserverProxy(t, apiserver, fmt.Sprintf("replica-%d", i))
		replicas[i] = replica{remote: remote, apiserver: apiserver, args: []string{"--leader-elect", "--leader-election-namespace", kube.OperatorNamespace,
			"--leader-elect-lease-duration", lease.String(), "--leader-elect-renew-deadline", renew.String(), "--leader-elect-retry-period", retry.String(),
			"--voice-api-timeout", "2s", "--voice-api-url", api.URL, "--kubeconfig", kubeconfig}}
	}

	leader, err := startOperator(ctx, t, replicas[0].args...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := waitForLease(ctx, leader.LogPath, 2*lease+10*time.Second); err != nil {
		t.Fatalf("the first operator never became leader: %v", err)
	}
	standby, err := startOperator(ctx, t, replicas[1].args...)
	if err != nil {
		t.Fatal(err)
	}

	type freeze struct{ stopped, acquired, resumed time.Time }
	// Whatever happens, the frozen leader must not stay frozen.
	t.Cleanup(func() { _ = leader.Signal(syscall.SIGCONT) })
	f := stormBeside(ctx, t, cancel, s, sz, "freeze", func() (freeze, error) {
		var f freeze
		if !pause(ctx, sz.storm/3) {
			return f, ctx.Err()
		}
		if err := leader.Signal(syscall.SIGSTOP); err != nil {
			return f, err
		}
		f.stopped = time.Now()
		acquired, err := waitForLease(ctx, standby.LogPath, lease+30*time.Second)
		if err != nil {
			return f, err
		}
		f.acquired = acquired
		// Let the new leader work a while, so the frozen one has a queue
		// of stale work when it wakes up.
		if !pause(ctx, 2*time.Second) {
			return f, ctx.Err()
		}
		f.resumed = time.Now()
		return f, leader.Signal(syscall.SIGCONT)
	})
	s.convergeExactly(ctx, t, sz, 0, nil)

	old, current := replicas[0], replicas[1]
	remoteAfter, kubeAfter := old.remote.since(f.resumed), workWrites(old.apiserver.since(f.resumed))
	t.Logf("leader frozen at %s for %s (lease %s); standby acquired the lease %s after the freeze; old leader exited by itself: %v",
		f.stopped.Format(time.StampMilli), f.resumed.Sub(f.stopped).Round(time.Millisecond), lease,
		f.acquired.Sub(f.stopped).Round(time.Millisecond), leader.Exited())
	t.Logf("writes by the old leader: remote %d before the freeze, %d after it resumed; apiserver %d before, %d after (lease renewals not counted)",
		len(old.remote.spans())-len(remoteAfter), len(remoteAfter), len(workWrites(old.apiserver.spans()))-len(kubeAfter), len(kubeAfter))
	t.Logf("writes by the new leader: remote %d, apiserver %d", len(current.remote.spans()), len(workWrites(current.apiserver.spans())))
	if len(old.remote.spans()) == 0 || len(current.remote.spans()) == 0 {
		t.Fatalf("each replica must have written while it led: old %d, new %d", len(old.remote.spans()), len(current.remote.spans()))
	}
	for _, w := range remoteAfter {
		t.Errorf("the thawed leader wrote to Twilio: %s at %s", w.what, w.start.Format(time.StampMicro))
	}
	for _, w := range kubeAfter {
		t.Errorf("the thawed leader wrote to the apiserver: %s at %s", w.what, w.start.Format(time.StampMicro))
	}
	if err := s.deleteAll(ctx, sz.converge); err != nil {
		t.Fatalf("deleting every object: %v", err)
	}
}

// workWrites drops the leader election's own writes (the Lease) from spans:
// trying to renew is how a thawed replica learns it lost.
func workWrites(spans []span) []span {
	var out []span
	for _, s := range spans {
		if !strings.Contains(s.what, "/leases/") {
			out = append(out, s)
		}
	}
	return out
}

// apiserverProxy starts a listener that forwards to the control plane as
// its admin, recording every write into log, and writes a kubeconfig for
// it that acts as the operator's ServiceAccount (the operator's
// impersonation header passes through). It returns the kubeconfig's path.
func apiserverProxy(t *testing.T, log *writeLog, name string) string {
	t.Helper()
	upstream, err := rest.TransportFor(env.Admin)
	if err != nil {
		t.Fatal(err)
	}
	target, _, err := rest.DefaultServerUrlFor(env.Admin)
	if err != nil {
		t.Fatal(err)
	}
	proxy := &httputil.ReverseProxy{
		Rewrite:       func(r *httputil.ProxyRequest) { r.SetURL(target); r.Out.Host = target.Host },
		Transport:     upstream,
		FlushInterval: -1, // watches stream
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: log.wrap(proxy), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[name] = &clientcmdapi.Cluster{Server: "http://" + ln.Addr().String()}
	cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{Impersonate: kube.OperatorUser}
	cfg.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name}
	cfg.CurrentContext = name
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
