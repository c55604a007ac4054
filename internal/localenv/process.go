package localenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Process is a child program started by this package: the control plane,
// the simulator or the operator.
type Process struct {
	// Name says which program it is, in messages.
	Name string
	cmd  *exec.Cmd
	stop context.CancelFunc
	done chan struct{}
	err  error // set before done is closed
}

// command prepares binary with args to run as a Process: Stop sends it
// SIGTERM (exec.Cmd's Cancel) and kills it if it has not exited grace later
// (its WaitDelay).
func command(binary string, grace time.Duration, args ...string) (*exec.Cmd, context.CancelFunc) {
	ctx, stop := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = grace
	return cmd, stop
}

// start runs cmd (made by command) in its own process group, so that a
// Ctrl-C in the terminal reaches only the program that started it, which
// then stops its children in order (the operator before the control plane
// it talks to), instead of every process at once.
func start(name string, cmd *exec.Cmd, stop context.CancelFunc) (*Process, error) {
	cmd.SysProcAttr = ownProcessGroup()
	if err := cmd.Start(); err != nil {
		stop()
		return nil, fmt.Errorf("starting the %s: %w", name, err)
	}
	p := &Process{Name: name, cmd: cmd, stop: stop, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		stop()
		close(p.done)
	}()
	return p, nil
}

// Pid is the process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Done is closed once the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has ended, stopped or by itself.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// ExitError is how the process ended (nil for status 0); valid once Done is
// closed.
func (p *Process) ExitError() error {
	<-p.done
	return p.err
}

// Stop asks the process to end (SIGTERM) and waits for it; one that does
// not end within its grace period is killed, and Stop says so. Stopping a
// process that already ended is a no-op.
func (p *Process) Stop() error {
	if p.Exited() {
		return nil
	}
	p.stop()
	<-p.done
	if strings.Contains(fmt.Sprint(p.err), "signal: killed") || errors.Is(p.err, exec.ErrWaitDelay) {
		return fmt.Errorf("the %s did not stop within %s of SIGTERM and was killed", p.Name, p.cmd.WaitDelay)
	}
	return nil
}

// Kill ends the process with SIGKILL, as the OOM killer or a lost node
// would: no deferred code runs, no leader lease is released. It returns once
// the process has exited.
func (p *Process) Kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// Signal sends sig to the process: SIGSTOP freezes it as a long pause would,
// SIGCONT lets it resume.
func (p *Process) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// startAnnounced starts cmd and waits, up to timeout, for the first line it
// prints on standard output, which says where it serves. Everything it prints
// (that line included) goes to log.
func startAnnounced(ctx context.Context, name string, cmd *exec.Cmd, stop context.CancelFunc, log io.Writer, timeout time.Duration) (string, *Process, error) {
	announce := &firstLine{next: log, line: make(chan string, 1)}
	cmd.Stdout, cmd.Stderr = announce, log
	p, err := start(name, cmd, stop)
	if err != nil {
		return "", nil, err
	}
	fail := func(err error) (string, *Process, error) {
		_ = p.Stop()
		return "", nil, err
	}
	select {
	case line := <-announce.line:
		return line, p, nil
	case <-p.Done():
		return "", nil, fmt.Errorf("the %s exited before it was ready (%v); see its output", name, p.ExitError())
	case <-time.After(timeout):
		return fail(fmt.Errorf("the %s was not ready within %s", name, timeout))
	case <-ctx.Done():
		return fail(ctx.Err())
	}
}

// firstLine hands the first line written through it to line, and passes
// everything (that line included) on to next.
type firstLine struct {
	mu   sync.Mutex
	next io.Writer
	buf  []byte
	sent bool
	line chan string
}

func (f *firstLine) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.sent {
		f.buf = append(f.buf, p...)
		if i := bytes.IndexByte(f.buf, '\n'); i >= 0 {
			f.line <- strings.TrimSpace(string(f.buf[:i]))
			f.sent, f.buf = true, nil
		}
	}
	return f.next.Write(p)
}
