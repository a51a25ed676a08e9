package providers

import (
	"context"
	"net/http"
	"net/url"

	"github.com/gitopskit/kit/events"
)

// Gitea sets commit statuses (Gitea and Forgejo) with a token (Token, or
// Password, sent as "token <token>"): POST
// /api/v1/repos/{owner}/{repo}/statuses/{sha}. Address is the repository
// URL. States: pending, success, failure.
type Gitea struct {
	url    string
	header http.Header
	client *client
}

var _ events.CommitStatusProvider = (*Gitea)(nil)

type giteaStatus struct {
	State       string `json:"state"`
	Description string `json:"description"`
	Context     string `json:"context"`
}

// NewGitea reads Address, Token or Password.
func NewGitea(c Config) (*Gitea, error) {
	r, err := parseRepoAddress(TypeGitea, c.Address)
	if err != nil {
		return nil, err
	}
	owner, repo, err := r.ownerRepo(TypeGitea)
	if err != nil {
		return nil, err
	}
	token := tokenOrPassword(c)
	if token == "" {
		return nil, configError(TypeGitea, "token is required")
	}
	return &Gitea{
		url:    r.origin + "/api/v1/repos/" + url.PathEscape(owner) + "/" + url.PathEscape(repo) + "/statuses/",
		header: http.Header{"Authorization": {"token " + token}},
		client: newClient(TypeGitea, c),
	}, nil
}

// SetsCommitStatus marks Gitea as a commit-status provider.
func (*Gitea) SetsCommitStatus() {}

// Post sets the commit status.
func (g *Gitea) Post(ctx context.Context, n *events.Notification) error {
	cs, err := commitStatus(n)
	if err != nil {
		return err
	}
	_, err = g.client.postJSON(ctx, g.url+url.PathEscape(cs.Commit), giteaStatus{State: string(cs.State), Description: cs.Description, Context: cs.Context}, g.header)
	return err
}
