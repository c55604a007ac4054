package localenv

import (
	"io"
	"os"
	"os/exec"
	"time"
)

// OperatorOptions say how to run the operator binary.
type OperatorOptions struct {
	// Binary is the manager binary.
	Binary string
	// Kubeconfig is the file KUBECONFIG points at, as `make run` would use
	// the current kubeconfig.
	Kubeconfig string
	// VoiceAPIURL is the simulator's URL (--voice-api-url).
	VoiceAPIURL string
	// ResyncPeriod is --resync-period.
	ResyncPeriod time.Duration
	// Log receives everything the operator prints.
	Log io.Writer
}

// StartOperator runs the operator as its own process, as `make run` does:
// no metrics or probe listeners (nothing scrapes them here, and a fixed port
// could clash), logs in the console encoding a person reads.
func StartOperator(o OperatorOptions) (*Process, error) {
	cmd := exec.Command(o.Binary,
		"--voice-api-url", o.VoiceAPIURL,
		"--resync-period", o.ResyncPeriod.String(),
		"--metrics-bind-address", "0",
		"--health-probe-bind-address", "0",
		"--zap-encoder", "console",
	)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+o.Kubeconfig)
	cmd.Stdout, cmd.Stderr = o.Log, o.Log
	return start("operator", cmd)
}
