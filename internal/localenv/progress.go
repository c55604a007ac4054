package localenv

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// Progress prints one line per event, each stamped with the time since it
// was created, for a person watching a terminal (or a test log).
type Progress struct {
	mu    sync.Mutex
	out   io.Writer
	start time.Time
	// Every is how often Step says that a long step is still running; a
	// newcomer must never stare at a silent terminal, and a first build of
	// the operator takes minutes.
	Every time.Duration
}

// NewProgress returns a Progress writing to out, its clock starting now.
func NewProgress(out io.Writer) *Progress {
	return &Progress{out: out, start: time.Now(), Every: 5 * time.Second}
}

// Printf prints one stamped line.
func (p *Progress) Printf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.out, "[%6.1fs] %s\n", time.Since(p.start).Seconds(), fmt.Sprintf(format, args...))
}

// Step prints what starts, runs fn, and while fn runs prints "still <doing>"
// every p.Every; it ends with how long fn took (or that it failed).
func (p *Progress) Step(what, doing string, fn func() error) error {
	p.Printf("%s ...", what)
	began := time.Now()
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(p.Every)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				p.Printf("  still %s (%s so far)", doing, time.Since(began).Round(time.Second))
			}
		}
	})
	err := fn()
	close(done)
	wg.Wait()
	took := time.Since(began).Round(100 * time.Millisecond)
	if err != nil {
		p.Printf("  failed after %s", took)
		return err
	}
	p.Printf("  done in %s", took)
	return nil
}
