package gogit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/capability"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/sideband"
	gittransport "github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/storage"

	"github.com/gitopskit/kit/git"
)

const (
	// maxHaves bounds the commits a fetch tells the server it has: the ref
	// tips of the cache first, then their ancestors.
	maxHaves = 256
	// infiniteDepth is what git sends to deepen a shallow repository to
	// its whole history.
	infiniteDepth = 1<<31 - 1
	// exactRef keeps a commit fetched by id reachable in a cache.
	exactRef = plumbing.ReferenceName("refs/gitopskit/checkout")
)

// fetch brings the target's objects into st (whose git folder is gitDir)
// through the session r: depth
// 1 unless opts.Full, within opts' limits. It negotiates as git does: the
// commits st holds are sent as haves, with st's shallow boundary, and a
// thin pack is asked for, so the server sends only what st lacks even
// across a shallow boundary; the thin pack is completed from st. A bare
// commit is fetched by its id when the server allows it, else through the
// branch (or all branches) history.
//
// It returns the pack received (nil when nothing was), to read its objects
// from directly; the caller closes it.
func (c *Client) fetch(ctx context.Context, r *remote, st storage.Storer, gitDir string, t *target, opts CloneOptions) (*packBlobs, error) {
	return c.fetchStaging(ctx, r, st, gitDir, t, opts, nil)
}

// fetchStaging is fetch, with the pack's whole blobs staged into stage as
// they stream in (none when stage is nil).
func (c *Client) fetchStaging(ctx context.Context, r *remote, st storage.Storer, gitDir string, t *target, opts CloneOptions, stage *blobStage) (*packBlobs, error) {
	depth := 1
	if opts.Full {
		depth = 0
	}
	caps := r.sess.Capabilities()
	wants := []plumbing.Hash{t.object}
	if t.exact {
		wants = []plumbing.Hash{t.commit}
		if !advertisedObject(r, t.commit) && !caps.Supports(capability.AllowReachableSHA1InWant) && !caps.Supports(capability.AllowTipSHA1InWant) {
			// The server serves only its tips: fetch the branch (or every
			// branch) with its history and find the commit in it.
			wants = wants[:0]
			for name, h := range r.refs {
				if (t.ref != "" && name == t.ref.String()) || (t.ref == "" && strings.HasPrefix(name, "refs/heads/")) {
					wants = append(wants, h)
				}
			}
			if len(wants) == 0 {
				return nil, fmt.Errorf("%w: %s", git.ErrReferenceNotFound, t.ref)
			}
			depth = 0
		}
	}
	pack, err := c.fetchWants(ctx, r, st, gitDir, wants, depth, opts.limits(), stage)
	if err != nil {
		return nil, err
	}
	ref := t.ref
	if t.exact {
		ref = exactRef
	}
	if ref != "" && ref != plumbing.HEAD {
		if err := st.SetReference(plumbing.NewHashReference(ref, wants[0])); err != nil {
			pack.Close()
			return nil, err
		}
	}
	if _, err := st.EncodedObject(plumbing.CommitObject, t.commit); err != nil {
		pack.Close()
		return nil, fmt.Errorf("%w: commit %s", git.ErrReferenceNotFound, t.commit)
	}
	return pack, nil
}

// advertisedObject reports whether h is a reference's object or a tag's
// peeled commit.
func advertisedObject(r *remote, h plumbing.Hash) bool {
	for _, v := range r.refs {
		if v == h {
			return true
		}
	}
	return false
}

