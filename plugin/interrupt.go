package plugin

import (
	"context"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// receivingGrace bounds how long an interrupt lets a folder output's
// transfer run on before it cancels it.
const receivingGrace = 20 * time.Second

// interrupt is Ctrl-C (SIGINT, SIGTERM, or the Docker CLI ending the
// plugin's context) during a build. It cancels the build at once, except
// while BuildKit is writing a folder output: canceling that transfer
// midway can crash the receiving side (fsutil's disk writer goes on
// writing after its folder is closed, and the process dies before it
// removes what was written), so the transfer is let finish, for at most
// receivingGrace, and what it wrote is removed. A second signal cancels at
// once; a third kills.
type interrupt struct {
	ctx         context.Context
	interrupted atomic.Bool
	done        chan struct{}
	stopOnce    sync.Once

	mu        sync.Mutex
	receiving []func() bool
}

func newInterrupt(parent context.Context) *interrupt {
	ctx, cancel := context.WithCancel(context.WithoutCancel(parent))
	in := &interrupt{ctx: ctx, done: make(chan struct{})}
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		defer signal.Stop(sigs)
		defer cancel()
		select {
		case <-sigs:
		case <-parent.Done():
		case <-in.done:
			return
		}
		in.interrupted.Store(true)
		if in.isReceiving() {
			select {
			case <-sigs:
			case <-time.After(receivingGrace):
			case <-in.done:
			}
		}
	}()
	return in
}

// watch adds a test of whether a folder output is being received.
func (in *interrupt) watch(receiving func() bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.receiving = append(in.receiving, receiving)
}

func (in *interrupt) isReceiving() bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	for _, r := range in.receiving {
		if r() {
			return true
		}
	}
	return false
}

// happened reports whether the build was interrupted: its outputs must
// not be put in place even when it finished.
func (in *interrupt) happened() bool { return in.interrupted.Load() }

// stop ends the watch: the build is over.
func (in *interrupt) stop() { in.stopOnce.Do(func() { close(in.done) }) }
