// Package transport turns git.AuthOptions into go-git's per-call transport
// settings, checks SSH host keys strictly against known_hosts, and scrubs
// errors so no credential can leak through them.
package transport

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	gittransport "github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"golang.org/x/crypto/ssh"

	"github.com/gitopskit/kit/git"
)

// Settings are the per-call transport settings of one remote. Nothing here is
// installed globally.
type Settings struct {
	URL        string
	Scheme     string
	Auth       gittransport.AuthMethod
	CABundle   []byte
	ClientCert []byte
	ClientKey  []byte
	Proxy      gittransport.ProxyOptions
	// secrets are the strings scrubbed from errors.
	secrets []string
}

// New validates auth against remote and builds the settings.
func New(remote string, auth git.AuthOptions) (*Settings, error) {
	if err := auth.Validate(remote); err != nil {
		return nil, err
	}
	scheme, _ := git.Scheme(remote)
	s := &Settings{URL: remote, Scheme: scheme, CABundle: auth.CA, ClientCert: auth.Cert, ClientKey: auth.Key}
	s.secrets = nonEmpty(auth.Password, auth.BearerToken)
	if u, err := url.Parse(remote); err == nil && u.User != nil {
		if p, ok := u.User.Password(); ok {
			s.secrets = append(s.secrets, p)
		}
		if scheme != "ssh" {
			s.secrets = append(s.secrets, u.User.Username())
		}
	}
	if auth.ProxyURL != "" {
		pu, err := url.Parse(auth.ProxyURL)
		if err != nil {
			return nil, fmt.Errorf("%w: malformed proxy URL", git.ErrInvalidOptions)
		}
		if pu.User != nil {
			s.Proxy.Username = pu.User.Username()
			s.Proxy.Password, _ = pu.User.Password()
			s.secrets = append(s.secrets, nonEmpty(s.Proxy.Password)...)
			pu.User = nil
		}
		s.Proxy.URL = pu.String()
	}
	switch scheme {
	case "http", "https":
		switch {
		case auth.BearerToken != "":
			s.Auth = &githttp.TokenAuth{Token: auth.BearerToken}
		case auth.Username != "" || auth.Password != "":
			s.Auth = &githttp.BasicAuth{Username: auth.Username, Password: auth.Password}
		}
	case "ssh":
		a, err := newSSHAuth(remote, auth)
		if err != nil {
			return nil, err
		}
		s.Auth = a
	}
	return s, nil
}

func nonEmpty(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// sshAuth authenticates with one private key and checks host keys against
// known_hosts only.
type sshAuth struct {
	user   string
	signer ssh.Signer
	hosts  *KnownHosts
}

func newSSHAuth(remote string, auth git.AuthOptions) (*sshAuth, error) {
	var signer ssh.Signer
	var err error
	if auth.Password != "" {
		signer, err = ssh.ParsePrivateKeyWithPassphrase(auth.Identity, []byte(auth.Password))
	} else {
		signer, err = ssh.ParsePrivateKey(auth.Identity)
	}
	if err != nil {
		var missing *ssh.PassphraseMissingError
		if errors.As(err, &missing) {
			return nil, fmt.Errorf("%w: the ssh identity needs a passphrase", git.ErrInvalidOptions)
		}
		// The parser's message never includes key material, but keep it generic.
		return nil, fmt.Errorf("%w: cannot parse the ssh identity (wrong passphrase or unsupported key)", git.ErrInvalidOptions)
	}
	hosts, err := ParseKnownHosts(auth.KnownHosts)
	if err != nil {
		return nil, err
	}
	ep, err := gittransport.NewEndpoint(remote)
	if err != nil {
		return nil, fmt.Errorf("%w: malformed remote URL", git.ErrInvalidOptions)
	}
	user := ep.User
	if user == "" {
		user = "git"
	}
	return &sshAuth{user: user, signer: signer, hosts: hosts}, nil
}

func (a *sshAuth) Name() string   { return "ssh-public-keys" }
func (a *sshAuth) String() string { return "user: " + a.user + ", name: ssh-public-keys" }

// ClientConfig implements go-git's ssh.AuthMethod.
func (a *sshAuth) ClientConfig() (*ssh.ClientConfig, error) {
	return &ssh.ClientConfig{
		User:            a.user,
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(a.signer)},
		HostKeyCallback: a.hosts.HostKeyCallback(),
		Timeout:         30 * time.Second,
	}, nil
}

// Error is a scrubbed error: its message has no credential and no URL
// userinfo, and it unwraps only to our sentinels and context errors, never to
// the original error (whose message could carry a credential).
type Error struct {
	msg    string
	causes []error
}

func (e *Error) Error() string   { return e.msg }
func (e *Error) Unwrap() []error { return e.causes }

// Sanitize scrubs err (see Error), naming the operation op. When ctx has
// ended, the error unwraps to ctx.Err() too: go-git flattens the errors of
// a cancelled request into text.
func (s *Settings) Sanitize(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	var causes []error
	for _, m := range []struct{ from, to error }{
		{gittransport.ErrAuthenticationRequired, git.ErrAuthentication},
		{gittransport.ErrAuthorizationFailed, git.ErrAuthentication},
		{gittransport.ErrEmptyRemoteRepository, git.ErrEmptyRepository},
		{git.ErrHostKey, git.ErrHostKey},
		{git.ErrAuthentication, git.ErrAuthentication},
		{git.ErrEmptyRepository, git.ErrEmptyRepository},
		{git.ErrReferenceNotFound, git.ErrReferenceNotFound},
		{git.ErrNonFastForward, git.ErrNonFastForward},
		{git.ErrInvalidOptions, git.ErrInvalidOptions},
		{git.ErrSizeLimit, git.ErrSizeLimit},
	} {
		if errors.Is(err, m.from) {
			causes = append(causes, m.to)
		}
	}
	// Remote messages (HTTP bodies, sideband) often end in a newline, which
	// would end up inside a condition message.
	msg := strings.TrimSpace(err.Error())
	if strings.Contains(msg, "unable to authenticate") || strings.Contains(msg, "no supported methods remain") {
		causes = append(causes, git.ErrAuthentication)
	}
	for _, ctxErr := range []error{context.Canceled, context.DeadlineExceeded} {
		if errors.Is(err, ctxErr) || errors.Is(ctx.Err(), ctxErr) {
			causes = append(causes, ctxErr)
		}
	}
	return &Error{msg: op + " " + git.RedactURL(s.URL) + ": " + s.Scrub(msg), causes: causes}
}

// Scrub removes credentials and URL userinfo from a message.
func (s *Settings) Scrub(msg string) string {
	for _, secret := range s.secrets {
		if len(secret) >= 3 {
			msg = strings.ReplaceAll(msg, secret, "***")
			msg = strings.ReplaceAll(msg, url.QueryEscape(secret), "***")
			msg = strings.ReplaceAll(msg, url.PathEscape(secret), "***")
		}
	}
	return scrubUserinfo(msg)
}

// scrubUserinfo removes "user:pass@" from anything shaped like a URL.
func scrubUserinfo(msg string) string {
	var b strings.Builder
	for {
		i := strings.Index(msg, "://")
		if i < 0 {
			b.WriteString(msg)
			return b.String()
		}
		b.WriteString(msg[:i+3])
		msg = msg[i+3:]
		end := strings.IndexAny(msg, "/ \t\n\"'")
		if end < 0 {
			end = len(msg)
		}
		if at := strings.LastIndex(msg[:end], "@"); at >= 0 {
			msg = msg[at+1:]
		}
	}
}
