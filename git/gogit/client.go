package gogit

import (
	"context"
	"math"
	"time"

	"github.com/gitopskit/kit/git"
	"github.com/gitopskit/kit/git/internal/transport"
)

// Option configures a Client.
type Option func(*Client)

// WithAuth sets the credentials and transport settings of the remote.
func WithAuth(auth git.AuthOptions) Option { return func(c *Client) { c.auth = auth } }

// WithCache makes Export fetch incrementally into cache.
func WithCache(cache *Cache) Option { return func(c *Client) { c.cache = cache } }

// Client talks to one remote repository. It is safe for concurrent use.
type Client struct {
	url   string
	auth  git.AuthOptions
	cache *Cache
	tr    *transport.Settings
}

// New returns a client for the remote at url (https://, http:// or ssh://,
// or scp-like git@host:path). Credentials over plain http are refused unless
// AuthOptions.AllowInsecureHTTP is set; SSH needs known_hosts.
func New(url string, opts ...Option) (*Client, error) {
	c := &Client{url: url}
	for _, o := range opts {
		o(c)
	}
	tr, err := transport.New(url, c.auth)
	if err != nil {
		return nil, err
	}
	c.tr = tr
	return c, nil
}

// CloneOptions are the per-call knobs of Clone and Export. The zero value
// clones the remote's HEAD shallowly, within the default limits.
//
// Every limit follows the same rule: zero means its default, a negative
// value means no limit. Crossing one fails the call with a *git.LimitError
// (which matches git.ErrSizeLimit) naming it, and leaves nothing behind.
type CloneOptions struct {
	// Reference selects the revision; see git.Reference for the precedence.
	Reference git.Reference
	// LastRevision is the revision observed last time
	// ("main@sha1:<hex>"). When the remote still resolves to it, nothing is
	// fetched and Result.Unchanged is true.
	LastRevision string
	// Full fetches the whole history instead of the tip only.
	Full bool
	// SparseDirectories checks out only these directories (slash-separated,
	// relative to the repository root).
	SparseDirectories []string
	// RecurseSubmodules checks out submodules, recursively (at most 8
	// levels). A submodule's URL is held to the rules of the remote's:
	// http(s) or ssh only (never file:// or a local path), credentials
	// reused only on the same host and scheme, and the same limits, which
	// count the submodules' files together with the parent's.
	RecurseSubmodules bool
	// AllowEscapingSymlinks lets Clone create symbolic links whose target
	// is absolute or leaves the checkout. By default such a link fails the
	// clone with git.ErrUnsafePath, as it always does in Export. Commit
	// never writes through a link that resolves outside the checkout,
	// whatever this says.
	AllowEscapingSymlinks bool

	// MaxFetchSize bounds the pack data one fetch may receive, in bytes
	// (default DefaultMaxFetchSize).
	MaxFetchSize int64
	// MaxObjectSize bounds the inflated size of any one object a fetch
	// receives, in bytes (default DefaultMaxObjectSize). It is checked
	// against each object's header before the object is inflated, so a
	// small pack cannot expand into a huge blob in memory.
	MaxObjectSize int64
	// MaxObjects bounds the objects of one fetched pack (default
	// DefaultMaxObjects).
	MaxObjects int64
	// MaxFiles bounds the entries (files, symbolic links, folders) a
	// checkout holds, submodules included (default DefaultMaxFiles).
	MaxFiles int64
	// MaxCheckoutSize bounds the bytes of the files a checkout holds,
	// submodules included (default DefaultMaxCheckoutSize).
	MaxCheckoutSize int64

	// Timeout bounds the whole call (reference listing, fetch, checkout);
	// ctx may end it sooner. Zero means DefaultTimeout; negative means no
	// limit other than ctx.
	Timeout time.Duration
}

// Defaults of CloneOptions and PushOptions.
const (
	// DefaultMaxFetchSize is the default CloneOptions.MaxFetchSize: 1 GiB of
	// pack data, well above a GitOps repository, well below a full disk.
	DefaultMaxFetchSize int64 = 1 << 30
	// DefaultMaxObjectSize is the default CloneOptions.MaxObjectSize:
	// 100 MiB, the largest file GitHub accepts.
	DefaultMaxObjectSize int64 = 100 << 20
	// DefaultMaxObjects is the default CloneOptions.MaxObjects: a million
	// objects, some 50 times a shallow clone of kubernetes/kubernetes.
	DefaultMaxObjects int64 = 1_000_000
	// DefaultMaxFiles is the default CloneOptions.MaxFiles: 500,000
	// entries, six times a checkout of the Linux kernel.
	DefaultMaxFiles int64 = 500_000
	// DefaultMaxCheckoutSize is the default CloneOptions.MaxCheckoutSize:
	// 4 GiB of files.
	DefaultMaxCheckoutSize int64 = 4 << 30
	// DefaultTimeout is the default time limit of Clone, Export, Resolve and
	// Push.
	DefaultTimeout = 10 * time.Minute
)

// limits are CloneOptions' limits resolved (math.MaxInt64: none).
type limits struct {
	fetchSize, objectSize, objects, files, checkoutSize int64
}

func (o CloneOptions) limits() limits {
	return limits{
		fetchSize:    limit(o.MaxFetchSize, DefaultMaxFetchSize),
		objectSize:   limit(o.MaxObjectSize, DefaultMaxObjectSize),
		objects:      limit(o.MaxObjects, DefaultMaxObjects),
		files:        limit(o.MaxFiles, DefaultMaxFiles),
		checkoutSize: limit(o.MaxCheckoutSize, DefaultMaxCheckoutSize),
	}
}

func limit(n, def int64) int64 {
	switch {
	case n == 0:
		return def
	case n < 0:
		return math.MaxInt64
	}
	return n
}

// withTimeout applies an options' Timeout (zero: DefaultTimeout, negative:
// none) to ctx.
func withTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	switch {
	case d < 0:
		return context.WithCancel(ctx)
	case d == 0:
		d = DefaultTimeout
	}
	return context.WithTimeout(ctx, d)
}

// Result is the outcome of Clone or Export.
type Result struct {
	// Commit is the checked-out commit. When Unchanged, only Hash and
	// Reference are set.
	Commit *git.Commit
	// Revision is the Flux revision string, e.g. "main@sha1:<hex>".
	Revision string
	// Unchanged reports that the remote still points at
	// CloneOptions.LastRevision, and nothing was fetched.
	Unchanged bool
}
