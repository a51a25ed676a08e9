package gogit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/capability"
	"github.com/go-git/go-git/v5/plumbing/revlist"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/storage"

	"github.com/gitopskit/kit/git"
)

// PushOptions describe a push.
type PushOptions struct {
	// RefSpecs to push, e.g. "refs/heads/main:refs/heads/main"; a "+"
	// prefix forces the update, ":refs/heads/x" deletes x. Empty pushes
	// the current branch to the same name.
	RefSpecs []string
	// Force allows non-fast-forward updates.
	Force bool
	// Options are push options (git push -o key=value).
	Options map[string]string
	// Timeout bounds the push; ctx may end it sooner. Zero means
	// DefaultTimeout; negative means no limit other than ctx.
	Timeout time.Duration
}

// Push pushes from the repository in dir to the client's remote. A push
// that would lose commits on the remote fails with git.ErrNonFastForward.
// What the server answers is bounded as for a fetch.
func (c *Client) Push(ctx context.Context, dir string, opts PushOptions) error {
	ctx, cancel := withTimeout(ctx, opts.Timeout)
	defer cancel()
	repo, err := gogit.PlainOpen(dir)
	if err != nil {
		return err
	}
	specs := make([]config.RefSpec, 0, len(opts.RefSpecs))
	for _, s := range opts.RefSpecs {
		rs := config.RefSpec(s)
		if opts.Force && !rs.IsForceUpdate() && !rs.IsDelete() {
			rs = config.RefSpec("+" + s)
		}
		if err := rs.Validate(); err != nil {
			return fmt.Errorf("%w: refspec %q: %v", git.ErrInvalidOptions, s, err)
		}
		specs = append(specs, rs)
	}
	if len(specs) == 0 {
		head, err := repo.Head()
		if err != nil || !head.Name().IsBranch() {
			return fmt.Errorf("%w: no refspec and no current branch", git.ErrInvalidOptions)
		}
		prefix := ""
		if opts.Force {
			prefix = "+"
		}
		specs = append(specs, config.RefSpec(fmt.Sprintf("%s%s:%s", prefix, head.Name(), head.Name())))
	}
	sess, err := c.tr.ReceivePack(ctx)
	if err != nil {
		return c.tr.Sanitize(ctx, "connect to", err)
	}
	defer sess.Close()
	adv, err := sess.AdvertisedReferencesContext(ctx)
	if err != nil {
		return c.tr.Sanitize(ctx, "list references of", err)
	}
	req := packp.NewReferenceUpdateRequestFromCapabilities(adv.Capabilities)
	if adv.Capabilities.Supports(capability.Sideband64k) {
		_ = req.Capabilities.Set(capability.Sideband64k)
	} else if adv.Capabilities.Supports(capability.Sideband) {
		_ = req.Capabilities.Set(capability.Sideband)
	}
	if len(opts.Options) > 0 {
		if !adv.Capabilities.Supports(capability.PushOptions) {
			return fmt.Errorf("%w: the remote does not accept push options", git.ErrInvalidOptions)
		}
		_ = req.Capabilities.Set(capability.PushOptions)
		for k, v := range opts.Options {
			req.Options = append(req.Options, &packp.Option{Key: k, Value: v})
		}
	}
	if req.Commands, err = pushCommands(repo.Storer, specs, adv.References); err != nil {
		return c.pushError(ctx, err)
	}
	if len(req.Commands) == 0 {
		return nil // up to date
	}
	var news []plumbing.Hash
	for _, cmd := range req.Commands {
		if cmd.Action() != packp.Delete {
			news = append(news, cmd.New)
		}
	}
	rs, err := sendPack(ctx, sess, repo.Storer, req, news, adv)
	if err == nil && rs != nil {
		err = rs.Error()
	}
	if err != nil {
		return c.pushError(ctx, err)
	}
	// Record where the remote's branches now are, as git does.
	for _, cmd := range req.Commands {
		if !cmd.Name.IsBranch() {
			continue
		}
		tracking := plumbing.NewRemoteReferenceName("origin", cmd.Name.Short())
		if cmd.Action() == packp.Delete {
			_ = repo.Storer.RemoveReference(tracking)
		} else {
			_ = repo.Storer.SetReference(plumbing.NewHashReference(tracking, cmd.New))
		}
	}
	return nil
}

