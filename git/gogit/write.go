package gogit

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/gitopskit/kit/git"
)

// Init creates an empty repository in dir whose first branch is branch
// ("main" when empty), with the client's remote as "origin".
func (c *Client) Init(ctx context.Context, dir, branch string) error {
	if branch == "" {
		branch = "main"
	}
	if _, err := emptyDir(dir); err != nil {
		return err
	}
	repo, err := gogit.PlainInitWithOptions(dir, &gogit.PlainInitOptions{
		InitOptions: gogit.InitOptions{DefaultBranch: plumbing.NewBranchReferenceName(branch)},
	})
	if err != nil {
		return fmt.Errorf("init %s: %w", dir, err)
	}
	_, err = repo.CreateRemote(&config.RemoteConfig{Name: "origin", URLs: []string{c.url}})
	return err
}

// CommitOptions describe a commit.
type CommitOptions struct {
	// Author is the author and committer; Name and Email are required.
	// A zero When means now.
	Author git.Signature
	// Message is the commit message.
	Message string
	// Files are written (path → content) before committing; paths are
	// slash-separated and must stay inside the worktree.
	Files map[string][]byte
	// Signer signs the commit (verify.NewOpenPGPSigner or NewSSHSigner).
	Signer git.Signer
}

// Commit writes the files, stages every change of the worktree in dir and
// commits it on the current branch. It returns the new commit's hash.
//
// Files are written through an os.Root on dir: a path is refused
// (git.ErrUnsafePath) when it is absolute, climbs with "..", names a .git
// folder at any depth, or resolves through a symbolic link to outside the
// worktree, however the link is spelled (absolute, "../..", a chain of
// links, a linked parent folder).
func (c *Client) Commit(ctx context.Context, dir string, opts CommitOptions) (string, error) {
	if opts.Author.Name == "" || opts.Author.Email == "" {
		return "", fmt.Errorf("%w: commit author name and email are required", git.ErrInvalidOptions)
	}
	repo, err := gogit.PlainOpen(dir)
	if err != nil {
		return "", err
	}
	if len(opts.Files) > 0 {
		root, err := os.OpenRoot(dir)
		if err != nil {
			return "", err
		}
		defer root.Close()
		for name, data := range opts.Files {
			if err := writeWorktreeFile(root, name, data); err != nil {
				return "", err
			}
		}
	}
	wt, err := repo.Worktree()
	if err != nil {
		return "", err
	}
	if err := wt.AddWithOptions(&gogit.AddOptions{All: true}); err != nil {
		return "", fmt.Errorf("stage changes: %w", err)
	}
	when := opts.Author.When
	if when.IsZero() {
		when = time.Now()
	}
	sig := &object.Signature{Name: opts.Author.Name, Email: opts.Author.Email, When: when}
	h, err := wt.Commit(opts.Message, &gogit.CommitOptions{Author: sig, Committer: sig, Signer: opts.Signer})
	if err != nil {
		return "", fmt.Errorf("commit: %w", err)
	}
	return h.String(), nil
}

// writeWorktreeFile writes data at the slash-separated path name under
// root, creating its folders.
func writeWorktreeFile(root *os.Root, name string, data []byte) error {
	clean, ok := worktreePath(name)
	if !ok {
		return fmt.Errorf("%w: path %q", git.ErrUnsafePath, name)
	}
	native := filepath.FromSlash(clean)
	if dir := filepath.Dir(native); dir != "." {
		if err := root.MkdirAll(dir, 0o755); err != nil {
			return rootError(name, err)
		}
	}
	if err := root.WriteFile(native, data, 0o644); err != nil {
		return rootError(name, err)
	}
	return nil
}

// worktreePath checks a path given to Commit: relative, every element a
// plain name (no ".", "..", ".git" in any case, NUL or backslash).
func worktreePath(name string) (string, bool) {
	if name == "" || path.IsAbs(name) {
		return "", false
	}
	for _, el := range strings.Split(name, "/") {
		if !safeName(el) {
			return "", false
		}
	}
	return name, true
}

// rootError reports an os.Root refusal (a path that resolves outside the
// worktree) as git.ErrUnsafePath.
func rootError(name string, err error) error {
	if strings.Contains(err.Error(), "path escapes") {
		return fmt.Errorf("%w: path %q resolves outside the worktree", git.ErrUnsafePath, name)
	}
	return err
}

// SwitchBranch checks out branch in dir, creating it at the current commit
// when create is true. Switching to an existing branch refuses a worktree
// with changes not staged, and writes the difference between the two
// commits as Export updates in place: through an os.Root on dir, with the
// same checks (no unsafe path or escaping link, default limits).
func (c *Client) SwitchBranch(ctx context.Context, dir, branch string, create bool) error {
	repo, err := gogit.PlainOpen(dir)
	if err != nil {
		return err
	}
	name := plumbing.NewBranchReferenceName(branch)
	if create {
		wt, err := repo.Worktree()
		if err != nil {
			return err
		}
		return wt.Checkout(&gogit.CheckoutOptions{Branch: name, Create: true, Keep: true})
	}
	wt, err := repo.Worktree()
	if err != nil {
		return err
	}
	status, err := wt.Status()
	if err != nil {
		return err
	}
	for _, s := range status {
		if s.Worktree != gogit.Unmodified && s.Worktree != gogit.Untracked {
			return fmt.Errorf("%w: the worktree has changes not staged; commit them first", gogit.ErrUnstagedChanges)
		}
	}
	ref, err := repo.Reference(name, true)
	if err != nil {
		return fmt.Errorf("%w: branch %s", git.ErrReferenceNotFound, branch)
	}
	to, err := repo.CommitObject(ref.Hash())
	if err != nil {
		return err
	}
	var fromTree plumbing.Hash
	if head, err := repo.Head(); err == nil {
		from, err := repo.CommitObject(head.Hash())
		if err != nil {
			return err
		}
		fromTree = from.TreeHash
	}
	idx, err := repo.Storer.Index()
	if err != nil {
		return err
	}
	var sparse []string
	for _, e := range idx.Entries {
		if e.SkipWorktree {
			return fmt.Errorf("%w: SwitchBranch does not support sparse worktrees", git.ErrInvalidOptions)
		}
	}
	gitDir := filepath.Join(dir, ".git")
	stage, err := os.MkdirTemp(gitDir, "gitopskit-switch-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(stage)
	// What the switch writes is bounded by the default limits.
	u, err := newTreeUpdate(ctx, repo.Storer, stage, sparse, &usage{lim: CloneOptions{}.limits()})
	if err != nil {
		return err
	}
	defer u.close()
	if err := u.prepare(fromTree, to.TreeHash); err != nil {
		return err
	}
	if err := u.apply(dir); err != nil {
		return err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	if err := writeIndex(ctx, repo.Storer, root, to.TreeHash, nil, DefaultMaxFiles); err != nil {
		return err
	}
	if err := repo.Storer.SetReference(plumbing.NewSymbolicReference(plumbing.HEAD, name)); err != nil {
		return err
	}
	return nil
}
