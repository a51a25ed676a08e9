package eventstest

import (
	"context"
	"fmt"
	"sync"
)

// log is an append-only list that can be waited on.
type log[T any] struct {
	mu      sync.Mutex
	items   []T
	changed chan struct{}
}

func (l *log[T]) add(v T) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.items = append(l.items, v)
	if l.changed != nil {
		close(l.changed)
		l.changed = nil
	}
}

func (l *log[T]) snapshot() []T {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]T(nil), l.items...)
}

func (l *log[T]) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.items)
}

// wait blocks until at least n items were added or ctx is done.
func (l *log[T]) wait(ctx context.Context, n int) ([]T, error) {
	for {
		l.mu.Lock()
		if len(l.items) >= n {
			out := append([]T(nil), l.items...)
			l.mu.Unlock()
			return out, nil
		}
		if l.changed == nil {
			l.changed = make(chan struct{})
		}
		ch := l.changed
		have := len(l.items)
		l.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return l.snapshot(), fmt.Errorf("waiting for %d, have %d: %w", n, have, ctx.Err())
		}
	}
}
