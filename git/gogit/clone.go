package gogit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"

	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/index"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/storage"
	"github.com/go-logr/logr"

	"github.com/gitopskit/kit/git"
)

// Clone checks out the revision into dir, which must be empty or missing,
// as a git repository (dir/.git) that Commit and Push can work on. The
// worktree is written as Export writes its folder: every path resolved
// inside dir, no link that leads out of it unless
// CloneOptions.AllowEscapingSymlinks, within the limits. A failed Clone
// removes what it wrote (dir itself when Clone created it).
func (c *Client) Clone(ctx context.Context, dir string, opts CloneOptions) (*Result, error) {
	ctx, cancel := withTimeout(ctx, opts.Timeout)
	defer cancel()
	return c.clone(ctx, dir, opts, newWalkState(opts.limits()))
}

func (c *Client) clone(ctx context.Context, dir string, opts CloneOptions, ws *walkState) (*Result, error) {
	log := logr.FromContextOrDiscard(ctx).WithValues("url", git.RedactURL(c.url), "ref", opts.Reference.String())
	if err := opts.Reference.Validate(); err != nil {
		return nil, err
	}
	r, err := c.open(ctx)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	t, err := resolve(r, opts.Reference)
	if err != nil {
		return nil, err
	}
	if res := unchanged(t, opts.LastRevision); res != nil {
		log.V(1).Info("remote unchanged, skipping clone", "revision", res.Revision)
		return res, nil
	}
	created, err := emptyDir(dir)
	if err != nil {
		return nil, err
	}
	res, err := c.cloneInto(ctx, r, dir, t, opts, ws)
	if err != nil {
		if created {
			_ = os.RemoveAll(dir)
		} else {
			_ = clearDir(dir)
		}
		return nil, err
	}
	log.V(1).Info("cloned", "revision", res.Revision)
	return res, nil
}

func (c *Client) cloneInto(ctx context.Context, r *remote, dir string, t *target, opts CloneOptions, ws *walkState) (*Result, error) {
	repo, err := gogit.PlainInit(dir, false)
	if err != nil {
		return nil, fmt.Errorf("init %s: %w", dir, err)
	}
	if _, err := repo.CreateRemote(&config.RemoteConfig{Name: "origin", URLs: []string{c.url}}); err != nil {
		return nil, err
	}
	// The fetch and checkout read through a storage that keeps its pack
	// files open and caches little: a checkout reads every blob once.
	gitDir := filepath.Join(dir, ".git")
	st := openStorage(gitDir)
	defer st.Close()
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	// The blobs are written as the pack streams in, then renamed into
	// place by the checkout (see blobStage), within what the limits leave
	// (a submodule's checkout shares its parent's). Not for a sparse
	// checkout: the pack holds every blob of the commit, and writing
	// those outside the sparse directories would cost more than it saves.
	sparse := normalizeSparse(opts.SparseDirectories)
	var stage *blobStage
	if len(sparse) == 0 {
		files, bytes := ws.use.left()
		if stage, err = newBlobStage(root, files, bytes); err != nil {
			return nil, err
		}
		defer stage.remove()
	}
	pack, err := c.fetchStaging(ctx, r, st, gitDir, t, opts, stage)
	if err != nil {
		return nil, err
	}
	defer pack.Close()
	commit, err := object.GetCommit(st, t.commit)
	if err != nil {
		return nil, fmt.Errorf("%w: commit %s not fetched", git.ErrReferenceNotFound, t.commit)
	}
	w := &treeWriter{ctx: ctx, st: st, pack: pack, root: root, sparse: sparse, use: ws.use, escapingLinks: opts.AllowEscapingSymlinks, gitlinks: true, staged: stage}
	w.start()
	err = w.writeTree(commit.TreeHash, "")
	if werr := w.stop(); err == nil {
		err = werr
	}
	if err != nil {
		return nil, err
	}
	if err := stage.remove(); err != nil {
		return nil, err
	}
	if err := writeIndex(ctx, st, root, commit.TreeHash, sparse, ws.use.lim.files); err != nil {
		return nil, err
	}
	if t.ref.IsBranch() {
		if err := st.SetReference(plumbing.NewHashReference(t.ref, t.commit)); err != nil {
			return nil, err
		}
		err = st.SetReference(plumbing.NewSymbolicReference(plumbing.HEAD, t.ref))
	} else {
		err = st.SetReference(plumbing.NewHashReference(plumbing.HEAD, t.commit))
	}
	if err != nil {
		return nil, err
	}
	if opts.RecurseSubmodules {
		if err := c.cloneSubmodules(ctx, dir, st, commit, opts, ws); err != nil {
			return nil, err
		}
	}
	out, err := buildCommit(st, t, commit)
	if err != nil {
		return nil, err
	}
	return &Result{Commit: out, Revision: out.Revision()}, nil
}

// writeIndex records the checkout of tree in the repository's index, as
// git would after a checkout: every entry of the tree, with the file's
// metadata for those checked out and the skip-worktree flag for those
// outside the sparse directories. At most max entries.
func writeIndex(ctx context.Context, st storage.Storer, root *os.Root, tree plumbing.Hash, sparse []string, max int64) error {
	idx := &index.Index{Version: 2}
	var walk func(h plumbing.Hash, rel string) error
	walk = func(h plumbing.Hash, rel string) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		entries, err := readTree(st, h, rel)
		if err != nil {
			return err
		}
		for _, name := range sortedNames(entries, nil) {
			e := entries[name]
			p := path.Join(rel, name)
			if e.Mode == filemode.Dir {
				if err := walk(e.Hash, p); err != nil {
					return err
				}
				continue
			}
			if int64(len(idx.Entries)) >= max {
				return &git.LimitError{Limit: "MaxFiles", Max: max, What: "the index holds more entries than the limit"}
			}
			ie := &index.Entry{Name: p, Hash: e.Hash, Mode: e.Mode}
			if !sparseIncludes(sparse, p) {
				ie.SkipWorktree = true
				idx.Version = 3 // extended flags
			} else if info, err := root.Lstat(p); err == nil {
				ie.Size = uint32(info.Size())
				ie.ModifiedAt = info.ModTime()
				ie.Dev, ie.Inode, ie.UID, ie.GID, ie.CreatedAt = indexStat(info)
				if e.Mode == filemode.Submodule {
					ie.Size, ie.ModifiedAt = 0, ie.CreatedAt
				}
			}
			idx.Entries = append(idx.Entries, ie)
		}
		return nil
	}
	if err := walk(tree, ""); err != nil {
		return err
	}
	return st.SetIndex(idx)
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

// emptyDir creates dir (reporting that it did) or checks it is empty.
func emptyDir(dir string) (created bool, err error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return true, os.MkdirAll(dir, 0o755)
	}
	if err != nil {
		return false, err
	}
	if len(entries) > 0 {
		return false, fmt.Errorf("%w: destination %s is not empty", git.ErrInvalidOptions, dir)
	}
	return false, nil
}

// clearDir removes everything inside dir.
func clearDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, d := range entries {
		if err := os.RemoveAll(filepath.Join(dir, d.Name())); err != nil {
			return err
		}
	}
	return nil
}
