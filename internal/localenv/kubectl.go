package localenv

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// Kubectl runs a kubectl binary against one kubeconfig, as a person does
// after `export KUBECONFIG=...`.
type Kubectl struct {
	// Path is the kubectl binary.
	Path string
	// Kubeconfig is the file KUBECONFIG points at.
	Kubeconfig string
	// Dir is the working directory, against which relative paths such as
	// config/samples resolve.
	Dir string
}

// Command returns the kubectl command with args, not yet started.
func (k Kubectl) Command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, k.Path, args...)
	cmd.Dir = k.Dir
	cmd.Env = append(os.Environ(), "KUBECONFIG="+k.Kubeconfig)
	return cmd
}

// Run runs kubectl with args and returns its standard output. A failure
// carries the command line and kubectl's standard error.
func (k Kubectl) Run(ctx context.Context, args ...string) (string, error) {
	return k.RunWithInput(ctx, "", args...)
}

// RunWithInput is Run with stdin as kubectl's standard input (for "-f -").
func (k Kubectl) RunWithInput(ctx context.Context, stdin string, args ...string) (string, error) {
	var stdout, stderr bytes.Buffer
	cmd := k.Command(ctx, args...)
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}
