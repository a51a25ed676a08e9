package providers

import (
	"context"
	"net/http"
	"net/url"

	"github.com/gitopskit/kit/events"
)

// GitLab sets commit statuses through the REST API v4 with a token
// (Token, or Password, sent as PRIVATE-TOKEN): POST
// /api/v4/projects/{url-encoded path}/statuses/{sha}. Address is the
// project's URL (nested groups allowed). States: running (for pending),
// success, failed. GitLab refuses a status equal to the current one; the
// hub posts each revision and state once.
type GitLab struct {
	url    string
	header http.Header
	client *client
}

var _ events.CommitStatusProvider = (*GitLab)(nil)

type gitlabStatus struct {
	State       string `json:"state"`
	Name        string `json:"name"`
	Description string `json:"description"`
}

// NewGitLab reads Address, Token or Password.
func NewGitLab(c Config) (*GitLab, error) {
	r, err := parseRepoAddress(TypeGitLab, c.Address)
	if err != nil {
		return nil, err
	}
	token := tokenOrPassword(c)
	if token == "" {
		return nil, configError(TypeGitLab, "token is required")
	}
	return &GitLab{
		url:    r.origin + "/api/v4/projects/" + url.PathEscape(r.path) + "/statuses/",
		header: http.Header{"Private-Token": {token}},
		client: newClient(TypeGitLab, c),
	}, nil
}

// SetsCommitStatus marks GitLab as a commit-status provider.
func (*GitLab) SetsCommitStatus() {}

// Post sets the commit status.
func (g *GitLab) Post(ctx context.Context, n *events.Notification) error {
	cs, err := commitStatus(n)
	if err != nil {
		return err
	}
	state := map[events.CommitState]string{
		events.CommitPending: "running",
		events.CommitSuccess: "success",
		events.CommitFailure: "failed",
	}[cs.State]
	_, err = g.client.postJSON(ctx, g.url+url.PathEscape(cs.Commit), gitlabStatus{State: state, Name: cs.Context, Description: cs.Description}, g.header)
	return err
}
