package providers

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"

	"github.com/gitopskit/kit/events"
)

// Bitbucket states, shared by Cloud and Server.
var bitbucketStates = map[events.CommitState]string{
	events.CommitPending: "INPROGRESS",
	events.CommitSuccess: "SUCCESSFUL",
	events.CommitFailure: "FAILED",
}

// bitbucketKey is the status key: the SHA-1 hex of the context (40
// characters, Bitbucket Cloud's bound), as Flux keys them.
func bitbucketKey(context string) string {
	sum := sha1.Sum([]byte(context))
	return hex.EncodeToString(sum[:])
}

// Bitbucket sets build statuses on Bitbucket Cloud: POST
// /2.0/repositories/{workspace}/{repo}/commit/{sha}/statuses/build on
// api.bitbucket.org. Address is the repository URL
// (https://bitbucket.org/<workspace>/<repo>); any other host is taken as
// the API's (for tests and proxies). Credentials: Token
// "<user>:<app password>" (Flux's format), or Username and Token, is basic
// auth; a Token alone is a bearer access token.
type Bitbucket struct {
	url     string
	repoURL string
	header  http.Header
	client  *client
}

var _ events.CommitStatusProvider = (*Bitbucket)(nil)

type bitbucketStatus struct {
	Key         string `json:"key"`
	State       string `json:"state"`
	Name        string `json:"name"`
	Description string `json:"description"`
	URL         string `json:"url"`
}

// NewBitbucket reads Address, Username and Token.
func NewBitbucket(c Config) (*Bitbucket, error) {
	r, err := parseRepoAddress(TypeBitbucket, c.Address)
	if err != nil {
		return nil, err
	}
	ws, repo, err := r.ownerRepo(TypeBitbucket)
	if err != nil {
		return nil, err
	}
	token := tokenOrPassword(c)
	var h http.Header
	switch user, pass, ok := strings.Cut(token, ":"); {
	case token == "":
		return nil, configError(TypeBitbucket, "token is required")
	case c.Username != "":
		h = basicAuth(c.Username, token)
	case ok:
		h = basicAuth(user, pass)
	default:
		h = bearer(token)
	}
	api := r.origin + "/2.0"
	if r.host == "bitbucket.org" {
		api = "https://api.bitbucket.org/2.0"
	}
	return &Bitbucket{
		url:     api + "/repositories/" + url.PathEscape(ws) + "/" + url.PathEscape(repo) + "/commit/",
		repoURL: "https://bitbucket.org/" + ws + "/" + repo,
		header:  h,
		client:  newClient(TypeBitbucket, c),
	}, nil
}

// SetsCommitStatus marks Bitbucket as a commit-status provider.
func (*Bitbucket) SetsCommitStatus() {}

// Post sets the build status.
func (b *Bitbucket) Post(ctx context.Context, n *events.Notification) error {
	cs, err := commitStatus(n)
	if err != nil {
		return err
	}
	st := bitbucketStatus{
		Key:         bitbucketKey(cs.Context),
		State:       bitbucketStates[cs.State],
		Name:        strings.ToLower(n.Event.InvolvedObject.Kind + "/" + n.Event.InvolvedObject.Name),
		Description: cs.Description,
		URL:         b.repoURL,
	}
	_, err = b.client.postJSON(ctx, b.url+url.PathEscape(cs.Commit)+"/statuses/build", st, b.header)
	return err
}

// BitbucketServer sets build statuses on Bitbucket Server and Data
// Center: POST {context}/rest/api/latest/projects/{key}/repos/{slug}/commits/{sha}/builds.
// Address is the HTTP clone URL (https://host[/context]/scm/<project>/<repo>.git).
// A Token is a bearer HTTP access token; otherwise Username and Password
// are basic auth.
type BitbucketServer struct {
	url     string
	repoURL string
	header  http.Header
	client  *client
}

var _ events.CommitStatusProvider = (*BitbucketServer)(nil)

// NewBitbucketServer reads Address, Token, or Username and Password.
func NewBitbucketServer(c Config) (*BitbucketServer, error) {
	r, err := parseRepoAddress(TypeBitbucketServer, c.Address)
	if err != nil {
		return nil, err
	}
	if a := strings.ToLower(strings.TrimSpace(c.Address)); !strings.HasPrefix(a, "https://") && !strings.HasPrefix(a, "http://") {
		return nil, configError(TypeBitbucketServer, "address must be the HTTP(S) clone URL")
	}
	i := strings.LastIndex("/"+r.path, "/scm/")
	if i < 0 {
		return nil, configError(TypeBitbucketServer, "address must be a clone URL with /scm/<project>/<repo>")
	}
	prefix := ("/" + r.path)[:i]
	project, repo, ok := strings.Cut(("/" + r.path)[i+len("/scm/"):], "/")
	if !ok || project == "" || repo == "" || strings.Contains(repo, "/") {
		return nil, configError(TypeBitbucketServer, "address must end with /scm/<project>/<repo>")
	}
	var h http.Header
	switch {
	case c.Token != "":
		h = bearer(c.Token)
	case c.Username != "" && c.Password != "":
		h = basicAuth(c.Username, c.Password)
	default:
		return nil, configError(TypeBitbucketServer, "token, or username and password, are required")
	}
	h.Set("X-Atlassian-Token", "no-check")
	return &BitbucketServer{
		url:     r.origin + prefix + "/rest/api/latest/projects/" + url.PathEscape(project) + "/repos/" + url.PathEscape(repo) + "/commits/",
		repoURL: r.origin + prefix + "/projects/" + project + "/repos/" + repo,
		header:  h,
		client:  newClient(TypeBitbucketServer, c),
	}, nil
}

// SetsCommitStatus marks BitbucketServer as a commit-status provider.
func (*BitbucketServer) SetsCommitStatus() {}

// Post sets the build status.
func (b *BitbucketServer) Post(ctx context.Context, n *events.Notification) error {
	cs, err := commitStatus(n)
	if err != nil {
		return err
	}
	o := n.Event.InvolvedObject
	st := bitbucketStatus{
		Key:         bitbucketKey(cs.Context),
		State:       bitbucketStates[cs.State],
		Name:        strings.ToLower(o.Kind+"/"+o.Name) + " [" + cs.Description + "]",
		Description: cs.Description,
		URL:         b.repoURL,
	}
	_, err = b.client.postJSON(ctx, b.url+url.PathEscape(cs.Commit)+"/builds", st, b.header)
	return err
}
