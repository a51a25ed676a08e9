//go:build unix

package storage

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

type keyLock struct {
	sem  chan struct{}
	refs int
}

// Lock takes the key's lock, waiting until it is free or ctx ends, and
// returns the function that releases it. The lock excludes other goroutines
// of this process and other processes locking the same storage directory.
// It creates the key's directory if needed.
func (s *Storage) Lock(ctx context.Context, key Key) (unlock func(), err error) {
	if err := key.Validate(); err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("storage: lock %s: %w", key, err)
	}
	id := key.String()
	s.mu.Lock()
	l := s.locks[id]
	if l == nil {
		l = &keyLock{sem: make(chan struct{}, 1)}
		s.locks[id] = l
	}
	l.refs++
	s.mu.Unlock()
	release := func() {
		s.mu.Lock()
		l.refs--
		if l.refs == 0 {
			delete(s.locks, id)
		}
		s.mu.Unlock()
	}

	select {
	case l.sem <- struct{}{}:
	case <-ctx.Done():
		release()
		return nil, fmt.Errorf("storage: lock %s: %w", key, ctx.Err())
	}
	f, err := s.flock(ctx, key)
	if err != nil {
		<-l.sem
		release()
		return nil, err
	}
	return func() {
		unix.Flock(int(f.Fd()), unix.LOCK_UN)
		f.Close()
		<-l.sem
		release()
	}, nil
}

// flock takes the cross-process lock, polling because flock(2) cannot be
// interrupted by a context.
func (s *Storage) flock(ctx context.Context, key Key) (*os.File, error) {
	dir := s.dir(key)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o644)
	if err != nil {
		return nil, fmt.Errorf("storage: lock %s: %w", key, err)
	}
	wait := time.Millisecond
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			f.Close()
			return nil, fmt.Errorf("storage: lock %s: %w", key, err)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			f.Close()
			return nil, fmt.Errorf("storage: lock %s: %w", key, ctx.Err())
		case <-t.C:
		}
		wait = min(2*wait, 50*time.Millisecond)
	}
}
