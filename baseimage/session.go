package baseimage

import (
	"context"
	"sync"
)

// Session shares what advice learns from registries and scans among the
// Recommend calls of one build. The build asks early, while it runs, for
// the advice of its platforms (without its findings, which it has only at
// the end): that call resolves the tag and the pinned image, lists the tags
// and scans the base and the candidates. The call made with the build's
// findings, between the scan and the export, then finds those here, or
// waits for what is still on its way, instead of asking the registry and
// scanning again on the build's critical path; on a fresh CI runner, with
// no cache, that was a pull and a scan of each candidate. Only the digest
// the build used, when it is neither the pinned one nor the one the tag
// names now (a builder's stale cache), is resolved then.
type Session struct {
	mu    sync.Mutex
	calls map[string]*sessionCall
}

type sessionCall struct {
	done chan struct{}
	val  any
	err  error
	// abandoned is set when the call ended because its caller's context
	// did: the answer is not kept, and a waiter asks again.
	abandoned bool
}

// do runs fn once for key among the calls of the session, and returns its
// answer to each; shared says the answer was another call's. A caller waits
// under its own context. An answer cut short by its caller's context is not
// kept.
func (s *Session) do(ctx context.Context, key string, fn func(context.Context) (any, error)) (val any, shared bool, err error) {
	for {
		s.mu.Lock()
		if s.calls == nil {
			s.calls = map[string]*sessionCall{}
		}
		c, ok := s.calls[key]
		if !ok {
			c = &sessionCall{done: make(chan struct{})}
			s.calls[key] = c
			s.mu.Unlock()
			c.val, c.err = fn(ctx)
			if c.err != nil && ctx.Err() != nil {
				s.mu.Lock()
				delete(s.calls, key)
				c.abandoned = true
				s.mu.Unlock()
			}
			close(c.done)
			return c.val, false, c.err
		}
		s.mu.Unlock()
		select {
		case <-c.done:
			if !c.abandoned {
				return c.val, true, c.err
			}
		case <-ctx.Done():
			return nil, false, ctx.Err()
		}
	}
}

// sessionDo is do for an answer of type T; without a session, fn runs.
func sessionDo[T any](ctx context.Context, s *Session, key string, fn func(context.Context) (T, error)) (T, bool, error) {
	if s == nil {
		v, err := fn(ctx)
		return v, false, err
	}
	v, shared, err := s.do(ctx, key, func(ctx context.Context) (any, error) { return fn(ctx) })
	t, _ := v.(T) // each key's answers are of one type
	return t, shared, err
}
