package providers

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/gitopskit/kit/events"
)

// azureDevOpsAPIVersion is the REST API version requested (supported by
// Azure DevOps Services and Server 2020 and later).
const azureDevOpsAPIVersion = "6.0"

// AzureDevOps sets commit statuses on Azure Repos with a personal access
// token (Token, or Password, as basic auth with an empty user): POST
// {org}/{project}/_apis/git/repositories/{repo}/commits/{sha}/statuses.
// Address is the repository URL, https://dev.azure.com/<org>/<project>/_git/<repo>
// (https://<org>.visualstudio.com/<project>/_git/<repo> works too). States:
// pending, succeeded, failed; the genre is "gitopskit".
type AzureDevOps struct {
	url    string
	header http.Header
	client *client
}

var _ events.CommitStatusProvider = (*AzureDevOps)(nil)

type azureStatus struct {
	State       string       `json:"state"`
	Description string       `json:"description"`
	Context     azureContext `json:"context"`
}

type azureContext struct {
	Name  string `json:"name"`
	Genre string `json:"genre"`
}

// NewAzureDevOps reads Address, Token or Password.
func NewAzureDevOps(c Config) (*AzureDevOps, error) {
	r, err := parseRepoAddress(TypeAzureDevOps, c.Address)
	if err != nil {
		return nil, err
	}
	parts := strings.Split(r.path, "/")
	var prefix, project, repo string
	switch {
	case len(parts) == 4 && parts[2] == "_git": // dev.azure.com/org/project/_git/repo
		prefix, project, repo = "/"+parts[0], parts[1], parts[3]
	case len(parts) == 3 && parts[1] == "_git": // org.visualstudio.com/project/_git/repo
		project, repo = parts[0], parts[2]
	default:
		return nil, configError(TypeAzureDevOps, "address must be https://dev.azure.com/<org>/<project>/_git/<repo>")
	}
	token := tokenOrPassword(c)
	if token == "" {
		return nil, configError(TypeAzureDevOps, "token (a personal access token) is required")
	}
	return &AzureDevOps{
		url:    r.origin + prefix + "/" + url.PathEscape(project) + "/_apis/git/repositories/" + url.PathEscape(repo) + "/commits/",
		header: basicAuth("", token),
		client: newClient(TypeAzureDevOps, c),
	}, nil
}

// SetsCommitStatus marks AzureDevOps as a commit-status provider.
func (*AzureDevOps) SetsCommitStatus() {}

// Post sets the commit status.
func (a *AzureDevOps) Post(ctx context.Context, n *events.Notification) error {
	cs, err := commitStatus(n)
	if err != nil {
		return err
	}
	state := map[events.CommitState]string{
		events.CommitPending: "pending",
		events.CommitSuccess: "succeeded",
		events.CommitFailure: "failed",
	}[cs.State]
	u := a.url + url.PathEscape(cs.Commit) + "/statuses?api-version=" + azureDevOpsAPIVersion
	_, err = a.client.postJSON(ctx, u, azureStatus{State: state, Description: cs.Description, Context: azureContext{Name: cs.Context, Genre: "gitopskit"}}, a.header)
	return err
}
