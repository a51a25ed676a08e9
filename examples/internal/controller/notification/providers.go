package notification

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/kit/events"
	"github.com/gitopskit/kit/events/providers"

	notificationv1 "github.com/gitopskit/kit/examples/api/notification/v1"
)

// DefaultSecretRecheck is how long the hub uses a provider built from a
// Provider's Secrets before it reads them again to see whether they
// changed (their resourceVersions).
const DefaultSecretRecheck = 30 * time.Second

// Providers builds the events.Provider a Provider object describes and
// keeps it while the object's generation and its Secrets' resourceVersions
// stay the same, so the hub reads the Secrets at most once per Recheck per
// Provider and builds a provider (an HTTP client) only when something
// changed. The Provider reconciler resolves through it too: a reconcile
// request on a Provider (gitopsctl reconcile provider) makes a changed
// Secret effective at once. It is safe for concurrent use.
type Providers struct {
	// Reader reads the Secrets; they must not be cached (a client whose
	// cache excludes Secrets, controllers.UncachedObjects).
	Reader client.Reader
	// Registry maps spec.type to constructors; providers.Default() when
	// nil.
	Registry providers.Registry
	// Recheck is how long a built provider is used before its Secrets are
	// read again; DefaultSecretRecheck when zero, every use when negative.
	Recheck time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time

	mu      sync.Mutex
	entries map[types.UID]*providerEntry
}

// providerEntry is a built provider and what it was built from.
type providerEntry struct {
	generation int64
	versions   string
	checked    time.Time
	provider   events.Provider
	mask       []string
	err        error
}

// Resolve returns the provider p describes and the secret values to mask in
// anything said about it. With fresh, its Secrets are read whatever the
// Recheck period.
func (ps *Providers) Resolve(ctx context.Context, p *notificationv1.Provider, fresh bool) (events.Provider, []string, error) {
	now := ps.now()
	ps.mu.Lock()
	e := ps.entries[p.UID]
	if e != nil && !fresh && e.generation == p.Generation && now.Sub(e.checked) < ps.recheck() {
		ps.mu.Unlock()
		return e.provider, e.mask, e.err
	}
	ps.mu.Unlock()

	secrets, versions, err := readSecrets(ctx, ps.Reader, p)
	if err != nil {
		// A failed read is not remembered: the next use tries again.
		return nil, nil, err
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if e := ps.entries[p.UID]; e != nil && e.generation == p.Generation && e.versions == versions {
		e.checked = now
		return e.provider, e.mask, e.err
	}
	e = &providerEntry{generation: p.Generation, versions: versions, checked: now}
	e.provider, e.mask, e.err = ps.build(p, secrets)
	if ps.entries == nil {
		ps.entries = map[types.UID]*providerEntry{}
	}
	ps.entries[p.UID] = e
	return e.provider, e.mask, e.err
}

// build makes the provider; its error names no secret value.
func (ps *Providers) build(p *notificationv1.Provider, secrets map[string]*corev1.Secret) (events.Provider, []string, error) {
	cfg, mask, err := configFrom(p, secrets)
	if err != nil {
		return nil, mask, err
	}
	reg := ps.Registry
	if reg == nil {
		reg = providers.Default()
	}
	prov, err := reg.New(p.Spec.Type, cfg)
	if err != nil {
		return nil, mask, fmt.Errorf("%w: %w", errInvalidConfig, err)
	}
	return prov, mask, nil
}

// Forget drops what was built for the Provider with this UID (it was
// deleted).
func (ps *Providers) Forget(uid types.UID) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	delete(ps.entries, uid)
}

func (ps *Providers) recheck() time.Duration {
	switch {
	case ps.Recheck == 0:
		return DefaultSecretRecheck
	case ps.Recheck < 0:
		return 0
	}
	return ps.Recheck
}

func (ps *Providers) now() time.Time {
	if ps.Now != nil {
		return ps.Now()
	}
	return time.Now()
}