// fetchWants fetches wants (and their history to depth, 0 for all) into
// st, unless st has them already, staging the pack's whole blobs into
// stage if not nil.
func (c *Client) fetchWants(ctx context.Context, r *remote, st storage.Storer, gitDir string, wants []plumbing.Hash, depth int, lim limits, stage *blobStage) (*packBlobs, error) {
	missing := false
	for _, w := range wants {
		if st.HasEncodedObject(w) != nil {
			missing = true
		}
	}
	shallows, err := st.Shallow()
	if err != nil {
		return nil, err
	}
	if !missing && (depth != 0 || len(shallows) == 0) {
		return nil, nil // cached already
	}
	caps := r.sess.Capabilities()
	req := packp.NewUploadPackRequest()
	set := func(c capability.Capability, values ...string) {
		if caps.Supports(c) {
			_ = req.Capabilities.Set(c, values...)
		}
	}
	if caps.Supports(capability.Sideband64k) {
		set(capability.Sideband64k)
	} else {
		set(capability.Sideband)
	}
	set(capability.OFSDelta)
	set(capability.NoProgress)
	if caps.Supports(capability.Agent) {
		_ = req.Capabilities.Set(capability.Agent, "gitopskit")
	}
	req.Wants = wants
	req.Haves = haves(st, maxHaves)
	thin := len(req.Haves) > 0 && caps.Supports(capability.ThinPack)
	if thin {
		set(capability.ThinPack)
	}
	if depth > 0 || len(shallows) > 0 {
		if !caps.Supports(capability.Shallow) {
			if depth > 0 {
				depth = 0 // a server without shallow support sends history
			}
		} else {
			set(capability.Shallow)
			req.Shallows = shallows
			req.Depth = packp.DepthCommits(depth)
			if depth == 0 {
				req.Depth = packp.DepthCommits(infiniteDepth)
			}
		}
	}
	res, err := r.sess.UploadPack(ctx, req)
	if errors.Is(err, gittransport.ErrEmptyUploadPackRequest) {
		return nil, nil // the server has nothing we lack
	}
	if err != nil {
		return nil, c.fetchError(ctx, err)
	}
	defer res.Close()
	pack, err := storePack(ctx, st, gitDir, sidebandReader(req.Capabilities, res), lim, thin, stage)
	if err != nil {
		removeTempPacks(gitDir)
		return nil, c.fetchError(ctx, err)
	}
	if !req.Depth.IsZero() {
		if err := st.SetShallow(updateShallow(shallows, res.ShallowUpdate)); err != nil {
			pack.Close()
			return nil, err
		}
	}
	return pack, nil
}

// fetchError classifies and scrubs a fetch error.
func (c *Client) fetchError(ctx context.Context, err error) error {
	var limit *git.LimitError
	if !errors.As(err, &limit) && (strings.Contains(err.Error(), "not our ref") || strings.Contains(err.Error(), "couldn't find remote ref")) {
		err = fmt.Errorf("%w: %v", git.ErrReferenceNotFound, err)
	}
	return c.tr.Sanitize(ctx, "fetch from", err)
}

// sidebandReader demultiplexes the pack out of a response, dropping
// progress messages.
func sidebandReader(caps *capability.List, res *packp.UploadPackResponse) io.Reader {
	switch {
	case caps.Supports(capability.Sideband64k):
		return sideband.NewDemuxer(sideband.Sideband64k, res)
	case caps.Supports(capability.Sideband):
		return sideband.NewDemuxer(sideband.Sideband, res)
	}
	return res
}

// updateShallow applies the server's shallow and unshallow lines to the
// repository's shallow commits.
func updateShallow(old []plumbing.Hash, u packp.ShallowUpdate) []plumbing.Hash {
	set := map[plumbing.Hash]bool{}
	for _, h := range old {
		set[h] = true
	}
	for _, h := range u.Shallows {
		set[h] = true
	}
	for _, h := range u.Unshallows {
		delete(set, h)
	}
	out := make([]plumbing.Hash, 0, len(set))
	for h := range set {
		out = append(out, h)
	}
	plumbing.HashesSort(out)
	return out
}

// haves lists at most max commits st holds: its references' objects first
// (a tag and the commit it peels to), then their ancestors, newest
// generations first, stopping at the shallow boundary.
func haves(st storage.Storer, max int) []plumbing.Hash {
	refs, err := st.IterReferences()
	if err != nil {
		return nil
	}
	seen := map[plumbing.Hash]bool{}
	var out []plumbing.Hash
	var queue []*object.Commit
	add := func(h plumbing.Hash) {
		if seen[h] || len(out) >= max {
			return
		}
		seen[h] = true
		obj, err := st.EncodedObject(plumbing.AnyObject, h)
		if err != nil {
			return
		}
		out = append(out, h)
		switch obj.Type() {
		case plumbing.TagObject:
			if tag, err := object.DecodeTag(st, obj); err == nil && tag.TargetType == plumbing.CommitObject && !seen[tag.Target] {
				seen[tag.Target] = true
				if c, err := object.GetCommit(st, tag.Target); err == nil && len(out) < max {
					out = append(out, tag.Target)
					queue = append(queue, c)
				}
			}
		case plumbing.CommitObject:
			if c, err := object.DecodeCommit(st, obj); err == nil {
				queue = append(queue, c)
			}
		}
	}
	_ = refs.ForEach(func(ref *plumbing.Reference) error {
		if ref.Type() == plumbing.HashReference {
			add(ref.Hash())
		}
		return nil
	})
	for len(queue) > 0 && len(out) < max {
		c := queue[0]
		queue = queue[1:]
		for _, p := range c.ParentHashes {
			if seen[p] || len(out) >= max {
				continue
			}
			seen[p] = true
			pc, err := object.GetCommit(st, p)
			if err != nil {
				continue // beyond the shallow boundary
			}
			out = append(out, p)
			queue = append(queue, pc)
		}
	}
	return out
}
