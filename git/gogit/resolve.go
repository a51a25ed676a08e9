package gogit

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/Masterminds/semver/v3"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"

	"github.com/gitopskit/kit/git"
	"github.com/gitopskit/kit/git/internal/transport"
)

// target is a resolved reference.
type target struct {
	ref    plumbing.ReferenceName // empty for a bare commit
	object plumbing.Hash          // what ref points to: commit or annotated tag
	commit plumbing.Hash          // the commit (peeled)
	exact  bool                   // a commit SHA was requested
}

// remote is an open upload-pack session and the references it advertised.
type remote struct {
	sess *transport.UploadSession
	adv  *packp.AdvRefs
	refs map[string]plumbing.Hash // with peeled tags as "name^{}"
	head string                   // the target of a symbolic HEAD
}

func (r *remote) Close() error { return r.sess.Close() }

// open starts an upload-pack session and reads the advertisement: the
// no-op check needs nothing more, and a fetch goes on in the same session.
func (c *Client) open(ctx context.Context) (*remote, error) {
	sess, err := c.tr.OpenUpload(ctx)
	if err != nil {
		return nil, c.tr.Sanitize(ctx, "connect to", err)
	}
	adv, err := sess.AdvertisedReferencesContext(ctx)
	if err != nil {
		sess.Close()
		return nil, c.tr.Sanitize(ctx, "list references of", err)
	}
	r := &remote{sess: sess, adv: adv, refs: map[string]plumbing.Hash{}}
	for name, h := range adv.References {
		r.refs[name] = h
	}
	for name, h := range adv.Peeled {
		r.refs[name+"^{}"] = h
	}
	if adv.Head != nil {
		r.refs["HEAD"] = *adv.Head
	}
	for _, sym := range adv.Capabilities.Get("symref") {
		if from, to, ok := strings.Cut(sym, ":"); ok && from == "HEAD" {
			r.head = to
		}
	}
	if len(r.refs) == 0 {
		sess.Close()
		return nil, fmt.Errorf("%s: %w", git.RedactURL(c.url), git.ErrEmptyRepository)
	}
	return r, nil
}

// Resolve asks the remote (ls-remote) which commit ref designates, without
// fetching objects. It gives up after DefaultTimeout, or when ctx ends.
func (c *Client) Resolve(ctx context.Context, ref git.Reference) (string, error) {
	ctx, cancel := withTimeout(ctx, 0)
	defer cancel()
	if err := ref.Validate(); err != nil {
		return "", err
	}
	var r *remote
	if ref.Commit == "" {
		var err error
		if r, err = c.open(ctx); err != nil {
			return "", err
		}
		defer r.Close()
	}
	t, err := resolve(r, ref)
	if err != nil {
		return "", err
	}
	return git.Revision(string(t.ref), t.commit.String()), nil
}

// resolve finds the target of ref among the references r advertised (r
// may be nil for a bare commit, which needs no listing).
func resolve(r *remote, ref git.Reference) (*target, error) {
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
	refs := r.refs
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
	if r.head != "" {
		return lookup(plumbing.ReferenceName(r.head))
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
