package plugin

import (
	"context"
	"testing"
	"time"
)

// TestInterrupt: an interrupt cancels the build at once, but while a folder
// output is being received it lets the build end on its own (stop) first;
// either way the build counts as interrupted.
func TestInterrupt(t *testing.T) {
	parent, cancel := context.WithCancel(t.Context())
	in := newInterrupt(parent)
	if in.happened() {
		t.Fatal("interrupted before any signal")
	}
	cancel()
	select {
	case <-in.ctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("not canceled after the interrupt")
	}
	if !in.happened() {
		t.Error("canceled, but not counted as interrupted")
	}
	in.stop()

	parent, cancel = context.WithCancel(t.Context())
	in = newInterrupt(parent)
	in.watch(func() bool { return true })
	cancel()
	select {
	case <-in.ctx.Done():
		t.Fatal("canceled while a folder output was being received")
	case <-time.After(200 * time.Millisecond):
	}
	if !in.happened() {
		t.Error("not counted as interrupted while the transfer finishes")
	}
	in.stop()
	select {
	case <-in.ctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("not canceled once the build ended")
	}
}
