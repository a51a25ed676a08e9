package eventstest

import (
	"context"
	"sync"
	"time"

	"github.com/gitopskit/kit/events"
)

// Provider is an in-memory events.Provider: it records the notifications
// the hub delivers and can fail or be slow on demand.
type Provider struct {
	delivered log[events.Notification]

	mu       sync.Mutex
	attempts int
	failNext int
	failErr  error
	delay    time.Duration
}

var _ events.Provider = (*Provider)(nil)

// NewProvider returns an empty Provider.
func NewProvider() *Provider { return &Provider{} }

// Post records n, unless a failure is due, after the delay (or until ctx is
// done).
func (p *Provider) Post(ctx context.Context, n *events.Notification) error {
	p.mu.Lock()
	p.attempts++
	delay := p.delay
	var err error
	if p.failNext > 0 {
		p.failNext--
		err = p.failErr
	}
	p.mu.Unlock()
	if delay > 0 {
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err != nil {
		return err
	}
	c := *n
	c.Event = *n.Event.DeepCopy()
	c.Resolves = n.Resolves.DeepCopy()
	if n.CommitStatus != nil {
		cs := *n.CommitStatus
		c.CommitStatus = &cs
	}
	p.delivered.add(c)
	return nil
}

// Notifications returns what was delivered so far, in order.
func (p *Provider) Notifications() []events.Notification { return p.delivered.snapshot() }

// Wait blocks until at least n notifications were delivered or ctx is done.
func (p *Provider) Wait(ctx context.Context, n int) ([]events.Notification, error) {
	return p.delivered.wait(ctx, n)
}

// Attempts counts every Post call, failed ones included.
func (p *Provider) Attempts() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.attempts
}

// FailNext makes the next n Post calls return err (wrap it with
// events.Permanent to stop the hub from retrying).
func (p *Provider) FailNext(n int, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failNext, p.failErr = n, err
}

// SetDelay makes every Post wait d first (or until its context is done).
func (p *Provider) SetDelay(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.delay = d
}

// CommitStatusProvider is a Provider the hub treats as a commit-status
// provider.
type CommitStatusProvider struct{ Provider }

var _ events.CommitStatusProvider = (*CommitStatusProvider)(nil)

// NewCommitStatusProvider returns an empty CommitStatusProvider.
func NewCommitStatusProvider() *CommitStatusProvider { return &CommitStatusProvider{} }

// SetsCommitStatus marks the provider as a commit-status provider.
func (*CommitStatusProvider) SetsCommitStatus() {}
