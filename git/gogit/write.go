package gogit

import (
	"context"
	"errors"
	"fmt"
	"os"
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
	if err := emptyDir(dir); err != nil {
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
func (c *Client) Commit(ctx context.Context, dir string, opts CommitOptions) (string, error) {
	if opts.Author.Name == "" || opts.Author.Email == "" {
		return "", fmt.Errorf("%w: commit author name and email are required", git.ErrInvalidOptions)
	}
	repo, err := gogit.PlainOpen(dir)
	if err != nil {
		return "", err
	}
	for name, data := range opts.Files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := withinDir(dir, p); err != nil || strings.HasPrefix(filepath.ToSlash(name), ".git") {
			return "", fmt.Errorf("%w: path %q", git.ErrInvalidOptions, name)
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return "", err
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

// SwitchBranch checks out branch in dir, creating it at the current commit
// when create is true.
func (c *Client) SwitchBranch(ctx context.Context, dir, branch string, create bool) error {
	repo, err := gogit.PlainOpen(dir)
	if err != nil {
		return err
	}
	wt, err := repo.Worktree()
	if err != nil {
		return err
	}
	return wt.Checkout(&gogit.CheckoutOptions{Branch: plumbing.NewBranchReferenceName(branch), Create: create, Keep: create})
}

// PushOptions describe a push.
type PushOptions struct {
	// RefSpecs to push, e.g. "refs/heads/main:refs/heads/main". Empty pushes
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
		if opts.Force && !rs.IsForceUpdate() {
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
	err = repo.PushContext(ctx, &gogit.PushOptions{
		RemoteName:   "origin",
		RemoteURL:    c.url,
		RefSpecs:     specs,
		Force:        opts.Force,
		Options:      opts.Options,
		Auth:         c.tr.Auth,
		CABundle:     c.tr.CABundle,
		ClientCert:   c.tr.ClientCert,
		ClientKey:    c.tr.ClientKey,
		ProxyOptions: c.tr.Proxy,
	})
	if errors.Is(err, gogit.NoErrAlreadyUpToDate) {
		return nil
	}
	if err != nil {
		msg := err.Error()
		if errors.Is(err, gogit.ErrNonFastForwardUpdate) || strings.Contains(msg, "non-fast-forward") ||
			strings.Contains(msg, "stale info") || strings.Contains(msg, "fetch first") {
			err = fmt.Errorf("%w: %v", git.ErrNonFastForward, err)
		}
		return c.tr.Sanitize(ctx, "push to", err)
	}
	return nil
}
