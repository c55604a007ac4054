package localenv

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// OperatorOptions say how to run the operator binary.
type OperatorOptions struct {
	// Binary is the manager binary.
	Binary string
	// Kubeconfig is the file KUBECONFIG points at, as `make run` would use
	// the current kubeconfig; give it the operator's own identity
	// (ControlPlane.OperatorKubeconfig), never an admin's.
	Kubeconfig string
	// VoiceAPIURL is the simulator's URL (--voice-api-url).
	VoiceAPIURL string
	// Args are more flags; a flag given twice takes the later value, so
	// these can override the ones above.
	Args []string
	// Metrics, when true, binds the metrics endpoint to a free loopback port
	// (Operator.MetricsAddr) and waits until it answers; otherwise it is off.
	// It is served over plain HTTP to anyone, for the harness to scrape,
	// unless SecureMetrics is set too.
	Metrics bool
	// SecureMetrics keeps the operator's default: HTTPS, with each scrape
	// authenticated and authorized by the apiserver.
	SecureMetrics bool
	// PredatesSecureMetrics says Binary was built before --metrics-secure
	// existed: it serves plain HTTP and would refuse the flag.
	PredatesSecureMetrics bool
	// Log receives everything the operator prints; nil writes it to a new
	// file in LogDir (Operator.LogPath).
	Log io.Writer
	// LogDir is where the log file goes when Log is nil (default: the
	// system's temporary folder).
	LogDir string
}

// Operator is the operator running as its own process.
type Operator struct {
	*Process
	// LogPath is the file holding everything it printed, when
	// OperatorOptions.Log was nil.
	LogPath string
	// MetricsAddr is host:port of its metrics endpoint, when asked for.
	MetricsAddr string
	// scheme is http, or https with SecureMetrics.
	scheme string
}

// StartOperator runs the operator as its own process, as `make run` does: no
// probe listener, logs in the console encoding a person reads (unless Args
// say otherwise).
func StartOperator(ctx context.Context, o OperatorOptions) (*Operator, error) {
	op := &Operator{MetricsAddr: "0", scheme: "http"}
	if o.Metrics {
		addr, err := FreeAddr()
		if err != nil {
			return nil, err
		}
		op.MetricsAddr = addr
	}
	log := o.Log
	if log == nil {
		f, err := os.CreateTemp(o.LogDir, "operator-*.log")
		if err != nil {
			return nil, err
		}
		defer func() { _ = f.Close() }() // the operator holds its own descriptor
		log, op.LogPath = f, f.Name()
	}
	args := append([]string{
		"--kubeconfig", o.Kubeconfig,
		"--voice-api-url", o.VoiceAPIURL,
		"--metrics-bind-address", op.MetricsAddr,
		"--health-probe-bind-address", "0",
		"--zap-encoder", "console",
	}, o.Args...)
	switch {
	case o.SecureMetrics:
		op.scheme = "https"
	case o.PredatesSecureMetrics:
	default:
		args = append([]string{"--metrics-secure=false"}, args...)
	}
	cmd, stop := command(o.Binary, 15*time.Second, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+o.Kubeconfig)
	cmd.Stdout, cmd.Stderr = log, log
	p, err := start("operator", cmd, stop)
	if err != nil {
		return nil, err
	}
	op.Process = p
	if o.Metrics {
		if err := op.waitForMetrics(ctx, 30*time.Second); err != nil {
			_ = p.Stop()
			return nil, err
		}
	}
	return op, nil
}

// LogTail returns the last n lines the operator logged to its log file
// (OperatorOptions.Log nil), for a failing test to show.
func (op *Operator) LogTail(n int) string {
	data, err := os.ReadFile(op.LogPath)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// MetricsURL is the operator's metrics endpoint.
func (op *Operator) MetricsURL() string { return op.scheme + "://" + op.MetricsAddr + "/metrics" }

// waitForMetrics waits until the endpoint answers: 200 over HTTP, and any
// answer over HTTPS, where a request without a token is refused.
func (op *Operator) waitForMetrics(ctx context.Context, within time.Duration) error {
	deadline := time.Now().Add(within)
	client := &http.Client{Transport: &http.Transport{
		// The operator's certificate is self-signed, made at start.
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // loopback, a certificate made seconds ago
	}}
	defer client.CloseIdleConnections()
	for {
		resp, err := client.Get(op.MetricsURL())
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK || op.scheme == "https" {
				return nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil || op.Exited() {
			return fmt.Errorf("the operator's metrics endpoint did not come up (log: %s)", op.LogPath)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// FreeAddr returns a loopback address with a port that was free a moment
// ago.
func FreeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().String(), nil
}

// RandomHex returns n random bytes in hex, for unique names in tests.
func RandomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
