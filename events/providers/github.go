package providers

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"

	"github.com/gitopskit/kit/events"
)

// GitHub API limits.
const (
	githubDescriptionMax = 140
	githubEventTypeMax   = 100
)

// GitHub sets commit statuses through the REST API with a token (Token, or
// Password): POST /repos/{owner}/{repo}/statuses/{sha}. Address is the
// repository URL; on github.com the API is api.github.com, on any other
// host (GitHub Enterprise Server) <origin>/api/v3. States: pending,
// success, failure.
type GitHub struct {
	api         string
	owner, repo string
	header      http.Header
	client      *client
}

var _ events.CommitStatusProvider = (*GitHub)(nil)

type githubStatus struct {
	State       string `json:"state"`
	Description string `json:"description"`
	Context     string `json:"context"`
}

func newGitHubClient(provider string, c Config) (string, string, string, http.Header, *client, error) {
	r, err := parseRepoAddress(provider, c.Address)
	if err != nil {
		return "", "", "", nil, nil, err
	}
	owner, repo, err := r.ownerRepo(provider)
	if err != nil {
		return "", "", "", nil, nil, err
	}
	token := tokenOrPassword(c)
	if token == "" {
		return "", "", "", nil, nil, configError(provider, "token is required")
	}
	api := r.origin + "/api/v3"
	if r.host == "github.com" {
		api = "https://api.github.com"
	}
	h := http.Header{
		"Authorization":        {"Bearer " + token},
		"Accept":               {"application/vnd.github+json"},
		"X-Github-Api-Version": {"2022-11-28"},
	}
	return api, owner, repo, h, newClient(provider, c), nil
}

// NewGitHub reads Address, Token or Password.
func NewGitHub(c Config) (*GitHub, error) {
	api, owner, repo, h, cl, err := newGitHubClient(TypeGitHub, c)
	if err != nil {
		return nil, err
	}
	return &GitHub{api: api, owner: owner, repo: repo, header: h, client: cl}, nil
}

// SetsCommitStatus marks GitHub as a commit-status provider.
func (*GitHub) SetsCommitStatus() {}

// Post sets the commit status.
func (g *GitHub) Post(ctx context.Context, n *events.Notification) error {
	cs, err := commitStatus(n)
	if err != nil {
		return err
	}
	u := g.api + "/repos/" + url.PathEscape(g.owner) + "/" + url.PathEscape(g.repo) + "/statuses/" + url.PathEscape(cs.Commit)
	st := githubStatus{State: string(cs.State), Description: truncateRunes(cs.Description, githubDescriptionMax), Context: cs.Context}
	_, err = g.client.postJSON(ctx, u, st, g.header)
	return err
}

// GitHubDispatch triggers a repository_dispatch workflow event: POST
// /repos/{owner}/{repo}/dispatches with event_type "<Kind>/<name>.<namespace>"
// and the event JSON as client_payload, so a GitHub Actions workflow can
// react to a reconcile. Address and Token as for GitHub.
type GitHubDispatch struct {
	api         string
	owner, repo string
	header      http.Header
	client      *client
}

var _ events.Provider = (*GitHubDispatch)(nil)

type githubDispatch struct {
	EventType     string          `json:"event_type"`
	ClientPayload json.RawMessage `json:"client_payload"`
}

// NewGitHubDispatch reads Address, Token or Password.
func NewGitHubDispatch(c Config) (*GitHubDispatch, error) {
	api, owner, repo, h, cl, err := newGitHubClient(TypeGitHubDispatch, c)
	if err != nil {
		return nil, err
	}
	return &GitHubDispatch{api: api, owner: owner, repo: repo, header: h, client: cl}, nil
}

// Post sends the dispatch.
func (g *GitHubDispatch) Post(ctx context.Context, n *events.Notification) error {
	e := &n.Event
	o := e.InvolvedObject
	payload, err := json.Marshal(e)
	if err != nil {
		return events.Permanent(err)
	}
	et := o.Kind + "/" + o.Name
	if o.Namespace != "" {
		et += "." + o.Namespace
	}
	u := g.api + "/repos/" + url.PathEscape(g.owner) + "/" + url.PathEscape(g.repo) + "/dispatches"
	_, err = g.client.postJSON(ctx, u, githubDispatch{EventType: truncateRunes(et, githubEventTypeMax), ClientPayload: payload}, g.header)
	return err
}
