package gogit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/storage"
	"github.com/go-git/go-git/v5/storage/memory"
	"github.com/go-logr/logr"

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
// clones the remote's HEAD shallowly.
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
	// RecurseSubmodules checks out submodules, recursively. Credentials are
	// reused only for submodules on the same host as the remote.
	RecurseSubmodules bool
	// MaxFetchSize bounds the pack data one fetch may receive, in bytes:
	// past it the fetch fails with git.ErrSizeLimit and what was received is
	// dropped. Zero means DefaultMaxFetchSize; negative means no limit.
	MaxFetchSize int64
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
	// DefaultTimeout is the default time limit of Clone, Export, Resolve and
	// Push.
	DefaultTimeout = 10 * time.Minute
)

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

// fetchLimit resolves CloneOptions.MaxFetchSize.
func fetchLimit(n int64) int64 {
	switch {
	case n == 0:
		return DefaultMaxFetchSize
	case n < 0:
		return math.MaxInt64
	}
	return n
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

// target is a resolved reference.
type target struct {
	ref    plumbing.ReferenceName // empty for a bare commit
	object plumbing.Hash          // what ref points to: commit or annotated tag
	commit plumbing.Hash          // the commit (peeled)
	exact  bool                   // a commit SHA was requested
}

// Resolve asks the remote (ls-remote) which commit ref designates, without
// fetching objects. It gives up after DefaultTimeout, or when ctx ends.
func (c *Client) Resolve(ctx context.Context, ref git.Reference) (string, error) {
	ctx, cancel := withTimeout(ctx, 0)
	defer cancel()
	t, err := c.resolve(ctx, ref)
	if err != nil {
		return "", err
	}
	return git.Revision(string(t.ref), t.commit.String()), nil
}

func (c *Client) resolve(ctx context.Context, ref git.Reference) (*target, error) {
	if err := ref.Validate(); err != nil {
		return nil, err
	}
	if ref.Commit != "" {
		t := &target{commit: plumbing.NewHash(ref.Commit), object: plumbing.NewHash(ref.Commit), exact: true}
		if ref.Branch != "" {
			t.ref = plumbing.NewBranchReferenceName(ref.Branch)
		}
		return t, nil
	}
	refs, head, err := c.lsRemote(ctx)
	if err != nil {
		return nil, err
	}
	lookup := func(name plumbing.ReferenceName) (*target, error) {
		h, ok := refs[name.String()]
		if !ok {
			return nil, fmt.Errorf("%w: %s", git.ErrReferenceNotFound, name)
		}
		t := &target{ref: name, object: h, commit: h}
		if peeled, ok := refs[name.String()+"^{}"]; ok {
			t.commit = peeled
		}
		return t, nil
	}
	switch {
	case ref.Name != "":
		return lookup(plumbing.ReferenceName(ref.Name))
	case ref.SemVer != "":
		tag, err := pickSemver(ref.SemVer, refs)
		if err != nil {
			return nil, err
		}
		return lookup(plumbing.NewTagReferenceName(tag))
	case ref.Tag != "":
		return lookup(plumbing.NewTagReferenceName(ref.Tag))
	case ref.Branch != "":
		return lookup(plumbing.NewBranchReferenceName(ref.Branch))
	}
	if head != "" {
		return lookup(plumbing.ReferenceName(head))
	}
	if h, ok := refs["HEAD"]; ok {
		// No symref advertised: find a branch at HEAD, preferring main/master.
		var names []string
		for n, rh := range refs {
			if rh == h && strings.HasPrefix(n, "refs/heads/") {
				names = append(names, n)
			}
		}
		sort.Slice(names, func(i, j int) bool { return rankBranch(names[i]) < rankBranch(names[j]) })
		if len(names) > 0 {
			return lookup(plumbing.ReferenceName(names[0]))
		}
		return &target{ref: plumbing.HEAD, object: h, commit: h}, nil
	}
	return nil, fmt.Errorf("%w: remote has no HEAD", git.ErrReferenceNotFound)
}

func rankBranch(n string) string {
	switch n {
	case "refs/heads/main":
		return "0"
	case "refs/heads/master":
		return "1"
	}
	return "2" + n
}

// lsRemote lists the remote's references: name → hash, with peeled tags as
// "name^{}", and the target of a symbolic HEAD.
func (c *Client) lsRemote(ctx context.Context) (refs map[string]plumbing.Hash, head string, err error) {
	remote := gogit.NewRemote(memory.NewStorage(), &config.RemoteConfig{Name: "origin", URLs: []string{c.url}})
	list, err := remote.ListContext(ctx, &gogit.ListOptions{
		Auth:          c.tr.Auth,
		CABundle:      c.tr.CABundle,
		ClientCert:    c.tr.ClientCert,
		ClientKey:     c.tr.ClientKey,
		ProxyOptions:  c.tr.Proxy,
		PeelingOption: gogit.AppendPeeled,
	})
	if err != nil {
		return nil, "", c.tr.Sanitize(ctx, "list references of", err)
	}
	refs = make(map[string]plumbing.Hash, len(list))
	for _, r := range list {
		switch r.Type() {
		case plumbing.HashReference:
			refs[r.Name().String()] = r.Hash()
		case plumbing.SymbolicReference:
			if r.Name() == plumbing.HEAD {
				head = r.Target().String()
			}
		}
	}
	if len(refs) == 0 {
		return nil, "", fmt.Errorf("%s: %w", git.RedactURL(c.url), git.ErrEmptyRepository)
	}
	return refs, head, nil
}

// pickSemver returns the highest tag matching the constraint. Tags that
// parse to the same version ("v1.0.0" and "1.0.0") are ordered by name, the
// lexically smallest winning, so the choice is deterministic.
func pickSemver(constraint string, refs map[string]plumbing.Hash) (string, error) {
	cons, err := semver.NewConstraint(constraint)
	if err != nil {
		return "", fmt.Errorf("%w: semver constraint %q: %v", git.ErrInvalidOptions, constraint, err)
	}
	var best *semver.Version
	var bestName string
	for name := range refs {
		tag, ok := strings.CutPrefix(name, "refs/tags/")
		if !ok || strings.HasSuffix(tag, "^{}") {
			continue
		}
		v, err := semver.NewVersion(tag)
		if err != nil || !cons.Check(v) {
			continue
		}
		if best == nil || v.GreaterThan(best) || (v.Equal(best) && tag < bestName) {
			best, bestName = v, tag
		}
	}
	if best == nil {
		return "", fmt.Errorf("%w: no tag matches semver %q", git.ErrReferenceNotFound, constraint)
	}
	return bestName, nil
}

// unchanged returns the short-circuit result when the remote still points
// at the last observed revision.
func unchanged(t *target, last string) *Result {
	if last == "" {
		return nil
	}
	rev := git.Revision(string(t.ref), t.commit.String())
	if rev != last {
		return nil
	}
	return &Result{
		Commit:    &git.Commit{Hash: t.commit.String(), Reference: string(t.ref)},
		Revision:  rev,
		Unchanged: true,
	}
}

// Clone checks out the revision into dir, which must be empty or missing,
// as a git repository (dir/.git) that Commit and Push can work on.
func (c *Client) Clone(ctx context.Context, dir string, opts CloneOptions) (*Result, error) {
	ctx, cancel := withTimeout(ctx, opts.Timeout)
	defer cancel()
	log := logr.FromContextOrDiscard(ctx).WithValues("url", git.RedactURL(c.url), "ref", opts.Reference.String())
	t, err := c.resolve(ctx, opts.Reference)
	if err != nil {
		return nil, err
	}
	if r := unchanged(t, opts.LastRevision); r != nil {
		log.V(1).Info("remote unchanged, skipping clone", "revision", r.Revision)
		return r, nil
	}
	if err := emptyDir(dir); err != nil {
		return nil, err
	}
	repo, err := gogit.PlainInit(dir, false)
	if err != nil {
		return nil, fmt.Errorf("init %s: %w", dir, err)
	}
	if _, err := repo.CreateRemote(&config.RemoteConfig{Name: "origin", URLs: []string{c.url}}); err != nil {
		return nil, err
	}
	if err := c.fetch(ctx, repo.Storer, t, opts); err != nil {
		removeTempPacks(filepath.Join(dir, ".git"))
		return nil, err
	}
	commit, err := object.GetCommit(repo.Storer, t.commit)
	if err != nil {
		return nil, fmt.Errorf("%w: commit %s not fetched", git.ErrReferenceNotFound, t.commit)
	}
	wt, err := repo.Worktree()
	if err != nil {
		return nil, err
	}
	co := &gogit.CheckoutOptions{Force: true, SparseCheckoutDirectories: opts.SparseDirectories}
	if t.ref.IsBranch() {
		if err := repo.Storer.SetReference(plumbing.NewHashReference(t.ref, t.commit)); err != nil {
			return nil, err
		}
		co.Branch = t.ref
	} else {
		co.Hash = t.commit
	}
	if err := wt.Checkout(co); err != nil {
		return nil, fmt.Errorf("checkout %s: %w", t.commit, err)
	}
	if opts.RecurseSubmodules {
		if err := c.submodules(ctx, dir, commit, opts, submoduleDepth(ctx)); err != nil {
			return nil, err
		}
	}
	out, err := buildCommit(repo.Storer, t, commit)
	if err != nil {
		return nil, err
	}
	log.V(1).Info("cloned", "revision", out.Revision())
	return &Result{Commit: out, Revision: out.Revision()}, nil
}

// fetch brings the target's objects into st: depth 1 unless opts.Full, at
// most opts.MaxFetchSize bytes of pack data. A bare commit is fetched by its
// SHA when the server allows it, else through the branch (or all branches)
// history.
func (c *Client) fetch(ctx context.Context, st storage.Storer, t *target, opts CloneOptions) error {
	depth := 1
	if opts.Full {
		depth = 0
	}
	limited := &limitedStorer{Storer: st, limit: fetchLimit(opts.MaxFetchSize)}
	remote := gogit.NewRemote(limited, &config.RemoteConfig{Name: "origin", URLs: []string{c.url}})
	do := func(depth int, specs ...config.RefSpec) error {
		err := remote.FetchContext(ctx, &gogit.FetchOptions{
			RemoteName:   "origin",
			RefSpecs:     specs,
			Depth:        depth,
			Auth:         c.tr.Auth,
			CABundle:     c.tr.CABundle,
			ClientCert:   c.tr.ClientCert,
			ClientKey:    c.tr.ClientKey,
			ProxyOptions: c.tr.Proxy,
			Tags:         gogit.NoTags,
			Force:        true,
		})
		if errors.Is(err, gogit.NoErrAlreadyUpToDate) {
			return nil
		}
		return err
	}
	var err error
	if !t.exact {
		// Refs are stored under their own name so a tag stays a tag and a
		// branch can be committed to and pushed.
		err = do(depth, config.RefSpec(fmt.Sprintf("+%s:%s", t.ref, t.ref)))
	} else {
		err = do(depth, config.RefSpec(fmt.Sprintf("%s:refs/gitopskit/checkout", t.commit)))
		if errors.Is(err, gogit.ErrExactSHA1NotSupported) {
			spec := config.RefSpec("+refs/heads/*:refs/remotes/origin/*")
			if t.ref != "" {
				spec = config.RefSpec(fmt.Sprintf("+%s:refs/remotes/origin/%s", t.ref, t.ref.Short()))
			}
			err = do(0, spec)
		}
	}
	if err != nil {
		// A server refuses a want it does not serve with "not our ref".
		if errors.Is(err, gogit.ErrExactSHA1NotSupported) || strings.Contains(err.Error(), "couldn't find remote ref") ||
			strings.Contains(err.Error(), "not our ref") {
			err = fmt.Errorf("%w: %v", git.ErrReferenceNotFound, err)
		}
		return c.tr.Sanitize(ctx, "fetch from", err)
	}
	if _, err := st.EncodedObject(plumbing.CommitObject, t.commit); err != nil {
		return fmt.Errorf("%w: commit %s", git.ErrReferenceNotFound, t.commit)
	}
	return nil
}

// limitedStorer is a storage whose incoming pack files may not exceed
// limit bytes. go-git streams every fetched pack through PackfileWriter.
type limitedStorer struct {
	storage.Storer
	limit int64
}

// PackfileWriter implements storer.PackfileWriter.
func (s *limitedStorer) PackfileWriter() (io.WriteCloser, error) {
	pw, ok := s.Storer.(storer.PackfileWriter)
	if !ok {
		return nil, errors.New("this storage cannot receive a pack file")
	}
	w, err := pw.PackfileWriter()
	if err != nil {
		return nil, err
	}
	return &limitedWriter{WriteCloser: w, left: s.limit}, nil
}

type limitedWriter struct {
	io.WriteCloser
	left int64
}

func (w *limitedWriter) Write(p []byte) (int, error) {
	if int64(len(p)) > w.left {
		return 0, fmt.Errorf("%w: the fetched pack is larger than the limit (CloneOptions.MaxFetchSize)", git.ErrSizeLimit)
	}
	w.left -= int64(len(p))
	return w.WriteCloser.Write(p)
}

// removeTempPacks removes the half-written pack files a failed fetch left
// in the repository at gitDir (go-git keeps them when a pack is cut short).
func removeTempPacks(gitDir string) {
	tmps, _ := filepath.Glob(filepath.Join(gitDir, "objects", "pack", "tmp_pack_*"))
	for _, t := range tmps {
		_ = os.Remove(t)
	}
}

// buildCommit converts a go-git commit, with the annotated tag it went
// through if any.
func buildCommit(st storer.EncodedObjectStorer, t *target, c *object.Commit) (*git.Commit, error) {
	encoded, err := encodeWithoutSignature(c)
	if err != nil {
		return nil, err
	}
	out := &git.Commit{
		Hash:      c.Hash.String(),
		Reference: string(t.ref),
		Author:    signature(c.Author),
		Committer: signature(c.Committer),
		Message:   c.Message,
		Signature: c.PGPSignature,
		Encoded:   encoded,
	}
	if t.object != t.commit {
		if tag, err := object.GetTag(st, t.object); err == nil {
			enc, err := encodeWithoutSignature(tag)
			if err != nil {
				return nil, err
			}
			out.ReferencingTag = &git.Tag{
				Hash: tag.Hash.String(), Name: tag.Name, Tagger: signature(tag.Tagger),
				Message: tag.Message, Signature: tag.PGPSignature, Encoded: enc,
			}
		}
	}
	return out, nil
}

func signature(s object.Signature) git.Signature {
	return git.Signature{Name: s.Name, Email: s.Email, When: s.When}
}

func encodeWithoutSignature(o interface {
	EncodeWithoutSignature(plumbing.EncodedObject) error
}) ([]byte, error) {
	mo := &plumbing.MemoryObject{}
	if err := o.EncodeWithoutSignature(mo); err != nil {
		return nil, err
	}
	r, err := mo.Reader()
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	_, err = io.Copy(&b, r)
	return b.Bytes(), err
}

// emptyDir creates dir or checks it is empty.
func emptyDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return os.MkdirAll(dir, 0o755)
	}
	if err != nil {
		return err
	}
	if len(entries) > 0 {
		return fmt.Errorf("%w: destination %s is not empty", git.ErrInvalidOptions, dir)
	}
	return nil
}
