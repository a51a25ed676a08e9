// Package transport turns git.AuthOptions into git protocol sessions with
// a remote, over HTTP(S) (go-git's smart-HTTP client on an http.Client of
// our own) or SSH (our own client, with strict known_hosts), and scrubs
// errors so no credential can leak through them.
//
// Nothing here is installed globally: every Settings builds its own
// http.Client and SSH configuration. Every response read from a server is
// bounded: an error body to MaxErrorBody bytes, a reference advertisement
// to MaxAdvertisement bytes (packs are bounded by the caller's storer).
package transport

import (
	"context"
	"fmt"
	"net/url"

	gittransport "github.com/go-git/go-git/v5/plumbing/transport"

	"github.com/gitopskit/kit/git"
	"github.com/gitopskit/kit/git/internal/redact"
)

// Bounds of what is read from a server besides pack data.
const (
	// MaxErrorBody bounds the body of an HTTP response that is not a
	// success (its start ends up in the error message).
	MaxErrorBody = 64 << 10
	// MaxAdvertisement bounds a reference advertisement (the answer of
	// ls-remote): 64 MiB is about a million references.
	MaxAdvertisement = 64 << 20
)

// Settings are the transport settings of one remote: how to open upload-pack
// and receive-pack sessions with it, and which secrets to scrub from errors.
type Settings struct {
	URL    string
	Scheme string

	endpoint *gittransport.Endpoint
	http     *httpTransport // http and https
	ssh      *sshTransport  // ssh
	secrets  redact.Secrets
}

// New validates auth against remote and builds the settings.
func New(remote string, auth git.AuthOptions) (*Settings, error) {
	if err := auth.Validate(remote); err != nil {
		return nil, err
	}
	scheme, _ := git.Scheme(remote)
	s := &Settings{URL: remote, Scheme: scheme}
	s.secrets.AddBasic(auth.Username, auth.Password)
	s.secrets.Add(auth.BearerToken)
	if u, err := url.Parse(remote); err == nil && u.User != nil {
		p, _ := u.User.Password()
		if scheme == "ssh" {
			s.secrets.Add(p)
		} else {
			s.secrets.AddBasic(u.User.Username(), p)
			s.secrets.Add(u.User.Username())
		}
	}
	var proxy *url.URL
	if auth.ProxyURL != "" {
		pu, err := url.Parse(auth.ProxyURL)
		if err != nil || pu.Host == "" {
			return nil, fmt.Errorf("%w: malformed proxy URL", git.ErrInvalidOptions)
		}
		if pu.User != nil {
			p, _ := pu.User.Password()
			s.secrets.AddBasic(pu.User.Username(), p)
		}
		proxy = pu
	}
	ep, err := gittransport.NewEndpoint(remote)
	if err != nil {
		return nil, fmt.Errorf("%w: malformed remote URL %q", git.ErrInvalidOptions, git.RedactURL(remote))
	}
	s.endpoint = ep
	switch scheme {
	case "http", "https":
		if s.http, err = newHTTPTransport(auth, proxy); err != nil {
			return nil, err
		}
	case "ssh":
		if s.ssh, err = newSSHTransport(ep, auth, proxy); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// endpointCopy returns a copy of the remote's endpoint: go-git's HTTP
// session rewrites the one it is given when it follows a redirect.
func (s *Settings) endpointCopy() *gittransport.Endpoint {
	ep := *s.endpoint
	return &ep
}

// UploadPack opens an upload-pack (fetch, ls-remote) session.
func (s *Settings) UploadPack(ctx context.Context) (gittransport.UploadPackSession, error) {
	if s.ssh != nil {
		return s.ssh.session(ctx, gittransport.UploadPackServiceName)
	}
	return s.http.transport.NewUploadPackSession(s.endpointCopy(), s.http.auth)
}

// ReceivePack opens a receive-pack (push) session.
func (s *Settings) ReceivePack(ctx context.Context) (gittransport.ReceivePackSession, error) {
	if s.ssh != nil {
		return s.ssh.session(ctx, gittransport.ReceivePackServiceName)
	}
	return s.http.transport.NewReceivePackSession(s.endpointCopy(), s.http.auth)
}