// pushError classifies and scrubs a push error.
func (c *Client) pushError(ctx context.Context, err error) error {
	msg := err.Error()
	if strings.Contains(msg, "non-fast-forward") || strings.Contains(msg, "stale info") || strings.Contains(msg, "fetch first") {
		err = fmt.Errorf("%w: %v", git.ErrNonFastForward, err)
	}
	return c.tr.Sanitize(ctx, "push to", err)
}

// errNonFastForward is a local refusal of an update that would lose the
// remote's commits.
var errNonFastForward = errors.New("non-fast-forward update")

// pushCommands turns the refspecs into reference updates against the
// remote's references, checking fast-forwards for those not forced.
func pushCommands(st storer.Storer, specs []config.RefSpec, remote map[string]plumbing.Hash) ([]*packp.Command, error) {
	var local []*plumbing.Reference
	iter, err := st.IterReferences()
	if err != nil {
		return nil, err
	}
	if err := iter.ForEach(func(r *plumbing.Reference) error {
		if r.Type() == plumbing.HashReference {
			local = append(local, r)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	var cmds []*packp.Command
	seen := map[plumbing.ReferenceName]bool{}
	for _, spec := range specs {
		if spec.IsDelete() {
			dst := spec.Dst("")
			if old, ok := remote[dst.String()]; ok && !seen[dst] {
				seen[dst] = true
				cmds = append(cmds, &packp.Command{Name: dst, Old: old, New: plumbing.ZeroHash})
			}
			continue
		}
		matched := false
		for _, ref := range local {
			if !spec.Match(ref.Name()) {
				continue
			}
			matched = true
			dst := spec.Dst(ref.Name())
			if seen[dst] {
				continue
			}
			seen[dst] = true
			old := remote[dst.String()]
			if old == ref.Hash() {
				continue
			}
			if !spec.IsForceUpdate() && !old.IsZero() {
				ff, err := isAncestor(st, old, ref.Hash())
				if err != nil {
					return nil, err
				}
				if !ff {
					return nil, fmt.Errorf("%w: %s (fetch first)", errNonFastForward, dst)
				}
			}
			cmds = append(cmds, &packp.Command{Name: dst, Old: old, New: ref.Hash()})
		}
		if !matched && !spec.IsWildcard() {
			return nil, fmt.Errorf("%w: refspec %s matches no local reference", git.ErrInvalidOptions, spec)
		}
	}
	return cmds, nil
}

// isAncestor reports whether old is new or one of its ancestors. An old
// commit missing locally is not (the remote has commits we lack).
func isAncestor(st storer.EncodedObjectStorer, old, new plumbing.Hash) (bool, error) {
	if _, err := st.EncodedObject(plumbing.CommitObject, old); err != nil {
		return false, nil
	}
	c, err := object.GetCommit(st, new)
	if err != nil {
		return false, err
	}
	found := false
	err = object.NewCommitPreorderIter(c, nil, nil).ForEach(func(c *object.Commit) error {
		if c.Hash == old {
			found = true
			return storer.ErrStop
		}
		return nil
	})
	if errors.Is(err, plumbing.ErrObjectNotFound) {
		err = nil // the shallow boundary
	}
	return found, err
}

// sendPack sends the commands and a pack of what the remote lacks to
// reach news.
func sendPack(ctx context.Context, sess interface {
	ReceivePack(context.Context, *packp.ReferenceUpdateRequest) (*packp.ReportStatus, error)
}, st storage.Storer, req *packp.ReferenceUpdateRequest, news []plumbing.Hash, adv *packp.AdvRefs) (*packp.ReportStatus, error) {
	if len(news) == 0 {
		return sess.ReceivePack(ctx, req)
	}
	var haves []plumbing.Hash
	for _, h := range adv.References {
		if st.HasEncodedObject(h) == nil {
			haves = append(haves, h)
		}
	}
	shallows, err := st.Shallow()
	if err != nil {
		return nil, err
	}
	haves = append(haves, shallows...)
	hashes, err := revlist.Objects(st, news, haves)
	if err != nil {
		return nil, err
	}
	pr, pw := io.Pipe()
	req.Packfile = pr
	done := make(chan error, 1)
	go func() {
		_, err := packfile.NewEncoder(pw, st, !adv.Capabilities.Supports(capability.OFSDelta)).Encode(hashes, 10)
		_ = pw.CloseWithError(err)
		done <- err
	}()
	rs, err := sess.ReceivePack(ctx, req)
	_ = pr.Close() // unblocks the encoder if the session stopped reading
	if werr := <-done; err == nil && werr != nil && !errors.Is(werr, io.ErrClosedPipe) {
		err = werr
	}
	return rs, err
}
