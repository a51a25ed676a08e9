package providers_test

import (
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/gitopskit/kit/events"
	"github.com/gitopskit/kit/events/eventstest"
	"github.com/gitopskit/kit/events/providers"
)

func sha1hex(s string) string {
	sum := sha1.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// pending is a notification as the hub sends a commit-status provider for
// a Progressing event, the status already derived.
func pending() *events.Notification {
	n := failure()
	n.Kind = events.KindCommitStatus
	n.Event.Severity = events.SeverityInfo
	n.Event.Reason = "Progressing"
	n.CommitStatus = &events.CommitStatus{Commit: commit, State: events.CommitPending, Context: "kustomization/podinfo/0b5e7c1a", Description: "progressing"}
	return n
}

func TestForgeProviders(t *testing.T) {
	t.Parallel()
	runCases(t, []providerCase{
		{
			name: "github commit status on GitHub Enterprise",
			typ:  providers.TypeGitHub,
			cfg: func(base string) providers.Config {
				return providers.Config{Address: base + "/org/app.git", Token: secret}
			},
			want: want{method: http.MethodPost, path: "/api/v3/repos/org/app/statuses/" + commit,
				header: map[string]string{
					"Authorization":        "Bearer " + secret,
					"Accept":               "application/vnd.github+json",
					"X-GitHub-Api-Version": "2022-11-28",
				},
				json: `{"state": "failure", "description": "health check failed", "context": "kustomization/podinfo"}`},
		},
		{
			name: "github pending status with the hub's context",
			typ:  providers.TypeGitHub,
			cfg: func(base string) providers.Config {
				return providers.Config{Address: base + "/org/app", Password: secret}
			},
			n: pending,
			want: want{method: http.MethodPost, path: "/api/v3/repos/org/app/statuses/" + commit,
				header: map[string]string{"Authorization": "Bearer " + secret},
				json:   `{"state": "pending", "description": "progressing", "context": "kustomization/podinfo/0b5e7c1a"}`},
		},
		{
			name: "github repository dispatch",
			typ:  providers.TypeGitHubDispatch,
			cfg:  func(base string) providers.Config { return providers.Config{Address: base + "/org/app", Token: secret} },
			want: want{method: http.MethodPost, path: "/api/v3/repos/org/app/dispatches",
				header: map[string]string{"Authorization": "Bearer " + secret, "Accept": "application/vnd.github+json"},
				json:   `{"event_type": "Kustomization/podinfo.apps", "client_payload": ` + eventJSON + `}`},
		},
		{
			name: "gitlab commit status with a nested group",
			typ:  providers.TypeGitLab,
			cfg: func(base string) providers.Config {
				return providers.Config{Address: base + "/group/sub/app.git", Token: secret}
			},
			want: want{method: http.MethodPost, path: "/api/v4/projects/group/sub/app/statuses/" + commit,
				rawPath: "/api/v4/projects/group%2Fsub%2Fapp/statuses/" + commit,
				header:  map[string]string{"PRIVATE-TOKEN": secret},
				json:    `{"state": "failed", "name": "kustomization/podinfo", "description": "health check failed"}`},
		},
		{
			name: "gitlab running for pending",
			typ:  providers.TypeGitLab,
			cfg: func(base string) providers.Config {
				return providers.Config{Address: base + "/group/app", Token: secret}
			},
			n: pending,
			want: want{method: http.MethodPost, path: "/api/v4/projects/group/app/statuses/" + commit,
				rawPath: "/api/v4/projects/group%2Fapp/statuses/" + commit,
				json:    `{"state": "running", "name": "kustomization/podinfo/0b5e7c1a", "description": "progressing"}`},
		},
		{
			name: "gitea commit status",
			typ:  providers.TypeGitea,
			cfg: func(base string) providers.Config {
				return providers.Config{Address: base + "/org/app.git", Token: secret}
			},
			n: resolved,
			want: want{method: http.MethodPost, path: "/api/v1/repos/org/app/statuses/" + commit,
				header: map[string]string{"Authorization": "token " + secret},
				json:   `{"state": "success", "description": "reconciliation succeeded", "context": "kustomization/podinfo"}`},
		},
		{
			name: "bitbucket cloud build status, app password in the token",
			typ:  providers.TypeBitbucket,
			cfg: func(base string) providers.Config {
				return providers.Config{Address: base + "/ws/app.git", Token: "bob:" + password}
			},
			want: want{method: http.MethodPost, path: "/2.0/repositories/ws/app/commit/" + commit + "/statuses/build",
				header: map[string]string{"Authorization": basic("bob", password)},
				json: `{"key": "` + sha1hex("kustomization/podinfo") + `", "state": "FAILED", "name": "kustomization/podinfo",
					"description": "health check failed", "url": "https://bitbucket.org/ws/app"}`},
		},
		{
			name: "azure devops commit status",
			typ:  providers.TypeAzureDevOps,
			cfg: func(base string) providers.Config {
				return providers.Config{Address: base + "/org/proj/_git/app", Token: secret}
			},
			n: pending,
			want: want{method: http.MethodPost, path: "/org/proj/_apis/git/repositories/app/commits/" + commit + "/statuses",
				query:  "api-version=6.0",
				header: map[string]string{"Authorization": basic("", secret)},
				json:   `{"state": "pending", "description": "progressing", "context": {"name": "kustomization/podinfo/0b5e7c1a", "genre": "gitopskit"}}`},
		},
	})
}

func TestBitbucketServer(t *testing.T) {
	t.Parallel()
	sink := eventstest.NewProviderSink(t)
	sink.Reply(http.StatusNoContent, "")
	p, err := providers.NewBitbucketServer(providers.Config{Address: sink.URL() + "/bitbucket/scm/PROJ/app.git", Username: "bob", Password: password})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Post(t.Context(), failure()); err != nil {
		t.Fatal(err)
	}
	checkRequest(t, sink.Requests()[0], want{
		method: http.MethodPost, path: "/bitbucket/rest/api/latest/projects/PROJ/repos/app/commits/" + commit + "/builds",
		header: map[string]string{"Authorization": basic("bob", password), "X-Atlassian-Token": "no-check"},
		json: `{"key": "` + sha1hex("kustomization/podinfo") + `", "state": "FAILED",
			"name": "kustomization/podinfo [health check failed]", "description": "health check failed",
			"url": "` + sink.URL() + `/bitbucket/projects/PROJ/repos/app"}`,
	})
	for _, addr := range []string{"ssh://git@host/scm/PROJ/app.git", sink.URL() + "/PROJ/app.git", sink.URL() + "/scm/PROJ"} {
		if _, err := providers.NewBitbucketServer(providers.Config{Address: addr, Token: secret}); !errors.Is(err, providers.ErrConfig) {
			t.Errorf("%s: err = %v, want ErrConfig", addr, err)
		}
	}
}

// recordingTransport answers 201 to everything and records the URLs.
type recordingTransport struct {
	mu   sync.Mutex
	urls []string
}

func (r *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.urls = append(r.urls, req.URL.Scheme+"://"+req.URL.Host+req.URL.EscapedPath())
	r.mu.Unlock()
	return &http.Response{StatusCode: http.StatusCreated, Body: io.NopCloser(strings.NewReader("{}")), Header: http.Header{}, Request: req}, nil
}

// TestForgeAPIAddresses checks where each forge's API is for the public
// services and for the address forms users write (SSH, scp-like, .git).
func TestForgeAPIAddresses(t *testing.T) {
	t.Parallel()
	cases := []struct{ typ, addr, want string }{
		{providers.TypeGitHub, "https://github.com/org/app", "https://api.github.com/repos/org/app/statuses/" + commit},
		{providers.TypeGitHub, "git@github.com:org/app.git", "https://api.github.com/repos/org/app/statuses/" + commit},
		{providers.TypeGitHub, "ssh://git@ghe.example.com:2222/org/app.git", "https://ghe.example.com/api/v3/repos/org/app/statuses/" + commit},
		{providers.TypeGitHubDispatch, "https://github.com/org/app.git", "https://api.github.com/repos/org/app/dispatches"},
		{providers.TypeGitLab, "https://gitlab.com/group/app", "https://gitlab.com/api/v4/projects/group%2Fapp/statuses/" + commit},
		{providers.TypeGitLab, "git@gitlab.example.com:a/b/c.git", "https://gitlab.example.com/api/v4/projects/a%2Fb%2Fc/statuses/" + commit},
		{providers.TypeGitea, "https://codeberg.org/org/app.git", "https://codeberg.org/api/v1/repos/org/app/statuses/" + commit},
		{providers.TypeBitbucket, "https://bitbucket.org/ws/app.git", "https://api.bitbucket.org/2.0/repositories/ws/app/commit/" + commit + "/statuses/build"},
		{providers.TypeBitbucket, "git@bitbucket.org:ws/app.git", "https://api.bitbucket.org/2.0/repositories/ws/app/commit/" + commit + "/statuses/build"},
		{providers.TypeBitbucketServer, "https://bb.example.com/scm/PROJ/app.git", "https://bb.example.com/rest/api/latest/projects/PROJ/repos/app/commits/" + commit + "/builds"},
		{providers.TypeAzureDevOps, "https://dev.azure.com/org/proj/_git/app", "https://dev.azure.com/org/proj/_apis/git/repositories/app/commits/" + commit + "/statuses"},
		{providers.TypeAzureDevOps, "https://org.visualstudio.com/proj/_git/app", "https://org.visualstudio.com/proj/_apis/git/repositories/app/commits/" + commit + "/statuses"},
	}
	for _, tc := range cases {
		rt := &recordingTransport{}
		p, err := providers.Default().New(tc.typ, providers.Config{Address: tc.addr, Token: secret, Transport: rt})
		if err != nil {
			t.Errorf("%s %s: %v", tc.typ, tc.addr, err)
			continue
		}
		if err := p.Post(t.Context(), failure()); err != nil {
			t.Errorf("%s %s: %v", tc.typ, tc.addr, err)
			continue
		}
		if len(rt.urls) != 1 || rt.urls[0] != tc.want {
			t.Errorf("%s %s: requested %v, want %s", tc.typ, tc.addr, rt.urls, tc.want)
		}
	}
}

func TestForgeAddressesRefused(t *testing.T) {
	t.Parallel()
	cases := []struct{ typ, addr string }{
		{providers.TypeGitHub, "https://github.com/org"},
		{providers.TypeGitHub, "https://github.com/org/app/extra"},
		{providers.TypeGitHub, "https://github.com/org/../app"},
		{providers.TypeGitHub, "ftp://github.com/org/app"},
		{providers.TypeGitHub, ""},
		{providers.TypeGitea, "git@:org/app"},
		{providers.TypeGitLab, "https://gitlab.com/"},
		{providers.TypeAzureDevOps, "https://dev.azure.com/org/proj/app"},
		{providers.TypeBitbucket, "https://bitbucket.org/ws"},
	}
	for _, tc := range cases {
		if _, err := providers.Default().New(tc.typ, providers.Config{Address: tc.addr, Token: secret}); !errors.Is(err, providers.ErrConfig) {
			t.Errorf("%s %q: err = %v, want ErrConfig", tc.typ, tc.addr, err)
		}
	}
	for _, typ := range []string{providers.TypeGitHub, providers.TypeGitLab, providers.TypeGitea, providers.TypeBitbucket, providers.TypeAzureDevOps} {
		if _, err := providers.Default().New(typ, providers.Config{Address: "https://example.com/org/app"}); !errors.Is(err, providers.ErrConfig) {
			t.Errorf("%s without a token: err = %v", typ, err)
		}
	}
}

// TestCommitStatusNeedsARevision: an event without a commit is refused for
// good, not retried.
func TestCommitStatusNeedsARevision(t *testing.T) {
	t.Parallel()
	for _, meta := range []map[string]string{nil, {"revision": "v1.2.3@sha256:" + strings.Repeat("ab", 32) + "x"}, {"revision": "latest"}} {
		rt := &recordingTransport{}
		p, _ := providers.NewGitHub(providers.Config{Address: "https://github.com/org/app", Token: secret, Transport: rt})
		n := failure()
		n.Event.Metadata = meta
		err := p.Post(t.Context(), n)
		if !errors.Is(err, events.ErrNoRevision) {
			t.Errorf("metadata %v: err = %v, want ErrNoRevision", meta, err)
		}
		mustPermanent(t, err)
		if len(rt.urls) != 0 {
			t.Errorf("metadata %v: sent %v", meta, rt.urls)
		}
	}
}
