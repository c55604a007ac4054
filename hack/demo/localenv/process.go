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
	done chan struct{}
	err  error // set before done is closed
}

// start runs cmd in its own process group, so that a Ctrl-C in the terminal
// reaches only the program that started it, which then stops its children
// in order (the operator before the control plane it talks to), instead of
// every process at once.
func start(name string, cmd *exec.Cmd) (*Process, error) {
	cmd.SysProcAttr = ownProcessGroup()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the %s: %w", name, err)
	}
	p := &Process{Name: name, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// Pid is the process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Done is closed once the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// ExitError is how the process ended (nil for status 0); valid once Done is
// closed.
func (p *Process) ExitError() error {
	<-p.done
	return p.err
}

// Stop asks the process to end (SIGTERM), waits up to grace for it, and
// kills it after that. Stopping a process that already ended is a no-op.
func (p *Process) Stop(grace time.Duration) error {
	select {
	case <-p.done:
		return nil
	default:
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("stopping the %s: %w", p.Name, err)
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(grace):
	}
	if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("killing the %s: %w", p.Name, err)
	}
	<-p.done
	return fmt.Errorf("the %s did not stop within %s of SIGTERM and was killed", p.Name, grace)
}

// startAnnounced starts cmd and waits, up to timeout, for the first line it
// prints on standard output, which says where it serves. Everything it prints
// (that line included) goes to log.
func startAnnounced(ctx context.Context, name string, cmd *exec.Cmd, log io.Writer, timeout time.Duration) (string, *Process, error) {
	announce := &firstLine{next: log, line: make(chan string, 1)}
	cmd.Stdout, cmd.Stderr = announce, log
	p, err := start(name, cmd)
	if err != nil {
		return "", nil, err
	}
	fail := func(err error) (string, *Process, error) {
		_ = p.Stop(10 * time.Second)
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
